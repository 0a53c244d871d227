import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { terminalPrompter } from './prompt.ts';

function terminal() {
  const input = new PassThrough();
  const output = new PassThrough();
  let shown = '';
  output.on('data', (c: Buffer) => (shown += c.toString('utf8')));
  const prompter = terminalPrompter({ input, output, terminal: true });
  // Typed one key at a time, as on a TTY.
  const type = (text: string) => {
    for (const ch of text) input.write(ch);
  };
  return { prompter, type, shown: () => shown };
}

test('a secret is read without echo on a terminal; ordinary answers are echoed', async () => {
  const t = terminal();
  const phone = t.prompter.ask('Phone number: ');
  t.type('+15550100\r');
  assert.equal(await phone, '+15550100');
  assert.match(t.shown(), /Phone number: .*\+15550100/s);

  const before = t.shown().length;
  const password = t.prompter.askSecret('Two-step verification password: ');
  t.type('hunter2-secret\r');
  assert.equal(await password, 'hunter2-secret');
  const shownForSecret = t.shown().slice(before);
  assert.equal(shownForSecret, 'Two-step verification password: \n');

  // Echo is back afterwards.
  const code = t.prompter.ask('Login code: ');
  t.type('12345\r');
  assert.equal(await code, '12345');
  assert.match(t.shown().slice(before), /Login code: .*12345/s);
  assert.ok(!t.shown().includes('hunter2'), 'the password never reaches the output');
  t.prompter.close();
});

test('editing keys while typing a secret redraw nothing', async () => {
  const t = terminal();
  const password = t.prompter.askSecret('Password: ');
  // Backspace and a cursor move make readline redraw the line (prompt + what was typed).
  t.type('hunterX\x7f2\x1b[D\x1b[C\r');
  assert.equal(await password, 'hunter2');
  assert.equal(t.shown(), 'Password: \n');
  t.prompter.close();
});

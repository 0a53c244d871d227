import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExportFramer } from './framing.ts';
import { openTelegramExportSource } from './source.ts';
import { writeSyntheticExport } from './synthetic.ts';
import { drain, fixture, options } from '../testkit.ts';

/** Frame `text` pushed in pieces of `size` bytes (0: all at once); pieces may split a character. */
function frame(text: string, size: number) {
  const bytes = Buffer.from(text);
  const framer = new ExportFramer();
  const messages: { chat: unknown; value: unknown }[] = [];
  const skeleton: Buffer[] = [];
  for (let i = 0; i < bytes.length || i === 0; i += size || bytes.length || 1) {
    framer.push(bytes.subarray(i, size ? i + size : undefined));
    if (framer.failed) break;
    messages.push(...framer.messages.map((m) => ({ chat: { ...m.chat }, value: m.value })));
    skeleton.push(...framer.skeleton);
  }
  return { messages, skeleton: Buffer.concat(skeleton).toString('utf8'), failed: framer.failed, complete: framer.complete };
}

const TRICKY = `{
 "name": "q\\"uote } ] {",
 "type": "public_channel",
 "id": -1001234,
 "about": { "messages": [ { "not": "these" } ], "list": [1, 2] },
 "messages": [
  { "id": 1, "type": "message", "text": "brace } bracket ] quote \\" backslash \\\\", "x": [ { "y": "}" } ] },
  "a string element",
  42,
  [ "an", "array" ],
  null,
  {"id":2,"type":"message","text":"😀 \\u00e9 \\\\\\"","date_unixtime":"1511341140"}
 ],
 "trailing": true
}
`;

test('framing: every element of messages[] is found, whatever the chunk boundaries', () => {
  const whole = JSON.parse(TRICKY) as { messages: unknown[] };
  const expected = frame(TRICKY, 0);
  assert.equal(expected.failed, false);
  assert.equal(expected.complete, true);
  assert.deepEqual(expected.messages.map((m) => m.value), whole.messages);
  assert.deepEqual(expected.messages[0]!.chat, { name: 'q"uote } ] {', type: 'public_channel', id: '-1001234' });
  // The skeleton is the document with the messages array emptied.
  assert.deepEqual(JSON.parse(expected.skeleton), { ...whole, messages: [] });
  for (const size of [1, 2, 3, 5, 7, 13, 64]) {
    const got = frame(TRICKY, size);
    assert.deepEqual(got, expected, `pieces of ${size}`);
  }
});

test('framing: fixtures frame as JSON.parse reads them', () => {
  for (const name of ['channel-new.json', 'group-old.json', 'account-full.json']) {
    const text = readFileSync(fixture(name), 'utf8');
    const doc = JSON.parse(text) as { messages?: unknown[]; chats?: { list: { messages: unknown[] }[] }; left_chats?: { list: { messages: unknown[] }[] } };
    const all = [...(doc.messages ?? []), ...[...(doc.chats?.list ?? []), ...(doc.left_chats?.list ?? [])].flatMap((c) => c.messages)];
    for (const size of [0, 1, 17, 256]) {
      const got = frame(text, size);
      assert.equal(got.failed || !got.complete, false, `${name} in pieces of ${size}`);
      assert.deepEqual(got.messages.map((m) => m.value), all, `${name} in pieces of ${size}`);
    }
  }
});

test('framing: the guessed closing line is only taken when the slice parses', () => {
  // The first element teaches "\n  }" as the closing line; the second has a nested object closed
  // by that same line before its real end (unusual, but valid JSON), so the guess must be refused.
  const text = `{"id": 1, "messages": [
  {
   "id": 1,
   "text": "a"
  },
  {
   "id": 2,
   "nested": {
   "x": 1
  },
   "text": "b"
  },
  {
   "id": 3
  }
 ]}`;
  const doc = JSON.parse(text) as { messages: unknown[] };
  for (const size of [0, 1, 9, 40]) {
    const got = frame(text, size);
    assert.equal(got.failed || !got.complete, false, `pieces of ${size}`);
    assert.deepEqual(got.messages.map((m) => m.value), doc.messages, `pieces of ${size}`);
  }
});

test('framing: a synthetic export frames whole, in read-sized pieces', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tidewatch-framing-'));
  try {
    const file = join(dir, 'synthetic.json');
    const { messages } = await writeSyntheticExport(file, 2e6);
    const text = readFileSync(file, 'utf8');
    const got = frame(text, 256 * 1024);
    assert.equal(got.failed, false);
    assert.equal(got.complete, true);
    assert.equal(got.messages.length, messages);
    assert.deepEqual(got.messages.map((m) => m.value), (JSON.parse(text) as { messages: unknown[] }).messages);
    assert.deepEqual(JSON.parse(got.skeleton), { ...(JSON.parse(text) as object), messages: [] });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('framing: bad input is not framed (the caller falls back to stream-json)', () => {
  const bad = [
    '{"id": 1, "messages": [ {"id": 1} {"id": 2} ]}', // missing comma
    '{"id": 1, "messages": [ {"id": 1}, ]}', // trailing comma
    '{"id": 1, "messages": [ {"id": 1,} ]}', // bad element
    '{"id": 1, "messages": [ x ]}',
    '{"id": 1} {"id": 2}',
  ];
  for (const text of bad) {
    const got = frame(text, 0);
    assert.ok(got.failed || !got.complete || (() => { try { JSON.parse(got.skeleton); return false; } catch { return true; } })(), text);
  }
  const truncated = frame(readFileSync(fixture('truncated.json'), 'utf8'), 0);
  assert.equal(truncated.complete, false);
});

test('both readers give the same items, stats and errors', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tidewatch-framing-'));
  try {
    const tricky = join(dir, 'tricky.json');
    writeFileSync(tricky, TRICKY);
    // A syntax error after some messages: the fast reader yields them, then stream-json takes over.
    const late = join(dir, 'late-error.json');
    writeFileSync(late, TRICKY.replace('"trailing": true', '"trailing": tru'));
    // Several read chunks, so elements straddle chunk boundaries.
    const synthetic = join(dir, 'synthetic.json');
    await writeSyntheticExport(synthetic, 1.5e6);
    const files = [synthetic, 'channel-new.json', 'group-old.json', 'account-full.json', 'truncated.json', 'corrupt.json'].map((f) => (f.includes('/') ? f : fixture(f)));
    for (const file of [...files, tricky, late]) {
      for (const opts of [options({ network: 'n', language: 'ar' }), options({ storeText: true, timezone: 'Europe/Berlin' })]) {
        const run = async (reader: 'auto' | 'stream-json') => {
          const source = openTelegramExportSource(file, opts, reader);
          const out = await drain(source).catch((err: Error) => ({ error: err.message }));
          return { out, stats: source.stats!() };
        };
        const [fast, slow] = [await run('auto'), await run('stream-json')];
        if ('error' in slow.out) {
          // How many messages come out before the error depends on each reader's buffering; the error does not.
          assert.deepEqual(fast.out, slow.out, file);
          assert.match(slow.out.error, /at byte \d+/);
        } else assert.deepEqual(fast, slow, file);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventId } from '../../events/index.ts';
import { detectFormat, openSource } from '../index.ts';
import { drain, fixture, options } from '../testkit.ts';
import { openTelegramExportSource, readFramed } from './source.ts';
import { writeSyntheticExport } from './synthetic.ts';

const summary = (e: { event: { action: string }; '@timestamp': string; message?: { id: string } }) =>
  `${e['@timestamp']} ${e.event.action} ${e.message?.id ?? '-'}`;


/** A scratch directory for a test's own export files, removed afterwards. */
async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tidewatch-export-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
test('new-format channel export: lifecycle, posts, edits, forwards, media, links; pin ignored, dateless rejected', async () => {
  assert.equal(await detectFormat(fixture('channel-new.json')), 'telegram-export');
  const source = openSource(fixture('channel-new.json'), options({ network: 'is-official', language: 'ar' }));
  const { events, rejected } = await drain(source);
  assert.deepEqual(events.map(summary), [
    '2015-11-18T22:41:07.000Z channel_created 1',
    '2015-11-18T22:50:00.000Z post 2',
    '2015-11-19T06:00:00.000Z post 3',
    '2015-11-19T06:05:00.000Z edit 3',
    '2015-11-19T07:00:00.000Z post 4',
    '2015-11-19T08:00:00.000Z post 7',
    '2015-11-19T09:00:00.000Z title_changed 8',
  ]);
  assert.equal(events[1]!.event.id, eventId({ platform: 'telegram', channelId: '1062301884', action: 'post', messageId: '2', timestamp: '2015-11-18T22:50:00Z' }));
  assert.deepEqual(events[1]!.channel, { id: '1062301884', title: 'ناشر الأخبار 📢', network: 'is-official', language: 'ar' });
  assert.deepEqual(events[1]!.links, ['https://archive.org/details/x1']);
  assert.deepEqual(events[2]!.links, ['https://tamtam.chat/nashir', 't.me/joinchat/AAAAAE', 'xmpp:news@jabber.example.org']);
  assert.deepEqual(events[3]!.links, events[2]!.links);
  assert.deepEqual(events[4]!.message, { id: '4', media: 'photo', length: 0, forwarded_from: 'Amaq Agency' });
  assert.equal(events[5]!.message?.media, 'video');
  assert.equal(events[6]!.channel.title, 'ناشر 🌙');
  assert.equal(events[2]!.message?.text, undefined, 'text is not kept without storeText');
  assert.deepEqual(rejected, [{ kind: 'rejected', reason: 'message has no usable "date_unixtime" or "date"', location: 'channel-new.json: chat 1062301884 message 6 (byte ~3169)' }]);
  assert.deepEqual(source.stats?.(), { read: 8, produced: 7, rejected: 1, ignored: 1, ignoredByKind: { 'service:pin_message': 1 }, warnings: [] });
});

test('storeText keeps the plain text of entity arrays', async () => {
  const { events } = await drain(openSource(fixture('channel-new.json'), options({ storeText: true })));
  assert.equal(events[2]!.message?.text, '🔴 عاجل هنا و t.me/joinchat/AAAAAE xmpp:news@jabber.example.org');
});

test('old-format group export: local times read in --timezone, with a warning', async () => {
  const source = openSource(fixture('group-old.json'), options({ timezone: 'Europe/Berlin' }));
  const { events, rejected } = await drain(source);
  assert.equal(rejected.length, 0);
  assert.deepEqual(events.map(summary), [
    '2016-03-01T11:00:00.000Z channel_created 1',
    '2016-03-01T11:30:00.000Z post 2',
    '2016-07-01T06:15:00.000Z post 3',
    '2016-07-01T06:20:00.000Z edit 3',
  ]);
  assert.deepEqual(events[0]!.labels, ['migrated-from-group']);
  assert.deepEqual(events[1]!.links, ['https://justpaste.it/abc', 'https://www.example.com/a']);
  assert.equal(events[2]!.message?.media, 'voice');
  const stats = source.stats!();
  assert.deepEqual(stats.ignoredByKind, { 'service:invite_members': 1 });
  assert.match(stats.warnings[0]!, /local times read in Europe\/Berlin/);
  const utc = await drain(openSource(fixture('group-old.json'), options()));
  assert.equal(utc.events[1]!['@timestamp'], '2016-03-01T12:30:00.000Z');
});

test('full-account export: chats and left chats; personal chats are counted as ignored', async () => {
  const source = openSource(fixture('account-full.json'), options());
  const { events } = await drain(source);
  assert.deepEqual(events.map((e) => `${e.channel.id} ${e.channel.title} ${e.event.action} ${e.message?.media}`), [
    '1040000001 Amaq Agency post text',
    '1050000002 Nashir post audio',
  ]);
  assert.deepEqual(source.stats?.(), { read: 3, produced: 2, rejected: 0, ignored: 1, ignoredByKind: { 'chat:personal_chat': 1 }, warnings: [] });
});

test('a truncated export fails with the byte offset where it ends', async () => {
  await assert.rejects(drain(openSource(fixture('truncated.json'), options())), /truncated\.json: the JSON ends unfinished at byte 1500/);
});

test('a corrupt export fails with the byte offset of the bad input', async () => {
  // The stray comma sits at byte 1677; the error names the position just before it.
  await assert.rejects(drain(openSource(fixture('corrupt.json'), options())), /corrupt\.json: not valid JSON at byte 167[67]:/);
});

test('a bad --timezone is refused before anything is read', async () => {
  await assert.rejects(drain(openSource(fixture('group-old.json'), options({ timezone: 'Mars/Olympus' }))), /not an IANA time zone/);
});

test('valid exports are read by the fast reader alone; broken ones are handed to stream-json', async () => {
  await inTempDir(async (dir) => {
    const synthetic = join(dir, 'synthetic.json');
    const { messages } = await writeSyntheticExport(synthetic, 1.5e6);
    const drainFramed = async (file: string) => {
      const reader = readFramed(file);
      let framed = 0;
      for (let next = await reader.next(); ; next = await reader.next()) {
        if (next.done) return { framed, result: next.value };
        framed += next.value.length;
      }
    };
    assert.deepEqual(await drainFramed(synthetic), { framed: messages, result: true });
    for (const name of ['channel-new.json', 'group-old.json', 'account-full.json']) assert.equal((await drainFramed(fixture(name))).result, true, name);
    for (const name of ['truncated.json', 'corrupt.json']) assert.equal(typeof (await drainFramed(fixture(name))).result, 'number', name);
  });
});

test('messages are mapped as they are consumed: a consumer that stops early stops the work', async () => {
  await inTempDir(async (dir) => {
    const file = join(dir, 'synthetic.json');
    await writeSyntheticExport(file, 1.5e6);
    const source = openTelegramExportSource(file, options());
    let taken = 0;
    for await (const item of source.items()) {
      assert.equal(item.kind, 'event');
      if (++taken === 3) break;
    }
    // The first read chunk holds hundreds of messages; only those consumed were mapped.
    assert.equal(source.stats!().read, 3);
    assert.equal(source.stats!().produced, 3);
  });
});

test('service actions and media types named like Object.prototype members are plain unknown values', async () => {
  await inTempDir(async (dir) => {
    const file = join(dir, 'result.json');
    await writeFile(file, JSON.stringify({
      name: 'proto', type: 'public_channel', id: 77,
      messages: [
        { id: 1, type: 'service', date: '2020-01-01T00:00:00', date_unixtime: '1577836800', action: 'toString' },
        { id: 2, type: 'message', date: '2020-01-01T00:01:00', date_unixtime: '1577836860', text: 'x', media_type: 'constructor' },
      ],
    }));
    // One line (minified), as a small export may be: still detected as an export.
    const source = openSource(file, options());
    const { events, rejected } = await drain(source);
    assert.deepEqual(rejected, []);
    assert.deepEqual(source.stats!().ignoredByKind, { 'service:toString': 1 });
    assert.deepEqual(events.map((e) => [e.event.action, e.message?.media]), [['post', 'other']]);
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { openSource, detectFormat } from '../index.ts';
import { drain, fixture, options } from '../testkit.ts';

test('canonical JSONL: good lines become events, bad lines rejections with their line number', async () => {
  const source = openSource(fixture('events.jsonl'), options({ network: 'supporters', language: 'en' }));
  const { events, rejected } = await drain(source);
  assert.deepEqual(events.map((e) => e.event.id), ['5e20a6fb67a4cba54cda29800a03f45b', '0a6e04d258bcc74d91af4f825890e8de']);
  // --network/--language only fill what the event lacks.
  assert.equal(events[0]!.channel.network, 'is-official');
  assert.deepEqual(events[1]!.channel, { id: '2002', network: 'supporters', language: 'en' });
  assert.deepEqual(rejected.map((r) => r.location), ['events.jsonl:line 4', 'events.jsonl:line 5']);
  assert.match(rejected[0]!.reason, /not valid JSON/);
  assert.match(rejected[1]!.reason, /^event\.action:/);
  assert.deepEqual(source.stats?.(), { read: 4, produced: 2, rejected: 2, ignored: 0, ignoredByKind: {}, warnings: [] });
});

test('format detection by extension and first bytes', async () => {
  assert.equal(await detectFormat(fixture('events.jsonl')), 'jsonl');
});

test('user-written JSONL (no ids, platform or source; numeric message ids) is taken whole, ids as tidewatch derives them', async () => {
  const { events, rejected } = await drain(openSource(fixture('user-written.jsonl'), options()));
  assert.deepEqual(rejected, []);
  // The same activities as the canonical data file it was written from: the same ids.
  const canonical = await drain(openSource(fileURLToPath(new URL('../../analytics/testdata/timeline-2017-silence.jsonl', import.meta.url)), options()));
  assert.equal(events.length, canonical.events.length);
  assert.deepEqual(events.map((e) => e.event.id), canonical.events.map((e) => e.event.id));
  assert.deepEqual(events[0]!.source, { type: 'jsonl', name: 'user-written.jsonl' });
  assert.equal(events[0]!.platform, 'telegram');
  assert.equal(typeof events[0]!.message?.id, 'string');
});

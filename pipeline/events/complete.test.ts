import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildEvent, canonicalEventMs, completeEvent, decodeEvent, eventId, validateEvent, type EventDefaults } from './index.ts';

const defaults: EventDefaults = { source: { type: 'jsonl', name: 'mine.jsonl' } };
const NOW = Date.UTC(2026, 0, 1);

/** What a user writes: Telegram's numeric ids, no tidewatch id, no platform, no source. */
const userWritten = () => ({
  '@timestamp': '2017-11-22T10:00:00+01:00',
  event: { action: 'post' },
  channel: { id: -1001062301884, handle: 'nashir_news', language: 'ar' },
  message: { id: 42, length: 120 },
});

test('a user-written event is completed: id derived, platform telegram, source where it came in, numeric ids as text', () => {
  const v = validateEvent(userWritten(), { nowMs: NOW, defaults });
  assert.ok(v.ok, v.ok ? '' : v.reason);
  const expectedId = eventId({ platform: 'telegram', channelId: '-1001062301884', action: 'post', messageId: '42', timestamp: '2017-11-22T09:00:00Z' });
  assert.deepEqual(v.event, {
    '@timestamp': '2017-11-22T10:00:00+01:00',
    event: { id: expectedId, action: 'post' },
    platform: 'telegram',
    channel: { id: '-1001062301884', handle: 'nashir_news', language: 'ar' },
    message: { id: '42', length: 120 },
    source: { type: 'jsonl', name: 'mine.jsonl' },
  });
  // The same activity built by a producer is the same document (upserts meet).
  const built = buildEvent({ timestamp: '2017-11-22T09:00:00Z', action: 'post', channel: { id: '-1001062301884' }, message: { id: '42' }, source: { type: 'test' } });
  assert.equal(v.event.event.id, built.event.id);
});

test('what the user did write is kept: their platform, their source, their (matching) id', () => {
  const given = { ...userWritten(), platform: 'tamtam', source: { type: 'csv' as const, name: 'elsewhere' } };
  const v = validateEvent(given, { nowMs: NOW, defaults });
  assert.ok(v.ok, v.ok ? '' : v.reason);
  assert.equal(v.event.platform, 'tamtam');
  assert.deepEqual(v.event.source, { type: 'csv', name: 'elsewhere' });
  const id = v.event.event.id;
  const again = validateEvent({ ...given, event: { id, action: 'post' } }, { nowMs: NOW, defaults });
  assert.ok(again.ok);
  assert.equal(again.event.event.id, id);
});

test('a present id that does not match is a rejection naming both ids', () => {
  const wrong = '0123456789abcdef0123456789abcdef';
  const v = validateEvent({ ...userWritten(), event: { id: wrong, action: 'post' } }, { nowMs: NOW, defaults });
  assert.equal(v.ok, false);
  const right = eventId({ platform: 'telegram', channelId: '-1001062301884', action: 'post', messageId: '42', timestamp: '2017-11-22T09:00:00Z' });
  assert.match(v.ok ? '' : v.reason, new RegExp(`^event\\.id: does not match .*\\(given ${wrong}, expected ${right}\\)`));
});

test('ids are derived from the values validation reads (labels trimmed), and other problems are still named', () => {
  const padded = validateEvent({ ...userWritten(), channel: { id: ' 7 ' }, message: { id: ' 9 ' } }, { nowMs: NOW, defaults });
  assert.ok(padded.ok, padded.ok ? '' : padded.reason);
  assert.equal(padded.event.channel.id, '7');
  const bad = validateEvent({ ...userWritten(), event: { action: 'shout' }, surprise: 1 }, { nowMs: NOW, defaults });
  assert.equal(bad.ok, false);
  assert.match(bad.ok ? '' : bad.reason, /event\.action: .*unknown field\(s\) "surprise"|unknown field\(s\) "surprise".*event\.action/);
  // A fractional message id is no Telegram id: the schema names it.
  const fraction = validateEvent({ ...userWritten(), message: { id: 4.5 } }, { nowMs: NOW, defaults });
  assert.match(fraction.ok ? '' : fraction.reason, /message\.id: Invalid input: expected string, received number/);
});

test('canonical input is returned as it is; a completed one keeps the fast path; internal hops stay strict', () => {
  const canonical = buildEvent({ timestamp: '2017-11-22T09:00:00Z', action: 'post', channel: { id: '1' }, message: { id: '2' }, source: { type: 'test' } }) as unknown;
  assert.equal(completeEvent(canonical, defaults), canonical);
  const completed = completeEvent({ '@timestamp': '2017-11-22T09:00:00.000Z', event: { action: 'post' }, channel: { id: 1 }, message: { id: 2 } }, defaults);
  assert.ok(!Number.isNaN(canonicalEventMs(completed)), JSON.stringify(completed));
  // Without defaults (Kafka, the indexer) an event must be complete.
  const v = decodeEvent(JSON.stringify(userWritten()), { nowMs: NOW });
  assert.equal(v.ok, false);
});

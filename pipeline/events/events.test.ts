import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { buildEvent, decodeEvent, eventId, validateEvent } from './index.ts';

const base = () =>
  buildEvent({
    timestamp: '2017-11-22T09:00:00Z',
    action: 'post',
    channel: { id: '1001', handle: 'nashir_news', title: 'ناشر', language: 'ar', network: 'is-official' },
    message: { id: '42', media: 'text', length: 120, text: 'body' },
    links: ['https://tamtam.chat/x'],
    source: { type: 'test' },
  });

test('the same activity gets the same id whatever the zone notation', () => {
  const a = eventId({ platform: 'telegram', channelId: '1', action: 'post', messageId: '5', timestamp: '2017-11-22T09:00:00Z' });
  const b = eventId({ platform: 'telegram', channelId: '1', action: 'post', messageId: '5', timestamp: '2017-11-22T10:00:00+01:00' });
  const c = eventId({ platform: 'telegram', channelId: '1', action: 'post', messageId: '6', timestamp: '2017-11-22T09:00:00Z' });
  assert.equal(a, b);
  assert.notEqual(a, c);
  assert.match(a, /^[0-9a-f]{32}$/);
});

test('ids are pinned: the same parts give these ids in every version (stored events are upserted by them)', () => {
  // Computed by the first implementation (createHash over the joined key); never change them.
  assert.equal(eventId({ platform: 'telegram', channelId: '1062301884', action: 'post', messageId: '2', timestamp: '2015-11-18T22:50:00Z' }), 'c46200f8872e8607235a7b1416e7c74e');
  assert.equal(eventId({ platform: 'telegram', channelId: '1062301884', action: 'channel_created', timestamp: Date.UTC(2015, 10, 18, 22, 41, 7) }), '9ab71664d03b4efc92c6a694951a24be');
  assert.equal(eventId({ platform: 'telegram', channelId: '1062301884', action: 'edit', messageId: '3', timestamp: '2015-11-19T07:05:00+01:00' }), 'b770c460d8f81c81c492d1faac95cbea');
  // The builder passes epoch ms: the same id as the ISO string gives.
  const built = buildEvent({ timestamp: 1447887000000, action: 'post', channel: { id: '1062301884' }, message: { id: '2' }, source: { type: 'test' } });
  assert.equal(built.event.id, 'c46200f8872e8607235a7b1416e7c74e');
  assert.equal(built['@timestamp'], '2015-11-18T22:50:00.000Z');
});

test('eventId is the original definition for any parts: sha256 of the joined key, first 32 hex', () => {
  const original = (p: { platform: string; channelId: string; action: string; messageId?: string; timestamp: number | string }) => {
    const ms = typeof p.timestamp === 'number' ? p.timestamp : Date.parse(p.timestamp);
    const key = [p.platform, p.channelId, p.action, p.messageId ?? '', String(ms)].join('\u001f');
    return createHash('sha256').update(key).digest('hex').slice(0, 32);
  };
  const time = fc.oneof(
    fc.bigInt({ min: -(10n ** 16n), max: 10n ** 16n }).map(Number),
    fc.integer(),
    fc.double(),
    fc.constantFrom(0, -0, 9999, 10000, 2e13 - 1, 2e13, NaN, Infinity),
    fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
    fc.string(),
  );
  const parts = fc.record({ platform: fc.string(), channelId: fc.string(), action: fc.string(), messageId: fc.string(), timestamp: time }, { requiredKeys: ['platform', 'channelId', 'action', 'timestamp'] });
  fc.assert(fc.property(parts, (p) => assert.equal(eventId(p), original(p))), { numRuns: 20_000 });
});

test('a valid event passes and its text is removed unless storeText is on', () => {
  const v = validateEvent(base(), { nowMs: Date.UTC(2026, 0, 1) });
  assert.ok(v.ok);
  assert.equal(v.event.message?.text, undefined);
  const kept = validateEvent(base(), { nowMs: Date.UTC(2026, 0, 1), storeText: true });
  assert.ok(kept.ok);
  assert.equal(kept.event.message?.text, 'body');
});

test('invalid events are rejected with the field named', () => {
  const cases: [unknown, RegExp][] = [
    [{ ...base(), '@timestamp': 'yesterday' }, /^@timestamp: must be an ISO 8601/],
    [{ ...base(), '@timestamp': '1990-01-01T00:00:00Z' }, /before 2000/],
    [{ ...base(), channel: { id: '' } }, /^channel\.id: must not be empty/],
    [{ ...base(), extra: 1 }, /unknown field\(s\) "extra"/],
    [{ ...base(), event: { id: 'x', action: 'post' } }, /^event\.id:/],
    [{ ...base(), event: { ...base().event, action: 'shout' } }, /^event\.action:/],
    [{ ...base(), subscribers: -1 }, /^subscribers:/],
    [{ ...base(), event: { ...base().event, id: '0'.repeat(32) } }, /does not match/],
  ];
  for (const [value, reason] of cases) {
    const v = validateEvent(value, { nowMs: Date.UTC(2026, 0, 1) });
    assert.equal(v.ok, false, JSON.stringify(value).slice(0, 80));
    if (!v.ok) assert.match(v.reason, reason);
  }
});

test('events from the future beyond a day are rejected against the injected clock', () => {
  const e = base();
  const v = validateEvent(e, { nowMs: Date.parse('2017-11-20T00:00:00Z') });
  assert.equal(v.ok, false);
  if (!v.ok) assert.equal(v.field, '@timestamp');
});

test('decodeEvent names JSON and size problems', () => {
  const bad = decodeEvent('{"oops"');
  assert.equal(bad.ok, false);
  if (!bad.ok) assert.match(bad.reason, /not valid JSON/);
  const big = decodeEvent(Buffer.alloc(300 * 1024, 0x20));
  assert.equal(big.ok, false);
  if (!big.ok) assert.match(big.reason, /over the 262144-byte limit/);
  const good = decodeEvent(JSON.stringify(base()), { nowMs: Date.UTC(2026, 0, 1) });
  assert.ok(good.ok);
});

test('decodeEvent hands back the text itself only when the event is exactly that one line', () => {
  const { text: _t, ...message } = base().message!;
  const plain = { ...base(), message };
  const line = JSON.stringify(plain);
  const v = decodeEvent(line, { nowMs: Date.UTC(2020, 0, 1) });
  assert.ok(v.ok);
  assert.equal(v.json, line);
  assert.deepEqual(JSON.parse(v.json), v.event);
  // Pretty-printed: the newlines would break a bulk body.
  const pretty = decodeEvent(JSON.stringify(plain, null, 2), { nowMs: Date.UTC(2020, 0, 1) });
  assert.ok(pretty.ok && pretty.json === undefined);
  // Text removed (storeText off): the stored event is not the text any more.
  const withText = decodeEvent(JSON.stringify(base()), { nowMs: Date.UTC(2020, 0, 1) });
  assert.ok(withText.ok && withText.json === undefined && withText.event.message?.text === undefined);
  // Kept (storeText on): it is again.
  const kept = decodeEvent(JSON.stringify(base()), { nowMs: Date.UTC(2020, 0, 1), storeText: true });
  assert.ok(kept.ok && kept.json === JSON.stringify(base()));
});

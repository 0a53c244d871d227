import { test } from 'node:test';
import assert from 'node:assert/strict';
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

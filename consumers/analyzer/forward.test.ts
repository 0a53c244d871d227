import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ActivityEvent } from '../../pipeline/events/index.ts';
import { ForwardedEvents, pack, parseForwarded, unpack, PACK_KEY_PREFIX, type Forwarded } from './forward.ts';
import { admitPacked, newMerge } from './merge.ts';

const event = (i: number, extra = '') =>
  `{"@timestamp":"2017-11-01T00:00:0${i % 10}.000Z","event":{"id":"e${i}","action":"post"}${extra}}`;
const records = (offsets: number[]): Forwarded[] => offsets.map((o, i) => ({ offset: String(o), bytes: Buffer.from(event(i)) }));

test('a pack holds each event\'s bytes and source offset as they were, gaps in the offsets included', () => {
  const input = records([7, 8, 10, 4_000_000_123]);
  const [one, ...rest] = pack(3, input);
  assert.equal(rest.length, 0);
  assert.equal(one!.key, `${PACK_KEY_PREFIX}3@7-4000000123`);
  const u = unpack(one!.value);
  assert.ok(!('error' in u));
  assert.equal(u.partition, 3);
  assert.deepEqual(u.deltas.map((d) => String(u.base + BigInt(d))), input.map((r) => r.offset));
  assert.deepEqual(u.starts.map((s, i) => one!.value.toString('utf8', s, u.ends[i])), input.map((r) => r.bytes.toString('utf8')));
});

test('packs are cut by size, one event at least, and together hold every event once in order', () => {
  const input = records(Array.from({ length: 50 }, (_, i) => 100 + i));
  const size = input[0]!.bytes.length;
  const packs = pack(0, input, 5 * (size + 8) + 30);
  assert.ok(packs.length >= 10, `${packs.length} packs`);
  const back = packs.flatMap((p) => {
    const u = unpack(p.value);
    assert.ok(!('error' in u));
    assert.ok(p.value.length <= 5 * (size + 8) + 30);
    return u.deltas.map((d, i) => [String(u.base + BigInt(d)), p.value.toString('utf8', u.starts[i], u.ends[i])]);
  });
  assert.deepEqual(back, input.map((r) => [r.offset, r.bytes.toString('utf8')]));
  // An event larger than the cap still goes, alone.
  const big = pack(0, [{ offset: '1', bytes: Buffer.alloc(200, 0x20) }, { offset: '2', bytes: Buffer.from(event(2)) }], 100);
  assert.equal(big.length, 2);
});

test('a damaged pack is refused with the reason', () => {
  const [p] = pack(1, records([5, 6]));
  assert.match((unpack(Buffer.from('{"not":"a pack"}')) as { error: string }).error, /no TWF1 header/);
  assert.match((unpack(p!.value.subarray(0, p!.value.length - 3)) as { error: string }).error, /runs past the record's end/);
  assert.match((unpack(Buffer.concat([p!.value, Buffer.from('xx')])) as { error: string }).error, /2 byte\(s\) after its 2 events/);
});

test('a forwarded event is parsed, its text dropped unless kept; what is not an event gets a reason', () => {
  const withText = event(1, ',"message":{"id":"1","text":"hello"}');
  assert.equal((parseForwarded(withText, false) as { message: { text?: string } }).message.text, undefined);
  assert.equal((parseForwarded(withText, true) as { message: { text?: string } }).message.text, 'hello');
  assert.match((parseForwarded('{"oops"', false) as { error: string }).error, /^not valid JSON/);
  assert.match((parseForwarded('{"event":{"id":"x"}}', false) as { error: string }).error, /no valid @timestamp or event.id/);
  assert.match((parseForwarded('{"event":{"id":"x"},"@timestamp":"yesterday"}', false) as { error: string }).error, /no valid @timestamp/);
  assert.match((parseForwarded('[]', false) as { error: string }).error, /not an activity event/);
});

test('the merge admits each packed source offset once: a pack resent after a crash, whole or overlapping, is dropped per event', () => {
  const m = newMerge(2, 0);
  assert.equal(admitPacked(m, '0', 10n, [0, 1, 2]), 0, 'offsets 10-12, all new');
  assert.equal(admitPacked(m, '0', 10n, [0, 1, 2]), 3, 'the same pack again: all copies');
  assert.equal(admitPacked(m, '0', 11n, [0, 1, 5]), 2, 'offsets 11 and 12 seen, 16 new');
  assert.equal(m.forwarded!.get('0'), '16');
  assert.equal(admitPacked(m, '1', 3n, [0]), 0, 'another source is judged on its own');
  assert.equal(admitPacked(m, '0', 17n, [0, 1]), 0);
  assert.equal(admitPacked(m, '0', 5n, [0]), 1, 'an older copy, below the pack boundary');
});

test('a pack\'s events handed over in the process only for a record of exactly its bytes, once; the oldest forgotten past the bound', () => {
  const packs = pack(0, records([1, 2, 3]), 60);
  assert.ok(packs.length >= 2);
  const events = packs.map((_, i) => [{ event: { id: `p${i}` } } as unknown as ActivityEvent]);
  const handoff = new ForwardedEvents(packs[0]!.value.length + packs[1]!.value.length);
  packs.forEach((p, i) => handoff.put(p.key, p.value, events[i]!));
  // Three packs over a bound of two: the first is forgotten and its record parsed as usual.
  assert.equal(handoff.take(packs[0]!.key, packs[0]!.value), undefined);
  // The same bytes in another buffer (as a Kafka fetch gives them) are the same pack.
  assert.equal(handoff.take(packs[1]!.key, Buffer.from(packs[1]!.value)), events[1]);
  assert.equal(handoff.take(packs[1]!.key, packs[1]!.value), undefined, 'taken once');
  // Other bytes under the key (another instance's pack, a damaged record): not these events.
  const other = Buffer.from(packs[2]!.value);
  other.writeUInt8(other.readUInt8(other.length - 2) ^ 1, other.length - 2);
  assert.equal(handoff.take(packs[2]!.key, other), undefined);
});

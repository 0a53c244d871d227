import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  activityEventSchema, buildEventAt, canonicalBuiltEvent, canonicalEventMs, canonicalIsoMs, EVENT_ACTIONS, isoFromMs, LIMITS,
  MEDIA_KINDS, SOURCE_TYPES, validateBuiltEvent, validateEvent, validateWithSchema, type BuiltEvent, type EventInput,
} from './index.ts';

/**
 * The fast paths (schema.ts: canonicalEventMs, canonicalBuiltEvent; build.ts: isoFromMs) must give
 * exactly what the zod schema and toISOString() give. Random inputs, valid and not, near every
 * limit; the schema is the reference throughout.
 */

const NOW_MS = Date.UTC(2026, 0, 1);
const YEAR_10000_MS = Date.UTC(10000, 0, 1);
const between = (min: number, max: number) => fc.bigInt({ min: BigInt(min), max: BigInt(max) }).map(Number);

const ms = fc.oneof(
  between(LIMITS.minTimestampMs - 1e7, LIMITS.minTimestampMs + 1e7),
  between(LIMITS.minTimestampMs, NOW_MS + 2 * LIMITS.maxFutureMs),
  between(YEAR_10000_MS - 1e7, YEAR_10000_MS + 1e7),
  between(-8.64e15, 8.64e15),
);

/** One character replaced: near-misses of the canonical form. */
const mutated = fc.tuple(between(LIMITS.minTimestampMs, NOW_MS), fc.nat(23), fc.constantFrom('0', '9', ' ', 'x', '+', '-', ':', 'T', 'Z', '٣', '.')).map(
  ([t, i, c]) => { const s = new Date(t).toISOString(); return s.slice(0, i) + c + s.slice(i + 1); },
);

const iso = fc.oneof(
  ms.map((t) => new Date(t).toISOString()),
  ms.map((t) => new Date(t).toISOString().replace('.000Z', 'Z')),
  ms.map((t) => new Date(t).toISOString().replace('Z', '+00:00')),
  mutated,
  fc.constantFrom(
    '2017-02-29T00:00:00.000Z', '2016-02-29T00:00:00.000Z', '2000-02-29T00:00:00.000Z', '2100-02-29T00:00:00.000Z', '2017-04-31T00:00:00.000Z',
    '2017-13-01T00:00:00.000Z', '2017-00-01T00:00:00.000Z', '2017-01-00T00:00:00.000Z', '2017-01-01T24:00:00.000Z', '2017-01-01T23:60:00.000Z',
    '2017-01-01T23:59:60.000Z', '1999-12-31T23:59:59.999Z', '2000-01-01T00:00:00.000Z', '9999-12-31T23:59:59.999Z', 'yesterday', '',
  ),
  fc.string({ maxLength: 30 }),
);

// Values that sit on or just past a rule of the schema, valid ones among them.
const edge = (n: number) => ['x'.repeat(n), 'x'.repeat(n + 1), ' ' + 'x'.repeat(n - 1), 'x'.repeat(n - 1) + '\u3000'];
const NASTY: unknown[] = [
  '', ' ', ' x', 'x ', '\u00a0x', 'x\ufeff', '\nx', 'ناشر', 'Amaq', ...edge(32), ...edge(64), ...edge(128), ...edge(512), ...edge(2048),
  'ar', 'fa-IR', 'EN', 'a', 'zh-Hant-TW', 'telegram', 'Telegram', 'x.y-z_1', 'post', 'shout', 'photo', 'jsonl', '0'.repeat(32), 'A'.repeat(32),
  -1, -0, 0, 0.5, 1, 7, NaN, Infinity, 2 ** 53, 2 ** 53 - 1, null, undefined, true, {}, [], [''], ['https://x'], { id: '1' },
  ...[LIMITS.labelsPerEvent, LIMITS.linksPerEvent].flatMap((n) => [n, n + 1]).map((n) => Array.from({ length: n }, (_, i) => `https://x/${i}`)),
];
const value = fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...NASTY) }, iso, fc.string({ maxLength: 12 }), fc.integer());

/** Where an edit lands in an event (after building) or in an EventInput (before). */
const EVENT_PATHS = [
  '@timestamp', 'event.id', 'event.action', 'event.ingested', 'platform', 'channel.id', 'channel.handle', 'channel.title', 'channel.language',
  'channel.network', 'message.id', 'message.media', 'message.length', 'message.forwarded_from', 'message.views', 'message.text', 'links',
  'links.0', 'subscribers', 'count', 'source.type', 'source.name', 'labels', 'labels.0',
];
const INPUT_PATHS = ['timestamp', 'action', 'platform', 'ingested', ...EVENT_PATHS.filter((p) => /^(channel|message|links|subscribers|count|source|labels)/.test(p))];
const OBJECTS = ['', 'event', 'channel', 'message', 'source'];

type Edit = { kind: 'set'; path: string; value: unknown } | { kind: 'delete'; path: string } | { kind: 'extra' | 'reorder'; path: string };
const edits = (paths: string[], objects: string[]) =>
  fc.array(
    fc.oneof(
      { weight: 6, arbitrary: fc.record({ kind: fc.constant('set' as const), path: fc.constantFrom(...paths), value }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), path: fc.constantFrom(...paths) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('extra' as const, 'reorder' as const), path: fc.constantFrom(...objects) }) },
    ),
    { maxLength: 2 },
  );

/** Apply edits to a deep copy (objects rebuilt, so key order can change). */
function applyEdits<T>(target: T, list: Edit[]): T {
  const copy = structuredClone(target) as Record<string, unknown>;
  for (const edit of list) {
    const keys = edit.path === '' ? [] : edit.path.split('.');
    const last = keys.pop();
    let obj: Record<string, unknown> | undefined = copy;
    for (const k of keys) obj = obj?.[k] !== null && typeof obj?.[k] === 'object' ? (obj[k] as Record<string, unknown>) : undefined;
    if (edit.kind === 'set' || edit.kind === 'delete') {
      if (obj === undefined || last === undefined) continue;
      // A copy: the values are shared constants (NASTY), which a later edit of this list (links.0
      // after links) would otherwise change for every run after, once into a cycle.
      if (edit.kind === 'set') obj[last] = structuredClone(edit.value);
      else delete obj[last];
      continue;
    }
    const holder: Record<string, unknown> | undefined = last === undefined ? copy : obj?.[last] !== null && typeof obj?.[last] === 'object' ? (obj[last] as Record<string, unknown>) : undefined;
    if (!holder || Array.isArray(holder)) continue;
    const entries = Object.entries(holder);
    for (const k of Object.keys(holder)) delete holder[k];
    if (edit.kind === 'reorder') entries.reverse();
    else entries.push(['extra', 1]);
    for (const [k, v] of entries) holder[k] = v;
  }
  return copy as T;
}

const label = (max: number) => fc.oneof(fc.string({ minLength: 1, maxLength: 12 }).map((x) => x.trim() || 'x'), fc.constant('x'.repeat(max)));
/** An input the schema accepts: the edits then break it, or not. */
const validInput = fc.record(
  {
    timestamp: fc.oneof(between(LIMITS.minTimestampMs, NOW_MS), between(LIMITS.minTimestampMs, NOW_MS).map((t) => new Date(t))),
    action: fc.constantFrom(...EVENT_ACTIONS),
    platform: fc.constantFrom('telegram', 'tamtam'),
    channel: fc.record(
      { id: label(LIMITS.idChars), handle: label(LIMITS.handleChars), title: fc.string({ maxLength: 20 }), language: fc.constantFrom('ar', 'en', 'fa-IR'), network: label(LIMITS.labelChars) },
      { requiredKeys: ['id'] },
    ),
    message: fc.record(
      { id: label(LIMITS.idChars), media: fc.constantFrom(...MEDIA_KINDS), length: fc.nat(), forwarded_from: label(LIMITS.titleChars), views: fc.nat(), text: fc.string({ maxLength: 20 }) },
      { requiredKeys: ['id'] },
    ),
    links: fc.array(fc.oneof(fc.webUrl(), label(LIMITS.linkChars)), { maxLength: 3 }),
    subscribers: fc.nat(),
    count: fc.nat(),
    source: fc.record({ type: fc.constantFrom(...SOURCE_TYPES), name: fc.string({ maxLength: 12 }) }, { requiredKeys: ['type'] }),
    labels: fc.array(label(LIMITS.labelChars), { maxLength: 3 }),
    ingested: between(LIMITS.minTimestampMs, NOW_MS),
  },
  { requiredKeys: ['timestamp', 'action', 'channel', 'source'] },
) as fc.Arbitrary<EventInput>;

const ingested = fc.option(fc.oneof(ms.map((t) => new Date(t).toISOString()), iso), { nil: undefined });
const input = fc.tuple(validInput, edits(INPUT_PATHS, ['channel', 'message', 'source'])).map(([i, e]) => applyEdits(i, e));

/** Build, or undefined where building refuses (an unusable timestamp). */
function tryBuild(i: EventInput, ingestedIso: string | undefined) {
  try {
    return buildEventAt(i, ingestedIso);
  } catch {
    return undefined;
  }
}

test('isoFromMs is toISOString', () => {
  fc.assert(fc.property(ms, (t) => assert.equal(isoFromMs(t), new Date(t).toISOString())), { numRuns: 10_000 });
  for (const t of [0, -1, 8.64e15, -8.64e15, YEAR_10000_MS - 1, YEAR_10000_MS, -62198755200000, -62198755200001]) assert.equal(isoFromMs(t), new Date(t).toISOString());
});

test('canonicalIsoMs accepts only what the schema accepts, and reads it as Date.parse does', () => {
  const timestamp = activityEventSchema.shape['@timestamp'];
  fc.assert(
    fc.property(iso, (s) => {
      const t = canonicalIsoMs(s);
      if (Number.isNaN(t)) return;
      assert.ok(timestamp.safeParse(s).success, s);
      assert.equal(t, Date.parse(s), s);
    }),
    { numRuns: 10_000 },
  );
  // ...and everything toISOString() writes from 2000 to 9999.
  fc.assert(fc.property(between(LIMITS.minTimestampMs, YEAR_10000_MS - 1), (t) => assert.equal(canonicalIsoMs(new Date(t).toISOString()), t)));
});

test('validateEvent gives what the schema alone gives, for any event-like value', () => {
  fc.assert(
    fc.property(validInput, ingested, edits(EVENT_PATHS, OBJECTS), fc.boolean(), fc.boolean(), (i, ingestedIso, list, storeText, roundTrip) => {
      const built = tryBuild(i, ingestedIso);
      if (!built) return;
      const edited = applyEdits(built.event, list);
      // Also as a transport delivers it: JSON text read back (undefined-valued keys gone).
      const value: unknown = roundTrip ? JSON.parse(JSON.stringify(edited)) : edited;
      for (const checkId of [true, false]) {
        const opts = { nowMs: NOW_MS, storeText, checkId };
        const got = validateEvent(value, opts);
        const reference = validateWithSchema(value, opts);
        assert.deepStrictEqual(got, reference);
        // Key order too: the same JSON on the wire.
        if (got.ok && reference.ok) assert.equal(JSON.stringify(got.event), JSON.stringify(reference.event));
      }
      if (!Number.isNaN(canonicalEventMs(value))) {
        const parsed = activityEventSchema.safeParse(value);
        assert.ok(parsed.success);
        assert.deepStrictEqual(parsed.data, value);
      }
    }),
    { numRuns: 10_000 },
  );
});

test('validateBuiltEvent gives what the schema alone gives for the same event', () => {
  fc.assert(
    fc.property(input, ingested, fc.boolean(), (i, ingestedIso, storeText) => {
      const built = tryBuild(i, ingestedIso);
      if (!built) return;
      const got = validateBuiltEvent(built, { nowMs: NOW_MS, storeText });
      const reference = validateWithSchema(built.event, { nowMs: NOW_MS, storeText, checkId: false });
      assert.deepStrictEqual(got, reference);
      if (got.ok && reference.ok) assert.equal(JSON.stringify(got.event), JSON.stringify(reference.event));
      if (canonicalBuiltEvent(built.event, built.ms)) {
        const parsed = activityEventSchema.safeParse(built.event);
        assert.ok(parsed.success);
        assert.deepStrictEqual(parsed.data, built.event);
        assert.equal(Date.parse(built.event['@timestamp']), built.ms);
      }
    }),
    { numRuns: 10_000 },
  );
});

test('valid events take the fast path (it does not just decline everything)', () => {
  fc.assert(
    fc.property(validInput, (i) => {
      const built = buildEventAt(i, '2026-01-01T00:00:00.000Z');
      assert.ok(canonicalBuiltEvent(built.event, built.ms));
      assert.equal(canonicalEventMs(JSON.parse(JSON.stringify(built.event))), built.ms);
      assert.ok(validateBuiltEvent(built, { nowMs: NOW_MS }).ok);
    }),
  );
});

test('the first events of a process: an empty platform, language or ingested is refused, as the schema refuses it', async () => {
  // The fast path remembers the last platform, language and ingested that passed; it once started
  // from '' as if that had passed (CI seed 1190156276: ingested '' accepted on the first event).
  // A fresh copy of the module per case: nothing has passed in it yet, whatever ran before.
  let copies = 0;
  const fresh = async () => (await import(new URL(`./schema.ts?fresh=${++copies}`, import.meta.url).href)) as typeof import('./schema.ts');
  const input: EventInput = { timestamp: LIMITS.minTimestampMs, action: 'post', channel: { id: 'x' }, source: { type: 'telegram-export' } };
  const cases: [string, BuiltEvent][] = [
    ['ingested', buildEventAt(input, '')],
    ['platform', buildEventAt({ ...input, platform: '' })],
    ['language', buildEventAt({ ...input, channel: { id: 'x', language: '' } })],
  ];
  for (const [field, built] of cases) {
    assert.equal(activityEventSchema.safeParse(built.event).success, false, `${field}: the schema refuses ''`);
    assert.equal((await fresh()).canonicalBuiltEvent(built.event, built.ms), false, `${field}: built`);
    assert.ok(Number.isNaN((await fresh()).canonicalEventMs(JSON.parse(JSON.stringify(built.event)))), `${field}: read back`);
  }
  // The same events after a valid one, where the last values are set.
  const warm = await fresh();
  assert.ok(warm.canonicalBuiltEvent(buildEventAt({ ...input, channel: { id: 'x', language: 'ar' } }, '2026-01-01T00:00:00.000Z').event, LIMITS.minTimestampMs));
  for (const [field, built] of cases) assert.equal(warm.canonicalBuiltEvent(built.event, built.ms), false, `${field}: after a valid event`);
});

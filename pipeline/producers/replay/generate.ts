import { buildEvent, validateEvent, type ActivityEvent, type EventInput } from '../../events/index.ts';
import { FACTS, MIGRATION_LINKS } from './facts.ts';
import { between, mix, mulberry32, pick, poisson, type Random } from './random.ts';
import { buildWorld, subscribersAt, type ReplayChannel } from './world.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export interface ReplayOptions {
  /** Same seed, same events, always. */
  seed?: number | undefined;
  /** Window of simulated time (epoch ms); any window is the same slice of the full replay. */
  fromMs?: number | undefined;
  toMs?: number | undefined;
  /** Multiplies the number of background channels (the documented ones are always there). */
  scale?: number | undefined;
  /** Include the 30-minute burst inside the 2017 silence that one report describes. */
  silenceBurst?: boolean | undefined;
}

export const REPLAY_DEFAULTS = { seed: 1, fromMs: FACTS.channelsLaunch, toMs: FACTS.end, scale: 1 } as const;

/**
 * Posting rhythm by UTC hour: the outlets' audience is mostly UTC+3..+5, so nights (21-03 UTC)
 * are quiet and the day peaks late morning and evening local time. Mean 1.
 */
const DIURNAL_RAW = [0.3, 0.2, 0.15, 0.2, 0.5, 0.9, 1.2, 1.4, 1.5, 1.5, 1.4, 1.3, 1.4, 1.5, 1.5, 1.4, 1.4, 1.5, 1.5, 1.3, 1.0, 0.7, 0.5, 0.4];
const DIURNAL_MEAN = DIURNAL_RAW.reduce((a, b) => a + b, 0) / 24;
const DIURNAL = DIURNAL_RAW.map((w) => w / DIURNAL_MEAN);

const MEDIA: [NonNullable<NonNullable<EventInput['message']>['media']>, number][] = [
  ['text', 0.45], ['photo', 0.25], ['video', 0.1], ['audio', 0.06], ['document', 0.09], ['animation', 0.05],
];

const ORDINARY_LINKS: readonly ((n: number) => string)[] = [
  (n) => `https://t.me/joinchat/AAAA${n.toString(36)}`,
  (n) => `https://archive.org/details/nb${n}`,
  (n) => `https://justpaste.it/${n.toString(36)}`,
  (n) => `https://t.me/ansar_${n % 50}`,
];

function mediaOf(rng: Random): NonNullable<NonNullable<EventInput['message']>['media']> {
  let r = rng();
  for (const [kind, p] of MEDIA) if ((r -= p) < 0) return kind;
  return 'text';
}

const OFFICIAL = new Set(['is-official', 'amaq']);

/** Share of a migrating channel's posts that link to another platform, by time. */
function migrationShare(ms: number): number {
  if (ms < FACTS.migrationStart) return 0;
  if (ms >= FACTS.europol2019.bansStart) return 0.7;
  return 0.05 + (0.3 * (ms - FACTS.migrationStart)) / (FACTS.europol2019.bansStart - FACTS.migrationStart);
}

function bansReportedOn(day: number, seed: number): number {
  if (day === FACTS.bansReported.spikeDay) return FACTS.bansReported.spikeCount;
  const i = FACTS.europol2019.days.indexOf(day as never);
  if (i >= 0) return FACTS.europol2019.counts[i]!;
  const rng = mulberry32(mix(seed, day / DAY, 0xba5));
  // The week after the action day stays elevated while mirrors keep being found.
  if (day > FACTS.europol2019.days[1]! && day < FACTS.europol2019.days[1]! + 7 * DAY) return Math.round(between(rng, 600, 1_200));
  return Math.round(between(rng, FACTS.bansReported.normalMin, FACTS.bansReported.normalMax));
}

interface Pending {
  ts: number;
  input: EventInput;
}

/**
 * The timeline replay as canonical events in time order, generated hour by hour (memory holds
 * one simulated hour). Background posting is Poisson per hour with a diurnal profile; the
 * documented events of ../shared/timeline.md are injected at their dates (see facts.ts).
 */
export function* replayEvents(options: ReplayOptions = {}): Generator<ActivityEvent> {
  const seed = options.seed ?? REPLAY_DEFAULTS.seed;
  const fromMs = options.fromMs ?? REPLAY_DEFAULTS.fromMs;
  const toMs = options.toMs ?? REPLAY_DEFAULTS.toMs;
  const { channels } = buildWorld(seed, options.scale ?? REPLAY_DEFAULTS.scale);
  const byId = new Map(channels.map((c) => [c.id, c]));
  const nashirSuccessor = channels.find((c) => c.handle === 'nashir_2')!;
  const nashir = channels.find((c) => c.handle === 'nashir')!;
  const amaqSuccessor = channels.find((c) => c.handle === 'amaq_agency_2')!;
  const radio = channels.find((c) => c.handle === 'albayan_radio')!;
  const banReporter = channels.find((c) => c.network === 'platform')!;
  const tamtamNashir = channels.find((c) => c.platform === 'tamtam' && c.handle === 'nashir_tt')!;

  const channelOf = (c: ReplayChannel, title = c.title) => ({ id: c.id, handle: c.handle, title, language: c.language, network: c.network });
  const source = { type: 'replay' as const, name: `timeline seed ${seed}` };

  const lifecycle: Pending[] = [];
  for (const c of channels) {
    const predecessor = c.successorOf ? byId.get(c.successorOf) : undefined;
    lifecycle.push({
      ts: c.createdMs,
      input: { timestamp: c.createdMs, action: 'channel_created', platform: c.platform, channel: channelOf(c), source, ...(predecessor ? { labels: [`successor-of:${predecessor.id}`] } : {}) },
    });
    if (c.bannedMs !== undefined) {
      lifecycle.push({ ts: c.bannedMs, input: { timestamp: c.bannedMs, action: 'channel_banned', platform: c.platform, channel: channelOf(c), source, subscribers: subscribersAt(c, c.bannedMs) } });
    }
  }
  lifecycle.sort((a, b) => a.ts - b.ts);
  let next = lifecycle.findIndex((p) => p.ts >= fromMs);
  if (next === -1) next = lifecycle.length;

  const alive = (c: ReplayChannel, ms: number) => ms >= c.createdMs && (c.bannedMs === undefined || ms < c.bannedMs);

  for (let hs = Math.floor(fromMs / HOUR) * HOUR; hs < toMs; hs += HOUR) {
    const he = hs + HOUR;
    const rng = mulberry32(mix(seed, hs / HOUR));
    const pending: Pending[] = [];
    while (next < lifecycle.length && lifecycle[next]!.ts < he) pending.push(lifecycle[next++]!);

    // Subscriber snapshots: daily for everyone, 6-hourly for Nashir during its October growth,
    // every 5 minutes in the first hour of the new Nashir channel.
    const snapshot = (c: ReplayChannel, ts: number) =>
      pending.push({ ts, input: { timestamp: ts, action: 'subscribers', platform: c.platform, channel: channelOf(c), subscribers: subscribersAt(c, ts), source } });
    if (hs % DAY === 0) for (const c of channels) if (c.network !== 'platform' && alive(c, hs)) snapshot(c, hs);
    if (hs % (6 * HOUR) === 0 && hs % DAY !== 0 && hs >= Date.parse('2015-10-01T00:00:00Z') && hs < Date.parse('2015-10-16T00:00:00Z')) snapshot(nashir, hs);
    for (let m = 5; m <= 60; m += 5) {
      const ts = nashirSuccessor.createdMs + m * MINUTE;
      if (ts >= hs && ts < he) snapshot(nashirSuccessor, ts);
    }

    // Daily platform-reported count, at the end of the day it covers.
    if (hs % DAY === 23 * HOUR && hs - 23 * HOUR >= FACTS.bansReported.first) {
      const ts = hs + 59 * MINUTE;
      pending.push({ ts, input: { timestamp: ts, action: 'bans_reported', platform: 'telegram', channel: channelOf(banReporter), count: bansReportedOn(hs - 23 * HOUR, seed), source } });
    }

    const hourOfDay = new Date(hs).getUTCHours();
    const afterEuropol = hs >= FACTS.europol2019.days[1]! + DAY;
    let serial = 0;
    const post = (c: ReplayChannel, ts: number, extra: Partial<EventInput> = {}) => {
      const media = extra.message?.media ?? mediaOf(rng);
      const links: string[] = [];
      if (c.migrates && rng() < migrationShare(ts)) links.push(pick(rng, MIGRATION_LINKS)(Math.floor(rng() * 997)));
      else if (rng() < 0.25) links.push(pick(rng, ORDINARY_LINKS)(Math.floor(rng() * 9_973)));
      const forwarded = c.network === 'supporters' && rng() < 0.35 ? (c.language === 'ar' ? 'ناشر' : 'Nashir') : undefined;
      pending.push({
        ts,
        input: {
          timestamp: ts,
          action: 'post',
          platform: c.platform,
          channel: channelOf(c),
          // Unique per channel and increasing with time, without simulating earlier hours.
          message: { id: String((hs / HOUR) * 100 + serial++), media, length: media === 'text' ? Math.round(between(rng, 40, 1_500)) : Math.round(between(rng, 0, 300)), ...(forwarded ? { forwarded_from: forwarded } : {}) },
          links,
          source,
          ...extra,
        },
      });
    };

    for (const c of channels) {
      if (c.postsPerDay === 0 || !(alive(c, hs) || alive(c, he - 1))) continue;
      let lambda = (c.postsPerDay / 24) * DIURNAL[hourOfDay]!;
      if (afterEuropol && c.platform === 'telegram') lambda *= FACTS.europol2019.postsFactorAfter;
      const n = poisson(rng, lambda);
      for (let k = 0; k < n; k++) {
        const ts = hs + Math.floor(rng() * HOUR);
        if (!alive(c, ts)) continue;
        if (OFFICIAL.has(c.network) && ts >= FACTS.silence2017.start && ts < FACTS.silence2017.end) continue;
        post(c, ts);
      }
    }

    // Documented posts.
    if (options.silenceBurst && hs === FACTS.silenceBurst.start) {
      for (let i = 0; i < 6; i++) post(i % 2 ? amaqSuccessor : nashirSuccessor, FACTS.silenceBurst.start + i * 5 * MINUTE + 30_000);
    }
    if (FACTS.silence2017.end >= hs && FACTS.silence2017.end < he) {
      post(radio, FACTS.silence2017.end, { labels: ['radio-bulletin'], message: { id: String((hs / HOUR) * 100 + 99), media: 'audio', length: 0 } });
    }
    if (FACTS.tamtamClaim >= hs && FACTS.tamtamClaim < he) {
      post(tamtamNashir, FACTS.tamtamClaim, { labels: ['claim'], message: { id: String((hs / HOUR) * 100 + 98), media: 'photo', length: 320 } });
    }

    pending.sort((a, b) => a.ts - b.ts);
    for (const p of pending) {
      if (p.ts < fromMs || p.ts >= toMs) continue;
      yield toEvent(p.input);
    }
  }
}

/** The generator's own output must be valid; anything else is a bug in it, so it throws. */
function toEvent(input: EventInput): ActivityEvent {
  const v = validateEvent(buildEvent(input), { checkId: false, nowMs: FACTS.end });
  if (!v.ok) throw new Error(`replay generated an invalid event (${v.reason}): ${JSON.stringify(input)}`);
  return v.event;
}

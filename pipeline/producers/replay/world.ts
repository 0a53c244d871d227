import { watchListSchema, type WatchList } from '../../watch/watch-list.ts';
import { FACTS, TAKEDOWN_2015_LANGUAGES } from './facts.ts';
import { between, mix, mulberry32, pick, type Random } from './random.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export type Network = 'is-official' | 'amaq' | 'supporters' | 'platform';

export interface ReplayChannel {
  id: string;
  platform: string;
  handle: string;
  title: string;
  language: string;
  network: Network;
  createdMs: number;
  bannedMs?: number;
  /** Id of the banned channel this one replaces. */
  successorOf?: string;
  postsPerDay: number;
  /** Subscriber curve as (time, count) knots, interpolated linearly. */
  subscriberKnots: [number, number][];
  /** Posts that link elsewhere, as a share of posts, from `migrationStart` on. */
  migrates: boolean;
}

export interface World {
  channels: ReplayChannel[];
}

const LANGUAGES = Object.keys(TAKEDOWN_2015_LANGUAGES);
const MORE_LANGUAGES = ['ps', 'so', 'ms', 'hi'];

const NAMES: Record<string, string[]> = {
  ar: ['ناشر', 'أعماق', 'البيان', 'الفرقان', 'الخلافة', 'دابق', 'الحياة', 'أجناد', 'النبأ', 'الاعتصام'],
  en: ['Nashir', 'Amaq', 'Al-Hayat', 'Khilafah News', 'Rumiyah', 'Dabiq Digest'],
  default: ['Nashir', 'Amaq', 'Al-Hayat', 'Khilafah', 'Bayan', 'Furat', 'Ajnad', 'Naba'],
};

type ChannelSpec = Omit<ReplayChannel, 'id' | 'platform' | 'subscriberKnots' | 'migrates'> & Partial<ReplayChannel>;

function makeChannel(rng: Random, serial: number, c: ChannelSpec): ReplayChannel {
  const cap = c.network === 'supporters' ? Math.round(between(rng, 300, 6_000)) : Math.round(between(rng, 3_000, 12_000));
  const end = c.bannedMs ?? FACTS.end;
  return {
    // Realistic-looking 10-digit ids, unique by the serial in the low digits.
    id: c.id ?? String(1_000_000_000 + Math.floor(rng() * 8_000) * 100_000 + serial),
    platform: c.platform ?? 'telegram',
    subscriberKnots: c.subscriberKnots ?? [
      [c.createdMs, 0],
      [Math.min(end, c.createdMs + 3 * DAY), Math.round(cap * 0.4)],
      [Math.min(end, c.createdMs + 40 * DAY), cap],
    ],
    migrates: c.migrates ?? false,
    ...c,
  };
}

function titleFor(rng: Random, language: string, network: Network): string {
  const names = NAMES[language] ?? NAMES.default!;
  const base = network === 'amaq' ? (language === 'ar' ? 'أعماق' : 'Amaq') : network === 'is-official' ? (language === 'ar' ? 'ناشر' : 'Nashir') : pick(rng, names);
  return language === 'ar' ? base : `${base} ${language.toUpperCase()}`;
}

/**
 * The cast of the replay, fixed by the seed (independent of the window): the 2015 cohort with
 * the 78 channels banned on 2015-11-18 and their successors, the official radio, background
 * channels created over 2016-2019 (their number scales), the 2019 Nashir mirrors knocked out
 * by the Europol action day, Telegram's ban-reporting channel, and the channels on TamTam and
 * Rocket.Chat that supporters moved to.
 */
export function buildWorld(seed: number, scale: number): World {
  const rng = mulberry32(mix(seed, 0x5eed));
  const channels: ReplayChannel[] = [];
  let serial = 0;
  const make = (r: Random, c: ChannelSpec) => makeChannel(r, ++serial, c);
  const launch = FACTS.channelsLaunch;
  const t = FACTS.takedown2015;

  // The two flagships, with the documented subscriber curves.
  const nashir = make(rng, {
    handle: 'nashir', title: 'ناشر', language: 'ar', network: 'is-official', createdMs: launch + 2 * HOUR, postsPerDay: 22,
    bannedMs: t.start + 75 * 60_000,
    subscriberKnots: [[launch + 2 * HOUR, 0], [Date.parse('2015-09-30T00:00:00Z'), 2_100], [FACTS.growth.from, FACTS.growth.fromSubscribers],
      [FACTS.growth.to, FACTS.growth.toSubscribers], [t.start, t.flagshipSubscribers]],
  });
  const amaq = make(rng, {
    handle: 'amaq_agency', title: 'وكالة أعماق', language: 'ar', network: 'amaq', createdMs: launch + 9 * HOUR, postsPerDay: 18,
    bannedMs: t.start + 80 * 60_000,
    subscriberKnots: [[launch + 9 * HOUR, 0], [Date.parse('2015-10-20T00:00:00Z'), 9_000], [t.start, t.flagshipSubscribers - 150]],
  });
  channels.push(nashir, amaq);

  // The rest of the 78: per language, official and Amaq editions first, then supporters.
  const cohort: ReplayChannel[] = [nashir, amaq];
  for (const [language, total] of Object.entries(TAKEDOWN_2015_LANGUAGES)) {
    const need = total - (language === 'ar' ? 2 : 0);
    for (let i = 0; i < need; i++) {
      const network: Network = i === 0 ? 'is-official' : i === 1 ? 'amaq' : 'supporters';
      const createdMs = launch + between(rng, 0, 50) * DAY;
      const title = titleFor(rng, language, network);
      const c = make(rng, {
        handle: `${network === 'supporters' ? 'ansar' : network === 'amaq' ? 'amaq' : 'nashir'}_${language}_${i}`,
        title, language, network, createdMs,
        postsPerDay: network === 'supporters' ? between(rng, 3, 10) : between(rng, 14, 20),
        bannedMs: t.start + between(rng, 0, (t.end - t.start) / 60_000) * 60_000,
      });
      channels.push(c);
      cohort.push(c);
    }
  }

  // Survivors of 2015: the radio (never banned; it ends the 2017 silence) and some supporters.
  const radio = make(rng, { handle: 'albayan_radio', title: 'إذاعة البيان', language: 'ar', network: 'is-official', createdMs: launch + 30 * HOUR, postsPerDay: 14 });
  channels.push(radio);
  for (let i = 0; i < 20; i++) {
    const language = pick(rng, [...LANGUAGES, ...MORE_LANGUAGES]);
    channels.push(make(rng, {
      handle: `supporters_${language}_${i}`, title: titleFor(rng, language, 'supporters'), language, network: 'supporters',
      createdMs: launch + between(rng, 1, 55) * DAY, postsPerDay: between(rng, 2, 8),
    }));
  }

  // Successors within hours: every official and Amaq edition, and a third of the supporters.
  for (const banned of cohort) {
    if (banned.network === 'supporters' && rng() > 0.33) continue;
    const isNashir = banned === nashir;
    const createdMs = isNashir ? FACTS.nashirSuccessor.created : banned.bannedMs! + between(rng, 1, 9) * HOUR;
    channels.push(make(rng, {
      handle: `${banned.handle}_2`, title: banned.title, language: banned.language, network: banned.network, createdMs,
      postsPerDay: banned.postsPerDay, successorOf: banned.id, migrates: isNashir,
      ...(isNashir
        ? { subscriberKnots: [[createdMs, 0], [createdMs + 25 * 60_000, FACTS.nashirSuccessor.subscribersAt25Min], [createdMs + 2 * DAY, 9_000], [createdMs + 60 * DAY, 21_000]] as [number, number][] }
        : {}),
      // The main successors survive until the 2019 action day.
      ...(banned.network !== 'supporters' ? { bannedMs: FACTS.europol2019.bansStart + between(rng, 0, 60) * HOUR } : {}),
    }));
  }

  // Background channels, created 2016-2019; some banned along the way.
  const background = Math.round(60 * scale);
  const bgStart = Date.parse('2016-01-01T00:00:00Z');
  const bgEnd = Date.parse('2019-10-01T00:00:00Z');
  for (let i = 0; i < background; i++) {
    const language = pick(rng, [...LANGUAGES, ...LANGUAGES, ...MORE_LANGUAGES]);
    const network: Network = rng() < 0.15 ? 'amaq' : 'supporters';
    const createdMs = between(rng, bgStart, bgEnd);
    const banned = rng() < 0.35 ? createdMs + between(rng, 20, 400) * DAY : undefined;
    channels.push(make(rng, {
      handle: `${network === 'amaq' ? 'amaq' : 'ansar'}_bg_${language}_${i}`, title: titleFor(rng, language, network), language, network, createdMs,
      postsPerDay: between(rng, 4, 16), migrates: rng() < 0.3,
      ...(banned !== undefined && banned < FACTS.end ? { bannedMs: banned } : {}),
    }));
  }

  // 2019 Nashir mirrors: many small channels, all knocked out within three days.
  const e = FACTS.europol2019;
  for (let i = 0; i < e.nashirChannels; i++) {
    const language = i % 5 === 0 ? pick(rng, LANGUAGES) : 'ar';
    channels.push(make(rng, {
      handle: `nashir_m${i}`, title: language === 'ar' ? `ناشر ${i}` : `Nashir ${language.toUpperCase()} ${i}`, language, network: 'is-official',
      createdMs: between(rng, Date.parse('2019-09-01T00:00:00Z'), Date.parse('2019-11-15T00:00:00Z')), postsPerDay: between(rng, 1, 3),
      bannedMs: between(rng, e.bansStart, e.bansEnd), migrates: true,
    }));
  }

  // Telegram's own ban-reporting channel: it only reports counts.
  channels.push(make(rng, {
    id: 'isiswatch', handle: 'isiswatch', title: 'ISIS Watch', language: 'en', network: 'platform', createdMs: FACTS.bansReported.first - HOUR, postsPerDay: 0,
    subscriberKnots: [[FACTS.bansReported.first, 0]],
  }));

  // Where they went: Nashir and supporters on TamTam, a Rocket.Chat server.
  const cross: [string, string, string, string, number][] = [
    ['tamtam', 'nashir_tt', 'ناشر', 'ar', Date.parse('2019-11-23T04:12:00Z')],
    ['tamtam', 'ansar_tt', 'Ansar', 'en', Date.parse('2019-11-23T11:40:00Z')],
    ['rocketchat', 'news', 'ناشر', 'ar', Date.parse('2019-11-24T09:05:00Z')],
  ];
  for (const [platform, handle, title, language, createdMs] of cross) {
    channels.push(make(rng, { platform, handle, title, language, network: handle.startsWith('nashir') || platform === 'rocketchat' ? 'is-official' : 'supporters', createdMs, postsPerDay: 30 }));
  }
  return { channels };
}

/** Subscribers at a time, from the knots; flat after the last one. */
export function subscribersAt(c: ReplayChannel, ms: number): number {
  const k = c.subscriberKnots;
  if (ms <= k[0]![0]) return k[0]![1];
  for (let i = 1; i < k.length; i++) {
    const [t1, s1] = k[i]!;
    if (ms <= t1) {
      const [t0, s0] = k[i - 1]!;
      return Math.round(s0 + ((s1 - s0) * (ms - t0)) / Math.max(1, t1 - t0));
    }
  }
  return k[k.length - 1]![1];
}

/**
 * The watch list an analyst of the replay would keep: its official Telegram channels (the 2015
 * cohort, the radio, their successors and the 2019 mirrors), so the demo's status panel shows
 * the statuses and their changes as the timeline plays.
 */
export function officialWatchList(world: World): WatchList {
  return watchListSchema.parse(
    world.channels
      .filter((c) => c.network === 'is-official' && c.platform === 'telegram')
      .map((c) => ({ handle: c.handle, network: c.network, language: c.language })),
  );
}

/**
 * The documented timeline (../shared/timeline.md) as constants: the generator injects these and
 * the tests check for them. Everything else in the replay is seeded background.
 */
const utc = (s: string) => Date.parse(s);

export const FACTS = {
  channelsLaunch: utc('2015-09-22T00:00:00Z'),
  /** A main IS channel grows from 4,000 to 8,500 subscribers in under a week. */
  growth: { from: utc('2015-10-05T00:00:00Z'), fromSubscribers: 4_000, to: utc('2015-10-10T12:00:00Z'), toSubscribers: 8_500 },
  /** 78 channels in 12 languages banned on the evening of 2015-11-18; Nashir and Amaq ~16,000 subscribers. */
  takedown2015: { start: utc('2015-11-18T17:30:00Z'), end: utc('2015-11-18T22:30:00Z'), channels: 78, languages: 12, flagshipSubscribers: 16_000 },
  /** The new official Nashir channel: created hours after the ban, 1,000 subscribers within 30 minutes. */
  nashirSuccessor: { created: utc('2015-11-19T01:47:00Z'), subscribersAt25Min: 1_040 },
  /** Official network silence; output resumes with a 4-minute Arabic radio bulletin. */
  silence2017: { start: utc('2017-11-22T09:00:00Z'), end: utc('2017-11-23T10:01:00Z') },
  /** The short burst one report describes inside the silence (replay option, off by default). */
  silenceBurst: { start: utc('2017-11-22T15:00:00Z'), end: utc('2017-11-22T15:30:00Z') },
  /** Telegram's ban-reporting channel: 3,276 in one day against a normal 200-300. */
  bansReported: { first: utc('2016-12-05T00:00:00Z'), spikeDay: utc('2018-12-06T00:00:00Z'), spikeCount: 3_276, normalMin: 200, normalMax: 300 },
  /** Nashir starts linking groups on other chat applications. */
  migrationStart: utc('2018-12-14T00:00:00Z'),
  /** Europol action day: 2,096 then 2,959 bans a day; >250 Nashir channels knocked out in three days. */
  europol2019: {
    days: [utc('2019-11-22T00:00:00Z'), utc('2019-11-23T00:00:00Z')],
    counts: [2_096, 2_959],
    bansStart: utc('2019-11-21T06:00:00Z'),
    bansEnd: utc('2019-11-23T22:00:00Z'),
    nashirChannels: 262,
    /** Organic Telegram posts in the 30 days after fell 95.5% against the 30 days before. */
    postsFactorAfter: 0.045,
  },
  tamtamClaim: utc('2019-11-30T08:12:00Z'),
  end: utc('2020-01-01T00:00:00Z'),
} as const;

/** The 12 languages of the 2015 takedown and how many of the 78 channels each had. */
export const TAKEDOWN_2015_LANGUAGES: Record<string, number> = {
  ar: 30, en: 10, fr: 6, ru: 6, de: 5, tr: 5, id: 4, ur: 3, fa: 3, bn: 2, es: 2, ug: 2,
};

/** Where supporters went in 2019, with the link forms the migration detector recognises. */
export const MIGRATION_LINKS: readonly ((n: number) => string)[] = [
  (n) => `https://tamtam.chat/nashir_${n}`,
  (n) => `https://tt.me/ansar_${n}`,
  (n) => `https://chat.alnashir-rc.org/channel/news${n}`,
  (n) => `https://open.rocket.chat/invite/${n.toString(36)}X9`,
  (n) => `https://hoop.photo/join/${n}`,
  (n) => `https://riot.im/app/#/room/#nashir${n}:matrix.org`,
  (n) => `https://matrix.to/#/#ansar${n}:matrix.org`,
  (n) => `https://threema.id/N${(n * 7919).toString(36).toUpperCase().padStart(7, 'X').slice(0, 7)}`,
  (n) => `xmpp:nashir${n}@conference.jabber.example.org?join`,
  (n) => `https://nandbox.com/join/${n.toString(36)}`,
];

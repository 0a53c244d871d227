/**
 * Writes the data files of the analytics tests: synthetic reconstructions of the documented
 * timeline (../../../../shared/timeline.md) plus edge cases. Deterministic (seeded), so the
 * files only change when this script does:  npx tsx pipeline/analytics/testdata/generate.ts
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildEvent, type ActivityEvent, type EventInput } from '../../events/index.ts';

const dir = fileURLToPath(new URL('.', import.meta.url));
const H = 3_600_000;
const D = 24 * H;
const MIN = 60_000;

function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Ch = EventInput['channel'];
const ev = (timestamp: number | string, action: EventInput['action'], channel: Ch, extra: Partial<EventInput> = {}): ActivityEvent =>
  buildEvent({ timestamp, action, channel, source: { type: 'test' }, ...extra });
const post = (t: number, channel: Ch, n: number, extra: Partial<EventInput> = {}): ActivityEvent =>
  ev(t, 'post', channel, { message: { id: String(n) }, ...extra });

function write(name: string, events: ActivityEvent[]): void {
  writeFileSync(`${dir}${name}`, events.map((e) => JSON.stringify(e)).join('\n') + (events.length ? '\n' : ''));
}
const byTime = (a: ActivityEvent, b: ActivityEvent): number => Date.parse(a['@timestamp']) - Date.parse(b['@timestamp']);

/** Posts at random times within the daily active hours [fromHour, toHour) UTC, `perDay` a day. */
function dailyPosts(random: () => number, channel: Ch, fromMs: number, toMs: number, perDay: number, fromHour: number, toHour: number, counter: { n: number }): ActivityEvent[] {
  const out: ActivityEvent[] = [];
  for (let day = fromMs; day < toMs; day += D) {
    for (let i = 0; i < perDay; i++) {
      const t = day + fromHour * H + Math.floor(random() * (toHour - fromHour) * 60) * MIN;
      if (t >= fromMs && t < toMs) out.push(post(t, channel, counter.n++));
    }
  }
  return out;
}

// 2017-11-22 09:00 -> 2017-11-23 10:01: the official network, more than a dozen posts a day each
// with a nightly lull (21:00-04:00 UTC), silent for ~25 h, resuming with a radio bulletin.
function silence2017(): ActivityEvent[] {
  const random = rng(2017);
  const network = 'is-official';
  const channels: Ch[] = [
    { id: '1001', handle: 'nashir_news', title: 'ناشر', language: 'ar', network },
    { id: '1002', handle: 'amaq_agency', title: 'أعماق', language: 'ar', network },
    { id: '1003', handle: 'bayan_radio', title: 'البيان', language: 'ar', network },
    { id: '1004', handle: 'furqan_media', title: 'الفرقان', language: 'ar', network },
  ];
  const start = Date.parse('2017-10-25T00:00:00Z');
  const silentFrom = Date.parse('2017-11-22T09:00:00Z');
  const silentTo = Date.parse('2017-11-23T10:01:00Z');
  const end = Date.parse('2017-11-25T00:00:00Z');
  const counter = { n: 1 };
  const events: ActivityEvent[] = [];
  for (const ch of channels) {
    events.push(...dailyPosts(random, ch, start, end, 14, 4, 21, counter).filter((e) => {
      const t = Date.parse(e['@timestamp']);
      return t < silentFrom || t > silentTo;
    }));
  }
  events.push(post(silentFrom, channels[0]!, counter.n++));
  events.push(post(silentTo, channels[2]!, counter.n++, { message: { id: 'bulletin', media: 'audio', length: 240 } }));
  return events.sort(byTime);
}

// 2015-11-18: 78 channels in 12 languages banned in the evening; Nashir and Amaq replaced within
// hours, the new Nashir passing 1,000 subscribers in under 30 minutes.
function takedown2015(): ActivityEvent[] {
  const random = rng(2015);
  const languages = ['ar', 'en', 'fr', 'de', 'ru', 'tr', 'fa', 'ur', 'id', 'bs', 'ku', 'es'];
  const launch = Date.parse('2015-09-22T12:00:00Z');
  const events: ActivityEvent[] = [];
  const channels: Ch[] = [
    { id: '2001', handle: 'nashir_news', title: 'ناشر', language: 'ar', network: 'is-official' },
    { id: '2002', handle: 'amaq_agency', title: 'أعماق', language: 'ar', network: 'is-official' },
  ];
  for (let i = 2; i < 78; i++) {
    const lang = languages[i % languages.length]!;
    channels.push({ id: String(2001 + i), handle: `outlet_${lang}_${i}`, language: lang, network: i % 3 === 0 ? 'is-official' : 'supporters' });
  }
  // The first 20 appear on launch day, the rest spread over the following eight weeks.
  channels.forEach((ch, i) => {
    const created = i < 20 ? launch + i * 7 * MIN : launch + D + Math.floor(random() * 55 * D);
    events.push(ev(created, 'channel_created', ch));
  });
  const nashir = channels[0]!;
  const amaq = channels[1]!;
  events.push(ev('2015-10-20T08:00:00Z', 'subscribers', nashir, { subscribers: 8_500 }));
  events.push(ev('2015-11-18T12:00:00Z', 'subscribers', nashir, { subscribers: 16_000 }));
  events.push(ev('2015-11-18T12:00:00Z', 'subscribers', amaq, { subscribers: 16_200 }));
  const evening = Date.parse('2015-11-18T18:00:00Z');
  channels.forEach((ch, i) => events.push(ev(evening + i * 3 * MIN, 'channel_banned', ch)));
  // Nashir was banned at 18:00; its successor appears at 22:10 and grows fast.
  const newNashir: Ch = { id: '3001', handle: 'nashir_news2', title: 'ناشر', language: 'ar', network: 'is-official' };
  const created = Date.parse('2015-11-18T22:10:00Z');
  events.push(ev(created, 'channel_created', newNashir));
  for (const [minutes, subscribers] of [[5, 120], [12, 430], [20, 810], [27, 1_050], [90, 3_200], [24 * 60, 9_000]] as const) {
    events.push(ev(created + minutes * MIN, 'subscribers', newNashir, { subscribers }));
  }
  // Amaq returns under an Arabic variant of its title (tatweel, kasra, Arabic-Indic digit).
  const newAmaq: Ch = { id: '3002', handle: 'a_backup_15', title: 'أعمـــاقِ ٢', language: 'ar', network: 'is-official' };
  events.push(ev('2015-11-19T01:45:00Z', 'channel_created', newAmaq));
  events.push(ev('2015-11-19T03:00:00Z', 'subscribers', newAmaq, { subscribers: 700 }));
  // Replacement channels in a burst, and one unrelated new channel that must not match.
  for (let i = 0; i < 9; i++) {
    events.push(ev(Date.parse('2015-11-19T00:00:00Z') + i * 5 * MIN, 'channel_created', { id: String(3100 + i), handle: `ansar_relay_${i}`, language: 'ar', network: 'supporters' }));
  }
  events.push(ev('2015-11-19T09:00:00Z', 'channel_created', { id: '3200', handle: 'sunrise_weather', language: 'en' }));
  return events.sort(byTime);
}

// Dec 2018: Nashir links to groups on other platforms; 2018-12-06 and 2019-11-22/23 the platform's
// ban tallies jump; Nov 2019 the migration surge; 2019-11-30 activity on TamTam itself.
function migration2018to2019(): ActivityEvent[] {
  const random = rng(2018);
  const events: ActivityEvent[] = [];
  const nashir: Ch = { id: '4001', handle: 'nashir_news', title: 'ناشر', language: 'ar', network: 'is-official' };
  const supporters: Ch = { id: '4002', handle: 'ansar_library', language: 'ar', network: 'supporters' };
  const reporter: Ch = { id: '4999', handle: 'isiswatch', title: 'ISIS Watch', language: 'en' };
  let n = 1;
  const linksDay = (day: number, mix: [string, number][]): void => {
    for (const [link, count] of mix) {
      for (let i = 0; i < count; i++) {
        const ch = random() < 0.7 ? nashir : supporters;
        events.push(post(day + 6 * H + Math.floor(random() * 14 * 60) * MIN, ch, n++, { links: [link.replace('{n}', String(n))] }));
      }
    }
  };
  const usual: [string, number][] = [['https://t.me/nashir_news/{n}', 16], ['https://archive.org/details/release-{n}', 3], ['https://justpaste.it/{n}', 1]];
  for (let day = Date.parse('2018-11-01T00:00:00Z'); day < Date.parse('2018-12-14T00:00:00Z'); day += D) linksDay(day, usual);
  for (let day = Date.parse('2018-12-14T00:00:00Z'); day < Date.parse('2019-01-01T00:00:00Z'); day += D) {
    linksDay(day, [...usual, ['https://tt.me/nashir{n}', 2], ['https://chat.ansar-srv.net/channel/nashir', 1], ['https://riot.im/app/#/room/#nashir{n}:matrix.org', 1]]);
  }
  for (let day = Date.parse('2019-11-01T00:00:00Z'); day < Date.parse('2019-11-22T00:00:00Z'); day += D) linksDay(day, [...usual, ['https://tt.me/nashir{n}', 1]]);
  for (let day = Date.parse('2019-11-22T00:00:00Z'); day < Date.parse('2019-11-25T00:00:00Z'); day += D) {
    linksDay(day, [['https://t.me/nashir_news/{n}', 8], ['https://tt.me/nashir{n}', 14], ['https://open.rocket.chat/channel/nashir{n}', 6], ['https://hoop.photo/nashir{n}', 3],
      ['https://riot.im/app/#/room/#n{n}:matrix.org', 3], ['https://threema.id/N{n}', 2], ['xmpp:nashir{n}@conference.jabber.ru?join', 2], ['https://nandbox.com/nashir{n}', 2]]);
  }
  // A post whose text (stored by an operator who turned storeText on) carries links of its own.
  events.push(post(Date.parse('2019-11-24T20:00:00Z'), supporters, n++, {
    message: { id: 'text-1', text: 'الرابط الجديد t.me/joinchat/AAAAAE1 و xmpp:ansar@jabber.example.net?join — mirror: https://example-mirror.org/a.' },
  }));
  events.push(post(Date.parse('2019-11-30T15:00:00Z'), { id: 'tt-77', handle: 'nashir_tt', language: 'ar', network: 'is-official' }, n++, { platform: 'tamtam' }));
  const tally = (from: string, to: string, special: Record<string, number>): void => {
    for (let day = Date.parse(from); day <= Date.parse(to); day += D) {
      const iso = new Date(day).toISOString().slice(0, 10);
      events.push(ev(day + 21 * H, 'bans_reported', reporter, { count: special[iso] ?? 200 + Math.floor(random() * 100) }));
    }
  };
  tally('2018-11-20T00:00:00Z', '2018-12-10T00:00:00Z', { '2018-12-06': 3_276 });
  tally('2019-11-01T00:00:00Z', '2019-11-28T00:00:00Z', { '2019-11-22': 2_096, '2019-11-23': 2_959 });
  return events.sort(byTime);
}

// Out of order, duplicated and late input: the same facts as the clean file. Two channels of one
// network post every half hour a few minutes apart; arrival is delayed by up to 4.5 minutes (within
// the allowed lateness), one post in ten arrives twice, and one arrives six hours late.
function ordering(): { clean: ActivityEvent[]; messy: ActivityEvent[] } {
  const random = rng(7);
  const channels: Ch[] = [{ id: '5001', handle: 'steady_a', network: 'steady' }, { id: '5002', handle: 'steady_b', network: 'steady' }];
  const clean: ActivityEvent[] = [];
  let n = 1;
  const start = Date.parse('2019-03-01T00:00:00Z');
  const silence = [start + 9 * D, start + 9 * D + 20 * H]; // a 20-hour silence on day 10
  for (let t = start; t < start + 12 * D; t += 30 * MIN) {
    if (t >= silence[0]! && t < silence[1]!) continue;
    for (const ch of channels) clean.push(post(t + Math.floor(random() * 4 * 60) * 1000, ch, n++));
  }
  clean.sort(byTime);
  const arrivals = clean.map((e) => ({ e, at: Date.parse(e['@timestamp']) + random() * 4.5 * MIN }));
  for (let i = 0; i < clean.length; i += 10) arrivals.push({ e: structuredClone(clean[i]!), at: arrivals[i]!.at + random() * 60 * MIN });
  const late = arrivals.find((a) => a.e['@timestamp'] >= '2019-03-04T12:00')!;
  late.at += 6 * H;
  arrivals.sort((a, b) => a.at - b.at);
  return { clean, messy: arrivals.map((a) => a.e) };
}

// DST and zones: a channel active 08:00-22:00 Berlin time across the 2019-03-31 switch, with
// timestamps written in local offsets; bans at 23:30 -02:00 belong to the next UTC day.
function zones(): ActivityEvent[] {
  const random = rng(31);
  const ch: Ch = { id: '6001', handle: 'berlin_hours', language: 'de', network: 'local' };
  const events: ActivityEvent[] = [];
  let n = 1;
  for (let day = Date.parse('2019-03-10T00:00:00Z'); day < Date.parse('2019-04-14T00:00:00Z'); day += D) {
    const offset = day >= Date.parse('2019-03-31T00:00:00Z') ? 2 : 1;
    for (let i = 0; i < 12; i++) {
      const local = 8 * 60 + Math.floor(random() * 14 * 60);
      const t = day + local * MIN - offset * H;
      const hh = String(Math.floor(local / 60)).padStart(2, '0');
      const mm = String(local % 60).padStart(2, '0');
      const iso = `${new Date(day).toISOString().slice(0, 10)}T${hh}:${mm}:00+0${offset}:00`;
      events.push(buildEvent({ timestamp: t, action: 'post', channel: ch, message: { id: String(n++) }, source: { type: 'test' } }));
      events[events.length - 1]!['@timestamp'] = iso;
    }
  }
  for (let i = 0; i < 10; i++) {
    const iso = `2019-04-10T23:${String(30 + i).padStart(2, '0')}:00-02:00`;
    const e = ev(iso, 'channel_banned', { id: String(6100 + i), handle: `far_west_${i}`, language: 'pt', network: 'far-west' });
    e['@timestamp'] = iso;
    events.push(e);
  }
  return events.sort(byTime);
}

write('timeline-2017-silence.jsonl', silence2017());
write('timeline-2015-takedown.jsonl', takedown2015());
write('timeline-2018-2019-migration.jsonl', migration2018to2019());
const o = ordering();
write('ordering-clean.jsonl', o.clean);
write('ordering-messy.jsonl', o.messy);
write('zones-dst.jsonl', zones());
write('empty.jsonl', []);
write('single.jsonl', [post(Date.parse('2016-02-29T12:00:00Z'), { id: '7001', handle: 'lonely' }, 1, { links: ['https://tt.me/lonely'] })]);

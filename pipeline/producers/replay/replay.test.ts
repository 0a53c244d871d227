import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ActivityEvent } from '../../events/index.ts';
import { FACTS } from './facts.ts';
import { replayEvents, type ReplayOptions } from './generate.ts';
import { openReplaySource, pacedReplay } from './source.ts';

const DAY = 86_400_000;
const at = (s: string) => Date.parse(s);
const ms = (e: ActivityEvent) => Date.parse(e['@timestamp']);
const window = (from: string, to: string, extra: ReplayOptions = {}) => [...replayEvents({ fromMs: at(from), toMs: at(to), ...extra })];
const official = (e: ActivityEvent) => e.channel.network === 'is-official' || e.channel.network === 'amaq';

test('same seed, same events; another seed, other events; a window is a slice of a larger one', () => {
  const a = window('2015-11-18T12:00:00Z', '2015-11-19T12:00:00Z', { seed: 7 });
  const b = window('2015-11-18T12:00:00Z', '2015-11-19T12:00:00Z', { seed: 7 });
  assert.ok(a.length > 500, `${a.length} events`);
  assert.deepEqual(a, b);
  const c = window('2015-11-18T12:00:00Z', '2015-11-19T12:00:00Z', { seed: 8 });
  assert.notDeepEqual(a.map((e) => e.event.id), c.map((e) => e.event.id));
  const wider = window('2015-11-18T00:00:00Z', '2015-11-20T00:00:00Z', { seed: 7 });
  assert.deepEqual(wider.filter((e) => ms(e) >= at('2015-11-18T12:00:00Z') && ms(e) < at('2015-11-19T12:00:00Z')), a);
  for (let i = 1; i < a.length; i++) assert.ok(ms(a[i - 1]!) <= ms(a[i]!), 'time order');
});

test('2015-09-22: channels appear; October: the main channel grows 4,000 -> 8,500 in under a week', () => {
  const events = window('2015-09-22T00:00:00Z', '2015-10-16T00:00:00Z');
  assert.ok(events.filter((e) => e.event.action === 'channel_created' && e['@timestamp'].startsWith('2015-09-22')).length >= 2);
  assert.ok(events.every((e) => ms(e) >= FACTS.channelsLaunch));
  const nashir = events.filter((e) => e.channel.handle === 'nashir' && e.event.action === 'subscribers');
  const subsAt = (iso: string) => nashir.find((e) => e['@timestamp'] === iso)?.subscribers;
  assert.equal(subsAt('2015-10-05T00:00:00.000Z'), 4_000);
  assert.ok(subsAt('2015-10-10T12:00:00.000Z')! >= 8_500);
});

test('2015-11-18 evening: 78 channels banned in 12 languages, Nashir and Amaq at ~16,000; successors within hours', () => {
  const events = window('2015-11-18T00:00:00Z', '2015-11-19T12:00:00Z');
  const bans = events.filter((e) => e.event.action === 'channel_banned' && e['@timestamp'].startsWith('2015-11-18'));
  assert.equal(bans.length, 78);
  assert.equal(new Set(bans.map((e) => e.channel.language)).size, 12);
  assert.ok(bans.every((e) => ms(e) >= at('2015-11-18T17:00:00Z')), 'in the evening');
  const nashir = bans.find((e) => e.channel.handle === 'nashir')!;
  const amaq = bans.find((e) => e.channel.handle === 'amaq_agency')!;
  assert.ok(Math.abs(nashir.subscribers! - 16_000) < 500 && Math.abs(amaq.subscribers! - 16_000) < 500);
  const successor = events.find((e) => e.event.action === 'channel_created' && e.labels?.includes(`successor-of:${nashir.channel.id}`))!;
  assert.equal(successor.channel.title, nashir.channel.title);
  const delay = ms(successor) - ms(nashir);
  assert.ok(delay > 0 && delay < 12 * 3_600_000, `successor after ${delay / 60_000} min`);
  const first1000 = events.find((e) => e.channel.id === successor.channel.id && e.event.action === 'subscribers' && e.subscribers! >= 1_000)!;
  assert.ok(ms(first1000) - ms(successor) < 30 * 60_000);
});

test('2017-11-22 09:00 -> 2017-11-23 10:01: the official networks are silent, then a radio bulletin; never silent 24 h before', () => {
  const events = window('2017-09-01T00:00:00Z', '2017-11-24T00:00:00Z');
  const posts = events.filter((e) => e.event.action === 'post' && official(e));
  assert.equal(posts.filter((e) => ms(e) >= FACTS.silence2017.start && ms(e) < FACTS.silence2017.end).length, 0);
  const resume = posts.find((e) => ms(e) >= FACTS.silence2017.end)!;
  assert.equal(resume['@timestamp'], '2017-11-23T10:01:00.000Z');
  assert.deepEqual([resume.channel.language, resume.message?.media, resume.labels], ['ar', 'audio', ['radio-bulletin']]);
  const before = posts.filter((e) => ms(e) < FACTS.silence2017.start);
  let maxGap = 0;
  for (let i = 1; i < before.length; i++) maxGap = Math.max(maxGap, ms(before[i]!) - ms(before[i - 1]!));
  assert.ok(maxGap < DAY / 4, `largest earlier gap ${maxGap / 3_600_000} h`);
  const perDay = new Map<string, number>();
  for (const e of before) perDay.set(e['@timestamp'].slice(0, 10), (perDay.get(e['@timestamp'].slice(0, 10)) ?? 0) + 1);
  assert.ok([...perDay.values()].every((n) => n > 12), 'more than a dozen official posts every day');
  const burst = window('2017-11-22T00:00:00Z', '2017-11-23T00:00:00Z', { silenceBurst: true }).filter((e) => e.event.action === 'post' && official(e) && ms(e) >= FACTS.silence2017.start);
  assert.ok(burst.length > 0 && burst.every((e) => ms(e) >= FACTS.silenceBurst.start && ms(e) < FACTS.silenceBurst.end));
});

test('platform-reported bans: 3,276 on 2018-12-06 against 200-300 normally; 2,096 and 2,959 at the 2019 action day', () => {
  const counts = (from: string, to: string) => window(from, to).filter((e) => e.event.action === 'bans_reported').map((e) => [e['@timestamp'].slice(0, 10), e.count]);
  const dec = counts('2018-12-04T00:00:00Z', '2018-12-09T00:00:00Z');
  assert.deepEqual(dec.map(([d]) => d), ['2018-12-04', '2018-12-05', '2018-12-06', '2018-12-07', '2018-12-08']);
  assert.equal(dec[2]![1], 3_276);
  for (const i of [0, 1, 3, 4]) assert.ok((dec[i]![1] as number) >= 200 && (dec[i]![1] as number) <= 300);
  assert.deepEqual(counts('2019-11-22T00:00:00Z', '2019-11-24T00:00:00Z'), [['2019-11-22', 2_096], ['2019-11-23', 2_959]]);
});

test('migration: Nashir links other platforms from 2018-12-14 on, not before', () => {
  const events = window('2018-11-14T00:00:00Z', '2019-01-14T00:00:00Z');
  const nashirLinks = (e: ActivityEvent) => e.channel.handle === 'nashir_2' && (e.links ?? []).some((l) => /tamtam|tt\.me|rocket|riot|matrix|threema|xmpp:|nandbox|hoop/.test(l));
  assert.equal(events.filter((e) => nashirLinks(e) && ms(e) < FACTS.migrationStart).length, 0);
  assert.ok(events.filter((e) => nashirLinks(e) && ms(e) >= FACTS.migrationStart).length > 0);
});

test('Europol action day: >250 Nashir channels out in three days, outlinks to seven platforms, Nashir on TamTam', () => {
  const events = window('2019-11-20T00:00:00Z', '2019-12-01T00:00:00Z');
  const bans = events.filter((e) => e.event.action === 'channel_banned' && e.channel.network === 'is-official' && ms(e) < at('2019-11-24T00:00:00Z'));
  assert.ok(bans.filter((e) => e.channel.handle?.startsWith('nashir')).length > 250);
  const links = events.filter((e) => ms(e) >= at('2019-11-21T00:00:00Z')).flatMap((e) => e.links ?? []);
  for (const platform of [/tamtam\.chat|tt\.me/, /rocket\.chat|-rc\.org/, /hoop/, /riot\.im|matrix\.to/, /threema\.id/, /^xmpp:/, /nandbox/]) {
    assert.ok(links.some((l) => platform.test(l)), `no link matching ${platform}`);
  }
  const claim = events.find((e) => e.platform === 'tamtam' && e.labels?.includes('claim'))!;
  assert.equal(claim['@timestamp'].slice(0, 10), '2019-11-30');
  assert.ok(events.some((e) => e.platform === 'tamtam' && e.event.action === 'channel_created'));
  const before = events.filter((e) => e.platform === 'telegram' && e.event.action === 'post' && ms(e) < at('2019-11-21T00:00:00Z')).length;
  const after = events.filter((e) => e.platform === 'telegram' && e.event.action === 'post' && ms(e) >= at('2019-11-25T00:00:00Z') && ms(e) < at('2019-11-26T00:00:00Z')).length;
  assert.ok(after < before / 10, `posts/day before ${before} after ${after}`);
});

test('daily rhythm: nights are quiet', () => {
  const posts = window('2016-03-01T00:00:00Z', '2016-03-15T00:00:00Z').filter((e) => e.event.action === 'post');
  const inHours = (h: number[]) => posts.filter((e) => h.includes(new Date(ms(e)).getUTCHours())).length;
  assert.ok(inHours([0, 1, 2]) * 3 < inHours([8, 9, 10]));
});

test('compressed real time: --speed 3600 plays one simulated hour per (injected) second', async () => {
  let now = 0;
  const clock = { now: () => now, sleep: async (ms: number) => void (now += ms) };
  const opts = { fromMs: at('2016-03-01T00:00:00Z'), toMs: at('2016-03-01T06:00:00Z'), speed: 3600, clock };
  const seen: [number, number][] = [];
  for await (const e of pacedReplay(opts)) seen.push([ms(e), now]);
  assert.ok(seen.length > 10);
  for (const [sim, wall] of seen) assert.ok(wall >= (sim - opts.fromMs) / 3600 - 1 && wall <= (sim - opts.fromMs) / 3600 + 1);
  const source = openReplaySource({ fromMs: opts.fromMs, toMs: opts.toMs });
  let n = 0;
  for await (const item of source.items()) if (item.kind === 'event') n++;
  assert.equal(n, seen.length);
  assert.equal(source.stats?.().produced, n);
});

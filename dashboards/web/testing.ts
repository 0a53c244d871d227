import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GapFinding, ResurrectionFinding, TakedownFinding } from '../../pipeline/analytics/types.ts';
import { buildEvent, type ActivityEvent } from '../../pipeline/events/index.ts';
import { DuckDbStore } from '../../pipeline/store/duckdb/store.ts';

/** A hostile channel title: must show as text wherever the dashboard or the report shows it. */
export const XSS_TITLE = '<img src=x onerror=alert(1)>';

/** A takedown wave of 14 channels, one named by a hostile string (an id from an untrusted source). */
export const WAVE: TakedownFinding = {
  type: 'takedown', id: 'takedown:2017-11-22', day: '2017-11-22', channels: 14, languages: 2, networks: ['amaq', 'is-official'],
  subjects: ['1001', '1002', XSS_TITLE, 'amaq_agency', 'nashir', ...Array.from({ length: 9 }, (_, i) => `outlet_0${i + 1}`)].sort(),
  reported: null,
  wave: true,
};

/**
 * A small embedded store for the dashboard's tests: two networks posting hourly over three days,
 * one channel with an Arabic title, one with a hostile title, a network-wide gap and a takedown wave.
 */
export async function sampleStore(): Promise<{ store: DuckDbStore; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'tidewatch-web-'));
  const store = await DuckDbStore.open(dir);
  const channels = [
    { id: '1', handle: 'nashir', title: 'ناشر', language: 'ar', network: 'is-official' },
    { id: '2', handle: 'amaq_agency', title: 'وكالة أعماق', language: 'ar', network: 'amaq' },
    { id: '3', handle: 'probe', title: XSS_TITLE, language: 'en', network: 'supporters' },
  ];
  const events: ActivityEvent[] = [];
  const start = Date.parse('2017-11-21T00:00:00Z');
  for (let h = 0; h < 72; h++) {
    const at = start + h * 3_600_000;
    // The silence: nothing from 2017-11-22 09:00 to 2017-11-23 10:00 from the official networks.
    const silent = at >= Date.parse('2017-11-22T09:00:00Z') && at < Date.parse('2017-11-23T10:00:00Z');
    for (const channel of channels) {
      if (silent && channel.network !== 'supporters') continue;
      events.push(buildEvent({ timestamp: at, action: 'post', channel, message: { id: String(h), media: 'text' }, links: h % 6 === 0 ? [`https://tamtam.chat/${channel.handle}`] : [], source: { type: 'test' } }));
    }
  }
  await store.writeEvents(events);
  const gap: GapFinding = {
    type: 'gap', id: 'network:is-official:2017-11-22T08:00:00.000Z', scope: 'network', subject: 'is-official',
    start: '2017-11-22T08:00:00.000Z', end: '2017-11-23T10:00:00.000Z', hours: 26, baselineHours: 6, unprecedented: true, previousLongestHours: 3,
  };
  // A ban day under the wave thresholds: a finding (analysts count every day), not a wave on the dashboard.
  const banDay: TakedownFinding = {
    type: 'takedown', id: 'takedown:2017-11-21', day: '2017-11-21', channels: 2, languages: 1, networks: ['is-official'],
    subjects: ['1001', '1002'], reported: null, wave: false,
  };
  // Successors with long handles, every column filled: the table must still fit its card.
  const resurrections: ResurrectionFinding[] = [1, 2, 3].map((i) => ({
    type: 'resurrection', id: `resurrection:${i}`, banned: `nashir_news_official_channel_${i}`, successor: `nashir_news_official_channel_${i}_backup_new`,
    bannedAt: '2017-11-22T08:00:00.000Z', createdAt: `2017-11-22T1${i}:30:00.000Z`, delayMinutes: 90 + 60 * i, minutesTo1000: 1_234 * i, regainedShare: 0.25 * i,
  }));
  await store.writeFindings([gap, WAVE, banDay, ...resurrections]);
  return { store, dir };
}

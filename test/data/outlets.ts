import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Three channels of one network as Telegram Desktop writes them: one export per channel, each in
 * order by itself. Hourly posts 05:00-22:59 UTC over 21 days from 1 Sep 2017; all three quiet
 * from 12 Sep 08:00 to 13 Sep 10:00 (the one network silence), and each quiet alone for a day and
 * a half while the others post (channel silences, never a network one). Used by the tests that
 * read them in every order: `analyze`, imports one after another, re-analysis.
 */
export const H = 3_600_000;
const DAY = 24 * H;
const START = Date.UTC(2017, 8, 1);
const DAYS = 21;
// Every channel quiet from 12 Sep 2017 08:00 to 13 Sep 10:00: the one network silence.
export const ALL_SILENT = [Date.UTC(2017, 8, 12, 8), Date.UTC(2017, 8, 13, 10)] as const;
// One channel at a time quiet for a day while the others post: never a network silence.
const ONE_SILENT: Record<string, readonly [number, number]> = {
  outlet1: [Date.UTC(2017, 8, 9, 6), Date.UTC(2017, 8, 10, 18)],
  outlet2: [Date.UTC(2017, 8, 16, 6), Date.UTC(2017, 8, 17, 18)],
  outlet3: [Date.UTC(2017, 8, 18, 6), Date.UTC(2017, 8, 19, 18)],
};
export const CHANNELS = [
  { name: 'outlet1', id: 1_500_000_001, minute: 5 },
  { name: 'outlet2', id: 1_500_000_002, minute: 25 },
  { name: 'outlet3', id: 1_500_000_003, minute: 45 },
];

export interface Message { id: number; unix: number }

/** Hourly posts 05:00-22:59 UTC, except in the silences. */
export function messagesOf(ch: (typeof CHANNELS)[number]): Message[] {
  const out: Message[] = [];
  const quiet = [ALL_SILENT, ONE_SILENT[ch.name]!];
  for (let t = START; t < START + DAYS * DAY; t += H) {
    const at = t + ch.minute * 60_000;
    const hour = new Date(at).getUTCHours();
    if (hour < 5 || hour > 22 || quiet.some(([a, b]) => at >= a && at < b)) continue;
    out.push({ id: out.length + 1, unix: at / 1000 });
  }
  return out;
}

/** A Telegram Desktop channel export (result.json), messages in the order given. */
export function exportJson(ch: (typeof CHANNELS)[number], messages: readonly Message[]): string {
  return JSON.stringify({
    name: ch.name, type: 'public_channel', id: ch.id,
    messages: messages.map((m) => ({
      id: m.id, type: 'message', date: new Date(m.unix * 1000).toISOString().slice(0, 19), date_unixtime: String(m.unix),
      from: ch.name, from_id: `channel${ch.id}`, text: `bulletin ${m.id}`, text_entities: [],
    })),
  }, null, 1);
}


/** The three exports in `dir`, messages in the order `order` gives (default: in order). */
export async function writeOutletExports(dir: string, order: (ms: Message[]) => Message[] = (ms) => ms): Promise<string[]> {
  const files: string[] = [];
  for (const ch of CHANNELS) {
    const file = join(dir, `${ch.name}.json`);
    await writeFile(file, exportJson(ch, order(messagesOf(ch))));
    files.push(file);
  }
  return files;
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openSource } from '../index.ts';
import { drain, fixture, options } from '../testkit.ts';
import { LocalTimeConverter } from '../zone.ts';
import { userDateParser } from './date-formats.ts';

const SPREADSHEET = ['dd.MM.yyyy HH:mm', 'MM/dd/yyyy h:mm a'];
const times = (events: { '@timestamp': string }[]) => events.map((e) => e['@timestamp']);

test('spreadsheet dates: each --date-format pattern, ISO without seconds, a zoned ISO and epoch seconds', async () => {
  const source = openSource(fixture('dates.csv'), options({ dateFormats: SPREADSHEET }));
  const { events, rejected } = await drain(source);
  assert.deepEqual(times(events), [
    '2017-11-22T09:00:00.000Z', // dd.MM.yyyy HH:mm
    '2017-11-22T09:05:00.000Z', // MM/dd/yyyy h:mm a
    '2017-11-22T21:07:00.000Z', // ... PM
    '2017-11-22T09:10:00.000Z', // ISO 8601 without seconds, zone-less
    '2017-11-22T09:12:00.000Z', // ISO 8601 without seconds, in UTC
    '2017-11-22T09:13:00.000Z', // epoch seconds
  ]);
  assert.equal(rejected.length, 1);
  assert.equal(rejected[0]!.location, 'dates.csv:line 8');
  assert.equal(
    rejected[0]!.reason,
    'timestamp: "22/11/2017 09:20" matches none of the date formats tried (dd.MM.yyyy HH:mm; MM/dd/yyyy h:mm a; ISO 8601 (seconds optional); epoch seconds or ms); add yours with --date-format',
  );
  assert.match(source.stats!().warnings[0]!, /without a zone read in UTC/);
});

test('without --date-format only ISO 8601 (seconds optional) and epoch numbers are read', async () => {
  const { events, rejected } = await drain(openSource(fixture('dates.csv'), options()));
  assert.deepEqual(times(events), ['2017-11-22T09:10:00.000Z', '2017-11-22T09:12:00.000Z', '2017-11-22T09:13:00.000Z']);
  assert.deepEqual(rejected.map((r) => r.location), [2, 3, 4, 8].map((l) => `dates.csv:line ${l}`));
  assert.match(rejected[0]!.reason, /"22\.11\.2017 09:00" matches none of the date formats tried \(ISO 8601 \(seconds optional\); epoch seconds or ms\)/);
});

test('patterns are read in --timezone, across the DST edges', async () => {
  const { events } = await drain(openSource(fixture('dates.csv'), options({ dateFormats: SPREADSHEET, timezone: 'Europe/Berlin' })));
  assert.equal(events[0]!['@timestamp'], '2017-11-22T08:00:00.000Z'); // CET, UTC+1
  const read = userDateParser(['dd.MM.yyyy HH:mm'], new LocalTimeConverter('Europe/Berlin'));
  assert.equal(typeof read, 'function');
  const at = (s: string) => new Date((read as Exclude<typeof read, string>)(s)!.ms).toISOString();
  assert.equal(at('28.03.2021 01:59'), '2021-03-28T00:59:00.000Z'); // last minute of CET
  assert.equal(at('28.03.2021 03:00'), '2021-03-28T01:00:00.000Z'); // first minute of CEST
  // 02:30 does not exist that night: the clock jumped from 02:00 to 03:00, so it reads as 03:30 CEST.
  assert.equal(at('28.03.2021 02:30'), '2021-03-28T01:30:00.000Z');
  // 02:30 happened twice on 31 Oct: the later, standard-time one, as zone-less ISO times are read.
  assert.equal(at('31.10.2021 02:30'), '2021-10-31T01:30:00.000Z');
  assert.equal(at('15.07.2021 12:00'), '2021-07-15T10:00:00.000Z'); // CEST, UTC+2
});

test('a pattern with an offset token keeps the offset written in the date', () => {
  const read = userDateParser(['yyyy-MM-dd HH:mm xx'], new LocalTimeConverter('Asia/Tokyo')) as Exclude<ReturnType<typeof userDateParser>, string>;
  assert.deepEqual(read('2017-11-22 09:10 +0100'), { ms: Date.parse('2017-11-22T08:10:00Z'), local: false });
});

test('a pattern that cannot be used is refused before any record is read', async () => {
  const utc = new LocalTimeConverter('UTC');
  assert.match(userDateParser(['YYYY-MM-dd'], utc) as string, /^--date-format "YYYY-MM-dd": Y is the week-numbering year .* write yyyy/);
  assert.match(userDateParser(['dd.MM.yyyy', 'yyyy-MM-dd jj'], utc) as string, /^--date-format "yyyy-MM-dd jj":/);
  assert.match(userDateParser(['HH:mm'], utc) as string, /^--date-format "HH:mm": needs the year, the month and the day/);
  await assert.rejects(drain(openSource(fixture('dates.csv'), options({ dateFormats: ['YYYY'] }))), /dates\.csv: --date-format "YYYY"/);
});

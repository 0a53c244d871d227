import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDay, formatMinutes, formatRange, formatTime, isTimeZone, parseInstant } from './dates.ts';

test('times for people: minutes, the zone named, DST followed', () => {
  assert.equal(formatTime('2017-11-22T08:49:53.494Z', 'UTC'), '22 Nov 2017 08:49 UTC');
  assert.equal(formatTime(Date.parse('2017-11-22T08:49:53.494Z'), 'Europe/Berlin'), '22 Nov 2017 09:49 Europe/Berlin');
  // The night Berlin moved its clocks forward: 00:59 UTC is 01:59 CET, 01:00 UTC is 03:00 CEST.
  assert.equal(formatTime('2021-03-28T00:59:00Z', 'Europe/Berlin'), '28 Mar 2021 01:59 Europe/Berlin');
  assert.equal(formatTime('2021-03-28T01:00:00Z', 'Europe/Berlin'), '28 Mar 2021 03:00 Europe/Berlin');
  assert.equal(formatRange('2017-11-22T08:49:53.494Z', '2017-11-23T10:01:00.000Z', 'UTC'), '22 Nov 2017 08:49 to 23 Nov 2017 10:01 UTC');
});

test('days are UTC days, marked so when the team reads another zone', () => {
  assert.equal(formatDay('2015-11-18', 'UTC'), '18 Nov 2015');
  assert.equal(formatDay('2018-04-20T00:00:00.000Z', 'Asia/Tokyo'), '20 Apr 2018 (UTC day)');
});

test('durations in minutes, with hours and days once they help', () => {
  assert.equal(formatMinutes(25.4), '25 min');
  assert.equal(formatMinutes(528), '528 min (8 h 48 min)');
  assert.equal(formatMinutes(2890), '2,890 min (2 d 0 h 10 min)');
});

test('instants operators type: dates are midnight UTC, zone-less times UTC, zones kept', () => {
  assert.equal(parseInstant('2017-11-20'), Date.parse('2017-11-20T00:00:00Z'));
  assert.equal(parseInstant('2017-11-22T09:00'), Date.parse('2017-11-22T09:00:00Z'));
  assert.equal(parseInstant('2017-11-22 09:00'), Date.parse('2017-11-22T09:00:00Z'));
  assert.equal(parseInstant('2017-11-22T09:00:00+03:00'), Date.parse('2017-11-22T06:00:00Z'));
  assert.equal(parseInstant('22/11/2017'), undefined);
  assert.equal(parseInstant('2017-13-01'), undefined);
});

test('display zones are IANA names', () => {
  for (const z of ['UTC', 'Europe/Berlin', 'Asia/Baghdad', 'America/New_York']) assert.equal(isTimeZone(z), true, z);
  for (const z of ['Mars/Olympus', '+01:00', '']) assert.equal(isTimeZone(z), false, z);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detectFormat, openSource } from '../index.ts';
import { drain, fixture, options } from '../testkit.ts';

const mapping = { timestamp: 'ts', channel: 'chan', language: 'lang', subscribers: 'subs', message_id: 'msg' };

test('CSV activity through a column mapping: ban counts, posts with links, subscriber snapshots', async () => {
  assert.equal(await detectFormat(fixture('activity.csv')), 'csv');
  const source = openSource(fixture('activity.csv'), options({ mapping, timezone: 'Asia/Baghdad', network: 'is-official' }));
  const { events, rejected } = await drain(source);
  assert.deepEqual(events.map((e) => `${e['@timestamp']} ${e.event.action} ${e.channel.id}`), [
    '2018-12-06T23:59:00.000Z bans_reported telegram-isis-watch',
    '2018-12-14T07:00:00.000Z post nashir_news',
    '2018-12-14T10:00:00.000Z subscribers nashir_news',
  ]);
  assert.equal(events[0]!.count, 3276);
  assert.deepEqual(events[1]!.links, ['https://tamtam.chat/nashir', 'xmpp:nashir@jabber.example.org']);
  assert.deepEqual(events[1]!.message, { id: '77' });
  assert.deepEqual(events[1]!.channel, { id: 'nashir_news', language: 'ar', network: 'is-official' });
  assert.equal(events[2]!.subscribers, 4100);
  assert.equal(events[0]!.source.type, 'csv');
  assert.deepEqual(rejected.map((r) => r.location), ['activity.csv:line 5', 'activity.csv:line 6', 'activity.csv:line 7']);
  assert.match(rejected[0]!.reason, /^action: "shout" is not one of/);
  assert.equal(rejected[1]!.reason, 'chan: missing channel id');
  assert.match(rejected[2]!.reason, /different number of fields/);
  const stats = source.stats!();
  assert.deepEqual([stats.read, stats.produced, stats.rejected], [6, 3, 3]);
  assert.match(stats.warnings[0]!, /without a zone read in Asia\/Baghdad/);
});

test('activity JSON lines: other platforms, handles, text links; unknown mapping fields refused', async () => {
  assert.equal(await detectFormat(fixture('activity.jsonl')), 'activity-jsonl');
  const { events, rejected } = await drain(openSource(fixture('activity.jsonl'), options()));
  assert.deepEqual(events.map((e) => `${e['@timestamp']} ${e.platform} ${e.event.action} ${e.channel.handle ?? '-'}`), [
    '2019-11-22T12:00:00.000Z telegram bans_reported -',
    '2019-11-30T07:00:00.000Z tamtam post nashir',
  ]);
  assert.deepEqual(events[1]!.links, ['https://tt.me/nashir']);
  assert.deepEqual(events[1]!.message, { id: '9', length: 26 });
  assert.deepEqual(rejected, [{ kind: 'rejected', reason: 'line is not a JSON object', location: 'activity.jsonl:line 3' }]);
  await assert.rejects(drain(openSource(fixture('activity.jsonl'), options({ mapping: { chanel: 'x' } }))), /unknown mapping field\(s\) chanel/);
});

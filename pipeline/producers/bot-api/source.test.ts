import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventId } from '../../events/index.ts';
import { detectFormat, mapBotUpdate, openSource } from '../index.ts';
import { drain, fixture, options } from '../testkit.ts';

test('Bot API updates: channel posts, edits, forwards, access lost; other updates counted as ignored', async () => {
  assert.equal(await detectFormat(fixture('updates.jsonl')), 'bot-updates');
  const source = openSource(fixture('updates.jsonl'), options());
  const { events, rejected } = await drain(source);
  assert.deepEqual(events.map((e) => `${e['@timestamp']} ${e.event.action} ${e.channel.id} ${e.message?.id ?? '-'}`), [
    '2018-12-06T00:00:00.000Z post 1062301884 501',
    '2018-12-06T00:05:00.000Z edit 1062301884 501',
    '2018-12-06T01:00:00.000Z post 1062301884 502',
    '2018-12-06T01:33:20.000Z access_lost 1062301884 -',
  ]);
  assert.equal(events[0]!.event.id, eventId({ platform: 'telegram', channelId: '1062301884', action: 'post', messageId: '501', timestamp: 1544054400000 }));
  assert.deepEqual(events[0]!.channel, { id: '1062301884', handle: 'nashir_news', title: 'ناشر' });
  assert.deepEqual(events[0]!.links, ['https://tamtam.chat/nashir_news', 'https://app.element.io/#/room/#x:matrix.org']);
  assert.deepEqual(events[2]!.message, { id: '502', media: 'photo', length: 2, forwarded_from: 'Amaq Agency' });
  assert.deepEqual(events[3]!.labels, ['bot-kicked']);
  assert.deepEqual(rejected.map((r) => [r.location, r.reason]), [
    ['updates.jsonl:line 6 (update 900006)', 'message has no numeric "date"'],
    ['updates.jsonl:line 7', 'not valid JSON: Unexpected token \'o\', "not json" is not valid JSON'],
  ]);
  assert.deepEqual(source.stats?.(), { read: 7, produced: 4, rejected: 2, ignored: 1, ignoredByKind: { message: 1 }, warnings: [] });
});

test('mapBotUpdate: a bot promoted (not losing access) is ignored, not an event', () => {
  const r = mapBotUpdate(
    { update_id: 1, my_chat_member: { chat: { id: -1001 }, date: 1544060000, old_chat_member: { status: 'member' }, new_chat_member: { status: 'administrator' } } },
    options(),
    'test',
  );
  assert.deepEqual(r, { items: [], ignored: 'my_chat_member:administrator' });
});

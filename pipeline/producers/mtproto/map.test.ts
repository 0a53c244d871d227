import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Api, errors, helpers } from 'telegram';
import { TidewatchError } from '../../errors.ts';
import { initialState, reduceObservation } from '../collector/lifecycle.ts';
import { chatNames, lifecycleOf, observationFromRpcError, observeChannel, postFromMessage } from './map.ts';

const id = (n: number) => helpers.returnBigInt(n);
const photo = new Api.Photo({ id: id(1), accessHash: id(2), fileReference: Buffer.alloc(0), date: 1, sizes: [], dcId: 2 });
const doc = (attributes: Api.TypeDocumentAttribute[]) =>
  new Api.MessageMediaDocument({ document: new Api.Document({ id: id(3), accessHash: id(4), fileReference: Buffer.alloc(0), date: 1, mimeType: 'x/y', size: id(10), dcId: 2, attributes }) });

const channel = (over: Partial<ConstructorParameters<typeof Api.Channel>[0]> = {}) =>
  new Api.Channel({ id: id(1_001_234), accessHash: id(99), title: 'Nashir News', username: 'nashir_news', photo: new Api.ChatPhotoEmpty(), date: 1_500_000_000, broadcast: true, participantsCount: 12_345, ...over });

const message = (msgId: number, over: Partial<ConstructorParameters<typeof Api.Message>[0]> = {}) =>
  new Api.Message({ id: msgId, peerId: new Api.PeerChannel({ channelId: id(1_001_234) }), date: 1_717_315_200 + msgId, message: '', ...over });

test('messages map to posts: time, media kinds, links from entities (UTF-16 offsets), forwards by username, views', () => {
  const text = 'بيان 👉 https://tamtam.chat/x?a=1&b=2 and more';
  const start = text.indexOf('https');
  const names = chatNames([channel({ id: id(777), username: 'Amaq_Backup', title: 'Backup' })]);
  const post = postFromMessage(
    message(42, {
      message: text,
      views: 1200,
      entities: [
        new Api.MessageEntityUrl({ offset: start, length: 'https://tamtam.chat/x?a=1&b=2'.length }),
        new Api.MessageEntityTextUrl({ offset: 0, length: 4, url: 'https://example.org/p' }),
        new Api.MessageEntityTextUrl({ offset: 0, length: 4, url: 'tg://resolve?domain=x' }),
      ],
      fwdFrom: new Api.MessageFwdHeader({ date: 1, fromId: new Api.PeerChannel({ channelId: id(777) }), channelPost: 5 }),
    }),
    names,
  );
  assert.deepEqual(post, {
    id: 42, at: '2024-06-02T08:00:42.000Z', media: 'text', length: text.length, text,
    links: ['https://tamtam.chat/x?a=1&b=2', 'https://example.org/p'], forwardedFrom: 'amaq_backup', views: 1200,
  });
  const kinds = [
    new Api.MessageMediaPhoto({ photo }),
    doc([new Api.DocumentAttributeVideo({ duration: 3, w: 1, h: 1 })]),
    doc([new Api.DocumentAttributeAudio({ duration: 3, voice: true })]),
    doc([new Api.DocumentAttributeAudio({ duration: 3 })]),
    doc([new Api.DocumentAttributeAnimated(), new Api.DocumentAttributeVideo({ duration: 1, w: 1, h: 1 })]),
    doc([new Api.DocumentAttributeSticker({ alt: '', stickerset: new Api.InputStickerSetEmpty() })]),
    doc([new Api.DocumentAttributeFilename({ fileName: 'a.pdf' })]),
    new Api.MessageMediaGeo({ geo: new Api.GeoPointEmpty() }),
  ].map((media) => postFromMessage(message(1, { media }))?.media);
  assert.deepEqual(kinds, ['photo', 'video', 'voice', 'audio', 'animation', 'sticker', 'document', 'other']);
  const unnamed = postFromMessage(message(2, { fwdFrom: new Api.MessageFwdHeader({ date: 1, fromId: new Api.PeerChannel({ channelId: id(5) }) }) }));
  assert.equal(unnamed?.forwardedFrom, 'channel:5');
  assert.equal(postFromMessage(new Api.MessageService({ id: 3, peerId: new Api.PeerChannel({ channelId: id(1) }), date: 1, action: new Api.MessageActionChannelCreate({ title: 'x' }) })), undefined);
});

test('a readable channel is visible with its id, title and participants; restrictions decide bans', () => {
  const obs = observeChannel(channel(), [message(7, { message: 'hi' }), message(8)]);
  assert.equal(obs.kind, 'visible');
  if (obs.kind === 'visible') {
    assert.equal(obs.platformId, '1001234');
    assert.equal(obs.subscribers, 12_345);
    assert.deepEqual(obs.posts.map((p) => p.id), [7, 8]);
  }
  assert.equal(lifecycleOf(channel()), undefined);
  const tos = new Api.RestrictionReason({ platform: 'all', reason: 'terms', text: 'This channel can’t be displayed because it violated Telegram\'s Terms of Service.' });
  assert.deepEqual(lifecycleOf(channel({ restricted: true, restrictionReason: [tos] })), {
    kind: 'banned', reason: "restricted on all platforms (terms): This channel can’t be displayed because it violated Telegram's Terms of Service.",
  });
  const storeOnly = new Api.RestrictionReason({ platform: 'ios', reason: 'porn', text: 'not on iOS' });
  assert.equal(lifecycleOf(channel({ restricted: true, restrictionReason: [storeOnly] })), undefined);
  assert.equal(lifecycleOf(new Api.ChannelForbidden({ id: id(1), accessHash: id(2), title: 'gone' }))?.kind, 'access_lost');
});

test('RPC errors: FLOOD_WAIT is retriable with its wait; the channel errors become lifecycle observations', () => {
  assert.throws(() => observationFromRpcError(new errors.FloodWaitError({ capture: 420 }), 'x'), (err: unknown) => {
    assert.ok(err instanceof TidewatchError);
    assert.equal(err.code, 'RATE_LIMITED');
    assert.equal(err.retriable, true);
    assert.equal(err.retryAfterMs, 420_000);
    return true;
  });
  const rpc = (m: string) => new errors.RPCError(m, new Api.contacts.ResolveUsername({ username: 'x' }), 400);
  assert.equal(observationFromRpcError(rpc('USERNAME_NOT_OCCUPIED'), 'x').kind, 'deleted');
  assert.equal(observationFromRpcError(rpc('USERNAME_INVALID'), 'x').kind, 'deleted');
  assert.equal(observationFromRpcError(rpc('CHANNEL_PRIVATE'), 'x').kind, 'access_lost');
  assert.equal(observationFromRpcError(rpc('CHANNEL_INVALID'), 'x').kind, 'unknown');
  assert.throws(() => observationFromRpcError(rpc('PEER_ID_INVALID'), 'x'), /MTProto @x: PEER_ID_INVALID \(400\)/);
  assert.throws(() => observationFromRpcError(new TypeError('bug'), 'x'), TypeError);
});

test('through the collector lifecycle: same events as the preview, and a handle now naming another id is a new channel', () => {
  const ctx = { nowMs: Date.parse('2024-06-03T00:00:00Z'), source: 'mtproto' as const, subscribersRefreshMs: 3_600_000 };
  const watch = { handle: 'nashir_news' };
  const first = reduceObservation(initialState('nashir_news'), watch, observeChannel(channel(), [message(7, { message: 'hi' })]), ctx);
  assert.deepEqual(first.events.map((e) => `${e.event.action} ${e.channel.id}`), ['post tg:nashir_news', 'channel_first_seen tg:nashir_news', 'subscribers tg:nashir_news']);
  assert.deepEqual(first.events[0]!.source, { type: 'mtproto', name: 'nashir_news' });

  const banned = reduceObservation(first.state, watch, lifecycleOf(channel({ restricted: true, restrictionReason: [new Api.RestrictionReason({ platform: 'all', reason: 'terms', text: 'ToS' })] }))!, ctx);
  assert.deepEqual(banned.events.map((e) => e.event.action), ['channel_banned']);

  const impostor = reduceObservation(first.state, watch, observeChannel(channel({ id: id(2_002_000), title: 'Nashir News (official)' }), [message(1, { message: 'new' })]), ctx);
  assert.deepEqual(impostor.events.map((e) => `${e.event.action} ${e.channel.id} ${e.message?.id ?? ''}`), [
    'channel_created tg:nashir_news~2 ', 'post tg:nashir_news~2 1', 'subscribers tg:nashir_news~2 ',
  ]);
  assert.equal(impostor.state.platformId, '2002000');

  const deleted = reduceObservation(first.state, watch, observationFromRpcError(new errors.RPCError('USERNAME_NOT_OCCUPIED', new Api.contacts.ResolveUsername({ username: 'x' }), 400), 'nashir_news'), ctx);
  assert.deepEqual(deleted.events.map((e) => e.event.action), ['channel_deleted']);
});

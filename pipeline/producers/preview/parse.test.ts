import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { TidewatchError } from '../../errors.ts';
import { counterStep, parseChannelPage, parseContactPage, parseCounter, parseEmbed } from './parse.ts';

const fixture = (name: string) => readFileSync(new URL(`./testdata/${name}`, import.meta.url), 'utf8');

test('counters in the forms the preview prints', () => {
  assert.equal(parseCounter('12.3K'), 12_300);
  assert.equal(parseCounter('1.2M'), 1_200_000);
  assert.equal(parseCounter('5 234'), 5_234);
  assert.equal(parseCounter('5\u00a0234'), 5_234);
  assert.equal(parseCounter('12\u202f345'), 12_345);
  assert.equal(parseCounter('987'), 987);
  assert.equal(parseCounter('3M'), 3_000_000);
  assert.equal(parseCounter('many'), undefined);
  assert.equal(parseCounter(''), undefined);
});

test('a normal page: posts in order with time, media, views and the older-page cursor', () => {
  const page = parseChannelPage(fixture('channel_first.html'), 'example_news');
  assert.equal(page.kind, 'posts');
  if (page.kind !== 'posts') return;
  assert.equal(page.title, 'Example News');
  assert.equal(page.subscribers, 12_300);
  assert.equal(page.before, 121);
  assert.deepEqual(page.posts.map((p) => [p.id, p.media, p.views]), [
    [121, 'text', 1200], [122, 'photo', 1200], [123, 'text', 1200], [124, 'video', 3_000_000], [125, 'text', 1200],
  ]);
  assert.deepEqual(page.posts[0], {
    id: 121, at: '2024-05-01T01:01:00.000Z', media: 'text', length: 'Post number 121\nsecond line'.length,
    text: 'Post number 121\nsecond line', links: [], forwardedFrom: undefined, views: 1200, stub: undefined, service: false,
  });
  assert.equal(page.posts[3]!.length, 0);
});

test('Arabic / RTL: title, spaced counter, forward source, service message, offsets normalised to UTC', () => {
  const page = parseChannelPage(fixture('arabic.html'), 'amaq_agency');
  assert.equal(page.kind, 'posts');
  if (page.kind !== 'posts') return;
  assert.equal(page.title, 'وكالة أعماق الإخبارية');
  assert.equal(page.subscribers, 5_234);
  assert.equal(page.posts[0]!.text, 'بيان عاجل\nالجزء الثاني');
  assert.equal(page.posts[0]!.at, '2024-06-02T05:15:00.000Z');
  assert.equal(page.posts[1]!.forwardedFrom, 'nashir_news');
  assert.deepEqual(page.posts[1]!.links, ['https://t.me/amaq_backup']);
  assert.equal(page.posts[2]!.service, true);
});

test('several links: entities decoded, duplicates and hashtag links dropped, link preview kept', () => {
  const page = parseChannelPage(fixture('links.html'), 'link_hub');
  assert.equal(page.kind, 'posts');
  if (page.kind !== 'posts') return;
  const [post] = page.posts;
  assert.deepEqual(post!.links, [
    'https://tamtam.chat/link_hub?utm=1&ref=tg',
    'https://example.org/a?x=1&y=2&z=%D8%A7',
    'https://t.me/link_hub_2',
    'https://rocket.chat/invite/abc?x=1&y=2',
  ]);
  assert.equal(post!.media, 'link');
  assert.equal(post!.views, 12);
});

test('ban stub texts are flagged, never taken as the post', () => {
  const page = parseChannelPage(fixture('stubbed.html'), 'stubbed_channel');
  assert.equal(page.kind, 'posts');
  if (page.kind === 'posts') assert.deepEqual(page.posts.map((p) => p.stub), ['terms of service', 'terms of service']);
});

test('"No posts found" is an empty page, not an error and not silence', () => {
  const page = parseChannelPage(fixture('no_posts.html'), 'quiet_channel');
  assert.equal(page.kind, 'empty');
});

test('a truncated page and a page of unknown shape are errors naming the handle and what is missing', () => {
  assert.throws(() => parseChannelPage(fixture('truncated.html'), 'cut_channel'), (err: unknown) => {
    assert.ok(err instanceof TidewatchError);
    assert.equal(err.code, 'INPUT_PARSE');
    assert.match(err.message, /@cut_channel.*post 2 has no a\.tgme_widget_message_date time\[datetime\]/);
    return true;
  });
  assert.throws(() => parseChannelPage(fixture('unknown_shape.html'), 'example'), /@example is not in a recognised shape: no div\.tgme_channel_info and no div\.tgme_widget_message\[data-post\]/);
});

test('how far a counter rounds: 12.3K to the hundred, 1M to the million, digits exactly', () => {
  assert.equal(counterStep('12.3K'), 100);
  assert.equal(counterStep('1.25M'), 10_000);
  assert.equal(counterStep('1M'), 1_000_000);
  assert.equal(counterStep('12\u00a0345'), 1);
  assert.equal(counterStep('987'), 1);
  assert.equal(counterStep('many'), undefined);
});

test('t.me/<handle>: missing handle vs existing channel without preview', () => {
  assert.deepEqual(parseContactPage(fixture('contact_missing.html'), 'no_such_handle'), { kind: 'missing' });
  assert.deepEqual(parseContactPage(fixture('contact_exists.html'), 'adult_channel'), { kind: 'exists', title: 'Adults Only', subscribers: 12_345, subscribersStep: 1 });
  assert.throws(() => parseContactPage(fixture('unknown_shape.html'), 'example'), /channel page of @example/);
});

test('post embed: terms-of-service ban (curly apostrophe), post not found', () => {
  assert.deepEqual(parseEmbed(fixture('embed_tos.html'), 'banned_channel'), {
    kind: 'banned', reason: "the post embed says the channel violated Telegram's Terms of Service",
  });
  assert.deepEqual(parseEmbed(fixture('embed_not_found.html'), 'banned_channel'), { kind: 'not_found' });
});

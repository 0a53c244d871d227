import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mergeWatchLists, parseWatchList, WatchListFile } from './watch-list.ts';

test('handles are normalised from the forms analysts paste; bad entries are named', () => {
  const list = parseWatchList(JSON.stringify(['@Nashir_News', 'https://t.me/s/amaq_agency', { handle: 't.me/Link_Hub/', language: 'ar', network: 'is', labels: ['core'] }]), 'test');
  assert.deepEqual(list, [{ handle: 'nashir_news' }, { handle: 'amaq_agency' }, { handle: 'link_hub', language: 'ar', network: 'is', labels: ['core'] }]);
  assert.throws(() => parseWatchList('["ok_handle", "no spaces"]', 'w.json'), /watch list w\.json is invalid:\n {2}- 1.handle: must be a Telegram username/);
  assert.throws(() => parseWatchList('[{"handle": "ok_handle", "lang": "ar"}]', 'w.json'), /watch list w\.json is invalid/);
  assert.deepEqual(mergeWatchLists([{ handle: 'a_one', language: 'en' }], [{ handle: 'a_one', language: 'ar' }, { handle: 'b_two' }]), [{ handle: 'a_one', language: 'ar' }, { handle: 'b_two' }]);
});

test('the file is re-read only when it changed, and a broken edit is reported without losing the list', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'tidewatch-watch-')), 'watch.json');
  writeFileSync(file, '["first_one"]');
  const watched = new WatchListFile(file);
  assert.deepEqual(watched.read(), [{ handle: 'first_one' }]);
  assert.equal(watched.readIfChanged(), undefined);
  writeFileSync(file, '["first_one", "second_one"]');
  assert.deepEqual(watched.readIfChanged(), [{ handle: 'first_one' }, { handle: 'second_one' }]);
  writeFileSync(file, '["first_one", ');
  assert.throws(() => watched.readIfChanged(), /not valid JSON/);
  assert.equal(watched.readIfChanged(), undefined);
});

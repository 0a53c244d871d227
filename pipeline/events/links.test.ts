import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TEXT_URI_SCHEMES, uniqueLinks, URL_IN_TEXT, urlsInText } from './links.ts';

/** The plain definition urlsInText() must keep: the pattern run over the whole text. */
function wholeTextScan(text: string, schemes: { has(scheme: string): boolean }): string[] {
  const re = new RegExp(URL_IN_TEXT.source, URL_IN_TEXT.flags);
  const out: string[] = [];
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const scheme = m[1]?.toLowerCase();
    if (scheme !== undefined && scheme !== 'http' && scheme !== 'https' && !schemes.has(scheme)) {
      re.lastIndex = m.index + scheme.length + 1;
      continue;
    }
    const link = m[0].replace(/[.,;:!?)\]}]+$/u, '');
    if (link.length > 0) out.push(link);
  }
  return out;
}

// Pieces that make links, near-links and the edges between them (Unicode spaces, letters, marks).
const PIECES = [
  ' ', '  ', '\n', '\t', '\u00a0', '\u2009', '\u3000', '\ufeff', '\u200b', 'http', 'https', 'HTTP', 'Https', '://', ':', '/', '//',
  '.', '..', 'www', 'WWW', 'wWw.', 'www.', 't.me', 'tt.me/x', 'joinchat', 'xmpp', 'tg', 'Update', 'x', 'é', 'ناشر', '😀', '@', '-',
  '_', '+', '<', '>', '"', "'", '`', '«', '»', ')', ']', '}', '!', '?', ',', ';', 'example.com', 'a.b', '1', 'ſ', 'K',
];
const text = fc.oneof(
  fc.array(fc.constantFrom(...PIECES), { maxLength: 40 }).map((p) => p.join('')),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ maxLength: 40 }),
);

test('urlsInText finds exactly what a scan of the whole text finds', () => {
  const custom = new Set(['tg', 'xmpp']);
  fc.assert(
    fc.property(text, (t) => {
      assert.deepEqual(urlsInText(t), wholeTextScan(t, TEXT_URI_SCHEMES));
      assert.deepEqual(urlsInText(t, custom), wholeTextScan(t, custom));
    }),
    { numRuns: 20_000 },
  );
});

test('urlsInText: the forms it knows, in order', () => {
  assert.deepEqual(
    urlsInText('Update:https://t.me/x, see www.Example.com/a. and tt.me/joinchat/AB) or xmpp:news@jabber.org; not mailto:x@y.z'),
    ['https://t.me/x', 'www.Example.com/a', 'tt.me/joinchat/AB', 'xmpp:news@jabber.org'],
  );
  assert.deepEqual(urlsInText('بيان رقم 3 https://t.me/example_3 و هنا'), ['https://t.me/example_3']);
  assert.deepEqual(urlsInText('no links here 📢'), []);
});

test('uniqueLinks keeps the first spelling of each link and drops empty ones', () => {
  assert.deepEqual(uniqueLinks(['a', '', 'b', 'a', 'c', 'b']), ['a', 'b', 'c']);
  const many = Array.from({ length: 20 }, (_, i) => `l${i % 7}`);
  assert.deepEqual(uniqueLinks(many), ['l0', 'l1', 'l2', 'l3', 'l4', 'l5', 'l6']);
  assert.deepEqual(uniqueLinks(new Set(['x', '', 'y'])), ['x', 'y']);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BUNDLED_CATALOGUE, linkFields, mergeCatalogues } from './links.ts';

test('linkFields: each distinct domain and platform once, case and www. folded, tt.me apart from t.me', () => {
  assert.deepEqual(
    linkFields(['https://www.TamTam.chat/a', 'HTTPS://TT.ME/b', 'https://t.me/c', 'https://t.me/d', 'xmpp:room@Conference.Example.org?join', 'tg://resolve?domain=x', 'https://example.com/x']),
    { domain: ['tamtam.chat', 'tt.me', 't.me', 'conference.example.org', 'example.com'], platform: ['tamtam', 'telegram', 'xmpp', 'unknown'] },
  );
});

test('linkFields: nothing to store without a link that classifies', () => {
  assert.equal(linkFields(undefined), null);
  assert.equal(linkFields([]), null);
  assert.equal(linkFields(['mailto:someone@example.org', 'not a link']), null);
});

test('linkFields follows the catalogue it is given', () => {
  const own = mergeCatalogues(BUNDLED_CATALOGUE, [{ id: 'acme', name: 'Acme', kind: 'messenger', domains: ['example.com'], schemes: [], hostLabels: [], pathPrefixes: [] }]);
  // Remembered classifications belong to their catalogue.
  assert.deepEqual(linkFields(['https://example.com/x']), { domain: ['example.com'], platform: ['unknown'] });
  assert.deepEqual(linkFields(['https://example.com/x'], own), { domain: ['example.com'], platform: ['acme'] });
  assert.deepEqual(linkFields(['https://example.com/x']), { domain: ['example.com'], platform: ['unknown'] });
});

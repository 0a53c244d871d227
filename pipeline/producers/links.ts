/**
 * URLs written in plain text. Entities already carry most links; this catches the ones a client
 * did not mark up (old exports, forwarded text) and `xmpp:` URIs, which Telegram never links.
 * Trailing punctuation is not part of a link in running text.
 */
const URL_IN_TEXT = /\b(?:https?:\/\/|xmpp:|(?:t\.me|telegram\.me|telegram\.dog|tt\.me|matrix\.to|chat\.whatsapp\.com|discord\.gg|signal\.group)\/)[^\s<>"'«»]+/giu;

export function urlsInText(text: string): string[] {
  // Every form above contains a '/' or ':'; most messages have neither and skip the regex.
  if (!text.includes('/') && !text.includes(':')) return [];
  const out: string[] = [];
  for (const m of text.matchAll(URL_IN_TEXT)) out.push(m[0].replace(/[.,;:!?)\]}]+$/u, ''));
  return out;
}

/** Order-preserving de-duplication; the first spelling of a link wins. */
export function uniqueLinks(links: Iterable<string>): string[] {
  return [...new Set(links)].filter((l) => l.length > 0);
}

/**
 * URLs written in plain text: the one extraction, used by producers (the links an event carries)
 * and by analytics (the links a message mentions). Entities already carry most links; this
 * catches the ones a client did not mark up (old exports, forwarded text), URIs such as `xmpp:`,
 * which Telegram never links, "www." forms, and bare host/path forms such as t.me/joinchat/...
 * or tt.me/x that channels post without a scheme. Trailing punctuation is not part of a link in
 * running text.
 */
const URL_IN_TEXT = /\b([a-z][a-z0-9+.-]*):(?:\/\/)?[^\s<>"'`«»]+|\bwww\.[^\s<>"'`«»]+|(?<![\p{L}\p{N}@.-])(?:[\p{L}\p{N}-]+\.)+[a-z]{2,24}\/[^\s<>"'`«»]+/giu;
const TRAILING = /[.,;:!?)\]}]+$/u;

/** URI schemes besides http(s) that are links in text by default: `xmpp:`. */
export const TEXT_URI_SCHEMES: ReadonlySet<string> = new Set(['xmpp']);

/**
 * The links in `text`, in order. A `scheme:` form counts when its scheme is http(s) or one of
 * `schemes` (lowercase; analytics passes its catalogue's); otherwise ("Update:https://...") the
 * text after the colon is searched on.
 */
export function urlsInText(text: string, schemes: { has(scheme: string): boolean } = TEXT_URI_SCHEMES): string[] {
  // Every form above contains a '/', a ':' or "www."; most messages have none and skip the regex.
  if (!text.includes('/') && !text.includes(':') && !/www\./i.test(text)) return [];
  const out: string[] = [];
  URL_IN_TEXT.lastIndex = 0;
  for (let m = URL_IN_TEXT.exec(text); m !== null; m = URL_IN_TEXT.exec(text)) {
    const scheme = m[1]?.toLowerCase();
    if (scheme !== undefined && scheme !== 'http' && scheme !== 'https' && !schemes.has(scheme)) {
      URL_IN_TEXT.lastIndex = m.index + scheme.length + 1;
      continue;
    }
    const link = m[0].replace(TRAILING, '');
    if (link.length > 0) out.push(link);
  }
  return out;
}

/** Order-preserving de-duplication; the first spelling of a link wins. */
export function uniqueLinks(links: Iterable<string>): string[] {
  return [...new Set(links)].filter((l) => l.length > 0);
}

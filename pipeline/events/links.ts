/**
 * URLs written in plain text: the one extraction, used by producers (the links an event carries)
 * and by analytics (the links a message mentions). Entities already carry most links; this
 * catches the ones a client did not mark up (old exports, forwarded text), URIs such as `xmpp:`,
 * which Telegram never links, "www." forms, and bare host/path forms such as t.me/joinchat/...
 * or tt.me/x that channels post without a scheme. Trailing punctuation is not part of a link in
 * running text. (Exported for the test that holds urlsInText() to a scan of the whole text with
 * it; it is global, so use a copy.)
 */
export const URL_IN_TEXT = /\b([a-z][a-z0-9+.-]*):(?:\/\/)?[^\s<>"'`«»]+|\bwww\.[^\s<>"'`«»]+|(?<![\p{L}\p{N}@.-])(?:[\p{L}\p{N}-]+\.)+[a-z]{2,24}\/[^\s<>"'`«»]+/giu;
const TRAILING = /[.,;:!?)\]}]+$/u;
/** TRAILING's characters: a link ending in none of them needs no replace. */
const TRAILING_CHARS: ReadonlySet<number> = new Set([...'.,;:!?)]}'].map((c) => c.charCodeAt(0)));

/** URI schemes besides http(s) that are links in text by default: `xmpp:`. */
export const TEXT_URI_SCHEMES: ReadonlySet<string> = new Set(['xmpp']);

/** The characters `\s` matches (with the `u` flag): no match of URL_IN_TEXT contains one. */
function isSpace(c: number): boolean {
  if (c < 0x80) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  return c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

const isW = (c: number) => c === 0x77 || c === 0x57;

/**
 * The links in `text`, in order. A `scheme:` form counts when its scheme is http(s) or one of
 * `schemes` (lowercase; analytics passes its catalogue's); otherwise ("Update:https://...") the
 * text after the colon is searched on.
 *
 * Every part of every form excludes whitespace, so a match never spans it, and each form contains
 * a ':', a '/' or "www.". The regex is therefore run only on the whitespace-delimited words that
 * contain one of those: the same matches in the same order (word edges look to `\b` and the
 * look-behind just as the whitespace around them does), without the regex's per-character cost
 * on the rest, which is most of a message. A property test compares it with the whole-text scan.
 */
export function urlsInText(text: string, schemes: { has(scheme: string): boolean } = TEXT_URI_SCHEMES): string[] {
  const out: string[] = [];
  const n = text.length;
  // Most messages have no anchor at all: native searches say so faster than a loop over the text.
  if (text.indexOf(':') < 0 && text.indexOf('/') < 0 && nextWww(text, 0) === n) return out;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x3a && c !== 0x2f && !(c === 0x2e && i >= 3 && isW(text.charCodeAt(i - 1)) && isW(text.charCodeAt(i - 2)) && isW(text.charCodeAt(i - 3)))) continue;
    let start = i;
    while (start > 0 && !isSpace(text.charCodeAt(start - 1))) start--;
    let end = i + 1;
    while (end < n && !isSpace(text.charCodeAt(end))) end++;
    linksInWord(start === 0 && end === n ? text : text.slice(start, end), schemes, out);
    i = end;
  }
  return out;
}

/** The index of the '.' ending the next "www." (any case) at or after `from`; text.length when none. */
function nextWww(text: string, from: number): number {
  for (let dot = text.indexOf('.', from); dot >= 0; dot = text.indexOf('.', dot + 1)) {
    if (dot >= 3 && isW(text.charCodeAt(dot - 1)) && isW(text.charCodeAt(dot - 2)) && isW(text.charCodeAt(dot - 3))) return dot;
  }
  return text.length;
}

/** URL_IN_TEXT over one word, appending to `out`. */
function linksInWord(word: string, schemes: { has(scheme: string): boolean }, out: string[]): void {
  URL_IN_TEXT.lastIndex = 0;
  for (let m = URL_IN_TEXT.exec(word); m !== null; m = URL_IN_TEXT.exec(word)) {
    const scheme = m[1]?.toLowerCase();
    if (scheme !== undefined && scheme !== 'http' && scheme !== 'https' && !schemes.has(scheme)) {
      URL_IN_TEXT.lastIndex = m.index + scheme.length + 1;
      continue;
    }
    const last = m[0].charCodeAt(m[0].length - 1);
    const link = TRAILING_CHARS.has(last) ? m[0].replace(TRAILING, '') : m[0];
    if (link.length > 0) out.push(link);
  }
}

/** Order-preserving de-duplication; the first spelling of a link wins. */
export function uniqueLinks(links: Iterable<string>): string[] {
  // Most messages carry a link or two: a scan is cheaper than a Set for those.
  if (Array.isArray(links) && links.length <= 8) {
    const out: string[] = [];
    for (const l of links as string[]) if (l.length > 0 && !out.includes(l)) out.push(l);
    return out;
  }
  return [...new Set(links)].filter((l) => l.length > 0);
}

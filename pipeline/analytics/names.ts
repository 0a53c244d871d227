/**
 * Channel-name keys for matching a successor to a banned channel: the same key means "the same
 * name once the usual variations are removed". Arabic-aware: a successor titled "نـــاشِر ٢" is
 * the "ناشر" that was banned.
 */
const ALEF_FORMS = /[\u0622\u0623\u0625\u0671\u0672\u0673]/g; // آ أ إ ٱ and wavy-hamza forms -> ا
const ALEF_MAQSURA = /\u0649/g; // ى -> ي (written interchangeably at word ends)
const TA_MARBUTA = /\u0629/g; // ة -> ه (same)
const TATWEEL = /\u0640/g; // ـ, the stretching stroke
const MARKS = /\p{M}/gu; // harakat, shadda, superscript alef, Latin accents after NFKD
const DIGITS = /[\p{Nd}]/gu; // ASCII, Arabic-Indic (٠-٩), Extended Arabic-Indic (۰-۹) and other digits
const SEPARATORS = /[^\p{L}]+/u;

/** The comparable key of a handle or title; "" when nothing distinctive is left. */
export function nameKey(name: string, suffixWords: ReadonlySet<string>): string {
  const words = name
    .normalize('NFKD')
    .toLowerCase()
    .replace(MARKS, '')
    .replace(TATWEEL, '')
    .replace(ALEF_FORMS, '\u0627')
    .replace(ALEF_MAQSURA, '\u064a')
    .replace(TA_MARBUTA, '\u0647')
    .replace(DIGITS, ' ')
    .split(SEPARATORS)
    .filter(Boolean);
  // "new"/"official"/... at either end mark a replacement, not a different name.
  while (words.length > 1 && suffixWords.has(words[words.length - 1]!)) words.pop();
  while (words.length > 1 && suffixWords.has(words[0]!)) words.shift();
  return words.join('');
}

/** The suffix words as compared: normalised the same way as names. */
export function suffixSet(words: readonly string[]): Set<string> {
  return new Set(words.map((w) => nameKey(w, new Set())));
}

import type { ChatInfo } from './message.ts';

/**
 * Fast framing of a Telegram Desktop export: finds where each `messages[]` element begins and
 * ends in the raw bytes, and hands each element's text to the native JSON.parse. No value is
 * parsed here: keys and the chat header scalars (`id`, `name`, `type`) are decoded by JSON.parse
 * too. The scan works on bytes, not decoded text: every byte it looks at (quotes, backslashes,
 * brackets, separators) is ASCII, and in UTF-8 those never occur inside a multi-byte character,
 * so only the elements themselves are ever decoded, one at a time.
 *
 * An element's end is found one of two ways:
 * - a guess: exports are pretty-printed, so every element closes with the same line, e.g. "\n  }",
 *   learned from the first element. A raw newline never occurs inside a JSON string, and the
 *   parse proves the guess: parsed from a real element start, a slice that is one complete JSON
 *   value ends where the element ends. A slice that does not parse turns guessing off for good;
 * - otherwise an exact scan that tracks only string/escape state and bracket depth.
 *
 * Validation is split three ways, so together it is the whole document:
 * - every element is checked by JSON.parse (a mis-framed element cannot parse: valid JSON has
 *   balanced brackets, so the frame is right exactly when the parse succeeds);
 * - the separators between elements are checked here (`,` between, `]` at the end, whitespace);
 * - everything outside `messages` arrays (the "skeleton", with each such array left empty) is
 *   written to a stream-json parser by the caller.
 * Anything this scanner does not expect is not diagnosed here: it reports `failed` and the caller
 * falls back to the stream-json reader, which names the problem and its byte offset exactly as
 * before. Memory is one chunk plus the element being framed.
 */

type Role = 'root' | 'chat' | 'chats' | 'list' | 'messages' | 'other';

interface Frame {
  role: Role;
  isObject: boolean;
  key: string | undefined;
  /** In an object: the next string is a key. */
  expectKey: boolean;
  chat: ChatInfo | undefined;
}

/** A `messages[]` element, parsed, with the chat it belongs to. */
export interface FramedMessage {
  chat: ChatInfo;
  value: unknown;
  /** Bytes of the file read when it was complete (the end of its read chunk), for locations. */
  fedBytes: number;
}

const enum Tok {
  None,
  /** A messages[] element. */
  Element,
  /** A string outside messages[] (a key or a value). */
  OuterString,
  /** A number or literal outside messages[]. */
  OuterScalar,
}

/** Where the scan is inside a messages array, between elements. */
const enum Sep {
  /** Right after `[`: an element or `]`. */
  First,
  /** After an element: `,` or `]`. */
  After,
  /** After `,`: an element. */
  Next,
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const NEWLINE = 0x0a;
const isWhitespace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
/** Bytes of a number or a literal (validated by JSON.parse / stream-json, not here). */
const isScalarByte = (c: number) =>
  (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x2d || c === 0x2b || c === 0x2e;

export class ExportFramer {
  /** Set when the input is not what this scanner handles; the caller falls back. */
  failed = false;
  /** Complete messages framed by the last push(). */
  messages: FramedMessage[] = [];
  /** Bytes outside messages arrays from the last push(), for the skeleton parser. */
  skeleton: Buffer[] = [];

  private readonly stack: Frame[] = [];
  private inMessages = false;
  private sep: Sep = Sep.First;
  private messagesChat: ChatInfo | undefined;
  // The token being scanned, resumable across chunks.
  private tok: Tok = Tok.None;
  private parts: Buffer[] = [];
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** The line that closes every element ("\n" + indentation + "}"), once learned; null: do not guess. */
  private closer: Buffer | null | undefined;

  /** True once the document's root value is closed (and nothing is pending). */
  get complete(): boolean {
    return this.rootClosed && this.tok === Tok.None && this.stack.length === 0;
  }
  private rootClosed = false;
  private fedBytes = 0;

  /** Scan one chunk of the file; results are in `messages` and `skeleton` (reset per call). */
  push(chunk: Buffer): void {
    // New arrays each time: the previous ones may still be read by the caller.
    this.messages = [];
    this.skeleton = [];
    if (this.failed) return;
    this.fedBytes += chunk.length;
    let i = 0;
    let tokStart = 0;
    let outerFrom = this.inMessages ? -1 : 0;
    const n = chunk.length;
    const skeletonUpTo = (end: number) => {
      if (outerFrom >= 0 && end > outerFrom) this.skeleton.push(chunk.subarray(outerFrom, end));
    };

    // Resume a token left unfinished by the previous chunk.
    if (this.tok !== Tok.None) {
      const end = this.continueToken(chunk, 0);
      if (end < 0) {
        this.keepPart(chunk, 0);
        skeletonUpTo(n);
        return;
      }
      if (!this.finishToken(chunk, 0, end)) return;
      i = end;
    }

    while (i < n) {
      const c = chunk[i]!;
      if (isWhitespace(c)) {
        i++;
        continue;
      }
      if (this.inMessages) {
        if (c === CLOSE_BRACKET && this.sep !== Sep.Next) {
          // End of the messages array: back to the skeleton, which sees an empty array.
          this.inMessages = false;
          this.stack.pop();
          this.afterValue();
          outerFrom = i;
          i++;
          continue;
        }
        if (c === 0x2c /* , */ && this.sep === Sep.After) {
          this.sep = Sep.Next;
          i++;
          continue;
        }
        if (this.sep === Sep.After || !(c === OPEN_BRACE || c === OPEN_BRACKET || c === QUOTE || isScalarByte(c))) return void this.fail();
        if (c === OPEN_BRACE && this.closer) {
          const end = this.guessEnd(chunk, i);
          if (end > 0) {
            i = end;
            continue;
          }
        }
        // An element starts here: scan it exactly.
        this.tok = Tok.Element;
        this.depth = 0;
        this.inString = false;
        this.escaped = false;
        tokStart = i;
      } else {
        const top = this.stack[this.stack.length - 1];
        switch (c) {
          case OPEN_BRACE:
          case OPEN_BRACKET: {
            if (this.rootClosed) return void this.fail();
            const frame = childFrame(top, c === OPEN_BRACE);
            this.stack.push(frame);
            i++;
            if (frame.role === 'messages') {
              skeletonUpTo(i);
              outerFrom = -1;
              this.inMessages = true;
              this.sep = Sep.First;
              this.messagesChat = frame.chat;
            }
            continue;
          }
          case CLOSE_BRACE:
          case CLOSE_BRACKET:
            if (!top) return void this.fail();
            this.stack.pop();
            this.afterValue();
            i++;
            continue;
          case 0x3a /* : */:
            if (!top) return void this.fail();
            if (top.isObject) top.expectKey = false;
            i++;
            continue;
          case 0x2c /* , */:
            if (!top) return void this.fail();
            if (top.isObject) top.expectKey = true;
            i++;
            continue;
          case QUOTE:
            this.tok = Tok.OuterString;
            this.inString = false;
            this.escaped = false;
            tokStart = i;
            break;
          default:
            if (!isScalarByte(c)) return void this.fail();
            this.tok = Tok.OuterScalar;
            tokStart = i;
        }
      }
      const end = this.continueToken(chunk, tokStart);
      if (end < 0) {
        this.keepPart(chunk, tokStart);
        skeletonUpTo(n);
        return;
      }
      if (!this.finishToken(chunk, tokStart, end)) return;
      i = end;
    }
    skeletonUpTo(n);
  }

  /**
   * The element at `start` (a `{`) when the learned closing line ends it within this chunk and the
   * slice parses: the index just past it. -1: scan it exactly instead.
   */
  private guessEnd(chunk: Buffer, start: number): number {
    const end = findLine(chunk, this.closer!, start);
    if (end < 0) return -1;
    let value: unknown;
    try {
      value = JSON.parse(chunk.toString('utf8', start, end));
    } catch {
      // Formatted some other way (or broken: the exact scan and JSON.parse will say).
      this.closer = null;
      return -1;
    }
    this.messages.push({ chat: this.messagesChat!, value, fedBytes: this.fedBytes });
    this.sep = Sep.After;
    return end;
  }

  /** Keep the unfinished token's bytes; a copy, so the chunk is not pinned by a slice. */
  private keepPart(chunk: Buffer, from: number): void {
    this.parts.push(Buffer.from(chunk.subarray(from)));
  }

  /**
   * Scan the current token from `from`; returns the index just past its end, or -1 when the
   * chunk ends first (the scan state is kept for the next chunk).
   */
  private continueToken(chunk: Buffer, from: number): number {
    const n = chunk.length;
    let i = from;
    if (this.tok === Tok.OuterScalar) {
      while (i < n && isScalarByte(chunk[i]!)) i++;
      return i < n ? i : -1;
    }
    let depth = this.depth;
    let inString = this.inString;
    let escaped = this.escaped;
    if (this.tok === Tok.Element && depth === 0 && !inString && i < n) {
      const c = chunk[i]!;
      if (c !== OPEN_BRACE && c !== OPEN_BRACKET && c !== QUOTE) {
        // A number or literal element: not a message, but it must still be read to its end.
        this.tok = Tok.OuterScalar;
        const end = this.continueToken(chunk, i);
        this.tok = Tok.Element;
        return end;
      }
    }
    for (; i < n; i++) {
      const c = chunk[i]!;
      if (inString) {
        if (escaped) escaped = false;
        else if (c === BACKSLASH) escaped = true;
        else if (c === QUOTE) {
          inString = false;
          // A string token (a key, a header value, a string element) ends with its quote.
          if (depth === 0) {
            this.inString = false;
            this.escaped = false;
            return i + 1;
          }
        }
        continue;
      }
      if (c === QUOTE) inString = true;
      else if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
      else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        depth--;
        if (depth === 0) {
          this.depth = 0;
          return i + 1;
        }
      }
    }
    this.depth = depth;
    this.inString = inString;
    this.escaped = escaped;
    return -1;
  }

  /** Decode the finished token chunk[start, end) (plus earlier parts); false on failure. */
  private finishToken(chunk: Buffer, start: number, end: number): boolean {
    let bytes = chunk.subarray(start, end);
    if (this.parts.length > 0) {
      this.parts.push(bytes);
      bytes = Buffer.concat(this.parts);
      this.parts = [];
    }
    const tok = this.tok;
    this.tok = Tok.None;
    const raw = bytes.toString('utf8');
    let value: unknown;
    if (tok === Tok.OuterScalar) {
      const top = this.stack[this.stack.length - 1];
      if (!top || (top.isObject && top.expectKey)) return this.fail();
      // Kept as written, as stream-json's numberValue is; literals are not header values.
      const c = raw.charCodeAt(0);
      if (top.chat && (top.role === 'chat' || top.role === 'root') && isHeaderKey(top.key) && (c === 0x2d || (c >= 0x30 && c <= 0x39))) {
        if (!Number.isFinite(Number(raw))) return this.fail();
        top.chat[top.key] = raw;
      }
      this.afterValue();
      return true;
    }
    try {
      value = JSON.parse(raw);
    } catch {
      return this.fail();
    }
    if (tok === Tok.Element) {
      this.messages.push({ chat: this.messagesChat!, value, fedBytes: this.fedBytes });
      this.sep = Sep.After;
      if (this.closer === undefined && bytes[0] === OPEN_BRACE) this.closer = closingLine(bytes);
      return true;
    }
    const top = this.stack[this.stack.length - 1];
    if (!top) return this.fail();
    if (top.isObject && top.expectKey) {
      top.key = value as string;
      top.expectKey = false;
      return true;
    }
    if (top.chat && (top.role === 'chat' || top.role === 'root') && isHeaderKey(top.key)) top.chat[top.key] = value as string;
    this.afterValue();
    return true;
  }

  private afterValue(): void {
    if (this.stack.length === 0) this.rootClosed = true;
  }

  private fail(): false {
    this.failed = true;
    this.messages = [];
    return false;
  }
}

/**
 * The index just past the first `line` (ending in `}`) at or after `from`; -1 when none. It looks
 * for each `}` with the native byte search and compares the bytes before it: several times faster
 * than searching for the whole line.
 */
function findLine(chunk: Buffer, line: Buffer, from: number): number {
  const last = line.length - 1;
  for (let i = chunk.indexOf(CLOSE_BRACE, from + last); i >= 0; i = chunk.indexOf(CLOSE_BRACE, i + 1)) {
    let k = last - 1;
    while (k >= 0 && chunk[i - last + k] === line[k]) k--;
    if (k < 0) return i + 1;
  }
  return -1;
}

/** The "\n" + indentation + "}" an object element ends with; null when it does not end on a line of its own. */
function closingLine(element: Buffer): Buffer | null {
  let i = element.length - 2;
  while (i >= 0 && (element[i] === 0x20 || element[i] === 0x09)) i--;
  return i >= 0 && element[i] === NEWLINE ? Buffer.from(element.subarray(i)) : null;
}

function isHeaderKey(key: string | undefined): key is 'id' | 'name' | 'type' {
  return key === 'id' || key === 'name' || key === 'type';
}

/** What a newly opened container is, from where it sits (the same rules as the stream-json reader). */
function childFrame(parent: Frame | undefined, isObject: boolean): Frame {
  const frame = (role: Role, chat?: ChatInfo): Frame => ({ role, isObject, key: undefined, expectKey: isObject, chat });
  if (!parent) return isObject ? frame('root', {}) : frame('other');
  if (isObject) {
    if (parent.role === 'root' && (parent.key === 'chats' || parent.key === 'left_chats')) return frame('chats');
    if (parent.role === 'list') return frame('chat', {});
    return frame('other');
  }
  if (parent.role === 'chats' && parent.key === 'list') return frame('list');
  if ((parent.role === 'chat' || parent.role === 'root') && parent.key === 'messages') return frame('messages', parent.chat);
  return frame('other');
}

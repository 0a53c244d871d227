import type { ChatInfo } from './message.ts';

/**
 * Fast framing of a Telegram Desktop export: finds where each `messages[]` element begins and
 * ends with a scan that tracks only string/escape state and bracket depth, and hands each
 * element's text to the native JSON.parse. No value is parsed here: keys and the chat header
 * scalars (`id`, `name`, `type`) are decoded by JSON.parse too.
 *
 * Validation is split three ways, so together it is the whole document:
 * - every element is checked by JSON.parse (a mis-framed element cannot parse: valid JSON has
 *   balanced brackets, so the frame is right exactly when the parse succeeds);
 * - the separators between elements are checked here (`,` between, `]` at the end, whitespace);
 * - everything outside `messages` arrays (the "skeleton", with each such array left empty) is
 *   written to a stream-json parser by the caller.
 * Anything this scanner does not expect is not diagnosed here: it reports `failed` and the caller
 * falls back to the stream-json reader, which names the problem and its byte offset exactly as
 * before. Input is taken as decoded text, one chunk at a time; memory is one chunk plus the
 * element being framed.
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
const isWhitespace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
/** Characters of a number or a literal (validated by JSON.parse / stream-json, not here). */
const isScalarChar = (c: number) =>
  (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x2d || c === 0x2b || c === 0x2e;

export class ExportFramer {
  /** Set when the input is not what this scanner handles; the caller falls back. */
  failed = false;
  /** Complete messages framed by the last push(). */
  messages: FramedMessage[] = [];
  /** Text outside messages arrays from the last push(), for the skeleton parser. */
  skeleton = '';

  private readonly stack: Frame[] = [];
  private inMessages = false;
  private sep: Sep = Sep.First;
  private messagesChat: ChatInfo | undefined;
  // The token being scanned, resumable across chunks.
  private tok: Tok = Tok.None;
  private parts: string[] = [];
  private depth = 0;
  private inString = false;
  private escaped = false;

  /** True once the document's root value is closed (and nothing is pending). */
  get complete(): boolean {
    return this.rootClosed && this.tok === Tok.None && this.stack.length === 0;
  }
  private rootClosed = false;

  /** Scan one chunk of decoded text; results are in `messages` and `skeleton` (reset per call). */
  push(text: string): void {
    // A new array each time: the previous one may still be read by the caller.
    this.messages = [];
    this.skeleton = '';
    if (this.failed) return;
    let i = 0;
    let tokStart = 0;
    let outerFrom = this.inMessages ? -1 : 0;
    const n = text.length;
    const skeletonUpTo = (end: number) => {
      if (outerFrom >= 0) this.skeleton += text.slice(outerFrom, end);
    };

    // Resume a token left unfinished by the previous chunk.
    if (this.tok !== Tok.None) {
      const end = this.continueToken(text, 0);
      if (end < 0) {
        this.parts.push(text);
        skeletonUpTo(n);
        return;
      }
      if (!this.finishToken(text, 0, end)) return;
      i = end;
    }

    while (i < n) {
      const c = text.charCodeAt(i);
      if (isWhitespace(c)) {
        i++;
        continue;
      }
      if (this.inMessages) {
        if (c === 0x5d /* ] */ && this.sep !== Sep.Next) {
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
        if (this.sep === Sep.After || !(c === 0x7b || c === 0x5b || c === QUOTE || isScalarChar(c))) return void this.fail();
        // An element starts here.
        this.tok = Tok.Element;
        this.depth = 0;
        this.inString = false;
        this.escaped = false;
        tokStart = i;
      } else {
        const top = this.stack[this.stack.length - 1];
        switch (c) {
          case 0x7b /* { */:
          case 0x5b /* [ */: {
            if (this.rootClosed) return void this.fail();
            const frame = childFrame(top, c === 0x7b);
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
          case 0x7d /* } */:
          case 0x5d /* ] */:
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
            if (!isScalarChar(c)) return void this.fail();
            this.tok = Tok.OuterScalar;
            tokStart = i;
        }
      }
      const end = this.continueToken(text, tokStart);
      if (end < 0) {
        this.parts.push(text.slice(tokStart));
        skeletonUpTo(n);
        return;
      }
      if (!this.finishToken(text, tokStart, end)) return;
      i = end;
    }
    skeletonUpTo(n);
  }

  /**
   * Scan the current token from `from`; returns the index just past its end, or -1 when the
   * text ends first (the scan state is kept for the next chunk).
   */
  private continueToken(text: string, from: number): number {
    const n = text.length;
    let i = from;
    if (this.tok === Tok.OuterScalar) {
      while (i < n && isScalarChar(text.charCodeAt(i))) i++;
      return i < n ? i : -1;
    }
    let depth = this.depth;
    let inString = this.inString;
    let escaped = this.escaped;
    const single = this.tok === Tok.OuterString || (this.tok === Tok.Element && depth === 0 && !inString && i < n && text.charCodeAt(i) !== 0x7b && text.charCodeAt(i) !== 0x5b);
    if (single && this.tok === Tok.Element && text.charCodeAt(i) !== QUOTE) {
      // A number or literal element: not a message, but it must still be read to its end.
      this.tok = Tok.OuterScalar;
      const end = this.continueToken(text, i);
      this.tok = Tok.Element;
      return end;
    }
    for (; i < n; i++) {
      if (inString) {
        // Jump to the next quote natively; an odd run of backslashes right before it escapes it.
        // Invariant: text[i] is inside the string and not escaped by anything before i.
        if (escaped) {
          escaped = false;
          continue;
        }
        const q = text.indexOf('"', i);
        if (q < 0) {
          let b = n;
          while (b > i && text.charCodeAt(b - 1) === BACKSLASH) b--;
          escaped = (n - b) % 2 === 1;
          i = n;
          break;
        }
        let b = q;
        while (b > i && text.charCodeAt(b - 1) === BACKSLASH) b--;
        i = q;
        if ((q - b) % 2 === 1) continue;
        inString = false;
        if (depth === 0) {
          this.inString = false;
          this.escaped = false;
          return i + 1;
        }
        continue;
      }
      const c = text.charCodeAt(i);
      if (c === QUOTE) inString = true;
      else if (c === 0x7b || c === 0x5b) depth++;
      else if (c === 0x7d || c === 0x5d) {
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

  /** Decode the finished token text[start, end) (plus earlier parts); false on failure. */
  private finishToken(text: string, start: number, end: number): boolean {
    let raw = text.slice(start, end);
    if (this.parts.length > 0) {
      this.parts.push(raw);
      raw = this.parts.join('');
      this.parts = [];
    }
    const tok = this.tok;
    this.tok = Tok.None;
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
      this.messages.push({ chat: this.messagesChat!, value });
      this.sep = Sep.After;
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

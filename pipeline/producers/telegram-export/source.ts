import { createReadStream, statSync } from 'node:fs';
import { finished, pipeline } from 'node:stream/promises';
import streamJson from 'stream-json';
import Assembler from 'stream-json/Assembler.js';
import Batch from 'stream-json/utils/Batch.js';
import { ErrorCode, TidewatchError } from '../../errors.ts';
import { buildChecked, displayName, lazyItems, PROGRESS_EVERY, StatsCounter } from '../common.ts';
import type { Source, SourceItem, SourceOptions } from '../types.ts';
import { mapMessage, type ChatInfo, type MessageContext } from './message.ts';
import { locateSyntaxError } from './offset.ts';
import { ExportFramer, type FramedMessage } from './framing.ts';
import { LocalTimeConverter } from '../zone.ts';

interface Token {
  name: string;
  value?: string;
}

type Role = 'root' | 'chat' | 'chats' | 'list' | 'messages' | 'other';

interface Frame {
  role: Role;
  key: string | undefined;
  chat: ChatInfo | undefined;
}

const READ_CHUNK_BYTES = 256 * 1024;
const TOKENS_PER_BATCH = 2048;

/**
 * Telegram Desktop "Export chat history" JSON (`result.json`): a single chat
 * (`{name, type, id, messages: [...]}`) or a whole account (`chats.list[]`, `left_chats.list[]`).
 * The file is read as a stream, a chunk at a time; each message is parsed on its own and mapped
 * to events only when the consumer reaches it, so memory stays flat however large the export is.
 * A chat's `name`/`type`/`id` precede its messages in every export Telegram writes; messages of a
 * chat without an id are rejected, not guessed.
 *
 * Two readers produce the same items. The fast one (framing.ts) finds each `messages[]` element
 * in the raw bytes and decodes it with the native JSON.parse. Whenever it meets something it does
 * not handle (any syntax error, a truncated file, anything unexpected) it stops, and the
 * stream-json reader takes over from the start of the file, skipping the messages already
 * yielded: errors and their byte offsets are reported by stream-json exactly as before.
 */
export function openTelegramExportSource(file: string, opts: SourceOptions, reader: ExportReader = 'auto'): Source {
  const name = displayName(file);
  const stats = new StatsCounter();
  return {
    name,
    stats: () => stats.snapshot(),
    items: () => {
      const mapper = new MessageMapper(file, name, opts, stats);
      // Each message is mapped when the consumer gets to it (common.ts, lazyItems).
      return lazyItems(readExport(file, mapper, reader), mapper.emit, mapper.finished);
    },
  };
}

/** `auto`: the fast reader, falling back to stream-json; `stream-json`: only the latter (tests, benchmark). */
export type ExportReader = 'auto' | 'stream-json';

/** Turns each messages[] element into its items, and counts. */
class MessageMapper {
  private totalBytes = 0;
  private ctx: MessageContext | undefined;

  constructor(
    private readonly file: string,
    readonly name: string,
    private readonly opts: SourceOptions,
    private readonly stats: StatsCounter,
  ) {}

  /** Called by the reader before it reads: a bad --timezone fails here, before any output. */
  start(): void {
    const { opts, stats, name } = this;
    this.totalBytes = statSync(this.file).size;
    let converter = opts.timezone ? new LocalTimeConverter(opts.timezone) : undefined;
    this.ctx = {
      storeText: opts.storeText,
      localToEpochMs: (local) => {
        converter ??= new LocalTimeConverter(opts.timezone ?? 'UTC');
        return converter.toEpochMs(local);
      },
      onLocalDate: () => {
        stats.warn(
          opts.timezone
            ? `${name}: old export format (no date_unixtime): local times read in ${opts.timezone} (--timezone)`
            : `${name}: old export format (no date_unixtime): local times read as UTC; pass --timezone with the exporting computer's zone`,
        );
      },
    };
  }

  /** The items of one messages[] element, appended to `out`. */
  readonly emit = ({ chat, value, fedBytes }: FramedMessage, out: SourceItem[]): void => {
    const { stats, opts, name } = this;
    stats.read++;
    if (opts.onProgress && stats.read % PROGRESS_EVERY === 0) opts.onProgress({ bytesRead: fedBytes, totalBytes: this.totalBytes, records: stats.read });
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      out.push(stats.count({ kind: 'rejected', reason: 'messages[] element is not a JSON object', location: `${name}: message #${stats.read} (byte ~${fedBytes})` }));
      return;
    }
    const m = value as Record<string, unknown>;
    const outcome = mapMessage(chat, m, this.ctx!);
    if (outcome.kind === 'ignored') stats.ignore(outcome.what);
    else if (outcome.kind === 'rejected') out.push(stats.count({ kind: 'rejected', reason: outcome.reason, location: messageLocation(name, chat, m, stats.read, fedBytes) }));
    else {
      for (const input of outcome.inputs) {
        // The location is only formatted for a rejection: most messages never need it.
        const checked = buildChecked(input, opts);
        out.push(stats.count(typeof checked === 'string' ? { kind: 'rejected', reason: checked, location: messageLocation(name, chat, m, stats.read, fedBytes) } : { kind: 'event', event: checked }));
      }
    }
  };

  /** Once every message is mapped: progress at 100%. */
  readonly finished = (): void => {
    this.opts.onProgress?.({ bytesRead: this.totalBytes, totalBytes: this.totalBytes, records: this.stats.read });
  };
}

/** The export's messages[] elements, a read chunk's worth at a time. */
async function* readExport(file: string, mapper: MessageMapper, reader: ExportReader): AsyncGenerator<FramedMessage[]> {
  mapper.start();
  let done: true | number = 0;
  if (reader === 'auto') done = yield* readFramed(file);
  if (done !== true) yield* readStreaming(file, mapper, done);
}

/** Where a message is, for rejections: "result.json: chat 123 message 45 (byte ~262144)". */
function messageLocation(name: string, chat: ChatInfo, m: Record<string, unknown>, read: number, fedBytes: number): string {
  return `${name}: chat ${chat.id ?? '?'} message ${m.id === undefined ? `#${read}` : String(m.id)} (byte ~${fedBytes})`;
}

const skeletonParser = () => streamJson.parser({ packValues: true, streamValues: false });

/**
 * The fast reader: the messages framed in each read chunk. Returns true when the whole file was
 * read, else the number of `messages[]` elements already handed out, for the stream-json reader
 * to skip. (Exported for the test that holds valid exports to this reader alone.)
 */
export async function* readFramed(file: string): AsyncGenerator<FramedMessage[], true | number> {
  const framer = new ExportFramer();
  // Everything outside messages arrays is checked by stream-json, as the slow reader would.
  const skeleton = skeletonParser();
  let skeletonFailed = false;
  skeleton.on('data', () => {});
  skeleton.on('error', () => {
    skeletonFailed = true;
  });
  const checked = finished(skeleton).catch(() => {
    skeletonFailed = true;
  });
  let emitted = 0;
  const input = createReadStream(file, { highWaterMark: READ_CHUNK_BYTES });
  try {
    let eof = false;
    const chunks = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    while (!eof) {
      const next = await chunks.next();
      eof = next.done === true;
      // At the end an empty push: it clears the last chunk's results, which were handed out already.
      framer.push(eof ? Buffer.alloc(0) : next.value);
      if (framer.failed) return emitted;
      // Bytes, not text: the parser decodes them itself (a piece may end inside a character).
      for (const piece of framer.skeleton) skeleton.write(piece);
      if (eof) {
        if (!framer.complete) return emitted;
        skeleton.end();
        await checked;
      }
      if (skeletonFailed) return emitted;
      if (framer.messages.length > 0) {
        // Counted as handed out before the consumer sees them: a consumer that stops early never falls back.
        emitted += framer.messages.length;
        yield framer.messages;
      }
    }
    return true;
  } finally {
    input.destroy();
    skeleton.destroy();
  }
}

/**
 * The stream-json reader: the fallback, and the one that names a syntax error and its byte offset.
 * The first `skip` messages[] elements were emitted by the fast reader already.
 */
async function* readStreaming(file: string, mapper: MessageMapper, skip: number): AsyncGenerator<FramedMessage[]> {
  const name = mapper.name;
  let fedBytes = 0;
  let lastChunkBytes = 0;
  let seen = 0;
  const tokens = Batch.make({ batchSize: TOKENS_PER_BATCH });
  const parsing = pipeline(
    createReadStream(file, { highWaterMark: READ_CHUNK_BYTES }),
    async function* countBytes(chunks: AsyncIterable<Buffer>) {
      for await (const chunk of chunks) {
        fedBytes += chunk.length;
        lastChunkBytes = chunk.length;
        yield chunk;
      }
    },
    streamJson.parser({ packValues: true, streamValues: false }),
    tokens,
  ).catch((err: Error) => err);

  const stack: Frame[] = [];
  let assembler: Assembler | undefined;
  let messageChat: ChatInfo | undefined;

  // The elements of one token batch, handed out together.
  let elements: FramedMessage[] = [];
  const element = (chat: ChatInfo, value: unknown) => {
    if (seen++ < skip) return;
    elements.push({ chat, value, fedBytes });
  };

  try {
    for await (const batch of tokens as AsyncIterable<Token[]>) {
      if (elements.length > 0) {
        yield elements;
        elements = [];
      }
      for (const token of batch) {
        if (assembler) {
          assembler.consume(token);
          if (assembler.done) {
            const message: unknown = assembler.current;
            assembler = undefined;
            element(messageChat!, message);
          }
          continue;
        }
        const top = stack[stack.length - 1];
        switch (token.name) {
          case 'keyValue':
            if (top) top.key = token.value;
            break;
          case 'startObject':
          case 'startArray': {
            const isObject = token.name === 'startObject';
            if (top?.role === 'messages') {
              // Each message is small: assemble it whole, then map it.
              assembler = new Assembler();
              assembler.consume(token);
              messageChat = top.chat;
              break;
            }
            stack.push(childFrame(top, isObject));
            break;
          }
          case 'endObject':
          case 'endArray':
            stack.pop();
            break;
          default:
            if (top?.role === 'messages') {
              element(top.chat!, token.value);
              break;
            }
            // A scalar: chat header fields are the only ones outside messages that matter.
            if (top?.chat && (top.role === 'chat' || top.role === 'root') && (top.key === 'id' || top.key === 'name' || top.key === 'type')) {
              if (token.name === 'stringValue' || token.name === 'numberValue') top.chat[top.key] = token.value;
            }
        }
      }
    }
  } catch (err) {
    // A parser error destroys the token stream; the pipeline's result below names it.
    if (err instanceof TidewatchError) throw err;
  } finally {
    // A consumer that stops early must not leave the file open.
    tokens.destroy();
  }
  // What the last batch produced comes out before any error about what follows it.
  if (elements.length > 0) yield elements;
  const failure = await parsing;
  const truncatedAt = (byteOffset: number) =>
    new TidewatchError(ErrorCode.INPUT_PARSE, `${name}: the JSON ends unfinished at byte ${byteOffset} (truncated export?)`, {
      details: { file, byteOffset },
    });
  if (failure) {
    // stream-json says "has expected ..." when the input ran out mid-value.
    if (/has expected/.test(failure.message)) throw truncatedAt(fedBytes);
    const byteOffset = await locateSyntaxError(file, fedBytes - lastChunkBytes, fedBytes);
    throw new TidewatchError(ErrorCode.INPUT_PARSE, `${name}: not valid JSON at byte ${byteOffset}: ${failure.message}`, {
      cause: failure,
      details: { file, byteOffset },
    });
  }
  if (stack.length > 0 || assembler) throw truncatedAt(fedBytes);
}

/** What a newly opened container is, from where it sits. */
function childFrame(parent: Frame | undefined, isObject: boolean): Frame {
  if (!parent) return { role: isObject ? 'root' : 'other', key: undefined, chat: isObject ? {} : undefined };
  if (isObject) {
    if (parent.role === 'root' && (parent.key === 'chats' || parent.key === 'left_chats')) return { role: 'chats', key: undefined, chat: undefined };
    if (parent.role === 'list') return { role: 'chat', key: undefined, chat: {} };
    return { role: 'other', key: undefined, chat: undefined };
  }
  if (parent.role === 'chats' && parent.key === 'list') return { role: 'list', key: undefined, chat: undefined };
  if ((parent.role === 'chat' || parent.role === 'root') && parent.key === 'messages') return { role: 'messages', key: undefined, chat: parent.chat };
  return { role: 'other', key: undefined, chat: undefined };
}

import { createReadStream, statSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { finished, pipeline } from 'node:stream/promises';
import streamJson from 'stream-json';
import Assembler from 'stream-json/Assembler.js';
import Batch from 'stream-json/utils/Batch.js';
import { ErrorCode, TidewatchError } from '../../errors.ts';
import { displayName, makeEvent, PROGRESS_EVERY, StatsCounter } from '../common.ts';
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
 * The file is read as a stream and only one message is decoded at a time, so memory stays flat
 * however large the export is. A chat's `name`/`type`/`id` precede its messages in every export
 * Telegram writes; messages of a chat without an id are rejected, not guessed.
 *
 * Two readers produce the same items. The fast one (framing.ts) frames each `messages[]` element
 * with a cheap scan and decodes it with the native JSON.parse. Whenever it meets something it does
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
    items: () => readExport(file, name, opts, stats, reader),
  };
}

/** `auto`: the fast reader, falling back to stream-json; `stream-json`: only the latter (tests, benchmark). */
export type ExportReader = 'auto' | 'stream-json';

/** The items of one messages[] element, appended to `out` (a plain call: no generator per message). */
type Emit = (chat: ChatInfo, value: unknown, fedBytes: number, out: SourceItem[]) => void;

async function* readExport(file: string, name: string, opts: SourceOptions, stats: StatsCounter, reader: ExportReader): AsyncGenerator<SourceItem> {
  const totalBytes = statSync(file).size;
  // Built up front so a bad --timezone fails before any output, not at the first old message.
  let converter = opts.timezone ? new LocalTimeConverter(opts.timezone) : undefined;
  const ctx: MessageContext = {
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

  const emit: Emit = (chat, value, fedBytes, out) => {
    stats.read++;
    if (opts.onProgress && stats.read % PROGRESS_EVERY === 0) opts.onProgress({ bytesRead: fedBytes, totalBytes, records: stats.read });
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      out.push(stats.count({ kind: 'rejected', reason: 'messages[] element is not a JSON object', location: `${name}: message #${stats.read} (byte ~${fedBytes})` }));
      return;
    }
    const m = value as Record<string, unknown>;
    const location = `${name}: chat ${chat.id ?? '?'} message ${m.id === undefined ? `#${stats.read}` : String(m.id)} (byte ~${fedBytes})`;
    const outcome = mapMessage(chat, m, ctx);
    if (outcome.kind === 'ignored') stats.ignore(outcome.what);
    else if (outcome.kind === 'rejected') out.push(stats.count({ kind: 'rejected', reason: outcome.reason, location }));
    else for (const input of outcome.inputs) out.push(stats.count(makeEvent(input, opts, location)));
  };

  let done: true | number = 0;
  if (reader === 'auto') {
    // One await per read chunk, not per message: the messages of a chunk are emitted synchronously.
    const framed = readFramed(file);
    try {
      for (;;) {
        const next = await framed.next();
        if (next.done) {
          done = next.value;
          break;
        }
        const { messages, fedBytes } = next.value;
        const items: SourceItem[] = [];
        for (let i = 0; i < messages.length; i++) {
          emit(messages[i]!.chat, messages[i]!.value, fedBytes, items);
          for (let j = 0; j < items.length; j++) yield items[j]!;
          items.length = 0;
        }
      }
    } finally {
      await framed.return(0);
    }
  }
  if (done !== true) yield* readStreaming(file, name, emit, done);
  opts.onProgress?.({ bytesRead: totalBytes, totalBytes, records: stats.read });
}

const skeletonParser = () => streamJson.parser({ packValues: true, streamValues: false });

/**
 * The fast reader: the messages framed in each read chunk. Returns true when the whole file was
 * read, else the number of `messages[]` elements already handed out, for the stream-json reader
 * to skip.
 */
async function* readFramed(file: string): AsyncGenerator<{ messages: FramedMessage[]; fedBytes: number }, true | number> {
  const framer = new ExportFramer();
  const decoder = new StringDecoder('utf8');
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
  let fedBytes = 0;
  let emitted = 0;
  const input = createReadStream(file, { highWaterMark: READ_CHUNK_BYTES });
  try {
    let eof = false;
    const chunks = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    while (!eof) {
      const next = await chunks.next();
      if (next.done) {
        eof = true;
        framer.push(decoder.end());
      } else {
        fedBytes += next.value.length;
        framer.push(decoder.write(next.value));
      }
      if (framer.failed) return emitted;
      if (framer.skeleton.length > 0) skeleton.write(framer.skeleton);
      if (eof) {
        if (!framer.complete) return emitted;
        skeleton.end();
        await checked;
      }
      if (skeletonFailed) return emitted;
      if (framer.messages.length > 0) {
        // Counted as handed out before the consumer sees them: a consumer that stops early never falls back.
        emitted += framer.messages.length;
        yield { messages: framer.messages, fedBytes };
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
async function* readStreaming(file: string, name: string, emit: Emit, skip: number): AsyncGenerator<SourceItem> {
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

  const element = function* (chat: ChatInfo, value: unknown): Generator<SourceItem> {
    if (seen++ < skip) return;
    const items: SourceItem[] = [];
    emit(chat, value, fedBytes, items);
    yield* items;
  };

  try {
    for await (const batch of tokens as AsyncIterable<Token[]>) {
      for (const token of batch) {
        if (assembler) {
          assembler.consume(token);
          if (assembler.done) {
            const message: unknown = assembler.current;
            assembler = undefined;
            yield* element(messageChat!, message);
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
              yield* element(top.chat!, token.value);
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

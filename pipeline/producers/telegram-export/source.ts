import { createReadStream, statSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import streamJson from 'stream-json';
import Assembler from 'stream-json/Assembler.js';
import Batch from 'stream-json/utils/Batch.js';
import { ErrorCode, TidewatchError } from '../../errors.ts';
import { displayName, makeEvent, PROGRESS_EVERY, StatsCounter } from '../common.ts';
import type { Source, SourceItem, SourceOptions } from '../types.ts';
import { mapMessage, type ChatInfo, type MessageContext } from './message.ts';
import { locateSyntaxError } from './offset.ts';
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
 * The file is tokenised as a stream and only one message is assembled at a time, so memory
 * stays flat however large the export is. A chat's `name`/`type`/`id` precede its messages in
 * every export Telegram writes; messages of a chat without an id are rejected, not guessed.
 */
export function openTelegramExportSource(file: string, opts: SourceOptions): Source {
  const name = displayName(file);
  const stats = new StatsCounter();
  return {
    name,
    stats: () => stats.snapshot(),
    items: () => readExport(file, name, opts, stats),
  };
}

async function* readExport(file: string, name: string, opts: SourceOptions, stats: StatsCounter): AsyncGenerator<SourceItem> {
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

  let fedBytes = 0;
  let lastChunkBytes = 0;
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

  const onMessage = function* (chat: ChatInfo, m: Record<string, unknown>): Generator<SourceItem> {
    stats.read++;
    if (opts.onProgress && stats.read % PROGRESS_EVERY === 0) opts.onProgress({ bytesRead: fedBytes, totalBytes, records: stats.read });
    const location = `${name}: chat ${chat.id ?? '?'} message ${m.id === undefined ? `#${stats.read}` : String(m.id)} (byte ~${fedBytes})`;
    const outcome = mapMessage(chat, m, ctx);
    if (outcome.kind === 'ignored') stats.ignore(outcome.what);
    else if (outcome.kind === 'rejected') yield stats.count({ kind: 'rejected', reason: outcome.reason, location });
    else for (const input of outcome.inputs) yield stats.count(makeEvent(input, opts, location));
  };

  const notAMessage = (): SourceItem => {
    stats.read++;
    return stats.count({ kind: 'rejected', reason: 'messages[] element is not a JSON object', location: `${name}: message #${stats.read} (byte ~${fedBytes})` });
  };

  try {
    for await (const batch of tokens as AsyncIterable<Token[]>) {
      for (const token of batch) {
        if (assembler) {
          assembler.consume(token);
          if (assembler.done) {
            const message = assembler.current as Record<string, unknown>;
            assembler = undefined;
            if (message !== null && typeof message === 'object' && !Array.isArray(message)) yield* onMessage(messageChat!, message);
            else yield notAMessage();
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
              yield notAMessage();
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
  opts.onProgress?.({ bytesRead: totalBytes, totalBytes, records: stats.read });
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

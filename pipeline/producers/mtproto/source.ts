import { Api, TelegramClient } from 'telegram';
import { Logger, LogLevel } from 'telegram/extensions/Logger.js';
import { StringSession } from 'telegram/sessions/index.js';
import { ErrorCode, isRetriable, TidewatchError } from '../../errors.ts';
import { logger } from '../../log.ts';
import { retry } from '../../retry.ts';
import type { TokenBucket } from '../../rate-limit.ts';
import type { ChannelSource, Observation, PollTarget } from '../collector/source.ts';
import { chatNames, floodWait, lifecycleOf, observationFromRpcError, observeChannel } from './map.ts';
import type { MtprotoOptions } from './options.ts';
import type { Prompter } from './prompt.ts';
import { apiCredentials, readSession, sessionFilePath, writeSession } from './session.ts';

function newClient(session: string, options: Pick<MtprotoOptions, 'connectionRetries'>): TelegramClient {
  const { apiId, apiHash } = apiCredentials();
  // GramJS logs to the console by default; the session must never reach a log.
  return new TelegramClient(new StringSession(session), apiId, apiHash, { connectionRetries: options.connectionRetries, baseLogger: new Logger(LogLevel.NONE) });
}

/**
 * MTProto through the analyst's own account (GramJS). Each poll resolves the handle (so a handle
 * now naming another channel id is noticed), checks the entity's restrictions, then reads history
 * oldest first above the last seen id (`min_id`), `maxMessagesPerPoll` at a time. Every RPC is
 * paid from the token bucket; a short FLOOD_WAIT is waited out, a long one pauses the bucket.
 */
export class MtprotoSource implements ChannelSource {
  readonly type = 'mtproto' as const;

  private constructor(
    private readonly client: TelegramClient,
    private readonly opts: MtprotoOptions,
    private readonly limiter: TokenBucket,
  ) {}

  static async connect(opts: MtprotoOptions, dataDir: string, limiter: TokenBucket): Promise<MtprotoSource> {
    const client = newClient(await readSession(sessionFilePath(dataDir)), opts);
    await client.connect();
    if (!(await client.checkAuthorization())) {
      throw new TidewatchError(ErrorCode.NOT_CONFIGURED, 'the Telegram session is no longer authorised: run `tidewatch collect login` again');
    }
    return new MtprotoSource(client, opts, limiter);
  }

  async poll(target: PollTarget, signal: AbortSignal): Promise<Observation> {
    const { handle } = target;
    try {
      const resolved = await this.call(handle, signal, () => this.client.invoke(new Api.contacts.ResolveUsername({ username: handle })));
      const peer = resolved.peer;
      const chat = peer instanceof Api.PeerChannel ? resolved.chats.find((c) => c.id.equals(peer.channelId)) : undefined;
      if (!chat) return { kind: 'unknown', reason: `@${handle} resolves to a user or bot, not a channel` };
      const lifecycle = lifecycleOf(chat);
      if (lifecycle) return lifecycle;
      const channel = chat as Api.Channel;
      const input = new Api.InputPeerChannel({ channelId: channel.id, accessHash: channel.accessHash! });
      // A channel id that changed means a new channel: its history starts over.
      const sameChannel = target.platformId === undefined || target.platformId === channel.id.toString();
      const minId = sameChannel ? (target.lastMessageId ?? 0) : 0;
      const limit = this.opts.maxMessagesPerPoll;
      const history = await this.call(handle, signal, () =>
        this.client.invoke(
          new Api.messages.GetHistory(
            // First poll: the newest page. Later: the oldest messages above min_id (offset just
            // above it, shifted by -limit), so a busy channel is caught up over polls, not skipped.
            minId === 0 ? { peer: input, limit } : { peer: input, offsetId: minId + 1, addOffset: -limit, limit, minId },
          ),
        ),
      );
      if (history instanceof Api.messages.MessagesNotModified) return observeChannel(channel, []);
      let subscribers = channel.participantsCount;
      if (subscribers === undefined) {
        const full = await this.call(handle, signal, () => this.client.invoke(new Api.channels.GetFullChannel({ channel: input })));
        if (full.fullChat instanceof Api.ChannelFull) subscribers = full.fullChat.participantsCount;
      }
      return observeChannel(channel, history.messages, { subscribers, names: chatNames(history.chats) });
    } catch (err) {
      if (err instanceof TidewatchError || signal.aborted) throw err;
      return observationFromRpcError(err, handle);
    }
  }

  async close(): Promise<void> {
    await this.client.disconnect();
  }

  private call<T>(handle: string, signal: AbortSignal, rpc: () => Promise<T>): Promise<T> {
    return retry(
      async () => {
        await this.limiter.take(signal);
        try {
          return await rpc();
        } catch (err) {
          // Only FLOOD_WAIT is retried here; the other RPC errors describe the channel (caller maps them).
          const flood = floodWait(err, handle);
          if (!flood) throw err;
          this.limiter.pauseFor(flood.retryAfterMs ?? 0);
          throw flood;
        }
      },
      {
        retries: 2,
        signal,
        retriable: (err) => err instanceof TidewatchError && isRetriable(err) && (err.retryAfterMs ?? 0) <= this.opts.maxFloodWaitMs,
        onRetry: ({ attempt, delayMs }) => logger().warn({ handle, attempt, delayMs }, 'MTProto call retried'),
      },
    );
  }
}

/**
 * `tidewatch collect login`: sign in interactively and store the session (0600). The prompts
 * come from the caller so the command owns the terminal; the password is asked without echo.
 */
export async function login(dataDir: string, prompt: Pick<Prompter, 'ask' | 'askSecret'>, opts: Pick<MtprotoOptions, 'connectionRetries'>): Promise<string> {
  const client = newClient('', opts);
  await client.start({
    phoneNumber: () => prompt.ask('Phone number (international format): '),
    phoneCode: () => prompt.ask('Login code sent by Telegram: '),
    password: (hint) => prompt.askSecret(`Two-step verification password${hint ? ` (hint: ${hint})` : ''} (empty if none): `),
    onError: (err) => {
      throw err;
    },
  });
  const file = sessionFilePath(dataDir);
  await writeSession(file, String(client.session.save()));
  await client.disconnect();
  return file;
}

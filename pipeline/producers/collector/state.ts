import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { ErrorCode, TidewatchError } from '../../errors.ts';
import type { ChannelState } from './lifecycle.ts';

const gapSchema = z.strictObject({ afterId: z.number().int(), beforeId: z.number().int() });

const channelStateSchema = z.strictObject({
  handle: z.string().min(1),
  generation: z.number().int().positive(),
  channelId: z.string().min(1),
  seen: z.boolean(),
  health: z.enum(['ok', 'unknown', 'gone']),
  reason: z.string(),
  gone: z.enum(['banned', 'deleted', 'access_lost']).optional(),
  title: z.string().optional(),
  subscribers: z.number().int().nonnegative().optional(),
  subscribersAt: z.string().optional(),
  exactSubscribersAt: z.string().optional(),
  platformId: z.string().optional(),
  lastMessageId: z.number().int().nonnegative().optional(),
  lastPostAt: z.string().optional(),
  gaps: z.array(gapSchema),
  errors: z.number().int().nonnegative(),
  consecutiveErrors: z.number().int().nonnegative(),
  lastPollAt: z.string().optional(),
  nextPollAt: z.string().optional(),
});

const stateFileSchema = z.strictObject({
  version: z.literal(1),
  collector: z.string(),
  source: z.enum(['preview', 'mtproto']),
  savedAt: z.string(),
  channels: z.record(z.string(), channelStateSchema),
});

export function stateFilePath(dataDir: string, collectorName: string): string {
  return join(dataDir, 'collector', `${collectorName}.json`);
}

/**
 * The collector's memory across restarts: one JSON file per collector, replaced atomically (write
 * a temporary file, then rename) so a crash mid-write leaves the previous state, never half a file.
 * Channels dropped from the watch list keep their state, so adding one back is not a "new" channel.
 */
export class StateStore {
  private writing: Promise<void> = Promise.resolve();
  private pending = false;

  constructor(
    readonly file: string,
    private readonly meta: { collector: string; source: 'preview' | 'mtproto' },
  ) {}

  /** An unreadable state file stops the start-up: starting empty would re-emit every channel. */
  async load(): Promise<Map<string, ChannelState>> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      throw new TidewatchError(ErrorCode.STORE_FAILED, `collector state ${this.file}: cannot read it (${(err as Error).message})`, { cause: err });
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new TidewatchError(ErrorCode.STORE_FAILED, `collector state ${this.file}: not valid JSON (${(err as Error).message}); move it away to start over`);
    }
    const parsed = stateFileSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new TidewatchError(ErrorCode.STORE_FAILED, `collector state ${this.file}: ${issue?.path.map(String).join('.') ?? ''}: ${issue?.message ?? 'invalid'}; move it away to start over`);
    }
    if (parsed.data.source !== this.meta.source) {
      throw new TidewatchError(ErrorCode.CONFIG_INVALID, `collector state ${this.file} belongs to a ${parsed.data.source} collector, not ${this.meta.source}: give this collector another name`);
    }
    return new Map(Object.entries(parsed.data.channels));
  }

  /**
   * Save a snapshot. Saves are serialised; calls made while one is running collapse into one
   * more save of the latest snapshot.
   */
  save(snapshot: () => Map<string, ChannelState>): Promise<void> {
    if (this.pending) return this.writing;
    this.pending = true;
    // A failed save must not wedge the chain: the next save tries again with fresher state.
    this.writing = this.writing.catch(() => undefined).then(async () => {
      this.pending = false;
      await this.write(snapshot());
    });
    return this.writing;
  }

  private async write(channels: Map<string, ChannelState>): Promise<void> {
    const body = JSON.stringify({ version: 1, ...this.meta, savedAt: new Date().toISOString(), channels: Object.fromEntries(channels) }, null, 1);
    const tmp = `${this.file}.${process.pid}.tmp`;
    try {
      await mkdir(dirname(this.file), { recursive: true });
      await writeFile(tmp, body, 'utf8');
      await rename(tmp, this.file);
    } catch (err) {
      throw new TidewatchError(ErrorCode.STORE_FAILED, `collector state ${this.file}: cannot save it (${(err as Error).message})`, { cause: err, retriable: true });
    }
  }
}

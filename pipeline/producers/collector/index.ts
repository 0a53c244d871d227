import type { Clock } from '../../clock.ts';
import type { CollectorOptions } from './options.ts';
import { TokenBucket } from '../../rate-limit.ts';
import type { ChannelSource } from './source.ts';

export * from './collector.ts';
export * from './options.ts';
export * from '../../watch/watch-list.ts';
export * from '../../watch/status.ts';
export { stateFilePath } from './state.ts';
export { channelIdFor, type ChannelState } from './lifecycle.ts';
export type { ChannelSource, Observation, ObservedPost, PollTarget, Gap } from './source.ts';
export { TokenBucket } from '../../rate-limit.ts';
export type { Clock } from '../../clock.ts';

/**
 * The configured source and the one token bucket it pays its requests from. MTProto is imported
 * only when chosen, so the preview collector never loads GramJS.
 */
export async function createChannelSource(options: CollectorOptions, dataDir: string, clock?: Clock): Promise<{ source: ChannelSource; limiter: TokenBucket }> {
  if (options.source === 'mtproto') {
    const limiter = new TokenBucket(options.mtproto, clock);
    const { MtprotoSource } = await import('../mtproto/source.ts');
    return { source: await MtprotoSource.connect(options.mtproto, dataDir, limiter), limiter };
  }
  const limiter = new TokenBucket(options.preview, clock);
  const { PreviewSource } = await import('../preview/source.ts');
  return { source: new PreviewSource(options.preview, limiter, clock), limiter };
}

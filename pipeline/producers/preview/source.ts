import { logger } from '../../log.ts';
import { systemClock, type Clock } from '../../clock.ts';
import type { TokenBucket } from '../../rate-limit.ts';
import type { ChannelSource, Gap, Observation, PollTarget } from '../collector/source.ts';
import { PreviewHttp } from './http.ts';
import type { PreviewOptions } from './options.ts';
import { parseChannelPage, parseContactPage, parseEmbed, type PreviewPost } from './parse.ts';

/** Post embeds tried for a channel without a preview that was never seen (1 is often its creation notice). */
const FIRST_POST_IDS = [1, 2, 3];

/** Gaps kept per channel; beyond this the oldest is given up (and logged), so state stays bounded. */
const MAX_GAPS = 20;

interface PagedBack {
  reached: boolean;
  lowest: number;
}

/**
 * The public web preview as a live source. A poll reads `/s/<handle>`; when the newest page does
 * not reach the last seen post, it pages back with `?before=` (at most `maxPagesPerPoll` pages);
 * whatever is still missing is recorded as a gap and fetched by the next polls, oldest last.
 * When there is no post list, the post embed and `t.me/<handle>` decide between banned, deleted
 * and unknown: a redirect alone proves nothing.
 */
export class PreviewSource implements ChannelSource {
  readonly type = 'preview' as const;
  private readonly http: PreviewHttp;

  constructor(
    private readonly opts: PreviewOptions,
    limiter: TokenBucket,
    clock: Clock = systemClock,
  ) {
    this.http = new PreviewHttp(opts, limiter, clock);
  }

  async poll(target: PollTarget, signal: AbortSignal): Promise<Observation> {
    const { handle } = target;
    const first = await this.http.get(`/s/${handle}`, handle, signal);
    if (first.kind === 'redirect') return this.withoutPreview(target, first.location, signal);
    const page = parseChannelPage(first.body, handle);
    if (page.kind === 'empty') return { kind: 'unknown', reason: page.reason };

    const collected = new Map<number, PreviewPost>();
    const keep = (posts: PreviewPost[], afterId: number, beforeId: number) => {
      for (const p of posts) if (p.id > afterId && p.id < beforeId) collected.set(p.id, p);
    };
    // The whole newest page goes to the collector, which decides what is new: after a ban the
    // handle may name a new channel whose ids start again from 1.
    keep(page.posts, 0, Infinity);

    const real = page.posts.filter((p) => !p.service);
    if (real.length > 0 && real.every((p) => p.stub !== undefined)) {
      // Every post replaced by the takedown text: the page itself states the ban.
      return { kind: 'banned', reason: `every post on the preview shows the ban stub (${real[0]!.stub})` };
    }

    let budget = this.opts.maxPagesPerPoll - 1;
    const gaps: Gap[] = [];
    const lowestOnFirst = Math.min(...page.posts.map((p) => p.id));
    if (target.lastMessageId !== undefined) {
      const last = target.lastMessageId;
      const r = await this.pageBack(handle, page.before ?? lowestOnFirst, lowestOnFirst, last, () => budget--, signal, (posts) => keep(posts, last, Infinity));
      if (!r.reached) gaps.push({ afterId: last, beforeId: r.lowest });
    }
    for (const gap of target.gaps) {
      if (budget <= 0) {
        gaps.push(gap);
        continue;
      }
      const r = await this.pageBack(handle, gap.beforeId, gap.beforeId, gap.afterId, () => budget--, signal, (posts) => keep(posts, gap.afterId, gap.beforeId));
      if (!r.reached) gaps.push({ afterId: gap.afterId, beforeId: r.lowest });
    }
    if (gaps.length > MAX_GAPS) {
      const dropped = gaps.splice(MAX_GAPS);
      logger().warn({ handle, dropped }, 'preview: too many unfetched ranges; the oldest are given up');
    }
    const message1 = collected.get(1);
    const audience = target.exactSubscribersDue ? await this.exactSubscribers(handle, signal) : undefined;
    return {
      kind: 'visible',
      title: page.title,
      subscribers: audience?.subscribers ?? page.subscribers,
      subscribersStep: audience?.subscribersStep ?? page.subscribersStep,
      ...(message1 ? { createdAt: message1.at } : {}),
      posts: [...collected.values()].filter((p) => !p.service && p.stub === undefined).map(({ stub: _stub, service: _service, ...post }) => post),
      gaps,
    };
  }

  async close(): Promise<void> {}

  /**
   * `t.me/<handle>` prints the count in full ("12 345 subscribers") where the preview rounds it
   * ("12.3K"). One more request, so only when due; when it fails, the rounded counter stands in.
   */
  private async exactSubscribers(handle: string, signal: AbortSignal): Promise<{ subscribers: number; subscribersStep: number } | undefined> {
    try {
      const res = await this.http.get(`/${handle}`, handle, signal);
      if (res.kind !== 'page') return undefined;
      const page = parseContactPage(res.body, handle);
      return page.kind === 'exists' && page.subscribers !== undefined ? { subscribers: page.subscribers, subscribersStep: page.subscribersStep ?? 1 } : undefined;
    } catch (err) {
      if (signal.aborted) throw err;
      logger().debug({ handle, err: (err as Error).message }, 'preview: exact subscriber count not read; the rounded counter stands in');
      return undefined;
    }
  }

  /**
   * Fetch `?before=` pages until one reaches `stopAfter + 1` or the page budget runs out. `spend`
   * returns the budget before spending one page.
   */
  private async pageBack(
    handle: string,
    before: number,
    lowest: number,
    stopAfter: number,
    spend: () => number,
    signal: AbortSignal,
    keep: (posts: PreviewPost[]) => void,
  ): Promise<PagedBack> {
    while (lowest > stopAfter + 1) {
      if (spend() <= 0) return { reached: false, lowest };
      const res = await this.http.get(`/s/${handle}?before=${before}`, handle, signal);
      if (res.kind === 'redirect') return { reached: false, lowest };
      const page = parseChannelPage(res.body, handle);
      const ids = page.kind === 'posts' ? page.posts.map((p) => p.id) : [];
      const pageLowest = Math.min(...ids);
      // An empty older page may be throttling, and a page that does not go back is a site change:
      // in both cases the range stays open rather than being declared complete.
      if (page.kind !== 'posts' || pageLowest >= lowest) {
        logger().warn({ handle, before }, 'preview: paging back made no progress; the range is kept for the next poll');
        return { reached: false, lowest };
      }
      keep(page.posts);
      lowest = pageLowest;
      before = page.before !== undefined && page.before < before ? page.before : pageLowest;
    }
    return { reached: true, lowest };
  }

  private async withoutPreview(target: PollTarget, location: string, signal: AbortSignal): Promise<Observation> {
    const { handle } = target;
    if (target.known && target.lastMessageId !== undefined) {
      const embed = await this.http.get(`/${handle}/${target.lastMessageId}?embed=1&mode=tme`, handle, signal);
      if (embed.kind === 'page') {
        const verdict = parseEmbed(embed.body, handle);
        if (verdict.kind === 'banned') return { kind: 'banned', reason: verdict.reason };
      }
    }
    const page = await this.http.get(`/${handle}`, handle, signal);
    if (page.kind === 'redirect') return { kind: 'unknown', reason: `t.me/${handle} redirects to ${page.location}` };
    if (parseContactPage(page.body, handle).kind === 'missing') {
      return { kind: 'deleted', reason: `t.me/${handle} says the username does not exist ("Telegram: Contact")` };
    }
    const noPreview = `no preview: /s/${handle} redirects to ${location}`;
    if (target.lastMessageId === undefined) {
      // Never seen: no post id of its own to check, so its first posts' embeds tell a ban from a
      // channel that only hides its preview (18+, restricted here, content protection).
      const probe = await this.probeFirstPosts(handle, signal);
      if (probe.kind === 'banned') return { kind: 'banned', reason: `${probe.reason} (post ${probe.id})` };
      if (probe.kind === 'visible') return { kind: 'unknown', reason: `${noPreview}, but post ${probe.id} shows in its embed: 18+, restricted in this country or content protection, not a ban` };
      return { kind: 'unknown', reason: `${noPreview}; the embeds of posts ${FIRST_POST_IDS.join(', ')} decide nothing (${probe.why}): cannot tell a ban from 18+ or a restriction` };
    }
    return { kind: 'unknown', reason: `${noPreview} (18+, restricted in this country or content protection; not proof of a ban)` };
  }

  /** The embeds of the first post ids, until one decides (banned, or a post that shows). */
  private async probeFirstPosts(handle: string, signal: AbortSignal): Promise<{ kind: 'banned'; id: number; reason: string } | { kind: 'visible'; id: number } | { kind: 'undecided'; why: string }> {
    const seen: string[] = [];
    for (const id of FIRST_POST_IDS) {
      const embed = await this.http.get(`/${handle}/${id}?embed=1&mode=tme`, handle, signal);
      if (embed.kind === 'redirect') {
        seen.push(`${id}: redirect`);
        continue;
      }
      const verdict = parseEmbed(embed.body, handle);
      if (verdict.kind === 'banned') return { kind: 'banned', id, reason: verdict.reason };
      if (verdict.kind === 'visible') return { kind: 'visible', id };
      seen.push(`${id}: ${verdict.kind === 'not_found' ? 'post not found' : verdict.text}`);
    }
    return { kind: 'undecided', why: seen.join('; ') };
  }
}

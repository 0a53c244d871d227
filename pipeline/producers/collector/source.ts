import type { MEDIA_KINDS } from '../../events/index.ts';

/**
 * What a live source (the public preview, MTProto) reports about one watched channel in one poll.
 * Sources only observe; turning observations into events and state is the collector's job
 * (lifecycle.ts), so both sources produce exactly the same events for the same facts.
 */
export type Observation =
  | {
      kind: 'visible';
      title: string;
      subscribers?: number | undefined;
      /**
       * How far `subscribers` may be from the exact count: the preview's counter rounds ("12.3K":
       * 100). Absent or 1: exact.
       */
      subscribersStep?: number | undefined;
      /** The platform's own id of the channel (MTProto); a change means the handle now names another channel. */
      platformId?: string | undefined;
      /**
       * When the channel's first message (id 1: a post, or its own "channel created" service
       * message) was on the pages read: the evidence of its creation. Absent, first sight is not creation.
       */
      createdAt?: string | undefined;
      /** Posts not emitted before (above the last seen id, or inside a known gap), any order. */
      posts: ObservedPost[];
      /** Ranges still to fetch because the page budget ran out (preview paging). */
      gaps: Gap[];
    }
  | { kind: 'banned'; reason: string }
  | { kind: 'deleted'; reason: string }
  /** The channel exists but this account may no longer read it (went private, account banned from it). */
  | { kind: 'access_lost'; reason: string }
  /** Nothing can be concluded this time (no preview, "no posts found", throttled): never silence, never a ban. */
  | { kind: 'unknown'; reason: string };

export interface ObservedPost {
  id: number;
  /** ISO 8601 with zone. */
  at: string;
  media: (typeof MEDIA_KINDS)[number];
  /** UTF-16 code units, the unit Telegram itself counts text and entity offsets in. */
  length: number;
  text?: string | undefined;
  links: string[];
  forwardedFrom?: string | undefined;
  views?: number | undefined;
}

/** Post ids strictly between afterId and beforeId have not been fetched yet. */
export interface Gap {
  afterId: number;
  beforeId: number;
}

/** What the collector tells a source about a channel before polling it. */
export interface PollTarget {
  handle: string;
  /** Highest post id already emitted for the current generation of the channel. */
  lastMessageId?: number | undefined;
  gaps: Gap[];
  /** Whether this generation was ever seen visible: a missing handle is then a deletion, not a typo. */
  known: boolean;
  platformId?: string | undefined;
  /** The exact subscriber count is due (subscribersRefreshMins): a source that pays for it fetches it now. */
  exactSubscribersDue: boolean;
}

export interface ChannelSource {
  readonly type: 'preview' | 'mtproto';
  /** Throws TidewatchError for transport failures and pages it cannot read (counted as unknown status). */
  poll(target: PollTarget, signal: AbortSignal): Promise<Observation>;
  close(): Promise<void>;
}

import { z } from 'zod';
import { activityEventSchema, canonicalBuiltEvent, canonicalEventMs, LIMITS, type ActivityEvent } from './schema.ts';
import type { BuiltEvent } from './build.ts';
import { completeEvent, type EventDefaults } from './complete.ts';
import { eventId } from './id.ts';

/**
 * The schema compiled ahead of time by zod (`z.compile`): the same checks and output, at about
 * twice the speed of the runtime parser, for the events the fast acceptance (schema.ts,
 * canonicalEventMs) leaves to it. An input the compiled path rejects is parsed again by the
 * runtime parser, so the issues, and the reasons built from them, are the runtime's own.
 */
const compiledEventSchema = z.compile(activityEventSchema);

export type Validation =
  | {
      ok: true;
      event: ActivityEvent;
      /**
       * decodeEvent() only: the decoded text, when the event is exactly its content (accepted as
       * canonical, nothing removed) on one line. A sink can store it instead of serialising again.
       */
      json?: string;
    }
  | { ok: false; reason: string; field?: string };

export interface ValidateOptions {
  /** Injected clock for the "too far in the future" check. */
  nowMs?: number;
  /** Keep message text; otherwise it is removed here, before anything stores it. */
  storeText?: boolean;
  /** Check that event.id matches its parts (off for trusted internal hops). */
  checkId?: boolean;
  /**
   * Take the event as a user writes it (completeEvent): what is missing filled from these. Set
   * where events come in from outside (JSONL files, the ingest endpoint), never on internal hops.
   */
  defaults?: EventDefaults;
}

function formatIssue(issue: z.core.$ZodIssue): { field: string; reason: string } {
  const field = issue.path.length ? issue.path.map(String).join('.') : '(event)';
  if (issue.code === 'unrecognized_keys') {
    return { field, reason: `${field}: unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}` };
  }
  return { field, reason: `${field}: ${issue.message}` };
}

/**
 * Validate one decoded value as an activity event; the reason names the offending field. An event
 * already in canonical form (canonicalEventMs(): what JSON.stringify of a validated event reads
 * back as) is accepted as it is, without the schema's copy; the schema judges everything else.
 */
export function validateEvent(input: unknown, opts: ValidateOptions = {}): Validation {
  const value = opts.defaults ? completeEvent(input, opts.defaults) : input;
  const ms = canonicalEventMs(value);
  if (!Number.isNaN(ms)) return accept(value as ActivityEvent, ms, opts, opts.checkId ?? true);
  return validateWithSchema(value, opts);
}

/**
 * validateEvent() by the schema alone, without the fast acceptance: what validateEvent() does for
 * every event that is not canonical, and the reference its tests compare it with.
 */
export function validateWithSchema(value: unknown, opts: ValidateOptions = {}): Validation {
  const parsed = compiledEventSchema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map(formatIssue);
    return { ok: false, field: issues[0]?.field ?? '(event)', reason: issues.map((i) => i.reason).join('; ') };
  }
  return accept(parsed.data, Date.parse(parsed.data['@timestamp']), opts, opts.checkId ?? true);
}

/**
 * validateEvent() for what buildEventAt() just returned: the same result, with less checked again
 * (schema.ts, canonicalBuiltEvent). The id is the builder's own, so it is not recomputed.
 */
export function validateBuiltEvent(built: BuiltEvent, opts: Omit<ValidateOptions, 'checkId'> = {}): Validation {
  if (canonicalBuiltEvent(built.event, built.ms)) return accept(built.event, built.ms, opts, false);
  return validateWithSchema(built.event, { ...opts, checkId: false });
}

/** The checks after the schema's: the clock, the id, and removing text unless it is kept. */
function accept(event: ActivityEvent, ms: number, opts: ValidateOptions, checkId: boolean): Validation {
  const now = opts.nowMs ?? Date.now();
  if (ms > now + LIMITS.maxFutureMs) {
    return { ok: false, field: '@timestamp', reason: `@timestamp: ${event['@timestamp']} is more than 24 h in the future` };
  }
  if (checkId) {
    const expected = eventId({
      platform: event.platform,
      channelId: event.channel.id,
      action: event.event.action,
      messageId: event.message?.id,
      timestamp: ms,
    });
    if (expected !== event.event.id) {
      return {
        ok: false,
        field: 'event.id',
        reason: `event.id: does not match platform/channel/action/message/time (given ${event.event.id}, expected ${expected})`,
      };
    }
  }
  if (!opts.storeText && event.message?.text !== undefined) {
    const { text: _dropped, ...message } = event.message;
    return { ok: true, event: { ...event, message } };
  }
  return { ok: true, event };
}

/** Decode raw transport bytes and validate; size and JSON errors become reasons too. */
export function decodeEvent(bytes: Buffer | string, opts: ValidateOptions = {}): Validation {
  const size = typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.length;
  if (size > LIMITS.eventBytes) {
    return { ok: false, field: '(message)', reason: `message is ${size} bytes, over the ${LIMITS.eventBytes}-byte limit` };
  }
  const text = typeof bytes === 'string' ? bytes : bytes.toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, field: '(message)', reason: `not valid JSON: ${(err as Error).message}` };
  }
  const v = validateEvent(value, opts);
  // The same object back means the canonical path took it as it is. A newline can only be
  // whitespace between tokens, and would break the NDJSON a bulk request is.
  if (v.ok && v.event === value && !text.includes('\n')) v.json = text;
  return v;
}

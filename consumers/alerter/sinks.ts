import { ErrorCode, TidewatchError } from '../../pipeline/errors.ts';
import type { Logger } from '../../pipeline/log.ts';
import { retry } from '../../pipeline/retry.ts';
import type { AlertRecord } from '../../pipeline/store/types.ts';
import type { WebhookOptions } from './options.ts';

/**
 * Where alerts go besides the alerts index (the store, which is also the alert state). A sink
 * either delivers or throws; the alerter records the outcome per sink on the alert and tries an
 * undelivered alert again at the next evaluation.
 */
export interface AlertSink {
  readonly name: string;
  send(alert: AlertRecord): Promise<void>;
}

/** The console sink: one log line per alert transition. */
export class LogSink implements AlertSink {
  readonly name = 'log';

  constructor(private readonly log: Logger) {}

  async send(alert: AlertRecord): Promise<void> {
    this.log.warn({ alert: { id: alert.id, rule: alert.rule, state: alert.state, severity: alert.severity, subject: alert.subject } }, alert.message);
  }
}

/** What a webhook receives: the alert without its delivery bookkeeping. */
export function webhookPayload(alert: AlertRecord, format: WebhookOptions['format']): unknown {
  if (format === 'slack') {
    const mark = alert.state === 'resolved' && (alert.findingType === 'gap' || alert.findingType === 'status_alert') ? 'RESOLVED' : alert.severity.toUpperCase();
    return { text: `[${mark}] ${alert.message}` };
  }
  const { deliveries: _deliveries, ...rest } = alert;
  return rest;
}

/**
 * Generic JSON webhook (or Slack/Mattermost-compatible `{text}`): each attempt has its own
 * timeout; 5xx, 429, timeouts and connection failures are retried with backoff, other 4xx are
 * final (the receiver will not change its mind).
 */
export class WebhookSink implements AlertSink {
  readonly name: string;

  constructor(
    private readonly options: WebhookOptions,
    private readonly log: Logger,
  ) {
    this.name = `webhook:${options.name}`;
  }

  async send(alert: AlertRecord): Promise<void> {
    const o = this.options;
    const body = JSON.stringify(webhookPayload(alert, o.format));
    await retry(
      async () => {
        let res: Response;
        try {
          res = await fetch(o.url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...o.headers },
            body,
            signal: AbortSignal.timeout(o.timeoutMs),
          });
        } catch (err) {
          const timedOut = (err as Error).name === 'TimeoutError';
          throw new TidewatchError(timedOut ? ErrorCode.TIMEOUT : ErrorCode.HTTP_UPSTREAM, `webhook ${o.name}: ${timedOut ? `no answer within ${o.timeoutMs} ms` : (err as Error).message}`, { cause: err, retriable: true });
        }
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) return;
        const retriable = res.status === 429 || res.status >= 500;
        const after = Number(res.headers.get('retry-after'));
        throw new TidewatchError(retriable && res.status === 429 ? ErrorCode.RATE_LIMITED : ErrorCode.HTTP_UPSTREAM, `webhook ${o.name}: HTTP ${res.status}`, {
          retriable,
          ...(Number.isFinite(after) && after > 0 ? { retryAfterMs: after * 1000 } : {}),
        });
      },
      {
        retries: o.retries,
        initialDelayMs: o.retryInitialDelayMs,
        maxDelayMs: o.retryMaxDelayMs,
        onRetry: ({ attempt, delayMs, error }) => this.log.warn({ sink: this.name, attempt, delayMs, err: (error as Error).message }, 'webhook retry'),
      },
    );
  }
}

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GapFinding } from '../../pipeline/analytics/types.ts';
import { createLogger } from '../../pipeline/log.ts';
import type { AlertRecord, FindingDoc, FindingType, ItemResult, Store } from '../../pipeline/store/types.ts';
import { Alerter } from './alerter.ts';
import { webhookSchema } from './options.ts';
import { ruleSchema } from './rules.ts';
import { WebhookSink, type AlertSink } from './sinks.ts';

const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');

/** Just what the alerter uses of a store: findings by type, and upserts. */
class FakeStore {
  readonly docs = new Map<string, FindingDoc>();
  failWrites = 0;
  async writeFindings(docs: readonly FindingDoc[]): Promise<ItemResult[]> {
    if (this.failWrites > 0) {
      this.failWrites--;
      return docs.map((d) => ({ id: d.id, status: 'failed', retriable: true, code: 'ES_UNAVAILABLE', reason: 'down' }));
    }
    for (const d of docs) this.docs.set(`${d.type}:${d.id}`, structuredClone(d));
    return docs.map((d) => ({ id: d.id, status: 'written' }));
  }
  async findings(type: FindingType): Promise<FindingDoc[]> {
    return [...this.docs.values()].filter((d) => d.type === type).map((d) => structuredClone(d));
  }
  alert(id: string): AlertRecord | undefined {
    return this.docs.get(`alert:${id}`) as AlertRecord | undefined;
  }
}

const gap = (end: string | null): GapFinding => ({
  type: 'gap', id: 'gap:channel:1001:2017-11-22T09:00:00.000Z', scope: 'channel', subject: 'nashir_news', start: '2017-11-22T09:00:00.000Z',
  end, hours: 7, baselineHours: 6.5, unprecedented: true, previousLongestHours: null,
});

let server: Server;
let url: string;
let failFirst = 0;
const received: unknown[] = [];

before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (failFirst > 0) {
        failFirst--;
        res.writeHead(503).end('busy');
        return;
      }
      received.push(JSON.parse(body));
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});

after(() => new Promise<void>((r) => server.close(() => r())));

function setup(opts: { retries: number; extraSinks?: AlertSink[]; format?: 'json' | 'slack'; timezone?: string }) {
  const store = new FakeStore();
  let nowMs = Date.parse('2017-11-22T16:00:00Z');
  const sent: AlertRecord[] = [];
  const memorySink: AlertSink = { name: 'memory', send: async (a) => void sent.push(a) };
  const webhook = new WebhookSink(webhookSchema.parse({ name: 'ops', url, format: opts.format ?? 'json', retries: opts.retries, retryInitialDelayMs: 10, retryMaxDelayMs: 20, timeoutMs: 500 }), log);
  const make = () =>
    new Alerter({
      store: store as unknown as Store,
      rules: [ruleSchema.parse({ name: 'silence', kind: 'silence' })],
      sinks: [memorySink, webhook, ...(opts.extraSinks ?? [])],
      options: { retries: 2, retryInitialDelayMs: 10, retryMaxDelayMs: 20 },
      ...(opts.timezone ? { display: { timezone: opts.timezone } } : {}),
      log,
      now: () => nowMs,
    });
  return { store, sent, make, advance: (ms: number) => (nowMs += ms) };
}

test('webhook failing its first attempts: retried within the delivery, delivered once, the other sink unaffected', async () => {
  received.length = 0;
  failFirst = 2;
  const { store, sent, make } = setup({ retries: 3, format: 'slack' });
  await store.writeFindings([gap(null)]);
  const alerter = make();
  await alerter.loadState();
  await alerter.evaluate('silence');
  await alerter.idle();
  assert.equal(sent.length, 1);
  assert.equal(received.length, 1);
  assert.match((received[0] as { text: string }).text, /^\[WARNING\] Silence: channel nashir_news silent since/);
  const saved = store.alert('silence:gap:channel:1001:2017-11-22T09:00:00.000Z')!;
  assert.deepEqual(saved.deliveries.map((d) => [d.sink, d.status, d.attempts]), [['memory', 'delivered', 1], ['webhook:ops', 'delivered', 1]]);
});

test('display zone: the message reads in the zone of the team; the webhook payload keeps ISO 8601 instants', async () => {
  received.length = 0;
  failFirst = 0;
  const { store, sent, make } = setup({ retries: 0, timezone: 'Asia/Baghdad' });
  await store.writeFindings([gap(null)]);
  const alerter = make();
  await alerter.loadState();
  await alerter.evaluate('silence');
  await alerter.idle();
  assert.match(sent[0]!.message, /^Silence: channel nashir_news silent since 22 Nov 2017 12:00 Asia\/Baghdad \(/);
  const payload = received[0] as Record<string, unknown>;
  assert.equal(payload.message, sent[0]!.message);
  assert.equal(payload.firedAt, '2017-11-22T16:00:00.000Z');
  assert.equal(payload.deliveries, undefined);
});

test('webhook down longer than its retries: the alert is saved as undelivered and sent at a later evaluation', async () => {
  received.length = 0;
  failFirst = 4;
  const { store, sent, make, advance } = setup({ retries: 1 });
  await store.writeFindings([gap(null)]);
  const alerter = make();
  await alerter.loadState();
  await alerter.evaluate('silence');
  await alerter.idle();
  let saved = store.alert('silence:gap:channel:1001:2017-11-22T09:00:00.000Z')!;
  assert.equal(sent.length, 1, 'the other sink delivered at once');
  assert.deepEqual(saved.deliveries.map((d) => [d.sink, d.status]), [['memory', 'delivered'], ['webhook:ops', 'failed']]);
  assert.match(saved.deliveries[1]!.lastError!, /HTTP 503/);
  advance(60_000);
  await alerter.evaluate('silence');
  await alerter.idle();
  assert.equal(received.length, 0, 'still failing (attempts 3 and 4)');
  advance(60_000);
  await alerter.evaluate('silence');
  await alerter.idle();
  saved = store.alert('silence:gap:channel:1001:2017-11-22T09:00:00.000Z')!;
  assert.equal(received.length, 1);
  assert.deepEqual(saved.deliveries.map((d) => [d.sink, d.status, d.attempts]), [['memory', 'delivered', 1], ['webhook:ops', 'delivered', 3]]);
  assert.equal(sent.length, 1, 'the delivered sink was not sent the alert again');
  assert.equal((received[0] as AlertRecord).id, 'silence:gap:channel:1001:2017-11-22T09:00:00.000Z');
});

test('a hanging sink delays neither the evaluation nor the other sinks; a restart resumes and repeats nothing', async () => {
  received.length = 0;
  failFirst = 0;
  let release!: () => void;
  const hanging: AlertSink = { name: 'hanging', send: () => new Promise<void>((r) => (release = r)) };
  const { store, sent, make, advance } = setup({ retries: 0, extraSinks: [hanging] });
  await store.writeFindings([gap(null)]);
  const alerter = make();
  await alerter.loadState();
  await alerter.evaluate('silence');
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(sent.length, 1);
  assert.equal(received.length, 1);
  // The silence ends; the recovery goes out while the first notice is still stuck in one sink.
  await store.writeFindings([gap('2017-11-23T10:09:00.000Z')]);
  advance(60_000);
  await alerter.evaluate('silence');
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(sent.length, 2);
  assert.equal(sent[1]!.state, 'resolved');
  release();
  await alerter.idle();
  // Restart: the saved state is read back; nothing is sent again except what "hanging" still owes.
  const again = make();
  await again.loadState();
  advance(60_000);
  await again.evaluate('silence');
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(sent.length, 2);
  assert.equal(received.length, 2);
  release();
  await again.idle();
  const saved = store.alert('silence:gap:channel:1001:2017-11-22T09:00:00.000Z')!;
  assert.equal(saved.state, 'resolved');
  assert.ok(saved.deliveries.every((d) => d.status === 'delivered'), JSON.stringify(saved.deliveries));
});

test('alert state not saved: nothing is sent, and the next evaluation alerts', async () => {
  const { store, sent, make, advance } = setup({ retries: 0 });
  await store.writeFindings([gap(null)]);
  const alerter = make();
  await alerter.loadState();
  store.failWrites = 3;
  await alerter.evaluate('silence');
  await alerter.idle();
  assert.equal(sent.length, 0);
  assert.equal(alerter.stats.errors, 1);
  // What /healthz reports: the rule's last evaluation failed, and why.
  assert.equal(alerter.lastRuns.get('silence')?.ok, false);
  assert.match(alerter.lastRuns.get('silence')?.error ?? '', /saving 1 alert\(s\): down/);
  advance(60_000);
  await alerter.evaluate('silence');
  await alerter.idle();
  assert.equal(sent.length, 1);
  assert.equal(alerter.lastRuns.get('silence')?.ok, true);
});

test('evaluateKind (an announced silence): the silence rules run at once, others not; announcements and the schedule together alert once', async () => {
  const store = new FakeStore();
  const sent: AlertRecord[] = [];
  const alerter = new Alerter({
    store: store as unknown as Store,
    rules: [ruleSchema.parse({ name: 'silence', kind: 'silence' }), ruleSchema.parse({ name: 'spike', kind: 'spike' })],
    sinks: [{ name: 'memory', send: async (a) => void sent.push(a) }],
    options: { retries: 0, retryInitialDelayMs: 10, retryMaxDelayMs: 20 },
    log,
    now: () => Date.parse('2017-11-22T16:00:00Z'),
  });
  await alerter.loadState();
  await alerter.evaluateKind('silence');
  assert.equal(alerter.stats.evaluations, 1, 'only the silence rule ran');
  assert.deepEqual([...alerter.lastRuns.keys()], ['silence']);
  assert.equal(sent.length, 0, 'nothing stored, nothing alerted');
  await store.writeFindings([gap(null)]);
  // Two announcements and the scheduled run at the same moment.
  await Promise.all([alerter.evaluateKind('silence'), alerter.evaluateKind('silence'), alerter.evaluate('silence')]);
  await alerter.idle();
  assert.deepEqual(sent.map((a) => [a.id, a.state]), [['silence:gap:channel:1001:2017-11-22T09:00:00.000Z', 'firing']]);
  assert.equal(alerter.stats.evaluations, 4);
});

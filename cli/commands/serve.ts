import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Command } from 'commander';
import { loadCredentials, type Credentials, type Role } from '../../pipeline/auth.ts';
import type { Config } from '../../pipeline/config/index.ts';
import type { Logger } from '../../pipeline/log.ts';
import { ErrorCode, TidewatchError } from '../../pipeline/errors.ts';
import type { Store } from '../../pipeline/store/index.ts';
import type { Publisher } from '../../pipeline/transport/index.ts';
import type { Collector } from '../../pipeline/producers/collector/index.ts';
import type { CollectorDelivery } from '../../pipeline/producers/collector/deliver.ts';
import type { EmbeddedOptions } from '../embedded.ts';
import { commandContext, untilSignal } from '../context.ts';
import { action } from '../program.ts';

/** How long an ingest request or a collector's delivery waits for the embedded indexer to store its events. */
const STORED_TIMEOUT_MS = 20_000;

/** Where to listen, plus how the embedded consumers run (clock, the demo's rules and sinks). */
export interface ServeOptions extends EmbeddedOptions {
  host: string;
  port: number;
  /** Listen off the loopback even without credentials for every role (the --insecure flag). */
  insecure?: boolean;
  /**
   * Run the collector here (`serve --watch-list`) over the configured watch list: into the
   * in-process pipeline on the embedded default, to Kafka otherwise.
   */
  collect?: boolean;
}

export interface Serving {
  url: string;
  store: Store;
  /** Publishes to the configured transport (the ingest endpoint and the demo's replay use it). */
  publisher: Publisher;
  /** The in-process collector, when serve collects. */
  collector?: Collector | undefined;
  /** Resolves with the error that stopped an in-process consumer for good. */
  crashed: Promise<Error>;
  /** In order: stop taking requests, drain the transport into the consumers, close the store. */
  stop(): Promise<void>;
}

/** Whether every address `host` names is a loopback one, so only this machine can connect. */
export async function isLoopbackHost(host: string): Promise<boolean> {
  const addresses = isIP(host) ? [host] : host === '' ? [] : (await lookup(host, { all: true }).catch(() => [])).map((a) => a.address);
  return addresses.length > 0 && addresses.every((a) => /^127\./.test(a) || a === '::1' || /^::ffff:127\./i.test(a));
}

const TOKEN_SOURCES: Record<Role, string> = {
  reader: 'TIDEWATCH_READER_TOKEN (the dashboard and /api/*)',
  writer: 'TIDEWATCH_WRITER_TOKEN (ingest, POST /v1/*)',
};

/**
 * The tokens, and the refusal to listen where others can connect without them: a watch list, and
 * what analysts muted and why, are sensitive, and so is the power to write events.
 */
async function credentialsFor(config: Config, log: Logger, options: ServeOptions): Promise<Credentials> {
  const credentials = loadCredentials(config.serve);
  const open = (['reader', 'writer'] as const).filter((role) => credentials[role] === undefined);
  // Behind a reverse proxy a loopback address is no shelter: the proxy passes on whoever reaches it.
  const proxied = config.serve.trustProxy;
  if (open.length === 0 || (!proxied && (await isLoopbackHost(options.host)))) return credentials;
  const missing = open.length > 1 ? 'reader and writer tokens' : `a ${open[0]} token`;
  const where = proxied ? `${options.host} behind a reverse proxy (serve.trustProxy)` : options.host || 'every interface';
  if (!options.insecure) {
    throw new TidewatchError(
      ErrorCode.CONFIG_INVALID,
      `serve: refusing to listen on ${where}${proxied ? '' : ', which is not a loopback address,'} without ${missing}: ` +
        `anyone who can reach the port could ${open.map((r) => (r === 'reader' ? 'read the watch list and findings' : 'write events')).join(' and ')}. ` +
        `Set ${open.map((r) => TOKEN_SOURCES[r]).join(' and ')}, at least 16 characters each (e.g. \`openssl rand -hex 32\`), ` +
        `or ${open.map((r) => `serve.${r}TokenFile`).join(' / ')} in the config file for a token kept in a file; or pass --insecure to serve without ${open.length > 1 ? 'them' : 'it'} anyway.`,
    );
  }
  const warning = `--insecure: listening on ${where} without ${missing}; anyone who can reach the port can ${open.map((r) => (r === 'reader' ? 'read everything' : 'write events')).join(' and ')}`;
  log.warn({ host: options.host, open }, warning);
  process.stderr.write(`tidewatch: WARNING: ${warning}\n`);
  return credentials;
}

/** The dashboard and the ingest endpoint over the configured store and transport. */
export async function startServe(config: Config, log: Logger, options: ServeOptions): Promise<Serving> {
  const credentials = await credentialsFor(config, log, options);
  // Loaded here, not at start-up: registering the commands stays cheap (cli/commands/index.ts).
  const [{ startDashboardServer }, { createIngestHandler }, { createStore }, { createTransport }, { startEmbeddedConsumers }, { MemoryTransport }, { PerClientLimit }, { Metrics }, { openCollect, openKafkaDelivery }] = await Promise.all([
    import('../../dashboards/web/server.ts'),
    import('../../pipeline/producers/http/handler.ts'),
    import('../../pipeline/store/index.ts'),
    import('../../pipeline/transport/index.ts'),
    import('../embedded.ts'),
    import('../../pipeline/transport/memory/transport.ts'),
    import('../../pipeline/rate-limit.ts'),
    import('../../pipeline/metrics/index.ts'),
    import('./collect.ts'),
  ]);
  // Without a served one (the demo) the consumers are still measured, for the dashboard's pipeline strip.
  const metrics = options.metrics ?? new Metrics({ processMetrics: false });
  const store = await createStore(config);
  // What is open so far, closed in this order if start-up fails half-way (cron tasks of the alerter would keep the process alive).
  const opened: { close(): Promise<void> }[] = [store];
  try {
    const transport = await createTransport(config);
    opened.unshift(transport);
    await transport.ensureTopics();
    // Consumers subscribe before anything is published: the memory transport keeps records only for groups it knows.
    const consumers = transport instanceof MemoryTransport ? await startEmbeddedConsumers(config, transport, store, log, { ...options, metrics }) : undefined;
    if (consumers) opened.splice(1, 0, { close: () => consumers.stop() });
    const publisher = await transport.publisher();
    opened.unshift(publisher);
    // In memory, accepted is not kept: the ingest endpoint and the collectors get their answer once
    // the indexer has the events in the store (a producer moves its own state on after it).
    const stored: Publisher = transport instanceof MemoryTransport
      ? { ...publisher, publish: async (events) => { await publisher.publish(events); await transport.handled(config.indexer.groupId, STORED_TIMEOUT_MS); } }
      : publisher;
    // Collectors' status records (serve's own, and `tidewatch collect` delivering here) go where the
    // analyzer's network stage reads them: in this process, or the network topic on Kafka.
    const delivery: CollectorDelivery = consumers
      ? { describe: 'in-process', events: stored, sendStatus: (updates) => consumers.publishStatus(updates), close: async () => {} }
      : await openKafkaDelivery({ ...config, kafka: config.kafka! });
    opened.unshift(delivery);
    const { serve } = config;
    const ingest = createIngestHandler({
      publish: (events) => stored.publish(events),
      publishStatus: (updates) => delivery.sendStatus(updates),
      maxBodyBytes: serve.maxBodyBytes,
      maxEventsPerRequest: serve.maxEventsPerRequest,
      credentials,
      limit: new PerClientLimit({ requestsPerMinute: serve.ingestRequestsPerMinute, burstRequests: serve.ingestBurstRequests }),
      trustProxy: serve.trustProxy,
      storeText: config.storeText,
    });
    const collect = options.collect ? await openCollect(config, log.child({ component: 'collector' }), { delivery, metrics }) : undefined;
    if (collect) opened.unshift(collect);
    const dashboard = await startDashboardServer({ store, host: options.host, port: options.port, log: log.child({ component: 'dashboard' }), credentials, display: config.display, ingest, ...(consumers ? { pipeline: () => consumers.pipeline() } : {}) });
    collect?.collector.start();
    return {
      url: dashboard.url,
      store,
      publisher,
      collector: collect?.collector,
      crashed: consumers?.crashed ?? new Promise<Error>(() => {}),
      async stop() {
        // The collector first: its polls in flight still deliver, and its state is saved.
        await collect?.collector.stop();
        await collect?.close();
        await dashboard.close();
        await delivery.close();
        await publisher.close();
        // Closing the memory transport waits until the consumers have handled what was published.
        await transport.close();
        await consumers?.stop();
        if (!options.metrics) metrics.close();
        await store.close();
      },
    };
  } catch (err) {
    for (const o of opened) await o.close().catch(() => {});
    throw err;
  }
}

/** `tidewatch serve`: the built-in dashboard and POST /v1/events over the configured store and transport. */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve the web dashboard and the HTTP ingest endpoint (POST /v1/events); on the embedded default also runs the indexer, analyzer and alerter')
    .option('--host <host>', 'address to bind (default serve.host, 127.0.0.1)')
    .option('--port <port>', 'port (default serve.port, 8080)')
    .option('--insecure', 'listen off the loopback without reader and writer tokens (logged as a warning); tokens come from TIDEWATCH_READER_TOKEN / TIDEWATCH_WRITER_TOKEN or the config, never from flags')
    .option('--watch-list <file>', 'also collect the channels of this JSON watch list live, in this process (see `tidewatch collect`); without it a watch list of the config only names what is watched')
    .action(
      action(async (flags: { host?: string; port?: string; insecure?: boolean; watchList?: string }, cmd: Command) => {
        const overrides: Record<string, unknown> = {};
        if (flags.host !== undefined) overrides.host = flags.host;
        if (flags.port !== undefined) overrides.port = Number(flags.port);
        const { config, log } = commandContext(cmd, { serve: overrides, ...(flags.watchList ? { collector: { watchListFile: flags.watchList } } : {}) });
        // Only when asked on the command line: a watch list in the config tells the analyzer what is
        // watched, and may be shared with a separate `tidewatch collect` (two collectors on one state would clash).
        const collect = flags.watchList !== undefined;
        const metrics = await (await import('../metrics.ts')).startMetrics(config, log, 'serve');
        const serving = await startServe(config, log, { host: config.serve.host, port: config.serve.port, insecure: flags.insecure === true, clock: { mode: 'live' }, metrics: metrics.metrics, collect });
        metrics.started();
        const collecting = serving.collector ? `; collecting ${serving.collector.channels().length} channel(s)` : '';
        process.stdout.write(`tidewatch: dashboard at ${serving.url} (store: ${serving.store.kind}); ingest at ${serving.url}v1/events${collecting}\n`);
        const reason = await Promise.race([untilSignal(), serving.crashed]);
        process.stdout.write('tidewatch: stopping\n');
        await serving.stop();
        await metrics.close();
        return reason instanceof Error ? 1 : 0;
      }),
    );
}

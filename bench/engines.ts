/**
 * What the pipeline benchmarks share: the engines (the services script, so TIDEWATCH_SERVICES_DIR
 * and the port variables choose which pair), the machine description, a warm-up of
 * Elasticsearch, and the synthetic events.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import type { Client } from '@elastic/elasticsearch';
import { buildEvent, type ActivityEvent } from '../pipeline/events/index.ts';
import { activityIndex } from '../pipeline/store/elasticsearch/templates.ts';
import { status, up } from '../scripts/services.mjs';

export async function benchEngines(): Promise<{ brokers: string[]; esUrl: string }> {
  const e = await up({ quiet: true });
  return { brokers: e.kafka.brokers, esUrl: e.elasticsearch.url };
}

function javaOf(pid: number | null): string {
  if (!pid) return 'unknown';
  try {
    // The engines run in their own process group; the JVM is the leader (Kafka) or its child (ES).
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    for (const p of [pid, ...children.map(Number)]) {
      const exe = readlinkSync(`/proc/${p}/exe`);
      if (!exe.endsWith('/java')) continue;
      const out = spawnSync(exe, ['-version'], { encoding: 'utf8' }).stderr;
      return /version "([^"]+)"/.exec(out)?.[1] ?? 'unknown';
    }
  } catch {
    // Not ours to read (another user) or gone: say so rather than fail the benchmark.
  }
  return 'unknown';
}

/** The machine and engines the figures come from; the load average says how shared it was. */
export async function describeMachine(client: Client): Promise<string[]> {
  const s = await status();
  const nodes = (await client.nodes.info({ metric: ['jvm'] })) as unknown as { nodes: Record<string, { version: string; jvm: { version: string; mem: { heap_max_in_bytes: number } } }> };
  const node = Object.values(nodes.nodes)[0];
  const kafkaJava = javaOf(s.kafka.pid);
  return [
    `| machine | ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores (nproc), ${(totalmem() / 2 ** 30).toFixed(1)} GiB |`,
    `| load average at start (1/5/15 min) | ${loadavg().map((l) => l.toFixed(2)).join(' / ')} |`,
    `| Node | ${process.version} |`,
    `| Kafka | ${s.kafka.version} on Java ${kafkaJava}, ${s.kafka.brokers.join(',')} |`,
    `| Elasticsearch | ${node?.version ?? s.elasticsearch.version} on Java ${node?.jvm.version ?? 'unknown'}, heap ${node ? (node.jvm.mem.heap_max_in_bytes / 2 ** 30).toFixed(1) : '?'} GiB, ${s.elasticsearch.url} |`,
  ];
}

/** A result file's head: its title, then the machine table closed by the load average at the end. */
export function resultHead(title: string, machine: readonly string[]): string[] {
  return [title, '', '| | |', '|---|---|', ...machine, `| load average at end | ${loadavg().map((l) => l.toFixed(2)).join(' / ')} |`, ''];
}

/** ~280-byte events shaped like channel activity, in two monthly indices (as engines.md measured). */
export function benchEvents(count: number, channels = 200): ActivityEvent[] {
  return Array.from({ length: count }, (_, i) =>
    buildEvent({
      timestamp: Date.UTC(2017, 10, 1) + i * 20,
      action: 'post',
      channel: { id: `c${i % channels}`, handle: `h${i % channels}`, title: 'قناة', language: 'ar', network: 'n' },
      message: { id: String(i), media: 'text', length: 100 + (i % 50) },
      source: { type: 'test' },
    }),
  );
}

/**
 * Pre-built `_bulk` bodies of about `flushBytes` each, the way the sink cuts them (the bulk
 * helper flushes once a body reaches flushBytes), with the same `create` + `_id` actions.
 */
export function bulkBodies(prefix: string, events: readonly ActivityEvent[], flushBytes: number): { body: string; docs: number }[] {
  return cutBodies(
    events.map((e) => `${JSON.stringify({ create: { _index: activityIndex(prefix, e['@timestamp']), _id: e.event.id } })}\n${JSON.stringify(e)}\n`),
    flushBytes,
  );
}

/** `_bulk` lines (action + document each) joined into bodies, each cut once it reaches `flushBytes`. */
export function cutBodies(lines: Iterable<string>, flushBytes: number): { body: string; docs: number }[] {
  const bodies: { body: string; docs: number }[] = [];
  let parts: string[] = [];
  let bytes = 0;
  for (const line of lines) {
    parts.push(line);
    bytes += Buffer.byteLength(line);
    if (bytes >= flushBytes) {
      bodies.push({ body: parts.join(''), docs: parts.length });
      parts = [];
      bytes = 0;
    }
  }
  if (parts.length) bodies.push({ body: parts.join(''), docs: parts.length });
  return bodies;
}

/** Posts the bodies with `concurrency` requests in flight; returns documents per second. */
export async function postBodies(client: Client, bodies: readonly { body: string; docs: number }[], concurrency: number): Promise<number> {
  let next = 0;
  let docs = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < bodies.length) {
        const b = bodies[next++]!;
        const res = (await client.transport.request({ method: 'POST', path: '/_bulk', querystring: { filter_path: 'errors,items.*.error' }, bulkBody: b.body })) as { errors: boolean; items?: unknown[] };
        if (res.errors) throw new Error(`raw bulk refused items: ${JSON.stringify(res.items?.slice(0, 1))}`);
        docs += b.docs;
      }
    }),
  );
  return docs / ((performance.now() - t0) / 1000);
}

/**
 * Elasticsearch is about twice as slow right after it starts (engines.md): index and delete
 * `docs` documents before anything is measured.
 */
export async function warmUp(client: Client, prefix: string, docs: number): Promise<number> {
  const bodies = bulkBodies(`${prefix}-warmup`, benchEvents(docs), 1_000_000);
  const rate = await postBodies(client, bodies, 2);
  await client.indices.delete({ index: `${prefix}-warmup-*` });
  return rate;
}

/**
 * A CPU profile of this process over a bench phase (`--profile`): written as a .cpuprofile for
 * Chrome DevTools, and summed up as self time by place and by function for the result table.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

/** Starts profiling when `to` is set; the returned stop writes the profile there and returns its summary ([] when not profiling). */
export async function startProfile(to: string | undefined): Promise<() => Promise<string[]>> {
  if (!to) return async () => [];
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    writeFileSync(to, JSON.stringify(profile));
    return summarizeProfile(profile as CpuProfile);
  };
}

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }[];
  samples?: number[];
}

/** Self time by where the code lives: which library (or our own folder) the samples fall in. */
function summarizeProfile(p: CpuProfile): string[] {
  const total = p.samples?.length ?? p.nodes.reduce((n, x) => n + (x.hitCount ?? 0), 0);
  const byPlace = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const node of p.nodes) {
    const hits = node.hitCount ?? 0;
    if (!hits) continue;
    const { url, functionName, lineNumber } = node.callFrame;
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
    const ours = /\/(pipeline|consumers|bench)\/(.+?)(\.ts)?$/.exec(url);
    const place =
      functionName === '(idle)' ? 'idle: waiting for Kafka / Elasticsearch'
        : pkg ?? (ours ? `tidewatch ${ours[1]}/${ours[2]}` : url.startsWith('node:') ? 'node internals' : functionName ? `(${functionName})` : '(native / v8)');
    byPlace.set(place, (byPlace.get(place) ?? 0) + hits);
    // tsx compiles our files to one line each: their line numbers say nothing.
    const fn = `${functionName || '(anonymous)'} ${pkg ? `${pkg}:${lineNumber + 1}` : ours ? `${ours[1]}/${ours[2]}` : url}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + hits);
  }
  const top = (m: Map<string, number>, n: number) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `| ${k} | ${((v / total) * 100).toFixed(1)}% |`);
  return ['| self time, by place | share |', '|---|---|', ...top(byPlace, 12), '', '| self time, by function | share |', '|---|---|', ...top(byFunction, 15)];
}


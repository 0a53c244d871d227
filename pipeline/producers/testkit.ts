import { fileURLToPath } from 'node:url';
import type { ActivityEvent } from '../events/index.ts';
import type { Source, SourceItem, SourceOptions } from './types.ts';

/** Shared by the producer tests: fixture paths, a fixed clock, and draining a source. */
export const NOW_MS = Date.UTC(2026, 0, 1);

export function fixture(name: string): string {
  return fileURLToPath(new URL(`./testdata/${name}`, import.meta.url));
}

export function options(overrides: Partial<SourceOptions> = {}): SourceOptions {
  return { format: 'auto', storeText: false, nowMs: NOW_MS, ...overrides };
}

export async function drain(source: Source): Promise<{ events: ActivityEvent[]; rejected: Extract<SourceItem, { kind: 'rejected' }>[] }> {
  const events: ActivityEvent[] = [];
  const rejected: Extract<SourceItem, { kind: 'rejected' }>[] = [];
  for await (const item of source.items()) {
    if (item.kind === 'event') events.push(item.event);
    else rejected.push(item);
  }
  return { events, rejected };
}

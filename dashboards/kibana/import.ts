import type { z } from 'zod';
import type { kibanaSchema } from '../../pipeline/config/schema.ts';
import { ErrorCode, TidewatchError } from '../../pipeline/errors.ts';
import { retry, type RetryOptions } from '../../pipeline/retry.ts';

export type KibanaConfig = z.infer<typeof kibanaSchema>;

export interface ImportResult {
  imported: number;
}

interface ImportResponse {
  success?: boolean;
  successCount?: number;
  errors?: { id: string; type: string; title?: string; error?: { type?: string; message?: string; references?: { type: string; id: string }[] } }[];
  message?: string;
}

function authHeader(config: KibanaConfig): Record<string, string> {
  if (config.apiKey) return { authorization: `ApiKey ${config.apiKey}` };
  if (config.username && config.password) return { authorization: `Basic ${Buffer.from(`${config.username}:${config.password}`).toString('base64')}` };
  return {};
}

function describeErrors(errors: NonNullable<ImportResponse['errors']>): string {
  return errors
    .slice(0, 10)
    .map((e) => {
      const missing = e.error?.references?.map((r) => `${r.type}/${r.id}`).join(', ');
      return `${e.type}/${e.id}: ${e.error?.type ?? 'error'}${missing ? ` (missing ${missing})` : ''}${e.error?.message ? ` ${e.error.message}` : ''}`;
    })
    .join('; ');
}

/**
 * An API path under the configured URL, keeping its path: Kibana behind a proxy with
 * `server.basePath` (https://host/kibana) and a space (https://host/kibana/s/analysts, whose
 * objects live under /s/analysts/api/...) both answer there. `new URL('/api/...', base)` would
 * drop the path: a 404 behind a proxy, a silent import into the default space.
 */
export function kibanaApiUrl(base: string, path: string): URL {
  const url = new URL(base);
  const [pathname, search = ''] = path.split('?');
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${pathname}`;
  url.search = search;
  url.hash = '';
  return url;
}

/**
 * Import saved objects with `POST /api/saved_objects/_import?overwrite=true`: the same ids are
 * replaced, so running it again changes nothing. Unreachable or overloaded Kibana (connection
 * refused, 5xx, 429) is retried; a refusal (bad credentials, a rejected object) is final.
 */
export async function importSavedObjects(config: KibanaConfig, ndjson: string, options: Partial<RetryOptions> & { timeoutMs?: number } = {}): Promise<ImportResult> {
  const url = kibanaApiUrl(config.url, '/api/saved_objects/_import?overwrite=true');
  const attempt = async (): Promise<ImportResult> => {
    const form = new FormData();
    form.append('file', new Blob([ndjson], { type: 'application/ndjson' }), 'tidewatch.ndjson');
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        // Kibana rejects API writes without kbn-xsrf (CSRF protection for non-browser clients).
        headers: { 'kbn-xsrf': 'tidewatch', ...authHeader(config) },
        body: form,
        signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new TidewatchError(ErrorCode.HTTP_UPSTREAM, `Kibana at ${config.url} is not reachable (${cause?.code ?? cause?.message ?? (err as Error).message})`, { cause: err, retriable: true });
    }
    const text = await res.text();
    let body: ImportResponse = {};
    try {
      body = JSON.parse(text) as ImportResponse;
    } catch {
      // Proxies answer with HTML; the status line below says enough.
    }
    if (res.status === 401 || res.status === 403) {
      throw new TidewatchError(ErrorCode.HTTP_UPSTREAM, `Kibana at ${config.url} refused the saved objects import (${res.status}${body.message ? `: ${body.message}` : ''}); check KIBANA_API_KEY or KIBANA_USERNAME/KIBANA_PASSWORD and the user's saved objects privileges`);
    }
    if (!res.ok) {
      const retriable = res.status === 429 || res.status >= 500;
      // A 404 is nearly always a URL without Kibana's base path, or with a space that does not exist.
      const hint = res.status === 404 ? ` (POST ${url.pathname}); check that KIBANA_URL includes Kibana's base path (server.basePath) and, for a space, /s/<space-id>` : '';
      throw new TidewatchError(ErrorCode.HTTP_UPSTREAM, `Kibana at ${config.url} answered ${res.status} to the saved objects import${body.message ? `: ${body.message}` : ''}${hint}`, { retriable });
    }
    if (!body.success) {
      const errors = body.errors ?? [];
      throw new TidewatchError(ErrorCode.HTTP_UPSTREAM, `Kibana at ${config.url} rejected ${errors.length} saved object(s): ${describeErrors(errors) || text.slice(0, 500)}`);
    }
    return { imported: body.successCount ?? 0 };
  };
  return retry(attempt, { retries: 5, initialDelayMs: 1_000, maxDelayMs: 10_000, ...options });
}

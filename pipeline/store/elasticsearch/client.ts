import { Client } from '@elastic/elasticsearch';
import type { ElasticsearchConfig } from '../../config/index.ts';
import { ErrorCode, TidewatchError } from '../../errors.ts';

export function createEsClient(config: ElasticsearchConfig): Client {
  const options: ConstructorParameters<typeof Client>[0] = {
    node: config.url,
    requestTimeout: config.requestTimeoutMs,
    // Retries are ours (pipeline/retry.ts) so every layer backs off the same way and counts them.
    maxRetries: 0,
    compression: false,
  };
  if (config.apiKey) options.auth = { apiKey: config.apiKey };
  else if (config.username && config.password) options.auth = { username: config.username, password: config.password };
  return new Client(options);
}

/**
 * Readiness: GET /_cluster/health, because `GET /` (ping, info) is refused by the minimal
 * distribution the tests run on, while every real cluster answers health.
 */
export async function checkEsHealth(client: Client, url: string): Promise<{ status: string }> {
  try {
    const health = await client.cluster.health({ timeout: '5s' });
    return { status: health.status };
  } catch (err) {
    throw new TidewatchError(ErrorCode.ES_UNAVAILABLE, `Elasticsearch at ${url} is not reachable (${(err as Error).message})`, { cause: err, retriable: true });
  }
}

/** Classify an Elasticsearch client error: overload and server errors retry, the rest are final. */
export function esError(err: unknown, what: string): TidewatchError {
  const status = (err as { meta?: { statusCode?: number } })?.meta?.statusCode;
  const name = (err as Error)?.name ?? '';
  if (status === 429) return new TidewatchError(ErrorCode.ES_OVERLOADED, `${what}: Elasticsearch is overloaded (429)`, { cause: err, retriable: true });
  if (status === undefined || status >= 500 || name === 'ConnectionError' || name === 'TimeoutError' || name === 'NoLivingConnectionsError') {
    return new TidewatchError(ErrorCode.ES_UNAVAILABLE, `${what}: ${(err as Error)?.message ?? String(err)}`, { cause: err, retriable: true });
  }
  return new TidewatchError(ErrorCode.ES_REJECTED, `${what}: Elasticsearch refused (${status}): ${(err as Error)?.message ?? String(err)}`, { cause: err, retriable: false });
}

import type { Config } from '../config/index.ts';
import { ErrorCode, TidewatchError } from '../errors.ts';
import type { Transport } from './types.ts';

export type * from './types.ts';

/**
 * The one place that picks a transport from configuration: Kafka when brokers are configured,
 * otherwise the embedded in-process transport.
 */
export async function createTransport(config: Config): Promise<Transport> {
  if (config.kafka) {
    const { KafkaTransport } = await import('./kafka/transport.ts');
    return new KafkaTransport(config.kafka);
  }
  throw new TidewatchError(ErrorCode.NOT_CONFIGURED, 'no transport configured: set KAFKA_BROKERS (the embedded transport is not available yet)');
}

import type { Config } from '../config/index.ts';
import type { Transport } from './types.ts';

export type * from './types.ts';

/**
 * The one place that picks a transport from configuration: Kafka when brokers are configured,
 * otherwise the embedded in-process transport (same topics, same semantics, one process).
 */
export async function createTransport(config: Config): Promise<Transport> {
  if (config.kafka) {
    const { KafkaTransport } = await import('./kafka/transport.ts');
    return new KafkaTransport(config.kafka);
  }
  const { MemoryTransport } = await import('./memory/transport.ts');
  const { memoryTransportSchema } = await import('./memory/options.ts');
  return new MemoryTransport(memoryTransportSchema.parse({}));
}

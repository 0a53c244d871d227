import { Partitioners } from 'kafkajs';

/**
 * The same key -> partition function as the Kafka producer (kafkajs' DefaultPartitioner, Java's
 * murmur2), so a channel lands in the same partition number on both transports.
 */
export function partitionerFor(partitions: number): (key: string | null) => number {
  const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({ partitionId, partitionErrorCode: 0, leader: 0, replicas: [0], isr: [0] }));
  const partitioner = Partitioners.DefaultPartitioner();
  return (key) => partitioner({ topic: '', partitionMetadata, message: { key, value: null } });
}

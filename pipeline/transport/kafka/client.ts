import { Kafka, logLevel, type KafkaConfig as KafkaJsConfig, type LogEntry } from 'kafkajs';
import type { KafkaConfig } from '../../config/index.ts';
import { logger } from '../../log.ts';

/**
 * kafkajs logs through pino. Connection hiccups it retries itself are debug noise, not errors:
 * they only matter when the retries run out, and then the caller's error says so.
 */
function logCreator() {
  const log = logger().child({ component: 'kafkajs' });
  return ({ level, log: entry }: LogEntry) => {
    const { message, ...rest } = entry;
    if (level === logLevel.ERROR || level === logLevel.WARN) log.debug(rest, message);
    else if (level === logLevel.INFO) log.trace(rest, message);
  };
}

/** kafkajs' own retries of a request (connection, leader moves): ridden out before anything is reported. */
export const KAFKA_RETRY = { retries: 8, initialRetryTime: 300, maxRetryTime: 30_000 } as const;

export function createKafka(config: KafkaConfig): Kafka {
  const options: KafkaJsConfig = {
    clientId: config.clientId,
    brokers: config.brokers,
    ssl: config.ssl,
    connectionTimeout: config.connectionTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    logLevel: logLevel.INFO,
    logCreator,
    retry: { ...KAFKA_RETRY },
  };
  if (config.sasl) {
    const { mechanism, username, password } = config.sasl;
    options.sasl = { mechanism, username, password } as KafkaJsConfig['sasl'];
  }
  return new Kafka(options);
}

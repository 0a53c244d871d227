import type { Alerter } from '../consumers/alerter/alerter.ts';
import type { Config } from '../pipeline/config/index.ts';
import type { Logger } from '../pipeline/log.ts';
import { createTransport, type Subscription, type Transport } from '../pipeline/transport/index.ts';

/**
 * On Kafka the analyzer and the alerter are separate processes: the analyzer announces on
 * `alerter.findingsTopic` (one partition) that it has just stored silences a threshold made due,
 * and the alerter evaluates its silence rules on each announcement. The embedded default calls
 * the alerter directly (cli/embedded.ts). An announcement carries no finding: the alerter reads
 * the findings from the store as on its schedule, so it never alerts what the analyzer has not
 * stored, and its dedup by finding id keeps it to one alert per silence.
 */
export async function findingsTopic(config: Config & { kafka: NonNullable<Config['kafka']> }): Promise<Transport> {
  const transport = await createTransport({ ...config, kafka: { ...config.kafka, topic: config.alerter.findingsTopic, partitions: 1 } });
  await transport.ensureTopics();
  return transport;
}

/** The analyzer's side: `announce` for AnalyzerDeps.onSilenceDue. */
export async function silenceAnnouncer(topic: Transport): Promise<{ announce: () => Promise<void>; close: () => Promise<void> }> {
  const publisher = await topic.publisher();
  return {
    announce: () => publisher.publishRaw([{ key: 'silence', value: JSON.stringify({ kind: 'silence', at: new Date().toISOString() }) }]),
    close: () => publisher.close(),
  };
}

/** The alerter's side: one evaluation of the silence rules per batch of announcements (from the latest on: older ones are the schedule's). */
export function followSilences(topic: Transport, groupId: string, alerter: Alerter, log: Logger): Promise<Subscription> {
  return topic.subscribe({ groupId, fromBeginning: false }, async (batch) => {
    log.debug({ announcements: batch.records.length }, 'silences announced: evaluating the silence rules');
    await alerter.evaluateKind('silence');
  });
}

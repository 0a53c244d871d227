/**
 * The second analyzer instance of the pipeline bench's two-instance rows (bench/analyzer.ts): the
 * same wiring as the bench's own instance, in a process of its own, in the same groups. Told over
 * IPC when to start and stop; tells the bench its first batch, what its network stage has taken
 * and its assignments (the bench's "done"), and its stats when it stops.
 */
import { analyzerConfig, openInstance, type ChildMessage } from './analyzer.ts';

const send = (m: ChildMessage) => process.send!(m);
const { engines, run } = JSON.parse(process.argv[2]!) as { engines: { brokers: string[]; esUrl: string }; run: string };
let firstSent = false;
const instance = await openInstance(analyzerConfig(engines, run, 'two'), 'bench-child', {
  firstBatch: (ms) => {
    if (!firstSent) send({ firstBatchAtEpochMs: performance.timeOrigin + ms });
    firstSent = true;
  },
  networkTaken: (upTo) => send({ networkTaken: upTo.map(([p, o]) => [p, o.toString()]) }),
  assigned: (stage, partitions) => send({ assigned: { stage, partitions, atEpochMs: performance.timeOrigin + performance.now() } }),
});
let sub: Awaited<ReturnType<typeof instance.analyzer.start>> | undefined;
process.on('message', (m: { start?: true; stop?: true }) => {
  if (m.start) {
    instance.analyzer.start().then(
      (s) => (sub = s),
      (err: unknown) => {
        process.stderr.write(`analyzer bench, second instance: ${String(err)}\n`);
        process.exit(1);
      },
    );
  } else if (m.stop) {
    send({ stats: instance.analyzer.stats });
    void (async () => {
      await sub?.stop();
      await instance.close();
      process.exit(0);
    })();
  }
});
send({ ready: true });

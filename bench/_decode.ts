import { buildEvent, decodeEvent } from '../pipeline/events/index.ts';
const N = 100000;
const bufs = Array.from({ length: N }, (_, i) => Buffer.from(JSON.stringify(buildEvent({ timestamp: Date.UTC(2017, 10, 1) + i * 1000, action: 'post', channel: { id: `c${i % 200}`, handle: `h${i%200}`, language: 'ar', network: 'n' }, message: { id: String(i), media: 'text', length: 100 }, source: { type: 'test' } }))));
for (const mode of ['parse', 'decode-noid', 'decode']) {
  const t0 = performance.now();
  for (const b of bufs) {
    if (mode === 'parse') JSON.parse(b.toString('utf8'));
    else decodeEvent(b, { checkId: mode === 'decode' });
  }
  console.log(mode, Math.round(N / ((performance.now() - t0) / 1000)), '/s');
}

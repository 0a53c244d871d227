import { makeEvent } from '../common.ts';
import { buildEvent, validateEvent } from '../../events/index.ts';
const input = { timestamp: 1514764800000, action: 'post' as const, channel: { id: '1234567890', title: 'Synthetic نشر' }, message: { id: '5', media: 'text' as const, length: 70 }, links: ['https://t.me/example_5', 'https://tamtam.chat/chan3'], source: { type: 'telegram-export' as const } };
const opts = { format: 'auto' as const, storeText: false };
for (const [name, fn] of [['build', () => buildEvent(input)], ['make', () => makeEvent(input, opts, 'x')], ['validate', (() => { const e = buildEvent(input); return () => validateEvent(e, { checkId: false }); })()]] as const) {
  for (let w = 0; w < 2; w++) { const t = performance.now(); for (let i = 0; i < 50000; i++) (fn as () => unknown)(); if (w) console.log(name, ((performance.now() - t) / 50000 * 1000).toFixed(1), 'µs'); }
}
{
  const e = buildEvent({ ...input, ingested: Date.now() });
  for (let w = 0; w < 2; w++) { const t = performance.now(); for (let i = 0; i < 50000; i++) validateEvent(e, { checkId: false }); if (w) console.log('validate+ingested', ((performance.now() - t) / 50000 * 1000).toFixed(1), 'µs'); }
}

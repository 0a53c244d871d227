import { openSource } from '../index.ts';
for (const f of ['channel-new.json', 'group-old.json', 'account-full.json', 'truncated.json', 'corrupt.json']) {
  const s = openSource(`pipeline/producers/testdata/${f}`, { format: 'auto', storeText: false, nowMs: Date.UTC(2026,0,1), timezone: f.includes('old') ? 'Europe/Berlin' : undefined });
  try {
    for await (const it of s.items()) console.log(JSON.stringify(it.kind === 'event' ? { ts: it.event['@timestamp'], a: it.event.event.action, ch: it.event.channel, m: it.event.message, l: it.event.links, lb: it.event.labels } : it));
  } catch (e) { console.log('ERR', (e as Error).message); }
  console.log(f, JSON.stringify(s.stats?.()));
}

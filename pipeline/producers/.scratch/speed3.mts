import { createReadStream } from 'node:fs';
import sj from 'stream-json';
const f = '/tmp/syn50.json';
let t = Date.now(); let tokens = 0;
const p = sj.parser({ packValues: true, streamValues: false });
(p as any).push = (tok: any) => { if (tok !== null) tokens++; return true; };
for await (const chunk of createReadStream(f, { highWaterMark: 1 << 20 })) {
  await new Promise<void>((res, rej) => (p as any)._transform(chunk, 'buffer', (e: any) => e ? rej(e) : res()));
}
console.log('tokens', tokens, Date.now() - t, 'ms');

import { createReadStream } from 'node:fs';
import sj from 'stream-json';
const f = '/tmp/syn50.json';
for (const opts of [{ packValues: true, streamValues: false }, {}]) {
let t = Date.now(); let tokens = 0;
const p = sj.parser(opts);
createReadStream(f, { highWaterMark: 1 << 20 }).pipe(p);
p.on('data', () => tokens++);
await new Promise((r) => p.on('end', r));
console.log('tokens', tokens, Date.now() - t, 'ms');
}

import sj from 'stream-json';
const p = sj.parser({ packValues: true, streamValues: false });
let fed = 0; const log: string[] = [];
p.on('data', (t: any) => log.push(`${t.name}@${fed}`));
let err: Error | undefined;
p.on('error', (e) => { err = e; log.push(`ERR@${fed} ${e.message}`); });
const s = Buffer.from('{"a": [1, 2,, 3], "b": "x"}');
for (let i = 0; i < s.length && !err; i++) { p.write(s.subarray(i, i + 1)); fed++; }
console.log(log.join('\n'));

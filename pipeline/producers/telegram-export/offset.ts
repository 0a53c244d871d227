import { createReadStream } from 'node:fs';
import streamJson from 'stream-json';

/**
 * Where a JSON syntax error is, to the byte. The streaming pass only knows which read chunk
 * failed; this second pass (run once, on failure) parses again up to that chunk at full speed
 * and then feeds the failing chunk one byte at a time. The parser emits tokens synchronously,
 * so the byte count at the last token before the error is where the bad input starts (within
 * the few bytes of whitespace and punctuation that produce no token).
 */
export async function locateSyntaxError(file: string, chunkStart: number, chunkEnd: number): Promise<number> {
  const parser = streamJson.parser({ packValues: true, streamValues: false });
  let fed = 0;
  let lastTokenAt = 0;
  let failed = false;
  parser.on('data', () => {
    lastTokenAt = fed;
  });
  parser.on('error', () => {
    failed = true;
  });
  const write = (piece: Buffer) =>
    parser.write(piece, (err) => {
      if (err) failed = true;
    });
  for await (const chunk of createReadStream(file, { end: chunkEnd - 1 }) as AsyncIterable<Buffer>) {
    if (fed + chunk.length <= chunkStart) {
      write(chunk);
      fed += chunk.length;
      continue;
    }
    for (let i = 0; i < chunk.length && !failed; i++) {
      write(chunk.subarray(i, i + 1));
      fed++;
    }
    if (failed) break;
  }
  parser.destroy();
  return lastTokenAt;
}

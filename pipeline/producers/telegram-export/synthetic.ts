import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

/**
 * Writes a synthetic single-channel Telegram Desktop export of roughly `targetBytes`, streaming,
 * for the memory test and the throughput benchmark. Messages mix plain text, entity arrays,
 * photos, forwards and edits so the reader does its real work on every one.
 */
export async function writeSyntheticExport(file: string, targetBytes: number): Promise<{ messages: number; bytes: number }> {
  const out = createWriteStream(file);
  let bytes = 0;
  const write = async (s: string) => {
    bytes += Buffer.byteLength(s);
    if (!out.write(s)) await once(out, 'drain');
  };
  await write('{\n "name": "Synthetic نشر",\n "type": "public_channel",\n "id": 1234567890,\n "messages": [\n');
  const start = Date.UTC(2018, 0, 1) / 1000;
  let n = 0;
  let chunk = '';
  while (bytes + chunk.length < targetBytes) {
    n++;
    const unix = start + n * 7;
    const date = new Date(unix * 1000).toISOString().slice(0, 19);
    const rich = n % 3 === 0;
    const text = rich
      ? `[\n    "بيان رقم ${n} ",\n    {\n     "type": "link",\n     "text": "https://t.me/example_${n % 97}"\n    },\n    " و ",\n    {\n     "type": "text_link",\n     "text": "هنا",\n     "href": "https://tamtam.chat/chan${n % 13}"\n    }\n   ]`
      : JSON.stringify(`Message ${n} with some ordinary words to give it a realistic length 📢`);
    chunk += `${n > 1 ? ',\n' : ''}  {\n   "id": ${n},\n   "type": "message",\n   "date": "${date}",\n   "date_unixtime": "${unix}",\n` +
      (n % 10 === 0 ? `   "edited": "${date}",\n   "edited_unixtime": "${unix + 60}",\n` : '') +
      `   "from": "Synthetic نشر",\n   "from_id": "channel1234567890",\n` +
      (n % 7 === 0 ? `   "forwarded_from": "Amaq",\n` : '') +
      (n % 5 === 0 ? `   "photo": "photos/photo_${n}.jpg",\n   "width": 800,\n   "height": 600,\n` : '') +
      `   "text": ${text},\n   "text_entities": []\n  }`;
    if (chunk.length > 256 * 1024) {
      await write(chunk);
      chunk = '';
    }
  }
  await write(`${chunk}\n ]\n}\n`);
  out.end();
  await once(out, 'finish');
  return { messages: n, bytes };
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkFailure } from './errors.ts';

const sysError = (code: string) => Object.assign(new Error(`connect ${code} 127.0.0.1:9`), { code });

test('networkFailure names what "fetch failed" hides: the cause, an AggregateError of addresses, or nothing known', async () => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  const refused = await fetch(`http://127.0.0.1:${port}/`).catch((err: unknown) => err);
  assert.equal((refused as Error).message, 'fetch failed');
  assert.equal(networkFailure(refused), 'connection refused');
  assert.equal(networkFailure(new TypeError('fetch failed', { cause: new AggregateError([sysError('ETIMEDOUT'), sysError('ECONNREFUSED')]) })), 'connection timed out');
  assert.equal(networkFailure(new TypeError('fetch failed', { cause: sysError('ENOTFOUND') })), 'host not found');
  assert.equal(networkFailure(new Error('something else')), undefined);
  assert.equal(networkFailure('not an error'), undefined);
});

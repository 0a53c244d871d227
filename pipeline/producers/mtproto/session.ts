import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ErrorCode, TidewatchError } from '../../errors.ts';

/**
 * The MTProto session string is a full login to the analyst's account: it lives in one file,
 * readable by the owner only (0600), and is never logged or put in the config.
 */
export function sessionFilePath(dataDir: string): string {
  return join(dataDir, 'telegram.session');
}

export async function readSession(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new TidewatchError(ErrorCode.NOT_CONFIGURED, `no Telegram session at ${file}: run \`tidewatch collect login\` first`);
    }
    throw new TidewatchError(ErrorCode.CONFIG_INVALID, `Telegram session ${file}: cannot read it (${(err as Error).message})`);
  }
  // Tighten a copy made with a loose umask before using it.
  await chmod(file, 0o600);
  return text.trim();
}

export async function writeSession(file: string, session: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  // The mode applies only to a file this call creates: a leftover from a crash goes first, and
  // 'wx' refuses anything that appears meanwhile rather than write the session into it.
  await rm(tmp, { force: true });
  await writeFile(tmp, session, { encoding: 'utf8', mode: 0o600, flag: 'wx' });
  await rename(tmp, file);
  await chmod(file, 0o600);
}

/** TELEGRAM_API_ID / TELEGRAM_API_HASH from my.telegram.org, from the environment only. */
export function apiCredentials(env: NodeJS.ProcessEnv = process.env): { apiId: number; apiHash: string } {
  const apiId = Number(env.TELEGRAM_API_ID);
  const apiHash = env.TELEGRAM_API_HASH ?? '';
  if (!Number.isSafeInteger(apiId) || apiId <= 0 || !/^[0-9a-f]{32}$/i.test(apiHash)) {
    throw new TidewatchError(ErrorCode.NOT_CONFIGURED, 'MTProto needs TELEGRAM_API_ID (a number) and TELEGRAM_API_HASH (32 hex characters) from https://my.telegram.org in the environment');
  }
  return { apiId, apiHash };
}

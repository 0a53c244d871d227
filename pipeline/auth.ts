import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { ErrorCode, TidewatchError } from './errors.ts';

/**
 * The two roles of `tidewatch serve`: a reader (the dashboard's data, /api/*) and a writer (the
 * ingest endpoints, /v1/*). Neither token grants the other role, so a collector's credentials
 * cannot read the watch list and an analyst's cannot write events.
 */
export type Role = 'reader' | 'writer';

/** The configured tokens; a role without one is open (on the loopback only: serve refuses otherwise). */
export interface Credentials {
  reader?: string | undefined;
  writer?: string | undefined;
}

/** Printable ASCII without spaces, so it travels in a header as it is; long enough not to be guessed. */
export const bearerTokenSchema = z
  .string()
  .min(16, 'must be at least 16 characters (e.g. `openssl rand -hex 32`)')
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Constant time whatever the input: equal-size hashes are compared, so neither length nor prefix leaks. */
export function tokenEquals(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

/** The token of an `Authorization: Bearer <token>` header, if there is one. */
export function bearerToken(req: IncomingMessage): string | undefined {
  return /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '')?.[1];
}

export interface Refusal {
  status: 401 | 403;
  error: string;
}

/** Headers of a refusal: a 401 names the scheme (RFC 6750), so a client knows what to send. */
export const refusalHeaders = (r: Refusal): Record<string, string> => (r.status === 401 ? { 'www-authenticate': 'Bearer realm="tidewatch"' } : {});

/** null when `presented` may act as `role`; otherwise the status and the reason, never echoing the token. */
export function checkRole(credentials: Credentials, role: Role, presented: string | undefined): Refusal | null {
  const expected = credentials[role];
  if (expected === undefined) return null;
  if (presented === undefined) return { status: 401, error: `this needs the ${role} token: send "Authorization: Bearer <token>"` };
  if (tokenEquals(presented, expected)) return null;
  const other: Role = role === 'reader' ? 'writer' : 'reader';
  const otherToken = credentials[other];
  if (otherToken !== undefined && tokenEquals(presented, otherToken)) {
    return { status: 403, error: `that is the ${other} token, which cannot ${role === 'reader' ? 'read' : 'write'}: this needs the ${role} token` };
  }
  return { status: 401, error: `the token was not accepted: this needs the ${role} token` };
}

export interface TokenSettings {
  readerToken?: string | undefined;
  readerTokenFile?: string | undefined;
  writerToken?: string | undefined;
  writerTokenFile?: string | undefined;
}

function tokenFromFile(key: string, file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TidewatchError(ErrorCode.CONFIG_INVALID, `${key} ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  // A file written by `echo` or an editor ends in a newline that is not part of the token.
  const parsed = bearerTokenSchema.safeParse(text.trim());
  if (!parsed.success) throw new TidewatchError(ErrorCode.CONFIG_INVALID, `${key} ${file}: the token in it ${parsed.error.issues[0]!.message}`);
  return parsed.data;
}

/** The tokens from the config, or from the files it names (read once, at start-up). */
export function loadCredentials(settings: TokenSettings): Credentials {
  const reader = settings.readerTokenFile !== undefined ? tokenFromFile('serve.readerTokenFile', settings.readerTokenFile) : settings.readerToken;
  const writer = settings.writerTokenFile !== undefined ? tokenFromFile('serve.writerTokenFile', settings.writerTokenFile) : settings.writerToken;
  if (reader !== undefined && writer !== undefined && tokenEquals(reader, writer)) {
    throw new TidewatchError(ErrorCode.CONFIG_INVALID, 'serve: the reader and writer tokens are the same; give each role its own token');
  }
  return { reader, writer };
}

import { pino, type Logger } from 'pino';

export type { Logger };

/** Keys whose values never reach a log line, wherever they are nested. */
const REDACT = [
  'password', '*.password', '*.*.password',
  'apiKey', '*.apiKey', '*.*.apiKey',
  'token', '*.token', '*.*.token',
  'readerToken', '*.readerToken', '*.*.readerToken',
  'writerToken', '*.writerToken', '*.*.writerToken',
  'authorization', '*.authorization', '*.headers.authorization',
  'session', '*.session', 'apiHash', '*.apiHash',
  '*.sasl', 'sasl',
];

let root: Logger | undefined;

/**
 * The one logger. JSON lines on stderr so stdout stays free for command output (analyze --json).
 */
export function createLogger(level: string = process.env.TIDEWATCH_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, redact: { paths: REDACT, censor: '[redacted]' }, base: { app: 'tidewatch' } }, pino.destination(2));
}

export function logger(): Logger {
  root ??= createLogger();
  return root;
}

export function setLogger(l: Logger): void {
  root = l;
}

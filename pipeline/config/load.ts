import { readFileSync } from 'node:fs';
import { ErrorCode, TidewatchError } from '../errors.ts';
import { configSchema, type Config } from './schema.ts';

export interface LoadOptions {
  /** Path of a JSON config file; TIDEWATCH_CONFIG when absent. */
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Highest precedence: command-line flags already shaped like the config. */
  overrides?: Record<string, unknown>;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function merge(a: Json, b: Json): Json {
  const out: Json = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = isObject(v) && isObject(out[k]) ? merge(out[k] as Json, v) : v;
  return out;
}

function intEnv(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  // Leave the string in place so the schema reports it with its path instead of us guessing.
  return Number.isFinite(n) ? n : (raw as unknown as number);
}

/** The documented environment variables, mapped onto the config's shape. */
export function configFromEnv(env: NodeJS.ProcessEnv): Json {
  const out: Json = {};
  const set = (path: string[], value: unknown) => {
    // Empty variables count as unset, as shells and compose files commonly leave them.
    if (value === undefined || value === '' || (Array.isArray(value) && value.length === 0)) return;
    let node = out;
    for (const key of path.slice(0, -1)) node = (node[key] ??= {}) as Json;
    node[path[path.length - 1]!] = value;
  };
  set(['kafka', 'brokers'], env.KAFKA_BROKERS?.split(',').map((s) => s.trim()).filter(Boolean));
  if (env.KAFKA_BROKERS) {
    set(['kafka', 'topic'], env.KAFKA_TOPIC);
    set(['kafka', 'dlqTopic'], env.KAFKA_DLQ_TOPIC);
    set(['kafka', 'ssl'], env.KAFKA_SSL === undefined ? undefined : env.KAFKA_SSL === 'true');
    if (env.KAFKA_SASL_MECHANISM) {
      set(['kafka', 'sasl'], { mechanism: env.KAFKA_SASL_MECHANISM, username: env.KAFKA_SASL_USERNAME, password: env.KAFKA_SASL_PASSWORD });
    }
  }
  set(['elasticsearch', 'url'], env.ELASTICSEARCH_URL);
  if (env.ELASTICSEARCH_URL) {
    set(['elasticsearch', 'apiKey'], env.ELASTICSEARCH_API_KEY);
    set(['elasticsearch', 'username'], env.ELASTICSEARCH_USERNAME);
    set(['elasticsearch', 'password'], env.ELASTICSEARCH_PASSWORD);
    set(['elasticsearch', 'indexPrefix'], env.ELASTICSEARCH_INDEX_PREFIX);
  }
  set(['kibana', 'url'], env.KIBANA_URL);
  if (env.KIBANA_URL) {
    set(['kibana', 'apiKey'], env.KIBANA_API_KEY);
    set(['kibana', 'username'], env.KIBANA_USERNAME);
    set(['kibana', 'password'], env.KIBANA_PASSWORD);
  }
  set(['dataDir'], env.TIDEWATCH_DATA_DIR);
  set(['logLevel'], env.TIDEWATCH_LOG_LEVEL);
  set(['storeText'], env.TIDEWATCH_STORE_TEXT === undefined ? undefined : env.TIDEWATCH_STORE_TEXT === 'true');
  set(['display', 'timezone'], env.TIDEWATCH_DISPLAY_TIMEZONE);
  set(['serve', 'port'], intEnv(env, 'TIDEWATCH_PORT'));
  set(['serve', 'host'], env.TIDEWATCH_HOST);
  set(['serve', 'readerToken'], env.TIDEWATCH_READER_TOKEN);
  set(['serve', 'readerTokenFile'], env.TIDEWATCH_READER_TOKEN_FILE);
  // TIDEWATCH_INGEST_TOKEN is the writer token's name from before there were two roles.
  set(['serve', 'writerToken'], env.TIDEWATCH_WRITER_TOKEN || env.TIDEWATCH_INGEST_TOKEN);
  set(['serve', 'writerTokenFile'], env.TIDEWATCH_WRITER_TOKEN_FILE);
  set(['metrics', 'port'], intEnv(env, 'TIDEWATCH_METRICS_PORT'));
  set(['metrics', 'host'], env.TIDEWATCH_METRICS_HOST);
  return out;
}

/**
 * Load and validate the configuration once, at start-up. Precedence: file < env < overrides.
 * Every problem is listed with its path in one error, so a user fixes them all in one go.
 */
export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  const file = opts.file ?? env.TIDEWATCH_CONFIG;
  let fromFile: Json = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new TidewatchError(ErrorCode.CONFIG_INVALID, `config file ${file}: cannot read it (${(err as Error).message})`);
    }
    try {
      const parsed: unknown = JSON.parse(text);
      if (!isObject(parsed)) throw new Error('top level must be a JSON object');
      fromFile = parsed;
    } catch (err) {
      throw new TidewatchError(ErrorCode.CONFIG_INVALID, `config file ${file}: not valid JSON (${(err as Error).message})`);
    }
  }
  const merged = merge(merge(fromFile, configFromEnv(env)), opts.overrides ?? {});
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    const lines = result.error.issues.map((i) => {
      const path = i.path.length ? i.path.map(String).join('.') : '(root)';
      const msg = i.code === 'unrecognized_keys' ? `unknown key(s) ${i.keys.map((k) => `"${k}"`).join(', ')}` : i.message;
      return `  - ${path}: ${msg}`;
    });
    const where = file ? ` (file ${file} and environment)` : ' (environment)';
    throw new TidewatchError(ErrorCode.CONFIG_INVALID, `invalid configuration${where}:\n${lines.join('\n')}`, {
      details: { issues: result.error.issues.length },
    });
  }
  return result.data;
}

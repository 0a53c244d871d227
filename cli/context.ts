import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { BUNDLED_CATALOGUE, mergeCatalogues, parseCatalogue, type PlatformCatalogue } from '../pipeline/analytics/links.ts';
import { loadConfig, type Config } from '../pipeline/config/index.ts';
import { ErrorCode, errorMessage, TidewatchError } from '../pipeline/errors.ts';
import { createLogger, setLogger, type Logger } from '../pipeline/log.ts';

/** Load the validated config (global --config flag, env) and set up the one logger. */
export function commandContext(cmd: Command, overrides: Record<string, unknown> = {}): { config: Config; log: Logger } {
  const root = cmd.optsWithGlobals() as { config?: string };
  const config = loadConfig({ file: root.config, overrides });
  const log = createLogger(config.logLevel);
  setLogger(log);
  return { config, log };
}

/** The platform catalogue: the bundled one, merged with `analytics.migration.catalogueFile` when set. */
export function loadCatalogue(file: string | undefined): PlatformCatalogue {
  if (file === undefined) return BUNDLED_CATALOGUE;
  try {
    return mergeCatalogues(BUNDLED_CATALOGUE, parseCatalogue(JSON.parse(readFileSync(file, 'utf8'))));
  } catch (err) {
    throw new TidewatchError(ErrorCode.CONFIG_INVALID, `platform catalogue ${file}: ${errorMessage(err)}`);
  }
}

export function requireEngines(config: Config, what: string): asserts config is Config & { kafka: NonNullable<Config['kafka']>; elasticsearch: NonNullable<Config['elasticsearch']> } {
  const missing = [!config.kafka && 'KAFKA_BROKERS', !config.elasticsearch && 'ELASTICSEARCH_URL'].filter(Boolean);
  if (missing.length) {
    throw new TidewatchError(ErrorCode.NOT_CONFIGURED, `${what} needs ${missing.join(' and ')} (Kafka and Elasticsearch); without them use \`tidewatch demo\`, the embedded default`);
  }
}

/** Resolve on the first SIGINT/SIGTERM so a long-running command can finish its batch and close. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(sig);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

// Types for scripts/services.mjs (plain Node so it runs before any TypeScript tooling exists),
// so TypeScript tests such as the fault suite can import it under `strict`.
export type EngineName = 'kafka' | 'elasticsearch';

export interface Engines {
  kafka: { brokers: string[] };
  elasticsearch: { url: string };
  /** The services folder (TIDEWATCH_SERVICES_DIR): caches, data, logs, pid files. */
  dir: string;
}

export interface EngineStatus {
  running: boolean;
  /** Answered a probe just now (Kafka: listTopics; Elasticsearch: cluster health yellow). */
  healthy: boolean;
  pid: number | null;
  version: string;
  installed: boolean;
  brokers?: string[];
  url?: string;
  log: string;
}

export interface Status {
  dir: string;
  kafka: EngineStatus & { brokers: string[] };
  elasticsearch: EngineStatus & { url: string };
}

export function up(opts?: { quiet?: boolean }): Promise<Engines>;
export function down(opts?: { quiet?: boolean }): Promise<void>;
export function status(): Promise<Status>;
export function start(name: EngineName, opts?: { quiet?: boolean }): Promise<{ brokers: string[] } | { url: string }>;
/** `force`: SIGKILL at once (a crash) instead of SIGTERM then SIGKILL after 30 s. Resolves true if it was running. */
export function stop(name: EngineName, opts?: { quiet?: boolean; force?: boolean }): Promise<boolean>;
export function restart(name: EngineName, opts?: { quiet?: boolean; force?: boolean }): Promise<{ brokers: string[] } | { url: string }>;

// Types for scripts/provision.mjs (plain Node, like services.mjs), for the TypeScript tests.
export function canAptInstall(): boolean;
export function aptInstall(candidates: string[]): Promise<string>;
export function ensureCommand(command: string, packages: string[], why: string): Promise<string>;
export function chromiumPath(): Promise<string>;

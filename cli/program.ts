import { Command } from 'commander';
import { TidewatchError } from '../pipeline/errors.ts';
import { logger } from '../pipeline/log.ts';

/**
 * Exit codes: 0 ok, 1 failure, 2 bad usage or configuration, 3 input had rejected records.
 */
export const ExitCode = { OK: 0, FAILURE: 1, USAGE: 2, REJECTED: 3 } as const;

/** Run a command body and turn errors into one clear line and a non-zero exit code. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<number | void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      const code = await fn(...args);
      process.exitCode = code ?? ExitCode.OK;
    } catch (err) {
      if (err instanceof TidewatchError) {
        process.stderr.write(`tidewatch: ${err.message}\n`);
        logger().debug({ err }, 'command failed');
        process.exitCode = err.code === 'CONFIG_INVALID' || err.code === 'NOT_CONFIGURED' ? ExitCode.USAGE : ExitCode.FAILURE;
      } else {
        process.stderr.write(`tidewatch: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
        process.exitCode = ExitCode.FAILURE;
      }
    }
  };
}

export function createProgram(): Command {
  return new Command('tidewatch')
    .description('Trend analysis of public messaging channels: silence gaps, migration, takedowns, spikes')
    .option('-c, --config <file>', 'JSON config file (also TIDEWATCH_CONFIG)')
    .showHelpAfterError()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .exitOverride((err) => {
      // commander exits 1 on usage errors; ours is 2 so scripts can tell bad usage from failure.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0) process.exit(0);
      process.exit(ExitCode.USAGE);
    });
}

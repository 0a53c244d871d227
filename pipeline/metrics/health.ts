/**
 * What /healthz answers. Components report checks (push: `report`) or register a function read
 * at every request (pull: `register`). A failing check makes the process *not ready* at once and
 * *not live* once it has failed for longer than its grace: for an engine, the retry window the
 * component already rides out by itself, so a hiccup the retries absorb never restarts anything.
 */
export interface CheckState {
  ok: boolean;
  /** Why not, in words an operator can act on. */
  reason?: string | undefined;
}

export interface CheckVerdict extends CheckState {
  /** Seconds the check has been failing (0 while ok). */
  failingSecs: number;
  /** Failing for longer than its grace: the process is not live. */
  fatal: boolean;
}

export interface HealthVerdict {
  live: boolean;
  ready: boolean;
  checks: Record<string, CheckVerdict>;
}

interface Check {
  graceMs: number;
  read?: () => CheckState;
  last: CheckState;
  /** Wall clock of the first failure of the current failing streak. */
  failingSinceMs: number | null;
}

export class Health {
  private readonly checks = new Map<string, Check>();

  constructor(private readonly now: () => number = Date.now) {}

  /** A check whose state the component pushes; it starts failing with `initial` (e.g. "starting"). */
  define(name: string, options: { graceMs?: number; initial?: CheckState } = {}): void {
    const initial = options.initial ?? { ok: true };
    this.checks.set(name, { graceMs: options.graceMs ?? 0, last: initial, failingSinceMs: initial.ok ? null : this.now() });
  }

  report(name: string, state: CheckState): void {
    const check = this.checks.get(name);
    if (!check) throw new RangeError(`health check ${name} is not defined`);
    this.update(check, state);
  }

  /** A check read at every /healthz request (its own clock decides, e.g. the age of a heartbeat). */
  register(name: string, read: () => CheckState, options: { graceMs?: number } = {}): void {
    this.checks.set(name, { graceMs: options.graceMs ?? 0, read, last: { ok: true }, failingSinceMs: null });
  }

  private update(check: Check, state: CheckState): void {
    if (state.ok) check.failingSinceMs = null;
    else check.failingSinceMs ??= this.now();
    check.last = state;
  }

  verdict(): HealthVerdict {
    const nowMs = this.now();
    const checks: Record<string, CheckVerdict> = {};
    let live = true;
    let ready = true;
    for (const [name, check] of this.checks) {
      if (check.read) {
        let state: CheckState;
        try {
          state = check.read();
        } catch (err) {
          state = { ok: false, reason: `check failed: ${(err as Error).message}` };
        }
        this.update(check, state);
      }
      const failingMs = check.failingSinceMs === null ? 0 : nowMs - check.failingSinceMs;
      const fatal = !check.last.ok && failingMs >= check.graceMs;
      checks[name] = { ...check.last, failingSecs: Math.round(failingMs / 1000), fatal };
      if (!check.last.ok) ready = false;
      if (fatal) live = false;
    }
    return { live, ready, checks };
  }
}

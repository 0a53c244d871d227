/**
 * Who used the 2 cores during a bench phase: CPU time of the Elasticsearch and Kafka JVMs (every
 * process of each engine's process group, as the services script starts them), of this process,
 * and of the whole machine (the rest is other work on it), from /proc, as cores used over the
 * phase's wall time, and how long Elasticsearch's threads waited for a core meanwhile. And CPU
 * affinity, to rerun a phase with Elasticsearch on a core of its own.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { status } from '../scripts/services.mjs';

export interface EnginePids {
  elasticsearch: number[];
  kafka: number[];
}

const TICKS_PER_SEC = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses). */
function statFields(pid: number): string[] | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Every process of the group `leader` leads: the engine's launcher and its JVM(s). */
function processGroup(leader: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    // After the name: state, ppid, pgrp.
    if (Number(statFields(Number(name))?.[2]) === leader) pids.push(Number(name));
  }
  return pids;
}

/** The engines' processes, from the services script's pid files (TIDEWATCH_SERVICES_DIR chooses which pair). */
export async function enginePids(): Promise<EnginePids> {
  const s = await status();
  return {
    elasticsearch: s.elasticsearch.pid ? processGroup(s.elasticsearch.pid) : [],
    kafka: s.kafka.pid ? processGroup(s.kafka.pid) : [],
  };
}

/** utime + stime of the processes, in clock ticks (a process that has exited counts 0). */
function ticksOf(pids: readonly number[]): number {
  let t = 0;
  for (const pid of pids) {
    const f = statFields(pid);
    // utime and stime are fields 14 and 15 of stat: 12 and 13 after the name.
    if (f) t += Number(f[11]) + Number(f[12]);
  }
  return t;
}

/** CPU milliseconds (user + system, all threads) a process has used so far; 0 once it has exited. */
export const cpuMsOf = (pid: number): number => (ticksOf([pid]) / TICKS_PER_SEC) * 1000;

/**
 * Nanoseconds the processes' threads spent runnable but waiting for a core (the second field of
 * each thread's /proc schedstat); a thread that exited meanwhile is not counted.
 */
function runQueueNs(pids: readonly number[]): number {
  let ns = 0;
  for (const pid of pids) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[1]);
      } catch {
        // The thread ended between the listing and the read.
      }
    }
  }
  return ns;
}

/** Busy ticks of the whole machine (all cores): everything but idle and iowait. */
function machineTicks(): number {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1, 9).map(Number);
  return cpu.reduce((a, b) => a + b, 0) - cpu[3]! - cpu[4]!;
}

/** Busy CPU milliseconds of the whole machine so far (all cores). */
export const machineCpuMs = (): number => (machineTicks() / TICKS_PER_SEC) * 1000;

export interface CpuUse {
  /** Cores used on average over the phase (1.0 = one core busy all the time). */
  elasticsearch: number;
  /**
   * Elasticsearch's threads runnable but waiting for a core, summed over its threads (1.0 = one
   * thread waiting all the time): a thread pool counts such a thread as active although it burns
   * no CPU, so this tells "busy but starved of cores" from "waiting for work".
   */
  esWaitingForCore: number;
  kafka: number;
  bench: number;
  machine: number;
  /** 1-minute load average at the end of the phase. */
  load1: number;
}

/** Measures `fn`'s phase: returns its result and the CPU each party used meanwhile. */
export async function withCpu<T>(pids: EnginePids, fn: () => Promise<T>): Promise<{ result: T; cpu: CpuUse }> {
  const self = [process.pid];
  const before = { es: ticksOf(pids.elasticsearch), esWait: runQueueNs(pids.elasticsearch), kafka: ticksOf(pids.kafka), bench: ticksOf(self), machine: machineTicks() };
  const t0 = performance.now();
  const result = await fn();
  const secs = (performance.now() - t0) / 1000;
  const cores = (ticks: number) => ticks / TICKS_PER_SEC / secs;
  return {
    result,
    cpu: {
      elasticsearch: cores(ticksOf(pids.elasticsearch) - before.es),
      esWaitingForCore: (runQueueNs(pids.elasticsearch) - before.esWait) / 1e9 / secs,
      kafka: cores(ticksOf(pids.kafka) - before.kafka),
      bench: cores(ticksOf(self) - before.bench),
      machine: cores(machineTicks() - before.machine),
      load1: loadavg()[0]!,
    },
  };
}

/**
 * CPU milliseconds the pipeline's own processes (Elasticsearch, Kafka, this one) spent per 1,000
 * documents of a phase at `docsPerSec`: unlike a rate, it hardly moves with other work on the
 * machine, so phases compare even when their share of the cores differed.
 */
export const cpuMsPerKDocs = (c: CpuUse, docsPerSec: number): number => ((c.elasticsearch + c.kafka + c.bench) / docsPerSec) * 1e6;

export const formatCpu = (c: CpuUse): string =>
  `ES ${c.elasticsearch.toFixed(2)} (its threads waiting for a core ${c.esWaitingForCore.toFixed(2)}), Kafka ${c.kafka.toFixed(2)}, bench process ${c.bench.toFixed(2)}; machine ${c.machine.toFixed(2)} (others ${Math.max(0, c.machine - c.elasticsearch - c.kafka - c.bench).toFixed(2)}); load ${c.load1.toFixed(2)}`;

function taskset(cores: string, pids: readonly number[]): void {
  for (const pid of pids) {
    // -a: every thread (a JVM's threads each carry their own affinity).
    const r = spawnSync('taskset', ['-a', '-cp', cores, String(pid)], { encoding: 'utf8' });
    // A launcher that exited meanwhile is no error; anything else is.
    if (r.status !== 0 && statFields(pid)) throw new Error(`taskset -a -cp ${cores} ${pid} failed: ${r.stderr || r.error?.message}`);
  }
}

/**
 * Runs `fn` with Elasticsearch alone on core 1 and Kafka plus this process on core 0, the
 * headroom a separate Elasticsearch node would give; every affinity is restored to both cores
 * afterwards, whatever happens (the engines are shared with other work on the machine).
 */
export async function withEsPinned<T>(pids: EnginePids, fn: () => Promise<T>): Promise<T> {
  try {
    taskset('1', pids.elasticsearch);
    taskset('0', [...pids.kafka, process.pid]);
    return await fn();
  } finally {
    taskset('0,1', [...pids.elasticsearch, ...pids.kafka, process.pid]);
  }
}

import type { Command } from 'commander';
import { registerAnalyze } from './analyze.ts';
import { registerCollect } from './collect.ts';
import { registerDemo } from './demo.ts';
import { registerImport } from './import.ts';
import { registerMute } from './mute.ts';
import { registerReanalyze } from './reanalyze.ts';
import { registerReplay } from './replay.ts';
import { registerReport } from './report.ts';
import { registerRun } from './run.ts';
import { registerServe } from './serve.ts';
import { registerSetup } from './setup.ts';
import { registerStatus } from './status.ts';

/** Each command module wires one process: it is the only place stages meet. */
export type RegisterCommand = (program: Command) => void;

export const COMMANDS: RegisterCommand[] = [registerImport, registerReplay, registerSetup, registerRun, registerAnalyze, registerReanalyze, registerCollect, registerServe, registerDemo, registerReport, registerStatus, registerMute];

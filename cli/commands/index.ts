import type { Command } from 'commander';

/** Each command module wires one process: it is the only place stages meet. */
export type RegisterCommand = (program: Command) => void;

export const COMMANDS: RegisterCommand[] = [];

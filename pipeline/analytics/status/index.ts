export * from './types.ts';
export { statusSchema, type StatusOptions } from './options.ts';
export { statusCore, type StatusState } from './core.ts';

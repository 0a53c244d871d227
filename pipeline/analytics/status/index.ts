export * from './types.ts';
export { statusSchema, type StatusOptions } from './options.ts';
export { statusCore, type StatusState } from './core.ts';
export { nextOverride, overrideInForce, overrideReason, overridesInForce } from './overrides.ts';
export { statusView, type StatusRow } from './view.ts';

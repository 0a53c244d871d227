export * from './schema.ts';
export * from './id.ts';
export * from './build.ts';
export * from './validate.ts';
export * from './complete.ts';

export * from './options.ts';
export * from './health.ts';
export * from './lag.ts';
export * from './registry.ts';
export * from './server.ts';
export * from './consumer.ts';

#!/usr/bin/env node
// Runs the TypeScript sources directly: one code path for `npm start`, the CLI and the tests.
import { register } from 'tsx/esm/api';

register();
await import('../cli/index.ts');

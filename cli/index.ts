import { createProgram } from './program.ts';
import { COMMANDS } from './commands/index.ts';

const program = createProgram();
for (const register of COMMANDS) register(program);
await program.parseAsync(process.argv);

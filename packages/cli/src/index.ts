export { main } from './main.js';
export { CliError } from './cli-error.js';
export type { Command } from './command.js';
export { processIo, type Io } from './io.js';

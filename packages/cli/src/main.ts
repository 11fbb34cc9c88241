import { createRequire } from 'node:module';

import { CliError } from './cli-error.js';
import { commands } from './commands/index.js';
import type { Io } from './io.js';
import { didYouMean } from './suggest.js';

/** This package's version, for `allot --version` (package.json is one level above dist/ and src/). */
export const VERSION: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

function help(io: Io): void {
  io.out('usage: allot <command> [options]   (allot <command> --help for its options; allot --version)\n');
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  for (const c of commands) io.out(`  ${c.name.padEnd(width)}${c.summary}`);
}

/** Runs `allot` with `argv` (without node and script); returns the exit status. */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    help(io);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    io.out(VERSION);
    return 0;
  }
  const entry = commands.find((c) => c.name === name);
  if (entry === undefined) {
    const hint = didYouMean(name.replace(/^-+/, ''), commands.map((c) => c.name));
    io.err(`allot: unknown command ${JSON.stringify(name)}${hint}; run "allot help" for the list`);
    return 2;
  }
  const command = await entry.load();
  try {
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof CliError) {
      if (error.exitCode === 0) {
        io.out(error.message);
      } else {
        io.err(`allot ${error.command ?? name}: ${error.message}`);
      }
      return error.exitCode;
    }
    throw error;
  }
}

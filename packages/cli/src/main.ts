import { CliError } from './cli-error.js';
import { commands } from './commands/index.js';
import type { Io } from './io.js';

function help(io: Io): void {
  io.out('usage: allot <command> [options]   (allot <command> --help for its options)\n');
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
  const command = commands.find((c) => c.name === name);
  if (command === undefined) {
    io.err(`allot: unknown command ${JSON.stringify(name)}; run "allot help" for the list`);
    return 2;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof CliError) {
      if (error.exitCode === 0) {
        io.out(error.message);
      } else {
        io.err(`allot ${name}: ${error.message}`);
      }
      return error.exitCode;
    }
    throw error;
  }
}

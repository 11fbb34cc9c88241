import type { Io } from './io.js';

/** One `allot <name>` command. `run` returns the exit status or throws `CliError`. */
export interface Command {
  readonly name: string;
  readonly usage: string;
  run(argv: readonly string[], io: Io): Promise<number> | number;
}

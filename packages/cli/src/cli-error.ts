/**
 * A refusal or bad usage: printed as `allot <command>: <message>` with exit status
 * `exitCode` (0 for `--help`, which prints to stdout).
 */
export class CliError extends Error {
  readonly exitCode: number;
  /** The (sub)command the message is about, e.g. `flags create`, when it is not the top-level command. */
  readonly command: string | undefined;

  constructor(message: string, exitCode = 2, command?: string) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
    this.command = command;
  }
}

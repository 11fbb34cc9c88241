/** An `Io` that records what a command prints, for tests. */
import type { Io } from './io.js';
import { main } from './main.js';

export interface CapturedIo extends Io {
  readonly stdout: string[];
  readonly stderr: string[];
}

export function captureIo(cwd: string, env: Record<string, string | undefined> = {}, stdin = ''): CapturedIo {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    stdout,
    stderr,
    out: (text) => stdout.push(text),
    err: (text) => stderr.push(text),
    readStdin: () => Promise.resolve(stdin),
    isTty: false,
    cwd,
    env,
  };
}

/** What one in-process run of the command printed, and its exit code. */
export interface CliRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** Runs `allot ...argv` in process, in `cwd` (with `env` as its environment), recording what it prints. */
export async function runCli(cwd: string, argv: readonly string[], stdin = '', env: Record<string, string | undefined> = {}): Promise<CliRun> {
  const io = captureIo(cwd, env, stdin);
  const code = await main([...argv], io);
  return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
}

/** Runs a command that must succeed; its standard output. */
export async function runCliOk(cwd: string, argv: readonly string[]): Promise<string> {
  const r = await runCli(cwd, argv);
  if (r.code !== 0) throw new Error(`allot ${argv.join(' ')} exited ${r.code}: ${r.err}`);
  return r.out;
}

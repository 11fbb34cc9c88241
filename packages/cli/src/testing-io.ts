/** An `Io` that records what a command prints, for tests. */
import type { Io } from './io.js';

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

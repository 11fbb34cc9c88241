/**
 * `allot serve` in a child process of its own, for the benches: on 127.0.0.1, at a port the
 * system picks unless one is given, resolving with its URL once it prints that it listens.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The CLI as built (`bench/dist/` → `packages/cli/dist/bin.js`). */
export const CLI = join(dirname(fileURLToPath(import.meta.url)), '../../packages/cli/dist/bin.js');

export interface ServeOptions {
  /** Node's own flags, before the CLI (`--expose-gc`, `--cpu-prof`, …). */
  readonly nodeArgs?: readonly string[];
  /** Added to this process's environment; default: no tokens (`ALLOT_TOKENS` empty) and no `ALLOT_STORE`. */
  readonly env?: Readonly<Record<string, string>>;
  /** The port; default 0, one the system picks. */
  readonly port?: number;
  /** The server's stderr: shown (default) or dropped. */
  readonly stderr?: 'inherit' | 'ignore';
  /** An IPC channel to the child (for a probe preloaded with `--import`). */
  readonly ipc?: boolean;
  /**
   * Runs the server, every thread of it, under `nice -n N` (N added to this process's nice
   * value), or with `'idle'` under Linux's SCHED_IDLE policy (`chrt --idle 0`): the kernel
   * then picks any thread of normal policy before it (though one already running may keep
   * its CPU until the next tick: 4 ms at `CONFIG_HZ=250`). Set at the exec, so that every thread inherits
   * it: on Linux a priority belongs to a thread, and `os.setPriority(pid)` after the start
   * changes only the main one, not V8's collector threads (measured). Default: this
   * process's own.
   */
  readonly nice?: number | 'idle';
  /** Runs the server, every thread of it, only on these CPUs (`taskset -c LIST`, Linux); default: any. */
  readonly cpus?: string;
}

/**
 * Starts `allot serve ARGS --host 127.0.0.1 --port PORT --quiet`; rejects if it exits first,
 * with the end of what it wrote to stderr (kept even when `stderr` is `ignore`).
 */
export async function startServe(args: readonly string[], options: ServeOptions = {}): Promise<{ child: ChildProcess; url: string }> {
  const shown = options.stderr !== 'ignore';
  const stdio: StdioOptions = ['ignore', 'pipe', shown ? 'inherit' : 'pipe', ...(options.ipc === true ? ['ipc' as const] : [])];
  const command = [process.execPath, ...(options.nodeArgs ?? []), CLI, 'serve', ...args, '--host', '127.0.0.1', '--port', String(options.port ?? 0), '--quiet'];
  // `nice` and `chrt` exec the command: the child's pid is the server's.
  const niced = options.nice === undefined || options.nice === 0 ? command : options.nice === 'idle' ? ['chrt', '--idle', '0', ...command] : ['nice', '-n', String(options.nice), ...command];
  const pinned = options.cpus === undefined ? niced : ['taskset', '-c', options.cpus, ...niced];
  const child = spawn(pinned[0]!, pinned.slice(1), {
    env: { ...process.env, ALLOT_TOKENS: '', ALLOT_STORE: '', ...options.env },
    stdio,
  });
  let errors = '';
  // Drained throughout (a full pipe would stall the server); the last 2,000 characters kept.
  child.stderr?.on('data', (c: Buffer) => {
    errors = (errors + c.toString()).slice(-2_000);
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m !== null) resolve(m[1]!);
    });
    child.once('exit', (code) => {
      reject(new Error(`allot serve exited with ${String(code)}${errors === '' ? '' : `: ${errors.trim()}`}`));
    });
  });
  return { child, url };
}

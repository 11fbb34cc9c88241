/**
 * Test fixture: `allot serve` as a real process (the CLI's built bin) over a workspace in a
 * temporary directory, and raw HTTP requests to it (node:http, so any Host, Origin or
 * content type can be sent as is).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The CLI's entry point, built by `tsc -b` (scripts/setup.sh). */
export const ALLOT_BIN: string = join(dirname(fileURLToPath(import.meta.url)), '../../../cli/dist/bin.js');

export interface RawResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly text: string;
  /** The body as JSON (undefined when it is not JSON). */
  readonly json: Record<string, unknown> | undefined;
  readonly ms: number;
}

export interface ServeProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  readonly workspace: string;
  /** What the process wrote to stdout and stderr so far. */
  stdout(): string;
  stderr(): string;
  fileBytes(): Promise<string>;
  /** A request with exactly these headers (plus Host `127.0.0.1:PORT` unless given). */
  send(method: string, path: string, options?: { headers?: Record<string, string>; body?: string | Buffer }): Promise<RawResponse>;
  /** Runs the CLI (`node bin.js ...args`) in the same directory. */
  cli(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** SIGTERM; resolves with the exit code and how long it took. */
  terminate(): Promise<{ code: number | null; ms: number }>;
  cleanup(): Promise<void>;
}

export async function startServe(args: readonly string[] = [], env: Record<string, string> = {}): Promise<ServeProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'allot-serve-'));
  const workspace = join(dir, 'allot.yaml');
  const child = spawn(process.execPath, [ALLOT_BIN, 'serve', '--workspace', workspace, '--port', '0', ...args], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`allot serve did not start in 20 s: ${stderr}`)); }, 20_000);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(stdout);
      if (m !== null) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`allot serve exited with ${code}: ${stderr}`));
    });
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => { resolve(code); }));
  const url = `http://127.0.0.1:${port}`;
  return {
    child,
    port,
    url,
    dir,
    workspace,
    stdout: () => stdout,
    stderr: () => stderr,
    fileBytes: () => readFile(workspace, 'utf8'),
    send: (method, path, options = {}) => rawRequest(port, method, path, options.headers ?? {}, options.body),
    cli: (cliArgs) => runCli(cliArgs, dir),
    async terminate() {
      const started = performance.now();
      if (child.exitCode === null) child.kill('SIGTERM');
      const code = await exited;
      return { code, ms: performance.now() - started };
    },
    async cleanup() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export function rawRequest(port: number, method: string, path: string, headers: Record<string, string>, body?: string | Buffer): Promise<RawResponse> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        // A body always goes with its length: node's client would send a GET's or HEAD's body bare.
        headers: { host: `127.0.0.1:${port}`, ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }), ...headers },
        setHost: false,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: Record<string, unknown> | undefined;
          try {
            json = JSON.parse(text) as Record<string, unknown>;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json, ms: performance.now() - started });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export function runCli(args: readonly string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [ALLOT_BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => { resolve({ code, stdout, stderr }); });
  });
}

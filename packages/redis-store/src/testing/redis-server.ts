/**
 * A throwaway `redis-server` for tests and benchmarks: 127.0.0.1, a free port, no
 * persistence. `redisServerPath` is null when Debian's redis-server is not installed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, connect } from 'node:net';

export const redisServerPath: string | null = ((): string | null => {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  return found.status === 0 && found.stdout.trim() !== '' ? found.stdout.trim() : null;
})();

/** A port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no TCP port');
  return address.port;
}

export class RedisServer {
  private process: ChildProcess | null = null;

  private constructor(readonly port: number) {}

  /** Starts a server on `port` (a free one by default) and waits until it accepts connections. */
  static async start(port?: number): Promise<RedisServer> {
    const server = new RedisServer(port ?? (await freePort()));
    await server.start();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (redisServerPath === null) throw new Error('redis-server is not installed: install Redis (Debian: apt-get install redis-server; in the allot repository, bash scripts/system-deps.sh)');
    const child = spawn(redisServerPath, ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], {
      stdio: 'ignore',
    });
    this.process = child;
    const deadline = Date.now() + 5_000;
    while (!(await accepts(this.port))) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`redis-server did not start on port ${this.port}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** SIGKILL, and wait for the process to be gone. */
  async kill(): Promise<void> {
    const child = this.process;
    this.process = null;
    if (child === null || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** SIGSTOP: the socket stays open, nothing answers. */
  stop(): void {
    this.process?.kill('SIGSTOP');
  }

  /** SIGCONT after `stop`. */
  resume(): void {
    this.process?.kill('SIGCONT');
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.end('PING\r\n');
      resolve(true);
    });
    socket.once('error', () => {
      resolve(false);
    });
  });
}

/**
 * A private PostgreSQL cluster for tests and benchmarks: `initdb` into a temporary
 * directory, `pg_ctl start` on 127.0.0.1 at a free port (its unix socket in that directory
 * too), stopped and removed by `stop()` and, should the process exit first, by an exit hook.
 * Run as root (as in CI and the dev containers), the cluster belongs to the `postgres` user
 * (`runuser -u postgres`), since PostgreSQL refuses to run as root.
 *
 * `pgBinDir` is null when PostgreSQL's server programs are not installed: Debian keeps them in
 * /usr/lib/postgresql/VERSION/bin, off the PATH (in the allot repository,
 * `bash scripts/system-deps.sh` installs postgresql-15).
 */
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import pg from 'pg';

/** The directory holding initdb and pg_ctl (newest installed version first), or null. */
export const pgBinDir: string | null = ((): string | null => {
  const found = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' });
  if (found.status === 0 && found.stdout.trim() !== '') return join(found.stdout.trim(), '..');
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) if (existsSync(join(root, v, 'bin', 'pg_ctl'))) return join(root, v, 'bin');
  return null;
})();

/** Why PostgreSQL tests skip, or null when they can run. */
export const pgMissing: string | null =
  pgBinDir === null ? 'PostgreSQL is not installed (Debian: apt-get install postgresql-15; in the allot repository, bash scripts/system-deps.sh)' : null;

/** A port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no TCP port');
  return address.port;
}

const asRoot = process.getuid?.() === 0;

/**
 * Runs a PostgreSQL program as the cluster's owner. Done when the program exits, not when
 * its output closes: the server `pg_ctl start` leaves running inherits the pipes.
 */
function pgRun(program: string, args: readonly string[]): Promise<void> {
  const bin = join(pgBinDir!, program);
  const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, [...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('exit', (code) => {
      child.stderr.destroy();
      if (code === 0) resolve();
      else reject(new Error(`${program} ${args.join(' ')} failed (exit ${code ?? 'signal'}): ${stderr.trim()}`));
    });
  });
}

let clusters = 0;
const live = new Set<PgCluster>();
process.once('exit', () => {
  for (const c of live) c.stopNow();
});

export class PgCluster {
  private options = '';

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  /** initdb and start a cluster; `settings` are extra server settings (`-c name=value`). */
  static async start(settings: Readonly<Record<string, string>> = {}): Promise<PgCluster> {
    if (pgBinDir === null) throw new Error(pgMissing!);
    const dir = mkdtempSync(join(tmpdir(), `allot-pg-${process.pid}-${clusters++}-`));
    if (asRoot) {
      const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
      const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
      if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error('running as root, but there is no postgres user to own the cluster (Debian creates it with postgresql-15)');
      chownSync(dir, uid, gid);
    }
    const cluster = new PgCluster(dir, await freePort());
    live.add(cluster);
    try {
      await pgRun('initdb', ['-D', join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale', 'C']);
      cluster.options = [
        `-p ${cluster.port}`,
        `-k ${dir}`,
        '-c listen_addresses=127.0.0.1',
        ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`),
      ].join(' ');
      await cluster.startServer();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** `postgres://postgres@127.0.0.1:PORT/DATABASE` */
  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  /** Creates an empty database and returns its URL. */
  async createDatabase(name: string): Promise<string> {
    const client = new pg.Client({ connectionString: this.url() });
    await client.connect();
    try {
      await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
    } finally {
      await client.end();
    }
    return this.url(name);
  }

  /** Starts the server again after `stopServer`. */
  async startServer(): Promise<void> {
    await pgRun('pg_ctl', ['-D', join(this.dir, 'data'), '-l', join(this.dir, 'log'), '-o', this.options, '-w', '-t', '60', 'start']);
  }

  /** `pg_ctl stop -m fast`: the database is unreachable until `startServer`. */
  async stopServer(): Promise<void> {
    await pgRun('pg_ctl', ['-D', join(this.dir, 'data'), '-m', 'fast', '-w', '-t', '60', 'stop']);
  }

  /** `pg_ctl restart -m fast`: every connection is cut; committed data stays. */
  async restart(): Promise<void> {
    await pgRun('pg_ctl', ['-D', join(this.dir, 'data'), '-m', 'fast', '-w', '-t', '60', 'restart']);
  }

  /** Stops the cluster (immediately) and removes its directory. */
  async stop(): Promise<void> {
    if (!live.delete(this)) return;
    if (existsSync(join(this.dir, 'data', 'postmaster.pid'))) {
      await pgRun('pg_ctl', ['-D', join(this.dir, 'data'), '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** `stop`, synchronously (for the exit hook). */
  stopNow(): void {
    if (!live.delete(this)) return;
    const bin = join(pgBinDir!, 'pg_ctl');
    const args = ['-D', join(this.dir, 'data'), '-m', 'immediate', '-w', 'stop'];
    spawnSync(asRoot ? 'runuser' : bin, asRoot ? ['-u', 'postgres', '--', bin, ...args] : args, { stdio: 'ignore' });
    rmSync(this.dir, { recursive: true, force: true });
  }
}

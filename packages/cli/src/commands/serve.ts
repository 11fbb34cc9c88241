import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';

import { AdminError } from '@allot/admin';
import { AllotServer, DEFAULT_PORT, jsonLogger, parseTokens, ServerConfigError, TokenConfigError, type Store, type TokenEntry } from '@allot/server';

import { optionalString, parse, type Parsed } from '../args.js';
import type { Command } from '../command.js';
import { CliError } from '../cli-error.js';
import { refusal } from './workspace-io.js';

const usage =
  'allot serve (--workspace W | --store postgres://…) [--host 127.0.0.1] [--port 4747] [--tokens-file F] [--max-body-bytes N]\n' +
  '            [--max-watchers N] [--watch-heartbeat-ms N] [--quiet]\n' +
  '  store: a workspace file (the default), or a PostgreSQL database (--store or ALLOT_STORE) that several\n' +
  '  instances can share; --store with a file path is the same as --workspace\n' +
  '  tokens: ALLOT_TOKENS="admin=TOKEN:write,ci=TOKEN:read,search=TOKEN:write(prefix=search-;family=search)"\n' +
  '  and/or --tokens-file (one [NAME=]TOKEN:scope per line, # comments);\n' +
  '  without any, only a loopback host is allowed and every request is accepted\n' +
  '  GET /v1/state:watch streams the state (Server-Sent Events) to at most --max-watchers clients (default 1000),\n' +
  '  with a heartbeat comment every --watch-heartbeat-ms (default 15000)\n' +
  '  the coordination map is at / (the printed link carries a read token valid while this process runs)';

/** How long SIGTERM waits for in-flight requests before cutting their connections. */
const SHUTDOWN_GRACE_MS = 3_000;
/** When the process exits after SIGTERM whatever is still running (a writer's lock wait, say). */
const SHUTDOWN_DEADLINE_MS = 4_500;

/** `TOKEN:scope` entries from ALLOT_TOKENS and the tokens file. */
async function tokens(env: Readonly<Record<string, string | undefined>>, file: string | undefined, cwd: string): Promise<TokenEntry[]> {
  const entries: TokenEntry[] = [];
  try {
    if (env.ALLOT_TOKENS !== undefined) entries.push(...parseTokens(env.ALLOT_TOKENS, 'ALLOT_TOKENS'));
    if (file !== undefined) {
      let text: string;
      try {
        text = await readFile(resolve(cwd, file), 'utf8');
      } catch (error) {
        throw new CliError(`cannot read the tokens file ${file}: ${(error as Error).message}`);
      }
      entries.push(...parseTokens(text, file));
    }
  } catch (error) {
    if (error instanceof TokenConfigError) throw new CliError(error.message);
    throw error;
  }
  return entries;
}

function port(text: string | undefined): number {
  if (text === undefined) return DEFAULT_PORT;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 65_535) throw new CliError(`--port: expected a port number from 0 to 65535 (0 picks a free one), got ${JSON.stringify(text)}\nusage: ${usage}`);
  return n;
}

export type StoreChoice = { readonly kind: 'file'; readonly path: string } | { readonly kind: 'postgres'; readonly url: string };

/** Whether `text` is a PostgreSQL connection URL. */
export function isPostgresUrl(text: string): boolean {
  return /^postgres(?:ql)?:\/\//i.test(text);
}

/** The store from --workspace, --store or ALLOT_STORE (in that order; two of the flags together are refused). */
export function storeOption(args: Parsed, env: Readonly<Record<string, string | undefined>>, usage: string): StoreChoice {
  const workspace = optionalString(args, 'workspace');
  const store = optionalString(args, 'store');
  if (workspace !== undefined && store !== undefined) throw new CliError(`give --workspace or --store, not both\nusage: ${usage}`);
  const chosen = workspace ?? store ?? (env.ALLOT_STORE === '' ? undefined : env.ALLOT_STORE);
  if (chosen === undefined) throw new CliError(`missing --workspace (or --store, or ALLOT_STORE)\nusage: ${usage}`);
  return workspace === undefined && isPostgresUrl(chosen) ? { kind: 'postgres', url: chosen } : { kind: 'file', path: chosen };
}

/** A PgStore (its package loads only when a database is asked for). */
async function postgresStore(url: string, log: (line: string) => void): Promise<Store> {
  const { PgStore } = await import('@allot/pg-store');
  return new PgStore(url, { log });
}

export const serve: Command = {
  name: 'serve',
  usage,
  async run(argv, io) {
    const args = parse(
      'serve',
      argv,
      {
        workspace: { type: 'string', short: 'w' },
        store: { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string', short: 'p' },
        'tokens-file': { type: 'string' },
        'max-body-bytes': { type: 'string' },
        'max-watchers': { type: 'string' },
        'watch-heartbeat-ms': { type: 'string' },
        quiet: { type: 'boolean', short: 'q' },
      },
      usage,
    );
    const where = storeOption(args, io.env, usage);
    const maxBody = optionalString(args, 'max-body-bytes');
    if (maxBody !== undefined && !/^[1-9]\d*$/.test(maxBody)) throw new CliError(`--max-body-bytes: expected a positive whole number, got ${JSON.stringify(maxBody)}`);
    const quiet = args.values.quiet === true;
    const whole = (name: string): number | undefined => {
      const value = optionalString(args, name);
      if (value !== undefined && !/^[1-9]\d*$/.test(value)) throw new CliError(`--${name}: expected a positive whole number, got ${JSON.stringify(value)}`);
      return value === undefined ? undefined : Number(value);
    };
    const maxWatchers = whole('max-watchers');
    const heartbeatMs = whole('watch-heartbeat-ms');
    const configured = await tokens(io.env, optionalString(args, 'tokens-file'), io.cwd);
    // The coordination map's link carries a read token made for this process only (valid
    // until it stops), so no configured secret is ever printed.
    const mapToken = configured.length === 0 ? null : `map-${randomBytes(24).toString('base64url')}`;
    let server: AllotServer;
    try {
      server = await AllotServer.start({
        ...(where.kind === 'file'
          ? { workspace: resolve(io.cwd, where.path) }
          : { store: await postgresStore(where.url, quiet ? () => undefined : (line) => { io.err(line); }) }),
        host: optionalString(args, 'host') ?? '127.0.0.1',
        port: port(optionalString(args, 'port')),
        tokens: mapToken === null ? configured : [...configured, { name: 'coordination-map', token: mapToken, scope: 'read' }],
        ...(maxBody === undefined ? {} : { maxBodyBytes: Number(maxBody) }),
        watch: { ...(maxWatchers === undefined ? {} : { maxWatchers }), ...(heartbeatMs === undefined ? {} : { heartbeatMs }) },
        shutdownGraceMs: SHUTDOWN_GRACE_MS,
        ...(quiet ? {} : { logger: jsonLogger((line) => { io.err(line); }) }),
      });
    } catch (error) {
      if (error instanceof ServerConfigError) throw new CliError(error.message);
      if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new CliError(`port ${optionalString(args, 'port') ?? DEFAULT_PORT} is in use; pick another with --port (0 picks a free one)`);
      if (where.kind === 'postgres' && error instanceof Error && !(error instanceof AdminError)) {
        const { redact } = await import('@allot/pg-store');
        throw new CliError(`the PostgreSQL store at ${redact(where.url)} could not start: ${error.message}`);
      }
      throw refusal(error);
    }
    if (server.open) io.err(`warning: no tokens configured (ALLOT_TOKENS, --tokens-file): every request to ${server.url} is accepted, from this machine only`);
    io.out(`listening on ${server.url}`);
    // In the fragment, which a browser never sends: the page takes the token from it and drops it.
    io.out(`coordination map: ${server.url}/${mapToken === null ? '' : `#token=${mapToken}`}`);
    await new Promise<void>((done) => {
      const stop = (signal: string): void => {
        process.off('SIGTERM', onTerm);
        process.off('SIGINT', onInt);
        io.err(`${signal}: finishing in-flight requests`);
        // Whatever is still running (a write waiting for another process's lock), the
        // process is gone within SHUTDOWN_DEADLINE_MS; a second signal ends it at once.
        const force = (why: string): void => {
          io.err(`${why}: exiting without waiting for the rest`);
          process.exit(1);
        };
        setTimeout(() => { force(`still busy ${SHUTDOWN_DEADLINE_MS} ms after ${signal}`); }, SHUTDOWN_DEADLINE_MS).unref();
        process.once('SIGTERM', () => { force('second SIGTERM'); });
        process.once('SIGINT', () => { force('second SIGINT'); });
        void server.close().then(done);
      };
      const onTerm = (): void => {
        stop('SIGTERM');
      };
      const onInt = (): void => {
        stop('SIGINT');
      };
      process.on('SIGTERM', onTerm);
      process.on('SIGINT', onInt);
    });
    io.err('stopped');
    return 0;
  },
};

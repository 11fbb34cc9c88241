/**
 * `allot log`: the audit log `allot serve` keeps, filtered and printed: on the file store the
 * file beside the workspace (`allot.audit.jsonl` for `allot.yaml`), on PostgreSQL the
 * `allot_audit_log` table. `allot log verify` walks its hash chain (the same `verifyChain`
 * for both) and names the first entry that was edited, deleted, inserted or reordered (exit 1).
 */
import { resolve } from 'node:path';

import {
  FileAuditLog,
  matchesFilter,
  verifyChain,
  type AuditFilter,
  type ChainedEntry,
  type ReadEntry,
} from '@allot/server';

import { optionalString, parse, type Parsed } from '../args.js';
import type { Command } from '../command.js';
import { CliError } from '../cli-error.js';
import type { Io } from '../io.js';
import { storeOption } from './serve.js';

const usage =
  'allot log (--workspace W | --store postgres://…) [--account ID] [--resource segments/ID] [--actor NAME] [--since TIME] [--until TIME] [--json]\n' +
  '  allot log verify (--workspace W | --store postgres://…) [--account ID] [--json]\n' +
  "  the log is the file beside the workspace (allot.yaml → allot.audit.jsonl), or the database's audit table\n" +
  '  (--store or ALLOT_STORE; --account picks the account of a database that holds several); TIME is RFC 3339 (2026-12-04T21:00:00Z)';

/** An audit log to read: its entries in order, where it is (for messages), and what to release. */
interface LogSource {
  readonly where: string;
  entries(): AsyncIterable<ReadEntry>;
  close(): Promise<void>;
}

async function openLog(args: Parsed, io: Io): Promise<LogSource> {
  const chosen = storeOption(args, io.env, usage);
  const account = optionalString(args, 'account');
  if (chosen.kind === 'file') {
    if (account !== undefined)
      throw new CliError(
        `--account picks an account of a database; a workspace file has one\nusage: ${usage}`,
      );
    const file = new FileAuditLog(resolve(io.cwd, chosen.path));
    return { where: file.path, entries: () => file.entries(), close: () => Promise.resolve() };
  }
  const { openAuditLog, redact } = await import('@allot/pg-store');
  let opened: Awaited<ReturnType<typeof openAuditLog>>;
  try {
    opened = await openAuditLog(chosen.url, account);
  } catch (error) {
    throw new CliError(
      `cannot read the audit log in ${redact(chosen.url)}: ${(error as Error).message}`,
    );
  }
  return {
    where: `${redact(chosen.url)} (account ${opened.account}, table allot_audit_log)`,
    entries: () => opened.log.entries(),
    close: () => opened.close(),
  };
}

function time(text: string | undefined, name: string): Date | undefined {
  if (text === undefined) return undefined;
  const t = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(t))
    throw new CliError(
      `--${name}: expected an RFC 3339 time such as 2026-12-04T21:00:00Z, got ${JSON.stringify(text)}\nusage: ${usage}`,
    );
  return new Date(t);
}

function share(s: unknown): string {
  if (typeof s === 'number') return `${Number((s * 100).toFixed(4))}%`;
  const b = s as { low: number; high: number };
  return `${Number((b.low * 100).toFixed(4))}–${Number((b.high * 100).toFixed(4))}%`;
}

/** One line per entry: `#seq time actor operation resource`, then what it moved. */
function describe(e: ChainedEntry, position: number): string {
  const changed = typeof e.after === 'object' && e.after !== null ? Object.keys(e.after) : [];
  const what = e.resource ?? (changed.length > 0 ? changed.join(', ') : '(no resource)');
  const lines = [`#${e.seq ?? position}  ${e.time}  ${e.actor}  ${e.operation}  ${what}`];
  const impact = e.impact as {
    flags?: { flag: string; start: unknown; stop: unknown; change: unknown }[];
    segments?: { segment: string; enter: unknown; leave: unknown }[];
  } | null;
  for (const f of impact?.flags ?? [])
    lines.push(
      `    ${f.flag}: start ${share(f.start)}, stop ${share(f.stop)}, change variant ${share(f.change)}`,
    );
  for (const s of impact?.segments ?? [])
    lines.push(`    ${s.segment}: enter ${share(s.enter)}, leave ${share(s.leave)}`);
  return lines.join('\n');
}

async function verify(io: Io, audit: LogSource, json: boolean): Promise<number> {
  const verdict = await verifyChain(audit.entries());
  if (json) io.out(JSON.stringify({ log: audit.where, ...verdict }, null, 2));
  if (verdict.ok) {
    if (!json)
      io.out(
        `${audit.where}: ${verdict.entries} entries, the chain verifies; head ${verdict.head}`,
      );
    return 0;
  }
  if (!json) io.err(`${audit.where}: ${verdict.message}`);
  return 1;
}

export const log: Command = {
  name: 'log',
  usage,
  async run(argv, io) {
    const sub = argv[0] === 'verify' ? 'verify' : null;
    const args = parse(
      sub === null ? 'log' : 'log verify',
      sub === null ? argv : argv.slice(1),
      sub === null
        ? {
            workspace: { type: 'string', short: 'w' },
            store: { type: 'string' },
            account: { type: 'string' },
            resource: { type: 'string' },
            actor: { type: 'string' },
            since: { type: 'string' },
            until: { type: 'string' },
            json: { type: 'boolean' },
          }
        : {
            workspace: { type: 'string', short: 'w' },
            store: { type: 'string' },
            account: { type: 'string' },
            json: { type: 'boolean' },
          },
      usage,
    );
    if (args.positionals.length > 0)
      throw new CliError(
        `unexpected ${JSON.stringify(args.positionals[0])}: the only subcommand is "verify"\nusage: ${usage}`,
      );
    const json = args.values.json === true;
    const audit = await openLog(args, io);
    try {
      return sub === 'verify' ? await verify(io, audit, json) : await list(io, audit, args, json);
    } finally {
      await audit.close();
    }
  },
};

async function list(io: Io, audit: LogSource, args: Parsed, json: boolean): Promise<number> {
  const since = time(optionalString(args, 'since'), 'since');
  const until = time(optionalString(args, 'until'), 'until');
  const resource = optionalString(args, 'resource');
  const actor = optionalString(args, 'actor');
  const filter: AuditFilter = {
    ...(resource === undefined ? {} : { resource }),
    ...(actor === undefined ? {} : { actor }),
    ...(since === undefined ? {} : { since }),
    ...(until === undefined ? {} : { until }),
  };
  const entries: [ChainedEntry, number][] = [];
  let position = 0;
  for await (const e of audit.entries()) {
    position++;
    if (!('unreadable' in e) && matchesFilter(e, filter)) entries.push([e, position]);
  }
  if (json)
    io.out(
      JSON.stringify(
        entries.map(([e]) => e),
        null,
        2,
      ),
    );
  else if (entries.length === 0)
    io.err(`no entries${Object.keys(filter).length > 0 ? ' match' : ''} in ${audit.where}`);
  else for (const [e, p] of entries) io.out(describe(e, p));
  return 0;
}

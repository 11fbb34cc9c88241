/**
 * `allot log`: the audit log `allot serve` keeps beside the workspace (`allot.audit.jsonl`
 * for `allot.yaml`), filtered and printed; `allot log verify` walks its hash chain and names
 * the first entry that was edited, deleted, inserted or reordered (exit 1).
 */
import { resolve } from 'node:path';

import { FileAuditLog, matchesFilter, type AuditFilter, type ChainedEntry } from '@allot/server';

import { optionalString, parse, requireString } from '../args.js';
import type { Command } from '../command.js';
import { CliError } from '../cli-error.js';
import type { Io } from '../io.js';

const usage =
  'allot log --workspace W [--resource segments/ID] [--actor NAME] [--since TIME] [--until TIME] [--json]\n' +
  '  allot log verify --workspace W [--json]\n' +
  '  the log is the file beside the workspace (allot.yaml → allot.audit.jsonl); TIME is RFC 3339 (2026-12-04T21:00:00Z)';

function time(text: string | undefined, name: string): Date | undefined {
  if (text === undefined) return undefined;
  const t = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(t)) throw new CliError(`--${name}: expected an RFC 3339 time such as 2026-12-04T21:00:00Z, got ${JSON.stringify(text)}\nusage: ${usage}`);
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
  const impact = e.impact as { flags?: { flag: string; start: unknown; stop: unknown; change: unknown }[]; segments?: { segment: string; enter: unknown; leave: unknown }[] } | null;
  for (const f of impact?.flags ?? []) lines.push(`    ${f.flag}: start ${share(f.start)}, stop ${share(f.stop)}, change variant ${share(f.change)}`);
  for (const s of impact?.segments ?? []) lines.push(`    ${s.segment}: enter ${share(s.enter)}, leave ${share(s.leave)}`);
  return lines.join('\n');
}

async function verify(io: Io, audit: FileAuditLog, json: boolean): Promise<number> {
  const verdict = await audit.verify();
  if (json) io.out(JSON.stringify({ log: audit.path, ...verdict }, null, 2));
  if (verdict.ok) {
    if (!json) io.out(`${audit.path}: ${verdict.entries} entries, the chain verifies; head ${verdict.head}`);
    return 0;
  }
  if (!json) io.err(`${audit.path}: ${verdict.message}`);
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
        ? { workspace: { type: 'string', short: 'w' }, resource: { type: 'string' }, actor: { type: 'string' }, since: { type: 'string' }, until: { type: 'string' }, json: { type: 'boolean' } }
        : { workspace: { type: 'string', short: 'w' }, json: { type: 'boolean' } },
      usage,
    );
    if (args.positionals.length > 0) throw new CliError(`unexpected ${JSON.stringify(args.positionals[0])}: the only subcommand is "verify"\nusage: ${usage}`);
    const audit = new FileAuditLog(resolve(io.cwd, requireString(args, 'workspace', usage)));
    const json = args.values.json === true;
    if (sub === 'verify') return verify(io, audit, json);
    const since = time(optionalString(args, 'since'), 'since');
    const until = time(optionalString(args, 'until'), 'until');
    const resource = optionalString(args, 'resource');
    const actor = optionalString(args, 'actor');
    const filter: AuditFilter = { ...(resource === undefined ? {} : { resource }), ...(actor === undefined ? {} : { actor }), ...(since === undefined ? {} : { since }), ...(until === undefined ? {} : { until }) };
    const entries: [ChainedEntry, number][] = [];
    let position = 0;
    for await (const e of audit.entries()) {
      position++;
      if (!('unreadable' in e) && matchesFilter(e, filter)) entries.push([e, position]);
    }
    if (json) io.out(JSON.stringify(entries.map(([e]) => e), null, 2));
    else if (entries.length === 0) io.err(`no entries${Object.keys(filter).length > 0 ? ' match' : ''} in ${audit.path}`);
    else for (const [e, p] of entries) io.out(describe(e, p));
    return 0;
  },
};

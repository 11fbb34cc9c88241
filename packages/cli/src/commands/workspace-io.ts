/**
 * What the control-plane commands (segments, flags, groups, compile) share: the
 * `--workspace` file, running an operation on it under its lock, turning `AdminError`s into
 * refusals (exit 1) with the field path, and parsing list and weight options.
 */
import { resolve } from 'node:path';

import { AdminError, checkSegmentCount, checkTargetingTotals, newWorkspace, previewImpact, WorkspaceFile, type Outcome, type UpdateResult, type Workspace } from '@allot/admin';

import { parse, requireString, type OptionSpec, type Parsed } from '../args.js';
import { CliError } from '../cli-error.js';
import { renderImpact } from '../diff/render.js';
import type { Io } from '../io.js';
import { didYouMean } from '../suggest.js';

export const WORKSPACE_OPTIONS: OptionSpec = {
  workspace: { type: 'string', short: 'w' },
  json: { type: 'boolean' },
  // Taken by every subcommand so that the write commands preview with it (see `apply`); `read` refuses it.
  'dry-run': { type: 'boolean' },
};

/** Exit status of a refused operation (usage errors exit 2). */
export const REFUSED = 1;

export interface SubcommandContext {
  /** `segments allocate`, for messages. */
  readonly name: string;
  readonly args: Parsed;
  readonly io: Io;
  readonly file: WorkspaceFile;
  readonly json: boolean;
  readonly usage: string;
}

/** Parses `argv` for one subcommand; the workspace option is required. */
export function subcommand(name: string, argv: readonly string[], options: OptionSpec, usage: string, io: Io): SubcommandContext {
  const args = parse(name, argv, { ...WORKSPACE_OPTIONS, ...options }, usage);
  const path = requireString(args, 'workspace', usage);
  return { name, args, io, file: new WorkspaceFile(resolve(io.cwd, path)), json: args.values.json === true, usage };
}

/** Positional argument `index` (an id), or a usage error naming `what`. */
export function positional(ctx: SubcommandContext, index: number, what: string): string {
  const v = ctx.args.positionals[index];
  if (v === undefined || v === '') throw new CliError(`missing ${what}\nusage: ${ctx.usage}`);
  return v;
}

/**
 * Ends a `--dry-run` command after its preview is printed: exit 0, nothing written (main
 * prints the message of a status-0 CliError to stdout).
 */
export class DryRunPreview extends CliError {
  constructor(text: string) {
    super(text, 0);
    this.name = 'DryRunPreview';
  }
}

/**
 * Runs `operation` on the workspace file; AdminErrors become refusals. With `--dry-run` it
 * runs on the file's current contents in memory instead (with the checks a write makes, so
 * refusals are the same) and ends the command with the impact preview, as `allot diff`
 * prints it (`--json`: its JSON); nothing is written.
 */
export async function apply<R>(
  ctx: SubcommandContext,
  operation: (workspace: Workspace) => Outcome<R>,
  create = false,
): Promise<UpdateResult<R>> {
  if (ctx.args.values['dry-run'] === true) throw await dryRun(ctx, operation, create);
  try {
    const out = await ctx.file.update(operation, create ? { create: true } : {});
    for (const w of out.warnings) ctx.io.err(`warning: ${w}`);
    return out;
  } catch (error) {
    throw refusal(error);
  }
}

async function dryRun<R>(ctx: SubcommandContext, operation: (workspace: Workspace) => Outcome<R>, create: boolean): Promise<DryRunPreview> {
  const path = ctx.args.values.workspace as string;
  const after = `${path} after ${ctx.name}`;
  let preview;
  try {
    // As the write would: a create on a missing file starts from a fresh workspace.
    const before = create && !(await ctx.file.exists()) ? newWorkspace() : (await ctx.file.read()).workspace;
    const out = operation(before);
    checkSegmentCount(before, out.workspace);
    checkTargetingTotals(before, out.workspace);
    for (const w of out.warnings) ctx.io.err(`warning: ${w}`);
    preview = previewImpact(before, out.workspace);
  } catch (error) {
    throw refusal(error);
  }
  if (ctx.json) {
    const conditions = preview.conditions.map((c) => ({ label: c.label, text: c.text }));
    return new DryRunPreview(JSON.stringify({ dryRun: true, before: path, after, ...preview, conditions }, null, 2));
  }
  return new DryRunPreview([...renderImpact(preview, path, after), '', `dry run: nothing written to ${path}`].join('\n'));
}

/** Reads the workspace file; AdminErrors become refusals. */
export async function read(ctx: SubcommandContext): Promise<Workspace> {
  if (ctx.args.values['dry-run'] === true) throw new CliError(`--dry-run previews a change; ${ctx.name} changes nothing\nusage: ${ctx.usage}`);
  try {
    return (await ctx.file.read()).workspace;
  } catch (error) {
    throw refusal(error);
  }
}

/** Runs a read-only query; AdminErrors become refusals. */
export function query<T>(run: () => T): T {
  try {
    return run();
  } catch (error) {
    throw refusal(error);
  }
}

/** A CliError (exit 1) for an AdminError; anything else is rethrown as is. */
export function refusal(error: unknown): unknown {
  if (!(error instanceof AdminError)) return error;
  return new CliError(`${error.code}: ${error.message}`, REFUSED);
}

/** A fraction option: `0.1`, or `10%`. */
export function fractionOption(args: Parsed, name: string): number | undefined {
  const v = args.values[name];
  if (typeof v !== 'string') return undefined;
  const text = v.trim();
  const value = text.endsWith('%') ? Number(text.slice(0, -1)) / 100 : Number(text);
  if (text === '' || !Number.isFinite(value)) throw new CliError(`--${name}: expected a number such as 0.1 or 10%, got ${JSON.stringify(v)}`);
  return value;
}

/** `a=1,b=3` as weighted variants. */
export function weightsOption(args: Parsed, name: string): { variant: string; weight: number }[] | undefined {
  const v = args.values[name];
  if (typeof v !== 'string') return undefined;
  return v.split(',').map((part) => {
    const [variant, weight] = part.split('=').map((s) => s.trim());
    const n = Number(weight);
    if (variant === undefined || variant === '' || weight === undefined || !Number.isInteger(n) || n <= 0) {
      throw new CliError(`--${name}: expected VARIANT=WEIGHT pairs such as control=50,treatment=50, got ${JSON.stringify(part)}`);
    }
    return { variant, weight: n };
  });
}

/** An `on` / `off` option, or undefined. */
export function switchOption(args: Parsed, name: string): boolean | undefined {
  const v = args.values[name];
  if (v === undefined) return undefined;
  if (v === 'on' || v === 'true') return true;
  if (v === 'off' || v === 'false') return false;
  throw new CliError(`--${name}: expected on or off, got ${JSON.stringify(v)}`);
}

/** Prints `value` as JSON. */
export function printJson(io: Io, value: unknown): void {
  io.out(JSON.stringify(value, null, 2));
}

/** The subcommand name and the rest of argv, or a usage error listing the subcommands. */
export function splitSubcommand(command: string, argv: readonly string[], names: readonly string[], usage: string): [string, string[]] {
  const [name, ...rest] = argv;
  if (name === '--help' || name === '-h') throw new CliError(`usage:\n${usage}`, 0);
  if (name === undefined) throw new CliError(`missing subcommand; expected ${names.join(', ')}\nusage:\n${usage}`);
  if (!names.includes(name)) {
    throw new CliError(`unknown subcommand ${JSON.stringify(name)}${didYouMean(name, names)}; expected ${names.join(', ')}\nusage:\n${usage}`);
  }
  return [name, rest];
}

export { CliError };

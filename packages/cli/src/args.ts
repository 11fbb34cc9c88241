/**
 * Option parsing over node:util's parseArgs with messages that say what to do.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

import { CliError } from './cli-error.js';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  readonly values: Readonly<Record<string, string | boolean | string[] | undefined>>;
  readonly positionals: readonly string[];
}

export function parse(command: string, argv: readonly string[], options: OptionSpec, usage: string): Parsed {
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
    if (values.help === true) throw new CliError(`usage: ${usage}`, 0);
    return { values: values, positionals };
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`${command}: ${(error as Error).message}\nusage: ${usage}`);
  }
}

export function requireString(parsed: Parsed, name: string, usage: string): string {
  const v = parsed.values[name];
  if (typeof v !== 'string' || v === '') throw new CliError(`missing --${name}\nusage: ${usage}`);
  return v;
}

export function optionalString(parsed: Parsed, name: string): string | undefined {
  const v = parsed.values[name];
  return typeof v === 'string' ? v : undefined;
}

/** A comma-separated list option (`--tags a,b`), trimmed, empty entries dropped. */
export function listOption(parsed: Parsed, name: string): string[] | undefined {
  const v = parsed.values[name];
  if (v === undefined) return undefined;
  const items = Array.isArray(v) ? v : [String(v)];
  return items.flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== '');
}

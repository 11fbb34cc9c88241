/**
 * Option parsing over node:util's parseArgs with messages that say what to do.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

import { CliError } from './cli-error.js';
import { didYouMean } from './suggest.js';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  readonly values: Readonly<Record<string, string | boolean | string[] | undefined>>;
  readonly positionals: readonly string[];
}

export function parse(command: string, argv: readonly string[], options: OptionSpec, usage: string): Parsed {
  const all: OptionSpec = { ...options, help: { type: 'boolean', short: 'h' } };
  try {
    const { values, positionals } = parseArgs({ args: [...argv], options: all, allowPositionals: true, strict: true });
    if (values.help === true) throw new CliError(`usage: ${usage}`, 0);
    return { values: values as Parsed['values'], positionals };
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`${optionProblem(error as Error & { code?: string }, all)}\nusage: ${usage}`, 2, command);
  }
}

/** node:util's parseArgs error, said plainly, with the closest option for an unknown one. */
function optionProblem(error: Error & { code?: string }, options: OptionSpec): string {
  const quoted = /'([^' ]+)/.exec(error.message)?.[1];
  if (error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && quoted !== undefined) {
    const name = quoted.replace(/^-+/, '').split('=')[0]!;
    return `unknown option ${quoted}${didYouMean(name, Object.keys(options), (o) => `--${o}`)}`;
  }
  if (error.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && quoted !== undefined) {
    return error.message.includes('argument missing') ? `${quoted} needs a value` : `${quoted} takes no value`;
  }
  return error.message;
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

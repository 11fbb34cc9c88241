import { readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';

import { ResolveError, resolveFlags, type ResolvedFlag, type ResolverState } from '@allot/core';

import { optionalString, parse, requireString } from '../args.js';
import { CliError } from '../cli-error.js';
import type { Command } from '../command.js';
import type { Io } from '../io.js';
import { readStateFile } from '../state-file.js';
import { didYouMean } from '../suggest.js';

const usage =
  'allot resolve --state STATE.json (--context JSON | --contexts FILE.jsonl|-) [--flag F]... [--client-secret X] [--account ID]\n' +
  '  --context JSON        one evaluation context, e.g. \'{"targeting_key":"user-1","country":"SE"}\' (\'{}\' for an empty one);\n' +
  '                        prints the response as indented JSON\n' +
  '  --contexts FILE.jsonl one context per line (- reads standard input); prints one response per line, in order\n' +
  '                        (blank lines are skipped)\n' +
  '  --flag F              a flag to resolve (repeatable); every flag of the client when none is named';

/** The response fields printed, in this order. */
function printable(f: ResolvedFlag): Record<string, unknown> {
  return {
    flag: f.flag,
    reason: f.reason,
    variant: f.variant,
    value: f.value,
    shouldApply: f.shouldApply,
    rule: f.rule,
    segment: f.segment,
    assignmentId: f.assignmentId,
    ...(f.fallthroughs.length > 0 ? { fallthroughs: f.fallthroughs } : {}),
  };
}

/** A context from its JSON text, or the problem with it. */
function contextOf(text: string): Record<string, unknown> | string {
  let context: unknown;
  try {
    context = JSON.parse(text);
  } catch (error) {
    return `not valid JSON: ${(error as Error).message}`;
  }
  if (typeof context !== 'object' || context === null || Array.isArray(context)) {
    return 'must be a JSON object, e.g. {"targeting_key":"user-1","country":"SE"}';
  }
  return context as Record<string, unknown>;
}

/** The contexts of a `--contexts` file (or standard input): one JSON object per non-blank line. */
async function contextsOf(source: string, io: Io): Promise<Record<string, unknown>[]> {
  let text: string;
  if (source === '-') {
    text = await io.readStdin();
  } else {
    try {
      text = readFileSync(resolvePath(io.cwd, source), 'utf8');
    } catch (error) {
      throw new CliError(`cannot read --contexts ${source}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }
  const contexts: Record<string, unknown>[] = [];
  const problems: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const context = contextOf(line);
    if (typeof context === 'string') problems.push(`line ${i + 1}: ${context}`);
    else contexts.push(context);
  });
  if (problems.length > 0) {
    const more = problems.length > 10 ? `\n  … and ${problems.length - 10} more` : '';
    throw new CliError(`--contexts ${source === '-' ? '(standard input)' : source}: ${problems.length} bad line${problems.length === 1 ? '' : 's'}, nothing resolved:\n  ${problems.slice(0, 10).join('\n  ')}${more}`);
  }
  return contexts;
}

/** The client's secret: `--client-secret`, or the state's only client. */
function secretOf(state: ResolverState, given: string | undefined): string {
  if (given !== undefined) {
    if (state.client(given) === undefined) throw new CliError(`no client has the secret given with --client-secret (the state has ${state.clients.size} client${state.clients.size === 1 ? '' : 's'})`, 1);
    return given;
  }
  if (state.clients.size !== 1) {
    const secrets = [...state.clients.keys()].join(', ');
    throw new CliError(`the state has ${state.clients.size} clients; pick one with --client-secret (${secrets || 'none'})`);
  }
  return [...state.clients.keys()][0]!;
}

/**
 * Refuses a requested flag that the resolve would silently leave out (Confidence leaves out
 * unknown, archived and other clients' flags): a typo must not read as "no flags".
 */
function checkFlags(state: ResolverState, secret: string, requested: readonly string[]): void {
  const client = state.client(secret)!;
  const clientName = client.name.replace(/^clients\//, '');
  const ids = state.flagsOf(client).map((f) => f.name.replace(/^flags\//, ''));
  for (const f of requested) {
    const name = f.startsWith('flags/') ? f : `flags/${f}`;
    const id = name.slice('flags/'.length);
    const flag = state.flags.get(name);
    if (flag === undefined) {
      throw new CliError(`unknown flag ${JSON.stringify(f)}${didYouMean(id, ids, (c) => JSON.stringify(c))}; the flags of client ${clientName}: ${ids.join(', ') || 'none'}`, 1);
    }
    if (flag.archived) throw new CliError(`flag ${JSON.stringify(f)} is archived`, 1);
    if (!flag.clients.has(client.name)) throw new CliError(`flag ${JSON.stringify(f)} is not served to client ${clientName}; its clients: ${[...flag.clients].map((c) => c.replace(/^clients\//, '')).join(', ')}`, 1);
  }
}

export const resolve: Command = {
  name: 'resolve',
  usage,
  async run(argv, io) {
    const args = parse(
      'resolve',
      argv,
      {
        state: { type: 'string' },
        account: { type: 'string' },
        'client-secret': { type: 'string' },
        flag: { type: 'string', multiple: true },
        context: { type: 'string' },
        contexts: { type: 'string' },
      },
      usage,
    );
    const contextText = optionalString(args, 'context');
    const contextsSource = optionalString(args, 'contexts');
    if (contextText !== undefined && contextsSource !== undefined) throw new CliError(`give --context or --contexts, not both\nusage: ${usage}`);
    if (contextText === undefined && contextsSource === undefined) {
      throw new CliError(`missing --context JSON (the evaluation context, e.g. '{"targeting_key":"user-1"}'; '{}' for an empty one) or --contexts FILE.jsonl\nusage: ${usage}`);
    }
    const state = readStateFile(requireString(args, 'state', usage), io.cwd, optionalString(args, 'account'));
    const secret = secretOf(state, optionalString(args, 'client-secret'));
    const flags = (args.values.flag as string[] | undefined) ?? [];
    checkFlags(state, secret, flags);

    const resolveOne = (evaluationContext: Record<string, unknown>): Record<string, unknown> => {
      try {
        return { resolvedFlags: resolveFlags(state, { flags, evaluationContext, clientSecret: secret }).resolvedFlags.map(printable) };
      } catch (error) {
        if (error instanceof ResolveError) throw new CliError(error.message, 1);
        throw error;
      }
    };
    if (contextText !== undefined) {
      const context = contextOf(contextText);
      if (typeof context === 'string') throw new CliError(`--context ${context}`);
      io.out(JSON.stringify(resolveOne(context), null, 2));
      return 0;
    }
    for (const context of await contextsOf(contextsSource!, io)) io.out(JSON.stringify(resolveOne(context)));
    return 0;
  },
};

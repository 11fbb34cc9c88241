import { ResolveError, resolveFlags, type ResolvedFlag } from '@allot/core';

import { optionalString, parse, requireString } from '../args.js';
import { CliError } from '../cli-error.js';
import type { Command } from '../command.js';
import { readStateFile } from '../state-file.js';

const usage =
  'allot resolve --state STATE.json [--account ID] [--client-secret X] [--flag F]... --context JSON';

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

export const resolve: Command = {
  name: 'resolve',
  summary: 'resolve flags of a state for one evaluation context and print the response as JSON',
  usage,
  run(argv, io) {
    const args = parse(
      'resolve',
      argv,
      {
        state: { type: 'string' },
        account: { type: 'string' },
        'client-secret': { type: 'string' },
        flag: { type: 'string', multiple: true },
        context: { type: 'string' },
      },
      usage,
    );
    const state = readStateFile(requireString(args, 'state', usage), io.cwd, optionalString(args, 'account'));
    let context: unknown;
    const contextText = optionalString(args, 'context') ?? '{}';
    try {
      context = JSON.parse(contextText);
    } catch (error) {
      throw new CliError(`--context is not valid JSON: ${(error as Error).message}`);
    }
    if (typeof context !== 'object' || context === null || Array.isArray(context)) {
      throw new CliError('--context must be a JSON object, e.g. \'{"targeting_key":"user-1","country":"SE"}\'');
    }
    let secret = optionalString(args, 'client-secret');
    if (secret === undefined) {
      if (state.clients.size !== 1) {
        const secrets = [...state.clients.keys()].join(', ');
        throw new CliError(`the state has ${state.clients.size} clients; pick one with --client-secret (${secrets || 'none'})`);
      }
      secret = [...state.clients.keys()][0]!;
    }
    const flags = (args.values.flag as string[] | undefined) ?? [];
    try {
      const response = resolveFlags(state, {
        flags,
        evaluationContext: context as Record<string, unknown>,
        clientSecret: secret,
      });
      io.out(JSON.stringify({ resolvedFlags: response.resolvedFlags.map(printable) }, null, 2));
      return 0;
    } catch (error) {
      if (error instanceof ResolveError) throw new CliError(error.message, 1);
      throw error;
    }
  },
};

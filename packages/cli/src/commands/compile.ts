import { resolve } from 'node:path';

import { compile as compileWorkspace, writeAtomically } from '@allot/admin';
import { loadState } from '@allot/core';

import { requireString } from '../args.js';
import type { Command } from '../command.js';
import { printJson, read, refusal, subcommand } from './workspace-io.js';

const usage = 'allot compile --workspace W --out STATE.json [--json]';

export const compile: Command = {
  name: 'compile',
  usage,
  async run(argv, io) {
    const ctx = subcommand('compile', argv, { out: { type: 'string', short: 'o' } }, usage, io);
    const out = requireString(ctx.args, 'out', usage);
    const ws = await read(ctx);
    const text = compileWorkspace(ws);
    // Prove it loads before writing it where providers pick it up.
    let summary;
    try {
      summary = loadState(text).summary();
    } catch (error) {
      throw refusal(error);
    }
    try {
      await writeAtomically(resolve(io.cwd, out), text);
    } catch (error) {
      throw refusal(error);
    }
    if (ctx.json) printJson(io, { out, bytes: Buffer.byteLength(text), ...summary });
    else io.out(`wrote ${out}: ${summary.flags} flags, ${summary.rules} rules, ${summary.segments} segments, ${summary.clients} clients (${Buffer.byteLength(text)} bytes)`);
    return 0;
  },
};

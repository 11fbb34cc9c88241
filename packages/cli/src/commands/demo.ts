import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { loadState, resolveFlags } from '@allot/core';

import { CliError } from '../cli-error.js';
import type { Command } from '../command.js';

const usage = 'allot demo';

/** The example state shipped in the repository. */
const DEMO_STATE = fileURLToPath(new URL('../../../../examples/states/demo.json', import.meta.url));

const USERS: readonly Record<string, unknown>[] = [
  { targeting_key: 'ada', email: 'ada@allot.dev', country: 'GB', app: { version: '1.9.0' } },
  { targeting_key: 'bjorn', country: 'SE', app: { version: '2.3.1' } },
  { targeting_key: 'nora', country: 'NO', app: { version: '2.1.0' } },
  { targeting_key: 'sven', country: 'SE', app: { version: '2.0.9' } },
  { targeting_key: 'li', country: 'US', app: { version: '3.0.0' } },
];

export const demo: Command = {
  name: 'demo',
  usage,
  run(_argv, io) {
    if (!existsSync(DEMO_STATE)) {
      throw new CliError('the example state is part of the allot repository (examples/states/demo.json), not of the installed package: run allot demo from a clone, or try allot resolve on a state of your own', 1);
    }
    const state = loadState(readFileSync(DEMO_STATE, 'utf8'));
    io.out(`example state ${DEMO_STATE}`);
    io.out(`${'user'.padEnd(8)}${'flag'.padEnd(22)}${'variant'.padEnd(12)}${'reason'.padEnd(34)}value`);
    for (const user of USERS) {
      const { resolvedFlags } = resolveFlags(state, { evaluationContext: user, clientSecret: 'demo-secret' });
      for (const f of resolvedFlags) {
        io.out(
          `${String(user.targeting_key).padEnd(8)}${f.flag.padEnd(22)}${(f.variant || '-').padEnd(12)}${f.reason.padEnd(34)}${JSON.stringify(f.value)}`,
        );
      }
    }
    return 0;
  },
};

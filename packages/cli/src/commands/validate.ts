import { validateState } from '@allot/core';

import { optionalString, parse, requireString } from '../args.js';
import type { Command } from '../command.js';
import { readJsonFile } from '../state-file.js';

const usage = 'allot validate --state STATE.json [--account ID] [--json]';

export const validate: Command = {
  name: 'validate',
  usage,
  run(argv, io) {
    const args = parse('validate', argv, { state: { type: 'string' }, account: { type: 'string' }, json: { type: 'boolean' } }, usage);
    const path = requireString(args, 'state', usage);
    const account = optionalString(args, 'account');
    const result = validateState(readJsonFile(path, io.cwd, 'state'), account === undefined ? {} : { accountId: account });
    if (!result.ok) {
      if (args.values.json === true) {
        io.out(JSON.stringify({ ok: false, issues: result.issues }, null, 2));
      } else {
        io.out(`${path}: ${result.issues.length} problem${result.issues.length === 1 ? '' : 's'}`);
        for (const issue of result.issues) io.out(`  ${issue.path}: ${issue.message}`);
      }
      return 1;
    }
    const s = result.state.summary();
    if (args.values.json === true) {
      io.out(JSON.stringify({ ok: true, summary: s }, null, 2));
    } else {
      io.out(
        `${path}: ok: account ${s.accountId}, ${s.flags} flags (${s.archivedFlags} archived), ${s.rules} rules, ` +
          `${s.segments} segments (${s.segmentsWithBitsets} allocated to a bitset), ${s.clients} clients`,
      );
    }
    return 0;
  },
};

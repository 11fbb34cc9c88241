/**
 * `allot store copy --from A --to B`: a workspace and its audit log from a workspace file
 * into a PostgreSQL database, or back (see @allot/pg-store's copy). The document and every
 * audit line move byte for byte, so a round trip gives identical files.
 */
import { resolve } from 'node:path';

import { AdminError } from '@allot/admin';

import { optionalString, parse, requireString } from '../args.js';
import type { Command } from '../command.js';
import { CliError } from '../cli-error.js';
import { isPostgresUrl } from './serve.js';
import { REFUSED, refusal, splitSubcommand } from './workspace-io.js';

const usage =
  'allot store copy --from SOURCE --to TARGET [--account ID]\n' +
  '  SOURCE and TARGET: a workspace file (allot.yaml) and a PostgreSQL URL (postgres://…), one of each;\n' +
  '  the audit log (allot.audit.jsonl) and the client secrets (allot.secrets.yaml) beside the file\n' +
  '  travel with it (in the database: the audit table and the secrets column). --account picks the account\n' +
  '  to copy out of a database that holds several. Never overwrites: the target must not hold it yet';

export const store: Command = {
  name: 'store',
  usage,
  async run(argv, io) {
    const [name, rest] = splitSubcommand('store', argv, ['copy'], usage);
    const args = parse(`store ${name}`, rest, { from: { type: 'string' }, to: { type: 'string' }, account: { type: 'string' } }, usage);
    const from = requireString(args, 'from', usage);
    const to = requireString(args, 'to', usage);
    const account = optionalString(args, 'account');
    if (isPostgresUrl(from) === isPostgresUrl(to)) {
      throw new CliError(`one of --from and --to must be a workspace file and the other a postgres:// URL (got ${isPostgresUrl(from) ? 'two URLs' : 'two files'})\nusage: ${usage}`);
    }
    const pgStore = await import('@allot/pg-store');
    try {
      if (isPostgresUrl(to)) {
        if (account !== undefined) throw new CliError('--account picks the account to copy out of a database; a copy into one takes the workspace file\'s own');
        const r = await pgStore.copyFileToDatabase(resolve(io.cwd, from), to);
        io.err(`copied account ${r.account} (revision ${r.revision}, ${r.auditEntries} audit entries) from ${from} to ${pgStore.redact(to)}`);
      } else {
        const r = await pgStore.copyDatabaseToFile(from, resolve(io.cwd, to), account);
        io.err(`copied account ${r.account} (revision ${r.revision}, ${r.auditEntries} audit entries) from ${pgStore.redact(from)} to ${to}`);
      }
    } catch (error) {
      if (error instanceof pgStore.CopyError || error instanceof pgStore.SchemaTooNewError) throw new CliError(error.message, REFUSED);
      if (error instanceof AdminError || error instanceof CliError) throw refusal(error);
      const db = isPostgresUrl(to) ? to : from;
      throw new CliError(`the copy failed at the database ${pgStore.redact(db)}: ${(error as Error).message}; nothing was written there`, REFUSED);
    }
    return 0;
  },
};

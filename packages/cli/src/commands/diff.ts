import { resolve } from 'node:path';

import { estimateImpact, previewImpact, WorkspaceFile, type Workspace } from '@allot/admin';
import { readScenario, ScenarioError } from '@allot/simulation';

import { listOption, optionalString, parse, requireString } from '../args.js';
import type { Command } from '../command.js';
import { attributesOf, profileWithPresence } from '../diff/audience-profile.js';
import { roundEstimates } from '../diff/precision.js';
import { renderImpact } from '../diff/render.js';
import { CliError, printJson, query, refusal } from './workspace-io.js';

const usage =
  'allot diff --before W1 --after W2 [--flag F]... [--environment E]... [--population scenario.yaml [--units N]] [--json]';

/** Units of a --population scenario evaluated by default (fewer when it has fewer). */
const DEFAULT_UNITS = 100_000;

export const diff: Command = {
  name: 'diff',
  usage,
  async run(argv, io) {
    const args = parse(
      'diff',
      argv,
      {
        before: { type: 'string' },
        after: { type: 'string' },
        flag: { type: 'string', multiple: true },
        environment: { type: 'string', multiple: true },
        population: { type: 'string' },
        units: { type: 'string' },
        json: { type: 'boolean' },
      },
      usage,
    );
    if (args.positionals.length > 0) throw new CliError(`unexpected argument ${JSON.stringify(args.positionals[0])}; name the workspaces with --before and --after\nusage: ${usage}`);
    const beforePath = requireString(args, 'before', usage);
    const afterPath = requireString(args, 'after', usage);
    const before = await readWorkspace(io.cwd, beforePath, 'before');
    const after = await readWorkspace(io.cwd, afterPath, 'after');
    const flags = listOption(args, 'flag');
    const environments = listOption(args, 'environment');
    let preview = query(() =>
      previewImpact(before, after, { ...(flags === undefined ? {} : { flags }), ...(environments === undefined ? {} : { environments }) }),
    );
    const population = optionalString(args, 'population');
    const units = optionalString(args, 'units');
    if (units !== undefined && population === undefined) throw new CliError(`--units counts units of the --population scenario; give --population too\nusage: ${usage}`);
    if (population !== undefined) {
      let scenario;
      try {
        scenario = readScenario(resolve(io.cwd, population));
      } catch (error) {
        if (error instanceof ScenarioError) throw new CliError(`--population ${population}: ${error.message}`, 1);
        throw error;
      }
      const spec = scenario.population;
      const n = units === undefined ? Math.min(DEFAULT_UNITS, spec.units) : unitsOption(units);
      const { profile, present } = profileWithPresence(preview.conditions, spec, n, population);
      preview = roundEstimates(estimateImpact(preview, profile));
      for (const [attribute, units] of present) {
        if (units > 0) continue;
        const readers = preview.conditions.filter((c) => attributesOf(c.targeting.expr).includes(attribute)).map((c) => c.label);
        io.err(
          `warning: --population ${population}: none of the ${n} units evaluated has ${attribute}, which ${readers.join(', ')} ${readers.length === 1 ? 'reads' : 'read'}: ` +
            `every unit counts as missing it, so the estimates say nothing about units that have it; add ${attribute} to the scenario's population attributes`,
        );
      }
    }
    if (args.values.json === true) {
      const conditions = preview.conditions.map((c) => ({ label: c.label, text: c.text }));
      printJson(io, { before: beforePath, after: afterPath, ...preview, conditions });
    } else {
      for (const line of renderImpact(preview, beforePath, afterPath)) io.out(line);
    }
    return 0;
  },
};

async function readWorkspace(cwd: string, path: string, option: string): Promise<Workspace> {
  try {
    return (await new WorkspaceFile(resolve(cwd, path)).read()).workspace;
  } catch (error) {
    const e = refusal(error);
    if (e instanceof CliError) throw new CliError(`--${option} ${path}: ${e.message}`, e.exitCode);
    throw e;
  }
}

function unitsOption(text: string): number {
  const n = Number(text.replace(/_/g, ''));
  if (!Number.isInteger(n) || n <= 0) throw new CliError(`--units: expected a positive whole number of units such as 100000, got ${JSON.stringify(text)}`);
  return n;
}

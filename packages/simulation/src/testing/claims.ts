/**
 * `assertClaims`: a scenario's intent claims (`claims:`, exactly as a scenario file writes
 * them) held against a workspace or a compiled state in a user's own test suite. The claims
 * are parsed by the scenario parser and counted and judged by the same code as
 * `allot simulate`, and a failure throws the lines its report prints.
 */
import type { Workspace } from '@allot/admin';

import { buildReport } from '../report/build.js';
import { describeCheck } from '../report/markdown.js';
import { runScenario } from '../run/runner.js';
import { claimsSpec } from '../scenario/claims-spec.js';
import { ScenarioError } from '../scenario/errors.js';
import { isObject, populationSpec } from '../scenario/population-spec.js';
import { stateSteps } from '../scenario/scenario.js';
import type { ConfiguredStep, Scenario } from '../types.js';
import { timelineSteps } from '../workspace/steps.js';

export interface ClaimOptions {
  /** Units pushed through every step (default 20,000). */
  readonly units?: number;
  /**
   * Steps after the initial configuration, as a scenario's `timeline:` writes them: for a
   * workspace `{ label, operations, attributes }` (admin operations, `{ op, …arguments }`), for
   * a state `{ label, state, attributes }`. The first step is labelled `initial`.
   */
  readonly timeline?: readonly Readonly<Record<string, unknown>>[];
  /** The population as a scenario's `population:` writes it (`seed`, `id`, `attributes`); its `units` is `units` above. */
  readonly population?: Readonly<Record<string, unknown>>;
  /** Family-wise alpha of the `share` claims' χ² tests (default 0.001). */
  readonly alpha?: number;
  /** The client whose rules are resolved, when the configuration has several. */
  readonly clientSecret?: string;
  /** As a scenario's `checks.allowInconclusive`: claim names or step labels that may go untested, or `true`. Default: none. */
  readonly allowInconclusive?: boolean | readonly string[];
}

/** An @allot/admin workspace, told apart from a compiled resolver state (whose `flags` is a map). */
function isWorkspace(value: unknown): value is Workspace {
  return isObject(value) && typeof value.account === 'string' && Array.isArray(value.segments) && Array.isArray(value.flags);
}

function stepsOf(configuration: unknown, timeline: readonly Readonly<Record<string, unknown>>[]): ConfiguredStep[] {
  if (isWorkspace(configuration)) return timelineSteps(configuration, timeline).steps;
  if (!isObject(configuration)) throw new ScenarioError('configuration', 'expected an @allot/admin workspace or a compiled resolver state');
  return stateSteps({ state: configuration, timeline }, { baseDir: process.cwd() });
}

/**
 * Simulates `options.units` units through the configuration (and its timeline) in the calling
 * thread and throws an Error listing every claim that failed or that no unit reached, one line
 * each, as `allot simulate` prints them
 * (`FAIL: claim "exclusive [a, b]" at step initial: 12 of 20,000 units are in two or more of them …`).
 */
export async function assertClaims(configuration: unknown, claims: readonly unknown[], options: ClaimOptions = {}): Promise<void> {
  const steps = stepsOf(configuration, options.timeline ?? []);
  const scenario: Scenario = {
    name: 'claims',
    description: '',
    clientSecret: options.clientSecret ?? null,
    population: populationSpec({ ...options.population, units: options.units ?? 20_000 }, 'population'),
    steps,
    checks: { alpha: options.alpha ?? 0.001, allowCorrelated: [], allowInconclusive: options.allowInconclusive === undefined ? false : typeof options.allowInconclusive === 'boolean' ? options.allowInconclusive : [...options.allowInconclusive], mde: null },
    claims: claimsSpec(claims, steps),
  };
  const run = await runScenario(scenario, { workers: 0 });
  const report = buildReport(run.plan, run.tally, { workers: 0, seconds: run.seconds, shards: 1 });
  const failed = report.checks.filter((c) => c.claim !== undefined && c.kind !== 'power' && !c.passed);
  if (failed.length > 0) throw new Error(failed.map(describeCheck).join('\n'));
}

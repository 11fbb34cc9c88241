/**
 * Property helpers for users' own test suites: run a state (and what its configuration
 * claims) through the harness in the calling thread and throw an Error listing every failed
 * check of one kind.
 */
import { buildReport } from '../report/build.js';
import { runScenario } from '../run/runner.js';
import type { CheckKind, ConfiguredStep, PopulationSpec, Scenario } from '../types.js';

export interface Claims {
  readonly coordination?: ConfiguredStep['coordination'];
  readonly proportions?: ConfiguredStep['proportions'];
  readonly splits?: ConfiguredStep['splits'];
  readonly groups?: ConfiguredStep['groups'];
}

export interface PropertyOptions {
  readonly units?: number;
  readonly seed?: number;
  readonly clientSecret?: string;
  /** Family-wise alpha of the statistical tests (default 0.001). */
  readonly alpha?: number;
  readonly population?: Partial<PopulationSpec>;
}

async function assertKinds(kinds: readonly CheckKind[], state: unknown, claims: Claims, options: PropertyOptions): Promise<void> {
  const scenario: Scenario = {
    name: 'property',
    description: '',
    clientSecret: options.clientSecret ?? null,
    population: { units: options.units ?? 20_000, seed: options.seed ?? 1, id: { shape: 'sequential', field: 'targeting_key', prefix: 'u' }, attributes: [], ...options.population },
    steps: [{ label: 'state', description: '', state, coordination: claims.coordination ?? {}, proportions: claims.proportions ?? {}, splits: claims.splits ?? {}, groups: claims.groups ?? [], attributes: [], monotone: [] }],
    checks: { alpha: options.alpha ?? 0.001, allowCorrelated: [], allowInconclusive: true, mde: null },
    claims: [],
  };
  const run = await runScenario(scenario, { workers: 0 });
  const report = buildReport(run.plan, run.tally, { workers: 0, seconds: run.seconds, shards: 1 });
  const failed = report.checks.filter((c) => kinds.includes(c.kind) && !c.passed);
  if (failed.length > 0) throw new Error(failed.map((c) => `${c.kind} ${c.subject}: ${c.detail}`).join('\n'));
}

/** No unit is in two conflicting segments or served by two experiments of an exclusion group (exact). */
export function assertMutualExclusion(state: unknown, claims: Claims, options: PropertyOptions = {}): Promise<void> {
  return assertKinds(['mutual-exclusion', 'exclusion-group'], state, claims, options);
}

/** Segments and splits compile as configured, and a population lands in them in proportion. */
export function assertProportions(state: unknown, claims: Claims, options: PropertyOptions = {}): Promise<void> {
  return assertKinds(['configuration', 'proportion'], state, claims, options);
}

/** Every resolve of core agrees with the plain reference evaluation (first matching rule wins). */
export function assertRulePrecedence(state: unknown, options: PropertyOptions = {}): Promise<void> {
  return assertKinds(['rule-precedence'], state, {}, options);
}

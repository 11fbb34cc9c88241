/**
 * @allot/simulation: push synthetic populations through a configuration and prove, exactly
 * and statistically, that it does what it claims.
 *
 * ```ts
 * const scenario = readScenario('simulations/ranking.yaml');
 * const run = await runScenario(scenario, { units: 1_000_000 });
 * const report = buildReport(run.plan, run.tally, { workers: run.workers, seconds: run.seconds, shards: 1 });
 * console.log(renderMarkdown(report));
 * ```
 */
export type * from './types.js';
export { Population, withAttributes, type MutableContext } from './population/population.js';
export { ReferenceModel, referenceResolve, unitOfValue, type ReferenceOutcome } from './reference/reference.js';
export { UnsupportedTargeting } from './reference/targeting.js';
export { planScenario, conflicts, sharedBuckets } from './plan/plan.js';
export { StepLayout } from './plan/layout.js';
export { countRange, type RangeJob } from './run/count-range.js';
export { runScenario, shardRange, type RunOptions, type RunResult } from './run/runner.js';
export { PreparedRun, type PreparedRunOptions } from './run/prepared-run.js';
export { addTallies, emptyTally } from './run/tally.js';
export { readShard, mergeShards, shardFile, type ShardFile } from './run/shard.js';
export { evaluateChecks } from './checks/evaluate.js';
export { chiSquareTail, chiSquareGoodnessOfFit, chiSquareIndependence, type ChiSquareResult, type ContingencyResult } from './stats/chi-square.js';
export { wilsonInterval } from './stats/wilson.js';
export { buildReport, type RunFacts } from './report/build.js';
export { describeCheck, renderMarkdown, verdictText } from './report/markdown.js';
export { renderHtml } from './report/html.js';
export { ScenarioError } from './scenario/errors.js';
export { readScenario, scenarioFrom, type ScenarioContext } from './scenario/scenario.js';
export { minimalDetectableEffect, noncentralChiSquareTail, requiredNoncentrality, unitsToDetect, type DetectableEffect } from './stats/power.js';
export { applyWorkspaceOp, applyWorkspaceOps, WORKSPACE_OPS, type AppliedOps, type RuleSpec, type RulePatchSpec, type SegmentSpec, type Weights, type WorkspaceOp, type WorkspaceOpName } from './workspace/operations.js';
export { claimsOfWorkspace, monotoneSegments, type WorkspaceClaims } from './workspace/claims.js';
export { emptyWorkspace, readWorkspace, workspaceSteps, SIMULATION_SECRET } from './workspace/steps.js';
export { progressBar, type ProgressBar } from './run/progress.js';

/**
 * `@allot/simulation/testing`: fast-check arbitraries and property helpers for checking your
 * own configurations in your own Vitest suites.
 */
export { arbContext, arbState, arbWorkspaceOps, type ArbitraryState, type WorkspaceOpsOptions } from './arbitraries.js';
export { assertClaims, type ClaimOptions } from './claims.js';
export { assertMutualExclusion, assertProportions, assertRulePrecedence, type Claims, type PropertyOptions } from './properties.js';
export { applyWorkspaceOp, applyWorkspaceOps, type AppliedOps, type RuleSpec, type WorkspaceOp } from '../workspace/operations.js';
export { claimsOfWorkspace, type WorkspaceClaims } from '../workspace/claims.js';
export { emptyWorkspace, SIMULATION_SECRET } from '../workspace/steps.js';

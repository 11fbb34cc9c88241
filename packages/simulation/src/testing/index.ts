/**
 * `@allot/simulation/testing`: fast-check arbitraries and property helpers for checking your
 * own configurations in your own Vitest suites.
 */
export { arbContext, arbState, arbStateSketch, type ArbitraryState } from './arbitraries.js';
export { assertMutualExclusion, assertProportions, assertRulePrecedence, type Claims, type PropertyOptions } from './properties.js';
export { allocateSketch, claimsOfSketch, stateFromSketch, SKETCH_SECRET, type FlagSketch, type RuleSketch, type SegmentSketch, type StateSketch } from './sketch.js';

/**
 * The impact preview: what a change from one workspace to another does to every flag and
 * segment, exactly per combination of audience matches (see impact.ts), and estimated for a
 * population.
 */
export { previewImpact, MAX_CONDITIONS } from './impact.js';
export { affectedPart } from './affected.js';
export { estimateImpact } from './estimate.js';
export { printExpr } from './audience.js';
export { TargetingProbe } from './targeting-probe.js';
export {
  NOT_SERVED,
  type AudienceCondition,
  type AudienceProfile,
  type FlagCase,
  type FlagImpact,
  type ImpactOptions,
  type ImpactPreview,
  type SegmentCase,
  type SegmentImpact,
  type Share,
} from './types.js';

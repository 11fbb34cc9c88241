/**
 * Estimates from a population: a profile says how many units match each combination of the
 * audience conditions; every share becomes the units-weighted sum of its exact cases.
 */
import { AdminError } from '../errors.js';
import { shareOf } from './cases.js';
import type { AudienceProfile, FlagImpact, ImpactPreview, SegmentImpact, Share } from './types.js';

/** `preview` with an `estimate` in every share, from `profile`. */
export function estimateImpact(preview: ImpactPreview, profile: AudienceProfile): ImpactPreview {
  profile.groups.forEach((g, i) => {
    if (g.matches.length !== preview.conditions.length) {
      throw new AdminError('INVALID_ARGUMENT', `expected ${preview.conditions.length} matches per group (one per condition), got ${g.matches.length}`, {
        path: `profile.groups[${i}].matches`,
      });
    }
  });
  return {
    ...preview,
    flags: preview.flags.map((f) => estimateFlag(f, profile)),
    segments: preview.segments.map((s) => estimateSegment(s, profile)),
    population: { units: profile.units, source: profile.source },
  };
}

/** Units of the profile in each case of a result over `conditions`. */
function unitsPerCase(conditions: readonly number[], profile: AudienceProfile): number[] {
  const units = new Array<number>(1 << conditions.length).fill(0);
  for (const g of profile.groups) {
    let index = 0;
    conditions.forEach((c, i) => {
      if (g.matches[c]) index |= 1 << i;
    });
    units[index]! += g.units;
  }
  return units;
}

function estimateFlag(f: FlagImpact, profile: AudienceProfile): FlagImpact {
  const weights = unitsPerCase(f.conditions, profile);
  const n = f.outcomes.length;
  const cases = f.cases.map((c) => ({ values: Float64Array.from([...c.matrix.flat(), c.start, c.stop, c.change]) }));
  const share = (index: number): Share => shareOf(cases, index, weights);
  return {
    ...f,
    start: share(n * n),
    stop: share(n * n + 1),
    change: share(n * n + 2),
    matrix: f.matrix.map((row, i) => row.map((_, j) => share(i * n + j))),
  };
}

function estimateSegment(s: SegmentImpact, profile: AudienceProfile): SegmentImpact {
  const weights = unitsPerCase(s.conditions, profile);
  const cases = s.cases.map((c) => ({ values: Float64Array.of(c.enter, c.leave) }));
  return { ...s, enter: shareOf(cases, 0, weights), leave: shareOf(cases, 1, weights) };
}

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
    flags: preview.flags.map((f) => estimateFlag(f, profile, preview)),
    segments: preview.segments.map((s) => estimateSegment(s, profile, preview)),
    population: { units: profile.units, source: profile.source },
  };
}

/**
 * Units of the profile in each of `cases` (over `conditions`). A unit in a combination the
 * preview found no context can have would mean the profile was not made by core's targeting.
 */
function unitsPerCase(conditions: readonly number[], cases: readonly { readonly matches: readonly boolean[] }[], profile: AudienceProfile, preview: ImpactPreview): number[] {
  const position = new Map(cases.map((c, i) => [c.matches.reduce((index, m, j) => (m ? index | (1 << j) : index), 0), i]));
  const units = new Array<number>(cases.length).fill(0);
  profile.groups.forEach((g, k) => {
    let index = 0;
    conditions.forEach((c, i) => {
      if (g.matches[c]) index |= 1 << i;
    });
    const at = position.get(index);
    if (at === undefined) {
      const combination = conditions.map((c, i) => `${(index >> i) & 1 ? '' : 'not '}${preview.conditions[c]!.label}`).join(', ');
      throw new AdminError(
        'INVALID_ARGUMENT',
        `${g.units} units match ${combination}, which no context can (the conditions exclude each other); count the profile's matches with @allot/core's targeting`,
        { path: `profile.groups[${k}].matches` },
      );
    }
    units[at]! += g.units;
  });
  return units;
}

function estimateFlag(f: FlagImpact, profile: AudienceProfile, preview: ImpactPreview): FlagImpact {
  const weights = unitsPerCase(f.conditions, f.cases, profile, preview);
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

function estimateSegment(s: SegmentImpact, profile: AudienceProfile, preview: ImpactPreview): SegmentImpact {
  const weights = unitsPerCase(s.conditions, s.cases, profile, preview);
  const cases = s.cases.map((c) => ({ values: Float64Array.of(c.enter, c.leave) }));
  return { ...s, enter: shareOf(cases, 0, weights), leave: shareOf(cases, 1, weights) };
}

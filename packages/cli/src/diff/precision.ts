/**
 * Estimates to the precision their population supports. An estimate from n units is the mean
 * of exact per-case shares (each in [0, 1]) over the units, so its standard error is at most
 * √(p(1−p)/n). Each estimate is rounded to the decimal place of that bound's first
 * significant digit, and never finer than one unit (1/n): from 10,000 units a 5% share is
 * shown to 0.1% (its standard error is at most 0.22%), never to 0.01%.
 */
import type { ImpactPreview, Share } from '@allot/admin';

/** `preview` with every estimate rounded for its population (unchanged without one). */
export function roundEstimates(preview: ImpactPreview): ImpactPreview {
  const population = preview.population;
  if (population === null) return preview;
  const round = (s: Share): Share => (s.estimate === null ? s : { ...s, estimate: roundEstimate(s.estimate, population.units) });
  return {
    ...preview,
    flags: preview.flags.map((f) => ({ ...f, start: round(f.start), stop: round(f.stop), change: round(f.change), matrix: f.matrix.map((row) => row.map(round)) })),
    segments: preview.segments.map((s) => ({ ...s, enter: round(s.enter), leave: round(s.leave) })),
  };
}

/** `p` estimated from `units` units, rounded to the decimal place of its standard error's bound. */
export function roundEstimate(p: number, units: number): number {
  const error = Math.max(Math.sqrt((p * (1 - p)) / units), 1 / units);
  const places = Math.max(0, -Math.floor(Math.log10(error)));
  const scale = 10 ** places;
  return Math.round(p * scale) / scale;
}

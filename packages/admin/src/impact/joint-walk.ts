/**
 * The rule walk of one flag in two states at once, for units in one bucket group with one
 * combination of audience matches: which rules each state tries is then fixed, and the
 * outcome pair depends only on the rules' variant buckets. Those hash `segmentId|unit`, so
 * rules salted with the same segment id (the same rule before and after, or two rules on one
 * segment) share one bucket, and different ids hash independently: the walk branches over
 * each salt's bucket cells once, and weighs each branch by the cells' sizes.
 */
import type { RuleView } from './state-view.js';

/** A rule ready for the walk: its salt and its outcome in each cell of that salt. */
export interface WalkRule {
  readonly salt: number;
  /** Outcome index per cell of the salt; -1: no range holds the cell (the walk goes on). */
  readonly outcomeByCell: Int32Array;
}

/**
 * Cells of every salt: the variant buckets split where any rule using the salt changes its
 * outcome, cells with the same outcomes for every rule merged.
 */
export interface VariantCells {
  /** Per salt, the probability of each cell. */
  readonly cells: readonly Float64Array[];
  /** The same rule views given to `variantCells`, ready for the walk. */
  readonly rules: ReadonlyMap<RuleView, WalkRule>;
}

/** Builds the cells for `rules` (of both states); `outcomeOf` numbers a variant name. */
export function variantCells(rules: readonly RuleView[], outcomeOf: (variant: string) => number): VariantCells {
  const bySalt = new Map<string, RuleView[]>();
  for (const r of rules) {
    const list = bySalt.get(r.segment);
    if (list === undefined) bySalt.set(r.segment, [r]);
    else list.push(r);
  }
  const cells: Float64Array[] = [];
  const walkRules = new Map<RuleView, WalkRule>();
  for (const group of bySalt.values()) {
    const salt = cells.length;
    const n = group[0]!.bucketCount;
    const points = new Set<number>([0, n]);
    for (const r of group) {
      for (const range of r.ranges) {
        points.add(Math.min(n, Math.max(0, range.lower)));
        points.add(Math.min(n, Math.max(0, range.upper)));
      }
    }
    const sorted = [...points].sort((a, b) => a - b);
    // Elementary intervals, merged by the outcome each rule gives them.
    const cellOf = new Map<string, number>();
    const probabilities: number[] = [];
    const outcomes: number[][] = group.map(() => []);
    for (let i = 0; i + 1 < sorted.length; i++) {
      const lower = sorted[i]!;
      const width = sorted[i + 1]! - lower;
      if (width <= 0) continue;
      const vector = group.map((r) => outcomeAt(r, lower, outcomeOf));
      const key = vector.join(',');
      let cell = cellOf.get(key);
      if (cell === undefined) {
        cell = probabilities.length;
        cellOf.set(key, cell);
        probabilities.push(0);
        vector.forEach((o, k) => outcomes[k]!.push(o));
      }
      probabilities[cell]! += width / n;
    }
    cells.push(Float64Array.from(probabilities));
    group.forEach((r, k) => walkRules.set(r, { salt, outcomeByCell: Int32Array.from(outcomes[k]!) }));
  }
  return { cells, rules: walkRules };
}

/** The first range holding bucket `b` decides (core's rule); -1 when none does. */
function outcomeAt(r: RuleView, b: number, outcomeOf: (variant: string) => number): number {
  for (const range of r.ranges) if (b >= range.lower && b < range.upper) return outcomeOf(range.variant);
  return -1;
}

/**
 * Adds `weight` × P(before outcome i, after outcome j) into `matrix[i * outcomes + j]`, for
 * the rules each state tries, in order. `notServed` is the outcome of a walk that ends
 * with no match.
 */
export function addJointWalk(
  cells: VariantCells,
  before: readonly WalkRule[],
  after: readonly WalkRule[],
  weight: number,
  notServed: number,
  outcomes: number,
  matrix: Float64Array,
): void {
  const fixed = new Int32Array(cells.cells.length).fill(-1);
  const walk = (phase: 0 | 1, from: number, first: number, w: number): void => {
    const list = phase === 0 ? before : after;
    for (let i = from; i < list.length; i++) {
      const r = list[i]!;
      const cell = fixed[r.salt]!;
      if (cell < 0) {
        const p = cells.cells[r.salt]!;
        for (let c = 0; c < p.length; c++) {
          fixed[r.salt] = c;
          walk(phase, i, first, w * p[c]!);
        }
        fixed[r.salt] = -1;
        return;
      }
      const o = r.outcomeByCell[cell]!;
      if (o >= 0) {
        finish(phase, first, o, w);
        return;
      }
    }
    finish(phase, first, notServed, w);
  };
  const finish = (phase: 0 | 1, first: number, outcome: number, w: number): void => {
    if (phase === 0) walk(1, 0, outcome, w);
    else matrix[first * outcomes + outcome]! += w;
  };
  walk(0, 0, -1, weight);
}

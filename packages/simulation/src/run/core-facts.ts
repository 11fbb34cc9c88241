/**
 * Core's answer for one flag, as the counters read it: whether a rule served, which rule, and
 * the variant and segment as small integers. Core returns one frozen result object per
 * assignment (and one for no match, one for a key error), shared between resolves; only a
 * result that carries fallthroughs is a new object. A result that is not frozen is never
 * remembered, so a core that reused one object for several answers would be read right. So the facts are worked out once per
 * result object and found again by identity, and the loop compares integers where it would
 * compare rule, variant and segment names for every unit.
 */
import type { ResolvedFlag } from '@allot/core';

/** Names (variants, segments) as integers, shared by every step of a run. */
export class Names {
  private readonly ids = new Map<string, number>([['', 0]]);

  /** The empty name's id. */
  static readonly EMPTY = 0;

  id(name: string): number {
    let id = this.ids.get(name);
    if (id === undefined) this.ids.set(name, (id = this.ids.size));
    return id;
  }
}

/** Result objects remembered per flag; beyond this, facts are worked out for every result. */
const MAX_KNOWN = 64;

export class CoreFacts {
  /** Facts of the result last given to `read`. */
  served = false;
  /** Index of the rule that served among the plan's rules of the flag, or -1. */
  rule = -1;
  variant: number = Names.EMPTY;
  segment: number = Names.EMPTY;

  private last: ResolvedFlag | null = null;
  private readonly known: ResolvedFlag[] = [];
  private readonly knownServed: boolean[] = [];
  private readonly knownRule: number[] = [];
  private readonly knownVariant: number[] = [];
  private readonly knownSegment: number[] = [];

  constructor(
    private readonly ruleIndex: ReadonlyMap<string, number>,
    private readonly names: Names,
  ) {}

  read(r: ResolvedFlag): void {
    // `last` and `known` hold frozen results only.
    if (r === this.last) return;
    const known = this.known;
    for (let i = 0; i < known.length; i++) {
      if (known[i] === r) {
        this.last = r;
        this.served = this.knownServed[i]!;
        this.rule = this.knownRule[i]!;
        this.variant = this.knownVariant[i]!;
        this.segment = this.knownSegment[i]!;
        return;
      }
    }
    const served = r.reason === 'RESOLVE_REASON_MATCH';
    const rule = served ? (this.ruleIndex.get(r.rule) ?? -1) : -1;
    const variant = this.names.id(r.variant);
    const segment = this.names.id(r.segment);
    // A result with fallthroughs is a new object every time: remembering it would only grow
    // the list. Only a frozen result is remembered: one that could change is read every time.
    if (r.fallthroughs.length === 0 && known.length < MAX_KNOWN && Object.isFrozen(r)) {
      known.push(r);
      this.knownServed.push(served);
      this.knownRule.push(rule);
      this.knownVariant.push(variant);
      this.knownSegment.push(segment);
      this.last = r;
    } else {
      this.last = null;
    }
    this.served = served;
    this.rule = rule;
    this.variant = variant;
    this.segment = segment;
  }
}

/**
 * Exposures (assignments with `shouldApply`) handed to the application once per
 * (unit, flag, variant) within a window. Memory is bounded: past `maxEntries` the oldest
 * entries are forgotten, which at worst logs an exposure again (the safe direction).
 */
import type { CompiledRule, EvaluationContext, ResolvedFlag } from '@allot/core';
import { unitOf } from '@allot/core';
import type { Exposure } from '../types.js';

export interface ExposureLogOptions {
  readonly windowMs: number;
  readonly maxEntries: number;
  readonly now?: () => number;
}

export class ExposureLog {
  /** Key → time first logged, in insertion (so time) order. */
  private readonly seen = new Map<string, number>();
  private readonly now: () => number;

  constructor(
    private readonly options: ExposureLogOptions,
    private readonly deliver: (exposure: Exposure) => void,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Logs `resolved` for `context` unless the same unit saw the same variant recently. */
  expose(resolved: ResolvedFlag, rule: CompiledRule | undefined, context: EvaluationContext): void {
    if (!resolved.shouldApply) return;
    const unitValue = rule === undefined ? null : unitOf(rule.readUnit(context));
    const unit = typeof unitValue === 'string' ? unitValue : '';
    const key = `${unit}\u0000${resolved.flag}\u0000${resolved.variant}`;
    const now = this.now();
    const first = this.seen.get(key);
    if (first !== undefined && now - first < this.options.windowMs) return;
    if (first !== undefined) this.seen.delete(key);
    this.seen.set(key, now);
    this.evict(now);
    this.deliver({
      flag: resolved.flag,
      variant: resolved.variant,
      unit,
      rule: resolved.rule,
      segment: resolved.segment,
      assignmentId: resolved.assignmentId,
      assignmentKind: resolved.assignmentKind,
      fallthroughs: resolved.fallthroughs,
      context,
      time: now,
    });
  }

  get size(): number {
    return this.seen.size;
  }

  private evict(now: number): void {
    for (const [key, time] of this.seen) {
      if (this.seen.size <= this.options.maxEntries && now - time < this.options.windowMs) break;
      this.seen.delete(key);
    }
  }
}

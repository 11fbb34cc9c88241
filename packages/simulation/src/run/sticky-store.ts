/**
 * The simulation's own sticky-assignment store. Runs go unit by unit through every step, and a
 * unit's sticky assignments belong to it alone, so the store only ever holds the current
 * unit's entries and is cleared between units. Writes are buffered and applied at the end of
 * a step, as a provider applies a resolve's writes after it.
 */
import type { MaterializationAccess, MaterializationRecord, MaterializationWrite } from '@allot/core';

import type { StickyView } from '../reference/reference.js';

interface Entry extends MaterializationRecord {
  readonly ruleToVariant: Record<string, string>;
}

export class UnitStickyStore implements StickyView {
  private readonly entries = new Map<string, Entry>();
  private readonly pending: MaterializationWrite[] = [];
  /** What core reads and writes through. */
  readonly access: MaterializationAccess;

  constructor() {
    this.access = {
      read: (unit, materialization) => this.entries.get(`${materialization}\u0000${unit}`) ?? null,
      write: (w) => {
        this.pending.push(w);
      },
    };
  }

  get(unit: string, materialization: string): Readonly<Record<string, string>> | null {
    return this.entries.get(`${materialization}\u0000${unit}`)?.ruleToVariant ?? null;
  }

  has(unit: string, materialization: string): boolean {
    return this.entries.has(`${materialization}\u0000${unit}`);
  }

  /** Applies the writes of the step that just ended. */
  commit(): void {
    for (const w of this.pending) {
      const key = `${w.materialization}\u0000${w.unit}`;
      let entry = this.entries.get(key);
      if (entry === undefined) {
        entry = { isUnitInMaterialization: true, ruleToVariant: {} };
        this.entries.set(key, entry);
      }
      entry.ruleToVariant[w.rule] = w.variant;
    }
    this.pending.length = 0;
  }

  clear(): void {
    this.entries.clear();
    this.pending.length = 0;
  }
}

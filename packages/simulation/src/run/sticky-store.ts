/**
 * The simulation's own sticky-assignment store. Runs go unit by unit through every step, and a
 * unit's sticky assignments belong to it alone, so the store only ever holds the current
 * unit's entries and is cleared between units. Writes are buffered and applied at the end of
 * a step, as a provider applies a resolve's writes after it.
 */
import type { MaterializationAccess, MaterializationRecord, MaterializationWrite } from '@allot/core';

import type { StickyView } from '../reference/reference.js';

interface Entry extends MaterializationRecord {
  readonly unit: string;
  readonly ruleToVariant: Record<string, string>;
}

export class UnitStickyStore implements StickyView {
  /** Entries by materialization; a unit rarely has more than one per materialization. */
  private readonly entries = new Map<string, Entry[]>();
  private readonly pending: MaterializationWrite[] = [];
  /** What core reads and writes through. */
  readonly access: MaterializationAccess;

  constructor() {
    this.access = {
      read: (unit, materialization) => this.find(unit, materialization),
      write: (w) => {
        this.pending.push(w);
      },
    };
  }

  private find(unit: string, materialization: string): Entry | null {
    const list = this.entries.get(materialization);
    if (list === undefined) return null;
    for (const e of list) if (e.unit === unit) return e;
    return null;
  }

  get(unit: string, materialization: string): Readonly<Record<string, string>> | null {
    return this.find(unit, materialization)?.ruleToVariant ?? null;
  }

  has(unit: string, materialization: string): boolean {
    return this.find(unit, materialization) !== null;
  }

  /** Applies the writes of the step that just ended. */
  commit(): void {
    for (const w of this.pending) {
      let entry = this.find(w.unit, w.materialization);
      if (entry === null) {
        entry = { unit: w.unit, isUnitInMaterialization: true, ruleToVariant: {} };
        const list = this.entries.get(w.materialization);
        if (list === undefined) this.entries.set(w.materialization, [entry]);
        else list.push(entry);
      }
      entry.ruleToVariant[w.rule] = w.variant;
    }
    this.pending.length = 0;
  }

  clear(): void {
    if (this.entries.size > 0) this.entries.clear();
    this.pending.length = 0;
  }
}

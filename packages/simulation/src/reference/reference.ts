/**
 * The reference evaluator: Confidence's rule semantics written plainly from the state JSON,
 * independent of core's compiled rule walk. Only the murmur3 bucket function is shared (it is
 * golden-tested on its own). The simulation resolves every context with both and counts
 * every disagreement; the per-rule trace it leaves is what the sample ratio tests count.
 */
import { gunzipSync } from 'node:zlib';

import { HashPrefix, MAX_UNIT_LENGTH } from '@allot/core';

import { propertyName } from '../property-name.js';
import { parseTargeting, readPath, testAttribute, type Expr } from './targeting.js';
import { utf8Length } from './values.js';

export const SEGMENT_BUCKETS = 1_000_000;

/**
 * Hash prefixes by their text. The reference builds every prefix text itself, from the state
 * JSON; `adopt` lets it use core's instance of a prefix with the same text, whose memo of
 * the last unit means that core and the reference hash each (prefix, unit) once. Only the
 * hash function is shared this way: a prefix core built differently is never adopted.
 */
export class PrefixCache {
  private readonly byText = new Map<string, HashPrefix>();

  get(prefix: string): HashPrefix {
    let p = this.byText.get(prefix);
    if (p === undefined) this.byText.set(prefix, (p = new HashPrefix(prefix)));
    return p;
  }

  /** Uses `prefix` from now on for its text. */
  adopt(prefix: HashPrefix): void {
    this.byText.set(prefix.prefix, prefix);
  }
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export interface ReferenceSegment {
  readonly name: string;
  /** null: every bucket. */
  readonly bits: Uint8Array | null;
  /** The segment's column in its model's `columnBits` (-1 when `bits` is null). */
  readonly column: number;
  readonly targeting: Expr | null;
}

export interface ReferenceAssignment {
  readonly id: string;
  readonly type: 'variant' | 'clientDefault' | 'fallthrough';
  readonly variant: string;
  readonly ranges: readonly (readonly [number, number])[];
}

/** A rule's bucket ranges flattened in assignment order: [lower, upper, assignment] triples. */
function flatRanges(assignments: readonly ReferenceAssignment[]): Int32Array {
  const out: number[] = [];
  assignments.forEach((a, i) => {
    for (const [lo, hi] of a.ranges) out.push(lo, hi, i);
  });
  return Int32Array.from(out);
}

export interface ReferenceRule {
  readonly name: string;
  readonly segmentName: string;
  readonly segment: ReferenceSegment | null;
  readonly enabled: boolean;
  readonly environments: readonly string[];
  readonly path: readonly string[];
  /** The field when the path has one part (the usual case), else null. */
  readonly field: string | null;
  /**
   * Whether `field` names a property of Object.prototype, so that reading it needs an own-property
   * check. Any other field of a plain object is its own or absent: it is read in place.
   */
  readonly fieldInherited: boolean;
  readonly blankSelector: boolean;
  readonly bucketCount: number;
  readonly assignments: readonly ReferenceAssignment[];
  /** Index of the assignment owning every bucket, or -1. */
  readonly fullRollout: number;
  readonly sticky: { readonly read: string; readonly write: string; readonly mustMatch: boolean; readonly ignoreTargeting: boolean } | null;
  readonly prefix: HashPrefix;
  readonly flatRanges: Int32Array;
}

export interface ReferenceFlag {
  readonly name: string;
  readonly archived: boolean;
  readonly clients: readonly string[];
  readonly variants: ReadonlySet<string>;
  readonly rules: readonly ReferenceRule[];
}

/** Sticky assignments as the reference sees them: rule → variant, or null when absent. */
export interface StickyView {
  get(unit: string, materialization: string): Readonly<Record<string, string>> | null;
}

/** A new sticky assignment the walk produced. */
export interface StickyWrite {
  readonly unit: string;
  readonly materialization: string;
  readonly rule: string;
  readonly variant: string;
}

export const OUTCOME_MATCH = 0;
export const OUTCOME_NO_MATCH = 1;
export const OUTCOME_TARGETING_KEY_ERROR = 2;

/** Per-rule trace values besides an assignment index (the rule's assignment count = uncovered). */
export const TRACE_NOT_ENTERED = -1;
export const TRACE_STICKY = -2;

/** The outcome of one walk; one object per evaluator, overwritten by every call. */
export interface ReferenceOutcome {
  outcome: number;
  rule: number;
  assignment: number;
  variant: string;
  sticky: boolean;
  fallthroughs: number;
}

function bitsFrom(raw: unknown): Uint8Array | null {
  if (raw === undefined || raw === null || raw === 'ALL') return null;
  const bits = new Uint8Array(SEGMENT_BUCKETS / 8);
  if (Array.isArray(raw)) {
    for (const i of raw as number[]) bits[i >> 3]! |= 1 << (i & 7);
    return bits.every((b) => b === 0xff) ? null : bits;
  }
  if (typeof raw === 'string') {
    // base64 of the gzipped bytes, bit i at byte i >> 3, least significant bit first (what admin compiles).
    const bytes = gunzipSync(Buffer.from(raw, 'base64'));
    if (bytes.length !== bits.length) throw new Error(`a bitset decodes to ${bytes.length} bytes, expected ${bits.length}`);
    bits.set(bytes);
    // Every bucket set is every bucket: a unit-less walk is in it too.
    return bits.every((b) => b === 0xff) ? null : bits;
  }
  throw new Error('the reference evaluator reads bitsets as "ALL", bucket index lists or base64 of gzipped bytes');
}

/**
 * Unit of a context value: a string of at most MAX_UNIT_LENGTH bytes of UTF-8, an integral
 * number in full decimal (`-0` is "-0"), null (none) or undefined (a targeting-key error).
 */
export function unitOfValue(v: unknown): string | null | undefined {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') {
    // A UTF-16 unit is 1 to 3 bytes of UTF-8: only lengths in between need counting.
    if (v.length * 3 <= MAX_UNIT_LENGTH) return v;
    return v.length > MAX_UNIT_LENGTH || utf8Length(v) > MAX_UNIT_LENGTH ? undefined : v;
  }
  if (typeof v === 'number' && Number.isInteger(v)) {
    const s = Object.is(v, -0) ? '-0' : Number.isSafeInteger(v) ? String(v) : BigInt(v).toString();
    return s.length > MAX_UNIT_LENGTH ? undefined : s;
  }
  return undefined;
}

/**
 * Confidence's full rollout: the rule has one assignment, with one range [0, bucketCount).
 * Such a rule needs no hash (and so no unit); any other rule hashes, even one whose ranges
 * happen to cover every bucket.
 */
function fullRolloutOf(assignments: readonly ReferenceAssignment[], n: number): number {
  if (assignments.length !== 1) return -1;
  const ranges = assignments[0]!.ranges;
  return ranges.length === 1 && ranges[0]![0] === 0 && ranges[0]![1] === n ? 0 : -1;
}

export class ReferenceModel {
  readonly accountId: string;
  readonly segments: ReadonlyMap<string, ReferenceSegment>;
  /**
   * Per segment with a bitset (its `column`), the bitset the loop reads: the segment's own
   * `bits`, or an array of equal bytes given by `shareEqualBitsets`.
   */
  readonly columnBits: Uint8Array[] = [];
  readonly flags: readonly ReferenceFlag[];
  readonly clients: ReadonlyMap<string, { readonly name: string; readonly environments: readonly string[] }>;
  private readonly salt: HashPrefix;
  private readonly prefixes: PrefixCache;
  private readonly depth: Set<string> = new Set();
  /** Set when an evaluation reached a criterion the reference cannot evaluate; the caller resets it. */
  unrecognized = false;

  /** `prefixes`: share one cache between the models of a run, so that a unit is hashed once per prefix. */
  constructor(state: unknown, prefixes: PrefixCache = new PrefixCache()) {
    this.prefixes = prefixes;
    const root = obj(state);
    const account = obj(root.account).name;
    this.accountId = (typeof account === 'string' ? account : '').replace(/^accounts\//, '');
    this.salt = prefixes.get(`MegaSalt-${this.accountId}|`);
    const blooms = new Set(Object.keys(obj(root.bloomFilters)));
    const bitsets = obj(root.bitsets);
    const segments = new Map<string, ReferenceSegment>();
    for (const [name, raw] of Object.entries(obj(root.segments))) {
      const bits = bitsFrom(bitsets[name]);
      const column = bits === null ? -1 : this.columnBits.push(bits) - 1;
      segments.set(name, { name, bits, column, targeting: parseTargeting(obj(raw).targeting, blooms) });
    }
    this.segments = segments;
    const clients = new Map<string, { name: string; environments: string[] }>();
    for (const [secret, raw] of Object.entries(obj(root.clients))) {
      clients.set(secret, {
        name: String(obj(obj(raw).client).name),
        environments: list(obj(obj(raw).clientCredential).environments).map(String),
      });
    }
    this.clients = clients;
    this.flags = Object.entries(obj(root.flags)).map(([name, raw]) => this.flagFrom(name, obj(raw)));
  }

  private flagFrom(name: string, f: Json): ReferenceFlag {
    const rules = list(f.rules).map((r): ReferenceRule => {
      const rule = obj(r);
      const spec = obj(rule.assignmentSpec);
      const bucketCount = Number(spec.bucketCount);
      const assignments = list(spec.assignments).map((a): ReferenceAssignment => {
        const o = obj(a);
        const type = o.variant !== undefined && o.variant !== null ? 'variant' : o.clientDefault !== undefined && o.clientDefault !== null ? 'clientDefault' : 'fallthrough';
        return {
          id: typeof o.assignmentId === 'string' ? o.assignmentId : '',
          type,
          variant: type === 'variant' ? String(obj(o.variant).variant) : '',
          ranges: list(o.bucketRanges).map((b) => [Number(obj(b).lower ?? 0), Number(obj(b).upper)] as const),
        };
      });
      const segmentName = typeof rule.segment === 'string' ? rule.segment : '';
      const selector = typeof rule.targetingKeySelector === 'string' ? rule.targetingKeySelector.trim() : '';
      const mat = rule.materializationSpec === undefined || rule.materializationSpec === null ? null : obj(rule.materializationSpec);
      const mode = obj(mat?.mode);
      const read = typeof mat?.readMaterialization === 'string' ? mat.readMaterialization : '';
      const write = typeof mat?.writeMaterialization === 'string' ? mat.writeMaterialization : '';
      return {
        name: typeof rule.name === 'string' ? rule.name : '',
        segmentName,
        segment: this.segments.get(segmentName) ?? null,
        enabled: rule.enabled === true,
        environments: list(rule.environments).map(String),
        path: (selector === '' ? 'targeting_key' : selector).split('.'),
        field: selector.includes('.') ? null : propertyName(selector === '' ? 'targeting_key' : selector),
        fieldInherited: (selector === '' ? 'targeting_key' : selector) in Object.prototype,
        blankSelector: selector === '',
        bucketCount,
        assignments,
        fullRollout: fullRolloutOf(assignments, bucketCount),
        sticky: read === '' && write === '' ? null : { read, write, mustMatch: mode.materializationMustMatch === true, ignoreTargeting: mode.segmentTargetingCanBeIgnored === true },
        prefix: this.prefixes.get(`${segmentName.replace(/^segments\//, '')}|`),
        flatRanges: flatRanges(assignments),
      };
    });
    return {
      name,
      archived: f.state === 'ARCHIVED',
      clients: list(f.clients).map(String),
      variants: new Set(list(f.variants).map((v) => String(obj(v).name))),
      rules,
    };
  }

  /**
   * Reads a segment's bitset from `candidate(name)` instead of its own copy when the two hold
   * exactly the same bytes (checked here, over every bucket). The reference decodes the state
   * on its own, and a decoding that differs keeps its own copy, so its answers are unchanged;
   * where they are equal, reading core's copy (which core reads for the same unit anyway)
   * halves the bitset memory the loop touches at random: one cache miss per segment and unit,
   * not two. Returns how many segments now read `candidate`'s bytes.
   */
  shareEqualBitsets(candidate: (segment: string) => Uint8Array | null): number {
    let shared = 0;
    for (const { name, bits, column } of this.segments.values()) {
      if (bits === null) continue;
      const theirs = candidate(name);
      if (theirs === null || theirs.length !== bits.length || Buffer.compare(theirs, bits) !== 0) continue;
      this.columnBits[column] = theirs;
      shared++;
    }
    return shared;
  }

  /** The flags a client resolves: not archived, listing the client. */
  flagsFor(clientSecret: string): readonly ReferenceFlag[] {
    const client = this.clients.get(clientSecret);
    if (client === undefined) return [];
    return this.flags.filter((f) => !f.archived && f.clients.includes(client.name));
  }

  /** Bucket of the account salt hash of `unit` (cached for the last unit). */
  saltBucketOf(unit: string): number {
    return this.salt.bucket(unit, SEGMENT_BUCKETS);
  }

  /** Whether `unit` with `context` is in `segment`'s audience (its targeting alone). */
  inAudience(segment: ReferenceSegment, context: Readonly<Record<string, unknown>>, unit: string | null, sticky: StickyView): boolean {
    if (segment.targeting === null) return true;
    if (this.depth.has(segment.name)) return false; // a reference cycle never matches
    this.depth.add(segment.name);
    const ok = this.holds(segment.targeting, context, unit, sticky);
    this.depth.delete(segment.name);
    return ok;
  }

  /** Whether `unit` with `context` is in `segment`: audience, then allocation. */
  inSegment(segment: ReferenceSegment, context: Readonly<Record<string, unknown>>, unit: string | null, sticky: StickyView): boolean {
    if (!this.inAudience(segment, context, unit, sticky)) return false;
    if (segment.bits === null) return true;
    if (unit === null) return false;
    return this.allocated(segment.column, this.saltBucketOf(unit));
  }

  /**
   * `inSegment` asked on its own (by a claim, or by the stickiness check), not by a rule walk:
   * the unrecognized-criterion mark is reset, so that it cannot skip a rule of the next
   * evaluation. An unrecognized criterion counts as not matching.
   */
  memberOf(segment: ReferenceSegment, context: Readonly<Record<string, unknown>>, unit: string | null, sticky: StickyView): boolean {
    const inside = this.inSegment(segment, context, unit, sticky);
    this.unrecognized = false;
    return inside;
  }

  /** Whether bucket `bucket` is in the bitset of the segment in `column`. */
  allocated(column: number, bucket: number): boolean {
    return (this.columnBits[column]![bucket >> 3]! & (1 << (bucket & 7))) !== 0;
  }

  /** Whether `context` satisfies `e` (a claim's condition), read as an audience is. */
  matches(e: Expr, context: Readonly<Record<string, unknown>>, unit: string | null, sticky: StickyView): boolean {
    const ok = this.holds(e, context, unit, sticky);
    this.unrecognized = false;
    return ok;
  }

  private holds(e: Expr, context: Readonly<Record<string, unknown>>, unit: string | null, sticky: StickyView): boolean {
    switch (e.op) {
      case 'and':
        return e.parts.every((p) => this.holds(p, context, unit, sticky));
      case 'or':
        return e.parts.some((p) => this.holds(p, context, unit, sticky));
      case 'not':
        return !this.holds(e.inner, context, unit, sticky);
      case 'attribute':
        return testAttribute(e, readPath(context, e.path));
      case 'segment': {
        const target = this.segments.get(e.name);
        return target !== undefined && this.inSegment(target, context, unit, sticky);
      }
      case 'materialization':
        return unit !== null && sticky.get(unit, e.name) !== null;
      case 'unrecognized':
        this.unrecognized = true;
        return false;
      case 'never':
        return false;
    }
  }
}

/**
 * Walks `flag`'s rules for one context, Confidence's way: the first enabled rule (in the
 * client's environments) whose unit, audience, allocation and bucket match decides. Writes the
 * outcome into `out`, one trace entry per rule into `trace`, and new sticky assignments to `writes`.
 */
export function referenceResolve(
  model: ReferenceModel,
  flag: ReferenceFlag,
  environments: readonly string[],
  context: Readonly<Record<string, unknown>>,
  sticky: StickyView,
  out: ReferenceOutcome,
  trace: Int32Array,
  writes: StickyWrite[] | null,
): void {
  out.outcome = OUTCOME_NO_MATCH;
  out.rule = -1;
  out.assignment = -1;
  out.variant = '';
  out.sticky = false;
  out.fallthroughs = 0;
  const rules = flag.rules;
  for (let r = 0; r < rules.length; r++) trace[r] = TRACE_NOT_ENTERED;
  for (let r = 0; r < rules.length; r++) {
    const rule = rules[r]!;
    if (!rule.enabled || rule.segment === null) continue;
    if (rule.environments.length > 0 && !rule.environments.some((e) => environments.includes(e))) continue;
    const field = rule.field;
    let unit = unitOfValue(
      field === null ? readPath(context, rule.path) : !rule.fieldInherited || hasOwn(context, field) ? context[field] : undefined,
    );
    const rolloutWithoutUnit = rule.blankSelector && rule.fullRollout >= 0;
    if (unit === undefined) {
      if (!rolloutWithoutUnit) {
        out.outcome = OUTCOME_TARGETING_KEY_ERROR;
        return;
      }
      unit = null;
    }
    if (unit === null && !rolloutWithoutUnit) continue;
    // Sticky assignments: a unit in the read materialization (whatever rules it holds
    // variants for) is admitted; the variant recorded for this rule, if any, is its answer.
    const spec = rule.sticky;
    let admitted = false;
    if (spec !== null && spec.read !== '') {
      if (unit === null) continue;
      const record = sticky.get(unit, spec.read);
      if (record === null) {
        if (spec.mustMatch) continue; // paused intake: only units in the materialization enter
      } else {
        // The audience alone is re-checked (or nothing, when targeting may be ignored).
        admitted = spec.ignoreTargeting || model.inAudience(rule.segment, context, unit, sticky);
        if (model.unrecognized) {
          model.unrecognized = false;
          continue;
        }
        const stored = hasOwn(record, rule.name) ? record[rule.name] : undefined;
        if (admitted && stored !== undefined) {
          const a = storedAssignment(rule, stored, unit);
          if (a >= 0) {
            trace[r] = TRACE_STICKY;
            out.outcome = OUTCOME_MATCH;
            out.rule = r;
            out.assignment = a;
            out.variant = stored;
            out.sticky = true;
            return;
          }
          // No assignment of the rule serves the stored variant: assign afresh, still admitted.
        }
      }
    }
    if (!admitted) {
      const inSegment = model.inSegment(rule.segment, context, unit, sticky);
      if (model.unrecognized) {
        // Targeting reached a criterion Confidence cannot evaluate: the rule is skipped.
        model.unrecognized = false;
        continue;
      }
      if (!inSegment) continue;
    }
    let a = rule.fullRollout;
    if (a < 0) {
      const bucket = rule.prefix.bucket(unit!, rule.bucketCount);
      a = findAssignment(rule.flatRanges, bucket);
    }
    trace[r] = a < 0 ? rule.assignments.length : a;
    if (a < 0) continue;
    const assignment = rule.assignments[a]!;
    if (spec !== null && spec.write !== '' && unit !== null && writes !== null) {
      writes.push({ unit, materialization: spec.write, rule: rule.name, variant: assignment.variant });
    }
    if (assignment.type === 'fallthrough') {
      out.fallthroughs++;
      continue;
    }
    out.outcome = OUTCOME_MATCH;
    out.rule = r;
    out.assignment = a;
    out.variant = assignment.variant;
    return;
  }
}

const hasOwn = (o: object, key: string): boolean => Object.prototype.hasOwnProperty.call(o, key);

/**
 * The assignment a stored variant picks, or -1: the rule's only variant assignment of that
 * variant, or, when several carry it, the first whose range holds the unit's variant bucket.
 * An empty stored variant (a fallthrough or client default was written) picks none.
 */
function storedAssignment(rule: ReferenceRule, variant: string, unit: string): number {
  if (variant === '') return -1;
  let only = -1;
  let count = 0;
  for (let i = 0; i < rule.assignments.length; i++) {
    const a = rule.assignments[i]!;
    if (a.type === 'variant' && a.variant === variant) {
      if (count === 0) only = i;
      count++;
    }
  }
  if (count <= 1) return only;
  const bucket = rule.prefix.bucket(unit, rule.bucketCount);
  for (let i = 0; i < rule.assignments.length; i++) {
    const a = rule.assignments[i]!;
    if (a.type !== 'variant' || a.variant !== variant) continue;
    for (const [lo, hi] of a.ranges) if (bucket >= lo && bucket < hi) return i;
  }
  return -1;
}

/** The first assignment with a range holding `bucket` (ranges are in assignment order), or -1. */
function findAssignment(ranges: Int32Array, bucket: number): number {
  for (let i = 0; i < ranges.length; i += 3) if (bucket >= ranges[i]! && bucket < ranges[i + 1]!) return ranges[i + 2]!;
  return -1;
}

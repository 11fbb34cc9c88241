/**
 * The workspace document (YAML or JSON) to a `Workspace`, or an INVALID_WORKSPACE error
 * listing every problem with its path. Parsing checks the document's shape here, then its
 * consistency (references, lifecycle, exclusivity) in `check.ts`.
 */
import type { JsonValue } from '@allot/core';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, YAMLParseError, type Scalar } from 'yaml';

import { BucketSet } from '../allocation/bucket-set.js';
import { AdminError, invalidWorkspace, type WorkspaceIssue } from '../errors.js';
import { TARGETING_LIMITS, tooManyValues } from '../targeting/limits.js';
import { parseTargeting } from '../targeting/parser.js';
import type { Targeting } from '../targeting/ast.js';
import { checkWorkspace, markConsistent } from './check.js';
import {
  describe,
  field,
  isDoc,
  Issues,
  join,
  oneOf,
  readBoolean,
  readFraction,
  readMap,
  readRequiredString,
  readString,
  readStringList,
  unknownKeys,
  type Doc,
} from './document-reader.js';
import {
  NO_STICKY,
  WORKSPACE_FORMAT_VERSION,
  type Audience,
  type Client,
  type ExclusionGroup,
  type Flag,
  type Rule,
  type Segment,
  type Sticky,
  type Variant,
  type WeightedVariant,
  type Workspace,
} from './model.js';
import { canonicalTags, idProblem, isGroupTag, tagProblem } from './names.js';
import { cutDocument, entryDigest, type EntryModels, type EntrySection, type ParsedEntries } from './parsed-entries.js';

export interface ParseOptions {
  /** Where the text came from (a file name), for error messages. */
  readonly source?: string;
  /**
   * Keep the bitsets decoded by the consistency check (faster operations that follow, 125 KB
   * per allocated segment); by default they are released, as compiling never needs them.
   */
  readonly retainBitsets?: boolean;
  /**
   * Sets already in memory, by the text that stands for them in the document: a segment
   * whose `buckets.runs` is one of these keys, with the same count, takes that set instead
   * of decoding one (how `applyOperation` checks a document without re-reading its bitsets).
   */
  readonly knownBitsets?: ReadonlyMap<string, BucketSet>;
  /**
   * Client secrets by client id, kept outside the document (see `WorkspaceFile`); they take
   * the place of a `secret` the document holds (documents written before secrets moved out).
   * A client with neither has the secret "" and is compiled under `clients/<id>`.
   */
  readonly secrets?: ReadonlyMap<string, string>;
  /**
   * The ids of the segments that differ from a workspace known to be consistent, of which
   * this document is a changed copy: only they are checked for buckets shared with segments
   * they conflict with (see `checkWorkspace`; how `applyOperation` checks one change).
   */
  readonly changedSegments?: ReadonlySet<string>;
  /**
   * The entries of the documents this file held before (`WorkspaceFile` keeps one): a YAML
   * document's segments, flags and groups whose text did not change are taken from there,
   * not parsed again (parsed-entries.ts), and the cache is refilled from this document. Not
   * used with `retainBitsets`, `knownBitsets` or `changedSegments`.
   */
  readonly entries?: ParsedEntries;
}

/** Parses a workspace document (YAML, or JSON, which is YAML too). Throws INVALID_WORKSPACE. */
export function parseWorkspace(text: string, options: ParseOptions = {}): Workspace {
  const { entries } = options;
  // JSON is YAML too, but JSON.parse reads it ten times faster.
  const json = /^\s*\{/.test(text);
  if (entries !== undefined && !json && options.retainBitsets !== true && options.knownBitsets === undefined && options.changedSegments === undefined) {
    const workspace = parseByEntries(text, options, entries);
    if (workspace !== null) return workspace;
    entries.clear();
  }
  let data: unknown;
  try {
    data = json ? parseJson(text) : parseYaml(text);
  } catch (error) {
    const message = error instanceof YAMLParseError ? error.message : (error as Error).message;
    throw invalidWorkspace([{ path: '(document)', message: `not valid YAML or JSON: ${message}` }], options.source);
  }
  return workspaceFromData(data, options);
}

/** A cut document's entries: the data of those parsed here, the segment, flag or group of those taken from `entries`. */
class Taken<S extends EntrySection> {
  constructor(readonly model: EntryModels[S]) {}
}

/**
 * `text` read entry by entry (parsed-entries.ts), taking from `entries` every entry whose text
 * it holds, and refilling it; null when the document cannot be cut, an entry does not parse
 * as a map of one key on its own, or the workspace has a problem: the caller then parses the
 * whole document, which reports what is wrong.
 */
function parseByEntries(text: string, options: ParseOptions, entries: ParsedEntries): Workspace | null {
  const cut = cutDocument(text);
  if (cut === null) return null;
  let data: Record<string, unknown>;
  const digests = { segments: new Map<string, string>(), flags: new Map<string, string>(), groups: new Map<string, string>() };
  try {
    const rest = parseYaml(cut.rest);
    if (!isDoc(rest)) return null;
    data = { ...rest };
    for (const [section, texts] of cut.sections) {
      if (data[section] !== null) return null;
      const map: Record<string, unknown> = {};
      const ids = digests[section];
      for (const entryText of texts) {
        const digest = entryDigest(entryText);
        const model = entries.get(section, digest);
        let id: string;
        if (model !== undefined) {
          id = model.id;
          ownValue(map, id, new Taken(model));
        } else {
          const one = parseYaml(entryText);
          if (!isDoc(one)) return null;
          const keys = Object.keys(one);
          if (keys.length !== 1) return null;
          id = keys[0]!;
          ownValue(map, id, field(one, id));
        }
        if (ids.has(id)) return null; // an id repeated: the whole parse says where
        ids.set(id, digest);
      }
      data[section] = map;
    }
  } catch {
    return null;
  }
  let workspace: Workspace;
  try {
    workspace = workspaceFromData(data, options);
  } catch (error) {
    if (error instanceof AdminError && error.code === 'INVALID_WORKSPACE') return null;
    throw error;
  }
  entries.replace({
    segments: keptByDigest(workspace.segments, digests.segments),
    flags: keptByDigest(workspace.flags, digests.flags),
    groups: keptByDigest(workspace.groups, digests.groups),
  });
  return workspace;
}

/** Sets `key` as `map`'s own property, whatever the key (`__proto__` too, which `map[key] =` would take as the prototype). */
function ownValue(map: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(map, key, { value, enumerable: true, writable: true, configurable: true });
}

/** `models` by the digest of their entry's text (`digests`, by id), held weakly. */
function keptByDigest<T extends { readonly id: string }>(models: readonly T[], digests: ReadonlyMap<string, string>): Map<string, WeakRef<T>> {
  const out = new Map<string, WeakRef<T>>();
  for (const m of models) {
    const digest = digests.get(m.id);
    if (digest !== undefined) out.set(digest, new WeakRef(m));
  }
  return out;
}

/**
 * The data of a YAML document, refusing a key repeated in a map. The library's own check
 * (`uniqueKeys`) compares every key of a map with every other, quadratic in the segments:
 * at 10,000 segments it was most of the parse. This one keeps a set per map.
 */
function parseYaml(text: string): unknown {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { uniqueKeys: false, lineCounter });
  const first = doc.errors[0];
  if (first !== undefined) throw first;
  const pending: unknown[] = [doc.contents];
  while (pending.length > 0) {
    const node = pending.pop();
    if (isScalar(node)) detach(node);
    if (isSeq(node)) pending.push(...node.items);
    if (!isMap(node)) continue;
    const seen = new Set<unknown>();
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? pair.key.value : pair.key;
      if (seen.has(key)) {
        const at = isScalar(pair.key) && pair.key.range !== undefined && pair.key.range !== null ? lineCounter.linePos(pair.key.range[0]) : undefined;
        throw new Error(`Map keys must be unique${at === undefined ? '' : ` at line ${at.line}, column ${at.col}`}: ${JSON.stringify(key)}`);
      }
      seen.add(key);
      pending.push(pair.value);
    }
  }
  return doc.toJS();
}

/**
 * V8 keeps a string of 13 characters or more cut from another as a view of the whole: one
 * display name read from the document kept the document's text alive as long as the
 * workspace (9 MB at 10,000 segments, in a server that holds the workspace for good). A
 * plain or quoted scalar's value is such a cut, and is copied out; a block scalar's (the
 * bucket runs) is built from its lines, and is left as it is.
 */
function detach(scalar: Scalar): void {
  const { value } = scalar;
  if (typeof value !== 'string' || value.length < 13 || scalar.type === 'BLOCK_LITERAL' || scalar.type === 'BLOCK_FOLDED') return;
  // JSON's round trip is exact (lone surrogates included) and builds a new string.
  scalar.value = JSON.parse(JSON.stringify(value)) as string;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return parseYaml(text); // for its error message with a position
  }
}

/** A workspace from already-parsed document data. Throws INVALID_WORKSPACE. */
export function workspaceFromData(data: unknown, options: ParseOptions = {}): Workspace {
  const issues = new Issues();
  if (!isDoc(data)) {
    throw invalidWorkspace([{ path: '(document)', message: `expected a map at the top, got ${describe(data)}` }], options.source);
  }
  unknownKeys(data, ['allot', 'account', 'seed', 'environments', 'clients', 'segments', 'flags', 'groups'], '', issues);
  const version = field(data, 'allot');
  if (version !== WORKSPACE_FORMAT_VERSION) {
    issues.add('allot', `expected the workspace format version ${WORKSPACE_FORMAT_VERSION}, got ${describe(version)}`);
  }
  const workspace: Workspace = {
    account: readRequiredString(data, 'account', '', issues),
    seed: readRequiredString(data, 'seed', '', issues),
    environments: readStringList(data, 'environments', '', issues),
    clients: entries(data, 'clients', issues).map(([id, raw, path]) => readClient(id, raw, path, issues, options.secrets)),
    ...readEntries(data, issues, options.knownBitsets),
  };
  if (issues.items.length === 0) issues.items.push(...checkWorkspace(workspace, options.retainBitsets ?? false, options.changedSegments));
  if (issues.items.length > 0) throw invalidWorkspace(issues.items, options.source);
  markConsistent(workspace);
  return workspace;
}

/** The segments, flags and groups of a document, in that order, each problem recorded in `issues`. */
function readEntries(data: Doc, issues: Issues, known: ReadonlyMap<string, BucketSet> | undefined): Pick<Workspace, 'segments' | 'flags' | 'groups'> {
  return {
    segments: entries(data, 'segments', issues).map(([id, raw, path]) => (raw instanceof Taken ? (raw as Taken<'segments'>).model : readSegment(id, raw, path, issues, known))),
    flags: entries(data, 'flags', issues).map(([id, raw, path]) => (raw instanceof Taken ? (raw as Taken<'flags'>).model : readFlag(id, raw, path, issues))),
    groups: entries(data, 'groups', issues).map(([id, raw, path]) => (raw instanceof Taken ? (raw as Taken<'groups'>).model : readGroup(id, raw, path, issues))),
  };
}

/**
 * The shape problems of the `segments`, `flags` and `groups` maps of `data` (a document
 * holding only some entries: the ones a change touched), as `workspaceFromData` finds them
 * for those entries of a whole document; no consistency check, which needs the workspace.
 */
export function entryShapeIssues(data: unknown, known?: ReadonlyMap<string, BucketSet>): WorkspaceIssue[] {
  const issues = new Issues();
  if (isDoc(data)) readEntries(data, issues, known);
  else issues.add('(document)', `expected a map at the top, got ${describe(data)}`);
  return issues.items;
}

/** The entries of a top-level map keyed by id, with their paths; bad ids are reported. */
function entries(data: Doc, key: string, issues: Issues): [string, Doc, string][] {
  const map = readMap(field(data, key), key, issues);
  const out: [string, Doc, string][] = [];
  for (const id of Object.keys(map)) {
    const path = join(key, id);
    const problem = idProblem(id);
    if (problem !== undefined) issues.add(path, problem);
    const raw = map[id];
    if (!isDoc(raw)) {
      issues.add(path, `expected a map, got ${describe(raw)}`);
      continue;
    }
    out.push([id, raw, path]);
  }
  return out;
}

function readTargeting(obj: Doc, key: string, path: string, issues: Issues): Targeting | null {
  const text = readString(obj, key, path, issues, '');
  try {
    return parseTargeting(text, join(path, key));
  } catch (error) {
    if (!(error instanceof AdminError)) throw error;
    issues.add(join(path, key), error.message.slice(join(path, key).length + 2));
    return null;
  }
}

function readTags(obj: Doc, key: string, path: string, issues: Issues): string[] {
  const tags = readStringList(obj, key, path, issues);
  tags.forEach((t, i) => {
    const problem = isGroupTag(t) ? undefined : tagProblem(t);
    if (problem !== undefined) issues.add(join(join(path, key), i), problem);
  });
  return canonicalTags(tags);
}

function readSegment(id: string, raw: Doc, path: string, issues: Issues, known: ReadonlyMap<string, BucketSet> | undefined): Segment {
  unknownKeys(raw, ['displayName', 'targeting', 'allocation', 'state', 'buckets'], path, issues);
  const allocationPath = join(path, 'allocation');
  const allocation = readMap(field(raw, 'allocation'), allocationPath, issues);
  unknownKeys(allocation, ['proportion', 'exclusivityTags', 'exclusiveTo'], allocationPath, issues);
  const state = oneOf(raw, 'state', path, issues, ['UNALLOCATED', 'ALLOCATED', 'ARCHIVED'] as const, 'UNALLOCATED');
  return {
    id,
    displayName: readString(raw, 'displayName', path, issues, id),
    targeting: readTargeting(raw, 'targeting', path, issues),
    proportion: readFraction(allocation, 'proportion', allocationPath, issues),
    exclusivityTags: readTags(allocation, 'exclusivityTags', allocationPath, issues),
    exclusiveTo: readTags(allocation, 'exclusiveTo', allocationPath, issues),
    state,
    buckets: readBuckets(raw, path, issues, known),
  };
}

function readBuckets(raw: Doc, path: string, issues: Issues, known: ReadonlyMap<string, BucketSet> | undefined): BucketSet | null {
  const value = field(raw, 'buckets');
  if (value === undefined || value === null) return null;
  const p = join(path, 'buckets');
  const obj = readMap(value, p, issues);
  unknownKeys(obj, ['count', 'runs', 'bitset'], p, issues);
  const count = field(obj, 'count');
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 0) {
    issues.add(join(p, 'count'), `expected a bucket count, got ${describe(count)}`);
    return null;
  }
  const runs = field(obj, 'runs');
  const bitset = field(obj, 'bitset');
  if (runs !== undefined && bitset !== undefined) {
    issues.add(p, 'holds both runs and a bitset; the tool writes runs only: restore the field from version control');
    return null;
  }
  // Workspaces written before the runs encoding hold `bitset`: read as is, rewritten as runs.
  const key = runs !== undefined ? 'runs' : 'bitset';
  const text = runs ?? bitset;
  if (typeof text !== 'string' || !/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(text)) {
    const what = key === 'runs' ? 'base64 of the bucket runs' : 'base64 of the gzipped bitset';
    issues.add(join(p, key), `expected ${what}, got ${describe(text)}; the tool writes this field: restore it from version control`);
    return null;
  }
  const same = known?.get(text);
  if (same?.count === count) return same;
  // Decoded and counted by checkWorkspace.
  return key === 'runs' ? BucketSet.fromRunsText(text, count) : BucketSet.fromGzippedBitset(text, count);
}

function readSticky(raw: Doc, path: string, issues: Issues): Sticky {
  const value = field(raw, 'sticky');
  if (value === undefined || value === null) return NO_STICKY;
  const p = join(path, 'sticky');
  const obj = readMap(value, p, issues);
  unknownKeys(obj, ['enabled', 'pausedIntake', 'ignoreTargetingForAssigned'], p, issues);
  return {
    enabled: readBoolean(obj, 'enabled', p, issues, false),
    pausedIntake: readBoolean(obj, 'pausedIntake', p, issues, false),
    ignoreTargetingForAssigned: readBoolean(obj, 'ignoreTargetingForAssigned', p, issues, false),
  };
}

function readWeights(raw: Doc, key: string, path: string, issues: Issues): WeightedVariant[] {
  const p = join(path, key);
  const map = readMap(field(raw, key), p, issues);
  const out: WeightedVariant[] = [];
  for (const variant of Object.keys(map)) {
    const weight = map[variant];
    if (typeof weight !== 'number' || !Number.isInteger(weight) || weight <= 0) {
      issues.add(join(p, variant), `expected a positive whole-number weight, got ${describe(weight)}`);
      continue;
    }
    out.push({ variant, weight });
  }
  if (out.length === 0 && Object.keys(map).length === 0) issues.add(p, 'expected at least one variant with a weight');
  return out;
}

function readAudience(raw: Doc, path: string, issues: Issues): Audience {
  const segment = field(raw, 'segment');
  if (segment !== undefined && segment !== null) {
    if (field(raw, 'targeting') !== undefined) {
      issues.add(join(path, 'targeting'), 'a rule has either a segment or inline targeting, not both');
    }
    if (typeof segment !== 'string') issues.add(join(path, 'segment'), `expected a segment id, got ${describe(segment)}`);
    return { kind: 'segment', segment: typeof segment === 'string' ? segment : '' };
  }
  return { kind: 'inline', targeting: readTargeting(raw, 'targeting', path, issues) };
}

const RULE_FIELDS = {
  individual: ['attribute', 'values', 'variant'],
  conditional: ['segment', 'targeting', 'percentage', 'randomizationField', 'split'],
  'ab-test': ['segment', 'targeting', 'randomizationField', 'weights'],
  rollout: ['segment', 'targeting', 'reach', 'randomizationField', 'variant'],
} as const;

function readRule(raw: unknown, path: string, issues: Issues): Rule | undefined {
  if (!isDoc(raw)) {
    issues.add(path, `expected a map, got ${describe(raw)}`);
    return undefined;
  }
  const kind = oneOf(raw, 'kind', path, issues, ['individual', 'conditional', 'ab-test', 'rollout'] as const, 'rollout');
  unknownKeys(raw, ['id', 'kind', 'state', 'environments', 'sticky', ...RULE_FIELDS[kind]], path, issues);
  const id = readRequiredString(raw, 'id', path, issues);
  const problem = id === '' ? undefined : idProblem(id);
  if (problem !== undefined) issues.add(join(path, 'id'), problem);
  const base = {
    id,
    state: oneOf(raw, 'state', path, issues, ['ENABLED', 'DISABLED', 'ARCHIVED'] as const, 'DISABLED'),
    environments: readStringList(raw, 'environments', path, issues),
    sticky: readSticky(raw, path, issues),
  };
  const randomizationField = readString(raw, 'randomizationField', path, issues, '');
  switch (kind) {
    case 'individual': {
      const values = readStringList(raw, 'values', path, issues);
      if (values.length > TARGETING_LIMITS.maxValues) {
        const at = join(path, 'values');
        issues.add(at, tooManyValues(values.length, at).message.slice(at.length + 2));
      }
      return {
        ...base,
        kind,
        attribute: readRequiredString(raw, 'attribute', path, issues),
        values,
        variant: readRequiredString(raw, 'variant', path, issues),
      };
    }
    case 'conditional':
      return {
        ...base,
        kind,
        audience: readAudience(raw, path, issues),
        percentage: readFraction(raw, 'percentage', path, issues, 1),
        randomizationField,
        split: readWeights(raw, 'split', path, issues),
      };
    case 'ab-test':
      return { ...base, kind, audience: readAudience(raw, path, issues), randomizationField, weights: readWeights(raw, 'weights', path, issues) };
    case 'rollout':
      return {
        ...base,
        kind,
        audience: readAudience(raw, path, issues),
        reach: readFraction(raw, 'reach', path, issues),
        randomizationField,
        variant: readRequiredString(raw, 'variant', path, issues),
      };
  }
}

function readFlag(id: string, raw: Doc, path: string, issues: Issues): Flag {
  unknownKeys(raw, ['displayName', 'state', 'clients', 'variants', 'rules'], path, issues);
  const variantsPath = join(path, 'variants');
  const variantMap = readMap(field(raw, 'variants'), variantsPath, issues);
  const variants: Variant[] = Object.keys(variantMap).map((name) => {
    const problem = idProblem(name);
    if (problem !== undefined) issues.add(join(variantsPath, name), problem);
    return { name, value: jsonValue(variantMap[name], join(variantsPath, name), issues) };
  });
  const rulesRaw = field(raw, 'rules');
  const rules: Rule[] = [];
  if (rulesRaw !== undefined && rulesRaw !== null) {
    if (Array.isArray(rulesRaw)) {
      rulesRaw.forEach((r, i) => {
        const rule = readRule(r, join(join(path, 'rules'), i), issues);
        if (rule) rules.push(rule);
      });
    } else {
      issues.add(join(path, 'rules'), `expected a list of rules, got ${describe(rulesRaw)}`);
    }
  }
  return {
    id,
    displayName: readString(raw, 'displayName', path, issues, id),
    state: oneOf(raw, 'state', path, issues, ['ACTIVE', 'ARCHIVED'] as const, 'ACTIVE'),
    clients: readStringList(raw, 'clients', path, issues),
    variants,
    rules,
  };
}

function jsonValue(value: unknown, path: string, issues: Issues): JsonValue {
  if (value === undefined) return null;
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (Number.isFinite(value)) return value;
    issues.add(path, `expected a finite number, got ${value}`);
    return null;
  }
  if (Array.isArray(value)) return value.map((v, i) => jsonValue(v, join(path, i), issues));
  if (isDoc(value)) {
    const out: Record<string, JsonValue> = {};
    for (const key of Object.keys(value)) {
      Object.defineProperty(out, key, { value: jsonValue(value[key], join(path, key), issues), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  issues.add(path, `expected a JSON value, got ${describe(value)}`);
  return null;
}

function readGroup(id: string, raw: Doc, path: string, issues: Issues): ExclusionGroup {
  unknownKeys(raw, ['displayName', 'state', 'members'], path, issues);
  return {
    id,
    displayName: readString(raw, 'displayName', path, issues, id),
    state: oneOf(raw, 'state', path, issues, ['ACTIVE', 'ARCHIVED'] as const, 'ACTIVE'),
    members: readStringList(raw, 'members', path, issues),
  };
}

function readClient(id: string, raw: Doc, path: string, issues: Issues, secrets: ReadonlyMap<string, string> | undefined): Client {
  unknownKeys(raw, ['displayName', 'secret', 'environments'], path, issues);
  const inDocument = readString(raw, 'secret', path, issues, '');
  return {
    id,
    displayName: readString(raw, 'displayName', path, issues, id),
    secret: secrets?.get(id) ?? inDocument,
    environments: readStringList(raw, 'environments', path, issues),
  };
}

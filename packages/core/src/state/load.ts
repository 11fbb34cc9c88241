/**
 * Loading a resolver state: JSON in either of Confidence's two shapes, validated in full and
 * compiled, or rejected with every problem and its path. Never half-loaded.
 *
 * - The conformance shape (`state.json`): `account`, and `flags`, `segments`, `bitsets`,
 *   `bloomFilters`, `clients` as objects keyed by name (clients by secret).
 * - The proto-JSON `ResolverState`: `flags`, `segmentsNoBitsets`, `bitsets`
 *   (`[{segment, gzippedBitset | fullBitset}]`), `clients`, `clientCredentials` as lists; the
 *   account id is given by the caller.
 */
import { StateError } from '../errors.js';
import { HashPrefix } from '../hash/bucket.js';
import { bitsetFromBase64, bitsetFromIndices, BitsetScratch, type Bitset } from './bitset.js';
import { BloomFilter } from './bloom.js';
import { compileFlag, type CompiledFlag } from './flags.js';
import {
  describe,
  entriesOf,
  indexPath,
  isObject,
  IssueList,
  keyPath,
  optionalBoolean,
  optionalStringList,
  own,
  readArray,
  readInteger,
  readObject,
  readString,
  type JsonObject,
} from './json-input.js';
import { specializeFlag } from '../resolve/specialize.js';
import { CompiledSegment, collectReferences, compileTargeting, NO_NAMES } from './segments.js';
import { ResolverState, type CompiledClient } from './resolver-state.js';
import type { StateIssue } from '../types.js';

export interface LoadOptions {
  /**
   * The account id (without `accounts/`) that salts segment hashing. Required for the proto
   * shape, which does not carry it; overrides `account.name` of the conformance shape.
   */
  readonly accountId?: string;
  /**
   * A context field read as `targeting_key` when a context has none, e.g. `"targetingKey"`
   * for OpenFeature contexts, so that callers need not copy contexts to rename it.
   */
  readonly targetingKeyAlias?: string;
  /**
   * When each flag's rule walk is written as code of its own (see core's README,
   * "Performance"): `"hot"` (default) once the flag has been resolved SPECIALIZE_AFTER times,
   * so that a large state loads as fast as before and flags never resolved cost nothing;
   * `"all"` at load; `"none"` never. The answers are the same either way; a platform that
   * forbids generated code keeps the generic walk.
   */
  readonly specialize?: 'hot' | 'all' | 'none';
  /**
   * Bitsets an earlier load decoded, by their base64 text: this load takes the ones its state
   * holds instead of inflating them again and, if the state loads, leaves in the map exactly
   * its own (a server that reloads its state after each small change decodes only the
   * bitsets that changed); a state with problems leaves the map as it was. The states then
   * share those bitsets: do not transfer such a state's bitsets to another thread.
   */
  readonly decodedBitsets?: Map<string, DecodedBitset>;
  /**
   * The key a bitset is kept under in `decodedBitsets`: by default its base64 text, which
   * the map then holds (43 MB at 10,000 segments). A digest of the text (a cryptographic
   * hash: two texts must never share a key) keeps the map small where nothing else holds
   * the texts, as in the provider's loader worker.
   */
  readonly decodedBitsetKey?: (text: string) => string;
}

/** A base64 bitset as decoded (see `LoadOptions.decodedBitsets`). */
export interface DecodedBitset {
  readonly bits: Bitset;
  readonly allSet: boolean;
}

/** Resolves of a flag after which its walk is specialized (`LoadOptions.specialize` "hot"). */
export const SPECIALIZE_AFTER = 1_000;

/** A segment's bitset as loaded; `allSet`: every bit the input holds is set. */
export interface LoadedBitset {
  readonly bits: Bitset;
  readonly allSet: boolean;
  readonly path: string;
}

/** A raw item of the state with the path it was found at. */
export interface Located {
  readonly name: string;
  readonly raw: unknown;
  readonly path: string;
}

/** The state's parts, in shape-independent form, before compiling. */
interface StateParts {
  /** The proto-JSON shape (else the conformance shape). */
  proto: boolean;
  accountId: string;
  flags: Located[];
  segments: Located[];
  bitsets: Map<string, LoadedBitset>;
  bloomFilters: Located[];
  clients: CompiledClient[];
  /** The bitsets decoded on the way, for `LoadOptions.decodedBitsets` once the state has loaded. */
  decoded: Decoded;
}

export type ValidationResult =
  | { readonly ok: true; readonly state: ResolverState }
  | { readonly ok: false; readonly issues: readonly StateIssue[] };

/** Loads a state (a JSON string or a parsed value); throws `StateError` listing every problem. */
export function loadState(input: unknown, options: LoadOptions = {}): ResolverState {
  const result = validateState(input, options);
  if (!result.ok) throw new StateError(result.issues);
  return result.state;
}

/** Like `loadState`, but returns the problems instead of throwing. */
export function validateState(input: unknown, options: LoadOptions = {}): ValidationResult {
  const specialize = specializeOption(options);
  const issues = new IssueList();
  let json = input;
  if (typeof input === 'string') {
    try {
      json = JSON.parse(input);
    } catch (error) {
      return { ok: false, issues: [{ path: '(root)', message: `not valid JSON: ${(error as Error).message}` }] };
    }
  } else if (input instanceof Uint8Array) {
    return validateState(new TextDecoder().decode(input), options);
  }
  const root = readObject(json, '(root)', issues);
  if (!root) return { ok: false, issues: issues.items };

  const parts = Array.isArray(own(root, 'flags')) || own(root, 'segmentsNoBitsets') !== undefined
    ? protoParts(root, options, issues)
    : mapParts(root, options, issues);
  const alias = options.targetingKeyAlias ?? '';
  const state = compile(parts, issues, alias);
  if (state === undefined || issues.items.length > 0) return { ok: false, issues: issues.items };
  parts.decoded.keepOnly();
  state.targetingKeyAlias = alias;
  state.proto = parts.proto;
  state.specialize = specialize;
  for (const flag of state.flags.values()) planWalk(flag, specialize, alias);
  return { ok: true, state };
}

/** `options.specialize`, checked; throws `TypeError` naming the values it takes. */
export function specializeOption(options: LoadOptions): 'hot' | 'all' | 'none' {
  const specialize: unknown = options.specialize ?? 'hot';
  if (specialize !== 'hot' && specialize !== 'all' && specialize !== 'none') {
    throw new TypeError(`options.specialize must be "hot", "all" or "none", got ${JSON.stringify(specialize)}`);
  }
  return specialize;
}

/** Specializes a freshly compiled flag's walk now, or after SPECIALIZE_AFTER resolves, as `specialize` says. */
export function planWalk(flag: CompiledFlag, specialize: 'hot' | 'all' | 'none', alias: string): void {
  if (flag.archived || specialize === 'none') return;
  if (specialize === 'all') flag.program = specializeFlag(flag, alias);
  else flag.resolvesUntilSpecialized = SPECIALIZE_AFTER;
}

export function located(obj: JsonObject, key: string, issues: IssueList): Located[] {
  const v = own(obj, key);
  if (v === undefined || v === null) return [];
  const map = readObject(v, key, issues);
  if (!map) return [];
  return entriesOf(map).map(([name, raw]) => ({ name, raw, path: keyPath(key, name) }));
}

/** Items of a proto list, named by their `name` field (or `nameField`). */
function locatedList(obj: JsonObject, key: string, issues: IssueList, nameField = 'name'): Located[] {
  const v = own(obj, key);
  if (v === undefined || v === null) return [];
  const list = readArray(v, key, issues) ?? [];
  const out: Located[] = [];
  list.forEach((raw, i) => {
    const path = indexPath(key, i);
    if (!isObject(raw)) {
      issues.add(path, `expected an object, got ${describe(raw)}`);
      return;
    }
    const name = readString(own(raw, nameField), keyPath(path, nameField), issues);
    if (name !== undefined) out.push({ name, raw, path });
  });
  return out;
}

export function accountIdFrom(root: JsonObject, options: LoadOptions, issues: IssueList, proto: boolean): string {
  if (options.accountId !== undefined) {
    if (options.accountId.trim() === '') issues.add('accountId', 'expected a non-empty account id');
    return options.accountId.replace(/^accounts\//, '');
  }
  const account = own(root, 'account');
  const name = isObject(account) ? own(account, 'name') : undefined;
  if (typeof name === 'string' && name !== '') return name.replace(/^accounts\//, '');
  issues.add(
    proto ? 'accountId' : 'account.name',
    proto
      ? 'the proto ResolverState shape carries no account id: pass it (accountId option, --account ID)'
      : `expected "accounts/<id>", got ${describe(name)}`,
  );
  return '';
}

function mapParts(root: JsonObject, options: LoadOptions, issues: IssueList): StateParts {
  const accountId = accountIdFrom(root, options, issues, false);
  const bitsets = new Map<string, LoadedBitset>();
  const scratch = BitsetScratch.shared();
  const decoded = new Decoded(options.decodedBitsets, options.decodedBitsetKey);
  for (const b of located(root, 'bitsets', issues)) {
    const bits = mapBitset(b, issues, scratch, decoded);
    if (bits) bitsets.set(b.name, bits);
  }
  return {
    proto: false,
    accountId,
    flags: located(root, 'flags', issues),
    segments: located(root, 'segments', issues),
    bitsets,
    bloomFilters: located(root, 'bloomFilters', issues),
    clients: mapClients(root, issues),
    decoded,
  };
}

/** One entry of the conformance shape's `bitsets`; undefined when it is not one (an issue says why). */
export function mapBitset(b: Located, issues: IssueList, scratch: BitsetScratch, decoded?: Decoded): LoadedBitset | undefined {
  if (b.raw === 'ALL' || b.raw === null) return { bits: null, allSet: true, path: b.path };
  if (Array.isArray(b.raw)) return { bits: bitsetFromIndices(b.raw, b.path, issues, scratch), allSet: false, path: b.path };
  if (typeof b.raw === 'string') {
    const bits = decoded === undefined ? bitsetFromBase64(b.raw, true, b.path, issues, scratch) : decoded.get(b.raw, b.path, issues, scratch);
    return bits ? { bits: bits.bits, allSet: bits.allSet, path: b.path } : undefined;
  }
  issues.add(b.path, `expected "ALL", a list of bucket indices or base64 gzipped bytes, got ${describe(b.raw)}`);
  return undefined;
}

/** The conformance shape's `clients`, keyed by secret. */
export function mapClients(root: JsonObject, issues: IssueList): CompiledClient[] {
  const clients: CompiledClient[] = [];
  for (const c of located(root, 'clients', issues)) {
    const obj = readObject(c.raw, c.path, issues);
    if (!obj) continue;
    const client = readObject(own(obj, 'client'), keyPath(c.path, 'client'), issues);
    const credential = readObject(own(obj, 'clientCredential'), keyPath(c.path, 'clientCredential'), issues);
    if (!client || !credential) continue;
    const name = readString(own(client, 'name'), keyPath(keyPath(c.path, 'client'), 'name'), issues);
    if (name === undefined) continue;
    const credPath = keyPath(c.path, 'clientCredential');
    clients.push({
      name,
      secret: c.name,
      credential: typeof own(credential, 'name') === 'string' ? (own(credential, 'name') as string) : '',
      environments: new Set(optionalStringList(credential, 'environments', credPath, issues)),
    });
  }
  return clients;
}

/** Gzipped base64 bitsets, decoded or taken from `LoadOptions.decodedBitsets`. */
export class Decoded {
  private readonly used = new Map<string, DecodedBitset>();

  constructor(
    private readonly cache: Map<string, DecodedBitset> | undefined,
    private readonly keyOf: ((text: string) => string) | undefined,
  ) {}

  get(text: string, path: string, issues: IssueList, scratch: BitsetScratch): DecodedBitset | undefined {
    if (this.cache === undefined) return bitsetFromBase64(text, true, path, issues, scratch);
    const key = this.keyOf === undefined ? text : this.keyOf(text);
    const bits = this.cache.get(key) ?? bitsetFromBase64(text, true, path, issues, scratch);
    if (bits !== undefined) this.used.set(key, bits);
    return bits;
  }

  /** Leaves in the cache only the bitsets this load used. */
  keepOnly(): void {
    if (this.cache === undefined) return;
    this.cache.clear();
    for (const [key, bits] of this.used) this.cache.set(key, bits);
  }
}

function protoParts(root: JsonObject, options: LoadOptions, issues: IssueList): StateParts {
  const accountId = accountIdFrom(root, options, issues, true);
  const bitsets = new Map<string, LoadedBitset>();
  const scratch = BitsetScratch.shared();
  const decoded = new Decoded(options.decodedBitsets, options.decodedBitsetKey);
  for (const b of locatedList(root, 'bitsets', issues, 'segment')) {
    const obj = b.raw as JsonObject;
    if (optionalBoolean(obj, 'fullBitset', b.path, issues, false)) {
      bitsets.set(b.name, { bits: null, allSet: true, path: b.path });
      continue;
    }
    const gz = own(obj, 'gzippedBitset');
    if (typeof gz !== 'string') {
      issues.add(keyPath(b.path, 'gzippedBitset'), `expected base64 gzipped bytes (or fullBitset: true), got ${describe(gz)}`);
      continue;
    }
    const bits = decoded.get(gz, keyPath(b.path, 'gzippedBitset'), issues, scratch);
    if (bits) bitsets.set(b.name, { bits: bits.bits, allSet: bits.allSet, path: b.path });
  }
  const clients = credentialsOf(root, issues);
  const bloomRaw = own(root, 'bloomFilters');
  return {
    proto: true,
    accountId,
    flags: locatedList(root, 'flags', issues),
    segments: locatedList(root, 'segmentsNoBitsets', issues),
    bitsets,
    bloomFilters: Array.isArray(bloomRaw)
      ? locatedList(root, 'bloomFilters', issues, 'materializedSegment')
      : located(root, 'bloomFilters', issues),
    clients,
    decoded,
  };
}

/**
 * The proto shape's `clientCredentials`, each joined to its client. Confidence names a
 * credential `clients/<client>/clientCredentials/<id>` and links it to the client whose name
 * prefixes its own. A credential of no listed client cannot resolve in Confidence either: it
 * is left out (its secret answers CLIENT_NOT_FOUND), not refused.
 */
function credentialsOf(root: JsonObject, issues: IssueList): CompiledClient[] {
  const clientNames = locatedList(root, 'clients', issues).map((c) => c.name);
  const clients: CompiledClient[] = [];
  for (const c of locatedList(root, 'clientCredentials', issues)) {
    const obj = c.raw as JsonObject;
    const secretObj = own(obj, 'clientSecret');
    const secret = isObject(secretObj) ? own(secretObj, 'secret') : undefined;
    if (secretObj === undefined || secretObj === null) continue; // another kind of credential
    if (typeof secret !== 'string' || secret === '') {
      issues.add(keyPath(c.path, 'clientSecret'), `expected {"secret": "<client secret>"}, got ${describe(secretObj)}`);
      continue;
    }
    let client = '';
    for (const name of clientNames) {
      if (c.name.startsWith(`${name}/`) && name.length > client.length) client = name;
    }
    if (client === '') continue;
    clients.push({
      name: client,
      secret,
      credential: c.name,
      environments: new Set(optionalStringList(obj, 'environments', c.path, issues)),
    });
  }
  return clients;
}

export function compileBloom(b: Located, issues: IssueList): BloomFilter | undefined {
  const obj = readObject(b.raw, b.path, issues);
  if (!obj) return undefined;
  const data = own(obj, 'data');
  if (typeof data !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(data)) {
    issues.add(keyPath(b.path, 'data'), `expected base64 bytes, got ${describe(data)}`);
    return undefined;
  }
  const bytes = Buffer.from(data, 'base64');
  const k = readInteger(own(obj, 'hashFunctionCount'), keyPath(b.path, 'hashFunctionCount'), issues, 1, 255, 'an integer in [1, 255]');
  const bitCountRaw = own(obj, 'bitCount');
  if (bitCountRaw !== undefined) {
    const bitCount = readInteger(bitCountRaw, keyPath(b.path, 'bitCount'), issues, 0, 2 ** 31 - 1, 'a bit count');
    if (bitCount !== undefined && bitCount !== bytes.length * 8) {
      issues.add(keyPath(b.path, 'bitCount'), `says ${bitCount} bits but data holds ${bytes.length * 8}`);
    }
  }
  if (bytes.length % 8 !== 0) {
    issues.add(keyPath(b.path, 'data'), `expected whole 64-bit words, got ${bytes.length} bytes`);
    return undefined;
  }
  return k === undefined ? undefined : new BloomFilter(bytes, k);
}

function compile(parts: StateParts, issues: IssueList, targetingKeyAlias: string): ResolverState | undefined {
  const salt = new HashPrefix(`MegaSalt-${parts.accountId}|`);

  const bloomFilters = new Map<string, BloomFilter>();
  for (const b of parts.bloomFilters) {
    const bloom = compileBloom(b, issues);
    if (bloom) bloomFilters.set(b.name, bloom);
  }

  const segments = new Map<string, CompiledSegment>();
  const targetingRaw = new Map<string, Located>();
  for (const s of parts.segments) {
    if (segments.has(s.name)) {
      issues.add(s.path, `duplicate segment ${JSON.stringify(s.name)}`);
      continue;
    }
    const obj = readObject(s.raw, s.path, issues);
    if (!obj) continue;
    const seg = new CompiledSegment(s.name, salt);
    seg.references = collectReferences(own(obj, 'targeting'));
    segments.set(s.name, seg);
    targetingRaw.set(s.name, { name: s.name, raw: own(obj, 'targeting'), path: keyPath(s.path, 'targeting') });
  }
  for (const [name, b] of parts.bitsets) {
    // A bitset of a segment the state does not list is unused, as in Confidence: ignored.
    const seg = segments.get(name);
    if (seg !== undefined) {
      seg.bitset = b.bits;
      seg.allSet = b.bits === null || b.allSet;
    }
  }

  markCycles(segments);
  const direct = new Map<string, Set<string>>();
  for (const [name, t] of targetingRaw) {
    const seg = segments.get(name)!;
    const mats = new Set<string>();
    const tree = compileTargeting(seg, t.raw, t.path, { segments, bloomFilters, targetingKeyAlias }, issues, mats);
    seg.setTargeting(tree);
    direct.set(name, mats);
  }
  const directOf = (name: string): Iterable<string> => direct.get(name) ?? [];
  for (const seg of segments.values()) seg.materializations = reachableMaterializations(seg.name, segments, directOf);

  const flags = new Map<string, CompiledFlag>();
  for (const f of parts.flags) {
    if (flags.has(f.name)) {
      issues.add(f.path, `duplicate flag ${JSON.stringify(f.name)}`);
      continue;
    }
    const flag = compileNamedFlag(f, segments, issues, targetingKeyAlias, !parts.proto);
    if (flag) flags.set(f.name, flag);
  }

  const clients = new Map<string, CompiledClient>();
  for (const c of parts.clients) clients.set(c.secret, Object.freeze(c));

  if (issues.items.length > 0) return undefined;
  return new ResolverState(parts.accountId, flags, segments, clients, salt);
}

/** A flag entry compiled, its name checked against its key and the `flags/<id>` form. */
export function compileNamedFlag(
  f: Located,
  segments: ReadonlyMap<string, CompiledSegment>,
  issues: IssueList,
  targetingKeyAlias: string,
  absentIsActive: boolean,
): CompiledFlag | undefined {
  const obj = isObject(f.raw) ? f.raw : undefined;
  const declared = obj ? own(obj, 'name') : undefined;
  if (declared !== undefined && declared !== f.name) {
    issues.add(keyPath(f.path, 'name'), `does not match its key ${JSON.stringify(f.name)}`);
  }
  if (!f.name.startsWith('flags/')) {
    issues.add(f.path, `flag names look like "flags/<id>", got ${JSON.stringify(f.name)}`);
  }
  return compileFlag(f.name, f.raw, f.path, segments, issues, targetingKeyAlias, absentIsActive);
}

/** Marks the segments that reach themselves through references (they guard against re-entry). */
function markCycles(segments: ReadonlyMap<string, CompiledSegment>): void {
  for (const seg of segments.values()) markCycle(seg, segments);
}

/** Materializations a segment may read: its own (`directOf`) and those of the segments it references, transitively. */
export function reachableMaterializations(
  name: string,
  segments: ReadonlyMap<string, CompiledSegment>,
  directOf: (name: string) => Iterable<string>,
): readonly string[] {
  if ((segments.get(name)?.references.length ?? 0) === 0) return ownMaterializations(directOf(name));
  const all = new Set<string>();
  const seen = new Set<string>();
  const stack = [name];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    for (const m of directOf(n)) all.add(m);
    for (const r of segments.get(n)?.references ?? []) stack.push(r);
  }
  return all.size === 0 ? NO_NAMES : [...all];
}

/** A segment's own materializations, once each: most segments reference none and read none, and this runs for each of them at load. */
function ownMaterializations(direct: Iterable<string>): readonly string[] {
  let list: string[] | null = null;
  for (const m of direct) {
    list ??= [];
    if (!list.includes(m)) list.push(m);
  }
  return list ?? NO_NAMES;
}

/** Marks `seg` when it reaches itself through references. */
export function markCycle(seg: CompiledSegment, segments: ReadonlyMap<string, CompiledSegment>): void {
  if (seg.references.length === 0) return;
  const seen = new Set<string>();
  const stack = [...seg.references];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (n === seg.name) {
      seg.inCycle = true;
      return;
    }
    if (seen.has(n)) continue;
    seen.add(n);
    for (const r of segments.get(n)?.references ?? []) stack.push(r);
  }
}

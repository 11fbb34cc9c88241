/**
 * Turning bytes from a file or a response into a state, in the steps the loader runs on
 * either thread. Resolver-state JSON is validated by core; a workspace document (YAML, or JSON
 * with the `allot: 1` marker) is compiled by `@allot/admin` (a dependency), imported only when
 * one is met so that applications that load compiled states never load it.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';

import { createParser } from 'eventsource-parser';

import {
  DeltaAssembler,
  prepareState,
  validateDelta,
  validateState,
  type LoadOptions,
  type PreparedState,
  type ResolverState,
  type StateChanges,
  type StateIssue,
} from '@allot/core';
import type { ParseOptions } from '../sources/parse-state.js';
import { SourceError, WithSecretsError, type SourceErrorCode } from '../sources/source-error.js';
import type { LoadedState } from '../types.js';
import type { StateDelta } from '../sources/state-delta.js';
import { joined } from './byte-blocks.js';
import {
  fingerprintsAfter,
  FingerprintsAfterDelta,
  fingerprintsData,
  fingerprintsOf,
  type FingerprintsData,
} from './fingerprints.js';
import type { StateRequest, StateResponse } from './state-fetch.js';
import type { HeldEntries, StateEntriesData } from './state-entries.js';
import { heldIndexOf, segmentDigests } from './last-states.js';

/** A validated state ready to cross to another thread (see core's `prepareState`). */
export interface PreparedLoad {
  readonly prepared: PreparedState;
  readonly transfer: readonly ArrayBuffer[];
  /** Read back with `FingerprintsReader`. */
  readonly fingerprints: FingerprintsData;
  /** Per segment, its bitset's digest (last-states.ts): what the next request offers. */
  readonly digests: Uint8Array;
  /** The state's JSON entry by entry, when the request asked for it (`entries`). */
  readonly entries?: StateEntriesData;
}

/** The resolver-state JSON in `text`, compiling a workspace document; throws `SourceError`. */
export async function stateJsonOf(
  text: string,
  origin: string,
  options: ParseOptions,
): Promise<unknown> {
  const trimmed = text.trimStart();
  if (!trimmed.startsWith('{') && !trimmed.startsWith('['))
    return compileWorkspace(text, origin, options);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new SourceError(
      'INVALID_STATE',
      `${origin}: not valid JSON: ${(error as Error).message}`,
    );
  }
  return isWorkspace(json) ? compileWorkspace(json, origin, options) : json;
}

const utf8 = new TextDecoder();

/**
 * The text of a body in UTF-8; with `sse`, of the data of the one Server-Sent Event `bytes`
 * holds (its `data:` lines joined), which is how a pushed state travels to the worker.
 */
export function textOfBytes(blocks: readonly Uint8Array[], sse: boolean): string {
  const text = utf8.decode(joined(blocks));
  if (!sse) return text;
  let data = '';
  const parser = createParser({
    onEvent: (event) => {
      data = event.data;
    },
  });
  parser.feed(text);
  parser.reset({ consume: true });
  return data;
}

/** Validates and compiles resolver-state JSON on this thread; throws `SourceError` listing the problems. */
export function compileJson(json: unknown, origin: string, options: ParseOptions): LoadedState {
  const result = validateState(json, loadOptionsOf(options));
  if (!result.ok) throw invalidState(origin, result.issues);
  const parsed = typeof json === 'string' ? (JSON.parse(json) as unknown) : json;
  return { state: result.state, fingerprints: fingerprintsOf(parsed, result.state), origin };
}

/**
 * Validates and compiles on this thread the JSON `delta` made of the state `previous`: core
 * compiles only what the delta can change (`validateDelta`), and the fingerprints are digested
 * only where it touched (see `fingerprintsAfter`).
 */
export function compileDelta(
  json: unknown,
  origin: string,
  options: ParseOptions,
  previous: LoadedState,
  delta: StateDelta,
): LoadedState {
  const state = validatedDelta(json, origin, options, previous, delta);
  return { state, fingerprints: fingerprintsAfter(previous.fingerprints, delta, json, state, previous.state), origin };
}

/**
 * `compileDelta` for a host that must not hold its thread: null where core cannot load the
 * delta entry by entry (a change to the account or bloom filters, or a problem in the
 * result), for the caller to load the whole state on the loader's worker instead. Core's
 * `DeltaAssembler` and the fingerprints run in slices of `sliceMs` (the loader's `SLICE_MS`),
 * the event loop between them: at 10,000 segments each copies maps of every segment, several
 * milliseconds in one go.
 */
export async function compileDeltaInTurns(
  json: unknown,
  origin: string,
  options: ParseOptions,
  previous: LoadedState,
  delta: StateDelta,
  sliceMs: number,
): Promise<LoadedState | null> {
  const assembler = new DeltaAssembler(previous.state, json, changesOf(delta), loadOptionsOf(options));
  while (!assembler.step(sliceMs)) await nextTurn();
  const result = assembler.result();
  if (result === null) return null;
  await nextTurn();
  const fingerprints = new FingerprintsAfterDelta(previous.fingerprints, delta, json, result.state, previous.state);
  while (!fingerprints.step(sliceMs)) await nextTurn();
  return { state: result.state, fingerprints: fingerprints.result(), origin };
}

function validatedDelta(json: unknown, origin: string, options: ParseOptions, previous: LoadedState, delta: StateDelta): ResolverState {
  const result = validateDelta(previous.state, json, changesOf(delta), loadOptionsOf(options));
  if (!result.ok) throw invalidState(origin, result.issues);
  return result.state;
}

/** What a delta changes, as core's `validateDelta` takes it: entries set, then removed; members replaced. */
function changesOf(delta: StateDelta): StateChanges {
  const changes: Record<string, readonly string[] | 'whole'> = {};
  for (const [key, entries] of Object.entries(delta.set ?? {})) changes[key] = Object.keys(entries);
  for (const [key, names] of Object.entries(delta.remove ?? {}))
    changes[key] = [
      ...(delta.set?.[key] === undefined ? [] : Object.keys(delta.set[key])),
      ...names,
    ];
  for (const key of Object.keys(delta.replace ?? {})) changes[key] = 'whole';
  return changes;
}

/**
 * Validates resolver-state JSON and prepares it for assembly on another thread; throws
 * `SourceError`. `reuse`: bitsets an earlier load decoded (core's `LoadOptions.decodedBitsets`);
 * `held`: the digests of the bitsets the assembling thread holds, which are not packed
 * (last-states.ts).
 */
export function prepareJson(
  json: unknown,
  origin: string,
  options: ParseOptions,
  reuse: Pick<LoadOptions, 'decodedBitsets' | 'decodedBitsetKey'> = {},
  held?: Uint8Array,
): PreparedLoad {
  const heldBitset = heldIndexOf(held);
  const result = prepareState(json, { ...loadOptionsOf(options), ...reuse, ...(heldBitset === undefined ? {} : { heldBitset }) });
  if (!result.ok) throw invalidState(origin, result.issues);
  const fingerprints = fingerprintsData(fingerprintsOf(json, result.state));
  const digests = segmentDigests(result.state);
  return {
    prepared: result.prepared,
    transfer: [...result.transfer, ...fingerprints.transfer, digests.buffer as ArrayBuffer],
    fingerprints: fingerprints.data,
    digests,
  };
}

function loadOptionsOf(options: ParseOptions): LoadOptions {
  // OpenFeature contexts carry the unit as `targetingKey`: core reads it as `targeting_key`.
  return {
    targetingKeyAlias: 'targetingKey',
    ...(options.accountId === undefined ? {} : { accountId: options.accountId }),
  };
}

/** The error for a state with problems: the first ten with their paths, and how many more. */
export function invalidState(origin: string, issues: readonly StateIssue[]): SourceError {
  const shown = issues
    .slice(0, 10)
    .map((i) => `\n  ${i.path}: ${i.message}`)
    .join('');
  const more = issues.length > 10 ? `\n  … and ${issues.length - 10} more` : '';
  return new SourceError(
    'INVALID_STATE',
    `${origin}: invalid resolver state (${issues.length} problem${issues.length === 1 ? '' : 's'}); the last good state stays in use:${shown}${more}`,
    issues,
  );
}

/** A workspace document rather than a resolver state: admin's documents carry `allot: <format version>`. */
function isWorkspace(json: unknown): boolean {
  return typeof json === 'object' && json !== null && !Array.isArray(json) && 'allot' in json;
}

/** Held in a variable so that TypeScript does not require the optional module at build time. */
const ADMIN_MODULE: string = '@allot/admin';

/** The part of `@allot/admin` a source uses. */
interface AdminModule {
  parseWorkspace?: (text: string, options: { source?: string }) => unknown;
  compileState?: (workspace: never) => unknown;
  WorkspaceFile?: new (path: string) => { parse(text: string): Promise<unknown> };
}

async function compileWorkspace(
  input: unknown,
  origin: string,
  options: ParseOptions,
): Promise<unknown> {
  let admin: AdminModule;
  try {
    admin = (await import(ADMIN_MODULE)) as AdminModule;
  } catch (error) {
    throw new SourceError(
      'ADMIN_MISSING',
      `${origin}: this is a workspace document, not a resolver state; compiling it needs @allot/admin, a dependency of @allot/openfeature-provider that could not be loaded (reinstall: npm install @allot/openfeature-provider), or point the source at a compiled state`,
      [],
      { cause: error },
    );
  }
  if (typeof admin.parseWorkspace !== 'function' || typeof admin.compileState !== 'function') {
    throw new SourceError(
      'ADMIN_MISSING',
      `${origin}: the installed @allot/admin cannot compile workspace documents; upgrade it`,
    );
  }
  try {
    const text = typeof input === 'string' ? input : JSON.stringify(input);
    // From a file, with the clients' secrets kept beside it (allot.secrets.yaml for allot.yaml).
    const workspace =
      options.workspacePath !== undefined && admin.WorkspaceFile !== undefined
        ? await new admin.WorkspaceFile(options.workspacePath).parse(text)
        : admin.parseWorkspace(text, { source: origin });
    return admin.compileState(workspace as never);
  } catch (error) {
    // admin's messages already name the document and the path of each problem.
    const message = (error as Error).message;
    throw options.workspacePath === undefined
      ? new SourceError('INVALID_STATE', message, [], { cause: error })
      : new WithSecretsError('INVALID_STATE', message, [], { cause: error });
  }
}

/** A state file's bytes; throws `SourceError` (`READ_FAILED`) saying why it cannot be read. */
export async function readStateFile(path: string, origin: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new SourceError('READ_FAILED', `${origin}: cannot read it (${why})`, [], {
      cause: error,
    });
  }
}

/** A digest of a file's bytes: identical content is not loaded again. */
export function contentDigest(bytes: Uint8Array): string {
  return createHash('sha1').update(bytes).digest('base64');
}

// The messages between the state loader (the application's thread) and its worker.

/** The parse options a worker needs (plain data: they are structured-cloned). */
export interface WorkerParseOptions {
  readonly accountId?: string;
  readonly workspacePath?: string;
}

export type LoadRequest = (
  | {
      readonly id: number;
      readonly kind: 'text';
      readonly text: string;
      readonly origin: string;
      readonly options: WorkerParseOptions;
      /** Send the state's JSON entry by entry too (`PreparedLoad.entries`). */
      readonly entries?: boolean;
    }
  /**
   * A body in UTF-8, in blocks whose buffers are transferred (O(1), where a string is copied
   * in the sender's turn); `sse`: the bytes of one Server-Sent Event, whose data the worker
   * takes out.
   */
  | {
      readonly id: number;
      readonly kind: 'bytes';
      readonly blocks: readonly Uint8Array[];
      readonly sse: boolean;
      readonly origin: string;
      readonly options: WorkerParseOptions;
      /** Send the state's JSON entry by entry too (`PreparedLoad.entries`). */
      readonly entries?: boolean;
    }
  /** Fetched by the worker (`state-fetch.ts`): the body is never read on the application's thread. */
  | {
      readonly id: number;
      readonly kind: 'url';
      readonly request: StateRequest;
      readonly origin: string;
      readonly options: WorkerParseOptions;
      /** Send the state's JSON entry by entry too (`PreparedLoad.entries`). */
      readonly entries?: boolean;
    }
  /** Read by the worker, so that neither reading nor decoding a large file runs on the application's thread. */
  | {
      readonly id: number;
      readonly kind: 'file';
      readonly path: string;
      /** The digest of the content loaded last: the same content answers `unchanged`. */
      readonly unlessDigest: string | null;
      readonly origin: string;
      readonly options: WorkerParseOptions;
    }
) & {
  /** The digests of the bitsets the application's thread holds (last-states.ts): they are not sent back. */
  readonly held?: Uint8Array;
  /** With `entries`: the entries the application's thread holds (`StateEntries.offer`): those the state has are not sent back. */
  readonly heldEntries?: HeldEntries;
};

/** Sent to the worker when the caller of a `url` request gives up on it (the source stops). */
export interface CancelRequest {
  readonly kind: 'cancel';
  readonly id: number;
}

export type LoadReply =
  /** Posted once the worker's script has loaded: from then on a worker that exits has crashed. */
  | { readonly id: 0; readonly kind: 'ready' }
  | {
      readonly id: number;
      readonly kind: 'prepared';
      readonly load: Omit<PreparedLoad, 'transfer'>;
      readonly digest: string | null;
      /** For a `url` request: what the response's headers said. */
      readonly response?: StateResponse;
    }
  | { readonly id: number; readonly kind: 'unchanged'; readonly digest: string }
  /** A `url` request answered 304 Not Modified. */
  | { readonly id: number; readonly kind: 'not-modified' }
  | {
      readonly id: number;
      readonly kind: 'failed';
      readonly error: {
        readonly code: SourceErrorCode;
        readonly message: string;
        readonly issues: readonly StateIssue[];
      };
      /** For a `file` request whose content was read and decided the failure (`decidedByContent`): that content's digest (`RejectedContent`). */
      readonly digest: string | null;
    };

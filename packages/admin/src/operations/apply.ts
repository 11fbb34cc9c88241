/**
 * The one gate every change passes before anything is written: `applyOperation` runs an
 * operation, then checks that what it produced is a workspace allot can load again — its
 * document parses and passes every consistency check, and it compiles to a resolver state
 * core loads. A change that would leave the workspace invalid is refused here, with the
 * problems found, so no store (the file, the HTTP server, a database) can ever save one.
 */
import { validateState } from '@allot/core';

import type { BucketSet } from '../allocation/bucket-set.js';

import { compileState } from '../compile/compile.js';
import { AdminError, type WorkspaceIssue } from '../errors.js';
import { checkTargetingTotals } from '../targeting/totals.js';
import type { Workspace } from '../workspace/model.js';
import { workspaceChanges, type WorkspaceChanges } from '../workspace/changes.js';
import { duplicateIdIssues, isConsistent, markConsistent } from '../workspace/check.js';
import { checkChanges } from '../workspace/check-changes.js';
import { checkSegmentCount } from '../workspace/segment-count.js';
import { entryShapeIssues, workspaceFromData } from '../workspace/parse.js';
import { entriesDocument, workspaceDocument } from '../workspace/serialize.js';
import type { Outcome } from './outcome.js';

/** How `applyOperation` checks a result. */
export interface ApplyOptions {
  /**
   * `"changes"` (default): when `before` passed this gate, only what the operation touched
   * and what refers to it (`changeIssues`), with the same verdict as a whole check;
   * `"whole"`: the whole document and compiled state every time (`workspaceIssues`), as a
   * debug check or to compare the two.
   */
  readonly check?: 'changes' | 'whole';
}

/**
 * Runs `operation` on `before` and returns its outcome once the result has been checked:
 * within the workspace's limits (segments, targeting totals), serialized and parsed back without a problem
 * (shape, references, lifecycle, no bucket shared by conflicting segments), and compiled to
 * a state `@allot/core` loads. Throws what the operation throws, or FAILED_PRECONDITION
 * with `issues` when the result would be invalid; either way nothing has changed.
 */
export function applyOperation<R>(before: Workspace, operation: (workspace: Workspace) => Outcome<R>, options: ApplyOptions = {}): Outcome<R> {
  const outcome = operation(before);
  const after = outcome.workspace;
  // Workspaces are immutable: one that passed here already (the last write of a batch the
  // server applied one by one, each through this gate) need not be checked again.
  if (passed.has(after)) return outcome;
  checkSegmentCount(before, after);
  checkTargetingTotals(before, after);
  const changes = options.check !== 'whole' && passed.has(before) ? workspaceChanges(before, after) : undefined;
  const issues = changes !== undefined && !changes.header ? changeIssues(before, after, changes) : workspaceIssues(after, before);
  if (issues.length > 0) throw invalidResult(issues);
  passed.add(after);
  markConsistent(after);
  return outcome;
}

/** Results that passed the gate. */
const passed = new WeakSet<Workspace>();

/**
 * What `workspaceIssues(after)` finds, for `after` made from `before`, a workspace that passed
 * the gate, found by looking only at what changed (`changes`, without header changes): the
 * changed segments, flags and groups are rendered and read back as the whole document's
 * entries are, the consistency checks run for them and for what refers to them
 * (`checkChanges`), and core loads the state compiled from them alone — it checks each
 * segment and flag on its own, and every other one loaded before. A change costs what it
 * touched, not what the workspace holds.
 */
function changeIssues(before: Workspace, after: Workspace, changes: WorkspaceChanges): WorkspaceIssue[] {
  const duplicates = duplicateIdIssues(after);
  if (duplicates.length > 0) return duplicates;
  const doc = entriesDocument(after, changes);
  const shape = entryShapeIssues(...withKnownBitsets(after, doc));
  if (shape.length > 0) return shape;
  const consistency = checkChanges(before, after, changes);
  if (consistency.length > 0) return consistency;
  return coreIssues(compileState(after, { bitsetsAsAll: true, only: changes }));
}

/**
 * What is wrong with `workspace` as a document allot can load again: the problems its
 * serialized form has when parsed back, or the one compiling it to a loadable state meets.
 * `since`, the workspace an operation made it from: when that one is known to be consistent,
 * only the segments that differ from it are checked for buckets shared with segments they
 * conflict with (every other pair was apart already), so a change at 10,000 segments does not
 * pay for the whole bucket space; every other check covers the whole workspace.
 */
export function workspaceIssues(workspace: Workspace, since?: Workspace): WorkspaceIssue[] {
  // Ids twice first: the document keys entries by id, so the round trip would drop one.
  const duplicates = duplicateIdIssues(workspace);
  if (duplicates.length > 0) return duplicates;
  // A round trip through the document, read by the same reader and checks a stored file
  // meets. Bitsets travel as short keys to the sets in memory: the checks count them and test
  // exclusivity over them without gzipping, base64-ing and decoding megabytes each time.
  const [data, known] = withKnownBitsets(workspace, workspaceDocument(workspace));
  try {
    const changedSegments = since !== undefined && isConsistent(since) ? changedIds(since, workspace) : undefined;
    workspaceFromData(data, { retainBitsets: true, knownBitsets: known, ...(changedSegments === undefined ? {} : { changedSegments }) });
  } catch (error) {
    if (error instanceof AdminError && error.code === 'INVALID_WORKSPACE') return [...error.issues];
    throw error;
  }
  // Everything core checks but the bitsets' bytes, which the document check has just counted:
  // given as "ALL", they are neither deflated here nor decoded by core.
  return coreIssues(compileState(workspace, { bitsetsAsAll: true }));
}

/**
 * `doc` (a document, or some of its entries) through JSON and back, as a file would give it,
 * with each segment's `buckets.runs` replaced by a short key to the set `workspace` holds.
 */
function withKnownBitsets(workspace: Workspace, doc: Record<string, unknown>): [unknown, Map<string, BucketSet>] {
  const segments = doc.segments as Record<string, { buckets?: { runs: string } }>;
  const known = new Map<string, BucketSet>();
  for (const s of workspace.segments) {
    const stored = segments[s.id]?.buckets;
    if (s.buckets === null || stored === undefined) continue;
    stored.runs = `inMemory${known.size}`;
    known.set(stored.runs, s.buckets);
  }
  return [JSON.parse(JSON.stringify(doc)) as unknown, known];
}

function coreIssues(state: ReturnType<typeof compileState>): WorkspaceIssue[] {
  const loaded = validateState(state, { specialize: 'none' });
  return loaded.ok ? [] : loaded.issues.map((i) => ({ path: `compiled state: ${i.path}`, message: i.message }));
}

/** Ids of the segments of `after` that are not the very objects `before` holds (operations keep what they do not change). */
function changedIds(before: Workspace, after: Workspace): Set<string> {
  const old = new Map(before.segments.map((s) => [s.id, s]));
  return new Set(after.segments.filter((s) => old.get(s.id) !== s).map((s) => s.id));
}

function invalidResult(issues: readonly WorkspaceIssue[]): AdminError {
  const shown = issues.slice(0, 20).map((i) => `  ${i.path}: ${i.message.replaceAll('\n', '\n    ')}`);
  const more = issues.length > 20 ? [`\n  … and ${issues.length - 20} more`] : [];
  return new AdminError(
    'FAILED_PRECONDITION',
    `refused: this change would leave the workspace invalid, so nothing was changed (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n` +
      `${shown.join('\n')}${more.join('')}\nchange what these name first; if they name something this change did not touch, please report it as a bug in allot`,
    { issues },
  );
}

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
import { isConsistent, markConsistent } from '../workspace/check.js';
import { checkSegmentCount } from '../workspace/segment-count.js';
import { workspaceFromData } from '../workspace/parse.js';
import { workspaceDocument } from '../workspace/serialize.js';
import type { Outcome } from './outcome.js';

/**
 * Runs `operation` on `before` and returns its outcome once the result has been checked:
 * within the workspace's limits (segments, targeting totals), serialized and parsed back without a problem
 * (shape, references, lifecycle, no bucket shared by conflicting segments), and compiled to
 * a state `@allot/core` loads. Throws what the operation throws, or FAILED_PRECONDITION
 * with `issues` when the result would be invalid; either way nothing has changed.
 */
export function applyOperation<R>(before: Workspace, operation: (workspace: Workspace) => Outcome<R>): Outcome<R> {
  const outcome = operation(before);
  // Workspaces are immutable: one that passed here already (the last write of a batch the
  // server applied one by one, each through this gate) need not be checked again.
  if (passed.has(outcome.workspace)) return outcome;
  checkSegmentCount(before, outcome.workspace);
  checkTargetingTotals(before, outcome.workspace);
  const issues = workspaceIssues(outcome.workspace, before);
  if (issues.length > 0) throw invalidResult(issues);
  passed.add(outcome.workspace);
  markConsistent(outcome.workspace);
  return outcome;
}

/** Results that passed the gate. */
const passed = new WeakSet<Workspace>();

/**
 * What is wrong with `workspace` as a document allot can load again: the problems its
 * serialized form has when parsed back, or the one compiling it to a loadable state meets.
 * `since`, the workspace an operation made it from: when that one is known to be consistent,
 * only the segments that differ from it are checked for buckets shared with segments they
 * conflict with (every other pair was apart already), so a change at 10,000 segments does not
 * pay for the whole bucket space; every other check covers the whole workspace.
 */
export function workspaceIssues(workspace: Workspace, since?: Workspace): WorkspaceIssue[] {
  // A round trip through the document, read by the same reader and checks a stored file
  // meets. Bitsets travel as short keys to the sets in memory: the checks count them and test
  // exclusivity over them without gzipping, base64-ing and decoding megabytes each time.
  const doc = workspaceDocument(workspace) as { segments: Record<string, { buckets?: { runs: string } }> };
  const known = new Map<string, BucketSet>();
  for (const s of workspace.segments) {
    const stored = doc.segments[s.id]?.buckets;
    if (s.buckets === null || stored === undefined) continue;
    stored.runs = `inMemory${known.size}`;
    known.set(stored.runs, s.buckets);
  }
  try {
    const changedSegments = since !== undefined && isConsistent(since) ? changedIds(since, workspace) : undefined;
    workspaceFromData(JSON.parse(JSON.stringify(doc)), { retainBitsets: true, knownBitsets: known, ...(changedSegments === undefined ? {} : { changedSegments }) });
  } catch (error) {
    if (error instanceof AdminError && error.code === 'INVALID_WORKSPACE') return [...error.issues];
    throw error;
  }
  // Everything core checks but the bitsets' bytes, which the document check has just counted:
  // given as "ALL", they are neither deflated here nor decoded by core.
  const state = compileState(workspace, { bitsetsAsAll: true });
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

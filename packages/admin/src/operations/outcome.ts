import type { Workspace } from '../workspace/model.js';

/** What an operation returns: the new workspace, its result, and warnings to show the user. */
export interface Outcome<R> {
  readonly workspace: Workspace;
  readonly result: R;
  readonly warnings: readonly string[];
}

import { randomBytes } from 'node:crypto';

import type { Workspace } from './model.js';

export interface NewWorkspaceOptions {
  /** The account id; a fresh random one by default. */
  readonly account?: string;
  /** The allocation seed; a fresh random one by default. */
  readonly seed?: string;
  /** Environments; `["production"]` by default. */
  readonly environments?: readonly string[];
  /** The default client's secret; a fresh random one by default. */
  readonly clientSecret?: string;
}

/**
 * An empty workspace: a fresh account id and allocation seed, one environment
 * (`production`) and one client (`default`, with a random secret, in every environment).
 */
export function newWorkspace(options: NewWorkspaceOptions = {}): Workspace {
  const environments = [...(options.environments ?? ['production'])];
  return {
    account: options.account ?? `allot-${randomBytes(6).toString('hex')}`,
    seed: options.seed ?? randomBytes(16).toString('hex'),
    environments,
    clients: [{ id: 'default', displayName: 'Default client', secret: options.clientSecret ?? `secret-${randomBytes(16).toString('hex')}`, environments }],
    segments: [],
    flags: [],
    groups: [],
  };
}

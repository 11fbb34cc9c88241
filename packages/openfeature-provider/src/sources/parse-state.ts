/**
 * Turning bytes from a file or a response into a compiled state. Resolver-state JSON is
 * loaded by core; a workspace document (YAML, or JSON with the `allot: 1` marker) is compiled
 * by `@allot/admin` (a dependency), imported only when one is met so that applications that
 * load compiled states never load it.
 */
import { validateState, type LoadOptions } from '@allot/core';
import type { LoadedState } from '../types.js';
import { SourceError } from './source-error.js';

export interface ParseOptions {
  /** Account id for proto-shaped states, which carry none. */
  readonly accountId?: string;
  /** The file the text came from: a workspace's client secrets are read from the secrets file beside it. */
  readonly workspacePath?: string;
}

/** Parses and compiles `text` from `origin`; throws `SourceError` naming every problem. */
export async function parseState(text: string, origin: string, options: ParseOptions = {}): Promise<LoadedState> {
  const trimmed = text.trimStart();
  if (!trimmed.startsWith('{') && !trimmed.startsWith('[')) {
    return parseWorkspace(text, origin, options);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new SourceError('INVALID_STATE', `${origin}: not valid JSON: ${(error as Error).message}`);
  }
  if (isWorkspace(json)) return parseWorkspace(json, origin, options);
  return compileState(json, origin, options);
}

/** Compiles resolver-state JSON; throws `SourceError` listing the problems with their paths. */
export function compileState(json: unknown, origin: string, options: ParseOptions = {}): LoadedState {
  // OpenFeature contexts carry the unit as `targetingKey`: core reads it as `targeting_key`.
  const load: LoadOptions = {
    targetingKeyAlias: 'targetingKey',
    ...(options.accountId === undefined ? {} : { accountId: options.accountId }),
  };
  const result = validateState(json, load);
  if (!result.ok) {
    const shown = result.issues.slice(0, 10).map((i) => `\n  ${i.path}: ${i.message}`).join('');
    const more = result.issues.length > 10 ? `\n  … and ${result.issues.length - 10} more` : '';
    throw new SourceError(
      'INVALID_STATE',
      `${origin}: invalid resolver state (${result.issues.length} problem${result.issues.length === 1 ? '' : 's'}); the last good state stays in use:${shown}${more}`,
      result.issues,
    );
  }
  return { state: result.state, json: typeof json === 'string' ? (JSON.parse(json) as unknown) : json, origin };
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

async function parseWorkspace(input: unknown, origin: string, options: ParseOptions): Promise<LoadedState> {
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
    throw new SourceError('ADMIN_MISSING', `${origin}: the installed @allot/admin cannot compile workspace documents; upgrade it`);
  }
  let state: unknown;
  try {
    const text = typeof input === 'string' ? input : JSON.stringify(input);
    // From a file, with the clients' secrets kept beside it (allot.secrets.yaml for allot.yaml).
    const workspace =
      options.workspacePath !== undefined && admin.WorkspaceFile !== undefined
        ? await new admin.WorkspaceFile(options.workspacePath).parse(text)
        : admin.parseWorkspace(text, { source: origin });
    state = admin.compileState(workspace as never);
  } catch (error) {
    // admin's messages already name the document and the path of each problem.
    throw new SourceError('INVALID_STATE', (error as Error).message, [], { cause: error });
  }
  return compileState(state, origin, options);
}

/**
 * Workspace scenarios: an @allot/admin workspace document (inline or a file), operations
 * that set it up (`operations:`), and timeline steps whose `operations:` change it. Every
 * operation is admin's own; every step is compiled with admin's `compile` and its claims are
 * read from the workspace, so the checks hold allot's real allocator to what it promises.
 */
import { AdminError, compileState, workspaceFromData, type Workspace } from '@allot/admin';

import { ScenarioError } from '../scenario/errors.js';
import { attributes, isObject } from '../scenario/population-spec.js';
import type { ConfiguredStep } from '../types.js';
import { claimsOfWorkspace, monotoneSegments } from './claims.js';
import { applyWorkspaceOp, WORKSPACE_OPS, type WorkspaceOp } from './operations.js';

type Json = Record<string, unknown>;

/** The client secret scenario workspaces get when they declare no client. */
export const SIMULATION_SECRET = 'sim-secret';

/**
 * A workspace document with the keys a scenario may leave out filled in: format version,
 * account `simulation`, seed `simulation`, environment `production`, one client.
 */
export function workspaceDocument(raw: Json): Json {
  return {
    allot: 1,
    account: 'simulation',
    seed: 'simulation',
    environments: ['production'],
    clients: { default: { secret: SIMULATION_SECRET, environments: ['production'] } },
    ...raw,
  };
}

/** Parses a workspace document (already read from YAML or JSON); errors name the path. */
export function readWorkspace(raw: unknown, path: string): Workspace {
  if (!isObject(raw)) throw new ScenarioError(path, 'expected a workspace document (segments, flags, groups) or a path to one');
  try {
    return workspaceFromData(workspaceDocument(raw), { retainBitsets: true });
  } catch (error) {
    if (!(error instanceof AdminError)) throw error;
    const issues = error.issues.map((i) => `${i.path}: ${i.message}`).join('; ');
    throw new ScenarioError(path, issues === '' ? error.message : issues);
  }
}

/** A list of operations from YAML: `[{ op: allocateSegment, segment: x }, ...]`. */
export function readOps(raw: unknown, path: string): WorkspaceOp[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new ScenarioError(path, 'expected a list of operations ({ op: allocateSegment, segment: … })');
  return raw.map((o: unknown, i) => {
    if (!isObject(o) || typeof o.op !== 'string' || !(WORKSPACE_OPS as readonly string[]).includes(o.op)) {
      throw new ScenarioError(`${path}[${i}].op`, `expected one of ${WORKSPACE_OPS.join(', ')}`);
    }
    return o as unknown as WorkspaceOp;
  });
}

function applyAll(ws: Workspace, ops: readonly WorkspaceOp[], path: string): Workspace {
  let current = ws;
  ops.forEach((op, i) => {
    try {
      current = applyWorkspaceOp(current, op);
    } catch (error) {
      if (error instanceof AdminError) throw new ScenarioError(`${path}[${i}] (${op.op})`, `@allot/admin refused it: ${error.message}`);
      throw error;
    }
  });
  return current;
}

function configured(ws: Workspace, label: string, description: string, extra: Pick<ConfiguredStep, 'attributes' | 'monotone'>): ConfiguredStep {
  return { label, description, state: compileState(ws), ...claimsOfWorkspace(ws), ...extra };
}

/** The configured steps of a workspace scenario: the set-up workspace, then one per timeline step. */
export function workspaceSteps(raw: unknown, setup: unknown, timeline: readonly Json[]): { steps: ConfiguredStep[]; workspaces: Workspace[] } {
  return timelineSteps(applyAll(readWorkspace(raw, 'workspace'), readOps(setup, 'operations'), 'operations'), timeline);
}

/** A workspace as step `initial`, then one step per timeline entry (`label`, `operations`, `attributes`). */
export function timelineSteps(initial: Workspace, timeline: readonly Json[]): { steps: ConfiguredStep[]; workspaces: Workspace[] } {
  let ws = initial;
  const steps = [configured(ws, 'initial', '', { attributes: [], monotone: [] })];
  const workspaces = [ws];
  timeline.forEach((step, i) => {
    const path = `timeline[${i}]`;
    const next = applyAll(ws, readOps(step.operations, `${path}.operations`), `${path}.operations`);
    steps.push(
      configured(next, typeof step.label === 'string' ? step.label : `step ${i + 1}`, typeof step.description === 'string' ? step.description : '', {
        attributes: attributes(step.attributes, `${path}.attributes`),
        monotone: monotoneSegments(ws, next),
      }),
    );
    workspaces.push(next);
    ws = next;
  });
  return { steps, workspaces };
}

/** An empty scenario workspace (account `simulation`, one client with secret `sim-secret`). */
export function emptyWorkspace(seed = 'simulation'): Workspace {
  return readWorkspace({ seed }, 'workspace');
}

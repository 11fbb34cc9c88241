import type { Command } from '../command.js';

/** A command as `allot help` lists it; its module (and what it imports) loads only when it runs. */
export interface CommandEntry {
  readonly name: string;
  readonly summary: string;
  load(): Promise<Command>;
}

/**
 * Every `allot` command, in the order `allot help` lists them. Loaded on demand: importing
 * them all (the server, the simulation, the control plane) cost every command about 0.07
 * CPU-seconds of start-up.
 */
export const commands: readonly CommandEntry[] = [
  {
    name: 'resolve',
    summary: 'resolve flags of a state for one evaluation context (or a file of them) and print the response as JSON',
    load: async () => (await import('./resolve.js')).resolve,
  },
  {
    name: 'validate',
    summary: 'check a resolver state: every problem with its path, or a summary of what it holds',
    load: async () => (await import('./validate.js')).validate,
  },
  {
    name: 'conformance',
    summary: 'run a resolver conformance suite (Confidence resolver-spec format) against a state',
    load: async () => (await import('./conformance.js')).conformance,
  },
  {
    name: 'demo',
    summary: 'resolve the flags of the included example state for a few users and print them',
    load: async () => (await import('./demo.js')).demo,
  },
  {
    name: 'segments',
    summary: 'create, update, allocate, archive, inspect segments of a workspace, and the free space for tags',
    load: async () => (await import('./segments.js')).segments,
  },
  {
    name: 'flags',
    summary: 'create flags and variants; add, update, enable, disable, reorder and archive rules',
    load: async () => (await import('./flags.js')).flags,
  },
  {
    name: 'groups',
    summary: 'exclusion groups: experiments that never share a user (create, add, remove, archive, unarchive, list)',
    load: async () => (await import('./groups.js')).groups,
  },
  {
    name: 'compile',
    summary: 'compile a workspace into the resolver state that "allot resolve --state" and the provider load',
    load: async () => (await import('./compile.js')).compile,
  },
  {
    name: 'diff',
    summary: 'preview exactly which units a change moves: every flag\'s from → to variants and every segment\'s enter / leave',
    load: async () => (await import('./diff.js')).diff,
  },
  {
    name: 'simulate',
    summary: 'run a simulation scenario (simulations/*.yaml) and report exclusion, proportions, precedence, independence, stickiness',
    load: async () => (await import('./simulate.js')).simulate,
  },
  {
    name: 'log',
    summary: 'the audit log beside a workspace: who changed what, before and after, whom it moved; "log verify" checks its hash chain',
    load: async () => (await import('./log.js')).log,
  },
  {
    name: 'serve',
    summary: 'serve the HTTP admin and resolve API (Confidence-shaped /v1/segments, flags, groups, resolve, /v1/state) and the coordination map over a workspace',
    load: async () => (await import('./serve.js')).serve,
  },
  {
    name: 'store',
    summary: 'copy a workspace and its audit log between a workspace file and a PostgreSQL database (store copy --from --to)',
    load: async () => (await import('./store.js')).store,
  },
];

/**
 * Everything evaluation needs from one state, built when the state is applied and
 * discarded with it: the state, the client, and the flag-key cache.
 */
import type { CompiledClient, ResolverState } from '@allot/core';
import type { LoadedState } from '../types.js';
import { FlagKeys } from './flag-key.js';

export interface Evaluation {
  readonly loaded: LoadedState;
  readonly state: ResolverState;
  readonly client: CompiledClient;
  readonly keys: FlagKeys;
  /** Whether any flag of the client reads or writes sticky assignments. */
  readonly usesStore: boolean;
}

/** Thrown when the state has no usable client; the message lists the clients it has. */
export class ClientError extends Error {
  readonly code = 'CLIENT_NOT_FOUND' as const;

  constructor(message: string) {
    super(message);
    this.name = 'ClientError';
  }
}

/** Builds the evaluation for a state; throws `ClientError` when the client cannot be chosen. */
export function evaluationOf(loaded: LoadedState, clientSecret: string | undefined): Evaluation {
  const state = loaded.state;
  let client: CompiledClient | undefined;
  if (clientSecret !== undefined) {
    client = state.client(clientSecret);
    if (client === undefined) {
      throw new ClientError(`${loaded.origin}: no client has the given clientSecret (the state's clients: ${clientNames(state)}); check the credential`);
    }
  } else if (state.clients.size === 1) {
    client = state.clients.values().next().value!;
  } else {
    throw new ClientError(`${loaded.origin}: the state has ${state.clients.size} clients (${clientNames(state)}); pass clientSecret to choose one`);
  }
  return new StateEvaluation(loaded, client);
}

function clientNames(state: ResolverState): string {
  return [...state.clients.values()].map((c) => c.name).join(', ') || 'none';
}

/**
 * What walks every flag of the client (`usesStore`, the flag keys' positions) is done on first
 * use: a watched state replaced several times a second may never be evaluated, and applying
 * one should cost what its change costs.
 */
class StateEvaluation implements Evaluation {
  readonly state: ResolverState;
  readonly keys: FlagKeys;
  private usesStoreCache: boolean | null = null;

  constructor(
    readonly loaded: LoadedState,
    readonly client: CompiledClient,
  ) {
    this.state = loaded.state;
    this.keys = new FlagKeys(this.state, client);
  }

  get usesStore(): boolean {
    // Known without compiling a flag whose rules are still deferred (core's `CompiledFlag.usesStore`).
    this.usesStoreCache ??= this.state.flagsOf(this.client).some((flag) => flag.usesStore);
    return this.usesStoreCache;
  }
}

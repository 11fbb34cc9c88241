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
  const names = [...state.clients.values()].map((c) => c.name).join(', ') || 'none';
  let client: CompiledClient | undefined;
  if (clientSecret !== undefined) {
    client = state.client(clientSecret);
    if (client === undefined) {
      throw new ClientError(`${loaded.origin}: no client has the given clientSecret (the state's clients: ${names}); check the credential`);
    }
  } else if (state.clients.size === 1) {
    client = state.clients.values().next().value!;
  } else {
    throw new ClientError(`${loaded.origin}: the state has ${state.clients.size} clients (${names}); pass clientSecret to choose one`);
  }
  const usesStore = state.flagsOf(client).some((flag) =>
    flag.rules.some((rule) => rule.enabled && (rule.materialization !== null || (rule.segment?.materializations.length ?? 0) > 0)),
  );
  return { loaded, state, client, keys: new FlagKeys(state, client), usesStore };
}

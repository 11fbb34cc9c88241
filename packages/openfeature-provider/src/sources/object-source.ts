/**
 * A state given as JSON (an object or a string) by the application. `set` replaces it, for
 * applications that fetch states themselves; an invalid one is reported and not applied.
 */
import type { LoadedState, SourceListener, StateSource } from '../types.js';
import { compileState, type ParseOptions } from './parse-state.js';

export interface ObjectSource extends StateSource {
  /** Replaces the state; an invalid one is reported (`PROVIDER_ERROR`) and the current one stays. */
  set(json: unknown): void;
}

/** A state from memory: `objectSource(json)`. */
export function objectSource(json: unknown, options: ParseOptions = {}): ObjectSource {
  let listener: SourceListener | null = null;
  const description = 'state object';
  return {
    description,
    start(l: SourceListener): Promise<LoadedState> {
      listener = l;
      try {
        return Promise.resolve(compileState(json, description, options));
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
    },
    stop(): Promise<void> {
      listener = null;
      return Promise.resolve();
    },
    set(next: unknown): void {
      if (listener === null) {
        json = next;
        return;
      }
      try {
        listener.update(compileState(next, description, options));
      } catch (error) {
        listener.error(error as Error);
      }
    },
  };
}

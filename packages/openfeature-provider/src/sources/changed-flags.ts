/**
 * Which flags a new state changes, for `PROVIDER_CONFIGURATION_CHANGED`: those whose
 * fingerprint differs (the flag's JSON, or the JSON or allocation of a segment it reaches;
 * see loading/fingerprints.ts), and those added or removed. A change to clients, bloom
 * filters or the account can change any flag, so it reports them all. A state built from a
 * delta of `before` carries the answer (`changesSince`), so its cost follows the change.
 */
import { changesSince } from '../loading/fingerprints.js';
import type { LoadedState } from '../types.js';

/** Names (`flags/x`) of the flags that differ between two states, sorted. */
export function changedFlags(before: LoadedState, after: LoadedState): string[] {
  const a = before.fingerprints;
  const b = after.fingerprints;
  // A delta's state knows what it changed since the one it was built from: no walk of every flag.
  const known = changesSince(a, b);
  if (known !== null) return [...known];
  const names = new Set([...before.state.flags.keys(), ...after.state.flags.keys()]);
  if (a.global !== b.global) return [...names].sort();
  const changed: string[] = [];
  for (const name of names) {
    const was = a.flags.get(name);
    if (was === undefined || was !== b.flags.get(name)) changed.push(name);
  }
  return changed.sort();
}

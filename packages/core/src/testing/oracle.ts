/**
 * Confidence's own resolver (its prebuilt WebAssembly build in `../shared/oracle/`) as a
 * reference for differential tests, with the two ways allot deliberately answers otherwise.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { sharedDir } from './shared.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface OracleFlag {
  readonly flag: string;
  readonly reason: string;
  readonly variant: string;
  readonly value: Json;
  readonly shouldApply: boolean;
  readonly assignmentId?: string;
  readonly rule?: string;
}

export type OracleOutput = { readonly resolvedFlags: readonly OracleFlag[]; readonly error?: undefined } | { readonly error: string; readonly resolvedFlags?: undefined };

export interface OracleRecord {
  readonly unit: string;
  readonly materialization: string;
  readonly rule: string;
  readonly variant: string;
}

export interface Oracle {
  resolve(input: {
    flags: string[];
    evaluationContext: Record<string, unknown>;
    clientSecret: string;
    materializations?: readonly OracleRecord[];
  }): OracleOutput;
  close(): void;
}

interface OracleModule {
  loadConfidenceResolver(options: { state: unknown; accountId?: string }): Promise<Oracle>;
}

/** The oracle module, or null when ../shared is absent. */
export async function loadOracleModule(): Promise<OracleModule | null> {
  if (sharedDir === null) return null;
  const url = pathToFileURL(join(sharedDir, 'oracle', 'confidence-resolver.mjs')).href;
  return (await import(/* @vite-ignore */ url)) as OracleModule;
}

/**
 * The three deliberate deviations from Confidence's resolver (core's README, "Compatibility"),
 * each where allot follows the conformance suite's general expectations or refuses to fail a
 * whole request:
 *
 * - `null-and-missing`: a null or missing attribute (or a null list element) follows the
 *   conformance suite's general expectations: it is no value (the empty list to anyRule and
 *   allRule, equal to a null criterion value only), and a range without bounds matches
 *   nothing. Confidence's build reads null as the text "null" and a bound-less range as
 *   matching every value.
 * - `non-numeric-text`: text that is not a number, compared with a number criterion, makes
 *   that criterion not match; Confidence's build fails the whole request ("internal error").
 * - `materialization-membership`: a unit the sticky store puts in a rule's read
 *   materialization is in it for that rule (paused intake admits it, ignored targeting skips
 *   its audience) even with no variant recorded for the rule, as the suite's general
 *   expectation and Confidence's documented flow say; Confidence's build counts the unit in
 *   only with a record for that very rule.
 */
export type Deviation = 'null-and-missing' | 'non-numeric-text' | 'materialization-membership';
export const DEVIATIONS: readonly Deviation[] = ['null-and-missing', 'non-numeric-text', 'materialization-membership'];

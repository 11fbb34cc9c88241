/**
 * Same answers before and after core's change of representation (plain 125,000-byte bitsets
 * to CompactBitset), on the workspaces of every included scenario: every state each scenario's
 * steps compile is loaded by core, and every segment's allocation is compared with the plain
 * bitset decoded here from the state's own JSON, as core decoded it before: for each of the
 * 1,000,000 buckets, and for 1,000,000 units through the account's salt hash. A unit's answer
 * depends on its bitset only through that membership, so equal membership is equal answers.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

import { describe, expect, it } from 'vitest';

import { HashPrefix, loadState, SEGMENT_BUCKETS } from '@allot/core';

import { readScenario } from './scenario/scenario.js';

const UNITS = 1_000_000;
const files = [
  ...readdirSync(fileURLToPath(new URL('../../../simulations/', import.meta.url))).filter((f) => f.endsWith('.yaml')).map((f) => fileURLToPath(new URL(`../../../simulations/${f}`, import.meta.url))),
  ...readdirSync(fileURLToPath(new URL('./fixtures/', import.meta.url))).filter((f) => f.endsWith('.yaml')).map((f) => fileURLToPath(new URL(`./fixtures/${f}`, import.meta.url))),
];

type Json = Record<string, unknown>;

/** The plain bitset of a state's `bitsets` entry, or null for every bucket (core's reading before). */
function plainBits(raw: unknown): Uint8Array | null {
  if (raw === undefined || raw === null || raw === 'ALL') return null;
  const bits = new Uint8Array(SEGMENT_BUCKETS / 8);
  if (Array.isArray(raw)) for (const i of raw as number[]) bits[i >> 3]! |= 1 << (i & 7);
  else bits.set(gunzipSync(Buffer.from(raw as string, 'base64')));
  return bits;
}

/** Salt buckets of units `unit-0` … for an account, computed once per account. */
const bucketsByAccount = new Map<string, Int32Array>();
function unitBuckets(account: string): Int32Array {
  let buckets = bucketsByAccount.get(account);
  if (buckets === undefined) {
    const salt = new HashPrefix(`MegaSalt-${account}|`);
    buckets = Int32Array.from({ length: UNITS }, (_, i) => salt.bucket(`unit-${i}`, SEGMENT_BUCKETS));
    bucketsByAccount.set(account, buckets);
  }
  return buckets;
}

describe('CompactBitset answers as the plain bitsets did, on every included scenario', () => {
  it('finds the scenarios', () => {
    expect(files.length).toBeGreaterThanOrEqual(7);
  });

  for (const file of files) {
    it(`${file.replace(/^.*\/(simulations|src)\//, '')}: every segment of every step, over every bucket and 1M units`, () => {
      const scenario = readScenario(file);
      let segments = 0;
      for (const step of scenario.steps) {
        for (const json of [step.state, step.referenceState].filter((s) => s !== undefined) as Json[]) {
          const state = loadState(json);
          const buckets = unitBuckets(state.accountId);
          const raw = json.bitsets as Json;
          for (const [name, segment] of state.segments) {
            const plain = plainBits(raw[name]);
            if (plain === null) {
              expect(segment.bitset, name).toBeNull();
              continue;
            }
            const set = segment.bitset!;
            segments++;
            let wrong = -1;
            let count = 0;
            for (let b = 0; b < SEGMENT_BUCKETS; b++) {
              const inPlain = (plain[b >> 3]! & (1 << (b & 7))) !== 0;
              if (inPlain) count++;
              if (set.has(b) !== inPlain && wrong < 0) wrong = b;
            }
            for (let u = 0; u < UNITS && wrong < 0; u++) {
              const b = buckets[u]!;
              if (set.has(b) !== ((plain[b >> 3]! & (1 << (b & 7))) !== 0)) wrong = b;
            }
            expect({ segment: name, wrong, count: set.count }).toEqual({ segment: name, wrong: -1, count });
            expect(Buffer.compare(set.toBytes(), plain), name).toBe(0);
          }
        }
      }
      expect(segments).toBeGreaterThan(0);
    }, 300_000);
  }
});

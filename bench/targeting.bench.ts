/**
 * Targeting compile time per clause, for random expressions from 10 clauses up to the
 * limit (TARGETING_LIMITS.maxClauses): parse (admin), compile to Confidence JSON (admin)
 * and load into core. Linear work means a flat time per clause; the report gives each
 * size's median time per clause and the worst ratio between sizes (issue 10: 4,000 clauses
 * took 3.8 s before, quadratic). Sizes are measured in interleaved rounds (bench/interleave),
 * so machine noise spreads over all of them. Also: how long refusing the 900 KB
 * expression takes (the size check runs before any parsing).
 *
 * Random expressions: seeded, so every run measures the same ones; conditions of every
 * kind (==, !=, ranges over numbers, versions and timestamps, in / not in lists, text
 * operators, null checks), combined with and / or / not and parentheses, within maxDepth.
 *
 * Run: pnpm --filter @allot/bench bench:targeting (or node bench/dist/targeting.bench.js [--quick])
 */
import { parseTargeting, TARGETING_LIMITS, toConfidenceTargeting } from '@allot/admin';
import { loadState } from '@allot/core';

import { interleavedRates } from './interleave.js';

const quick = process.argv.includes('--quick');

/** mulberry32: a small seeded generator, so the expressions are the same every run. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function condition(r: () => number, i: number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  switch (Math.floor(r() * 8)) {
    case 0:
      return `country == ${pick(['SE', 'NO', '"DK"'])}`;
    case 1:
      return `plan != "free-${i}"`;
    case 2:
      return `age ${pick(['<', '<=', '>', '>='])} ${Math.floor(r() * 100)}`;
    case 3:
      return `app_version >= ${1 + Math.floor(r() * 5)}.${i % 10}.0`;
    case 4:
      return `created_at < 2026-0${1 + Math.floor(r() * 9)}-01T00:00:00Z`;
    case 5:
      return `user.id ${pick(['in', 'not in'])} [${Array.from({ length: 1 + Math.floor(r() * 4) }, (_, k) => `"u-${i}-${k}"`).join(', ')}]`;
    case 6:
      return `email ${pick(['starts with', 'ends with', 'contains'])} "@x${i}.com"`;
    default:
      return `nickname is ${pick(['', 'not '])}null`;
  }
}

/** A random expression of exactly `clauses` conditions, nested at most a few levels. */
function expression(clauses: number, seed: number): string {
  const r = random(seed);
  let i = 0;
  const build = (n: number, depth: number): string => {
    if (n === 1) return condition(r, i++);
    if (depth > 8 || r() < 0.3) {
      const op = r() < 0.5 ? ' and ' : ' or ';
      return Array.from({ length: n }, () => condition(r, i++)).join(op);
    }
    const left = 1 + Math.floor(r() * (n - 1));
    const op = r() < 0.5 ? 'and' : 'or';
    const wrap = (text: string): string => (r() < 0.15 ? `not (${text})` : `(${text})`);
    return `${wrap(build(left, depth + 1))} ${op} ${wrap(build(n - left, depth + 1))}`;
  };
  return build(clauses, 0);
}

function compileOnce(text: string): void {
  const targeting = toConfidenceTargeting(parseTargeting(text, 'bench'));
  loadState({ account: { name: 'accounts/b' }, segments: { 'segments/s': { name: 'segments/s', targeting } }, flags: {}, clients: {} });
}

const SIZES = [10, 30, 100, 300, TARGETING_LIMITS.maxClauses];
const SAMPLES = 8; // different random expressions per size, compiled in turn
const inputs = new Map(SIZES.map((n) => [n, Array.from({ length: SAMPLES }, (_, s) => expression(n, n * 1000 + s))]));
for (const [n, texts] of inputs) {
  for (const t of texts) compileOnce(t); // every input is valid and within the limits
  console.log(`${String(n).padStart(5)} clauses: ${Math.round(texts.reduce((a, t) => a + Buffer.byteLength(t), 0) / texts.length)} bytes on average`);
}

const rows = SIZES.map((n) => {
  const texts = inputs.get(n)!;
  let k = 0;
  return { name: String(n), fn: () => { compileOnce(texts[k++ % texts.length]!); } };
});
const rates = await interleavedRates(rows, { rounds: quick ? 3 : 7, timeMs: quick ? 150 : 400, batch: 1 });

console.log('\nparse + compile + core load, per clause (median of interleaved rounds):');
const perClause = SIZES.map((n) => 1e6 / rates.get(String(n))! / n);
SIZES.forEach((n, i) => {
  console.log(`${String(n).padStart(5)} clauses: ${(1e6 / rates.get(String(n))!).toFixed(1).padStart(9)} µs per expression, ${perClause[i]!.toFixed(2).padStart(6)} µs per clause`);
});
const worst = Math.max(...perClause) / Math.min(...perClause);
const atLimit = perClause[perClause.length - 1]! / perClause[0]!;
console.log(`\nworst ratio of µs per clause between sizes: ${worst.toFixed(2)}  (${TARGETING_LIMITS.maxClauses} vs 10 clauses: ${atLimit.toFixed(2)}; linear ≈ 1, quadratic would be ≈ ${TARGETING_LIMITS.maxClauses / 10})`);

const huge = Array.from({ length: 60_000 }, (_, i) => `c == ${i}`).join(' or ');
const started = performance.now();
let refused = 0;
for (let i = 0; i < 100; i++) {
  try {
    parseTargeting(huge, 'bench');
  } catch {
    refused++;
  }
}
console.log(`refusing the issue's ${Buffer.byteLength(huge)}-byte expression (60,000 clauses): ${((performance.now() - started) / 100).toFixed(3)} ms each (${refused}/100 refused)`);

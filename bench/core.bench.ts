/**
 * Resolves per second of @allot/core against peers doing equivalent work, in one process:
 *
 *   (a) a flag with two targeting conditions (country in [SE, NO], age >= 18) and a 50/50
 *       hashed split on a full segment — also through @openfeature/flagd-core and
 *       @growthbook/growthbook;
 *   (b) the same on a segment allocated 10% of the buckets;
 *   (c) 20 rules of which the last matches.
 *
 * Each row evaluates a batch of distinct pre-built contexts per call (100,000 users with
 * UUID-shaped keys, cycled, never one repeated back to back) in a loop of its own, rows are
 * interleaved over several rounds and the median rate per on-CPU second is reported; gc() is
 * never forced between rows. A hand-written evaluator of the same flag (murmur3-32) is the
 * floor. allot is measured with its flags specialized (the default) and with the generic
 * walk (`specialize: false`). A second table runs the key rows through one shared loop, where
 * the engine can inline no callee: the pessimistic case. Last, the heap is compared before
 * and after 10M resolves.
 *
 * Run: pnpm bench (or node --expose-gc bench/dist/core.bench.js [--quick])
 */
import { GrowthBookClient } from '@growthbook/growthbook';
import { FlagdCore } from '@openfeature/flagd-core';

import { HashPrefix, loadState, resolveFlag, resolveFlags, unitOf, type EvaluationContext } from '@allot/core';

import { interleavedCpuRates } from './interleave.js';

const quick = process.argv.includes('--quick');
const USERS = 100_000;
const BATCH = 1_000;
const ROUNDS = quick ? 3 : 7;
const TIME_MS = quick ? 150 : 400;

const COUNTRIES = ['SE', 'NO', 'DK', 'US', 'DE'];
interface User {
  readonly targeting_key: string;
  readonly country: string;
  readonly age: number;
}

/** A UUID-shaped id (36 characters, as real user ids are), distinct for every i. */
function uuid(i: number): string {
  const h = (n: number): string => ((Math.imul(i + 1, n) >>> 0).toString(16) + '00000000').slice(0, 8);
  return `${h(0x9e3779b1)}-${h(0x85ebca6b).slice(0, 4)}-4${h(0xc2b2ae35).slice(0, 3)}-a${h(0x27d4eb2f).slice(0, 3)}-${h(0x165667b1)}${h(0xd3a2646c).slice(0, 4)}`;
}

/** 100,000 distinct users; `short` keys (`user-<i>`, 6–11 bytes: one murmur3 block) or UUIDs (36 bytes). */
function users(short: boolean): (User & EvaluationContext)[] {
  const list = Array.from({ length: USERS }, (_, i) => ({
    targeting_key: short ? `user-${i}` : uuid(i),
    country: COUNTRIES[i % COUNTRIES.length]!,
    age: 10 + ((i * 7919) % 70),
  }));
  // Through JSON, as request data arrives: flat strings (a string built by concatenation is a
  // rope that every character read walks, which would slow the readers of keys, not the work).
  return JSON.parse(JSON.stringify(list)) as (User & EvaluationContext)[];
}
const contexts = users(false);
const shortContexts = users(true);

// ---- allot ---------------------------------------------------------------------------

const ACCOUNT = 'bench';
const targeting = {
  criteria: {
    nordic: { attribute: { attributeName: 'country', setRule: { values: [{ stringValue: 'SE' }, { stringValue: 'NO' }] } } },
    adult: { attribute: { attributeName: 'age', rangeRule: { startInclusive: { numberValue: 18 } } } },
  },
  expression: { and: { operands: [{ ref: 'nordic' }, { ref: 'adult' }] } },
};

function splitRule(flag: string, segment: string, name = 'split') {
  return {
    name: `flags/${flag}/rules/${name}`,
    segment: `segments/${segment}`,
    enabled: true,
    targetingKeySelector: 'targeting_key',
    assignmentSpec: {
      bucketCount: 1000,
      assignments: [
        { assignmentId: 'on', variant: { variant: 'on' }, bucketRanges: [{ lower: 0, upper: 500 }] },
        { assignmentId: 'off', variant: { variant: 'off' }, bucketRanges: [{ lower: 500, upper: 1000 }] },
      ],
    },
  };
}

/** Every bucket whose index, salted, is below 10%: an allocation of 100,000 buckets. */
function tenPercent(): number[] {
  const picked: number[] = [];
  const prefix = new HashPrefix('allocation|');
  for (let i = 0; i < 1_000_000; i++) if (prefix.bucket(String(i), 10) === 0) picked.push(i);
  return picked;
}

const variants = [
  { name: 'on', value: { enabled: true } },
  { name: 'off', value: { enabled: false } },
];
const manyRules = Array.from({ length: 19 }, (_, i) => ({
  ...splitRule('many', `country-${i}`, `r${i}`),
}));
const stateJson = {
  account: { name: `accounts/${ACCOUNT}` },
  clients: { s: { client: { name: 'clients/c' }, clientCredential: { name: 'clients/c/credentials/x', clientSecret: { secret: 's' } } } },
  segments: {
    'segments/full': { name: 'segments/full', targeting },
    'segments/ten': { name: 'segments/ten', targeting },
    ...Object.fromEntries(
      Array.from({ length: 19 }, (_, i) => [
        `segments/country-${i}`,
        { name: `segments/country-${i}`, targeting: { criteria: { c: { attribute: { attributeName: 'country', eqRule: { value: { stringValue: `X${i}` } } } } }, expression: { ref: 'c' } } },
      ]),
    ),
  },
  bitsets: { 'segments/full': 'ALL', 'segments/ten': tenPercent() },
  flags: {
    'flags/a': { name: 'flags/a', state: 'ACTIVE', clients: ['clients/c'], variants, rules: [splitRule('a', 'full')] },
    'flags/b': { name: 'flags/b', state: 'ACTIVE', clients: ['clients/c'], variants, rules: [splitRule('b', 'ten')] },
    'flags/many': { name: 'flags/many', state: 'ACTIVE', clients: ['clients/c'], variants, rules: [...manyRules, splitRule('many', 'full', 'last')] },
  },
};
const state = loadState(stateJson);
const client = state.client('s')!;
const flagA = state.flag('a')!;
const flagB = state.flag('b')!;
const flagMany = state.flag('many')!;

// ---- flagd-core ----------------------------------------------------------------------

const flagd = new FlagdCore();
flagd.setConfigurations(
  JSON.stringify({
    flags: {
      a: {
        state: 'ENABLED',
        variants: { on: true, off: false },
        defaultVariant: 'off',
        targeting: {
          if: [
            { and: [{ in: [{ var: 'country' }, ['SE', 'NO']] }, { '>=': [{ var: 'age' }, 18] }] },
            { fractional: [{ var: 'targeting_key' }, ['on', 50], ['off', 50]] },
            'off',
          ],
        },
      },
    },
  }),
);

const flagdContexts = contexts.map((c) => ({ targeting_key: c.targeting_key, country: c.country, age: c.age }));
const flagdShortContexts = shortContexts.map((c) => ({ targeting_key: c.targeting_key, country: c.country, age: c.age }));

// ---- GrowthBook ----------------------------------------------------------------------

const growthbook = new GrowthBookClient();
growthbook.initSync({
  payload: {
    features: {
      a: {
        defaultValue: false,
        rules: [
          {
            key: 'a',
            condition: { country: { $in: ['SE', 'NO'] }, age: { $gte: 18 } },
            variations: [true, false],
            weights: [0.5, 0.5],
            coverage: 1,
            hashAttribute: 'id',
          },
        ],
      },
    },
  },
});
const gbContexts = contexts.map((c) => ({ attributes: { id: c.targeting_key, country: c.country, age: c.age } }));

// ---- a hand-written evaluator: the practical floor in JavaScript ------------------------

/** murmur3 x86 32-bit over the UTF-16 code units of an ASCII key (enough for these ids). */
function murmur3x86(key: string, seed: number): number {
  let h = seed;
  const n = key.length;
  const blocks = n & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k = key.charCodeAt(i) | (key.charCodeAt(i + 1) << 8) | (key.charCodeAt(i + 2) << 16) | (key.charCodeAt(i + 3) << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  const tail = n & 3;
  if (tail === 3) k ^= key.charCodeAt(blocks + 2) << 16;
  if (tail >= 2) k ^= key.charCodeAt(blocks + 1) << 8;
  if (tail >= 1) {
    k ^= key.charCodeAt(blocks);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
  }
  h ^= n;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const ON = { value: true, variant: 'on' };
const OFF = { value: false, variant: 'off' };
/** The same flag by hand: two conditions, then a 50/50 split on murmur3-32 of the key. */
function handWritten(c: User): { value: boolean; variant: string } {
  if ((c.country !== 'SE' && c.country !== 'NO') || !(c.age >= 18)) return OFF;
  return murmur3x86(c.targeting_key, 0) % 100 < 50 ? ON : OFF;
}

/**
 * The same flag by hand with Confidence's semantics: the unit checked (at most 100 bytes of
 * UTF-8, else a targeting-key error) before targeting, and the exact bucket (murmur3_x64_128
 * of `<segment>|<unit>`, core's HashPrefix). What allot costs beyond this is the price of
 * being a general resolver; what this costs beyond `handWritten` is the price of the semantics.
 */
const exactPrefix = new HashPrefix(flagA.rules[0]!.prefix.prefix);
const KEY_ERROR = { value: false, variant: '' };
function handWrittenExact(c: User): { value: boolean; variant: string } {
  const unit = unitOf(c.targeting_key);
  if (typeof unit !== 'string') return KEY_ERROR;
  if ((c.country !== 'SE' && c.country !== 'NO') || !(c.age >= 18)) return OFF;
  return exactPrefix.bucket(unit, 1000) < 500 ? ON : OFF;
}

// ---- rows ----------------------------------------------------------------------------

let sink = 0;
/**
 * A row's batch: BATCH calls of `run` over the next contexts. Each row gets a loop of its own
 * code (`new Function`), so that the engine sees one callee at the loop's call site and can
 * inline it, as it would in an application's own loop; one loop shared by every row would make
 * that site megamorphic and add the same ~30 ns to every row, flattering the slower ones.
 */
function batch(run: (i: number) => unknown): () => void {
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- a loop of the row's own, on purpose
  const loop = new Function(
    'run',
    'USERS',
    'BATCH',
    'count',
    `let i = 0;
    return () => {
      let served = 0;
      for (let n = 0; n < BATCH; n++) {
        if (run(i) !== undefined) served++;
        i = i + 1 === USERS ? 0 : i + 1;
      }
      count(served);
    };`,
  ) as (run: (i: number) => unknown, users: number, size: number, count: (n: number) => void) => () => void;
  return loop(run, USERS, BATCH, (n) => {
    sink += n;
  });
}

// The call path core's README shows first: the client and the flag looked up once, then
// resolveFlag per evaluation.
const readmeClient = state.client('s')!;
const readmeFlag = state.flag('flags/a')!;
// The same state resolved by the generic walk (LoadOptions.specialize "none"): what a platform
// that forbids generated code gets.
const genericState = loadState(stateJson, { specialize: 'none' });
const genericClient = genericState.client('s')!;
const genericFlag = genericState.flag('flags/a')!;

/**
 * The same kind of batch through one loop that every row shares: its call site sees every
 * row's callee, so the engine inlines none of them. A provider resolving many flags at one
 * site is closer to this than to a loop per flag; reported as the pessimistic case.
 */
let sharedCursor = 0;
function sharedBatch(run: (i: number) => unknown): () => void {
  return () => {
    let i = sharedCursor;
    let served = 0;
    for (let n = 0; n < BATCH; n++) {
      if (run(i) !== undefined) served++;
      i = i + 1 === USERS ? 0 : i + 1;
    }
    sharedCursor = i;
    sink += served;
  };
}

const sharedRows: { name: string; fn: () => void }[] = [
  { name: 'allot resolveFlag (README path)', fn: sharedBatch((i) => resolveFlag(state, readmeClient, readmeFlag, contexts[i]!)) },
  { name: 'allot resolveFlag, generic walk', fn: sharedBatch((i) => resolveFlag(genericState, genericClient, genericFlag, contexts[i]!)) },
  { name: 'flagd-core', fn: sharedBatch((i) => flagd.resolveBooleanEvaluation('a', false, flagdContexts[i])) },
  { name: 'hand-written murmur3-32', fn: sharedBatch((i) => handWritten(contexts[i]!)) },
];

const rows: { name: string; fn: () => void }[] = [
  { name: '(a) allot resolveFlag (README path)', fn: batch((i) => resolveFlag(state, readmeClient, readmeFlag, contexts[i]!)) },
  { name: '(a) allot, generic walk (specialize none)', fn: batch((i) => resolveFlag(genericState, genericClient, genericFlag, contexts[i]!)) },
  { name: '(a) allot resolveFlags (batch API)', fn: batch((i) => resolveFlags(state, { flags: ['flags/a'], evaluationContext: contexts[i]!, clientSecret: 's' })) },
  { name: '(a) flagd-core', fn: batch((i) => flagd.resolveBooleanEvaluation('a', false, flagdContexts[i])) },
  { name: '(a) hand-written murmur3-32', fn: batch((i) => handWritten(contexts[i]!)) },
  { name: '(a) hand-written, exact hash + unit check', fn: batch((i) => handWrittenExact(contexts[i]!)) },
  { name: '(a) GrowthBook', fn: batch((i) => growthbook.evalFeature('a', gbContexts[i]!)) },
  { name: '(a) allot, short keys user-<i>', fn: batch((i) => resolveFlag(state, client, flagA, shortContexts[i]!)) },
  { name: '(a) flagd-core, short keys user-<i>', fn: batch((i) => flagd.resolveBooleanEvaluation('a', false, flagdShortContexts[i])) },
  { name: '(b) allot core, 10% bitset', fn: batch((i) => resolveFlag(state, client, flagB, contexts[i]!)) },
  { name: '(c) allot core, 20 rules, last matches', fn: batch((i) => resolveFlag(state, client, flagMany, contexts[i]!)) },
];

function main(): void {
  // Sanity: the allot rows do the work they claim.
  const served = contexts.slice(0, 10_000).filter((c) => resolveFlag(state, client, flagA, c).variant !== '').length;
  const servedB = contexts.slice(0, 10_000).filter((c) => resolveFlag(state, client, flagB, c).variant !== '').length;
  console.log(`(a) serves ${served} of 10,000 users (the audience); (b) serves ${servedB} (10% of them)`);

  // Sanity: the hand-written evaluator splits the same audience about 50/50.
  const handOn = contexts.slice(0, 10_000).filter((c) => handWritten(c).value).length;
  console.log(`hand-written evaluator serves "on" to ${handOn} of 10,000 users`);

  const med = interleavedCpuRates(rows, { rounds: ROUNDS, timeMs: TIME_MS, batch: BATCH });
  const flagdRate = med.get('(a) flagd-core')!;
  const handRate = med.get('(a) hand-written murmur3-32')!;
  console.log(`\nmedian of ${ROUNDS} interleaved rounds, ${USERS.toLocaleString()} distinct contexts cycled (UUID keys unless noted), per on-CPU second\n`);
  console.log(`${'row'.padEnd(42)}${'resolves/s'.padStart(14)}${'ns/resolve'.padStart(12)}${'vs flagd'.padStart(10)}${'vs hand'.padStart(10)}`);
  for (const [name, rate] of med) {
    console.log(`${name.padEnd(42)}${Math.round(rate).toLocaleString().padStart(14)}${(1e9 / rate).toFixed(0).padStart(12)}${`${(rate / flagdRate).toFixed(2)}x`.padStart(10)}${`${(rate / handRate).toFixed(2)}x`.padStart(10)}`);
  }
  const shared = interleavedCpuRates(sharedRows, { rounds: ROUNDS, timeMs: TIME_MS, batch: BATCH });
  const sharedFlagd = shared.get('flagd-core')!;
  const sharedHand = shared.get('hand-written murmur3-32')!;
  console.log(`\nthrough one call site shared by these rows (no inlining into the loop; the pessimistic case)\n`);
  for (const [name, rate] of shared) {
    console.log(`${name.padEnd(42)}${Math.round(rate).toLocaleString().padStart(14)}${(1e9 / rate).toFixed(0).padStart(12)}${`${(rate / sharedFlagd).toFixed(2)}x`.padStart(10)}${`${(rate / sharedHand).toFixed(2)}x`.padStart(10)}`);
  }
  const exact = med.get('(a) hand-written, exact hash + unit check')!;
  console.log(`\nallot's README path is ${(med.get('(a) allot resolveFlag (README path)')! / exact).toFixed(2)}x the hand-written evaluator with Confidence's exact hash and unit check`);
  const shortRatio = med.get('(a) allot, short keys user-<i>')! / med.get('(a) flagd-core, short keys user-<i>')!;
  console.log(`\nwith short keys (user-<i>) allot is ${shortRatio.toFixed(2)}x flagd-core; with UUID keys ${(med.get('(a) allot resolveFlag (README path)')! / flagdRate).toFixed(2)}x`);

  // Heap over 10M resolves (after the timed rows, so gc() cannot disturb them).
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    const before = process.memoryUsage().heapUsed;
    const total = quick ? 2_000_000 : 10_000_000;
    for (let n = 0; n < total; n++) resolveFlag(state, client, flagA, contexts[n % USERS]!);
    gc();
    const after = process.memoryUsage().heapUsed;
    console.log(`\nheap after ${total.toLocaleString()} resolves: ${((after - before) / 1024).toFixed(0)} KiB change (${(before / 1048576).toFixed(1)} MiB before)`);
  } else {
    console.log('\n(run with node --expose-gc to measure heap growth)');
  }
  if (sink < 0) console.log(sink);
}

main();

/**
 * Simulation throughput: contexts per second end to end (population, core resolve of every
 * flag, reference evaluation, counting) on the ranking scenario, in one thread and with
 * worker threads. A plain timed script: the quantity is a rate over millions of contexts.
 *
 *   node bench/dist/simulation.bench.js [units] [rounds] [baseline]
 *
 * `baseline`: the path of another build's dist/index.js of @allot/simulation (e.g. the code
 * before a change, copied beside this one so that it resolves the same dependencies); its
 * rows run interleaved with this build's, on the same scenario file.
 *
 * Rows are interleaved over `rounds` rounds (each round starting from another row, so that no
 * build always runs first) and the best round of each is kept: on a machine shared with other
 * work, the best round is the one least disturbed. Besides the wall-clock rate, each row gives
 * contexts per CPU-second of the whole process (every thread), which is the per-core rate, and
 * the load average is printed before and after. Two builds in one process share @allot/core
 * and its compiled code: identical builds have measured up to 6% apart this way, so compare
 * builds over several runs (or in separate processes).
 *
 * Last, each build's fixed cost per worker thread: the CPU time of a run just big enough for
 * its workers, less that of the same run in the calling thread (a thread's start, module
 * loading, the state loaded again, code not yet optimized). Worker rows pay it once per
 * worker per run, which is what keeps their per-CPU-second rate below the in-thread row's.
 */
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';


import * as current from '@allot/simulation';

type Harness = Pick<typeof current, 'readScenario' | 'runScenario'>;

const units = Number(process.argv[2] ?? 4_000_000);
const rounds = Number(process.argv[3] ?? 3);
const baselinePath = process.argv[4];
const file = fileURLToPath(new URL('../../simulations/ranking.yaml', import.meta.url));
const builds: { name: string; harness: Harness }[] = [{ name: 'this build', harness: current }];
if (baselinePath !== undefined) builds.push({ name: 'baseline', harness: (await import(pathToFileURL(baselinePath).href)) as Harness });
const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');

const configurations = [0, 1, availableParallelism()];
const best = builds.flatMap((b) => {
  const scenario = b.harness.readScenario(file);
  return configurations.map((workers) => ({ build: b.name, harness: b.harness, scenario, workers, seconds: Infinity, cpuSeconds: Infinity }));
});
// Warm-up: compile the hot path before timing.
for (const b of best.filter((r) => r.workers === 0)) await b.harness.runScenario(b.scenario, { units: 300_000, workers: 0 });
const loadBefore = load();
for (let round = 0; round < rounds; round++) {
  for (let k = 0; k < best.length; k++) {
    const row = best[(k + round) % best.length]!;
    const cpu = process.cpuUsage();
    const run = await row.harness.runScenario(row.scenario, { units, workers: row.workers });
    const used = process.cpuUsage(cpu);
    row.seconds = Math.min(row.seconds, run.seconds);
    row.cpuSeconds = Math.min(row.cpuSeconds, (used.user + used.system) / 1e6);
  }
}
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US').padStart(11);
console.log(`ranking scenario, ${units.toLocaleString('en-US')} units (3 flags per context), ${availableParallelism()} cores, best of ${rounds} rounds`);
console.log(`load average before: ${loadBefore}; after: ${load()}`);
const base = units / best[0]!.seconds;
for (const r of best) {
  const rate = units / r.seconds;
  const label = `${r.build}, ${r.workers === 0 ? 'in-thread' : `${r.workers} worker${r.workers > 1 ? 's' : ''}`}`;
  console.log(`${label.padEnd(24)} ${r.seconds.toFixed(2).padStart(7)} s ${fmt(rate)} contexts/s (${(rate / base).toFixed(2)}× this build in-thread) ${fmt(units / r.cpuSeconds)} per CPU-second`);
}

/** Least CPU-seconds over `rounds` runs of `small` units. */
async function cpuOf(harness: Harness, scenario: ReturnType<Harness['readScenario']>, small: number, workers: number): Promise<number> {
  let least = Infinity;
  for (let round = 0; round < rounds; round++) {
    const cpu = process.cpuUsage();
    await harness.runScenario(scenario, { units: small, workers });
    const used = process.cpuUsage(cpu);
    least = Math.min(least, (used.user + used.system) / 1e6);
  }
  return least;
}
const most = Math.max(...configurations);
// The runner gives each worker at least 10,000 units.
const small = 10_000 * most;
for (const b of builds) {
  const scenario = b.harness.readScenario(file);
  const inThread = await cpuOf(b.harness, scenario, small, 0);
  const perWorker = (await cpuOf(b.harness, scenario, small, most)) - inThread;
  console.log(`${b.name}: fixed cost per worker ${((perWorker / most) * 1000).toFixed(0)} CPU-ms (${small.toLocaleString('en-US')} units with ${most} workers against in-thread)`);
}

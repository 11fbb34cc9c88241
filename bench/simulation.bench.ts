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
 * Rows are interleaved over `rounds` rounds and the best round of each is kept: on a machine
 * shared with other work, the best round is the one least disturbed. Besides the wall-clock
 * rate, each row gives contexts per CPU-second of the whole process (every thread), which
 * is the per-core rate, and the load average is printed before and after.
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
  for (const row of best) {
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

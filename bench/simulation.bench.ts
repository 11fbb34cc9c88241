/**
 * Simulation throughput: contexts per second end to end (population, core resolve of every
 * flag, reference evaluation, counting) on the ranking scenario, in one thread and with
 * worker threads. A plain timed script: the quantity is a rate over millions of contexts.
 *
 *   node bench/dist/simulation.bench.js [units] [rounds]
 *
 * Rows are interleaved over `rounds` rounds and the best round of each is kept: on a machine
 * shared with other work, the best round is the one least disturbed. Besides the wall-clock
 * rate, each row gives contexts per CPU-second of the whole process (every thread), which
 * is the per-core rate, and the load average is printed before and after.
 */
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

import { readScenario, runScenario } from '@allot/simulation';

const units = Number(process.argv[2] ?? 4_000_000);
const rounds = Number(process.argv[3] ?? 3);
const scenario = readScenario(fileURLToPath(new URL('../../simulations/ranking.yaml', import.meta.url)));
const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');

// Warm-up: compile the hot path before timing.
await runScenario(scenario, { units: 300_000, workers: 0 });

const configurations = [0, 1, availableParallelism()];
const best = configurations.map((workers) => ({ workers, seconds: Infinity, cpuSeconds: Infinity }));
const loadBefore = load();
for (let round = 0; round < rounds; round++) {
  for (const row of best) {
    const cpu = process.cpuUsage();
    const run = await runScenario(scenario, { units, workers: row.workers });
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
  const label = r.workers === 0 ? 'in-thread' : `${r.workers} worker${r.workers > 1 ? 's' : ''}`;
  console.log(`${label.padEnd(10)} ${r.seconds.toFixed(2).padStart(7)} s ${fmt(rate)} contexts/s (${(rate / base).toFixed(2)}× in-thread) ${fmt(units / r.cpuSeconds)} per CPU-second`);
}

/**
 * Simulation throughput: contexts per second end to end (population, core resolve of every
 * flag, reference evaluation, counting) on the ranking scenario, in one thread and with
 * worker threads. A plain timed script: the quantity is a rate over millions of contexts.
 *
 *   node bench/dist/simulation.bench.js [units]
 */
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

import { readScenario, runScenario } from '@allot/simulation';

const units = Number(process.argv[2] ?? 2_000_000);
const scenario = readScenario(fileURLToPath(new URL('../../simulations/ranking.yaml', import.meta.url)));

// Warm-up: compile the hot path before timing.
await runScenario(scenario, { units: 200_000, workers: 0 });

const rows: { workers: number; seconds: number; rate: number }[] = [];
for (const workers of [0, 1, availableParallelism()]) {
  const run = await runScenario(scenario, { units, workers });
  rows.push({ workers, seconds: run.seconds, rate: units / run.seconds });
}
console.log(`ranking scenario, ${units.toLocaleString('en-US')} units (3 flags per context), ${availableParallelism()} cores`);
for (const r of rows) {
  console.log(`${(r.workers === 0 ? 'in-thread' : `${r.workers} worker${r.workers > 1 ? 's' : ''}`).padEnd(10)} ${r.seconds.toFixed(2).padStart(7)} s  ${Math.round(r.rate).toLocaleString('en-US').padStart(11)} contexts/s`);
}

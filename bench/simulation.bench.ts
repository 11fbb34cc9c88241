/**
 * Simulation throughput: contexts per CPU-second on the ranking scenario (population, core's
 * resolve of its three flags, the reference evaluation, every count and claim), counted by the
 * calling thread alone and by one thread per core (the calling thread and worker threads). A
 * plain timed script: the quantity is a rate over millions of contexts.
 *
 *   node bench/dist/simulation.bench.js [units] [rounds] [baseline]
 *
 * `units` defaults to 10,000,000 (the README's main command); `baseline` is the path of another
 * build's dist/index.js of @allot/simulation (e.g. main's, copied beside this package so that
 * it resolves the same dependencies), whose rows run interleaved with this build's.
 *
 * Every run is a fresh process, as `allot simulate` is: runs in one process would share V8's
 * compiled code and type feedback (a later run's call sites see every earlier run's objects,
 * and two builds share core's code), which measured up to 12% apart between identical runs.
 * Rows are interleaved, each round starting from another row, and the median round is
 * reported with the range, never the best.
 *
 * Per run, from `process.cpuUsage()` (every thread of the process, so a worker's start and V8's
 * background compiles count):
 * - whole run: units over the CPU-seconds of `readScenario` + `runScenario`, planning,
 *   threads, warm-up and all. With one thread per core this is the per-core rate of the
 *   README's command.
 * - steady: units over CPU-seconds from the progress report at a quarter of the units to the
 *   end, when every thread runs compiled code: the rate that a longer run tends to.
 * - fixed: the whole run's CPU-seconds less what its units cost at the steady rate (planning,
 *   thread start, module loading, compiling and running the loop before it is optimized).
 *
 * A last row runs the README's main command itself, `allot simulate simulations/ranking.yaml
 * --units N` (one thread per core, reports written to a temporary directory), and counts the
 * CPU of its whole process from Node's start: what a user's `time` would show.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const TARGET = 1_500_000;
const scenarioFile = fileURLToPath(new URL('../../simulations/ranking.yaml', import.meta.url));

interface Measured {
  /** Wall seconds of the run. */
  readonly seconds: number;
  /** CPU-seconds of the run, every thread. */
  readonly cpu: number;
  /** Units per CPU-second from a quarter of the units to the end (null: not measured). */
  readonly steady: number | null;
  /** The memory probe's random reads per CPU-second, before and after the run (mean; after only for the command). */
  readonly memory: number;
}

/**
 * Random byte reads per CPU-second over 4 MB: more than a core's L2, so each read goes to the
 * L3 cache shared with the machine's other tenants (or to memory when they have evicted it).
 * On this machine it varies up to 2.7× between processes, an arithmetic loop at most 14%:
 * the simulation's loop reads its bitsets at random buckets and slows down with it.
 */
let probeBytes: Uint8Array | null = null;
function memoryProbe(): number {
  probeBytes ??= new Uint8Array(4 << 20).map((_, i) => i * 7);
  const reads = 5_000_000;
  const before = process.cpuUsage();
  let sum = 0;
  let x = 12345;
  for (let i = 0; i < reads; i++) {
    x = (Math.imul(x, 1103515245) + 12345) | 0;
    sum += probeBytes[(x >>> 8) & (probeBytes.length - 1)]!;
  }
  const used = process.cpuUsage(before);
  if (sum < 0) throw new Error('unreachable: keeps the reads');
  return reads / ((used.user + used.system) / 1e6);
}

if (process.argv[2] === '--child') await child(process.argv[3]!, Number(process.argv[4]), Number(process.argv[5]));
else if (process.argv[2] === '--cli') await cli(Number(process.argv[3]));
else parent();

/** The README's main command in this (fresh) process; prints its measurements as one JSON line. */
async function cli(units: number): Promise<void> {
  const { main, processIo } = await import('@allot/cli');
  const out = mkdtempSync(join(tmpdir(), 'allot-bench-'));
  try {
    const code = await main(['simulate', scenarioFile, '--units', String(units), '--out', out], { ...processIo, out: () => undefined, isTty: false });
    if (code !== 0) throw new Error(`allot simulate exited with status ${code}`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  // Since the process started, as performance.now() counts; the probe runs after.
  const u = process.cpuUsage();
  const seconds = performance.now() / 1000;
  const memory = memoryProbe();
  console.log(JSON.stringify({ seconds, cpu: (u.user + u.system) / 1e6, steady: null, memory } satisfies Measured));
}

/** One run in this (fresh) process; prints its measurements as one JSON line. */
async function child(harnessUrl: string, units: number, workers: number): Promise<void> {
  const harness = (await import(harnessUrl)) as typeof import('@allot/simulation');
  const probeBefore = memoryProbe();
  const cpuSeconds = (): number => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  const cpu0 = cpuSeconds();
  const wall0 = performance.now();
  let mark: { done: number; cpu: number } | null = null;
  const scenario = harness.readScenario(scenarioFile);
  await harness.runScenario(scenario, {
    units,
    workers,
    onProgress: (done) => {
      if (mark === null && done >= units / 4) mark = { done, cpu: cpuSeconds() };
    },
  });
  const cpu = cpuSeconds() - cpu0;
  const seconds = (performance.now() - wall0) / 1000;
  const from = mark as { done: number; cpu: number } | null;
  const steady = from === null ? null : (units - from.done) / (cpu0 + cpu - from.cpu);
  const memory = (probeBefore + memoryProbe()) / 2;
  console.log(JSON.stringify({ seconds, cpu, steady, memory } satisfies Measured));
}

function parent(): void {
  const units = Number(process.argv[2] ?? 10_000_000);
  const rounds = Number(process.argv[3] ?? 3);
  const baselinePath = process.argv[4];
  if (!Number.isInteger(units) || units < 100_000) throw new Error(`units: expected an integer of at least 100,000, got ${process.argv[2]}`);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`rounds: expected a positive integer, got ${process.argv[3]}`);
  const builds = [{ name: 'this build', url: import.meta.resolve('@allot/simulation') }];
  if (baselinePath !== undefined) builds.push({ name: 'baseline', url: pathToFileURL(baselinePath).href });
  const cores = availableParallelism();
  const rows = [
    // `workers` counts the threads that count, the calling thread included.
    ...builds.flatMap((b) => [1, cores].map((threads) => ({ label: `${b.name}, ${threads} thread${threads > 1 ? 's' : ''}`, args: ['--child', b.url, String(units), String(threads)], runs: [] as Measured[] }))),
    { label: `allot simulate, ${cores} threads`, args: ['--cli', String(units)], runs: [] as Measured[] },
  ];
  const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');
  const script = fileURLToPath(import.meta.url);

  const loadBefore = load();
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < rows.length; k++) {
      const row = rows[(k + round) % rows.length]!;
      const out = execFileSync(process.execPath, [script, ...row.args], { encoding: 'utf8' });
      row.runs.push(JSON.parse(out.trim().split('\n').at(-1)!) as Measured);
      process.stderr.write(`\rround ${round + 1}/${rounds}, run ${k + 1}/${rows.length}   `);
    }
  }
  process.stderr.write('\r\x1b[K');

  const median = (xs: number[]): number => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 === 1 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const millions = (x: number): string => (x / 1e6).toFixed(2);
  const spread = (xs: number[], f: (x: number) => string): string => (xs.some(Number.isNaN) ? '–' : `${f(median(xs))} (${f(Math.min(...xs))}–${f(Math.max(...xs))})`);
  console.log(`ranking scenario, ${units.toLocaleString('en-US')} units (3 flags per context), ${cores} cores; each run a fresh process; median of ${rounds} rounds (range)`);
  console.log(`load average before: ${loadBefore}; after: ${load()}`);
  console.log(`target: ≥ ${millions(TARGET)}M contexts per CPU-second (per core)\n`);
  console.log('row                        wall s            contexts/s (wall)     M per CPU-s, whole run   M per CPU-s, steady   fixed CPU-s         memory probe, M reads/CPU-s');
  for (const r of rows) {
    const whole = r.runs.map((m) => units / m.cpu);
    const steady = r.runs.map((m) => m.steady ?? Number.NaN);
    const fixed = r.runs.map((m) => m.cpu - units / (m.steady ?? Number.NaN));
    console.log(
      `${r.label.padEnd(26)} ${spread(r.runs.map((m) => m.seconds), (x) => x.toFixed(2)).padEnd(18)} ${spread(r.runs.map((m) => units / m.seconds), millions).padEnd(21)} ${spread(whole, millions).padEnd(24)} ${spread(steady, millions).padEnd(21)} ${spread(fixed, (x) => x.toFixed(2)).padEnd(19)} ${spread(r.runs.map((m) => m.memory), (x) => (x / 1e6).toFixed(0))}`,
    );
  }
  // How much of the spread the machine's memory explains: every run's whole-run rate and probe,
  // each relative to its row's median.
  const relative = (xs: number[]): number[] => xs.map((x) => x / median(xs));
  const rates = rows.flatMap((r) => relative(r.runs.map((m) => units / m.cpu)));
  const probes = rows.flatMap((r) => relative(r.runs.map((m) => m.memory)));
  console.log(`\nwhole-run rate against the memory probe over ${rates.length} runs (each relative to its row's median): Pearson r = ${pearson(rates, probes).toFixed(2)}`);
}

function pearson(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
    syy += (ys[i]! - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

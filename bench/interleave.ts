/**
 * Rows measured side by side: each round runs every row once (tinybench, one task per
 * bench), rows interleaved so that machine noise spreads over all of them; the median
 * round is kept. gc() is never forced between rows.
 */
import { Bench } from 'tinybench';

export interface Row {
  readonly name: string;
  /** One call does `batch` operations. */
  readonly fn: () => unknown;
}

export interface InterleaveOptions {
  readonly rounds: number;
  readonly timeMs: number;
  /** Operations per call of a row's `fn`. */
  readonly batch: number;
}

/** Operations per second of each row, the median of `rounds` interleaved rounds. */
export async function interleavedRates(rows: readonly Row[], options: InterleaveOptions): Promise<Map<string, number>> {
  const rates = new Map<string, number[]>(rows.map((r) => [r.name, []]));
  for (let round = 0; round < options.rounds; round++) {
    for (const row of rows) {
      const bench = new Bench({ time: options.timeMs, warmupTime: 50 });
      bench.add(row.name, row.fn);
      await bench.run();
      const result = bench.tasks[0]!.result;
      if (result.state !== 'completed') throw new Error(`${row.name}: ${result.state}`);
      rates.get(row.name)!.push(result.throughput.mean * options.batch);
    }
  }
  return new Map([...rates].map(([name, values]) => [name, median(values)]));
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/**
 * Operations per on-CPU second of each row (process.cpuUsage, user + system), the median of
 * `rounds` interleaved rounds: each round runs every row for about `timeMs` of wall time.
 * CPU time rather than wall time, so that other processes on a shared machine do not count.
 */
export function interleavedCpuRates(rows: readonly Row[], options: InterleaveOptions): Map<string, number> {
  const rates = new Map<string, number[]>(rows.map((r) => [r.name, []]));
  for (const row of rows) for (let i = 0; i < 20; i++) row.fn(); // warm up every row first
  for (let round = 0; round < options.rounds; round++) {
    for (const row of rows) {
      let calls = 0;
      const start = process.cpuUsage();
      const wallEnd = performance.now() + options.timeMs;
      while (performance.now() < wallEnd) {
        row.fn();
        calls++;
      }
      const used = process.cpuUsage(start);
      rates.get(row.name)!.push((calls * options.batch) / ((used.user + used.system) / 1e6));
    }
  }
  return new Map([...rates].map(([name, values]) => [name, median(values)]));
}

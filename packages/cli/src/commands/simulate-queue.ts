/**
 * `allot simulate FILE --queue URL`: the run as a BullMQ flow, counted by `allot simulate
 * worker` processes anywhere, reported exactly as a local run. `--seeds a..b` is a
 * calibration sweep. @allot/sim-queue (and BullMQ) load only here, on demand.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { buildReport, progressBar, type Scenario } from '@allot/simulation';

import { CliError } from '../cli-error.js';
import type { Io } from '../io.js';

type SimQueue = typeof import('@allot/sim-queue');

async function simQueue(): Promise<SimQueue> {
  return import('@allot/sim-queue');
}

/** Errors a user can act on, as CliErrors (exit 1: refused or failed; 2: bad usage). */
function asCliError(error: unknown, q: SimQueue, command: string): never {
  if (error instanceof q.QueueRunError) throw new CliError(error.message, 1, command);
  if (error instanceof q.QueueConnectionError) throw new CliError(error.message, /is not a URL|names no host|the queue is a Redis server|must be a database number/.test(error.message) ? 2 : 1, command);
  if (error instanceof RangeError) throw new CliError(error.message, 2, command);
  throw error;
}

/** `a..b` (inclusive) → the seeds. */
export function parseSeeds(text: string): number[] {
  const m = /^(\d+)\.\.(\d+)$/.exec(text.replace(/_/g, ''));
  const a = Number(m?.[1]);
  const b = Number(m?.[2]);
  if (m === null || !Number.isSafeInteger(a) || !Number.isSafeInteger(b) || b < a) throw new CliError(`--seeds must be a..b with a ≤ b (e.g. 1..100), got ${JSON.stringify(text)}`);
  if (b - a + 1 > 100_000) throw new CliError(`--seeds ${text}: at most 100,000 seeds in one sweep`);
  return Array.from({ length: b - a + 1 }, (_, i) => a + i);
}

export interface QueuedRun {
  readonly queue: string;
  readonly units: number | undefined;
  readonly seed: number | undefined;
  readonly seeds: string | undefined;
  readonly shards: number | undefined;
  readonly dir: string;
  /** Writes report.{json,md,html} for one run and returns its exit status. */
  readonly writeReport: (plan: Parameters<typeof buildReport>[0], tally: Parameters<typeof buildReport>[1], run: Parameters<typeof buildReport>[2], dir: string) => number;
}

export async function queuedRun(scenario: Scenario, options: QueuedRun, io: Io): Promise<number> {
  const q = await simQueue();
  const seeds = options.seeds === undefined ? undefined : parseSeeds(options.seeds);
  const bar = io.isTty ? progressBar((t) => process.stderr.write(t)) : null;
  const cancel = new AbortController();
  const onSignal = (): void => { cancel.abort(); };
  process.once('SIGINT', onSignal);
  let run;
  try {
    run = await q.runOnQueue(scenario, {
      queue: options.queue,
      ...(options.units === undefined ? {} : { units: options.units }),
      ...(options.seed === undefined ? {} : { seed: options.seed }),
      ...(seeds === undefined ? {} : { seeds }),
      ...(options.shards === undefined ? {} : { shards: options.shards }),
      ...(bar === null ? {} : { onProgress: (done: number, total: number) => { bar.update(done, total); } }),
      onIdle: (message) => { io.err(message); },
      signal: cancel.signal,
    });
  } catch (error) {
    bar?.finish();
    asCliError(error, q, 'simulate');
  } finally {
    process.off('SIGINT', onSignal);
  }
  bar?.finish();
  if (seeds === undefined) {
    const [only] = run.results;
    return options.writeReport(only!.plan, only!.tally, { workers: only!.workers, seconds: run.seconds, shards: run.shards }, options.dir);
  }
  const reports = run.results.map((r) => buildReport(r.plan, r.tally, { workers: r.workers, seconds: run.seconds, shards: run.shards }));
  const summary = q.summarizeSweep(reports);
  const markdown = q.renderSweep(scenario.name, summary, options.seeds!);
  mkdirSync(options.dir, { recursive: true });
  const perSeed = reports.map((r) => ({ seed: r.seed, passed: r.passed, failedChecks: r.checks.filter((c) => !c.passed).map((c) => ({ kind: c.kind, step: c.step, subject: c.subject, detail: c.detail })) }));
  writeFileSync(join(options.dir, 'sweep.json'), `${JSON.stringify({ format: 'allot-simulation-sweep/1', scenario: scenario.name, units: reports[0]!.units, shards: run.shards, seconds: run.seconds, ...summary, runs: perSeed }, null, 2)}\n`);
  writeFileSync(join(options.dir, 'sweep.md'), markdown);
  io.out(markdown);
  io.out(`sweep written to ${options.dir}/sweep.{json,md}`);
  return summary.calibrated ? 0 : 1;
}

const workerUsage = 'allot simulate worker --queue redis://HOST:PORT [--concurrency C] [--stalled-seconds S] [--exit-when-idle S]';

export interface WorkerValues {
  readonly queue: string | undefined;
  readonly concurrency: number | undefined;
  readonly stalledSeconds: number | undefined;
  readonly idleSeconds: number | undefined;
}

export async function queueWorker(values: WorkerValues, io: Io): Promise<number> {
  if (values.queue === undefined) throw new CliError(`simulate worker: give the Redis server with --queue redis://host:port\nusage: ${workerUsage}`);
  const q = await simQueue();
  let worker;
  try {
    worker = await q.startQueueWorker({
      queue: values.queue,
      ...(values.concurrency === undefined ? {} : { concurrency: values.concurrency }),
      ...(values.stalledSeconds === undefined ? {} : { stalledSeconds: values.stalledSeconds }),
      ...(values.idleSeconds === undefined ? {} : { idleSeconds: values.idleSeconds }),
      onShard: (e) => {
        const name = `run ${e.run} seed ${e.seed} shard ${e.shard.index + 1}/${e.shard.count}`;
        if (e.error === null) io.out(`${name}: ${e.units.toLocaleString('en-US')} units in ${e.seconds.toFixed(1)} s`);
        else io.err(`${name}: attempt ${e.attempt} failed: ${e.error}`);
      },
      onError: (error) => { io.err(`worker: ${error.message}`); },
    });
  } catch (error) {
    asCliError(error, q, 'simulate worker');
  }
  const at = values.concurrency ?? 'one per core';
  io.out(`worker ready on ${q.parseQueueUrl(values.queue).host}: ${at} shard${values.concurrency === 1 ? '' : 's'} at a time (SIGTERM or Ctrl-C: finish the shards in progress and stop; a second one: stop at once)`);
  const stop = (signal: string): void => {
    io.err(`${signal}: finishing the shards in progress`);
    process.once('SIGTERM', () => process.exit(143));
    process.once('SIGINT', () => process.exit(130));
    void worker.close();
  };
  const onTerm = (): void => { stop('SIGTERM'); };
  const onInt = (): void => { stop('SIGINT'); };
  process.once('SIGTERM', onTerm);
  process.once('SIGINT', onInt);
  await worker.closed;
  process.off('SIGTERM', onTerm);
  process.off('SIGINT', onInt);
  if (values.idleSeconds !== undefined) io.out(`worker stopped: nothing to count for ${values.idleSeconds} s`);
  return 0;
}

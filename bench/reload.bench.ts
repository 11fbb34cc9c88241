/**
 * How long a state load stalls the application's event loop (issue 21, "No stall"): a
 * provider watching a file of 1k / 3k / 10k segments is reloaded while the main loop is
 * measured two ways: `perf_hooks.monitorEventLoopDelay({ resolution: 1 })` (max, p99) and a
 * 1 ms interval timer (the longest gap between two ticks, less its 1 ms). Rows side by side,
 * in one process:
 *
 *   main thread   `offThread: false`: read, parse, validate and compile on the app's thread (the path before the loader)
 *   worker        the default: a worker reads, parses, validates and prepares; the app's thread assembles in slices
 *   idle          nothing loading, measured as long as the worker's swap took: the machine's own noise
 *
 * Also: the time from the file's rename to `PROVIDER_CONFIGURATION_CHANGED` (swap), and the
 * memory the loaded state holds (heap + array buffers, after gc, less the baseline).
 *
 * States are compiled-state JSON generated here, in the shape `@allot/admin` compiles to
 * (segments keyed by name, bitsets as base64 gzip): each segment has a one-criterion
 * audience and an allocation, half scattered (2,000 random buckets, as the allocator picks
 * them) and half blocks of 16 buckets (1%); one flag per 5 segments, a rule on each.
 *
 * Run: pnpm --filter @allot/bench bench:reload [--quick] [--sizes 1000,3000,10000]
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';

import { AllotProvider, fileSource } from '@allot/openfeature-provider';
import { ProviderEvents } from '@openfeature/server-sdk';
import { SECRET, stateText } from './generated-state.js';

const quick = process.argv.includes('--quick');
const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const sizesArg = process.argv.indexOf('--sizes');
const SIZES = sizesArg > 0 ? process.argv[sizesArg + 1]!.split(',').map(Number) : quick ? [1_000, 3_000] : [1_000, 3_000, 10_000];
const RELOADS = quick ? 2 : 3;

/** The main loop's delays while `run` runs: histogram max and p99, and the longest gap of a 1 ms timer. */
async function measured<T>(run: () => Promise<T>): Promise<{ result: T; maxMs: number; p99Ms: number; gapMs: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  let last = performance.now();
  let gap = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    gap = Math.max(gap, now - last - 1);
    last = now;
  }, 1);
  histogram.enable();
  try {
    const result = await run();
    // A stall that ends with `run` is recorded at the timers' next ticks: let them come.
    await new Promise((resolve) => setTimeout(resolve, 20));
    return { result, maxMs: histogram.max / 1e6, p99Ms: histogram.percentile(99) / 1e6, gapMs: gap };
  } finally {
    histogram.disable();
    clearInterval(timer);
  }
}

function heldBytes(): number {
  globalThis.gc?.();
  globalThis.gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

interface RowResult {
  readonly loadMaxMs: number;
  readonly maxMs: number;
  readonly p99Ms: number;
  readonly gapMs: number;
  readonly swapMs: number;
  readonly heldMb: number;
  readonly rssMb: number;
}

/** The machine's own noise: the same measures over `ms` with nothing loading. */
async function idle(ms: number): Promise<RowResult> {
  const m = await measured(() => new Promise((resolve) => setTimeout(resolve, ms)));
  return { loadMaxMs: 0, maxMs: m.maxMs, p99Ms: m.p99Ms, gapMs: m.gapMs, swapMs: 0, heldMb: 0, rssMb: 0 };
}

/** A provider watching `dir`/state.json, reloaded RELOADS times between the states in `a.json` and `b.json`. */
async function row(dir: string, offThread: boolean): Promise<RowResult> {
  const file = join(dir, 'state.json');
  const texts = [join(dir, 'a.json'), join(dir, 'b.json')];
  copyFileSync(texts[0]!, file);
  const before = heldBytes();
  const rssBefore = process.memoryUsage().rss;
  const provider = new AllotProvider({ source: fileSource(file, { offThread, debounceMs: 5, pollIntervalMs: 60_000 }), clientSecret: SECRET, stickyStore: false });
  const initial = await measured(() => provider.initialize());
  const swaps: number[] = [];
  let maxMs = 0;
  let p99Ms = 0;
  let gapMs = 0;
  for (let r = 1; r <= RELOADS; r++) {
    const next = join(dir, `state.${r}.tmp`);
    copyFileSync(texts[r % texts.length]!, next);
    const m = await measured(
      () =>
        new Promise<number>((resolve, reject) => {
          const started = performance.now();
          const done = (): void => {
            provider.events.removeHandler(ProviderEvents.ConfigurationChanged, done);
            provider.events.removeHandler(ProviderEvents.Error, failed);
            resolve(performance.now() - started);
          };
          const failed = (): void => {
            reject(new Error('the reload failed'));
          };
          provider.events.addHandler(ProviderEvents.ConfigurationChanged, done);
          provider.events.addHandler(ProviderEvents.Error, failed);
          renameSync(next, file);
        }),
    );
    swaps.push(m.result);
    maxMs = Math.max(maxMs, m.maxMs);
    p99Ms = Math.max(p99Ms, m.p99Ms);
    gapMs = Math.max(gapMs, m.gapMs);
  }
  const loaded = heldBytes();
  const rss = process.memoryUsage().rss;
  await provider.onClose();
  swaps.sort((a, b) => a - b);
  return {
    loadMaxMs: initial.maxMs,
    maxMs,
    p99Ms,
    gapMs,
    swapMs: swaps[Math.floor(swaps.length / 2)]!,
    heldMb: (loaded - before) / 2 ** 20,
    rssMb: (rss - rssBefore) / 2 ** 20,
  };
}

/** One row in a process of its own, so that rows share no heap, garbage or worker. */
function inChild(dir: string, rowName: 'main' | 'worker' | 'idle', swapMs: number): RowResult {
  const child = spawnSync(process.execPath, ['--expose-gc', process.argv[1]!, '--row', rowName, '--dir', dir, '--swap-ms', String(swapMs), ...(quick ? ['--quick'] : [])], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 20,
  });
  if (child.status !== 0) throw new Error(`row ${rowName} failed (${child.status}): ${child.stdout}`);
  return JSON.parse(child.stdout.trim().split('\n').pop()!) as RowResult;
}

const rowArg = arg('--row');
if (rowArg !== undefined) {
  const dir = arg('--dir')!;
  const result = rowArg === 'idle' ? await idle(Number(arg('--swap-ms'))) : await row(dir, rowArg === 'worker');
  console.log(JSON.stringify(result));
} else {
  const dir = mkdtempSync(join(tmpdir(), 'allot-reload-bench-'));
  try {
    console.log(`reload bench: ${RELOADS} reloads per row, each row in a process of its own; delays of the app's event loop (ms);`);
    console.log('swap = rename to PROVIDER_CONFIGURATION_CHANGED (median); held = heap + array buffers after gc, less the baseline; rss = growth');
    console.log('segments  path         state MB  initial max  reload max  reload p99  1ms-timer gap  swap ms  held MB  rss MB');
    for (const size of SIZES) {
      const text = stateText(size, 1);
      writeFileSync(join(dir, 'a.json'), text);
      writeFileSync(join(dir, 'b.json'), stateText(size, 2));
      const mb = (text.length / 2 ** 20).toFixed(1);
      let swapMs = 1_000;
      for (const [name, rowName] of [
        ['main thread', 'main'],
        ['worker', 'worker'],
        ['idle', 'idle'],
      ] as const) {
        const r = inChild(dir, rowName, swapMs);
        if (rowName === 'worker') swapMs = r.swapMs;
        console.log(
          `${String(size).padStart(8)}  ${name.padEnd(11)}  ${mb.padStart(8)}  ${r.loadMaxMs.toFixed(1).padStart(11)}  ${r.maxMs.toFixed(1).padStart(10)}  ${r.p99Ms.toFixed(1).padStart(10)}  ${r.gapMs.toFixed(1).padStart(13)}  ${r.swapMs.toFixed(0).padStart(7)}  ${r.heldMb.toFixed(0).padStart(7)}  ${r.rssMb.toFixed(0).padStart(6)}`,
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

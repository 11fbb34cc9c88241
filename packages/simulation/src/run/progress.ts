/** A one-line progress bar with rate and ETA, redrawn at most every 200 ms (for a terminal). */

export interface ProgressBar {
  update(done: number, total: number): void;
  finish(): void;
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--';
  const s = Math.round(seconds);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

export function progressBar(write: (text: string) => void, width = 30, now: () => number = () => performance.now()): ProgressBar {
  const started = now();
  let last = -Infinity;
  let drawn = false;
  return {
    update(done, total) {
      const t = now();
      if (t - last < 200 && done < total) return;
      last = t;
      const fraction = total === 0 ? 1 : done / total;
      const filled = Math.round(fraction * width);
      const rate = done / Math.max(1e-9, (t - started) / 1000);
      const eta = rate > 0 ? (total - done) / rate : Infinity;
      write(`\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(fraction * 100).toFixed(1).padStart(5)}%  ${Math.round(rate).toLocaleString('en-US')} contexts/s  ETA ${duration(eta)}  `);
      drawn = true;
    },
    finish() {
      if (drawn) write('\n');
    },
  };
}

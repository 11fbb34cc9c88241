/**
 * A range of units cut into chunks of CHUNK units that counting threads (the calling thread and
 * worker threads) take in turn through one counter in shared memory: whichever thread is free
 * takes the next chunk, so none waits on another's start or on a busy core. Each thread takes
 * its chunks in increasing order, so each keeps its first mismatch examples.
 */
import { CHUNK, type RangeJob } from './count-range.js';

export interface ChunkedJob extends RangeJob {
  /** One Int32 on a SharedArrayBuffer: the index of the next chunk to take. */
  readonly next: Int32Array;
}

export function chunkedJob(job: RangeJob): ChunkedJob {
  return { ...job, next: new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT)) };
}

/** Takes the next chunk: its units [from, to), or null when none is left. */
export function takeChunk(job: ChunkedJob): { from: number; to: number } | null {
  const from = job.start + Atomics.add(job.next, 0, 1) * CHUNK;
  return from < job.end ? { from, to: Math.min(job.end, from + CHUNK) } : null;
}

/** Whether a chunk is left to take. */
export function chunksLeft(job: ChunkedJob): boolean {
  return job.start + Atomics.load(job.next, 0) * CHUNK < job.end;
}

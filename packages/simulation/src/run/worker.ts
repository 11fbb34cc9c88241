/**
 * Worker thread entry: takes chunks of the job's units until none is left, posting progress
 * after each, then the tally. A worker that finds every chunk taken when it starts (a small
 * run, counted by the other threads meanwhile) prepares nothing.
 */
import { parentPort, workerData } from 'node:worker_threads';

import { StepLayout } from '../plan/layout.js';
import { RangeCounter } from './count-range.js';
import { chunksLeft, takeChunk, type ChunkedJob } from './chunks.js';
import { emptyTally } from './tally.js';

const job = workerData as ChunkedJob;
const port = parentPort!;
let tally = emptyTally(job.plan.steps.map((s) => new StepLayout(s).size));
if (chunksLeft(job)) {
  const counter = new RangeCounter(job);
  for (let chunk = takeChunk(job); chunk !== null; chunk = takeChunk(job)) {
    counter.count(chunk.from, chunk.to);
    port.postMessage({ type: 'progress', units: chunk.to - chunk.from });
  }
  tally = counter.tally();
}
port.postMessage({ type: 'done', tally });

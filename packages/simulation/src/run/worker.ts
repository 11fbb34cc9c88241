/** Worker thread entry: counts one range of units and posts progress, then the tally. */
import { parentPort, workerData } from 'node:worker_threads';

import { countRange, type RangeJob } from './count-range.js';

const job = workerData as RangeJob;
const port = parentPort!;
const tally = countRange(job, (units) => {
  port.postMessage({ type: 'progress', units });
});
port.postMessage({ type: 'done', tally });

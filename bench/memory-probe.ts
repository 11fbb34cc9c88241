/**
 * Preloaded into an `allot serve` child by `server-memory.bench.ts` (`node --expose-gc
 * --import memory-probe.js bin.js serve …`, with an IPC channel): on `{measure: true}` it
 * forces full collections and answers with `process.memoryUsage()`; on `{snapshot: PATH}`
 * it writes a heap snapshot there. The server itself gains no route: the probe lives only in
 * this bench's child process.
 */
import { writeHeapSnapshot } from 'node:v8';

interface ProbeRequest {
  readonly measure?: true;
  readonly snapshot?: string;
}

if (process.send !== undefined) {
  process.on('message', (message: ProbeRequest) => {
    if (message.snapshot !== undefined) {
      writeHeapSnapshot(message.snapshot);
      process.send!({ snapshot: message.snapshot });
      return;
    }
    // Twice: a weak reference or finalizer freed by the first is collected by the second.
    globalThis.gc?.();
    globalThis.gc?.();
    process.send!({ memory: process.memoryUsage() });
  });
  // The channel must not keep the server alive past its own shutdown.
  process.channel?.unref();
}

import { expect, it } from 'vitest';

import { READ_TURN_BYTES, readBody } from '../loading/byte-blocks.js';

it('lets the event loop turn while it reads a body that is there already, every READ_TURN_BYTES', async () => {
  const chunk = new Uint8Array(64 * 1024);
  let left = 64;
  // Every chunk is ready as soon as it is asked for, as when a socket has megabytes buffered:
  // `await reader.read()` alone would take them all in one turn of microtasks.
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (left-- > 0) controller.enqueue(chunk);
      else controller.close();
    },
  });
  let turns = 0;
  let reading = true;
  const tick = (): void => {
    turns++;
    if (reading) setImmediate(tick);
  };
  setImmediate(tick);
  let total = 0;
  await readBody(body, (c) => (total += c.byteLength));
  reading = false;
  expect(total).toBe(64 * chunk.byteLength);
  expect(turns).toBeGreaterThanOrEqual(total / READ_TURN_BYTES - 1);
});

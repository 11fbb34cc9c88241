import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';

import { eventBytes, WholeState } from './state-event.js';

/** The event as it was encoded whole, before states were written piece by piece. */
function encodedWhole(kind: 'state' | 'reset', id: string, text: string): Buffer {
  const trimmed = text.endsWith('\n') ? text.slice(0, -1) : text;
  return eventBytes(kind, id, `data: ${trimmed.replaceAll('\n', '\ndata: ')}`);
}

/** Ends the current job (a weak reference holds its target until then), then collects. */
async function collected(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 0));
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

/** Texts of lines: ASCII, newlines, and characters of 2, 3 and 4 UTF-8 bytes (surrogate pairs). */
const text = fc.array(fc.oneof(fc.constantFrom('\n', '{', ' ', 'é', '日', '😀', '\n  "a": 1,'), fc.string({ maxLength: 5 })), { maxLength: 60 }).map((parts) => parts.join(''));

describe('a whole state written piece by piece', () => {
  test.prop([fc.constantFrom('state' as const, 'reset' as const), fc.stringMatching(/^[0-9a-f]{1,12}$/), text, fc.integer({ min: 1, max: 40 })])(
    'is the bytes of the event encoded whole, and its size is counted exactly, whatever the piece size',
    (kind, id, t, chunk) => {
      const expected = encodedWhole(kind, id, t);
      const event = new WholeState(kind, id, t, chunk);
      const pieces = [...event.write()];
      expect(Buffer.concat(pieces).equals(expected)).toBe(true);
      expect(event.bytes).toBe(expected.length);
      // No piece ends with half of a surrogate pair (it would be written as U+FFFD).
      for (const p of pieces) expect(p.toString('utf8')).not.toContain('\ufffd');
    },
  );

  it('shares its pieces between writers at the same time, and lets them go once no writer holds them (keepMs 0)', async () => {
    const event = new WholeState('state', '7', `{\n${'  "x": 1,\n'.repeat(1000)}}\n`, 64, 0);
    const a = event.write();
    const b = event.write();
    const first = a.next().value;
    expect(b.next().value).toBe(first);
    const rest = [...a];
    expect([...b]).toEqual(rest);
    expect([...b].length).toBe(0);
    await collected();
    // Weakly held: a collection after the writers finished leaves nothing, and the next writer makes the same bytes again.
    const again = [...event.write()];
    expect(again[0]).not.toBe(first);
    expect(Buffer.concat(again).equals(Buffer.concat([first!, ...rest]))).toBe(true);
  });

  it('keeps its pieces for keepMs after a writer last started it, through collections, then lets them go', async () => {
    const event = new WholeState('state', '8', `{\n${'  "y": 2,\n'.repeat(1000)}}\n`, 64, 200);
    const first = new WeakRef([...event.write()][0]!);
    await collected();
    expect([...event.write()][0]).toBe(first.deref());
    await new Promise((resolve) => setTimeout(resolve, 300));
    await collected();
    expect(first.deref()).toBeUndefined();
  });
});

import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';

import { StateEventSplitter, type StateEventBytes } from './state-event-splitter.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Events as `allot serve` writes them, and others the SSE parser must still see. */
const arbEvent = fc.oneof(
  fc.record({ kind: fc.constantFrom('state', 'reset'), id: fc.stringMatching(/^[0-9a-f]{1,8}$/), data: fc.array(fc.string({ unit: 'binary' }).map((s) => s.replace(/[\r\n]/g, '')), { minLength: 1, maxLength: 4 }) }),
  fc.record({ kind: fc.constantFrom('delta', 'other'), id: fc.stringMatching(/^[0-9]{1,4}$/), data: fc.array(fc.string().map((s) => s.replace(/[\r\n]/g, '')), { minLength: 1, maxLength: 3 }) }),
  fc.constant({ kind: 'comment', id: '', data: ['heartbeat'] }),
);

function wire(e: { kind: string; id: string; data: readonly string[] }): string {
  if (e.kind === 'comment') return `: ${e.data[0]!}\n\n`;
  return `event: ${e.kind}\nid: ${e.id}\n${e.data.map((d) => `data: ${d}\n`).join('')}\n`;
}

describe('StateEventSplitter', () => {
  test.prop([fc.array(arbEvent, { maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 30 })])(
    'takes out every state and reset event whole, as bytes, and passes every other byte on in order, however the stream is cut',
    (events, cuts) => {
      const stream = encoder.encode(events.map(wire).join(''));
      let text = '';
      const taken: StateEventBytes[] = [];
      const splitter = new StateEventSplitter(
        (t) => (text += t),
        (e) => taken.push(e),
      );
      for (let at = 0, k = 0; at < stream.length; k++) {
        const size = cuts[k % cuts.length]!;
        splitter.feed(stream.slice(at, at + size));
        at += size;
      }
      const states = events.filter((e) => e.kind === 'state' || e.kind === 'reset');
      expect(taken.map((e) => ({ event: e.event, id: e.id, wire: decoder.decode(Buffer.concat(e.blocks)) }))).toEqual(states.map((e) => ({ event: e.kind, id: e.id, wire: wire(e) })));
      expect(text).toBe(events.filter((e) => !states.includes(e)).map(wire).join(''));
    },
  );
});

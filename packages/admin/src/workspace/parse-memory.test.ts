import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { describe, expect, it } from 'vitest';

import { newWorkspace } from './create.js';
import type { Workspace } from './model.js';
import { parseWorkspace } from './parse.js';
import { serializeWorkspace } from './serialize.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const MB = 2 ** 20;

function heapUsed(): number {
  // The last RegExp match keeps its subject (the document) until another one: move it on.
  /x/.exec('x');
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** A workspace parsed from a 40 MB document (a long comment), whose text is dropped on return. */
function parsedFromLargeText(): Workspace {
  const ws = newWorkspace({ account: 'memory', seed: 'seed', clientSecret: 'secret' });
  const text = `${serializeWorkspace({ ...ws, clients: ws.clients.map((c) => ({ ...c, displayName: 'A client with a long name' })) })}# ${'x'.repeat(40 * MB)}\n`;
  return parseWorkspace(text);
}

describe('parseWorkspace', () => {
  it('keeps nothing of the document text: a long value read from it is a copy, not a view of the text', () => {
    const before = heapUsed();
    const ws = parsedFromLargeText();
    const held = heapUsed() - before;
    expect(ws.clients[0]!.displayName).toBe('A client with a long name');
    expect(held / MB).toBeLessThan(10);
  });
});

import { describe, expect, it } from 'vitest';

import { AdminError } from '../errors.js';
import { newWorkspace } from '../workspace/create.js';
import { addVariant, createFlag } from './flags.js';

const ws = newWorkspace({ account: 'a', seed: 'flags', clientSecret: 's' });

function refusal(run: () => unknown): AdminError {
  try {
    run();
  } catch (error) {
    if (error instanceof AdminError) return error;
    throw error;
  }
  throw new Error('expected an AdminError');
}

describe('variant types', () => {
  it('refuses a flag whose variants mix types, naming the variant and the type it should have', () => {
    const e = refusal(() => createFlag(ws, { id: 'f', variants: [{ name: 'a', value: true }, { name: 'b', value: 'x' }] }));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.path).toBe('flags.f.variants.b');
    expect(e.message).toContain('the value "x" is a string, but variant "a" is a boolean');
  });

  it('tells objects, arrays and numbers apart', () => {
    expect(refusal(() => createFlag(ws, { id: 'f', variants: [{ name: 'a', value: { n: 1 } }, { name: 'b', value: [1] }] })).message).toContain('is an array, but variant "a" is an object');
    expect(refusal(() => createFlag(ws, { id: 'f', variants: [{ name: 'a', value: 1 }, { name: 'b', value: '1' }] })).message).toContain('is a string, but variant "a" is a number');
  });

  it('accepts variants of one type, and variants without a value (null) beside any type', () => {
    const flag = createFlag(ws, { id: 'f', variants: [{ name: 'off', value: null }, { name: 'small', value: { size: 1 } }, { name: 'big', value: { size: 3 } }] });
    expect(flag.result.variants.map((v) => v.name)).toEqual(['off', 'small', 'big']);
    expect(addVariant(flag.workspace, 'f', { name: 'none', value: null }).result.variants).toHaveLength(4);
  });

  it('refuses a variant of another type added later, leaving the flag as it was', () => {
    const flag = createFlag(ws, { id: 'f', variants: [{ name: 'on', value: true }] });
    const e = refusal(() => addVariant(flag.workspace, 'f', { name: 'blue', value: 'blue' }));
    expect(e.path).toBe('flags.f.variants.blue');
    expect(flag.workspace.flags[0]!.variants).toHaveLength(1);
  });
});

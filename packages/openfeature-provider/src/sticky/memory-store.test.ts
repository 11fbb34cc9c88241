import { describe, expect, it } from 'vitest';
import { MemoryStore } from './memory-store.js';

const key = { unit: 'u1', materialization: 'materializations/m' };

describe('MemoryStore', () => {
  it('keeps the first variant written for a rule', async () => {
    const store = new MemoryStore();
    await store.write([{ ...key, rule: 'r', variant: 'a' }]);
    await store.write([{ ...key, rule: 'r', variant: 'b' }, { ...key, rule: 'r2', variant: 'c' }]);
    expect(await store.read([key, { ...key, unit: 'u2' }])).toEqual([{ isUnitInMaterialization: true, ruleToVariant: { r: 'a', r2: 'c' } }, null]);
  });

  it('replaces a variant only when it is still the one the write replaces', async () => {
    const store = new MemoryStore();
    await store.write([{ ...key, rule: 'r', variant: 'gone' }]);
    await store.write([{ ...key, rule: 'r', variant: 'b', replaces: 'other' }]);
    expect(store.readSync([key])[0]?.ruleToVariant.r).toBe('gone');
    await store.write([{ ...key, rule: 'r', variant: 'b', replaces: 'gone' }]);
    expect(store.readSync([key])[0]?.ruleToVariant.r).toBe('b');
  });

  it('expires entries ttlMs after their last read, each read renewing them', async () => {
    let now = 0;
    const store = new MemoryStore({ ttlMs: 100, now: () => now });
    await store.write([{ ...key, rule: 'r', variant: 'a' }]);
    now = 90;
    expect(store.readSync([key])[0]).not.toBeNull();
    now = 180; // 90 after the read: still alive
    expect(store.readSync([key])[0]).not.toBeNull();
    now = 281;
    expect(store.readSync([key])[0]).toBeNull();
  });

  it('evicts the least recently used entries past maxEntries', async () => {
    const store = new MemoryStore({ maxEntries: 2 });
    const k = (unit: string): typeof key => ({ unit, materialization: 'm' });
    await store.write([{ ...k('a'), rule: 'r', variant: 'x' }, { ...k('b'), rule: 'r', variant: 'x' }]);
    store.readSync([k('a')]);
    await store.write([{ ...k('c'), rule: 'r', variant: 'x' }]);
    expect(store.size).toBe(2);
    expect(store.readSync([k('a'), k('b'), k('c')]).map((r) => r !== null)).toEqual([true, false, true]);
  });

  it('rejects nonsensical limits', () => {
    expect(() => new MemoryStore({ maxEntries: 0 })).toThrow(/maxEntries must be at least 1/);
    expect(() => new MemoryStore({ ttlMs: -1 })).toThrow(/ttlMs must be positive/);
  });
});

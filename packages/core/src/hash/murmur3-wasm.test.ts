import { describe, expect, it } from 'vitest';

import { MURMUR3_WASM } from './murmur3-wasm.js';

describe('the embedded WebAssembly hash', () => {
  it('is wasm/murmur3.wat as wasm/build.mjs compiles it (regenerate after editing the .wat)', async () => {
    const build = (await import(/* @vite-ignore */ new URL('../../wasm/build.mjs', import.meta.url).href)) as { compileWat(): Promise<string> };
    expect(MURMUR3_WASM).toBe(await build.compileWat());
  });
});

// Compiles murmur3.wat into src/hash/murmur3-wasm.ts (the module's bytes, base64), so that
// @allot/core ships no build step and no runtime dependency. Run after editing the .wat:
//   node packages/core/wasm/build.mjs        (murmur3-wasm.test.ts checks they agree)
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import wabtInit from 'wabt';

export async function compileWat() {
  const wabt = await wabtInit();
  const source = readFileSync(new URL('./murmur3.wat', import.meta.url), 'utf8');
  const module = wabt.parseWat('murmur3.wat', source);
  module.validate();
  const { buffer } = module.toBinary({});
  module.destroy();
  return Buffer.from(buffer).toString('base64');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const base64 = await compileWat();
  const out = new URL('../src/hash/murmur3-wasm.ts', import.meta.url);
  writeFileSync(
    out,
    `/** wasm/murmur3.wat compiled by wasm/build.mjs (do not edit; murmur3-wasm.test.ts checks it). */\nexport const MURMUR3_WASM = '${base64}';\n`,
  );
  console.log(`wrote ${fileURLToPath(out)} (${Buffer.from(base64, 'base64').length} bytes of WebAssembly)`);
}

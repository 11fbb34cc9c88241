// Builds the coordination map into ../dist/web: app.js (Preact + htm and the page's TypeScript, bundled
// and minified by esbuild), app.css and index.html copied. Run by scripts/setup.sh and the
// package's prepack; the server serves the result at /.
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'dist', 'web');
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(here, 'src', 'app.ts')],
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2020',
  legalComments: 'linked',
  outfile: join(out, 'app.js'),
  logLevel: 'warning',
});
for (const file of ['index.html', 'app.css']) copyFileSync(join(here, 'src', file), join(out, file));
process.stderr.write(`[web] coordination map built into ${out}\n`);

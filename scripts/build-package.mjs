#!/usr/bin/env node
/**
 * A package's publishable dual build. Usage: node scripts/build-package.mjs PKG_DIR...
 * (each package's `prepack` runs it). First `tsc -b PKG_DIR` writes (and type-checks) the ESM
 * build into `dist/`, as in the development loop; then this writes the CommonJS half into
 * `dist/cjs/`.
 *
 * Each published source file is transpiled by TypeScript itself (`transpileModule`, module
 * CommonJS) with one transform: `import.meta.url`, which CommonJS has no syntax for, becomes
 * the file URL of `__filename`. The declarations are the ESM build's own (the packages use
 * `isolatedDeclarations`, so they do not depend on the module format); under
 * `dist/cjs/package.json` `{"type": "commonjs"}` TypeScript reads them as CommonJS, which is
 * what a `require` of the package gets. Source and declaration maps point at `src/`, which
 * the packages publish.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';

import ts from 'typescript';

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

/** Whether a source file is part of the package's public build (tests and test-only helpers are not). */
function published(rel, exportsTesting) {
  if (rel.endsWith('.test.ts') || rel.endsWith('.d.ts') || !rel.endsWith('.ts')) return false;
  if (rel.startsWith('testing/')) return exportsTesting;
  return true;
}

function* walk(dir, base = dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(full, base);
    else yield relative(base, full).split('\\').join('/');
  }
}

/** `import.meta.url` → `require("node:url").pathToFileURL(__filename).href`; any other `import.meta` use fails the build. */
function importMetaToCommonJs(fileName) {
  return (context) => {
    const f = context.factory;
    const visit = (node) => {
      if (ts.isMetaProperty(node) && node.keywordToken === ts.SyntaxKind.ImportKeyword) {
        const parent = node.parent;
        if (!parent || !ts.isPropertyAccessExpression(parent) || parent.name.text !== 'url') {
          throw new Error(`${fileName}: only import.meta.url has a CommonJS equivalent in this build`);
        }
      }
      if (
        ts.isPropertyAccessExpression(node) &&
        ts.isMetaProperty(node.expression) &&
        node.expression.keywordToken === ts.SyntaxKind.ImportKeyword &&
        node.name.text === 'url'
      ) {
        const requireUrl = f.createCallExpression(f.createIdentifier('require'), undefined, [f.createStringLiteral('node:url')]);
        const toUrl = f.createCallExpression(f.createPropertyAccessExpression(requireUrl, 'pathToFileURL'), undefined, [
          f.createIdentifier('__filename'),
        ]);
        return f.createPropertyAccessExpression(toUrl, 'href');
      }
      return ts.visitEachChild(node, visit, context);
    };
    return (sourceFile) => ts.visitNode(sourceFile, visit);
  };
}

/** A map moved from `fromDir` to `toDir`: its `sources` re-pointed at the same files. */
function movedMap(text, fromDir, toDir, file) {
  const map = JSON.parse(text);
  map.file = file;
  map.sources = map.sources.map((s) => relative(toDir, resolve(fromDir, s)).split('\\').join('/'));
  return JSON.stringify(map);
}

/** Builds `pkgDir` (ESM with tsc -b, then CommonJS); returns the number of CommonJS modules. */
function buildPackage(pkgDir) {
  const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
  const exportsTesting = typeof pkg.exports === 'object' && pkg.exports !== null && './testing' in pkg.exports;
  execFileSync(process.execPath, [tsc, '-b', pkgDir], { stdio: 'inherit' });
  const src = join(pkgDir, 'src');
  const esm = join(pkgDir, 'dist');
  const cjs = join(pkgDir, 'dist', 'cjs');
  rmSync(cjs, { recursive: true, force: true });
  let count = 0;
  for (const rel of walk(src)) {
    if (!published(rel, exportsTesting)) continue;
    const base = rel.slice(0, -'.ts'.length);
    const srcFile = join(src, rel);
    const outJs = join(cjs, `${base}.js`);
    const outDir = dirname(outJs);
    mkdirSync(outDir, { recursive: true });
    const out = ts.transpileModule(readFileSync(srcFile, 'utf8'), {
      fileName: srcFile,
      reportDiagnostics: true,
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
        sourceMap: true,
        verbatimModuleSyntax: false,
      },
      transformers: { before: [importMetaToCommonJs(srcFile)] },
    });
    const errors = (out.diagnostics ?? []).filter((d) => d.category === ts.DiagnosticCategory.Error);
    if (errors.length > 0) {
      throw new Error(`${srcFile}: ${errors.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')).join('; ')}`);
    }
    writeFileSync(outJs, out.outputText);
    const jsMap = JSON.parse(out.sourceMapText);
    jsMap.file = `${base.split('/').pop()}.js`;
    jsMap.sources = [relative(outDir, srcFile).split('\\').join('/')];
    writeFileSync(`${outJs}.map`, JSON.stringify(jsMap));

    const dts = join(esm, `${base}.d.ts`);
    if (!existsSync(dts)) throw new Error(`${dts} is missing: tsc -b did not write it (is ${rel} in the package's tsconfig?)`);
    copyFileSync(dts, join(cjs, `${base}.d.ts`));
    if (existsSync(`${dts}.map`)) {
      writeFileSync(join(cjs, `${base}.d.ts.map`), movedMap(readFileSync(`${dts}.map`, 'utf8'), dirname(dts), outDir, `${base.split('/').pop()}.d.ts`));
    }
    count++;
  }
  writeFileSync(join(cjs, 'package.json'), `${JSON.stringify({ type: 'commonjs' }, null, 2)}\n`);
  return count;
}

const dirs = process.argv.slice(2);
if (dirs.length === 0) {
  process.stderr.write('usage: node scripts/build-package.mjs PKG_DIR...\n');
  process.exit(2);
}
for (const dir of dirs) {
  const n = buildPackage(resolve(dir));
  process.stderr.write(`[build-package] ${relative(process.cwd(), resolve(dir)) || '.'}: ${n} modules → dist/cjs\n`);
}

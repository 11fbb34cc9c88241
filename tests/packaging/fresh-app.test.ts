/**
 * The README's "Use it in your app", done as a new user would: every public package is packed
 * (`pnpm pack`, which runs each package's `prepack` build), a fresh app is made in a temporary
 * directory outside the checkout, the README's own install lines are run in it with each
 * `@allot/*` name replaced by its tarball, and the README's snippets run as ESM, as
 * CommonJS, and compiled by TypeScript under `node16` (a CommonJS package) and `bundler`.
 *
 * The registry has no `@allot/*` packages of ours, so the app's package.json `overrides`
 * send npm to the tarballs for the `@allot/*` packages that are only dependencies of what the
 * README installs; overrides add no dependency, so a package.json that forgets one still fails.
 * Third-party dependencies come from the npm registry (so does the app's `@types/node`).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
/** An ANSI colour escape (ESC [ … m), built from its code so the pattern holds no control character. */
const ANSI_COLOUR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  bin?: Record<string, string>;
  engines?: Record<string, string>;
  repository?: { url: string; directory: string };
  types?: string;
  license?: string;
  exports?: Record<string, unknown>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

const packageDirs = readdirSync(join(root, 'packages')).filter((d) => existsSync(join(root, 'packages', d, 'package.json')));
const manifests = new Map(packageDirs.map((d) => [d, JSON.parse(readFileSync(join(root, 'packages', d, 'package.json'), 'utf8')) as Manifest]));
const publicDirs = packageDirs.filter((d) => manifests.get(d)!.private !== true);

/**
 * npm and node as a user's shell runs them: none of pnpm's or vitest's settings, and above
 * all no NODE_PATH (pnpm sets one that would find the checkout's packages).
 */
const cleanEnv: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^(npm_|pnpm_|VITEST|NODE_OPTIONS$|NODE_PATH$)/i.test(k)),
);

function run(command: string, args: readonly string[], cwd: string, timeout = 180_000): string {
  try {
    return execFileSync(command, args, { cwd, env: cleanEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout });
  } catch (error) {
    const e = error as { status?: number; stdout?: string; stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} (in ${cwd}) failed with status ${e.status ?? '?'}:\n${e.stdout ?? ''}\n${e.stderr ?? e.message}`, { cause: error });
  }
}

/** The fenced block right after `<!-- readme-app:NAME -->` in the root README. */
function readmeBlock(name: string): string {
  const marker = `<!-- readme-app:${name} -->`;
  const at = readme.indexOf(marker);
  if (at === -1) throw new Error(`README.md has no ${marker}`);
  const match = /```[a-z]*\n([\s\S]*?)```/.exec(readme.slice(at));
  if (match === null) throw new Error(`README.md: no code block after ${marker}`);
  return match[1]!;
}

let work = '';
let app = '';
const tarballs = new Map<string, string>();

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'allot-fresh-app-'));
  const packs = join(work, 'packs');
  for (const dir of publicDirs) {
    const { name, version } = manifests.get(dir)!;
    run('pnpm', ['pack', '--pack-destination', packs], join(root, 'packages', dir));
    const tarball = join(packs, `${name.replace('@', '').replace('/', '-')}-${version}.tgz`);
    expect(existsSync(tarball), tarball).toBe(true);
    tarballs.set(name, tarball);
  }
  app = join(work, 'app');
  mkdirSync(app);
  // npm refuses an override for a package the app installs itself: overrides cover only the
  // @allot packages that what the README installs depends on.
  const installLines = readmeBlock('install');
  const direct = [...tarballs.keys()].filter((name) => installLines.includes(name));
  const needed = new Set<string>();
  const visit = (name: string): void => {
    const m = [...manifests.values()].find((x) => x.name === name)!;
    for (const dep of Object.keys(m.dependencies ?? {})) {
      if (tarballs.has(dep) && !needed.has(dep)) {
        needed.add(dep);
        visit(dep);
      }
    }
  };
  direct.forEach(visit);
  const overridden = [...needed].filter((name) => !direct.includes(name));
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({
      name: 'fresh-app',
      version: '1.0.0',
      private: true,
      type: 'commonjs',
      overrides: Object.fromEntries(overridden.map((name) => [name, `file:${tarballs.get(name)!}`])),
    }),
  );
  for (const line of readmeBlock('install').split('\n')) {
    if (line.trim() === '') continue;
    const command = line.startsWith('npm install')
      ? line.replace(/@allot\/[a-z-]+/g, (name) => {
          const tarball = tarballs.get(name);
          if (tarball === undefined) throw new Error(`README installs ${name}, which is not a public package`);
          return tarball;
        }) + ' --no-audit --no-fund'
      : line;
    run('bash', ['-c', command], app);
  }
  // A TypeScript app has Node's types (TypeScript itself is the checkout's); the public
  // libraries the README does not install are added so that each is loaded below.
  const rest = [...tarballs].filter(([name]) => !direct.includes(name) && !needed.has(name)).map(([, path]) => path);
  if (rest.length > 0) run('npm', ['install', '--no-audit', '--no-fund', ...rest], app);
  run('npm', ['install', '--save-dev', '--no-audit', '--no-fund', '@types/node@20'], app);
}, 480_000);

afterAll(() => {
  if (work !== '') rmSync(work, { recursive: true, force: true });
});

/** Unpacks a tarball into a new directory; returns the package's root in it. */
function unpack(tarball: string): string {
  const dir = mkdtempSync(join(work, 'unpacked-'));
  run('tar', ['xzf', tarball, '-C', dir], dir);
  return join(dir, 'package');
}

function* files(dir: string, base = dir): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(full, base);
    else yield relative(base, full).split('\\').join('/');
  }
}

/** The package a bare specifier names (`@scope/name/sub` → `@scope/name`). */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

/** `dist/cjs/x/y.js`, `dist/x/y.d.ts` → `dist/cjs/x/y`, `dist/x/y`: one id per module and build. */
function moduleId(path: string): string | null {
  const match = /^(.*?)(\.d)?\.(c|m)?(js|ts)$/.exec(path);
  return match === null ? null : match[1]!;
}

/**
 * Shipped files that are test helpers: named `*.test.*` or `testing-*`, or a compiled module
 * (or its source) that no entry point (the exports map's targets, `bin`) reaches through
 * relative imports. A `testing` entry point in the exports map (`@allot/simulation/testing`)
 * is public API, and so is every module it imports.
 */
function testHelpers(pkg: string, shipped: readonly string[], m: Manifest, source: string): string[] {
  const leaves = (v: unknown): string[] => (typeof v === 'string' ? [v] : v !== null && typeof v === 'object' ? Object.values(v).flatMap(leaves) : []);
  const entries = [...leaves(m.exports ?? {}), ...Object.values(m.bin ?? {})].filter((p) => !p.endsWith('package.json')).map((p) => p.replace(/^\.\//, ''));
  const reached = new Set<string>();
  const queue = entries.map(moduleId).filter((id): id is string => id !== null);
  while (queue.length > 0) {
    const id = queue.pop()!;
    if (reached.has(id)) continue;
    reached.add(id);
    for (const file of shipped.filter((f) => moduleId(f) === id && !f.endsWith('.map'))) {
      const text = readFileSync(join(pkg, file), 'utf8');
      // Imports, and modules started by URL (a worker thread's `new URL('./worker.js', import.meta.url)`).
      for (const match of text.matchAll(/(?:from |import\(|require\(|new URL\()\s*['"](\.{1,2}\/[^'"]*)['"]/g)) {
        const target = relative(pkg, resolve(pkg, dirname(file), match[1]!)).split('\\').join('/');
        const asFile = moduleId(target) ?? target;
        queue.push(shipped.some((f) => moduleId(f) === asFile) ? asFile : `${target}/index`);
      }
    }
  }
  /** The module a shipped file compiles from (`dist/cjs/a/b.js` → `a/b`), when its source is in the package's src. */
  const compiledFrom = (f: string): string | null => {
    const match = /^(?:dist\/cjs|dist)\/(.+?)(?:\.d)?\.(?:c|m)?js(?:\.map)?$|^(?:dist\/cjs|dist)\/(.+?)\.d\.ts(?:\.map)?$/.exec(f);
    const rel = match?.[1] ?? match?.[2];
    return rel !== undefined && existsSync(join(source, 'src', `${rel}.ts`)) ? rel : null;
  };
  const reachedSources = new Set([...reached].map((id) => compiledFrom(`${id}.js`)).filter((rel): rel is string => rel !== null));
  return shipped.filter((f) => {
    if (/\.test\./.test(f)) return true;
    const srcMatch = /^src\/(.+)\.ts$/.exec(f);
    const rel = srcMatch !== null ? srcMatch[1]! : compiledFrom(f);
    if (rel === null) return /(^|\/)testing-[^/]*$/.test(f);
    return !reachedSources.has(rel);
  });
}

describe('the packed packages', { timeout: 120_000 }, () => {
  it.each(publicDirs)('%s: LICENSE, README, CHANGELOG, metadata; no tests, test helpers or build info', (dir) => {
    const m = manifests.get(dir)!;
    const pkg = unpack(tarballs.get(m.name)!);
    const shipped = [...files(pkg)];
    expect(shipped).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'CHANGELOG.md', 'package.json']));
    expect(readFileSync(join(pkg, 'LICENSE'), 'utf8')).toContain('Apache License\n                           Version 2.0, January 2004');
    expect(shipped.filter((f) => /\.test\.|\.tsbuildinfo$|(^|\/)testing\//.test(f) && !(m.exports?.['./testing'] !== undefined && /^(dist|dist\/cjs|src)\/testing\//.test(f)))).toEqual([]);
    const published = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as Manifest;
    expect(published.license).toBe('Apache-2.0');
    expect(published.engines?.node).toMatch(/^>=20/);
    expect(published.repository?.directory).toBe(`packages/${dir}`);
    expect(published.types !== undefined && shipped.includes(published.types.replace('./', ''))).toBe(true);
    expect(JSON.stringify(published)).not.toContain('workspace:');
  });

  it.each(publicDirs)('%s: ships no test helper: every module is a public entry point or imported by one', (dir) => {
    const m = manifests.get(dir)!;
    const pkg = unpack(tarballs.get(m.name)!);
    const shipped = [...files(pkg)];
    const helpers = testHelpers(pkg, shipped, m, join(root, 'packages', dir));
    expect(helpers, 'a test helper is named *.test.* or testing-*, or is a module no entry point of the exports map (or bin) imports; leave it out with a "!" pattern in "files"').toEqual([]);
  });

  it.each(publicDirs)('%s: every source map points at a shipped source', (dir) => {
    const pkg = unpack(tarballs.get(manifests.get(dir)!.name)!);
    const missing: string[] = [];
    for (const f of files(pkg)) {
      if (!f.endsWith('.map')) continue;
      const map = JSON.parse(readFileSync(join(pkg, f), 'utf8')) as { sources: string[] };
      for (const s of map.sources) if (!existsSync(resolve(pkg, dirname(f), s))) missing.push(`${f} → ${s}`);
    }
    expect(missing).toEqual([]);
  });

  it.each(publicDirs)('%s: every module it imports is Node, itself, or a declared dependency', (dir) => {
    const m = manifests.get(dir)!;
    const pkg = unpack(tarballs.get(m.name)!);
    const published = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as Manifest;
    const declared = new Set([m.name, ...Object.keys(published.dependencies ?? {}), ...Object.keys(published.peerDependencies ?? {})]);
    const builtins = new Set(builtinModules);
    const undeclared: string[] = [];
    for (const f of files(pkg)) {
      if (!/\.(js|d\.ts)$/.test(f)) continue;
      const text = readFileSync(join(pkg, f), 'utf8');
      for (const match of text.matchAll(/(?:from |import\(|require\()\s*['"]([^'"./][^'"]*)['"]/g)) {
        const spec = match[1]!;
        if (spec.startsWith('node:') || builtins.has(spec) || declared.has(packageOf(spec))) continue;
        undeclared.push(`${f}: ${spec}`);
      }
    }
    expect(undeclared).toEqual([]);
  });
});

describe("the README's app, installed from the tarballs", { timeout: 180_000 }, () => {
  it('has one copy of @openfeature/server-sdk, the one the provider loads', () => {
    const copies = [...files(join(app, 'node_modules'))].filter((f) => f.endsWith('@openfeature/server-sdk/package.json'));
    expect(copies).toEqual(['@openfeature/server-sdk/package.json']);
    const fromProvider = run(
      'node',
      ['-e', `console.log(require.resolve('@openfeature/server-sdk', { paths: [require('path').dirname(require.resolve('@allot/openfeature-provider'))] }))`],
      app,
    );
    expect(fromProvider.trim()).toBe(run('node', ['-p', `require.resolve('@openfeature/server-sdk')`], app).trim());
  });

  it('runs the ESM snippet', () => {
    writeFileSync(join(app, 'snippet.mjs'), readmeBlock('esm'));
    expect(run('node', ['snippet.mjs'], app)).toBe('search-ranking: true\n');
  });

  it('runs the CommonJS snippet', () => {
    writeFileSync(join(app, 'snippet.cjs'), readmeBlock('cjs'));
    expect(run('node', ['snippet.cjs'], app)).toBe('search-ranking: true\n');
  });

  it('compiles the snippet as TypeScript under node16 in a CommonJS package, and runs it', () => {
    mkdirSync(join(app, 'ts-node16'), { recursive: true });
    writeFileSync(join(app, 'ts-node16', 'app.ts'), readmeBlock('esm'));
    writeFileSync(
      join(app, 'ts-node16', 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'node16', moduleResolution: 'node16', target: 'es2022', strict: true, outDir: 'out', types: ['node'] }, files: ['app.ts'] }),
    );
    run('node', [tsc, '-p', 'ts-node16'], app);
    const emitted = readFileSync(join(app, 'ts-node16', 'out', 'app.js'), 'utf8');
    expect(emitted).toContain('require("@allot/openfeature-provider")');
    expect(run('node', ['ts-node16/out/app.js'], app)).toBe('search-ranking: true\n');
  });

  it('compiles the snippet as TypeScript under bundler resolution (ESM), and runs it', () => {
    mkdirSync(join(app, 'ts-bundler'), { recursive: true });
    writeFileSync(join(app, 'ts-bundler', 'package.json'), JSON.stringify({ type: 'module' }));
    writeFileSync(join(app, 'ts-bundler', 'app.ts'), readmeBlock('esm'));
    writeFileSync(
      join(app, 'ts-bundler', 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'esnext', moduleResolution: 'bundler', target: 'es2022', strict: true, outDir: 'out', types: ['node'] }, files: ['app.ts'] }),
    );
    run('node', [tsc, '-p', 'ts-bundler'], app);
    expect(run('node', ['ts-bundler/out/app.js'], app)).toBe('search-ranking: true\n');
  });

  it('loads every library with require and with import', () => {
    const libraries = publicDirs.map((d) => manifests.get(d)!).filter((m) => m.bin === undefined);
    for (const { name } of libraries) {
      expect(run('node', ['-e', `console.log(typeof require(${JSON.stringify(name)}))`], app), name).toBe('object\n');
      expect(run('node', ['--input-type=module', '-e', `console.log(typeof (await import(${JSON.stringify(name)})))`], app), name).toBe('object\n');
    }
  });

  it("watches allot serve: the server announces whole states to a client that asks, and the provider applies the state and then a pushed change", async () => {
    // The installed bin itself (not through npx), so that the signal at the end reaches the server.
    const server = spawn(join(app, 'node_modules', '.bin', 'allot'), ['serve', '--workspace', 'allot.yaml', '--port', '0'], { cwd: app, env: cleanEnv, stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        server.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString('utf8');
          const m = /listening on (http:\/\/\S+)/.exec(out);
          if (m !== null) resolve(m[1]!);
        });
        server.on('exit', (code) => {
          reject(new Error(`allot serve exited (${String(code)}) before listening:\n${out}`));
        });
      });
      // A client that asks for announcements gets one in place of the current state.
      const watch = await fetch(`${url}/v1/state:watch`, { headers: { 'allot-whole-state': 'fetch' } });
      const reader = watch.body!.getReader();
      let first = '';
      while (!first.includes('\n\n')) first += new TextDecoder().decode((await reader.read()).value);
      await reader.cancel();
      expect(first).toMatch(/^event: fetch\nid: \S+\ndata: \{"whole":"state"\}\n\n/);
      // The provider from the tarballs: the state, then a change made with the CLI, pushed as a delta.
      writeFileSync(
        join(app, 'watch.mjs'),
        `import { execFileSync, spawn } from 'node:child_process';
import { ProviderEvents } from '@openfeature/server-sdk';
import { AllotProvider, watchSource } from '@allot/openfeature-provider';
const applied = [];
const provider = new AllotProvider({ source: watchSource([process.argv[2]], { onApply: (a) => applied.push(a.via + (a.delta ? ' delta' : '')) }) });
await provider.initialize();
const value = async () => (await provider.resolveBooleanEvaluation('search-ranking', false, { targetingKey: 'user-42', country: 'SE' })).value;
console.log('first', await value());
const changed = new Promise((resolve) => provider.events.addHandler(ProviderEvents.ConfigurationChanged, resolve));
await new Promise((resolve) => setTimeout(resolve, 500));
execFileSync('npx', ['allot', 'flags', 'disable-rule', 'search-ranking', 'rule-1', '--workspace', 'allot.yaml']);
await changed;
console.log('then', await value(), applied.join(', '));
await provider.onClose();
`,
      );
      try {
        expect(run('node', ['watch.mjs', url], app, 60_000)).toBe('first true\nthen false poll, stream delta\n');
      } finally {
        run('npx', ['allot', 'flags', 'enable-rule', 'search-ranking', 'rule-1', '--workspace', 'allot.yaml'], app);
      }
    } finally {
      server.kill('SIGTERM');
    }
  });

  it('runs the allot command with clean stdout: --version, compile, resolve piped as JSON', () => {
    const cli = manifests.get('cli')!;
    expect(run('npx', ['allot', '--version'], app)).toBe(`${cli.version}\n`);
    run('npx', ['allot', 'compile', '--workspace', 'allot.yaml', '--out', 'state.json'], app);
    const out = run('npx', ['allot', 'resolve', '--state', 'state.json', '--flag', 'search-ranking', '--context', '{"targeting_key":"user-42","country":"SE"}'], app);
    expect(JSON.parse(out)).toMatchObject({ resolvedFlags: [{ flag: 'flags/search-ranking', value: true }] });
  });
});

/**
 * `assertClaims` in a user's own suite: the example after `<!-- assert-claims-example -->` in
 * @allot/simulation's README, type-checked and run by vitest with @fast-check/vitest in a
 * fresh ESM app that installs the packed simulation, admin and core (the packing above).
 */
describe("@allot/simulation/testing's assertClaims in a fresh app's vitest suite", { timeout: 300_000 }, () => {
  it('type-checks and passes the README example, whose property catches a forgotten exclusivity tag', () => {
    const simulationReadme = readFileSync(join(root, 'packages', 'simulation', 'README.md'), 'utf8');
    const at = simulationReadme.indexOf('<!-- assert-claims-example -->');
    expect(at, 'packages/simulation/README.md has no <!-- assert-claims-example --> marker').toBeGreaterThan(-1);
    const example = /```ts\n([\s\S]*?)```/.exec(simulationReadme.slice(at))![1]!;
    const claimsApp = join(work, 'claims-app');
    mkdirSync(join(claimsApp, 'test'), { recursive: true });
    writeFileSync(join(claimsApp, 'package.json'), JSON.stringify({ name: 'claims-app', version: '1.0.0', private: true, type: 'module' }));
    const own = ['@allot/core', '@allot/admin', '@allot/simulation'].map((name) => tarballs.get(name)!);
    run('npm', ['install', '--save-dev', '--no-audit', '--no-fund', ...own, 'vitest@^4.1.12', '@fast-check/vitest@^0.5.0', 'fast-check@^4.10.2', '@types/node@20'], claimsApp, 300_000);
    writeFileSync(join(claimsApp, 'test', 'claims.test.ts'), example);
    writeFileSync(
      join(claimsApp, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'esnext', moduleResolution: 'bundler', target: 'es2022', strict: true, noEmit: true, skipLibCheck: true, types: ['node'] }, include: ['test'] }),
    );
    run('node', [tsc, '-p', '.'], claimsApp);
    // Without colours, whatever the terminal: the counts are read from the text.
    const out = run('npx', ['vitest', 'run', '--reporter=verbose'], claimsApp, 240_000).replace(ANSI_COLOUR, '');
    for (const name of ['tagged ranking experiments never share a user', 'a forgotten exclusivity tag fails the exclusive claim', 'the employees override decides for employees once it exists']) {
      expect(out).toContain(name);
    }
    expect(out).toMatch(/Tests\s+3 passed \(3\)/);
  });
});

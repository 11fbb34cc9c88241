/**
 * Locating `../shared/` (beside the checkout) for tests that use data kept there. On a
 * clone without it those tests skip, saying so.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is packages/core/src/testing/shared.ts or its dist twin). */
export const repoRoot: string = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

/** `../shared` beside the checkout, or null when this clone has none. */
export const sharedDir: string | null = ((): string | null => {
  const dir = join(repoRoot, '..', 'shared');
  return existsSync(join(dir, 'conformance')) ? dir : null;
})();

export const sharedMissing = 'skipped: ../shared (beside the checkout) is not present on this clone';

export function readShared(relative: string): unknown {
  if (sharedDir === null) throw new Error(sharedMissing);
  return JSON.parse(readFileSync(join(sharedDir, relative), 'utf8'));
}

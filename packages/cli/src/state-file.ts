/** Reading a resolver state file for the commands that take `--state`. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

import { loadState, StateError, type ResolverState } from '@allot/core';

import { CliError } from './cli-error.js';

export function readJsonFile(path: string, cwd: string, what: string): unknown {
  const full = resolve(cwd, path);
  let text: string;
  try {
    text = readFileSync(full, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CliError(`${what} ${path} is not valid JSON: ${(error as Error).message}`);
  }
}

export function readStateFile(path: string, cwd: string, accountId?: string): ResolverState {
  const json = readJsonFile(path, cwd, 'state');
  try {
    return loadState(json, accountId === undefined ? {} : { accountId });
  } catch (error) {
    if (error instanceof StateError) throw new CliError(`${path}: ${error.message}`, 1);
    throw error;
  }
}

import type { Command } from '../command.js';
import { conformance } from './conformance.js';
import { demo } from './demo.js';
import { resolve } from './resolve.js';
import { validate } from './validate.js';

/** Every `allot` command, in the order `allot help` lists them. */
export const commands: readonly Command[] = [resolve, validate, conformance, demo];

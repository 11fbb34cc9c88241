import type { Command } from '../command.js';
import { compile } from './compile.js';
import { conformance } from './conformance.js';
import { demo } from './demo.js';
import { diff } from './diff.js';
import { flags } from './flags.js';
import { groups } from './groups.js';
import { resolve } from './resolve.js';
import { segments } from './segments.js';
import { serve } from './serve.js';
import { simulate } from './simulate.js';
import { validate } from './validate.js';

/** Every `allot` command, in the order `allot help` lists them. */
export const commands: readonly Command[] = [
  resolve,
  validate,
  conformance,
  demo,
  segments,
  flags,
  groups,
  compile,
  diff,
  simulate,
  serve,
];

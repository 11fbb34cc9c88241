#!/usr/bin/env node
import { processIo } from './io.js';
import { main } from './main.js';

// A reader that stops early (`allot segments list | head`) closes the pipe: that is not an
// error of ours, so exit quietly (status 0) instead of dying with an EPIPE stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

main(process.argv.slice(2), processIo).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`allot: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 70;
  },
);

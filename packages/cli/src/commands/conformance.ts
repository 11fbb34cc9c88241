import { runConformance, type ConformanceCase } from '@allot/core';

import { parse, requireString, optionalString } from '../args.js';
import { CliError } from '../cli-error.js';
import type { Command } from '../command.js';
import { readJsonFile, readStateFile } from '../state-file.js';

const usage = 'allot conformance --state STATE.json --tests TESTS.json [--account ID] [--verbose]';

export const conformance: Command = {
  name: 'conformance',
  usage,
  run(argv, io) {
    const args = parse('conformance', argv, { state: { type: 'string' }, tests: { type: 'string' }, account: { type: 'string' }, verbose: { type: 'boolean' } }, usage);
    const state = readStateFile(requireString(args, 'state', usage), io.cwd, optionalString(args, 'account'));
    const testsPath = requireString(args, 'tests', usage);
    const cases = readJsonFile(testsPath, io.cwd, 'tests');
    if (!Array.isArray(cases)) throw new CliError(`${testsPath}: expected a list of cases`);
    const results = runConformance(state, cases as ConformanceCase[]);
    let passed = 0;
    let failed = 0;
    for (const r of results) {
      if (r.passed) {
        passed++;
        if (args.values.verbose === true) io.out(`ok   ${r.name}`);
        continue;
      }
      failed++;
      io.out(`FAIL ${r.name}`);
      for (const d of r.differences) io.out(`     ${d}`);
      io.out(`     expected: ${JSON.stringify(r.expected)}`);
      io.out(`     actual:   ${JSON.stringify(r.actual)}`);
    }
    // The suite records where Confidence's Rust build answers otherwise; allot is held to the
    // general expectation there too (@allot/core's README, "Compatibility with Confidence").
    const rustSpecific = results.filter((r, i) => (cases[i] as ConformanceCase).expectedResult.rust !== undefined);
    if (rustSpecific.length > 0) {
      const met = rustSpecific.filter((r) => r.passed).length;
      io.out(
        `checked against each case's general expectation; ${rustSpecific.length} of the cases also record a Rust-specific one ` +
          `(Confidence's WebAssembly build answers those), not followed: the general one was met in ${met} of them`,
      );
    }
    io.out(`${passed} passed, ${failed} failed`);
    return failed === 0 ? 0 : 1;
  },
};

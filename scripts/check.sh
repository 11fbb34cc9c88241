#!/usr/bin/env bash
# Every check: typecheck (tsc -b), lint, and the test suite. Prints, last, one line
# "N passed, N failed" counting each test plus the typecheck and lint steps.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p reports

passed=0
failed=0
step() {
  local name=$1
  shift
  printf '\n== %s\n' "$name"
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); printf '== %s FAILED\n' "$name"; fi
}

step typecheck pnpm exec tsc -b
step lint pnpm exec eslint . --max-warnings 0

printf '\n== tests\n'
rm -f reports/vitest.json
pnpm exec vitest run --reporter=default --reporter=json --outputFile.json=reports/vitest.json
vitest_status=$?
if [ -f reports/vitest.json ]; then
  read -r tp tf ts < <(node -e '
    const r = JSON.parse(require("fs").readFileSync("reports/vitest.json", "utf8"));
    const failedSuites = (r.testResults || []).filter((s) => s.status === "failed" && (s.assertionResults || []).length === 0).length;
    console.log(r.numPassedTests, r.numFailedTests + failedSuites, r.numPendingTests + r.numTodoTests);')
  passed=$((passed + tp))
  failed=$((failed + tf))
  skipped=$ts
  if [ "$vitest_status" -ne 0 ] && [ "$tf" -eq 0 ]; then failed=$((failed + 1)); fi
else
  failed=$((failed + 1))
  skipped=0
fi

printf '\n%d passed, %d failed, %d skipped\n' "$passed" "$failed" "$skipped"
[ "$failed" -eq 0 ]

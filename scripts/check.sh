#!/usr/bin/env bash
# Every check: typecheck (tsc -b), lint, and the test suite (in two vitest runs: everything
# but the packaging test, then the packaging test). Prints, last, one line
# "N passed, N failed, N skipped" counting each test plus the typecheck and lint steps.
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

skipped=0
# One vitest run; its tests count one each (a suite that failed to load counts as a failure).
tests() {
  local name=$1
  shift
  local json="reports/vitest-$name.json"
  printf '\n== tests: %s\n' "$name"
  rm -f "$json"
  pnpm exec vitest run --reporter=default --reporter=json --outputFile.json="$json" "$@"
  local status=$?
  if [ ! -f "$json" ]; then
    failed=$((failed + 1))
    return
  fi
  local tp tf ts
  read -r tp tf ts < <(node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const failedSuites = (r.testResults || []).filter((s) => s.status === "failed" && (s.assertionResults || []).length === 0).length;
    console.log(r.numPassedTests, r.numFailedTests + failedSuites, r.numPendingTests + r.numTodoTests);' "$json")
  passed=$((passed + tp))
  failed=$((failed + tf))
  skipped=$((skipped + ts))
  if [ "$status" -ne 0 ] && [ "$tf" -eq 0 ]; then failed=$((failed + 1)); fi
}

# The packaging test (pack, install into a fresh app, run the README's snippets) runs npm and
# tsc: it runs on its own, after the rest, so that its load does not slow the other tests.
tests suite --exclude 'tests/packaging/**'
tests packaging tests/packaging

printf '\n%d passed, %d failed, %d skipped\n' "$passed" "$failed" "$skipped"
[ "$failed" -eq 0 ]

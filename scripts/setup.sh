#!/usr/bin/env bash
# One-time (idempotent) set-up on a machine that has only Node 20 and npm:
# pnpm, the workspace's dependencies, system packages the tests need, and a build.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }

if ! command -v pnpm >/dev/null 2>&1; then
  log "installing pnpm 10 with npm"
  npm install --global --no-fund --no-audit pnpm@10 >/dev/null 2>&1 ||
    npm install --global --no-fund --no-audit --prefix "$HOME/.local" pnpm@10 >/dev/null
  export PATH="$HOME/.local/bin:$PATH"
fi

# System packages some tests need (installed only when missing).
bash scripts/system-deps.sh

if [ -f pnpm-lock.yaml ]; then
  pnpm install --frozen-lockfile --reporter=silent
else
  pnpm install --reporter=silent
fi

# The coordination map's page (@allot/server serves it at /): bundled by esbuild, well under a second.
node packages/server/web/build.mjs

# `--no-build` when the caller builds itself (scripts/check.sh counts the build as a check).
if [ "${1:-}" != "--no-build" ]; then
  log "building (tsc -b)"
  pnpm exec tsc -b
fi

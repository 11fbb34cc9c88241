#!/usr/bin/env bash
# Debian packages the test suite uses. Each is installed only when missing; on a machine
# without apt (or without root) the tests that need them skip with a message saying so.
set -uo pipefail

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# Debian keeps PostgreSQL's server programs off the PATH, in /usr/lib/postgresql/VERSION/bin.
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then need+=(postgresql-15); fi

[ ${#need[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
  printf '[setup] cannot install %s (no apt-get or not root); tests that need them will skip\n' "${need[*]}" >&2
  exit 0
fi
printf '[setup] installing Debian packages: %s\n' "${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || true
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 ||
  printf '[setup] apt-get install %s failed; tests that need them will skip\n' "${need[*]}" >&2
# The package starts a system service on install in some images; our tests start their own.
service redis-server stop >/dev/null 2>&1 || true
service postgresql stop >/dev/null 2>&1 || true
exit 0

#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian machine. As root it installs what the tests
# need from Debian (Chromium for the browser tests, redis-server and redis-sentinel for the Redis store tests), then the npm packages, then builds.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-sentinel >/dev/null 2>&1 || missing+=(redis-sentinel)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "test.sh: ${missing[*]} missing; run as root or install: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

npm ci --no-audit --no-fund
npm run build
npx vitest run

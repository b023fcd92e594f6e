#!/usr/bin/env bash
# ctest entry of the browser test: installs the pinned playwright-core
# (package-lock.json; no browser download, Debian's chromium is used) on
# first use, then runs webapp_test.mjs with the given arguments.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -d "$here/node_modules/playwright-core" ]; then
  (cd "$here" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi
exec node "$here/webapp_test.mjs" "$@"

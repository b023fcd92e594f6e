#!/usr/bin/env bash
# Validates docs/openapi.json with swagger-cli (npm @apidevtools/swagger-cli,
# pinned in package-lock.json), installing it on first use. Run by ctest
# (openapi_validate).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
spec=${1:-$here/../../docs/openapi.json}
if [ ! -x "$here/node_modules/.bin/swagger-cli" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
"$here/node_modules/.bin/swagger-cli" validate "$spec"

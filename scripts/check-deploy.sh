#!/usr/bin/env bash
# Static validation of the container deployment (no Docker engine, no network):
# docker-compose.yml through Debian's `docker-compose config`, the Dockerfile's
# build stage against the setup script and cmake commands CI uses, and the
# runtime stage's package list against the libraries a built binary links.
#
#   scripts/check-deploy.sh [--binary build/photo-pipeline]
#
# Default binary: build/photo-pipeline when it exists (else that part is
# skipped). Registered in ctest as `check_deploy` (label deploy) with the
# build tree's binary. The checks themselves: deploy/check_deploy.py.
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian's interpreter: PyYAML comes from python3-yaml (a docker-compose dependency).
exec /usr/bin/python3 deploy/check_deploy.py --root "$PWD" "$@"

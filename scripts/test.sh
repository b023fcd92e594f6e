#!/usr/bin/env bash
# Runs every test: installs what is missing, builds the sanitizer (ASan+UBSan)
# unit tests and the release build, then runs ctest on both. Integration tests
# start their own RabbitMQ node (and PostgreSQL) on loopback through ctest
# fixtures, and stop them by PID. Ends with ctest's own summary.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}

./scripts/setup.sh

if [ "${PHOTO_SKIP_ASAN:-0}" != 1 ]; then
  echo "== ASan+UBSan unit tests"
  cmake --preset asan >/dev/null
  cmake --build --preset asan -j "$JOBS" --target photo_unit_tests
  ctest --preset asan -j "$JOBS" --timeout 600
fi

# A short libFuzzer run of every fuzz target (clang, ASan+UBSan); any crash
# fails CI. Longer runs: ./scripts/fuzz.sh [SECONDS] (docs/FUZZING.md).
if [ "${PHOTO_SKIP_FUZZ:-0}" != 1 ]; then
  echo "== Fuzz smoke"
  ./scripts/fuzz.sh "${PHOTO_FUZZ_SECONDS:-30}"
fi

echo "== Release build: all tests"
cmake --preset release >/dev/null
cmake --build --preset release -j "$JOBS"
ctest --preset release -j 1 --timeout 1200

#!/usr/bin/env bash
# Builds the libFuzzer targets (clang 14, ASan+UBSan; docs/FUZZING.md), writes
# the seed corpora and fuzzes each target for SECONDS.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     TARGET: probe, multipart (default: both)
#
# SECONDS defaults to $PHOTO_FUZZ_SECONDS, else 300 (CI runs 30). Targets run
# one after the other (libFuzzer uses one core; the multipart target's server
# uses the other). Everything lands under var/fuzz/ (PHOTO_FUZZ_OUT):
#   seeds/<target>/    rewritten every run by fuzz_make_corpus (never committed)
#   corpus/<target>/   what libFuzzer kept; grows across runs (delete to start over)
#   crashes/<target>/  crash-*, leak-*, timeout-*, oom-* reproducers
#   logs/<target>.log  the full libFuzzer output
# Exit status: 0 when no target failed; 1 otherwise (reproducers are listed).
# Reproduce one: build/fuzz/fuzz/fuzz_<target> var/fuzz/crashes/<target>/crash-...
# PHOTO_FUZZ_COVERAGE=1 adds per-source-file coverage of src/ to the summary.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

SECS=${PHOTO_FUZZ_SECONDS:-300}
if [ $# -gt 0 ]; then
  SECS=$1
  shift
fi
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(probe multipart)
BUILD=${PHOTO_FUZZ_BUILD_DIR:-build/fuzz}
OUT=${PHOTO_FUZZ_OUT:-var/fuzz}
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
case "$OUT" in /*) ;; *) OUT=$ROOT/$OUT ;; esac
JOBS=${JOBS:-$(nproc)}

build_targets=(fuzz_make_corpus)
for t in "${TARGETS[@]}"; do
  t=${t#fuzz_}
  case "$t" in
    probe | multipart) build_targets+=("fuzz_$t") ;;
    *) echo "fuzz.sh: unknown target '$t' (probe, multipart)" >&2; exit 2 ;;
  esac
done

start=$(date +%s)
echo "== fuzz: build (${build_targets[*]}) in $BUILD"
# No -Werror here: clang warns about a few things GCC does not (the presets'
# -Werror builds use GCC); the fuzz build is for findings, not for lint.
CC=clang CXX=clang++ cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPHOTO_BUILD_FUZZERS=ON -DPHOTO_BUILD_TESTS=OFF -DPHOTO_BUILD_BENCHMARKS=OFF >/dev/null
mkdir -p "$OUT/logs"
if ! cmake --build "$BUILD" -j "$JOBS" --target "${build_targets[@]}" >"$OUT/logs/build.log" 2>&1; then
  tail -40 "$OUT/logs/build.log"
  echo "fuzz.sh: build failed; log: $OUT/logs/build.log" >&2
  exit 1
fi
built=$(date +%s)

rm -rf "$OUT/seeds"
"$BUILD/fuzz/fuzz_make_corpus" "$OUT/seeds/probe" "$OUT/seeds/multipart"

# Leak checks stay on: none of the one-time glib/libvips allocations has
# tripped them. Should one ever, run with ASAN_OPTIONS=detect_leaks=0.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export PHOTO_PIPELINE_VIPS_CONCURRENCY=${PHOTO_PIPELINE_VIPS_CONCURRENCY:-1}

failed=0
summary=()
for t in "${TARGETS[@]}"; do
  t=${t#fuzz_}
  case "$t" in
    probe) max_len=262144; timeout=10; extra=() ;;
    multipart) max_len=65536; timeout=20; extra=(-dict="$ROOT/fuzz/multipart.dict") ;;
  esac
  mkdir -p "$OUT/corpus/$t" "$OUT/crashes/$t" "$OUT/run/$t"
  log="$OUT/logs/$t.log"
  echo "== fuzz: $t for ${SECS}s (max_len $max_len, timeout ${timeout}s/input)"
  rc=0
  # Run from an empty directory of its own: fuzz_multipart checks that the
  # working directory gains no entries.
  (cd "$OUT/run/$t" && exec "$BUILD/fuzz/fuzz_$t" -max_total_time="$SECS" -max_len="$max_len" \
      -timeout="$timeout" -rss_limit_mb=2048 -print_final_stats=1 "${extra[@]}" \
      -artifact_prefix="$OUT/crashes/$t/" "$OUT/corpus/$t" "$OUT/seeds/$t") >"$log" 2>&1 || rc=$?
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(echo "$done_line" | sed -n 's/.*cov: \([0-9]*\) ft: \([0-9]*\) corp: \([^ ]*\).*/cov \1, features \2, corpus \3/p')
  outcomes=$(grep -E '^fuzz_(probe outcomes|multipart statuses)' "$log" | tail -1 || true)
  if [ "$rc" -ne 0 ]; then
    failed=1
    echo "!! fuzz: $t FAILED (exit $rc); log: $log"
    grep -E 'contract broken|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|SUMMARY' "$log" | head -10 || true
    grep -E '^artifact_prefix|Test unit written to' "$log" || true
    summary+=("$t: FAILED (exit $rc)")
  else
    summary+=("$t: ok, ${execs:-?} runs, ${rate:-?} exec/s, ${cov:-?}")
    [ -z "$outcomes" ] || summary+=("    $outcomes")
    if [ "${PHOTO_FUZZ_COVERAGE:-0}" = 1 ]; then
      # Replays the corpus once and sums libFuzzer's per-function coverage by
      # source file (edges include the sanitizers' never-taken error branches,
      # so 100% is out of reach).
      (cd "$OUT/run/$t" && "$BUILD/fuzz/fuzz_$t" -runs=0 -print_coverage=1 -max_len="$max_len" \
          "$OUT/corpus/$t" "$OUT/seeds/$t") >"$OUT/logs/$t.coverage.log" 2>&1 || true
      while IFS= read -r line; do summary+=("    $line"); done < <(awk -v root="$ROOT/src/" '
        /^(UN)?COVERED_FUNC:/ {
          file = $NF; sub(/:[0-9]+$/, "", file)
          if (index(file, root) != 1) next
          file = substr(file, length(root) + 1)
          split($5, e, "/"); covered[file] += e[1]; total[file] += e[2]
          funcs[file]++; if ($1 == "COVERED_FUNC:") hit[file]++
        }
        END { for (f in total) printf "%-40s functions %3d/%-3d edges %4d/%d\n", f, hit[f], funcs[f], covered[f], total[f] }
      ' "$OUT/logs/$t.coverage.log" | sort)
    fi
  fi
done

echo "== fuzz summary ($(( $(date +%s) - start ))s total, build $(( built - start ))s)"
printf '%s\n' "${summary[@]}"
exit "$failed"

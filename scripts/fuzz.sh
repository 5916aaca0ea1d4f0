#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo-fuzz / libFuzzer, nightly Rust): `make fuzz` and `make fuzz-cmin`.
#
#   scripts/fuzz.sh run    runs each target for a bounded time, then prints a table of
#                          executions and coverage per target (exit 1 if any target crashed)
#   scripts/fuzz.sh cmin   merges fuzz/seeds/<t> and the working corpus into fuzz/corpus/<t>,
#                          minimized (what is committed)
#
# Environment: FUZZ_TARGETS="token path" (default: every target), FUZZ_SECONDS=60 (per
# target), FUZZ_SECONDS_<target>=N (one target's own budget, e.g. FUZZ_SECONDS_token=600),
# FUZZ_RUNS_<target>=N (stop that target after N executions), FUZZ_SANITIZER=address
# (default none).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

ALL_TARGETS="bearer token claims jwks metadata path route config cors gcra"
TARGETS="${FUZZ_TARGETS:-$ALL_TARGETS}"
SECONDS_DEFAULT="${FUZZ_SECONDS:-60}"
# Release build with debug assertions and overflow checks: an overflow is a finding too.
# No AddressSanitizer by default: the fuzzed core is safe Rust, where panics and overflow
# checks are what find bugs, and ASan would cost half the executions
# (FUZZ_SANITIZER=address turns it on).
BUILD_FLAGS=(-O -a -s "${FUZZ_SANITIZER:-none}")

need_toolchain() {
  if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "make fuzz needs the nightly toolchain (cargo-fuzz uses -Z sanitizer flags):" >&2
    echo "  rustup toolchain install nightly --profile minimal" >&2
    exit 1
  fi
  if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is not installed; installing it from crates.io (once, about a minute)…"
    if ! cargo install cargo-fuzz --locked; then
      echo "could not install cargo-fuzz: run 'cargo install cargo-fuzz --locked' and retry" >&2
      exit 1
    fi
  fi
}

# The dictionaries a target's inputs are made of, joined into one (libFuzzer takes one).
dict_for() {
  local target=$1 out="target/dict/$1.dict" parts
  case $target in
    bearer | token) parts="jwt json" ;;
    claims) parts="jwt json" ;;
    jwks | metadata) parts="json jwks" ;;
    path | route) parts="path" ;;
    config) parts="toml json path" ;;
    cors) parts="cors" ;;
    gcra) parts="" ;;
  esac
  [ -n "$parts" ] || return 0
  mkdir -p target/dict
  : >"$out"
  for part in $parts; do cat "dict/$part.dict" >>"$out"; done
  echo "-dict=$out"
}

# FUZZ_RUNS_<target>=N stops that target after N executions (its seconds still cap it).
runs_for() {
  local var="FUZZ_RUNS_$1"
  [ -z "${!var:-}" ] || echo "-runs=${!var}"
}

seconds_for() {
  local var="FUZZ_SECONDS_$1"
  echo "${!var:-$SECONDS_DEFAULT}"
}

run() {
  need_toolchain
  echo "building the fuzz targets (nightly, sanitizer coverage; the first build takes several minutes)…"
  cargo +nightly fuzz build "${BUILD_FLAGS[@]}"
  mkdir -p target/logs
  local failed=0 rows=()
  for target in $TARGETS; do
    local seconds work log dict status runs started elapsed
    seconds=$(seconds_for "$target")
    work="target/corpus/$target"
    log="target/logs/$target.log"
    mkdir -p "$work" "corpus/$target"
    dict=$(dict_for "$target")
    runs=$(runs_for "$target")
    echo "fuzzing $target for ${seconds}s${runs:+ or ${runs#-runs=} executions} (log: fuzz/$log)"
    started=$(date +%s)
    # New inputs go to the working corpus (first directory); the committed one is read only.
    if cargo +nightly fuzz run "${BUILD_FLAGS[@]}" "$target" "$work" "corpus/$target" -- \
      -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 $dict $runs >"$log" 2>&1; then
      status=ok
    else
      status="CRASH: see fuzz/$log and fuzz/artifacts/$target/"
      failed=1
    fi
    elapsed=$(($(date +%s) - started))
    local execs cov ft corp
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
    corp=$(grep -o 'corp: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
    rows+=("$(printf '%-9s %8s %12s %10s %7s %7s %7s  %s' "$target" "$elapsed" "${execs:-?}" \
      "$([ -n "$execs" ] && echo $((execs / (elapsed > 0 ? elapsed : 1))) || echo '?')" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$status")")
  done
  echo
  printf '%-9s %8s %12s %10s %7s %7s %7s  %s\n' target seconds execs execs/s cov ft corpus result
  printf '%s\n' "${rows[@]}"
  exit $failed
}

cmin() {
  need_toolchain
  cargo +nightly fuzz build "${BUILD_FLAGS[@]}"
  mkdir -p target/logs
  for target in $TARGETS; do
    mkdir -p "corpus/$target"
    for extra in "seeds/$target" "target/corpus/$target"; do
      [ -d "$extra" ] && cp -n "$extra"/* "corpus/$target/" 2>/dev/null || true
    done
    # Set cover over edges (not hit counts or compared values): the smallest corpus that keeps
    # every covered edge, a few hundred KB for all targets.
    cargo +nightly fuzz cmin "${BUILD_FLAGS[@]}" "$target" "corpus/$target" -- \
      -set_cover_merge=1 -use_counters=0 -use_value_profile=0 >"target/logs/cmin-$target.log" 2>&1
    echo "$target: $(ls "corpus/$target" | wc -l) inputs, $(du -sk "corpus/$target" | cut -f1) KiB"
  done
}

case "${1:-run}" in
  run) run ;;
  cmin) cmin ;;
  *)
    echo "usage: scripts/fuzz.sh [run|cmin]" >&2
    exit 2
    ;;
esac

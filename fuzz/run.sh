#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan + coverage on every
# library) in build-fuzz/ and runs each for N seconds (default 20).
# Exits non-zero when a target crashes or breaks an invariant; the input that
# did it is saved under build-fuzz/fuzz-artifacts/<target>/.
#   usage: fuzz/run.sh [seconds] [target...]     e.g. fuzz/run.sh 60 fuzz_sse
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${1:-20}
shift || true
source_dir=${FUZZ_SOURCE_DIR:-$here}        # override to build from a reduced project
build_dir=${FUZZ_BUILD_DIR:-$here/build-fuzz}
jobs=${FUZZ_JOBS:-2}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_frame fuzz_ndjson fuzz_sse fuzz_http_body fuzz_ws)

for tool in clang clang++; do
  command -v "$tool" >/dev/null || { echo "fuzz: $tool not found (scripts/install-deps.sh installs it)" >&2; exit 2; }
done

cmake -S "$source_dir" -B "$build_dir" \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DFAULTLINE_SANITIZE=ON \
  -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link" >/dev/null
cmake --build "$build_dir" --target "${targets[@]}" -j "$jobs"

failed=()
for target in "${targets[@]}"; do
  corpus="$build_dir/fuzz-corpus/$target"        # grows between runs; the seeds stay read-only
  artifacts="$build_dir/fuzz-artifacts/$target/"
  seeds="$here/fuzz/seeds/${target#fuzz_}"
  mkdir -p "$corpus" "$artifacts"
  seed_args=()
  [ -d "$seeds" ] && seed_args=("$seeds")
  echo "fuzz: $target for ${seconds}s"
  if ! UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
      "$build_dir/fuzz/$target" -max_total_time="$seconds" -max_len=16384 -rss_limit_mb=2048 \
      -timeout=10 -print_final_stats=1 -artifact_prefix="$artifacts" "$corpus" "${seed_args[@]}" \
      2>"$build_dir/$target.log"; then
    failed+=("$target")
    tail -n 40 "$build_dir/$target.log" >&2
  fi
  grep -E "^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)|^Done" "$build_dir/$target.log" || true
done

if ((${#failed[@]})); then
  echo "fuzz: FAILED: ${failed[*]} (inputs in $build_dir/fuzz-artifacts/)" >&2
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran ${seconds}s without a crash"

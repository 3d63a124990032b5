#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan + coverage on every
# library) and runs each for N seconds (default 20). One build directory per
# compiler: build-fuzz-clang14, build-fuzz-clang16, ...
# Exits non-zero when a target crashes or breaks an invariant; the input that
# did it is saved under <build>/fuzz-artifacts/<target>/.
#   usage: fuzz/run.sh [seconds] [target...]     e.g. fuzz/run.sh 60 fuzz_sse   (0 seconds: build only)
#   FUZZ_CC / FUZZ_CXX   the compiler (default clang / clang++), e.g. FUZZ_CC=clang-16 FUZZ_CXX=clang++-16
#   FUZZ_BUILD_DIR       the build directory (default build-fuzz-clang<major version>)
#   FUZZ_JOBS            build jobs (default 2)
#   FUZZ_NO_BUILD=1      run the targets as last built (while others edit the tree, say, or
#                        as another tree built them: scripts/test.sh runs its ASan tree's,
#                        FUZZ_BUILD_DIR=build-asan)
#   FUZZ_SOURCE_DIR      build from another source tree (a reduced project)
# A target's seeds are fuzz/seeds/<name>/ (read-only) and its dictionary, if
# any, fuzz/<name>.dict; the corpus grows in <build>/fuzz-corpus/<target>/.
# Each run's figures (executions, exec/s, cov, ft, corpus) end its log,
# <build>/<target>.log, and are printed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${1:-20}
shift || true
cc=${FUZZ_CC:-clang}
cxx=${FUZZ_CXX:-clang++}
source_dir=${FUZZ_SOURCE_DIR:-$here}
jobs=${FUZZ_JOBS:-2}
targets=("$@")
[ ${#targets[@]} -gt 0 ] ||
  targets=(fuzz_frame fuzz_ndjson fuzz_sse fuzz_http_body fuzz_ws fuzz_http_head fuzz_fault_spec fuzz_config)

for tool in "$cc" "$cxx"; do
  command -v "$tool" >/dev/null || { echo "fuzz: $tool not found (scripts/install-deps.sh installs clang)" >&2; exit 2; }
done
major=$("$cxx" -dumpversion | cut -d. -f1)
case $("$cxx" --version) in *clang*) ;; *) echo "fuzz: $cxx is not clang" >&2; exit 2 ;; esac
build_dir=${FUZZ_BUILD_DIR:-$here/build-fuzz-clang$major}

if [ -z "${FUZZ_NO_BUILD:-}" ]; then
  cmake -S "$source_dir" -B "$build_dir" \
    -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DFAULTLINE_SANITIZE=ON \
    -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link" >/dev/null
  cmake --build "$build_dir" --target "${targets[@]}" -j "$jobs"
fi
[ "$seconds" != 0 ] || { echo "fuzz: built ${targets[*]} in $build_dir (0 seconds: no run)"; exit 0; }

failed=()
for target in "${targets[@]}"; do
  name=${target#fuzz_}
  corpus="$build_dir/fuzz-corpus/$target"        # grows between runs; the seeds stay read-only
  artifacts="$build_dir/fuzz-artifacts/$target/"
  seeds="$here/fuzz/seeds/$name"
  mkdir -p "$corpus" "$artifacts"
  extra=()
  [ -d "$seeds" ] && extra+=("$seeds")
  [ -f "$here/fuzz/$name.dict" ] && extra=(-dict="$here/fuzz/$name.dict" "${extra[@]}")
  echo "fuzz: $target ($("$cxx" -dumpversion)) for ${seconds}s"
  if ! UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
      "$build_dir/fuzz/$target" -max_total_time="$seconds" -max_len=16384 -rss_limit_mb=2048 \
      -timeout=10 -print_final_stats=1 -artifact_prefix="$artifacts" "$corpus" "${extra[@]}" \
      2>"$build_dir/$target.log"; then
    failed+=("$target")
    tail -n 40 "$build_dir/$target.log" >&2
  fi
  # The last status line (#N DONE cov: ft: corp: exec/s:) and the final stats.
  grep -E "^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)" "$build_dir/$target.log" | tail -n 1 || true
  grep -E "^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)|^Done" "$build_dir/$target.log" || true
  echo "corpus files: $(find "$corpus" -type f | wc -l)"
  grep -E "^FINDING|HAZARD" "$build_dir/$target.log" || true
done

if ((${#failed[@]})); then
  echo "fuzz: FAILED: ${failed[*]} (inputs in $build_dir/fuzz-artifacts/)" >&2
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran ${seconds}s without a crash"

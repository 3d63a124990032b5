#!/usr/bin/env bash
# Installs what faultline needs, then builds and runs every test twice: once
# with g++ and warnings as errors, once built by clang with warnings as errors
# under AddressSanitizer + UndefinedBehaviorSanitizer. Then a short libFuzzer
# run of each decoder.
#   FAULTLINE_TEST_QUICK=1   skip the sanitizer build and the fuzz run
#   FAULTLINE_FUZZ_SECONDS=N seconds per fuzz target (default 5)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
jobs=$(nproc)
start=$SECONDS
phase() { echo "== $* (at $((SECONDS - start)) s)"; }

bash scripts/install-deps.sh

passed=0
run_suite() {  # run_suite BUILD_DIR "CTEST_ARGS" CMAKE_ARGS...
  local dir=$1 ctest_args=$2; shift 2
  phase "configure $dir"
  cmake -S . -B "$dir" -DFAULTLINE_WERROR=ON "$@" >/dev/null
  phase "build $dir"
  cmake --build "$dir" -j"$jobs"
  phase "test $dir"
  # shellcheck disable=SC2086
  (cd "$dir" && ctest --output-on-failure --timeout 600 -j1 $ctest_args) | tee "$dir/ctest.log"
  local n
  n=$(sed -n 's/.*tests passed, 0 tests failed out of \([0-9]*\).*/\1/p' "$dir/ctest.log" | tail -1)
  passed=$((passed + ${n:-0}))
}

# -O2 as in RelWithDebInfo (the warnings that need optimisation still show) but
# no debug info: it is a third of the compile time and nobody debugs CI's tree.
# bench/ is left out (no test uses it; bench/run.sh builds its own tools).
run_suite build "" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" -DFAULTLINE_SKIP=bench
if [ "${FAULTLINE_TEST_QUICK:-0}" != 1 ]; then
  # Clang builds the sanitizer lane: at -O0 it compiles the Asio coroutine code
  # in half the time g++ takes, and its warnings are a second opinion.
  # The VM lane boots a kernel under emulation and exercises no new code under
  # the sanitizers; it runs once, above.
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    run_suite build-asan "-LE vm" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
      -DCMAKE_BUILD_TYPE=Debug -DFAULTLINE_SANITIZE=ON -DFAULTLINE_SKIP="bench;fuzz"
  if command -v clang++ >/dev/null && [ -x fuzz/run.sh ]; then
    phase "fuzz"
    bash fuzz/run.sh "${FAULTLINE_FUZZ_SECONDS:-5}"
  fi
fi
phase "all test suites passed"
echo "tests: $passed passed, 0 failed"

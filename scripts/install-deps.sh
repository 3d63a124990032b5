#!/usr/bin/env bash
# Installs everything faultline needs to build and test on Debian 12.
# Idempotent: packages already present are skipped by apt-get; npm uses the lock file.
#   --build-only   only what building the faultline binary needs (used by docker/Dockerfile)
set -euo pipefail
build_only=0
[ "${1:-}" = "--build-only" ] && build_only=1

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

packages=(
  build-essential cmake pkg-config git
  clang-16                                   # builds the faultline users run (README, "Building")
  libboost1.81-dev
  nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev doctest-dev
  libnl-3-dev libnl-route-3-dev libpcap-dev
)
if [ "$build_only" -eq 0 ]; then
  packages+=(
    iproute2 procps                          # tests: namespaces, veth, qdiscs
    qemu-system-x86 busybox-static cpio      # tests/netem/vm: the netem lane in a VM
    haproxy socat iperf3                     # bench/
    libclang-rt-16-dev                       # the sanitizer test lane and fuzz/: libFuzzer, sanitizer runtimes
    clang libclang-rt-14-dev                 # fuzz/run.sh with FUZZ_CXX=clang++ (a second compiler's fuzzing)
    python3                                  # tests/hostile/run.py
  )
  command -v node >/dev/null || packages+=(nodejs)
  command -v npm >/dev/null || packages+=(npm)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: Debian packages present"
fi

if [ "$build_only" -eq 0 ] && [ -f "$here/tests/node/package-lock.json" ]; then
  if [ ! -d "$here/tests/node/node_modules" ] || [ "$here/tests/node/package-lock.json" -nt "$here/tests/node/node_modules/.package-lock.json" ]; then
    echo "install-deps: npm ci in tests/node"
    (cd "$here/tests/node" && npm ci --no-audit --no-fund --loglevel=error)
  else
    echo "install-deps: npm packages present"
  fi
fi

#!/usr/bin/env bash
# Installs everything faultline needs to build and test on Debian 12.
# Idempotent: packages already present are skipped by apt-get; npm uses the lock file.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

packages=(
  build-essential cmake pkg-config git
  libboost1.81-dev
  nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev doctest-dev
  libnl-3-dev libnl-route-3-dev libpcap-dev
  iproute2 procps
  haproxy socat iperf3
)

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

if [ -f "$here/tests/node/package-lock.json" ]; then
  if [ ! -d "$here/tests/node/node_modules" ] || [ "$here/tests/node/package-lock.json" -nt "$here/tests/node/node_modules/.package-lock.json" ]; then
    echo "install-deps: npm ci in tests/node"
    (cd "$here/tests/node" && npm ci --no-audit --no-fund --loglevel=error)
  else
    echo "install-deps: npm packages present"
  fi
fi

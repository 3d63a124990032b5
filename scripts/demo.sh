#!/usr/bin/env bash
# Installs what faultline needs, builds it, and runs the built-in demo: an echo
# server, a link in front of it, a latency fault then a reset_peer fault, and a
# summary of what the client saw. Extra arguments go to `faultline demo`.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target faultline
exec ./build/cli/faultline demo --events build/demo-events.jsonl "$@"

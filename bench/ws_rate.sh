#!/usr/bin/env bash
# JSON-RPC messages per second through a websocket link and a stdio link (decoding and session
# recording on, no faults) against the same traffic through a plain TCP link (stdio: plain pipes)
# and direct, in one run; p50/p99 round trips and what the link adds at p99;
# faultline's RSS (proxy and wrap) after each round (it should not grow with the message count).
# Targets: 100,000 small messages/s on one core, p99 added under 100 us.
# It prints figures; it gates nothing.
#
# Usage: bench/ws_rate.sh [--no-build] [--faultline PATH] [--messages N] [--rounds R]
#                         [--rtt N] [--block B] [--threads T] [--events] [--baseline PATH]
#                         [--haproxy PATH|none] [--warm-cpus]
#   --events: also record to a JSONL file; --baseline: another faultline binary
#   (e.g. built before a change) whose websocket and stdio links run in the same rounds;
#   haproxy (if installed) relays the same traffic as a reference; --warm-cpus keeps
#   the CPUs from idling during the round trips (a VM's idle exits cost tens of us)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
build="$root/build-bench"
do_build=1 faultline_bin="" extra=()
while (($#)); do
  case "$1" in
    --no-build) do_build=0 ;;
    --faultline) faultline_bin=$2; shift ;;
    --messages|--rounds|--threads|--window|--rtt|--block|--baseline|--haproxy) extra+=("$1" "$2"); shift ;;
    --warm-cpus) extra+=(--warm-cpus) ;;
    --events) extra+=(--events "$(mktemp /tmp/faultline-ws-rate-events.XXXXXX)") ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "ws_rate.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
if ((do_build)); then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j "${BENCH_JOBS:-2}" --target faultline faultline-bench-ws-rate >/dev/null
fi
: "${faultline_bin:=$build/cli/faultline}"
exec "$build/bench/faultline-bench-ws-rate" --faultline "$faultline_bin" "${extra[@]}"

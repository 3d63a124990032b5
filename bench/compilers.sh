#!/usr/bin/env bash
# Two faultline builds side by side (say g++ 12 and clang 16): iperf3 through a
# tcp link of each, in alternating rounds, one stream and eight. Prints each
# round's Gbit/s, the medians and B/A. Figures only; it gates nothing.
# Usage: bench/compilers.sh A_BINARY B_BINARY [ROUNDS] [SECONDS]
set -euo pipefail
a=${1:?usage: compilers.sh A_BINARY B_BINARY [ROUNDS] [SECONDS]} b=${2:?usage: compilers.sh A_BINARY B_BINARY}
rounds=${3:-5} seconds=${4:-3}
command -v iperf3 >/dev/null || { echo "compilers.sh: needs iperf3 (scripts/install-deps.sh installs it)" >&2; exit 2; }
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //') ($(nproc) cpus)"
echo "A: $a"
echo "B: $b"
server=$(free_port)
iperf3 -s -p "$server" >"$work/iperf-server.log" 2>&1 &
declare -A port
for which in A B; do
  bin=$a; [ "$which" = B ] && bin=$b
  port[$which]=$(free_port)
  "$bin" proxy --listen "127.0.0.1:${port[$which]}" --upstream "127.0.0.1:$server" 2>"$work/$which.err" &
done
sleep 0.5
gbits() { iperf3 -c 127.0.0.1 -p "$1" -t "$seconds" -P "$2" -J 2>/dev/null |
  python3 -c 'import json,sys; bps=json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]; print("%.2f" % (bps/1e9))'; }
for streams in 1 8; do
  results_a=() results_b=()
  for r in $(seq "$rounds"); do
    order="A B"; ((r % 2 == 0)) && order="B A"  # who goes first alternates
    for which in $order; do
      g=$(gbits "${port[$which]}" "$streams")
      if [ "$which" = A ]; then results_a+=("$g"); else results_b+=("$g"); fi
    done
    echo "  $streams stream(s), round $r: A ${results_a[-1]}  B ${results_b[-1]} Gbit/s"
  done
  python3 - "$streams" "${results_a[*]}" "${results_b[*]}" <<'PY'
import statistics, sys
streams, a, b = sys.argv[1], [float(x) for x in sys.argv[2].split()], [float(x) for x in sys.argv[3].split()]
ma, mb = statistics.median(a), statistics.median(b)
print(f"{streams} stream(s): median A {ma:.2f}, B {mb:.2f} Gbit/s, B/A {mb / ma:.2f}")
PY
done

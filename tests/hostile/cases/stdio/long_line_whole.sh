# A line of 64 MiB over a 1 KiB --max-message crosses `faultline wrap` byte
# for byte in both directions (the client's line to `cat`, cat's copy back):
# it is recorded once each way as rpc.invalid and no longer decoded, but not
# cut. The lines after it are decoded again: a drop fault in each direction
# still finds its message. faultline streams the rest of the line instead of
# holding it, so its peak memory stays well below the line's size: its queues
# (8 MiB a direction) and outboxes bound it (about 17 MiB measured; not checked
# in a sanitizer build, whose shadow memory dwarfs it). (The stdio link used
# to pass on only the first --max-message bytes of such a line.)
set -u
python3 - "$WORK" <<'EOF'
import sys
work = sys.argv[1]
pad = 64 << 20
with open(f"{work}/in", "wb") as f:
    f.write(b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n')
    f.write(b'{"jsonrpc":"2.0","method":"pad","params":{"p":"' + b"p" * pad + b'"}}\n')
    f.write(b'{"jsonrpc":"2.0","method":"drop-up"}\n')
    f.write(b'{"jsonrpc":"2.0","method":"drop-down"}\n')
    f.write(b'{"jsonrpc":"2.0","id":2,"method":"ping"}\n')
with open(f"{work}/want", "wb") as f:
    for line in open(f"{work}/in", "rb"):
        if b"drop-" not in line:
            f.write(line)
EOF
python3 - "$FAULTLINE" "$WORK" <<'EOF'
import os, resource, subprocess, sys
binary, work = sys.argv[1], sys.argv[2]
with open(f"{work}/in", "rb") as i, open(f"{work}/out", "wb") as o, open(f"{work}/err", "wb") as e:
    rc = subprocess.run([binary, "wrap", "--events", f"{work}/events.jsonl", "--max-message", "1024",
                         "--fault", "drop,stream=upstream,method=drop-up",
                         "--fault", "drop,stream=downstream,method=drop-down", "--", "cat"],
                        stdin=i, stdout=o, stderr=e, timeout=60).returncode
# ru_maxrss (KiB) of the largest waited-for descendant: faultline (cat is far smaller).
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
with open(f"{work}/peak", "w") as f:
    f.write(f"{rc} {peak}\n")
EOF
read -r rc peak <"$WORK/peak" || { echo "the run did not finish"; exit 1; }
[ "$rc" -eq 0 ] || { echo "wrap exited $rc: $(tail -1 "$WORK/err")"; exit 1; }
cmp -s "$WORK/want" "$WORK/out" || {
  echo "the output differs: $(wc -c <"$WORK/out") bytes, want $(wc -c <"$WORK/want")"; exit 1; }
n=$(grep '"rpc.invalid"' "$WORK/events.jsonl" | grep -c '"reason":"line longer than 1024 bytes')
[ "$n" -eq 2 ] || { echo "want 2 rpc.invalid events for the long line (one each way), got $n"; exit 1; }
grep '"rpc.invalid"' "$WORK/events.jsonl" | grep -v '"offset":1065' && { echo "an rpc.invalid event not at offset 1065"; exit 1; }
n=$(grep '"fault.inject"' "$WORK/events.jsonl" | grep -c '"method":"drop-')
[ "$n" -eq 2 ] || { echo "want 2 drops after the long line (one each way), got $n"; exit 1; }
n=$(grep -c '"rpc.request"' "$WORK/events.jsonl")
[ "$n" -eq 4 ] || { echo "want 4 rpc.request events (2 pings each way), got $n"; exit 1; }
if [ "${FAULTLINE_SANITIZED:-}" != 1 ] && [ "$peak" -gt $((48 << 20)) ]; then
  echo "faultline peaked at $((peak >> 20)) MiB relaying a 64 MiB line: it buffered the line"; exit 1
fi
exit 0

# A stdio server that echoes a line of 100,000 nested arrays: it crosses
# `faultline wrap` both ways byte for byte and is recorded as rpc.invalid.
set -u
python3 -c 'import sys; sys.stdout.write("[" * 100000 + "]" * 100000 + "\n" + "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n")' >"$WORK/in"
timeout 20 "$FAULTLINE" wrap --events "$WORK/events.jsonl" -- cat <"$WORK/in" >"$WORK/out" 2>"$WORK/err"
rc=$?
[ "$rc" -eq 0 ] || { echo "wrap exited $rc: $(tail -1 "$WORK/err")"; exit 1; }
cmp -s "$WORK/in" "$WORK/out" || { echo "the bytes changed crossing wrap"; exit 1; }
grep -q '"rpc.invalid".*nests deeper than 512' "$WORK/events.jsonl" || { echo "no rpc.invalid for the deep line"; exit 1; }
grep -q '"rpc.request"' "$WORK/events.jsonl" || { echo "the next line was not decoded"; exit 1; }

# A stdio server that prints banners, binary garbage and half a JSON line
# around a good answer: every byte crosses `faultline wrap`, the good line is
# still decoded, and wrap exits with the server's status.
set -u
printf 'starting server v1\n\x00\xff\xfe garbage\n{"jsonrpc":"2.0","id":1,\n{"jsonrpc":"2.0","id":1,"result":{}}\n' >"$WORK/in"
timeout 20 "$FAULTLINE" wrap --events "$WORK/events.jsonl" -- cat <"$WORK/in" >"$WORK/out" 2>"$WORK/err"
rc=$?
[ "$rc" -eq 0 ] || { echo "wrap exited $rc: $(tail -1 "$WORK/err")"; exit 1; }
cmp -s "$WORK/in" "$WORK/out" || { echo "the bytes changed crossing wrap"; exit 1; }
[ "$(grep -c '"rpc.invalid"' "$WORK/events.jsonl")" -ge 3 ] || { echo "fewer than 3 rpc.invalid events"; exit 1; }

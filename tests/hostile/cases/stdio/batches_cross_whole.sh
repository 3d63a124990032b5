# JSON-RPC batches (arrays of messages, one a line) cross `faultline wrap`
# byte for byte, as one line each, in both directions; each member is still
# decoded and recorded. (The stdio link used to write each member on a line of
# its own, unbatching what the peer sent.)
set -u
printf '%s\n' '[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"tools/list"}]' \
  '[ {"jsonrpc":"2.0","method":"notifications/initialized"} ]' \
  '[[1]]' '{"jsonrpc":"2.0","id":3,"method":"ping"}' >"$WORK/in"
timeout 20 "$FAULTLINE" wrap --events "$WORK/events.jsonl" -- cat <"$WORK/in" >"$WORK/out" 2>"$WORK/err"
rc=$?
[ "$rc" -eq 0 ] || { echo "wrap exited $rc: $(tail -1 "$WORK/err")"; exit 1; }
cmp -s "$WORK/in" "$WORK/out" || { echo "the bytes changed crossing wrap: $(head -c 200 "$WORK/out" | tr '\n' '|')"; exit 1; }
n=$(grep -c '"rpc.request"' "$WORK/events.jsonl")
[ "$n" -eq 6 ] || { echo "want 6 rpc.request events (3 requests each way), got $n"; exit 1; }

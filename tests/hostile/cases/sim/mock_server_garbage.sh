#!/usr/bin/env bash
# The mock server fed garbage on stdin (not JSON, bad UTF-8, a lone
# surrogate, an empty object, a huge line, a batch of nonsense) answers each
# with a JSON-RPC error, keeps serving, and exits 0 when stdin ends; bad
# options exit 2 naming the option.
set -u
out=$WORK/out.jsonl
{
  printf 'garbage\n\xff\xfe\n{}\n[1,2,3]\n'
  printf '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"\\ud800"}}}\n'
  head -c 3000000 /dev/zero | tr '\0' 'a'; printf '\n'
  printf '{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"large","arguments":{"bytes":99999999999}}}\n'
  printf '{"jsonrpc":"2.0","id":10,"method":"ping"}\n'
} | timeout 20 "$FAULTLINE" mock-server >"$out" 2>"$WORK/err"
code=$?
[ "$code" = 0 ] || { echo "exit $code: $(tail -3 "$WORK/err")"; exit 1; }
python3 - "$out" <<'PY' || exit 1
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
errors = [l for l in lines if "error" in l]
assert len(errors) >= 7, lines
assert any(l.get("id") == 9 and l["error"]["code"] == -32602 for l in lines), "large beyond its range"
assert any(l.get("id") == 10 and l.get("result") == {} for l in lines), "ping after the garbage"
PY
err=$(timeout 5 "$FAULTLINE" mock-server --transport carrier-pigeon 2>&1 >/dev/null); code=$?
[ "$code" = 2 ] && [[ "$err" == *"--transport"* ]] || { echo "bad transport: exit $code: $err"; exit 1; }
err=$(timeout 5 "$FAULTLINE" mock-server --stall-after -1 2>&1 >/dev/null); code=$?
[ "$code" = 2 ] && [[ "$err" == *"--stall-after"* ]] || { echo "bad stall: exit $code: $err"; exit 1; }
exit 0

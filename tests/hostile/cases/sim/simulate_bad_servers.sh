#!/usr/bin/env bash
# `faultline simulate` against servers that misbehave before a session exists:
# garbage on stdout, a server that exits mid-handshake, an HTTP server that
# answers initialize with garbage, one that closes the connection at once.
# Each: no crash, exit 1 (reached, no session) with one line saying why, and
# in a run of several clients where one server is bad, the others still work.
set -u
run() {  # run NAME ARGS...: simulate with a hang guard; sets code and err
  local name=$1; shift
  err=$(timeout 30 "$FAULTLINE" simulate --seed 1 --profile "$WORK/quick.json" --events "$WORK/$name.jsonl" "$@" 2>&1 >/dev/null)
  code=$?
}
# Bounded waits, so a mute server ends the run soon.
echo '{"base":"resilient","request_timeout_ms":1000,"max_attempts":1}' > "$WORK/quick.json"

run garbage --target 'stdio:sh -c "echo garbage; printf \"\\377\\376{not json\\n\"; sleep 5"'
[ "$code" = 1 ] || { echo "garbage stdout: exit $code: $err"; exit 1; }
run handshake --target 'stdio:sh -c "head -c 10 >/dev/null"'
[ "$code" = 1 ] || { echo "exit mid-handshake: exit $code: $err"; exit 1; }
[[ "$err" == *"could not set a session up"* ]] || { echo "exit mid-handshake: no reason given: $err"; exit 1; }

# HTTP: garbage as the answer to initialize, and a server that closes at once.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 - "$port" <<'PY' &
import socket, sys, threading
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1]))); srv.listen(64)
n = 0
def serve(c, k):
    try:
        c.recv(65536)
        if k % 2 == 0:
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n{not json")
        else:
            c.sendall(b"\x00\xffnot http at all\r\n\r\n")
    except OSError:
        pass
    c.close()
while True:
    c, _ = srv.accept(); n += 1
    threading.Thread(target=serve, args=(c, n), daemon=True).start()
PY
pypid=$!
trap 'kill $pypid 2>/dev/null' EXIT
sleep 0.5
run http_garbage --clients 4 "http://127.0.0.1:$port/mcp"
[ "$code" = 1 ] || { echo "http garbage: exit $code: $err"; exit 1; }
[ "$(printf '%s\n' "$err" | grep -c '^[0-9:.]* error ')" = 1 ] || { echo "http garbage: more than one error line: $err"; exit 1; }

# Four clients, one of whose servers prints garbage and exits: the other three pass.
bad="mkdir $WORK/first 2>/dev/null && { echo garbage; exit 0; }; exec $FAULTLINE mock-server"
run mixed --clients 4 --tool 'echo={"message":"hi"}' --target "stdio:sh -c '$bad'"
[ "$code" = 1 ] || { echo "mixed: exit $code: $err"; exit 1; }
python3 - "$WORK/mixed.jsonl" <<'PY' || exit 1
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
ok_calls = {e["source"] for e in ev if e["kind"] == "rpc.invoke" and e.get("tool") == "echo"}
assert len(ok_calls) == 3, ok_calls
end = [e for e in ev if e["kind"] == "run.end"][0]
assert end["passed"] == 3, end
PY
exit 0

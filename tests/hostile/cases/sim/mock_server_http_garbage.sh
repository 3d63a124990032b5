#!/usr/bin/env bash
# The mock server's network side fed garbage: bytes that are not HTTP, a head
# that never ends, a body over its limit, a bad Mcp-Session-Id, a WebSocket
# listener asked for plain HTTP, and bad PATCHes on the control endpoint. Each
# gets a clear 4xx (or the connection closes), the process stays up and still
# answers an initialize, nothing of a refused PATCH is applied; a --control
# off loopback and a taken port are refused at start with one line.
set -u
"$FAULTLINE" mock-server --transport http --control 127.0.0.1:0 2>"$WORK/err" &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
for _ in $(seq 100); do grep -q "listening on" "$WORK/err" && break; sleep 0.05; done
url=$(grep -o 'listening on [^ ]*' "$WORK/err" | cut -d' ' -f3)
ctl=$(grep -o 'control on [^ ]*' "$WORK/err" | cut -d' ' -f3)
[ -n "$url" ] && [ -n "$ctl" ] || { echo "no address: $(cat "$WORK/err")"; exit 1; }
python3 - "$url" "$ctl" <<'PY' || exit 1
import json, socket, sys, urllib.request, urllib.error
url, ctl = sys.argv[1], sys.argv[2]
host, port = url.split("//")[1].split("/")[0].split(":")
port = int(port)

def raw(data, read=True):
    s = socket.create_connection((host, port), timeout=5)
    s.sendall(data)
    out = b""
    try:
        while read:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    return out

r = raw(b"\x16\x03\x01\x02\x00garbage that is not http\r\n\r\n")
assert r.startswith(b"HTTP/1.1 400"), r[:200]
r = raw(b"GET /mcp HTTP/1.1\r\nHost: x\r\n" + b"X-Long: " + b"a" * 70000 + b"\r\n\r\n")
assert r.startswith(b"HTTP/1.1 400"), r[:200]
# A body over the limit is refused as soon as its Content-Length is read.
r = raw(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Accept: application/json, text/event-stream\r\nContent-Length: %d\r\n\r\n{" % (5 * 1024 * 1024))
assert r.startswith(b"HTTP/1.1 413"), r[:200]
# ... and so is a chunked one once it grows past it.
s = socket.create_connection((host, port), timeout=5)
s.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
got = b""
try:
    for _ in range(6):
        s.sendall(b"100000\r\n" + b"x" * 0x100000 + b"\r\n")
except (BrokenPipeError, ConnectionResetError):
    pass
try:
    got = s.recv(4096)
except (socket.timeout, ConnectionResetError):
    pass
s.close()
assert got.startswith(b"HTTP/1.1 413") or got == b"", got[:200]

def call(method, u, body=None, headers=None):
    req = urllib.request.Request(u, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read(), resp.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers

mcp = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
status, body, _ = call("POST", url, b'{"jsonrpc":"2.0","id":1,"method":"ping"}', {**mcp, "Mcp-Session-Id": "\x7f" * 3})
assert status in (400, 404), (status, body)  # Beast refuses the DEL bytes (400)
status, body, _ = call("POST", url, b'{"jsonrpc":"2.0","id":1,"method":"ping"}', {**mcp, "Mcp-Session-Id": "x" * 5000})
assert status == 404, (status, body)
status, body, _ = call("POST", url, b"[" * 100000, mcp)
assert status == 400, (status, body)

before = call("GET", ctl + "/behaviour")[1]
for patch, needle in [(b'{"stal":true}', b'did you mean \\"stall\\"?'),
                      (b'{"stall":true,"session_ttl_ms":1e99}', b"/session_ttl_ms"),
                      (b'{"drop_notifications":[1]}', b"/drop_notifications/0"),
                      (b"not json", b"not JSON"), (b"[]", b"JSON object")]:
    status, body, _ = call("PATCH", ctl + "/behaviour", patch)
    assert status == 400 and needle in body, (patch, status, body)
assert call("GET", ctl + "/behaviour")[1] == before, "a refused PATCH changed something"

status, body, headers = call("POST", url, json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "h", "version": "1"}}}).encode(), mcp)
assert status == 200 and headers["mcp-session-id"], (status, body)
PY
kill -0 $pid || { echo "the mock died"; exit 1; }
err=$(timeout 5 "$FAULTLINE" mock-server --transport http --control 0.0.0.0:0 2>&1 >/dev/null); code=$?
[ "$code" = 2 ] && [[ "$err" == *"--control"*"loopback"* ]] || { echo "control off loopback: exit $code: $err"; exit 1; }
port=${url##*:}; port=${port%%/*}
err=$(timeout 5 "$FAULTLINE" mock-server --transport http --listen 127.0.0.1:$port 2>&1 >/dev/null); code=$?
[ "$code" = 3 ] && [[ "$err" == *"cannot listen on 127.0.0.1:$port"* ]] || { echo "port taken: exit $code: $err"; exit 1; }
exit 0

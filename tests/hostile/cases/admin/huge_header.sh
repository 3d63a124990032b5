#!/usr/bin/env bash
# A request head far over the admin API's limit (one 64 MiB header line, then
# 100,000 short headers): the API answers 431 to each, its memory stays small,
# and it keeps answering.
set -u
pid=
cleanup() { [ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }; }
trap cleanup EXIT
fail() { echo "$1"; exit 1; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$FAULTLINE" proxy --api "127.0.0.1:$port" 2>"$WORK/api.err" &
pid=$!
for _ in $(seq 100); do curl -s -m 1 -o /dev/null "http://127.0.0.1:$port/version" && break; sleep 0.05; done
# Sanitizer runtimes keep freed memory in quarantine and add shadow memory:
# the bound holds for the build users run, a loose one for those.
limit=64
[ "${FAULTLINE_SANITIZED:-}" = 1 ] && limit=512
python3 - "$port" "$pid" "$limit" <<'PY' || exit 1
import socket, sys, threading
port, pid, limit = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])

def rss_mib():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0

def attempt(name, head, filler, total):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    reply = bytearray()
    def reader():
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    return
                reply.extend(d)
        except OSError:
            return
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    sent = 0
    try:
        s.sendall(head)
        while sent < total:
            s.sendall(filler)
            sent += len(filler)
    except OSError:
        pass  # the API closed its side after answering: expected
    t.join(10)
    s.close()
    status = bytes(reply).split(b"\r\n", 1)[0].decode(errors="replace")
    if not status.startswith("HTTP/1.1 431"):
        print(f"{name}: answer {status!r}, want HTTP/1.1 431 (after {sent} bytes sent)")
        sys.exit(1)
    if b'"status":431' not in reply:
        print(f"{name}: the 431 has no JSON error body: {bytes(reply)[-200:]!r}")
        sys.exit(1)

attempt("one huge header", b"GET /version HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ", b"a" * 65536, 64 << 20)
attempt("many headers", b"GET /version HTTP/1.1\r\nHost: 127.0.0.1\r\n", b"X-H: v\r\n" * 8192, 100000 * 8)
if rss_mib() > limit:
    print(f"faultline's resident memory is {rss_mib():.0f} MiB after the huge heads (bound {limit} MiB)")
    sys.exit(1)
PY
curl -s -m 5 "http://127.0.0.1:$port/version" | grep -q '"version"' || fail "the API does not answer after the huge heads"
exit 0

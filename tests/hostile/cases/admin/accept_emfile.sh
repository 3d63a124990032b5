#!/usr/bin/env bash
# Out of descriptors (ulimit -n 64) with 300 connections held open to the
# admin API: its accept loop backs off instead of spinning (little CPU, one log
# line for the episode, not one per failed accept), says when accepting works
# again, and answers once the connections are gone.
set -u
[ "${FAULTLINE_SANITIZED:-0}" = 1 ] && { echo "a sanitizer build: its runtimes need descriptors of their own"; exit 77; }
pid=
cleanup() { [ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }; }
trap cleanup EXIT
fail() { echo "$1"; exit 1; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(ulimit -n 64 && exec "$FAULTLINE" proxy --api "127.0.0.1:$port" --threads 1) 2>"$WORK/api.err" &
pid=$!
up=
for _ in $(seq 100); do curl -s -m 1 -o /dev/null "http://127.0.0.1:$port/version" && { up=1; break; }; sleep 0.05; done
[ -n "$up" ] || fail "the admin API did not come up: $(head -c 300 "$WORK/api.err")"
python3 - "$port" "$pid" <<'PY' || exit 1
import os, socket, sys, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
tick = os.sysconf("SC_CLK_TCK")

def cpu_seconds():
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick  # utime + stime

held = []
for _ in range(300):
    try:
        held.append(socket.create_connection(("127.0.0.1", port), timeout=2))
    except OSError:
        break
time.sleep(0.5)  # the API has taken what descriptors it can
before = cpu_seconds()
time.sleep(2)
used = cpu_seconds() - before
for s in held:
    s.close()
if used > 0.5:
    print(f"out of descriptors, faultline used {used:.2f} s of CPU in 2 s (spinning on accept)")
    sys.exit(1)
PY
ok=
for _ in $(seq 100); do curl -s -m 1 -o /dev/null "http://127.0.0.1:$port/version" && { ok=1; break; }; sleep 0.05; done
[ -n "$ok" ] || fail "the admin API does not answer after the connections closed"
failing=$(grep -c "accept: Too many open files" "$WORK/api.err")
[ "$failing" -eq 1 ] || fail "the accept failures were logged $failing times, want once: $(grep -m3 accept "$WORK/api.err" | tr '\n' ' ' | head -c 300)"
grep -q "admin API: accepting again" "$WORK/api.err" || fail "no line says accepting works again"
exit 0

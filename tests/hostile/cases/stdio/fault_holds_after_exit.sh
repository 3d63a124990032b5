#!/usr/bin/env bash
# A fault that holds the server's output forever (timeout, half_open) must not
# keep wrap running once the server has exited: the run ends a bounded time
# later (two drain periods, 2 s each) with the server's exit code, and a
# SIGTERM ends it at once. Before, wrap waited forever and ignored SIGTERM.
set -u
fail() { echo "$1"; exit 1; }
for t in timeout half_open; do
  start=$(date +%s%N)
  timeout -s KILL 15 "$FAULTLINE" wrap --events "$WORK/$t.jsonl" --fault "$t" -- sh -c 'exit 3' </dev/null >/dev/null 2>"$WORK/$t.err"
  rc=$?
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  [ "$rc" -eq 3 ] || fail "$t: exit $rc after $ms ms, want the server's 3 (137: it hung): $(head -c 200 "$WORK/$t.err")"
  [ "$ms" -lt 8000 ] || fail "$t: took $ms ms to end after the server exited"
  grep -q '"kind":"stdio.close_output".*a fault still held its output' "$WORK/$t.jsonl" ||
    fail "$t: no stdio.close_output saying a fault held the output"
done

"$FAULTLINE" wrap --fault timeout -- sleep 0.2 </dev/null >/dev/null 2>&1 &
pid=$!
sleep 1
kill -TERM "$pid"
for _ in $(seq 1 20); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$pid" 2>/dev/null; then
  kill -KILL "$pid"
  fail "SIGTERM after the server exited did not end wrap within 2 s"
fi
wait "$pid"
exit 0

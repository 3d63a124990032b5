#!/usr/bin/env bash
# `wrap --help` lists the fault types a stdio link takes and no other: every
# type it lists is accepted by wrap, and the websocket, http and connect-time
# types it refuses are not listed.
set -u
fail() { echo "$1"; exit 1; }
"$FAULTLINE" wrap --help >"$WORK/help.txt" 2>&1 || fail "wrap --help: exit $?"
types=$(sed -n 's/^  \([a-z_0-9]*\): .*/\1/p' "$WORK/help.txt")
[ "$(echo "$types" | grep -c .)" -ge 15 ] || fail "wrap --help lists only: $types"
for refused in ws_close swallow_pongs fragment forget_session unknown_session get_405 close_sse strip_event_ids \
  rewrite_retry down slow_open; do
  echo "$types" | grep -qx "$refused" && fail "wrap --help lists $refused, which wrap refuses"
done
for taken in drop delay kill banner latency slicer limit_data half_open; do
  echo "$types" | grep -qx "$taken" || fail "wrap --help does not list $taken"
done
for t in $types; do
  # A refused fault exits 2 at once; an accepted one runs the server (and a
  # fault such as timeout may hold the run open: it is ended after 2 s).
  timeout -s KILL 2 "$FAULTLINE" wrap --fault "$t" -- true >/dev/null 2>"$WORK/t.err" </dev/null
  rc=$?
  if [ "$rc" -eq 2 ] && grep -qi "stdio\|websocket\|http link\|connecting" "$WORK/t.err"; then
    fail "wrap --help lists $t, but wrap refuses it: $(head -c 200 "$WORK/t.err")"
  fi
done
exit 0

#!/usr/bin/env bash
# `faultline netem clear` with no target removes only what no live faultline
# holds. A topology that a running `faultline netem apply` shapes survives it
# (its namespaces and the live one's qdisc), and clear says whose it is; once
# that faultline is SIGKILLed, clear removes all of it; `clear --all` removes a
# live one's too. Needs root (exit 77 without). Uses a journal of its own.
# Run: FAULTLINE=path/to/faultline WORK=$(mktemp -d) bash clear_keeps_live_owner.sh
set -u
: "${FAULTLINE:?set FAULTLINE to the faultline binary}" "${WORK:?set WORK to a scratch directory}"
export FAULTLINE_STATE_DIR=$WORK/state
name=k$(($$ % 10000000))  # unique to this run: namespaces fl-$name-client and fl-$name-server
client=fl-$name-client server=fl-$name-server
holder=
fail() { echo "$*"; exit 1; }
cleanup() {
  [ -n "$holder" ] && kill -KILL "$holder" 2>/dev/null && wait "$holder" 2>/dev/null
  timeout 20 "$FAULTLINE" netem clear --all >/dev/null 2>&1
  timeout 20 "$FAULTLINE" netem topology down "$name" >/dev/null 2>&1
  ip netns del "$client" 2>/dev/null
  ip netns del "$server" 2>/dev/null
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root for network namespaces"; exit 77; }

fl() { timeout 20 "$FAULTLINE" "$@"; }
ns_there() { [ -e "/run/netns/$1" ]; }
# The live faultline's tbf (faultline's handle fa17:) on the client's veth.
qdisc_there() { ip netns exec "$client" tc qdisc show dev "fl-$name-c" 2>/dev/null | grep -q "tbf fa17:"; }

# A faultline that shapes the topology's upstream and stays running until signalled.
start_holder() {
  "$FAULTLINE" netem apply --topology "$name" --direction upstream bandwidth 1mbit >"$WORK/hold.out" 2>&1 &
  holder=$!
  local _
  for _ in $(seq 200); do grep -q "applied on" "$WORK/hold.out" && break; sleep 0.05; done
  grep -q "applied on" "$WORK/hold.out" || fail "netem apply did not apply within 10 s: $(tail -1 "$WORK/hold.out")"
  qdisc_there || fail "netem apply says applied, but fl-$name-c has no tbf fa17:"
}

fl netem topology up "$name" >"$WORK/up.out" 2>&1 || fail "topology up failed: $(tail -1 "$WORK/up.out")"
start_holder

# 1. clear from another faultline: the live one's topology and qdisc stay, and clear says why.
fl netem clear >"$WORK/clear1.out" 2>&1 || fail "netem clear failed: $(tail -1 "$WORK/clear1.out")"
ns_there "$client" && ns_there "$server" || fail "netem clear removed the namespaces of a topology a live faultline (pid $holder) uses"
qdisc_there || fail "netem clear removed the qdisc of a live faultline (pid $holder)"
kill -0 "$holder" 2>/dev/null || fail "the live faultline (pid $holder) died during netem clear"
grep -q "owned by live faultline pid $holder" "$WORK/clear1.out" ||
  fail "netem clear did not say what it left to pid $holder: $(tr '\n' '|' <"$WORK/clear1.out")"

# 2. The holder is SIGKILLed: now everything is a leftover, and clear removes it.
kill -KILL "$holder"; wait "$holder" 2>/dev/null; holder=
fl netem clear >"$WORK/clear2.out" 2>&1 || fail "netem clear after SIGKILL failed: $(tail -1 "$WORK/clear2.out")"
ns_there "$client" && fail "netem clear left $client after its user was SIGKILLed: $(tr '\n' '|' <"$WORK/clear2.out")"
ns_there "$server" && fail "netem clear left $server after its user was SIGKILLed"
grep -q "removed qdisc $client/fl-$name-c" "$WORK/clear2.out" ||
  fail "netem clear did not say it removed the dead faultline's qdisc: $(tr '\n' '|' <"$WORK/clear2.out")"

# 3. --all removes a live faultline's topology too.
fl netem topology up "$name" >"$WORK/up2.out" 2>&1 || fail "second topology up failed: $(tail -1 "$WORK/up2.out")"
start_holder
fl netem clear --all >"$WORK/clear3.out" 2>&1 || fail "netem clear --all failed: $(tail -1 "$WORK/clear3.out")"
ns_there "$client" && fail "netem clear --all left $client, used by live faultline pid $holder"
ns_there "$server" && fail "netem clear --all left $server"
kill -TERM "$holder"; wait "$holder" 2>/dev/null; holder=
exit 0

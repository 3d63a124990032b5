#!/bin/sh
# Runs inside the VM (busybox sh): the netem proof on a kernel that has sch_netem.
# Prints RESULT/PASS/FAIL lines and ends with "LANE-RESULT: PASS" or "LANE-RESULT: FAIL (...)".
F=/bin/faultline
P=/bin/netprobe
export FAULTLINE_STATE_DIR=/run/faultline
fails=0
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
ok() { echo "PASS $*"; }
X() { $F netem topology exec lane "$@"; }
up_show() { $F netem show --topology lane --direction upstream 2>&1; }
wait_applied() {  # until faultline's netem qdisc shows on the upstream side
  i=0
  while [ $i -lt 100 ]; do
    up_show | grep -q "netem fa17:" && return 0
    sleep 0.1; i=$((i + 1))
  done
  return 1
}

echo "== probe"
$F netem probe || bad "probe"
$F netem probe | grep -q '^ok    sch_netem' && ok "probe sees sch_netem" || bad "probe does not see sch_netem"

echo "== topology"
$F netem topology up lane || bad "topology up"
X server -- $P tcp-echo 7000 &
X server -- $P udp-echo 7001 &
X client -- $P wait-tcp 10.213.0.2 7000 20 || bad "server not reachable"
X client -- $P tcp-rtt 10.213.0.2 7000 20

echo "== apply delay 100ms 10ms loss 10% (client -> server)"
$F netem apply --topology lane --direction upstream --events /tmp/events.jsonl delay 100ms 10ms loss 10% &
HOLD=$!
wait_applied && ok "netem applied" || bad "netem not applied"
up_show
X client -- $P udp-probe 10.213.0.2 7001 1000 --interval-ms 4 --expect-ms 100 --jitter-ms 10 --expect-loss 10 || fails=$((fails + 1))
X client -- $P tcp-rtt 10.213.0.2 7000 40 --expect-ms 100 --tolerance-ms 15 || fails=$((fails + 1))

echo "== change live to delay 30ms, no loss"
$F netem change --topology lane --direction upstream delay 30ms || bad "change"
up_show
X client -- $P udp-probe 10.213.0.2 7001 300 --interval-ms 4 --expect-ms 30 --expect-loss 0 || fails=$((fails + 1))

echo "== clear by SIGINT to the holder"
kill -INT $HOLD
wait $HOLD
rc=$?
[ $rc -eq 130 ] && ok "holder exited 130 on SIGINT" || bad "holder exited $rc on SIGINT"
up_show | grep -q "fa17:" && bad "qdisc left after SIGINT" || ok "no faultline qdisc after SIGINT"
X client -- $P udp-probe 10.213.0.2 7001 200 --interval-ms 4 --expect-ms 0 --slack-ms 12 --expect-loss 0 || fails=$((fails + 1))
grep -q '"netem.apply"' /tmp/events.jsonl && grep -q '"netem.clear"' /tmp/events.jsonl && ok "events netem.apply and netem.clear logged" || bad "events missing"

echo "== SIGKILL mid-fault, then the next start cleans up"
$F netem apply --topology lane --direction upstream delay 50ms &
HOLD=$!
wait_applied && ok "netem applied" || bad "netem not applied"
kill -KILL $HOLD
wait $HOLD
echo "faultline killed with SIGKILL; the qdisc it left still delays traffic:"
X client -- $P udp-probe 10.213.0.2 7001 100 --interval-ms 4 --expect-ms 50 --expect-loss 0 || fails=$((fails + 1))
$F netem show --topology lane --direction upstream > /tmp/show.txt 2>&1
cat /tmp/show.txt
grep -q "removed a leftover qdisc" /tmp/show.txt && ok "next start removed the leftover" || bad "next start did not report the leftover"
grep -q "fa17:" /tmp/show.txt && bad "qdisc still there after the next start" || ok "qdisc gone after the next start"
X client -- $P udp-probe 10.213.0.2 7001 200 --interval-ms 4 --expect-ms 0 --slack-ms 12 --expect-loss 0 || fails=$((fails + 1))

echo "== partition server -> client"
$F netem apply --topology lane --direction downstream --detach partition || bad "partition"
X client -- $P udp-probe 10.213.0.2 7001 100 --interval-ms 4 --expect-loss 100 || fails=$((fails + 1))
$F netem clear --topology lane --direction downstream || bad "clear partition"

echo "== every netem parameter round-trips through show"
$F netem apply --topology lane --direction upstream --detach delay 20ms 5ms 25% distribution normal loss gemodel 1% 10% 70% 0.1% duplicate 1% corrupt 0.5% reorder 5% 50% gap 3 rate 10mbit 20 0 0 limit 500 bandwidth 5mbit \
  || bad "apply with every parameter"
$F netem show --topology lane --direction upstream --json > /tmp/all.json
cat /tmp/all.json
for field in '"delay_ms": 20' '"jitter_ms": 5' '"loss_gemodel"' '"duplicate_percent": 1' '"corrupt_percent": 0.5' '"reorder_percent": 5' '"gap": 3' '"rate_bytes_per_s": 1250000' '"limit": 500' '"kind": "tbf"'; do
  grep -q "$field" /tmp/all.json && ok "show has $field" || bad "show lacks $field"
done
X client -- $P udp-probe 10.213.0.2 7001 200 --interval-ms 5 || true
$F netem apply --topology lane --direction downstream --detach delay 10ms 5ms distribution pareto loss state 1% 30% 1% 50% 0.1% || bad "pareto + 4-state"
$F netem change --topology lane --direction downstream delay 10ms 5ms distribution paretonormal || bad "change to paretonormal"
$F netem apply --topology lane --direction downstream --detach delay 5ms 2>&1 | grep -q "already has" && ok "second apply refused" || bad "second apply not refused"
$F netem apply --netns fl-lane-client --dev fl-lane-c --ingress --detach delay 15ms || bad "ingress through ifb"
X client -- $P udp-probe 10.213.0.2 7001 100 --interval-ms 5 || true
$F netem clear || bad "clear everything"

echo "== bad input"
$F netem apply --topology lane --direction upstream loss 120% 2>&1 | grep -q "out of range" && ok "loss 120% refused" || bad "loss 120% accepted"
$F netem apply --netns fl-nope --dev x delay 1ms 2>&1 | grep -q "no such network namespace" && ok "unknown netns refused" || bad "unknown netns"

echo "== topology down"
$F netem topology down lane || bad "topology down"
left=$(ls /run/netns 2>/dev/null | grep '^fl-' || true)
[ -z "$left" ] && ok "no fl- namespaces left" || bad "namespaces left: $left"

if [ $fails -eq 0 ]; then echo "LANE-RESULT: PASS"; else echo "LANE-RESULT: FAIL ($fails failures)"; fi

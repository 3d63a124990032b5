# Helpers for the hostile suite's `faultline wrap` signal cases, sourced by
# each: set `mark` (the sleep's unique duration, how leftovers are found) and
# `grace_ms` (wrap --shutdown-ms) first; FAULTLINE and WORK come from the runner.
wrap=
fail() { echo "$*"; exit 1; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
cleanup() {
  exec 3>&- 2>/dev/null
  [ -n "$wrap" ] && kill -KILL "$wrap" 2>/dev/null
  pkill -KILL -f "sleep $mark" 2>/dev/null  # the server, its sleep, wrap and its watcher all name it
  rm -f "$WORK/in.$mark"
}
trap cleanup EXIT
# Every process under $1.
tree_of() { local c; for c in $(pgrep -P "$1"); do echo "$c"; tree_of "$c"; done; }
# Of the pids given, those that still exist ("any") or still run ("running": not zombies), described.
left_of() {
  local mode=$1 p state out=; shift
  for p in "$@"; do
    state=$(cut -d' ' -f3 "/proc/$p/stat" 2>/dev/null) || continue
    [ -n "$state" ] || continue
    [ "$mode" = running ] && [ "$state" = Z ] && continue
    out+="pid $p ($state) $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-50); "
  done
  printf '%s' "$out"
}
# settle MS MODE PIDS...: waits up to MS for left_of to be empty; prints what is left if not.
settle() {
  local limit=$1 mode=$2 t0 left; shift 2; t0=$(now_ms)
  while left=$(left_of "$mode" "$@"); [ -n "$left" ]; do
    [ $(($(now_ms) - t0)) -ge "$limit" ] && { printf '%s' "$left"; return 1; }
    sleep 0.05
  done
}
# exit_within PID MS: waits for our child PID to exit; sets rc (its exit code) and took (ms), or fails.
exit_within() {
  local t0; t0=$(now_ms)
  while [ -e "/proc/$1" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" != Z ]; do
    [ $(($(now_ms) - t0)) -ge "$2" ] && fail "wrap did not exit within $2 ms $3"
    sleep 0.05
  done
  wait "$1"; rc=$?; took=$(($(now_ms) - t0)); wrap=
}
# start_wrap SERVER_SCRIPT: wrap runs `sh -c SERVER_SCRIPT`; fd 3 is the client's end of its stdin.
start_wrap() {
  mkfifo "$WORK/in.$mark"
  "$FAULTLINE" wrap --shutdown-ms "$grace_ms" -- sh -c "$1" <"$WORK/in.$mark" >"$WORK/out.$mark" 2>"$WORK/err.$mark" &
  wrap=$!
  exec 3>"$WORK/in.$mark"
  local _
  for _ in $(seq 200); do pgrep -f "^sleep $mark\$" >/dev/null && break; sleep 0.025; done
  pgrep -f "^sleep $mark\$" >/dev/null || fail "the server's sleep $mark never started: $(head -c 200 "$WORK/err.$mark")"
  tree=$( (tree_of "$wrap"; pgrep -f "^sleep $mark\$") | sort -u)  # the sleep may be orphaned already
}

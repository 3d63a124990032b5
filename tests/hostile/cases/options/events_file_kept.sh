#!/usr/bin/env bash
# An --events file that already holds a history is never truncated by
# accident: proxy, wrap and demo refuse it (exit 2, one line naming --events
# and the two ways out) and leave it as it was; --events-append adds a run
# after it, --force replaces it; an empty file is simply used.
set -u
fail() { echo "$1"; exit 1; }
history='{"t":0,"wall":"2026-01-01T00:00:00.000000Z","source":"proxy","kind":"run.start","seed":1}'
starts() { grep -c '"kind":"run.start"' "$1"; }

# run NAME EVENTS-OPTIONS...: the command NAME with its own options, the events options before any `--`
run() {
  local name=$1
  shift
  case $name in
    proxy) timeout 20 "$FAULTLINE" proxy --listen 127.0.0.1:0 --upstream 127.0.0.1:9 --duration 0.2 "$@" ;;
    wrap) timeout 20 "$FAULTLINE" wrap "$@" -- true ;;
    demo) timeout 20 "$FAULTLINE" demo --round-trips 1 "$@" ;;
  esac
}

for name in proxy wrap demo; do
  f="$WORK/$name.jsonl"
  printf '%s\n' "$history" >"$f"
  run "$name" --events "$f" 2>"$WORK/$name.err" >/dev/null
  rc=$?
  [ "$rc" -eq 2 ] || fail "$name: an events file with a history: exit $rc, want 2: $(head -c 300 "$WORK/$name.err")"
  grep -q -- "--events $f: exists and holds [0-9]* bytes of history; --events-append adds this run to it, --force replaces it" \
    "$WORK/$name.err" || fail "$name: the refusal does not name the file and the way out: $(head -c 300 "$WORK/$name.err")"
  [ "$(grep -c . "$WORK/$name.err")" -eq 1 ] || fail "$name: more than the error printed"
  [ "$(cat "$f")" = "$history" ] || fail "$name: the refused file was changed"

  run "$name" --events "$f" --events-append >/dev/null 2>"$WORK/$name.err" ||
    fail "$name --events-append: exit $?: $(head -c 300 "$WORK/$name.err")"
  [ "$(head -1 "$f")" = "$history" ] || fail "$name --events-append: the earlier history is gone"
  [ "$(starts "$f")" -eq 2 ] || fail "$name --events-append: $(starts "$f") run.start lines, want 2"
  tail -1 "$f" | grep -q '"kind":"run.end"' || fail "$name --events-append: the appended run has no run.end"

  run "$name" --events "$f" --force >/dev/null 2>"$WORK/$name.err" ||
    fail "$name --force: exit $?: $(head -c 300 "$WORK/$name.err")"
  [ "$(starts "$f")" -eq 1 ] || fail "$name --force: $(starts "$f") run.start lines, want 1 (replaced)"
  grep -q '"seed":1}$' <(head -1 "$f") && fail "$name --force: the old history is still first"

  : >"$WORK/empty.jsonl"
  run "$name" --events "$WORK/empty.jsonl" >/dev/null 2>"$WORK/$name.err" ||
    fail "$name: an empty events file: exit $?: $(head -c 300 "$WORK/$name.err")"
  [ "$(starts "$WORK/empty.jsonl")" -eq 1 ] || fail "$name: the empty events file did not get the run"
  rm -f "$WORK/empty.jsonl"
done

timeout 10 "$FAULTLINE" proxy --listen 127.0.0.1:0 --upstream 127.0.0.1:9 --events-append 2>"$WORK/alone.err"
rc=$?
[ "$rc" -eq 2 ] || fail "--events-append without --events: exit $rc, want 2: $(head -c 300 "$WORK/alone.err")"
timeout 10 "$FAULTLINE" proxy --listen 127.0.0.1:0 --upstream 127.0.0.1:9 --events "$WORK/x.jsonl" --events-append \
  --force 2>"$WORK/both.err"
rc=$?
[ "$rc" -eq 2 ] || fail "--events-append with --force: exit $rc, want 2: $(head -c 300 "$WORK/both.err")"
[ -e "$WORK/x.jsonl" ] && fail "--events-append with --force: the file was created before the refusal"
exit 0

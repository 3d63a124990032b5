#!/usr/bin/env bash
# Config files that are not small regular files: one over the 16 MiB limit is
# refused by size (not read), and a named pipe is refused at once (opening it
# must not wait for a writer). Exit 2 and one line naming the file each time.
set -u
fail() { echo "$1"; exit 1; }
truncate -s 17M "$WORK/big.json" || fail "cannot make a 17 MiB file"
timeout 10 "$FAULTLINE" proxy --config "$WORK/big.json" 2>"$WORK/big.err"
rc=$?
[ "$rc" -eq 2 ] || fail "17 MiB config: exit $rc, want 2: $(head -c 300 "$WORK/big.err")"
grep -q "big.json: is 17825792 bytes; a config file may hold at most 16 MiB" "$WORK/big.err" ||
  fail "17 MiB config: the error does not give the limit: $(head -c 300 "$WORK/big.err")"
[ "$(grep -c . "$WORK/big.err")" -eq 1 ] || fail "17 MiB config: more than the error printed"

mkfifo "$WORK/pipe.json" || fail "cannot make a fifo"
timeout 10 "$FAULTLINE" proxy --config "$WORK/pipe.json" 2>"$WORK/pipe.err"
rc=$?
[ "$rc" -eq 2 ] || fail "fifo config: exit $rc, want 2 (124: it waited for a writer): $(head -c 300 "$WORK/pipe.err")"
grep -q "pipe.json: is a pipe, not a regular file" "$WORK/pipe.err" ||
  fail "fifo config: the error does not say it is a pipe: $(head -c 300 "$WORK/pipe.err")"

timeout 10 "$FAULTLINE" wrap --faults "$WORK/big.json" -- true 2>"$WORK/wrap.err"
rc=$?
[ "$rc" -eq 2 ] || fail "17 MiB wrap --faults: exit $rc, want 2: $(head -c 300 "$WORK/wrap.err")"
exit 0

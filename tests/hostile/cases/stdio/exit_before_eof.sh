# `wrap --fault limit_data -- true`: the fault closes both outputs at once and
# the server exits at once, so the server's exit can be seen before the end of
# its stdout. wrap must end in every order these come in. (It used to wait
# forever when the end of the server's stdout came last: 9 of 20 runs hung,
# and SIGTERM could not end it, the server being gone.)
set -u
for i in $(seq 1 20); do
  timeout -k 1 10 "$FAULTLINE" wrap --events "$WORK/events$i.jsonl" --fault limit_data -- true \
    </dev/null >/dev/null 2>"$WORK/err"
  rc=$?
  [ "$rc" -eq 0 ] || { echo "run $i: wrap exited $rc (124 or 137: it hung): $(tail -1 "$WORK/err")"; exit 1; }
  grep -q '"stdio.end"' "$WORK/events$i.jsonl" || { echo "run $i: no stdio.end event"; exit 1; }
done
exit 0

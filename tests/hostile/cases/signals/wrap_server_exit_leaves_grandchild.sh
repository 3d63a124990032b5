#!/usr/bin/env bash
# The server exits on its own (code 0) and leaves a background child that
# ignores SIGTERM: wrap must end it (SIGTERM, then SIGKILL after the grace
# period) and reap it, then exit 0. Nothing may be left running or unreaped.
# Run: FAULTLINE=path/to/faultline WORK=$(mktemp -d) bash wrap_server_exit_leaves_grandchild.sh
mark=3006     # the sleep's unique duration: how leftovers are found
set -u
: "${FAULTLINE:?set FAULTLINE to the faultline binary}" "${WORK:?set WORK to a scratch directory}"
grace_ms=2000    # wrap --shutdown-ms: SIGTERM to SIGKILL (long enough to see the sleep start on a loaded machine)
# shellcheck source=../../lib/wrap_tree.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../lib/wrap_tree.sh"

# The server exits once its child runs the sleep: exiting sooner, the child could
# be ended before it set its trap, and there would be nothing left to check.
start_wrap "(trap '' TERM; exec sleep $mark) & while ! pgrep -f '^sleep $mark\$' >/dev/null; do sleep 0.01; done; exit 0"
exit_within "$wrap" $((grace_ms + 4000)) "after its server exited"
left=$(settle 1000 any $tree) || fail "server exited on its own: left behind after wrap exited (in $took ms): $left"
[ "$rc" -eq 0 ] || fail "server exited 0: wrap exit code $rc, want 0"
exit 0

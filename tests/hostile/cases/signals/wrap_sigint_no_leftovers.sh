#!/usr/bin/env bash
# `faultline wrap` gets SIGINT (Ctrl-C): it passes it on, the server exits,
# and the background child the server started must be ended too before wrap
# exits with the server's code, 130.
# Run: FAULTLINE=path/to/faultline WORK=$(mktemp -d) bash wrap_sigint_no_leftovers.sh
mark=3004     # the sleep's unique duration: how leftovers are found
set -u
: "${FAULTLINE:?set FAULTLINE to the faultline binary}" "${WORK:?set WORK to a scratch directory}"
grace_ms=500     # wrap --shutdown-ms: SIGTERM to SIGKILL
# shellcheck source=../../lib/wrap_tree.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../lib/wrap_tree.sh"

start_wrap "sleep $mark & wait"
kill -INT "$wrap"
exit_within "$wrap" $((2 * grace_ms + 3000)) "after SIGINT"
left=$(settle 1000 any $tree) || fail "SIGINT to wrap: left behind after it exited (in $took ms): $left"
[ "$rc" -eq 130 ] || fail "SIGINT to wrap: exit code $rc, want 130 (the server's 128+SIGINT)"
exit 0

#!/usr/bin/env bash
# `faultline wrap` gets SIGTERM: it passes it on, the server exits, and the
# background child the server started must be ended too (SIGTERM to the
# server's process group) before wrap exits with the server's code, 143.
# Run: FAULTLINE=path/to/faultline WORK=$(mktemp -d) bash wrap_sigterm_no_leftovers.sh
mark=3003     # the sleep's unique duration: how leftovers are found
set -u
: "${FAULTLINE:?set FAULTLINE to the faultline binary}" "${WORK:?set WORK to a scratch directory}"
grace_ms=500     # wrap --shutdown-ms: SIGTERM to SIGKILL
# shellcheck source=../../lib/wrap_tree.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../lib/wrap_tree.sh"

start_wrap "sleep $mark & wait"
kill -TERM "$wrap"
exit_within "$wrap" $((2 * grace_ms + 3000)) "after SIGTERM"
left=$(settle 1000 any $tree) || fail "SIGTERM to wrap: left behind after it exited (in $took ms): $left"
[ "$rc" -eq 143 ] || fail "SIGTERM to wrap: exit code $rc, want 143 (the server's 128+SIGTERM)"
exit 0

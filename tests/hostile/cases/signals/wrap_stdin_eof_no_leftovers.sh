#!/usr/bin/env bash
# The client closes wrap's stdin (the normal end of an MCP stdio session): the
# server reads EOF and exits 0, leaving a background child behind, which wrap
# must end and reap before it exits 0.
# Run: FAULTLINE=path/to/faultline WORK=$(mktemp -d) bash wrap_stdin_eof_no_leftovers.sh
mark=3007     # the sleep's unique duration: how leftovers are found
set -u
: "${FAULTLINE:?set FAULTLINE to the faultline binary}" "${WORK:?set WORK to a scratch directory}"
grace_ms=500     # wrap --shutdown-ms: SIGTERM to SIGKILL
# shellcheck source=../../lib/wrap_tree.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../lib/wrap_tree.sh"

start_wrap "sleep $mark & read line; exit 0"
exec 3>&-
exit_within "$wrap" $((2 * grace_ms + 3000)) "after its stdin closed"
left=$(settle 1000 any $tree) || fail "stdin closed: left behind after wrap exited (in $took ms): $left"
[ "$rc" -eq 0 ] || fail "stdin closed, server exited 0: wrap exit code $rc, want 0"
exit 0

#!/usr/bin/env bash
# `faultline wrap` gets SIGTERM but its server (and the server's background
# child) ignore SIGTERM: after the signal, the group gets SIGTERM and, a grace
# period later, SIGKILL. wrap exits (137) in bounded time, leaving nothing.
# Run: FAULTLINE=path/to/faultline WORK=$(mktemp -d) bash wrap_sigterm_server_ignores_term.sh
mark=3005     # the sleep's unique duration: how leftovers are found
set -u
: "${FAULTLINE:?set FAULTLINE to the faultline binary}" "${WORK:?set WORK to a scratch directory}"
grace_ms=500     # wrap --shutdown-ms: SIGTERM to SIGKILL
# shellcheck source=../../lib/wrap_tree.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../lib/wrap_tree.sh"

start_wrap "trap '' TERM INT; sleep $mark & wait"
kill -TERM "$wrap"
exit_within "$wrap" $((2 * grace_ms + 3000)) "after SIGTERM, with a server that ignores it"
left=$(settle 1000 any $tree) || fail "SIGTERM to wrap, server ignoring it: left behind after wrap exited: $left"
[ "$took" -ge $((grace_ms - 100)) ] || fail "SIGTERM to wrap: the server was SIGKILLed after $took ms, before the $grace_ms ms grace period"
[ "$rc" -eq 137 ] || fail "SIGTERM to wrap, server ignoring it: exit code $rc, want 137 (SIGKILL)"
exit 0

#!/usr/bin/env bash
# `faultline wrap` killed with SIGKILL while its server (and the server's
# background child) ignore SIGTERM: SIGTERM cannot end them, so SIGKILL must
# follow once the grace period has passed. Nothing may be left.
# Run: FAULTLINE=path/to/faultline WORK=$(mktemp -d) bash wrap_sigkill_server_ignores_term.sh
mark=3002     # the sleep's unique duration: how leftovers are found
set -u
: "${FAULTLINE:?set FAULTLINE to the faultline binary}" "${WORK:?set WORK to a scratch directory}"
grace_ms=500     # wrap --shutdown-ms: SIGTERM to SIGKILL
# shellcheck source=../../lib/wrap_tree.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../lib/wrap_tree.sh"

start_wrap "trap '' TERM; sleep $mark & wait"
t0=$(now_ms)
kill -KILL "$wrap"; wait "$wrap" 2>/dev/null; wrap=
left=$(settle $((grace_ms + 2000)) running $tree) || fail "SIGKILL of wrap, server ignoring SIGTERM: still running $((grace_ms + 2000)) ms later: $left"
took=$(($(now_ms) - t0))
[ "$took" -ge $((grace_ms - 100)) ] || fail "SIGKILL of wrap: a server ignoring SIGTERM was SIGKILLed after $took ms, before the $grace_ms ms grace period"
left=$(settle 10000 any $tree) || fail "SIGKILL of wrap, server ignoring SIGTERM: a zombie remains 10 s later: $left"
exit 0

#!/usr/bin/env bash
# `faultline wrap` killed with SIGKILL runs no code of its own, yet the server
# it started, and the background child that server started, must not outlive
# it: within the grace period they are gone (nothing running, no zombie left).
# Run: FAULTLINE=path/to/faultline WORK=$(mktemp -d) bash wrap_sigkill_no_leftovers.sh
mark=3001     # the sleep's unique duration: how leftovers are found
set -u
: "${FAULTLINE:?set FAULTLINE to the faultline binary}" "${WORK:?set WORK to a scratch directory}"
grace_ms=500     # wrap --shutdown-ms: SIGTERM to SIGKILL
# shellcheck source=../../lib/wrap_tree.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../lib/wrap_tree.sh"

start_wrap "sleep $mark & wait"
kill -KILL "$wrap"; wait "$wrap" 2>/dev/null; wrap=
left=$(settle $((grace_ms + 1500)) running $tree) || fail "SIGKILL of wrap: still running $((grace_ms + 1500)) ms later: $left"
left=$(settle 10000 any $tree) || fail "SIGKILL of wrap: a zombie remains 10 s later: $left"
exit 0

#!/usr/bin/env bash
# Runs one node:test file from tests/node; exit 77 (skipped) when node or the
# pinned npm packages are not installed (scripts/install-deps.sh installs them).
set -u
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v node >/dev/null; then echo "SKIPPED: node is not installed"; exit 77; fi
if [ ! -d "$here/node_modules" ]; then echo "SKIPPED: npm packages missing (run scripts/install-deps.sh)"; exit 77; fi
cd "$here" && exec node --test --test-reporter=spec "$@"

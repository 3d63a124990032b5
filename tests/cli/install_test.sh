#!/usr/bin/env bash
# `cmake --install` puts a working faultline in PREFIX/bin: installs the build
# tree into a temporary prefix and runs the installed binary.
# Usage: install_test.sh CMAKE BUILD_DIR
set -u
cmake=${1:?usage: install_test.sh CMAKE BUILD_DIR}
build=${2:?usage: install_test.sh CMAKE BUILD_DIR}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

if ! "$cmake" --install "$build" --prefix "$prefix" >"$work/log" 2>&1; then
  echo "FAIL cmake --install $build --prefix $prefix:"; sed 's/^/    /' "$work/log"; exit 1
fi
bin=$prefix/bin/faultline
if [ ! -x "$bin" ]; then
  echo "FAIL $bin was not installed; the prefix holds:"; (cd "$prefix" 2>/dev/null && find . | sed 's/^/    /'); exit 1
fi
version=$("$bin" --version 2>&1)
if ! printf '%s\n' "$version" | grep -qE '^faultline [0-9]+\.[0-9]+\.[0-9]+$'; then
  echo "FAIL $bin --version printed: $version"; exit 1
fi
if ! "$bin" wrap -- true </dev/null; then
  echo "FAIL the installed binary cannot run a command: $bin wrap -- true"; exit 1
fi
echo "ok   cmake --install: $bin ($version)"

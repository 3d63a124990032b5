#!/usr/bin/env bash
# What can be checked of docker/ without a Docker engine: every COPY source
# exists, the build stage's CMake configuration is valid, and the entrypoint
# behaves (runs the real faultline binary). Usage: docker_test.sh FAULTLINE_BINARY
set -u
bin=${1:?usage: docker_test.sh FAULTLINE_BINARY}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0
ok() { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }

# COPY sources (not --from stages) exist in the repository.
while read -r src; do
  [ "$src" = "." ] && continue
  if [ -e "$root/$src" ]; then ok "COPY source $src exists"; else fail "COPY source $src is missing"; fi
done < <(grep -E '^COPY ' "$root/docker/Dockerfile" | grep -v -- '--from' | awk '{print $2}')

# The build stage's configure step, as the Dockerfile runs it.
cmake_args=$(grep -oE 'cmake -S \. -B build [^&]*' "$root/docker/Dockerfile" | head -1 | sed 's/^cmake -S \. -B build //; s/\\$//')
if eval cmake -S "$root" -B "$work/build" "$cmake_args" >"$work/cmake.log" 2>&1; then
  ok "Dockerfile's CMake configuration ($cmake_args)"
else
  fail "Dockerfile's CMake configuration"; tail -5 "$work/cmake.log"
fi

# The entrypoint, with the real binary on PATH.
mkdir -p "$work/bin" && ln -s "$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")" "$work/bin/faultline"
sh -n "$root/docker/entrypoint.sh" && ok "entrypoint parses" || fail "entrypoint parses"
PATH="$work/bin:$PATH" sh "$root/docker/entrypoint.sh" proxy >/dev/null 2>"$work/err"
[ $? -eq 2 ] && grep -q FAULTLINE_API_TOKEN "$work/err" && ok "entrypoint refuses the API without a token" \
  || fail "entrypoint without a token"
PATH="$work/bin:$PATH" sh "$root/docker/entrypoint.sh" --version | grep -q '^faultline ' && ok "entrypoint passes arguments through" \
  || fail "entrypoint passes arguments through"
PATH="$work/bin:$PATH" FAULTLINE_API_TOKEN=t timeout 2 sh "$root/docker/entrypoint.sh" proxy 2>"$work/err"
grep -q 'admin API on http://0.0.0.0:8474' "$work/err" && ok "entrypoint serves the API with the token" \
  || { grep -q 'Address already in use' "$work/err" && ok "entrypoint serves the API (port 8474 busy here)" || { fail "entrypoint serves the API"; cat "$work/err"; }; }

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

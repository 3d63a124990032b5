#!/usr/bin/env bash
# DNS rebinding and cross-site requests to the admin API. On loopback, a
# request whose Host is not a loopback name or address, or that carries an
# Origin other than a loopback page, gets 403 with the API's JSON error body
# and changes nothing; what Toxiproxy's clients send (no Origin, Host
# 127.0.0.1:PORT or localhost:PORT) keeps working. Off loopback (with
# --api-token) Host is free, a foreign Origin is still refused.
set -u
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; }
trap cleanup EXIT
fail() { echo "$1"; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_api() {  # wait_api PORT [TOKEN]
  for _ in $(seq 100); do
    curl -s -m 1 -o /dev/null -H "Authorization: Bearer ${2:-}" "http://127.0.0.1:$1/version" && return 0
    sleep 0.05
  done
  fail "the admin API on port $1 did not come up: $(head -c 300 "$WORK/api.err")"
}

expect() {  # expect WANT_STATUS DESCRIPTION CURL_ARGS...
  local want=$1 what=$2; shift 2
  local got
  got=$(curl -s -m 5 -o "$WORK/body" -w '%{http_code}' "$@")
  [ "$got" = "$want" ] || fail "$what: status $got, want $want: $(head -c 200 "$WORK/body")"
  if [ "$want" = 403 ]; then
    python3 -c 'import json,sys; b=json.load(open(sys.argv[1])); assert b["status"]==403 and isinstance(b["error"],str), b' "$WORK/body" ||
      fail "$what: the 403 body is not {\"error\": ..., \"status\": 403}: $(head -c 200 "$WORK/body")"
  fi
}

port=$(free_port)
"$FAULTLINE" proxy --api "127.0.0.1:$port" 2>"$WORK/api.err" &
pids+=($!)
wait_api "$port"
api="http://127.0.0.1:$port"
expect 200 "no Origin, Host 127.0.0.1:PORT" "$api/proxies"
expect 200 "Host localhost:PORT" -H "Host: localhost:$port" "$api/proxies"
expect 200 "Host localhost" -H "Host: localhost" "$api/proxies"
expect 200 "Host [::1]:PORT" -H "Host: [::1]:$port" "$api/proxies"
expect 200 "Host 127.1.2.3" -H "Host: 127.1.2.3" "$api/version"
expect 200 "Origin http://localhost:3000" -H "Origin: http://localhost:3000" "$api/proxies"
expect 200 "Origin http://127.0.0.1:PORT" -H "Origin: http://127.0.0.1:$port" "$api/proxies"
expect 200 "Origin http://[::1]:PORT" -H "Origin: http://[::1]:$port" "$api/proxies"
expect 403 "Host evil.example (DNS rebinding)" -H "Host: evil.example:$port" "$api/proxies"
expect 403 "Host 127.evil.example" -H "Host: 127.evil.example:$port" "$api/proxies"
expect 403 "Host localhost.evil.example" -H "Host: localhost.evil.example" "$api/proxies"
expect 403 "Origin http://evil.example" -H "Origin: http://evil.example" "$api/proxies"
expect 403 "Origin null" -H "Origin: null" "$api/proxies"
expect 403 "Origin http://localhost.evil.example" -H "Origin: http://localhost.evil.example:$port" "$api/proxies"
expect 403 "a rebinding POST" -X POST -H "Host: evil.example:$port" -H 'Content-Type: application/json' \
  -d '{"name":"pwn","upstream":"127.0.0.1:9"}' "$api/proxies"
expect 403 "a cross-site POST" -X POST -H "Origin: http://evil.example" -H 'Content-Type: text/plain' \
  -d '{"name":"pwn","upstream":"127.0.0.1:9"}' "$api/proxies"
curl -s -m 5 "$api/proxies" | grep -q pwn && fail "a refused request created a proxy"

port2=$(free_port)
"$FAULTLINE" proxy --api "0.0.0.0:$port2" --api-token s3cret 2>"$WORK/api.err" &
pids+=($!)
wait_api "$port2" s3cret
api2="http://127.0.0.1:$port2"
expect 200 "off loopback: any Host, with the token" -H "Host: faultline.example:$port2" -H "Authorization: Bearer s3cret" "$api2/proxies"
expect 401 "off loopback: no token" -H "Host: faultline.example:$port2" "$api2/proxies"
expect 403 "off loopback: a foreign Origin, even with the token" -H "Origin: http://evil.example" -H "Authorization: Bearer s3cret" "$api2/proxies"
exit 0

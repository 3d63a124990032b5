#!/usr/bin/env bash
# The faultline command line as a user meets it: help, exit codes, one-line
# errors that name the place, a clean shutdown on SIGTERM with a complete
# event file, wrap leaving no process behind, and the built-in demo.
# Usage: cli_test.sh PATH/TO/faultline
set -u
bin=${1:?usage: cli_test.sh FAULTLINE_BINARY}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
passed=0 failed=0

check() {  # check NAME EXPECTED_EXIT STDERR_PATTERN -- COMMAND...
  local name=$1 want=$2 pattern=$3; shift 4
  timeout 20 "$@" >"$work/out" 2>"$work/err"
  local got=$?
  if [ "$got" -ne "$want" ]; then
    echo "FAIL $name: exit $got, want $want"; sed 's/^/    /' "$work/err" | head -5; failed=$((failed + 1)); return
  fi
  if [ -n "$pattern" ] && ! grep -qE -- "$pattern" "$work/err"; then
    echo "FAIL $name: stderr lacks /$pattern/:"; sed 's/^/    /' "$work/err" | head -5; failed=$((failed + 1)); return
  fi
  if [ "$want" -ne 0 ] && [ "$(grep -c . "$work/err")" -gt 2 ]; then
    echo "FAIL $name: error is not short:"; sed 's/^/    /' "$work/err"; failed=$((failed + 1)); return
  fi
  echo "ok   $name"; passed=$((passed + 1))
}

check_alone() {  # check_alone NAME EXPECTED_EXIT STDERR_PATTERN -- COMMAND...: as check, and the error is all that is printed
  local before=$failed
  check "$@"
  [ "$failed" -ne "$before" ] && return
  if [ "$(grep -c . "$work/err")" -ne 1 ]; then
    echo "FAIL $1: more than the error printed:"; sed 's/^/    /' "$work/err"; failed=$((failed + 1)); passed=$((passed - 1))
  fi
}

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

check "help" 0 "" -- "$bin" --help
check "proxy help" 0 "" -- "$bin" proxy --help
check "no subcommand" 2 "subcommand" -- "$bin"
check "unknown option" 2 "--bogus" -- "$bin" proxy --bogus
check "unknown fault type" 2 'unknown fault type "nosuch"' -- "$bin" proxy --listen 127.0.0.1:0 --upstream 127.0.0.1:9 --fault nosuch
check "out-of-range attribute" 2 '/attributes/latency: must be from 0' -- "$bin" proxy --listen 127.0.0.1:0 --upstream 127.0.0.1:9 --fault latency,latency=-1
check "unknown attribute" 2 '/attributes/latenzy: unknown attribute' -- "$bin" proxy --listen 127.0.0.1:0 --upstream 127.0.0.1:9 --fault latency,latenzy=1
check "toxicity out of range" 2 'toxicity: must be from 0 to 1' -- "$bin" proxy --listen 127.0.0.1:0 --upstream 127.0.0.1:9 --fault latency,toxicity=2
check "listen without upstream" 2 'give both' -- "$bin" proxy --listen 127.0.0.1:0
check "bad listen address" 2 'not HOST:PORT' -- "$bin" proxy --listen 127.0.0.1 --upstream 127.0.0.1:9
check "unresolvable upstream" 3 'bad\.\.host:80 does not resolve' -- "$bin" proxy --listen 127.0.0.1:0 --upstream bad..host:80
check "frame fault on a tcp link" 2 'drop fault acts on JSON-RPC messages.*protocol is tcp' -- "$bin" proxy --listen 127.0.0.1:0 --upstream 127.0.0.1:9 --fault drop,method=tools/call
check "unknown protocol" 2 'unknown protocol "gopher"' -- "$bin" proxy --listen 127.0.0.1:0 --upstream 127.0.0.1:9 --protocol gopher
check "API off loopback needs a token" 2 'requires --api-token' -- "$bin" proxy --api 0.0.0.0:0

# A port in use.
node -e 'require("net").createServer().listen(0,"127.0.0.1",function(){console.log(this.address().port)})' >"$work/busy" &
for _ in $(seq 50); do [ -s "$work/busy" ] && break; sleep 0.1; done
busy=$(cat "$work/busy")
check "port in use" 3 "cannot listen on 127.0.0.1:$busy: Address already in use" -- "$bin" proxy --listen "127.0.0.1:$busy" --upstream 127.0.0.1:9
check "API port in use" 3 "admin API: cannot listen on 127.0.0.1:$busy" -- "$bin" proxy --api "127.0.0.1:$busy"

# Config files.
printf '[{"name":"a","listen":"127.0.0.1:0",\n "upstream":"127.0.0.1:9",}]' >"$work/broken.json"
check "malformed config names the line" 2 "broken.json: parse error at line 2" -- "$bin" proxy --config "$work/broken.json"
echo '[{"name":"a","listen":"127.0.0.1:0","upstream":"127.0.0.1:9","toxics":[{"type":"latency","attributes":{"latency":"slow"}}]}]' >"$work/badvalue.json"
check "bad value in config names the pointer" 2 "badvalue.json: /0/toxics/0/attributes/latency: must be a number" -- "$bin" proxy --config "$work/badvalue.json"
check "missing config" 2 "nope.json: cannot open file" -- "$bin" proxy --config "$work/nope.json"

# max_message: a whole number of bytes from 1024 to 1 GiB, on links that decode messages.
echo '[{"name":"a","upstream":"127.0.0.1:9","protocol":"websocket","max_message":10}]' >"$work/max_small.json"
check "max_message out of range" 2 "max_small.json: /0/max_message: must be a whole number of bytes from 1024 to 1073741824 \(1 GiB\), got 10" -- "$bin" proxy --config "$work/max_small.json"
echo '[{"name":"a","upstream":"127.0.0.1:9","protocol":"http","max_message":4096},{"name":"b","upstream":"127.0.0.1:9","protocol":"http","max_message":"big"}]' >"$work/max_text.json"
check "max_message not a number" 2 'max_text.json: /1/max_message: must be a whole number of bytes from 1024 to 1073741824 \(1 GiB\), got "big"' -- "$bin" proxy --config "$work/max_text.json"
echo '[{"name":"a","upstream":"127.0.0.1:9","max_message":4096}]' >"$work/max_tcp.json"
check "max_message on a tcp link" 2 "max_tcp.json: /0/max_message: only websocket and http links decode messages" -- "$bin" proxy --config "$work/max_tcp.json"
check "--max-message out of range" 2 "--max-message: must be a whole number of bytes from 1024 to 1073741824, got 10" -- "$bin" proxy --listen 127.0.0.1:0 --upstream 127.0.0.1:9 --protocol websocket --max-message 10
check "--max-message on a tcp link" 2 "proxy: --max-message: only websocket and http links decode messages" -- "$bin" proxy --listen 127.0.0.1:0 --upstream 127.0.0.1:9 --max-message 4096
check "--max-message without a link" 2 "--max-message: needs --listen and --upstream" -- "$bin" proxy --max-message 4096
check "--max-message runs" 0 "" -- "$bin" proxy --listen 127.0.0.1:0 --upstream 127.0.0.1:9 --protocol http --max-message 4096 --duration 0.2
check "wrap --max-message out of range" 2 "--max-message: must be a whole number of bytes from 1024 to 1073741824, got 1073741825" -- "$bin" wrap --max-message 1073741825 -- true
check "wrap --max-message not a number" 2 "--max-message: must be a whole number of bytes from 1024 to 1073741824, got big" -- "$bin" wrap --max-message big -- true

# wrap refuses frame faults a stdio link cannot apply, naming the pointer and the transport they need.
echo '[{"type":"drop"},{"type":"ws_close","attributes":{"after_ms":10}}]' >"$work/wrap_ws.json"
check "wrap refuses a websocket fault" 2 "wrap_ws.json /1/type: a ws_close fault does not work on a stdio link \(websocket only" -- "$bin" wrap --faults "$work/wrap_ws.json" -- true
for type in forget_session unknown_session get_405 close_sse strip_event_ids rewrite_retry; do
  echo '[{"type":"'$type'"}]' >"$work/wrap_http.json"
  check "wrap refuses $type" 2 "wrap_http.json /0/type: a $type fault does not work on a stdio link \(http only" -- "$bin" wrap --faults "$work/wrap_http.json" -- true
done
for type in swallow_pongs fragment; do
  check "wrap refuses --fault $type" 2 "--fault $type /type: a $type fault does not work on a stdio link \(websocket only" -- "$bin" wrap --fault "$type" -- true
done
echo '[{"type":"drop","match":{"session":"abc"}}]' >"$work/wrap_session.json"
check "wrap refuses a session match" 2 "wrap_session.json /0/match/session: a session match needs an http link" -- "$bin" wrap --faults "$work/wrap_session.json" -- true
echo '[{"type":"drop","match":{"method":"tools/call"}},{"type":"kill","attributes":{"after_ms":60000}}]' >"$work/wrap_ok.json"
check "wrap takes stdio faults" 0 "" -- "$bin" wrap --faults "$work/wrap_ok.json" -- true
check "wrap refuses down" 2 "--fault down /type: a down fault acts on connecting" -- "$bin" wrap --fault down -- true
check "wrap refuses slow_open" 2 "--fault slow_open,delay=5 /type: a slow_open fault acts on connecting" -- "$bin" wrap --fault slow_open,delay=5 -- true
echo '[{"type":"latency","stream":"downstream","attributes":{"latency":5}},{"type":"drop","name":"latency_downstream"}]' >"$work/wrap_dup.json"
check "wrap refuses a duplicate fault name" 2 'wrap_dup.json /1/name: a fault named "latency_downstream" already exists' -- "$bin" wrap --faults "$work/wrap_dup.json" -- true
echo '[{"type":"latency","stream":"downstream","attributes":{"latency":5}},{"type":"limit_data","stream":"upstream","attributes":{"bytes":100}}]' >"$work/wrap_bytes.json"
check "http link refuses a timed banner" 2 "/attributes/after_ms: a timed trigger does not work on an http link" -- "$bin" proxy --listen 127.0.0.1:0 --upstream 127.0.0.1:9 --protocol http --fault banner,text=hello,after_ms=100
check "wrap takes byte faults" 0 "" -- "$bin" wrap --faults "$work/wrap_bytes.json" -- true

# Numeric options: nan, infinities, negatives and out-of-range values are
# refused by name with the rule (CLI11 alone lets nan through a range and
# wraps -1 into an unsigned option).
L="--listen 127.0.0.1:0 --upstream 127.0.0.1:9"
check "--duration 1e10" 2 "--duration: must be a number of seconds from 0 to 31536000, got 1e10" -- "$bin" proxy $L --duration 1e10
check "--duration nan" 2 "--duration: must be a number of seconds from 0 to 31536000, got nan" -- "$bin" proxy $L --duration nan
check "--duration inf" 2 "--duration: must be a number of seconds from 0 to 31536000, got inf" -- "$bin" proxy $L --duration inf
check "--duration -1" 2 "--duration: must be a number of seconds from 0 to 31536000, got -1" -- "$bin" proxy $L --duration -1
check "--duration 0.2 runs" 0 "" -- "$bin" proxy $L --duration 0.2
check "--grace nan" 2 "--grace: must be a number of seconds from 0 to 3600, got nan" -- "$bin" proxy $L --grace nan --duration 0.2
check "--seed -1" 2 "--seed: must be a whole number from 0 to 18446744073709551615, got -1" -- "$bin" proxy $L --seed -1 --duration 0.2
check "--seed 2^64" 2 "--seed: must be a whole number from 0 to 18446744073709551615, got 18446744073709551616" -- "$bin" proxy $L --seed 18446744073709551616
check "--seed 2^64-1 runs" 0 "" -- "$bin" proxy $L --seed 18446744073709551615 --duration 0.2
check "--threads -1" 2 "--threads: must be a whole number from 0 to 256, got -1" -- "$bin" proxy $L --threads -1
check "--max-message -1" 2 "--max-message: must be a whole number of bytes from 1024 to 1073741824, got -1" -- "$bin" proxy $L --protocol http --max-message -1
check "wrap --seed -1" 2 "--seed: must be a whole number from 0 to 18446744073709551615, got -1" -- "$bin" wrap --seed -1 -- true
check "wrap --shutdown-ms nan" 2 "--shutdown-ms: must be a whole number of milliseconds from 0 to 600000, got nan" -- "$bin" wrap --shutdown-ms nan -- true
check "wrap --shutdown-ms 1.5" 2 "--shutdown-ms: must be a whole number of milliseconds from 0 to 600000, got 1.5" -- "$bin" wrap --shutdown-ms 1.5 -- true
check "demo --seed -1" 2 "--seed: must be a whole number from 0 to 18446744073709551615, got -1" -- "$bin" demo --seed -1
check "demo --latency nan" 2 "--latency: must be a whole number of milliseconds from 1 to 10000, got nan" -- "$bin" demo --latency nan
check "demo --round-trips -5" 2 "--round-trips: must be a whole number from 1 to 100000, got -5" -- "$bin" demo --round-trips -5

# --fault: a key given twice; the JSON form's errors keep the --fault prefix; a
# fault the link cannot take is blamed on --fault, not --listen.
check "--fault with a key twice" 2 '--fault latency,latency=5,latency=6: "latency" is given twice' -- "$bin" proxy $L --fault latency,latency=5,latency=6
check "JSON --fault with a string attribute" 2 'proxy: --fault \{"type":"latency","attributes":\{"latency":"x"\}\}: /attributes/latency: must be a number' -- "$bin" proxy $L --fault '{"type":"latency","attributes":{"latency":"x"}}'
check "drop on a tcp link blames --fault" 2 'proxy: --fault drop,method=tools/call: /type: a drop fault acts on JSON-RPC' -- "$bin" proxy $L --fault drop,method=tools/call

# A link into itself (upstream = its own listen address, compared resolved) is refused at load.
port=$(free_port)
check "--upstream = --listen" 2 "proxy: --upstream: 127.0.0.1:$port is the link's own listen address 127.0.0.1:$port" -- "$bin" proxy --listen "127.0.0.1:$port" --upstream "127.0.0.1:$port" --duration 1
check "0.0.0.0 listen, 127.0.0.1 upstream" 2 "proxy: --upstream: 127.0.0.1:$port is the link's own listen address 0.0.0.0:$port" -- "$bin" proxy --listen "0.0.0.0:$port" --upstream "127.0.0.1:$port" --duration 1
check "localhost upstream to its own port" 2 "proxy: --upstream: localhost:$port \(127.0.0.1\) is the link's own" -- "$bin" proxy --listen "127.0.0.1:$port" --upstream "localhost:$port" --duration 1
echo '[{"name":"a","upstream":"127.0.0.1:9"},{"name":"loop","listen":"127.0.0.1:'$port'","upstream":"127.0.0.1:'$port'"}]' >"$work/loop.json"
check "a config link into itself" 2 "loop.json: /1/upstream: 127.0.0.1:$port is the link's own listen address" -- "$bin" proxy --config "$work/loop.json" --duration 1
check "listen port 0 cannot loop" 0 "" -- "$bin" proxy --listen 127.0.0.1:0 --upstream 127.0.0.1:1 --duration 0.2

# Listen host names: looked up at startup; one that does not resolve is named by option or file and pointer.
check "--listen with an unresolvable name" 3 "proxy: --listen: listen host nosuch.invalid does not resolve" -- "$bin" proxy --listen nosuch.invalid:0 --upstream 127.0.0.1:9
echo '[{"name":"a","listen":"nosuch.invalid:0","upstream":"127.0.0.1:9"}]' >"$work/listen_name.json"
check "config listen with an unresolvable name" 3 "listen_name.json /0/listen: listen host nosuch.invalid does not resolve" -- "$bin" proxy --config "$work/listen_name.json"
check "--listen LOCALHOST" 0 "link link: 127.0.0.1:[0-9]+ -> 127.0.0.1:9" -- "$bin" proxy --listen LOCALHOST:0 --upstream 127.0.0.1:9 --duration 0.2
if getent hosts "$(hostname)" >/dev/null; then
  check "--listen with a host name that resolves" 0 "link link: [^ ]+:[0-9]+ -> 127.0.0.1:9" -- "$bin" proxy --listen "$(hostname):0" --upstream 127.0.0.1:9 --duration 0.2
fi

# Config files: a regular file of at most 16 MiB; anything else is named for what it is.
check_alone "config /dev/zero" 2 "/dev/zero: is a character device, not a regular file" -- "$bin" proxy --config /dev/zero
check_alone "config directory" 2 "$work: is a directory, not a JSON file" -- "$bin" proxy --config "$work"
truncate -s 17M "$work/big.json"
check_alone "config over 16 MiB" 2 "big.json: is 17825792 bytes; a config file may hold at most 16 MiB \(16777216 bytes\)" -- "$bin" proxy --config "$work/big.json"
mkfifo "$work/pipe.json"
check_alone "config fifo" 2 "pipe.json: is a pipe, not a regular file" -- "$bin" proxy --config "$work/pipe.json"
check_alone "wrap --faults directory" 2 "$work: is a directory, not a JSON file" -- "$bin" wrap --faults "$work" -- true
(printf '['; head -c 100000 /dev/zero | tr '\0' '['; head -c 100000 /dev/zero | tr '\0' ']'; printf ']') >"$work/deep.json"
check_alone "config nested 100000 deep" 2 "deep.json: nests deeper than 512 levels" -- "$bin" proxy --config "$work/deep.json"
# An error run prints the error and nothing else (no "seed" line before it).
check_alone "config error alone" 2 "badvalue.json: /0/toxics/0/attributes/latency: must be a number" -- "$bin" proxy --config "$work/badvalue.json"
check_alone "port in use alone" 3 "cannot listen on 127.0.0.1:$busy" -- "$bin" proxy --listen "127.0.0.1:$busy" --upstream 127.0.0.1:9

# A run that ends on SIGTERM leaves a complete event file.
port=$(free_port)
"$bin" proxy --listen "127.0.0.1:$port" --upstream 127.0.0.1:9 --fault latency,latency=10 --events "$work/events.jsonl" --seed 5 2>"$work/run.err" &
pid=$!
for _ in $(seq 100); do grep -q '"link.up"' "$work/events.jsonl" 2>/dev/null && break; sleep 0.05; done
node -e 'const s=require("net").connect('"$port"',"127.0.0.1",()=>s.write("hi"));s.on("error",()=>{});s.on("close",()=>process.exit(0));setTimeout(()=>process.exit(0),2000)'
kill -TERM "$pid"; wait "$pid"; rc=$?
if [ "$rc" -eq 0 ] && node -e '
  const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
  const kinds = lines.map((l) => l.kind);
  const need = ["run.start", "link.up", "fault.start", "conn.open", "conn.close", "link.down", "run.end"];
  for (const k of need) if (!kinds.includes(k)) throw new Error("missing " + k);
  if (kinds.at(-1) !== "run.end") throw new Error("last line is " + kinds.at(-1));
  if (lines[0].seed !== 5) throw new Error("seed not recorded");
' "$work/events.jsonl"; then
  echo "ok   SIGTERM: exit 0 and a complete event file"; passed=$((passed + 1))
else
  echo "FAIL SIGTERM: exit $rc"; cat "$work/run.err" "$work/events.jsonl" | head -20; failed=$((failed + 1))
fi

# SIGTERM with data held by a latency fault: it is delivered before the FIN,
# without waiting out the fault, and faultline exits 0.
node -e 'const s=require("net").createServer(c=>c.pipe(c)).listen(0,"127.0.0.1",()=>console.log(s.address().port))' >"$work/echo" &
for _ in $(seq 50); do [ -s "$work/echo" ] && break; sleep 0.1; done
port=$(free_port)
"$bin" proxy --listen "127.0.0.1:$port" --upstream "127.0.0.1:$(cat "$work/echo")" --fault latency,latency=3000 \
  --events "$work/drain.jsonl" 2>"$work/drain.err" &
pid=$!
for _ in $(seq 100); do grep -q '"link.up"' "$work/drain.jsonl" 2>/dev/null && break; sleep 0.05; done
node -e '
  const s = require("net").connect(process.argv[1], "127.0.0.1", () => s.write("held"));
  let got = "", t0;
  s.on("data", (d) => { got += d; });
  s.on("end", () => {
    const ms = Date.now() - t0;
    if (got !== "held") { console.error("got " + JSON.stringify(got)); process.exit(1); }
    if (ms > 2000) { console.error("delivered after " + ms + " ms"); process.exit(1); }
    process.exit(0);
  });
  s.on("error", (e) => { console.error(e.message); process.exit(1); });
  setTimeout(() => { t0 = Date.now(); process.kill(Number(process.argv[2]), "SIGTERM"); }, 300);
  setTimeout(() => { console.error("no end"); process.exit(1); }, 5000);
' "$port" "$pid" 2>"$work/drain.client"; client_rc=$?
wait "$pid"; rc=$?
if [ "$client_rc" -eq 0 ] && [ "$rc" -eq 0 ] && grep -q '"how":"drain"' "$work/drain.jsonl"; then
  echo "ok   SIGTERM drains: held data delivered, then FIN, exit 0"; passed=$((passed + 1))
else
  echo "FAIL SIGTERM drain: client $client_rc, exit $rc"; cat "$work/drain.client" "$work/drain.err"; failed=$((failed + 1))
fi

# wrap leaves nothing behind: the server runs `sleep MARK` in the background;
# after SIGNAL to wrap, within LIMIT seconds wrap has exited with WANT and no
# process of the server's runs (SIGKILL of wrap: its watcher ends the group).
exited() { local s; s=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null); [ -z "$s" ] || [ "$s" = Z ]; }
wrap_leaves_nothing() {  # wrap_leaves_nothing NAME SIGNAL WANT_EXIT LIMIT MARK SERVER_SCRIPT
  local name=$1 sig=$2 want=$3 limit=$4 mark=$5 script=$6 pid rc left=
  mkfifo "$work/wrap.$mark"
  "$bin" wrap --shutdown-ms 300 -- sh -c "$script" <"$work/wrap.$mark" >/dev/null 2>"$work/wrap.err" &
  pid=$!
  exec 4>"$work/wrap.$mark"  # the client's end of wrap's stdin stays open
  for _ in $(seq 100); do pgrep -f "^sleep $mark\$" >/dev/null && break; sleep 0.05; done
  kill -"$sig" "$pid"
  for _ in $(seq $((limit * 20))); do
    exited "$pid" && ! pgrep -f "^sleep $mark\$" >/dev/null && break
    sleep 0.05
  done
  exited "$pid" || left="wrap still running; "
  kill -KILL "$pid" 2>/dev/null; wait "$pid"; rc=$?
  pgrep -f "^sleep $mark\$" >/dev/null && left+="its server's sleep $mark still running; "
  [ "$rc" -eq "$want" ] || left+="exit $rc, want $want; "
  exec 4>&-
  pkill -KILL -f "sleep $mark" 2>/dev/null
  if [ -z "$left" ]; then
    echo "ok   $name"; passed=$((passed + 1))
  else
    echo "FAIL $name: after SIG$sig and $limit s: $left"; sed 's/^/    /' "$work/wrap.err" | head -5; failed=$((failed + 1))
  fi
}
wrap_leaves_nothing "wrap SIGKILLed: its watcher ends the server's group" KILL 137 3 3021 "trap '' TERM; sleep 3021 & wait"
wrap_leaves_nothing "wrap SIGTERMed: the server's background child ends too" TERM 143 3 3022 "sleep 3022 & wait"
wrap_leaves_nothing "wrap SIGTERMed, server ignores it: SIGTERM to the group, then SIGKILL" TERM 137 3 3023 "trap '' TERM; sleep 3023 & wait"

# The built-in demo.
if timeout 60 "$bin" demo --events "$work/demo.jsonl" >"$work/demo.out" 2>&1 && grep -q "every fault had the effect it promised" "$work/demo.out"; then
  echo "ok   demo"; passed=$((passed + 1))
else
  echo "FAIL demo"; cat "$work/demo.out"; failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

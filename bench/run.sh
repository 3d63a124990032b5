#!/usr/bin/env bash
# Benchmarks the faultline TCP proxy against direct, haproxy (tcp mode) and socat on
# loopback, in one run: iperf3 throughput (1 and 8 streams), 64-byte round trips
# (p50/p99), latency-fault fidelity (10 ms and 100 ms) and 10,000 idle connections
# with faultline's RSS. Prints a table and writes bench/results/<stamp>.md and .json.
# It prints figures; it gates nothing. See bench/README.md.
#
# Usage: bench/run.sh [--quick] [--rounds N] [--seconds S] [--no-build]
#                     [--faultline PATH] [--idle-count N] [--keep-logs]
#                     [--only throughput,rtt,fidelity,idle] [--rtt-rounds N]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
build="$root/build-bench"

quick=0 rounds="" seconds="" do_build=1 faultline_bin="" idle_want=10000 keep_logs=0
only="throughput,rtt,fidelity,idle" rtt_rounds_arg=""
while (($#)); do
  case "$1" in
    --quick) quick=1 ;;
    --rounds) rounds=$2; shift ;;
    --seconds) seconds=$2; shift ;;
    --no-build) do_build=0 ;;
    --faultline) faultline_bin=$2; shift ;;
    --idle-count) idle_want=$2; shift ;;
    --keep-logs) keep_logs=1 ;;
    --only) only=$2; shift ;;
    --rtt-rounds) rtt_rounds_arg=$2; shift ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done

# Sizes: --quick is a smoke run (about a minute); the full run interleaves 5 rounds.
if ((quick)); then
  : "${rounds:=1}" "${seconds:=2}"
  rtt_rounds=$rounds rtt_count=5000 fid_count_10=400 fid_count_100=200
else
  : "${rounds:=5}" "${seconds:=3}"
  rtt_rounds=$((rounds * 2)) rtt_count=10000 fid_count_10=2000 fid_count_100=1000
fi
[ -z "$rtt_rounds_arg" ] || rtt_rounds=$rtt_rounds_arg
# wants PART: the part is in --only (all of them by default).
wants() { [[ ",$only," == *",$1,"* ]]; }
for part in ${only//,/ }; do
  case "$part" in throughput|rtt|fidelity|idle) ;; *) echo "run.sh: --only: unknown part '$part' (throughput, rtt, fidelity, idle)" >&2; exit 2 ;; esac
done

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# ---------------------------------------------------------------- dependencies
need_deps=0
for tool in haproxy socat iperf3 cmake g++; do command -v "$tool" >/dev/null || need_deps=1; done
if ((need_deps)); then
  log "installing dependencies (scripts/install-deps.sh)"
  "$root/scripts/install-deps.sh"
fi
if ! command -v python3 >/dev/null; then
  log "installing python3 (summaries)"
  sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends python3
fi
PATH="$PATH:/usr/sbin:/sbin"

# ---------------------------------------------------------------- build
generator=(); command -v ninja >/dev/null && generator=(-G Ninja)
jobs=${BENCH_JOBS:-2}
tools_dir="" faultline_missing=""
if ((do_build)); then
  log "configuring $build (Release)"
  mkdir -p "$build"
  if cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release >"$build/bench-configure.log" 2>&1 ||
     { [ -f "$build/build.ninja" ] || [ -f "$build/Makefile" ]; }; then
    if cmake --build "$build" -j "$jobs" --target faultline-bench-rtt faultline-bench-idle >"$build/bench-tools.log" 2>&1; then
      tools_dir="$build/bench"
    fi
    if [ -z "$faultline_bin" ]; then
      log "building faultline (may take a while)"
      if cmake --build "$build" -j "$jobs" --target faultline >"$build/bench-faultline.log" 2>&1; then
        faultline_bin="$build/cli/faultline"
      else
        faultline_missing="binary not built: $(grep -m1 -E 'error|Error' "$build/bench-faultline.log" | cut -c1-120 || true)"
      fi
    fi
  else
    faultline_missing="binary not built: the tree does not configure ($(grep -m1 -E 'Error|error' "$build/bench-configure.log" | cut -c1-100 || true))"
  fi
  if [ -z "$tools_dir" ]; then
    # The rest of the tree may not build yet; the bench tools stand alone.
    log "building the bench tools on their own ($build/bench-only)"
    cmake -S "$here" -B "$build/bench-only" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$build/bench-only" -j "$jobs" >/dev/null
    tools_dir="$build/bench-only"
  fi
else
  for d in "$build/bench" "$build/bench-only"; do [ -x "$d/faultline-bench-rtt" ] && { tools_dir=$d; break; }; done
  [ -n "$tools_dir" ] || { echo "run.sh: --no-build but no bench tools under $build" >&2; exit 2; }
  [ -n "$faultline_bin" ] || faultline_bin="$build/cli/faultline"
fi
if [ -n "$faultline_bin" ] && [ ! -x "$faultline_bin" ]; then
  faultline_missing="binary not built ($faultline_bin missing)"
  faultline_bin=""
fi
[ -n "$faultline_bin" ] || : "${faultline_missing:=binary not built}"
rtt="$tools_dir/faultline-bench-rtt"
idle="$tools_dir/faultline-bench-idle"

# ---------------------------------------------------------------- processes and ports
work=$(mktemp -d /tmp/faultline-bench.XXXXXX)
raw="$work/raw.jsonl"
: >"$raw"
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if ((keep_logs)); then echo "logs kept in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Each proxy holds two fds per connection; raise the limit as far as the hard limit allows.
hard_nofile=$(ulimit -Hn)
[ "$hard_nofile" = unlimited ] && hard_nofile=1048576
ulimit -n "$((hard_nofile > 1048576 ? 1048576 : hard_nofile))"

# Ports below the ephemeral range, so thousands of outgoing connections cannot take them.
next_port=$((20000 + RANDOM % 8000))
port_free() { [ -z "$(ss -Htln "sport = :$1" 2>/dev/null)" ]; }
alloc_port() {
  while ! port_free "$next_port"; do next_port=$((next_port + 1)); done
  REPLY=$next_port
  next_port=$((next_port + 1))
}

# start NAME CMD...: runs CMD in the background, logs to $work/NAME.log, sets REPLY to its pid.
start() {
  local name=$1; shift
  "$@" >"$work/$name.log" 2>&1 &
  pids+=("$!")
  REPLY=$!
}

# wait_port PORT PID: until PORT listens (true) or PID dies / 10 s pass (false).
wait_port() {
  local i
  for ((i = 0; i < 200; i++)); do
    ss -Htln "sport = :$1" 2>/dev/null | grep -q . && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

record() { printf '%s\n' "$1" >>"$raw"; }
unavailable() { record "{\"kind\":\"unavailable\",\"path\":\"$1\",\"reason\":$(python3 -c 'import json,sys;print(json.dumps(sys.argv[1]))' "$2")}"; }

# ---------------------------------------------------------------- upstreams
alloc_port; p_iperf=$REPLY
alloc_port; p_echo=$REPLY
alloc_port; p_idle=$REPLY
start iperf3-server iperf3 -s -B 127.0.0.1 -p "$p_iperf"; iperf_pid=$REPLY
start echo-server "$rtt" serve --listen "127.0.0.1:$p_echo"; echo_pid=$REPLY
start idle-server "$idle" serve --listen "127.0.0.1:$p_idle"; idle_srv_pid=$REPLY
wait_port "$p_iperf" "$iperf_pid" && wait_port "$p_echo" "$echo_pid" && wait_port "$p_idle" "$idle_srv_pid" || {
  echo "run.sh: an upstream did not start; logs in $work" >&2; keep_logs=1; exit 1
}

# ---------------------------------------------------------------- proxies under test
declare -A iperf_port echo_port proxy_pid
paths=(direct)
iperf_port[direct]=$p_iperf echo_port[direct]=$p_echo

# faultline: one process per link (the proxy subcommand serves one link).
# start_faultline NAME UPSTREAM_PORT [--fault SPEC]: sets REPLY to the listen port, or fails.
start_faultline() {
  local name=$1 upstream=$2; shift 2
  local port pid
  alloc_port; port=$REPLY
  start "$name" "$faultline_bin" --log-level warn proxy --listen "127.0.0.1:$port" --upstream "127.0.0.1:$upstream" "$@"
  pid=$REPLY
  if wait_port "$port" "$pid"; then REPLY=$port; LAST_PID=$pid; return 0; fi
  kill "$pid" 2>/dev/null || true
  FAIL_REASON="failed to start: $(grep -m1 . "$work/$name.log" | cut -c1-140 || true)"
  return 1
}

if [ -n "$faultline_bin" ]; then
  if start_faultline faultline-iperf "$p_iperf" && iperf_port[faultline]=$REPLY && proxy_pid[faultline]=$LAST_PID &&
     start_faultline faultline-echo "$p_echo" && echo_port[faultline]=$REPLY; then
    paths+=(faultline)
  else
    unavailable faultline "$FAIL_REASON"
  fi
else
  unavailable faultline "$faultline_missing"
fi

# haproxy in tcp mode, threads left at its default (one per CPU).
alloc_port; iperf_port[haproxy]=$REPLY
alloc_port; echo_port[haproxy]=$REPLY
alloc_port; p_haproxy_idle=$REPLY
# Proxy: client side and upstream side each take an fd, so the hard limit caps the idle count.
idle_cap=$(((hard_nofile - 100) / 2))
idle_count=$((idle_want < idle_cap ? idle_want : idle_cap))
# haproxy refuses to start when 2 x maxconn (plus its listeners) exceeds the open-file limit.
haproxy_maxconn=$((idle_count + 50))
((haproxy_maxconn > (hard_nofile - 40) / 2)) && haproxy_maxconn=$(((hard_nofile - 40) / 2))
cat >"$work/haproxy.cfg" <<EOF
global
  maxconn $haproxy_maxconn
defaults
  mode tcp
  timeout connect 5s
  timeout client 1h
  timeout server 1h
listen iperf
  bind 127.0.0.1:${iperf_port[haproxy]}
  server upstream 127.0.0.1:$p_iperf
listen echo
  bind 127.0.0.1:${echo_port[haproxy]}
  server upstream 127.0.0.1:$p_echo
listen idle
  bind 127.0.0.1:$p_haproxy_idle
  maxconn $haproxy_maxconn
  server upstream 127.0.0.1:$p_idle maxconn $haproxy_maxconn
EOF
start haproxy haproxy -db -f "$work/haproxy.cfg"; haproxy_pid=$REPLY proxy_pid[haproxy]=$REPLY
if wait_port "${iperf_port[haproxy]}" "$haproxy_pid"; then
  paths+=(haproxy)
else
  unavailable haproxy "failed to start: $(grep -m1 -i alert "$work/haproxy.log" | cut -c1-140 || true)"
fi

# socat with a 64 KiB buffer, a process per connection (fork), Nagle off like the others.
alloc_port; iperf_port[socat]=$REPLY
alloc_port; echo_port[socat]=$REPLY
start socat-iperf socat -b65536 "TCP-LISTEN:${iperf_port[socat]},bind=127.0.0.1,reuseaddr,fork,nodelay" "TCP:127.0.0.1:$p_iperf,nodelay"
s1=$REPLY proxy_pid[socat]=$REPLY
start socat-echo socat -b65536 "TCP-LISTEN:${echo_port[socat]},bind=127.0.0.1,reuseaddr,fork,nodelay" "TCP:127.0.0.1:$p_echo,nodelay"
s2=$REPLY
if wait_port "${iperf_port[socat]}" "$s1" && wait_port "${echo_port[socat]}" "$s2"; then
  paths+=(socat)
else
  unavailable socat "failed to start"
fi
log "paths under test: ${paths[*]} (tools: $tools_dir${faultline_bin:+, faultline: $faultline_bin})"

# Rotates the order of the paths each round, so no path always runs first or last.
rotated() {
  local r=$1 n=${#paths[@]} i
  for ((i = 0; i < n; i++)); do printf '%s\n' "${paths[$(((i + r) % n))]}"; done
}

# cpu_seconds PID: user+system time of PID and its reaped children (socat forks one per connection).
cpu_seconds() {
  [ -n "${1:-}" ] && [ -r "/proc/$1/stat" ] || { echo null; return; }
  awk -v tck="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13 + $14 + $15) / tck }' "/proc/$1/stat"
}

# ---------------------------------------------------------------- throughput
wants throughput || rounds=0
for ((r = 1; r <= rounds; r++)); do
  for streams in 1 8; do
    while read -r path; do
      log "throughput round $r/$rounds: $path, $streams stream(s), ${seconds}s"
      out="$work/iperf-$path-$streams-$r.json"
      cpu0=$(cpu_seconds "${proxy_pid[$path]:-}")
      if iperf3 -c 127.0.0.1 -p "${iperf_port[$path]}" -t "$seconds" -P "$streams" -J >"$out" 2>&1; then
        sleep 0.3  # let socat reap its children, so their CPU time is counted
        cpu1=$(cpu_seconds "${proxy_pid[$path]:-}")
        cpu=null; [ "$cpu0" != null ] && [ "$cpu1" != null ] && cpu=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { print b - a }')
        fields=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["end"]["sum_received"]; print(s["bits_per_second"], s["bytes"])' "$out")
        record "{\"kind\":\"throughput\",\"path\":\"$path\",\"streams\":$streams,\"round\":$r,\"bps\":${fields% *},\"bytes\":${fields#* },\"proxy_cpu_s\":$cpu}"
      else
        record "{\"kind\":\"throughput\",\"path\":\"$path\",\"streams\":$streams,\"round\":$r,\"error\":true}"
        log "  iperf3 failed through $path: $(grep -m1 -i error "$out" | cut -c1-120 || true)"
      fi
      sleep 0.5
    done < <(rotated "$r")
  done
done

# ---------------------------------------------------------------- round trips
wants rtt || rtt_rounds=0
for ((r = 1; r <= rtt_rounds; r++)); do
  while read -r path; do
    log "round trips round $r/$rtt_rounds: $path, $rtt_count x 64 B"
    line=$("$rtt" ping --connect "127.0.0.1:${echo_port[$path]}" --count "$rtt_count" --warmup 500 --label "$path" || true)
    [ -n "$line" ] || line='{"errors":1}'
    record "{\"kind\":\"rtt\",\"path\":\"$path\",\"round\":$r,\"result\":$line}"
  done < <(rotated "$r")
done

# ---------------------------------------------------------------- latency fidelity
# add_latency_via_api API_PORT MS: the same fault through the Toxiproxy-compatible admin API.
add_latency_via_api() {
  python3 - "$1" "$2" <<'PY'
import json, sys, urllib.request
body = {"type": "latency", "stream": "downstream", "attributes": {"latency": int(sys.argv[2]), "jitter": 0}}
req = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/proxies/link/toxics", data=json.dumps(body).encode(),
                             headers={"Content-Type": "application/json"}, method="POST")
urllib.request.urlopen(req, timeout=5).read()
PY
}

if ! wants fidelity; then
  :
elif [[ " ${paths[*]} " == *" faultline "* ]]; then
  for ms in 10 100; do
    if ((ms == 10)); then n=$fid_count_10 conns=4; else n=$fid_count_100 conns=20; fi
    method="--fault" fault_error=""
    if ! start_faultline "faultline-latency-$ms" "$p_echo" --fault "latency,stream=downstream,latency=$ms"; then
      # Same fault, added at run time, so a start-up problem with --fault does not hide the figure.
      log "  --fault did not start ($FAIL_REASON); adding the fault through the admin API instead"
      method="admin API" fault_error=$FAIL_REASON
      alloc_port; api_port=$REPLY
      if ! { start_faultline "faultline-latency-$ms-api" "$p_echo" --api "127.0.0.1:$api_port" &&
             add_latency_via_api "$api_port" "$ms" 2>>"$work/faultline-latency-$ms-api.log"; }; then
        unavailable "faultline+latency$ms" "$method; admin API: ${FAIL_REASON:-POST failed}"
        continue
      fi
    fi
    lat_port=$REPLY lat_pid=$LAST_PID
    # Reference: the echo server keeps the reply back itself, no proxy; shows how closely
    # this machine keeps a timer at all, so the proxy's own error can be told from it.
    alloc_port; ref_port=$REPLY
    start "echo-delay-$ms" "$rtt" serve --listen "127.0.0.1:$ref_port" --delay-us "$((ms * 1000))"; ref_pid=$REPLY
    wait_port "$ref_port" "$ref_pid" || true
    # Several connections, their round trips spread evenly over the delay so they never
    # queue behind each other; the baseline is the unloaded no-fault round trip, measured
    # just before on the no-fault faultline link.
    log "latency fidelity ${ms} ms: baseline, then $n round trips over $conns staggered connections"
    base=$("$rtt" ping --connect "127.0.0.1:${echo_port[faultline]}" --count 2000 --warmup 100 --label "faultline" || true)
    # A second baseline with the same idle gaps as the delayed run (sleeping processes wake slower).
    paced=$("$rtt" ping --connect "127.0.0.1:${echo_port[faultline]}" --count "$n" --warmup 3 --connections "$conns" \
              --stagger-us "$((ms * 1000 / conns))" --pace-us "$((ms * 1000))" --timeout-ms 600000 --label "faultline paced" || true)
    with=$("$rtt" ping --connect "127.0.0.1:$lat_port" --count "$n" --warmup 3 --connections "$conns" \
             --stagger-us "$((ms * 1000 / conns))" --timeout-ms 600000 --label "faultline+latency$ms" || true)
    log "latency fidelity ${ms} ms: reference (delaying echo server, no proxy)"
    ref_base=$("$rtt" ping --connect "127.0.0.1:$p_echo" --count 2000 --warmup 100 --label "direct" || true)
    ref_paced=$("$rtt" ping --connect "127.0.0.1:$p_echo" --count "$n" --warmup 3 --connections "$conns" \
                  --stagger-us "$((ms * 1000 / conns))" --pace-us "$((ms * 1000))" --timeout-ms 600000 --label "direct paced" || true)
    ref_with=$("$rtt" ping --connect "127.0.0.1:$ref_port" --count "$n" --warmup 3 --connections "$conns" \
                 --stagger-us "$((ms * 1000 / conns))" --timeout-ms 600000 --label "echo+delay$ms" || true)
    kill "$ref_pid" 2>/dev/null || true
    how=$(python3 -c 'import json,sys;print(json.dumps({"method": sys.argv[1], "fault_flag_error": sys.argv[2]})[1:-1])' "$method" "$fault_error")
    record "{\"kind\":\"fidelity\",\"latency_ms\":$ms,$how,\"baseline\":${base:-null},\"with_fault\":${with:-null},\"paced_baseline\":${paced:-null},\"reference_baseline\":${ref_base:-null},\"reference_paced_baseline\":${ref_paced:-null},\"reference_with_delay\":${ref_with:-null}}"
    kill "$lat_pid" 2>/dev/null || true
  done
else
  unavailable "faultline+latency" "${faultline_missing:-faultline did not start}"
fi

# ---------------------------------------------------------------- idle connections
idle_run() { # idle_run LABEL PORT PID
  log "idle: $idle_count connections through $1"
  local line
  line=$("$idle" hold --connect "127.0.0.1:$2" --count "$idle_count" --hold-ms 2000 --watch-pid "$3" || true)
  [ -n "$line" ] || line='{"connected":0}'
  record "{\"kind\":\"idle\",\"path\":\"$1\",\"wanted\":$idle_want,\"nofile_hard\":$hard_nofile,\"result\":$line}"
}
if ! wants idle; then
  :
elif [ -n "$faultline_bin" ]; then
  # A fresh process, so its baseline RSS is not the throughput runs' leftovers.
  if start_faultline faultline-idle "$p_idle"; then
    idle_run faultline "$REPLY" "$LAST_PID"
    kill "$LAST_PID" 2>/dev/null || true
  else
    unavailable "faultline-idle" "$FAIL_REASON"
  fi
else
  unavailable "faultline-idle" "$faultline_missing"
fi
if wants idle && [[ " ${paths[*]} " == *" haproxy "* ]]; then idle_run haproxy "$p_haproxy_idle" "$haproxy_pid"; fi

# ---------------------------------------------------------------- summary
mkdir -p "$here/results"
stamp=$(date +%Y%m%d-%H%M%S)
python3 "$here/summarize.py" "$raw" \
  --markdown "$here/results/$stamp.md" --json "$here/results/$stamp.json" \
  --meta "only=$only" "rounds=$rounds" "seconds=$seconds" "rtt_rounds=$rtt_rounds" "rtt_count=$rtt_count" "quick=$quick" \
         "host=$(uname -n)" "kernel=$(uname -r)" "cpus=$(nproc)" \
         "haproxy=$(haproxy -v 2>/dev/null | head -1 | awk '{print $3}')" \
         "socat=$(socat -V 2>/dev/null | awk '/socat version/{print $3; exit}')" \
         "iperf3=$(iperf3 --version 2>/dev/null | head -1 | awk '{print $2}')" \
         "faultline=${faultline_bin:-unavailable}"
log "written: bench/results/$stamp.md and bench/results/$stamp.json"

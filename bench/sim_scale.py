#!/usr/bin/env python3
"""How many MCP sessions `faultline simulate` holds, at what cost, beside the
official TypeScript SDK client doing the same in Node, in one run.

Each case starts `faultline mock-server` (Streamable HTTP, or one stdio child
per client), runs the load, and reads the load generator's peak RSS and CPU
time from the kernel (wait4), and its own account of the run (run.end: steps
started, dropped, how late their starts were against the schedule).

  bench/sim_scale.py [--faultline PATH] [--sessions 10000] [--rate 1000]
                     [--seconds 20] [--sdk-sessions 1000] [--stdio 200] [--quick]

Prints a table and the host's CPU; gates nothing. Loopback only.
"""
import argparse
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def rss_kb(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_measured(argv, timeout):
    """Runs argv to its end; (exit code, stdout, stderr, peak RSS KiB of the process itself, sampled every
    50 ms, CPU seconds of it and the children it reaped, wall seconds)."""
    out = tempfile.TemporaryFile()
    err = tempfile.TemporaryFile()
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdout=out, stderr=err)
    deadline = t0 + timeout
    peak = 0
    while True:
        peak = max(peak, rss_kb(proc.pid))
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.05)
    wall = time.monotonic() - t0
    out.seek(0)
    err.seek(0)
    code = os.waitstatus_to_exitcode(status)
    return code, out.read().decode(errors="replace"), err.read().decode(errors="replace"), peak, \
        usage.ru_utime + usage.ru_stime, wall


def start_mock(faultline, workdir):
    log = open(os.path.join(workdir, "mock.log"), "w+")
    proc = subprocess.Popen([faultline, "mock-server", "--transport", "http", "--listen", "127.0.0.1:0", "--seed", "1"],
                            stdout=subprocess.DEVNULL, stderr=log)
    for _ in range(200):
        log.seek(0)
        text = log.read()
        if "listening on " in text:
            return proc, text.split("listening on ", 1)[1].split()[0]
        if proc.poll() is not None:
            sys.exit("mock-server did not start:\n" + text)
        time.sleep(0.05)
    proc.kill()
    sys.exit("mock-server did not say where it listens")


def mock_rss_kb(proc):
    try:
        for line in open(f"/proc/{proc.pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def simulate_case(faultline, workdir, target, sessions, rate, seconds, transport_args=()):
    workload = os.path.join(workdir, f"workload-{sessions}.json")
    with open(workload, "w") as f:
        json.dump({"steps": [{"method": "tools/call", "tool": "echo", "arguments": {"message": "hi"}}],
                   "load": {"executor": "constant-arrival-rate", "rate": rate, "duration": f"{seconds}s"}}, f)
    # One connection a session: no standalone GET stream, no pings.
    profile = os.path.join(workdir, "bench-profile.json")
    with open(profile, "w") as f:
        json.dump({"base": "resilient", "get_stream": False, "ping_interval_ms": None}, f)
    events = os.path.join(workdir, f"sim-{sessions}-{time.monotonic_ns()}.jsonl")
    argv = [faultline, "simulate", "--clients", str(sessions), "--profile", profile, "--workload", workload,
            "--seed", "1", "--events", events, *transport_args, target]
    code, _, err, rss, cpu, wall = run_measured(argv, timeout=seconds + 300)
    end = {}
    calls, calls_ok, calls_failed = set(), 0, 0
    if os.path.exists(events):
        with open(events) as f:
            for line in f:
                e = json.loads(line)
                kind = e["kind"]
                if kind == "rpc.invoke" and e.get("method") == "tools/call":
                    calls.add((e["source"], e["id"]))
                elif kind.startswith("rpc.") and (e["source"], e.get("id")) in calls:
                    if kind == "rpc.ok":
                        calls_ok += 1
                    else:
                        calls_failed += 1
                elif kind == "run.end":
                    end = e
        os.unlink(events)
    load = end.get("load") or {}
    late = load.get("start_lateness_ms", {})
    return {"tool": "faultline simulate", "sessions": sessions, "exit": code, "ok": calls_ok, "failed": calls_failed,
            "started": load.get("started", 0), "dropped": load.get("dropped", 0),
            "late_p50": late.get("p50"), "late_p99": late.get("p99"), "rss_kb": rss, "cpu_s": cpu, "wall_s": wall,
            "note": err.strip().splitlines()[-1] if code not in (0, 1) and err.strip() else ""}


def sdk_case(workdir, url, sessions, rate, seconds):
    node = shutil.which("node")
    if not node or not os.path.isdir(os.path.join(ROOT, "tests/node/node_modules/@modelcontextprotocol/sdk")):
        return None
    argv = [node, os.path.join(HERE, "sdk_load.mjs"), "--url", url, "--sessions", str(sessions), "--rate", str(rate),
            "--seconds", str(seconds)]
    code, out, err, rss, cpu, wall = run_measured(argv, timeout=seconds + 600)
    try:
        r = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"tool": "SDK client (node)", "sessions": sessions, "exit": code, "note": (err or out).strip()[-200:]}
    return {"tool": "SDK client (node)", "sessions": r["sessions"], "exit": code, "ok": r["calls_ok"],
            "failed": r["calls_failed"] + r["connect_failed"], "started": r["calls_ok"] + r["calls_failed"],
            "dropped": 0, "late_p50": r["late_p50_ms"], "late_p99": r["late_p99_ms"], "rss_kb": rss, "cpu_s": cpu,
            "wall_s": wall, "note": ""}


def row(r, seconds):
    if r is None:
        return None
    sessions = max(1, r.get("sessions", 0))
    rss = r.get("rss_kb", 0)
    cpu = r.get("cpu_s", 0)
    calls = r.get("ok", 0)
    fmt = lambda v, spec: "–" if v is None else format(v, spec)
    return [r["tool"], str(r.get("sessions", "")), str(calls), str(r.get("failed", "")), str(r.get("dropped", "")),
            fmt(r.get("late_p50"), ".2f"), fmt(r.get("late_p99"), ".2f"), f"{rss / 1024:.0f}",
            f"{rss / sessions:.1f}", f"{1024 * 1024 / max(1, rss / sessions):,.0f}",
            f"{calls / cpu:,.0f}" if cpu else "–", r.get("note", "")]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--faultline", default=os.path.join(ROOT, "build/cli/faultline"))
    p.add_argument("--sessions", type=int, default=10000)
    p.add_argument("--rate", type=int, default=1000)
    p.add_argument("--seconds", type=int, default=20)
    p.add_argument("--sdk-sessions", type=int, default=1000)
    p.add_argument("--stdio", type=int, default=200)
    p.add_argument("--quick", action="store_true", help="1000 sessions, 5 s, 200 SDK sessions, 20 stdio clients")
    a = p.parse_args()
    if a.quick:
        a.sessions, a.seconds, a.sdk_sessions, a.stdio = 1000, 5, 200, 20
    if not os.access(a.faultline, os.X_OK):
        sys.exit(f"sim_scale: no faultline at {a.faultline} (build it, or give --faultline)")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < a.sessions + 1000:
        print(f"note: the open-file limit is {hard}; {a.sessions} sessions need more", file=sys.stderr)
    print(f"host: {cpu_model()}, {os.cpu_count()} CPUs; running (about {4 * a.seconds + 30} s)...", file=sys.stderr)

    workdir = tempfile.mkdtemp(prefix="faultline-simscale-")
    results = []
    mock, url = start_mock(a.faultline, workdir)
    try:
        results.append(simulate_case(a.faultline, workdir, url, a.sessions, a.rate, a.seconds))
        results.append(simulate_case(a.faultline, workdir, url, a.sdk_sessions, a.rate, a.seconds))
        results.append(sdk_case(workdir, url, a.sdk_sessions, a.rate, a.seconds))
        mock_peak = mock_rss_kb(mock)
    finally:
        mock.send_signal(signal.SIGTERM)
        mock.wait(timeout=10)
    stdio = simulate_case(a.faultline, workdir, f"stdio:{a.faultline} mock-server --seed 1", a.stdio, a.stdio,
                          a.seconds)
    stdio["tool"] = "faultline simulate (stdio, a child each; CPU includes the children)"
    results.append(stdio)
    shutil.rmtree(workdir, ignore_errors=True)

    head = ["load generator", "sessions", "calls ok", "failed", "dropped", "start late p50 ms", "p99 ms",
            "peak RSS MiB", "KiB/session", "sessions/GiB", "calls per CPU-s", "note"]
    print(f"host: {cpu_model()}, {os.cpu_count()} CPUs; {a.rate} calls/s (stdio: {a.stdio}/s) for {a.seconds} s, "
          f"echo via tools/call, open model; mock-server peak RSS {mock_peak / 1024:.0f} MiB")
    print("| " + " | ".join(head) + " |")
    print("|" + " --- |" * len(head))
    for r in results:
        cells = row(r, a.seconds)
        if cells:
            print("| " + " | ".join(cells) + " |")
    print("json: " + json.dumps([r for r in results if r]))


if __name__ == "__main__":
    main()

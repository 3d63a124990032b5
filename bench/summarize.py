#!/usr/bin/env python3
"""Turns bench/run.sh's raw measurements (one JSON object a line) into the tables it
prints and the Markdown/JSON summary files. Ratios are paired within a round, then the
median is taken across rounds, so a noisy neighbour slows both sides of a ratio."""

import argparse
import json
import statistics
import sys

PATH_ORDER = ["direct", "faultline", "haproxy", "socat"]
TOXIPROXY = {10: (0.46, 1.3), 100: (0.77, 1.2)}  # Toxiproxy 2.12: added ms at p50, p99
P50_TOLERANCE_MS, P99_TOLERANCE_MS = 0.2, 1.0
THROUGHPUT_TARGET = 1.2
RSS_TARGET_MB = 100.0


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, spec=".2f", unit=""):
    return "–" if value is None else f"{value:{spec}}{unit}"


def table(headers, rows):
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def ordered(paths):
    return sorted(paths, key=lambda p: (PATH_ORDER.index(p) if p in PATH_ORDER else 99, p))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("raw")
    ap.add_argument("--markdown")
    ap.add_argument("--json")
    ap.add_argument("--meta", nargs="*", default=[])
    args = ap.parse_args()

    records = [json.loads(line) for line in open(args.raw) if line.strip()]
    meta = dict(item.split("=", 1) for item in args.meta)
    parts = set(meta.get("only", "throughput,rtt,fidelity,idle").split(","))
    unavailable = {r["path"]: r["reason"] for r in records if r["kind"] == "unavailable"}
    summary = {"meta": meta, "unavailable": unavailable}
    out = []
    out.append("# faultline proxy benchmark")
    out.append("")
    out.append(", ".join(f"{k} {v}" for k, v in meta.items()))
    out.append("")
    if unavailable:
        for path, reason in unavailable.items():
            out.append(f"- **{path}**: unavailable ({reason})")
        out.append("")

    # ---- throughput
    tput = {}  # (path, streams) -> {round: bps}
    cpu = {}  # (path, streams) -> [proxy CPU seconds per GB moved]
    for r in records:
        if r["kind"] == "throughput" and "bps" in r:
            tput.setdefault((r["path"], r["streams"]), {})[r["round"]] = r["bps"]
            if r.get("proxy_cpu_s") is not None and r.get("bytes"):
                cpu.setdefault((r["path"], r["streams"]), []).append(r["proxy_cpu_s"] / (r["bytes"] / 1e9))
    paths = ordered({p for p, _ in tput} | {r["path"] for r in records if r["kind"] in ("throughput", "rtt")})

    def paired_ratio(path, base, streams):
        a, b = tput.get((path, streams), {}), tput.get((base, streams), {})
        return median([a[k] / b[k] for k in a if k in b and b[k]])

    rows, tsum = [], {}
    for path in paths:
        cells, entry = [path], {}
        for streams in (1, 8):
            gbps = median(list(tput.get((path, streams), {}).values()))
            gbps = gbps / 1e9 if gbps else None
            ratio = paired_ratio(path, "haproxy", streams)
            entry[f"gbps_{streams}"] = gbps
            entry[f"vs_haproxy_{streams}"] = ratio
            entry[f"cpu_ms_per_gb_{streams}"] = cpu_gb = median([c * 1000 for c in cpu.get((path, streams), [])])
            cells += [fmt(gbps), fmt(ratio, ".2f", "x"), fmt(cpu_gb, ".0f")]
        tsum[path] = entry
        rows.append(cells)
    summary["throughput"] = tsum
    out.append("## Throughput (iperf3, Gbit/s, median of rounds; ratio to haproxy paired per round)")
    out.append("")
    if "throughput" not in parts:
        out.append("not run (--only)")
    else:
        out.append(table(["path", "1 stream", "vs haproxy", "proxy CPU ms/GB", "8 streams", "vs haproxy",
                          "proxy CPU ms/GB"], rows))
        out.append("")
        out.append("Proxy CPU is the proxy process's user+system time (children included) per GB carried; "
                   "client, server and proxy share the same cores, so lower CPU per GB leaves more for the endpoints.")
    out.append("")

    # ---- round trips
    rtt = {}  # path -> {round: result}
    for r in records:
        if r["kind"] == "rtt" and "p50_us" in r.get("result", {}):
            rtt.setdefault(r["path"], {})[r["round"]] = r["result"]

    def added_rounds(path, key):
        a, d = rtt.get(path, {}), rtt.get("direct", {})
        return [a[k][key] - d[k][key] for k in sorted(a) if k in d]

    def added(path, key):
        return median(added_rounds(path, key))

    rows, rsum = [], {}
    for path in ordered(rtt):
        entry = {q: median([x[f"{q}_us"] for x in rtt[path].values()]) for q in ("p50", "p90", "p99", "max")}
        entry["added_p50"] = added(path, "p50_us") if path != "direct" else None
        entry["added_p99"] = added(path, "p99_us") if path != "direct" else None
        spread = added_rounds(path, "p50_us") if path != "direct" else []
        entry["added_p50_rounds"] = spread
        rsum[path] = entry
        rows.append([path, fmt(entry["p50"], ".1f"), fmt(entry["p90"], ".1f"), fmt(entry["p99"], ".1f"),
                     fmt(entry["added_p50"], "+.1f"),
                     f"{min(spread):+.1f} … {max(spread):+.1f}" if len(spread) > 1 else "–",
                     fmt(entry["added_p99"], "+.1f")])
    summary["rtt_us"] = rsum
    out.append("## 64-byte round trips (µs, median over rounds; added = minus direct, paired per round)")
    out.append("")
    out.append(table(["path", "p50", "p90", "p99", "added p50", "added p50 per round", "added p99"], rows))
    out.append("")
    # faultline against haproxy directly, round by round: the direct path's noise cancels out.
    fl, hp = rtt.get("faultline", {}), rtt.get("haproxy", {})
    diffs = [fl[k]["p50_us"] - hp[k]["p50_us"] for k in sorted(fl) if k in hp]
    if diffs:
        lower = sum(d < 0 for d in diffs)
        summary["rtt_faultline_minus_haproxy_p50_us"] = {"median": median(diffs), "rounds": diffs, "faultline_lower": lower}
        out.append(f"faultline minus haproxy, p50 per round: median {median(diffs):+.1f} µs, "
                   f"{min(diffs):+.1f} … {max(diffs):+.1f}; faultline lower in {lower} of {len(diffs)} rounds.")
        out.append("")

    # ---- latency fidelity
    rows, fsum = [], {}

    def fidelity_row(label, ms, base, with_, paced):
        if "p50_us" not in (base or {}) or "p50_us" not in (with_ or {}) or with_.get("errors"):
            rows.append([label, f"{ms} ms", "–", "–", "–", "–", "–", "measurement failed", ""])
            return {"error": True, "baseline": base, "with": with_}
        add50 = (with_["p50_us"] - base["p50_us"]) / 1000
        add99 = (with_["p99_us"] - base["p99_us"]) / 1000
        ok = abs(add50 - ms) <= P50_TOLERANCE_MS and abs(add99 - ms) <= P99_TOLERANCE_MS
        paced_err = None
        if "p50_us" in (paced or {}):
            paced_err = ((with_["p50_us"] - paced["p50_us"]) / 1000 - ms, (with_["p99_us"] - paced["p99_us"]) / 1000 - ms)
        tp = TOXIPROXY.get(ms) if label == "faultline" else None
        rows.append([label, f"{ms} ms", f"{add50:.3f}", f"{add99:.3f}", f"{add50 - ms:+.3f}", f"{add99 - ms:+.3f}",
                     f"{paced_err[0]:+.3f} / {paced_err[1]:+.3f}" if paced_err else "–",
                     "yes" if ok else "**no**", f"+{tp[0]} / +{tp[1]}" if tp else ""])
        return {"added_p50_ms": add50, "added_p99_ms": add99, "error_p50_ms": add50 - ms, "error_p99_ms": add99 - ms,
                "error_vs_paced_ms": list(paced_err) if paced_err else None,
                "within_tolerance": ok, "samples": with_["count"], "connections": with_["connections"]}

    for r in records:
        if r["kind"] != "fidelity":
            continue
        ms = r["latency_ms"]
        f = fidelity_row("faultline", ms, r.get("baseline"), r.get("with_fault"), r.get("paced_baseline"))
        f.update({"method": r.get("method", "--fault"), "fault_flag_error": r.get("fault_flag_error", "")})
        if r.get("reference_with_delay") is not None:
            f["reference"] = fidelity_row("reference (no proxy)", ms, r.get("reference_baseline"),
                                          r.get("reference_with_delay"), r.get("reference_paced_baseline"))
        fsum[ms] = f
    summary["fidelity"] = fsum
    via_api = [f for f in fsum.values() if f.get("method") == "admin API"]
    out.append("## Latency fault fidelity (added round trip in ms; error = added minus asked)")
    out.append("")
    out.append("faultline: `latency` fault on the downstream stream, minus the no-fault faultline round trip. "
               "Reference: the echo server itself holds each reply for the same time, no proxy, minus the direct "
               "round trip; it is this machine's floor for timer accuracy under the same load. Errors are against the "
               "back-to-back round trip; the paced column uses instead a baseline with the same idle gaps as the "
               "delayed run (a process that sleeps between messages wakes slower, more so on a VM).")
    out.append("")
    if rows:
        out.append(table(["path", "asked", "added p50", "added p99", "error p50", "error p99",
                          "error p50 / p99 vs paced baseline",
                          f"within ±{P50_TOLERANCE_MS}/±{P99_TOLERANCE_MS:g}", "Toxiproxy 2.12 added-over-asked p50/p99"],
                         rows))
        if via_api:
            out.append("")
            out.append("The fault was added through the admin API (POST /proxies/link/toxics) because "
                       f"`faultline proxy --fault ...` did not start: {via_api[0]['fault_flag_error']}")
    elif "fidelity" not in parts:
        out.append("not run (--only)")
    else:
        out.append("not measured: " + unavailable.get("faultline+latency", unavailable.get("faultline", "")))
    out.append("")

    # ---- idle connections
    rows, isum = [], {}
    for r in records:
        if r["kind"] != "idle":
            continue
        res, path = r["result"], r["path"]
        before = res.get("memory_before", {}).get("rss_kib", -1)
        held = res.get("memory_idle", {}).get("rss_kib", -1)
        echoed = res.get("memory_after_verify", {}).get("rss_kib", -1)
        hwm = max(res.get(k, {}).get("hwm_kib", -1) for k in ("memory_idle", "memory_after_verify", "memory_after_close"))
        closed = res.get("memory_after_close", {}).get("rss_kib", -1)
        n = res.get("connected", 0)
        per_conn = (held - before) / n if n and held > 0 and before > 0 else None
        at_wanted = (before + per_conn * r["wanted"]) / 1024 if per_conn is not None else None
        per_conn_echoed = (echoed - before) / n if n and echoed > 0 and before > 0 else None
        echoed_at_wanted = (before + per_conn_echoed * r["wanted"]) / 1024 if per_conn_echoed is not None else None
        isum[path] = {"connected": n, "requested": res.get("requested"), "verified_ok": res.get("verify_ok"),
                      "verify_failed": res.get("verify_failed"), "rss_before_kib": before, "rss_idle_kib": held,
                      "hwm_kib": hwm, "rss_after_close_kib": closed, "kib_per_connection": per_conn,
                      "rss_mb_at_wanted": at_wanted, "rss_after_echo_kib": echoed,
                      "rss_after_echo_mb_at_wanted": echoed_at_wanted,
                      "wanted": r["wanted"], "nofile_hard": r["nofile_hard"]}
        rows.append([path, f"{n}/{res.get('requested')}", f"{res.get('verify_ok')}/{res.get('verify_requested')}",
                     fmt(before / 1024 if before > 0 else None, ".1f"), fmt(held / 1024 if held > 0 else None, ".1f"),
                     fmt(echoed / 1024 if echoed > 0 else None, ".1f"),
                     fmt(hwm / 1024 if hwm > 0 else None, ".1f"), fmt(closed / 1024 if closed > 0 else None, ".1f"),
                     fmt(per_conn, ".2f"), fmt(at_wanted, ".1f"), fmt(echoed_at_wanted, ".1f")])
    summary["idle"] = isum
    out.append("## Idle connections (RSS in MB; held 2 s, then each checked with a 1-byte echo)")
    out.append("")
    if rows:
        out.append(table(["proxy", "connected", "echo ok", "RSS before", "RSS idle", "RSS after echo", "HWM",
                          "RSS after close", "KiB/conn idle", "idle RSS at 10k", "after-echo RSS at 10k"], rows))
        capped = [p for p, v in isum.items() if v["requested"] and v["requested"] < v["wanted"]]
        if capped:
            out.append("")
            out.append(f"The hard open-file limit here is {isum[capped[0]]['nofile_hard']} and cannot be raised "
                       f"(no CAP_SYS_RESOURCE); a proxy needs two descriptors per connection, so the run used "
                       f"{isum[capped[0]]['requested']} and the 'at 10k' columns extrapolate linearly to "
                       f"{isum[capped[0]]['wanted']}.")
    elif "idle" not in parts:
        out.append("not run (--only)")
    else:
        out.append("not measured: " + unavailable.get("faultline-idle", ""))
    out.append("")

    # ---- targets
    def verdict(ok):
        return "n/a" if ok is None else ("met" if ok else "**missed**")

    fl_t, fl_r, hp_r = tsum.get("faultline", {}), rsum.get("faultline", {}), rsum.get("haproxy", {})
    r1, r8 = fl_t.get("vs_haproxy_1"), fl_t.get("vs_haproxy_8")
    a_fl, a_hp = fl_r.get("added_p50"), hp_r.get("added_p50")
    idle_fl = isum.get("faultline", {})
    # Connections that have carried a byte and gone quiet are idle too: judge the worse figure.
    idle_mb = max([v for v in (idle_fl.get("rss_mb_at_wanted"), idle_fl.get("rss_after_echo_mb_at_wanted"))
                   if v is not None], default=None)
    idle_ok = None if idle_mb is None else (idle_mb < RSS_TARGET_MB and idle_fl.get("connected") == idle_fl.get("requested")
                                            and not idle_fl.get("verify_failed"))
    targets = [
        ("throughput ≥ 1.2x haproxy (1 stream)", fmt(r1, ".2f", "x"), verdict(None if r1 is None else r1 >= THROUGHPUT_TARGET)),
        ("throughput ≥ 1.2x haproxy (8 streams)", fmt(r8, ".2f", "x"), verdict(None if r8 is None else r8 >= THROUGHPUT_TARGET)),
        ("added p50 round trip ≤ haproxy's", f"{fmt(a_fl, '+.1f')} µs vs {fmt(a_hp, '+.1f')} µs",
         verdict(None if a_fl is None or a_hp is None else a_fl <= a_hp)),
        ("10,000 idle connections < 100 MB RSS (idle, and after a 1-byte echo)",
         f"{fmt(idle_fl.get('rss_mb_at_wanted'), '.1f')} / {fmt(idle_fl.get('rss_after_echo_mb_at_wanted'), '.1f')} MB",
         verdict(idle_ok)),
    ]
    for ms in (10, 100):
        f = fsum.get(ms)
        if f and not f.get("error"):
            measured = f"back-to-back baseline {f['error_p50_ms']:+.3f} / {f['error_p99_ms']:+.3f} ms"
            verdicts = verdict(f["within_tolerance"]) + " (back-to-back)"
            paced = f.get("error_vs_paced_ms")
            if paced:
                measured += f"; paced baseline {paced[0]:+.3f} / {paced[1]:+.3f} ms"
                paced_ok = abs(paced[0]) <= P50_TOLERANCE_MS and abs(paced[1]) <= P99_TOLERANCE_MS
                verdicts += f", {verdict(paced_ok)} (paced)"
            targets.append((f"{ms} ms latency within ±0.2 ms p50, ±1 ms p99", measured, verdicts))
        else:
            targets.append((f"{ms} ms latency within ±0.2 ms p50, ±1 ms p99", "–", verdict(None)))
    summary["targets"] = [{"target": t, "measured": m, "verdict": v.replace("**", "")} for t, m, v in targets]
    out.append("## Targets (informational, not a gate)")
    out.append("")
    out.append(table(["target", "measured", "verdict"], targets))
    out.append("")

    text = "\n".join(out)
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text + "\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"summary": summary, "raw": records}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

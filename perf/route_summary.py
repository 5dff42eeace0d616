#!/usr/bin/env python3
"""Summary of perf/route_compare.sh: per pairing and size, the median rate at the
subscriber, the median msgs per server CPU second (both servers of the pair), and each
against G->G's.

    route_summary.py DIR
"""
import glob
import json
import os
import statistics
import sys


def figure(report, key):
    return report.get(key, report.get("figures", {}).get(key))


def main(out):
    cases = {}
    for path in glob.glob(os.path.join(out, "raw", "*.json")):
        tag = os.path.basename(path)[:-5]
        pairing, size, _rep = tag.rsplit("-", 2)
        report = json.load(open(path))
        rate = figure(report, "sub_msgs_per_s")
        elapsed = figure(report, "elapsed_s")
        received = figure(report, "msgs_received")
        lost = figure(report, "lost") or 0
        cpu = 0.0
        for side in ("from", "to"):
            p = os.path.join(out, "raw", f"{tag}.{side}.cpu_s")
            if os.path.exists(p):
                cpu += float(open(p).read().strip() or 0)
        per_core = received / cpu if cpu > 0 else None
        cases.setdefault((pairing, int(size)), []).append((rate, per_core, lost, elapsed))
    print("| pairing | size | msgs/s (median) | msgs per server CPU s (median) | rate vs G->G | per core vs G->G | lost |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for size in sorted({s for _, s in cases}):
        base = cases.get(("G-G", size), [])
        base_rate = statistics.median([c[0] for c in base]) if base else None
        base_core = statistics.median([c[1] for c in base if c[1]]) if base else None
        for pairing in ("G-G", "R-R", "R-G", "G-R"):
            runs = cases.get((pairing, size))
            if not runs:
                continue
            rate = statistics.median([c[0] for c in runs])
            cores = [c[1] for c in runs if c[1]]
            core = statistics.median(cores) if cores else None
            lost = sum(c[2] for c in runs)
            rr = f"{rate / base_rate:.2f}x" if base_rate else "-"
            cr = f"{core / base_core:.2f}x" if core and base_core else "-"
            core_s = f"{core:,.0f}" if core else "-"
            print(f"| {pairing.replace('-', '->')} | {size} | {rate:,.0f} | {core_s} | {rr} | {cr} | {lost} |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])

#!/usr/bin/env python3
"""Medians of ab.sh's runs: one row per scenario, old and new side by side, and new/old.

Usage: summary.py output.txt. Each input line is `<scenario words...> <old|new> <value>`;
throughput values are messages/s (higher is better), `reqrep p50_us`/`p99_us` are
microseconds (lower is better).
"""
import statistics
import sys
from collections import defaultdict

runs = defaultdict(lambda: defaultdict(list))
for line in open(sys.argv[1]):
    words = line.split()
    if len(words) < 3 or words[-2] not in ("old", "new"):
        continue
    runs[" ".join(words[:-2])][words[-2]].append(float(words[-1]))

print(f"| scenario | old (26cdede) | new | new/old | runs |")
print("|---|---:|---:|---:|---:|")
for scen, by in runs.items():
    old, new = statistics.median(by["old"]), statistics.median(by["new"])
    print(f"| {scen} | {old:,.0f} | {new:,.0f} | {new / old:.3f} | {len(by['new'])} |")

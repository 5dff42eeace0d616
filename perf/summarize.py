#!/usr/bin/env python3
"""Medians and Riptide/Go ratios from one perf/compare.sh run directory, as markdown."""
import glob, json, os, re, statistics, sys

run = sys.argv[1]
rows = {}
for path in glob.glob(os.path.join(run, "raw", "*.json")):
    m = re.match(r"(\w+)-(\d+)-(go|riptide)-r(\d+)\.json", os.path.basename(path))
    if not m:
        continue
    scen, size, server, _ = m.groups()
    with open(path) as f:
        d = json.load(f)
    rows.setdefault((scen, int(size)), {}).setdefault(server, []).append(d)


def med(xs):
    return statistics.median(xs) if xs else float("nan")


meta = json.load(open(os.path.join(run, "meta.json"))) if os.path.exists(os.path.join(run, "meta.json")) else {}
print(f"# Riptide vs nats-server: {meta.get('date_utc', '')}\n")
if meta:
    print(f"`{meta['command']}` at commit `{meta['commit'][:10]}`{' (dirty)' if meta.get('dirty') else ''}; "
          f"{meta['riptide']}; {meta['go_server']}; {meta['rustc']}; kernel {meta['kernel']}; "
          f"{meta['cpu']}, {meta['cores']} cores; {meta['pinning']}. Medians of {meta['reps']} interleaved repetitions.\n")
print("## Throughput (msgs/s; pub: published, others: delivered)\n")
print("| scenario | size | Go | Riptide | Riptide/Go | loadgen cpu (Go run / Riptide run) |")
print("| --- | ---: | ---: | ---: | ---: | --- |")
for (scen, size) in sorted(k for k in rows if k[0] != "reqrep"):
    r = rows[(scen, size)]
    key = "pub_msgs_per_s" if scen == "pub" else "sub_msgs_per_s"
    g = med([d[key] for d in r.get("go", [])])
    t = med([d[key] for d in r.get("riptide", [])])
    cg = med([d["loadgen_cpu_cores"] for d in r.get("go", [])])
    ct = med([d["loadgen_cpu_cores"] for d in r.get("riptide", [])])
    lost = sum(d.get("lost", 0) for s in r.values() for d in s)
    note = f" ({lost} lost)" if lost else ""
    print(f"| {scen} | {size} | {g:,.0f} | {t:,.0f} | {t / g:.2f}x{note} | {cg:.2f} / {ct:.2f} |")

rr = [k for k in rows if k[0] == "reqrep"]
if rr:
    print("\n## Request/reply latency (open loop, coordinated-omission corrected, µs)\n")
    print("| size | server | offered/s | achieved/s | p50 | p90 | p99 | p99.9 | max |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for k in sorted(rr):
        for server in ("go", "riptide"):
            ds = [d for d in rows[k].get(server, []) if d.get("latency_us")]
            if not ds:
                continue
            l = lambda p: med([d["latency_us"][p] for d in ds])
            print(f"| {k[1]} | {server} | {med([d['offered_rate'] or 0 for d in ds]):,.0f} | "
                  f"{med([d['achieved_rate'] or 0 for d in ds]):,.0f} | {l('p50'):.0f} | {l('p90'):.0f} | "
                  f"{l('p99'):.0f} | {l('p99_9'):.0f} | {l('max'):.0f} |")
        g = [d for d in rows[k].get("go", []) if d.get("latency_us")]
        t = [d for d in rows[k].get("riptide", []) if d.get("latency_us")]
        if g and t:
            ratio = lambda p: med([d["latency_us"][p] for d in t]) / max(med([d["latency_us"][p] for d in g]), 1e-9)
            print(f"| {k[1]} | Riptide/Go | | | {ratio('p50'):.2f} | {ratio('p90'):.2f} | {ratio('p99'):.2f} | {ratio('p99_9'):.2f} | {ratio('max'):.2f} |")

mem = os.path.join(run, "memory.json")
if os.path.exists(mem):
    m = json.load(open(mem))
    print("\n## Memory (RSS)\n")
    print("| server | idle | 10k idle conns | per conn | 1k subscribers | per subscriber |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for s in ("go", "riptide"):
        x = m[s]
        # A garbage-collected heap can shrink between two samples; a negative step says so.
        per_sub = x["per_subscriber_bytes"]
        per_sub = f"{per_sub / 1024:.1f} KiB" if per_sub >= 0 else "n/a (heap shrank)"
        print(f"| {s} | {x['idle_kib'] / 1024:.1f} MiB | {x['conns_10k_kib'] / 1024:.1f} MiB | "
              f"{x['per_conn_bytes'] / 1024:.1f} KiB | {x['subs_1k_kib'] / 1024:.1f} MiB | {per_sub} |")

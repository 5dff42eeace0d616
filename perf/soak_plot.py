#!/usr/bin/env python3
"""Plot and summary of one perf/soak.sh run (stdlib only, no matplotlib).

Reads DIR/samples.csv, DIR/drivers.log, DIR/runs/*.json and DIR/riptide.log; writes
DIR/soak.svg (RSS, open fds and threads, connections and subscriptions, message rates
over time, the warm-up shaded) and DIR/summary.md (first/last/max RSS and fds after the
warm-up, least-squares RSS and fd slopes per hour, connections, slow consumers, the client
runs and their failures, and the idle sample after every client left).

Usage: perf/soak_plot.py DIR [--warmup SECONDS] [--verdict TEXT]
"""

import argparse
import csv
import glob
import json
import math
import os
import statistics
from xml.sax.saxutils import escape

WIDTH = 960
PANEL_H = 160
LEFT, RIGHT, TOP, GAP, BOTTOM = 80, 150, 56, 46, 40
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]


def num(v):
    """A CSV cell as a float, or None when the sample had no value (a failed /varz)."""
    return float(v) if v not in ("", None) else None


def load_samples(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k, v in r.items():
            if k not in ("timestamp", "phase"):
                r[k] = num(v)
    return rows


def load_drivers(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def slope_per_hour(xs_s, ys):
    """Least-squares slope of ys over xs (seconds), per hour; None under 3 points."""
    pts = [(x, y) for x, y in zip(xs_s, ys) if x is not None and y is not None]
    if len(pts) < 3:
        return None
    mx = statistics.fmean(x for x, _ in pts)
    my = statistics.fmean(y for _, y in pts)
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    if sxx == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in pts) / sxx * 3600


def nice_step(span, target=5):
    raw = span / target if span > 0 else 1
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def axis_range(values, from_zero):
    vals = [v for v in values if v is not None]
    if not vals:
        return 0.0, 1.0, 0.2
    lo, hi = min(vals), max(vals)
    # Start at 0 unless the data sit far above it (RSS, fds), where 0 would flatten any drift.
    if from_zero or lo < 0.3 * hi:
        lo = 0.0
    if hi == lo:
        hi = lo + 1 if lo == 0 else lo * 1.1
    step = nice_step(hi - lo)
    return math.floor(lo / step) * step, math.ceil(hi / step) * step, step


def fmt(v):
    if v is None:
        return "-"
    if abs(v) >= 1e6:
        return f"{v / 1e6:.3g}M"
    if abs(v) >= 1e4:
        return f"{v / 1e3:.3g}k"
    if abs(v) >= 100 or float(v).is_integer():
        return f"{v:,.0f}"
    return f"{v:.3g}"


def svg_plot(rows, warmup_s, title, path):
    xs = [r["elapsed_s"] for r in rows]
    minutes = (max(xs) if xs else 0) >= 300
    unit, div = ("min", 60.0) if minutes else ("s", 1.0)
    xmax = max(max(xs) / div if xs else 1, 1e-9)
    xstep = nice_step(xmax, 8)
    xmax = math.ceil(xmax / xstep) * xstep
    plot_w = WIDTH - LEFT - RIGHT
    panels = [
        ("RSS (MiB)", [("rss", lambda r: r["rss_kib"] / 1024 if r["rss_kib"] is not None else None)], False),
        ("fds, threads", [("open fds", lambda r: r["fds"]), ("threads", lambda r: r["threads"])], False),
        ("connections", [("connections", lambda r: r["connections"]),
                         ("subscriptions", lambda r: r["subscriptions"])], True),
        ("msgs/s", [("in", lambda r: r["in_msgs_per_s"]), ("out", lambda r: r["out_msgs_per_s"])], True),
    ]
    height = TOP + len(panels) * (PANEL_H + GAP) + BOTTOM - GAP
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
        f'<text x="{LEFT}" y="22" font-size="14" font-weight="bold">{escape(title)}</text>',
        f'<text x="{LEFT}" y="40" fill="#555">grey: warm-up ({warmup_s:g} s, left out of the '
        f'summary figures); hollow marker: idle sample after every client left; red ticks: '
        f'slow consumers cut off since the previous sample</text>',
    ]

    def px(x):
        return LEFT + (x / div) / xmax * plot_w

    soak = [r for r in rows if r["phase"] == "soak"]
    idle = [r for r in rows if r["phase"] == "idle"]
    for i, (label, series, zero) in enumerate(panels):
        y0 = TOP + i * (PANEL_H + GAP)
        vals = [f(r) for _, f in series for r in rows]
        lo, hi, step = axis_range(vals, zero)

        def py(v, lo=lo, hi=hi, y0=y0):
            return y0 + PANEL_H - (v - lo) / (hi - lo) * PANEL_H

        out.append(f'<rect x="{LEFT}" y="{y0}" width="{plot_w}" height="{PANEL_H}" fill="none" stroke="#999"/>')
        if warmup_s > 0:
            w = min(px(warmup_s), LEFT + plot_w) - LEFT
            out.append(f'<rect x="{LEFT}" y="{y0}" width="{w:.1f}" height="{PANEL_H}" fill="#eee"/>')
        t = lo
        while t <= hi + step / 2:
            y = py(t)
            out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" stroke="#ddd"/>')
            out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{fmt(t)}</text>')
            t += step
        out.append(f'<text x="14" y="{y0 + PANEL_H / 2:.0f}" transform="rotate(-90 14 {y0 + PANEL_H / 2:.0f})" '
                   f'text-anchor="middle" font-weight="bold">{escape(label)}</text>')
        x = 0.0
        while x <= xmax + xstep / 2:
            X = LEFT + x / xmax * plot_w
            out.append(f'<line x1="{X:.1f}" y1="{y0 + PANEL_H}" x2="{X:.1f}" y2="{y0 + PANEL_H + 4}" stroke="#999"/>')
            out.append(f'<text x="{X:.1f}" y="{y0 + PANEL_H + 15}" text-anchor="middle">{fmt(round(x, 6))}</text>')
            x += xstep
        for j, (name, f) in enumerate(series):
            colour = COLOURS[j]
            # A missing value (failed /varz) breaks the line instead of bridging it.
            segs, cur = [], []
            for r in soak:
                v = f(r)
                if v is None:
                    if cur:
                        segs.append(cur)
                    cur = []
                else:
                    cur.append(f"{px(r['elapsed_s']):.1f},{py(v):.1f}")
            if cur:
                segs.append(cur)
            for s in segs:
                if len(s) == 1:
                    cx, cy = s[0].split(",")
                    out.append(f'<circle cx="{cx}" cy="{cy}" r="2" fill="{colour}"/>')
                else:
                    out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{" ".join(s)}"/>')
            for r in idle:
                v = f(r)
                if v is not None:
                    out.append(f'<circle cx="{px(r["elapsed_s"]):.1f}" cy="{py(v):.1f}" r="4" fill="white" stroke="{colour}" stroke-width="1.5"/>')
            last = next((f(r) for r in reversed(soak) if f(r) is not None), None)
            ly = y0 + 14 + j * 16
            out.append(f'<line x1="{LEFT + plot_w + 10}" y1="{ly - 4}" x2="{LEFT + plot_w + 26}" y2="{ly - 4}" stroke="{colour}" stroke-width="2"/>')
            out.append(f'<text x="{LEFT + plot_w + 30}" y="{ly}">{escape(name)} (last {fmt(last)})</text>')
        if label == "connections":
            prev = None
            for r in soak:
                sc = r["slow_consumers"]
                if sc is None:
                    continue
                if prev is not None and sc > prev:
                    X = px(r["elapsed_s"])
                    out.append(f'<line x1="{X:.1f}" y1="{y0 + PANEL_H}" x2="{X:.1f}" y2="{y0 + PANEL_H - 8}" stroke="#d62728"/>')
                prev = sc
    out.append(f'<text x="{LEFT + plot_w / 2:.0f}" y="{height - 8}" text-anchor="middle">elapsed ({unit})</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def percentile_key(d, key):
    lat = d.get("latency_us") or {}
    return lat.get(key)


def summary(outdir, rows, drivers, warmup_s, verdict):
    soak = [r for r in rows if r["phase"] == "soak"]
    idle = [r for r in rows if r["phase"] == "idle"]
    after = [r for r in soak if r["elapsed_s"] >= warmup_s] or soak
    lines = [f"# Soak summary: {'PASS' if verdict == 'PASS' else 'FAIL: ' + verdict}", ""]
    if not soak:
        lines.append("No samples.")
        return lines
    span = soak[-1]["elapsed_s"]
    ok = [r for r in soak if r["varz_ok"] == 1]
    lines += [
        f"- Sampled {len(soak)} times over {span:.0f} s; figures below are after the first "
        f"{warmup_s:g} s (warm-up), {len(after)} samples from {after[0]['elapsed_s']:.0f} s.",
        f"- /varz polls that failed: {len(soak) - len(ok)}.",
        "",
        "| | first | last | max | slope (least squares) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    t = [r["elapsed_s"] for r in after]
    rss = [r["rss_kib"] / 1024 if r["rss_kib"] is not None else None for r in after]
    fds = [r["fds"] for r in after]
    thr = [r["threads"] for r in after]
    for name, ys, unit, prec in [("RSS (MiB)", rss, "MiB/h", 2), ("open fds", fds, "fds/h", 1), ("threads", thr, "/h", 1)]:
        vals = [y for y in ys if y is not None]
        if not vals:
            continue
        s = slope_per_hour(t, ys)
        slope = f"{s:+.{prec}f} {unit}" if s is not None else "-"
        lines.append(f"| {name} | {vals[0]:.{prec}f} | {vals[-1]:.{prec}f} | {max(vals):.{prec}f} | {slope} |")
    lines.append("")
    if span - after[0]["elapsed_s"] < 1200:
        lines += ["Slopes over less than 20 minutes are dominated by noise and by allocator warm-up; "
                  "read them against a long run.", ""]

    last = ok[-1] if ok else None
    conns = [r["connections"] for r in ok]
    subs = [r["subscriptions"] for r in ok]
    rin = [r["in_msgs_per_s"] for r in ok if r["in_msgs_per_s"] is not None]
    rout = [r["out_msgs_per_s"] for r in ok if r["out_msgs_per_s"] is not None]
    if last:
        lines += [
            f"- Connections: at most {fmt(max(conns))} at once, {fmt(last['total_connections'])} in total; "
            f"subscriptions at most {fmt(max(subs))}.",
            f"- Messages: {fmt(last['in_msgs'])} in, {fmt(last['out_msgs'])} out; mean "
            f"{fmt(statistics.fmean(rin) if rin else None)} in/s and {fmt(statistics.fmean(rout) if rout else None)} out/s.",
            f"- Slow consumers cut off (/varz `slow_consumers`): {fmt(last['slow_consumers'])}.",
        ]
        slow_cut = sum(1 for d in drivers if d["driver"] == "slow" and d["note"].startswith("cut off"))
        others = (last["slow_consumers"] or 0) - slow_cut
        if others > 0:
            lines.append(f"  Of those, {fmt(others)} were not the slow client: loadgen's own subscribers, "
                         "which fell behind by max_pending (a stalled machine, or a server that stopped "
                         "writing to them); their runs show up as failed below.")
    for r in idle:
        flag = "" if (r["connections"], r["subscriptions"]) == (0, 0) else " **(expected 0 and 0: something was left behind)**"
        lines.append(
            f"- Idle, {r['elapsed_s'] - span:.0f} s after the traffic stopped: {fmt(r['connections'])} connections, "
            f"{fmt(r['subscriptions'])} subscriptions{flag}; RSS {r['rss_kib'] / 1024:.1f} MiB, {fmt(r['fds'])} fds, "
            f"{fmt(r['threads'])} threads.")
    lines.append("")

    if drivers:
        lines += ["| client driver | runs | failed (exit != 0) | lost msgs | duplicates | notes |",
                  "| --- | ---: | ---: | ---: | ---: | --- |"]
        by = {}
        for d in drivers:
            by.setdefault(d["driver"], []).append(d)
        for name, ds in by.items():
            failed = [d for d in ds if d["rc"] != "0"]
            lost = sum(int(d["lost"]) for d in ds if d["lost"])
            dups = sum(int(d["duplicates"]) for d in ds if d["duplicates"])
            notes = ""
            if name == "slow":
                cut = [float(d["note"].split()[3].rstrip("s")) for d in ds if d["note"].startswith("cut off after")]
                never = sum(1 for d in ds if d["note"].startswith("not cut off"))
                notes = f"{len(cut)} cut off"
                if cut:
                    notes += f" after {statistics.median(cut):.1f} s (median), {max(cut):.1f} s max"
                notes += f"; {never} never cut off"
            else:
                scen = sorted({d["scenario"] for d in ds})
                notes = ", ".join(scen)
                other = sorted({d["note"] for d in ds if d["note"]})
                if other:
                    notes += "; " + "; ".join(other)
            rcs = sorted({d["rc"] for d in failed})
            fcell = f"{len(failed)}" + (f" (exit {', '.join(rcs)})" if rcs else "")
            counted = any(d["lost"] for d in ds)  # the slow client counts no messages
            lost_cell, dups_cell = (f"{lost:,}", f"{dups:,}") if counted else ("-", "-")
            lines.append(f"| {name} | {len(ds)} | {fcell} | {lost_cell} | {dups_cell} | {notes} |")
        lines.append("")
        if any(d["rc"] != "0" for d in drivers):
            lines += ["Failed runs' output is in `failures/` (the first few per driver).", ""]

    runs = []
    for p in sorted(glob.glob(os.path.join(outdir, "runs", "*.json"))):
        try:
            with open(p) as f:
                runs.append(json.load(f))
        except (OSError, ValueError):
            pass
    if runs:
        lines += ["Steady open-loop runs (latency from the intended send time, per run):", "",
                  "| scenario | runs | offered msgs/s | achieved msgs/s (min) | p50 ms (median) | p99 ms (median / max) | max ms (max) |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        by = {}
        for d in runs:
            by.setdefault(d["scenario"], []).append(d)
        for scen, ds in sorted(by.items()):
            ach = [d["achieved_rate"] for d in ds if d.get("achieved_rate") is not None]
            p50, p99, mx = ([percentile_key(d, k) / 1000 for d in ds if percentile_key(d, k) is not None]
                            for k in ("p50", "p99", "max"))
            lines.append(
                f"| {scen} | {len(ds)} | {fmt(ds[0]['params'].get('rate'))} | {fmt(min(ach) if ach else None)} | "
                f"{fmt(statistics.median(p50) if p50 else None)} | "
                f"{fmt(statistics.median(p99) if p99 else None)} / {fmt(max(p99) if p99 else None)} | "
                f"{fmt(max(mx) if mx else None)} |")
        lines += ["", "Short runs at the very end are cut to the time left, so their rates can be lower.", ""]

    log = os.path.join(outdir, "riptide.log")
    if os.path.exists(log):
        with open(log, errors="replace") as f:
            text = f.read().splitlines()
        count = lambda s: sum(1 for line in text if s in line)
        lines.append(
            f"- riptide.log: {len(text):,} lines; [WRN] {count('[WRN]')}, [ERR] {count('[ERR]')}, "
            f"[FTL] {count('[FTL]')}, panics {count('panicked')}; \"Slow Consumer Detected\" {count('Slow Consumer Detected')}.")
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir")
    ap.add_argument("--warmup", type=float, default=0.0)
    ap.add_argument("--verdict", default="PASS")
    a = ap.parse_args()
    rows = load_samples(os.path.join(a.dir, "samples.csv"))
    drivers = load_drivers(os.path.join(a.dir, "drivers.log"))
    title = f"riptide soak ({os.path.basename(os.path.normpath(a.dir))})"
    if a.verdict != "PASS":
        title += f": FAIL: {a.verdict}"
    svg_plot(rows, a.warmup, title, os.path.join(a.dir, "soak.svg"))
    with open(os.path.join(a.dir, "summary.md"), "w") as f:
        f.write("\n".join(summary(a.dir, rows, drivers, a.warmup, a.verdict)) + "\n")


if __name__ == "__main__":
    main()

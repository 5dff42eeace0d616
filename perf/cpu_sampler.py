#!/usr/bin/env python3
"""A server's CPU time during the measured phase of a loadgen run.

    cpu_sampler.py record PID FILE    samples PID's CPU time (all its threads, from
                                      /proc/PID/task/*/schedstat, in ns) every 2 ms into
                                      FILE until PID exits or this is killed
    cpu_sampler.py window FILE JSON   the CPU seconds PID used over the measured phase of
                                      loadgen's JSON report: its last `elapsed_s` seconds,
                                      ending when the report was written

The measured phase (a consumer's delivery, not the fill before it) is what loadgen's rate
covers; a server that waits on round trips there uses less than a core, and this says how
much: msgs per server CPU second is the rate per core the issue's goals name.
"""
import glob
import json
import os
import sys
import time

INTERVAL_S = 0.002


def cpu_ns(pid):
    total = 0
    for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            with open(path) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass  # a thread that exited between the listing and the read
    return total


def record(pid, out):
    with open(out, "w") as f:
        while os.path.exists(f"/proc/{pid}"):
            f.write(f"{time.time():.6f} {cpu_ns(pid)}\n")
            f.flush()
            time.sleep(INTERVAL_S)


def window(samples_path, report_path):
    samples = []
    for line in open(samples_path):
        parts = line.split()
        if len(parts) == 2:
            samples.append((float(parts[0]), int(parts[1])))
    report = json.load(open(report_path))
    end = os.path.getmtime(report_path)
    start = end - report["elapsed_s"]

    def at(t):
        return min(samples, key=lambda s: abs(s[0] - t))[1]

    print(f"{(at(end) - at(start)) / 1e9:.4f}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "record":
        record(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "window":
        window(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)

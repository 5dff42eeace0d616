#!/usr/bin/env python3
"""Resident memory of each server: idle, with 10,000 idle connections, and with 1,000
subscribers on distinct subjects. Reads VmRSS from /proc/PID/status."""
import argparse, json, resource, socket, time

IDLE_CONNECTIONS = 10_000
SUBSCRIBERS = 1_000
SETTLE_S = 1.0


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def connect(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(10)
    buf = b""
    while not buf.endswith(b"\r\n"):
        buf += s.recv(4096)
    return s


def pong(s):
    s.sendall(b"PING\r\n")
    buf = b""
    while b"PONG\r\n" not in buf:
        buf += s.recv(4096)


def measure(pid, port):
    out = {"idle_kib": rss_kib(pid)}
    conns = []
    for _ in range(IDLE_CONNECTIONS):
        s = connect(port)
        s.sendall(b'CONNECT {"verbose":false}\r\n')
        conns.append(s)
    for s in conns[:: max(1, IDLE_CONNECTIONS // 100)]:
        pong(s)
    time.sleep(SETTLE_S)
    out["conns_10k_kib"] = rss_kib(pid)
    out["per_conn_bytes"] = (out["conns_10k_kib"] - out["idle_kib"]) * 1024 / IDLE_CONNECTIONS
    for s in conns:
        s.close()
    time.sleep(SETTLE_S)
    # Subscriptions alone: the same 1,000 connections first without, then with a SUB each.
    subs = []
    for i in range(SUBSCRIBERS):
        s = connect(port)
        s.sendall(b'CONNECT {"verbose":false}\r\n')
        subs.append(s)
    for s in subs[:: max(1, SUBSCRIBERS // 50)]:
        pong(s)
    time.sleep(SETTLE_S)
    before = rss_kib(pid)
    for i, s in enumerate(subs):
        s.sendall(b"SUB mem.subject.%d 1\r\n" % i)
    for s in subs:
        pong(s)
    time.sleep(SETTLE_S)
    out["subs_1k_kib"] = rss_kib(pid)
    out["per_subscriber_bytes"] = (out["subs_1k_kib"] - before) * 1024 / SUBSCRIBERS
    for s in subs:
        s.close()
    return out


def main():
    ap = argparse.ArgumentParser()
    for n in ("go", "riptide"):
        ap.add_argument(f"--{n}-pid", type=int, required=True)
        ap.add_argument(f"--{n}-port", type=int, required=True)
    ap.add_argument("--json", required=True)
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = IDLE_CONNECTIONS + 1000
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    res = {"go": measure(a.go_pid, a.go_port), "riptide": measure(a.riptide_pid, a.riptide_port)}
    with open(a.json, "w") as f:
        json.dump(res, f, indent=2)
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()

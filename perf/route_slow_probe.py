#!/usr/bin/env python3
"""The slow side of perf/route_slow.sh: a subscriber that hardly reads, on the server
across the route from the publisher, while the resident memory (VmRSS) of both servers is
sampled. Prints one JSON object: the start, peak and last RSS of each server. (Whether the
slow subscriber was cut off is in its server's log: a closed socket still has the
server's send buffer to hand over, far more than this reader takes in a run.)

Usage: route_slow_probe.py SUB_PORT PUB_PID SUB_PID SECONDS SUBJECT"""
import json, socket, sys, threading, time

RCVBUF = 4096          # bytes: the backlog piles up in the server, not in the kernel
READ_BYTES = 1024      # read per tick: far less than the traffic
TICK_S = 0.5
SAMPLE_S = 0.1


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def slow_subscriber(port, subject, seconds):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
    s.connect(("127.0.0.1", port))
    s.settimeout(5)
    s.recv(4096)
    s.sendall(f'CONNECT {{"verbose":false}}\r\nSUB {subject} 1\r\nPING\r\n'.encode())
    buf = b""
    while b"PONG" not in buf:
        buf += s.recv(4096)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(TICK_S)
        try:
            if not s.recv(READ_BYTES):
                return
        except (ConnectionResetError, socket.timeout):
            return
    s.close()


def main():
    port, pub_pid, sub_pid, seconds, subject = sys.argv[1:6]
    port, seconds = int(port), float(seconds)
    t = threading.Thread(target=slow_subscriber, args=(port, subject, seconds))
    t.start()
    peak = {"pub_kib": 0, "sub_kib": 0}
    start = {"pub_kib": rss_kib(pub_pid), "sub_kib": rss_kib(sub_pid)}
    last = dict(start)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        last = {"pub_kib": rss_kib(pub_pid), "sub_kib": rss_kib(sub_pid)}
        for k in peak:
            peak[k] = max(peak[k], last[k])
        time.sleep(SAMPLE_S)
    t.join()
    print(json.dumps({"start": start, "peak": peak, "last": last}))


if __name__ == "__main__":
    main()

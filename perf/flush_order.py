#!/usr/bin/env python3
"""How often a subscriber's socket already holds what a publisher flushed when the
publisher reads its PONG (issue 15, item 3).

A publisher sends N PUBs and a PING; as soon as its PONG is read, the subscriber's socket
is read without waiting. A round is short when the subscriber holds fewer than N messages
then. With `--shards S` the two connections are placed on different Riptide shards (the
client id in INFO tells the shard: (cid - 1) % S), once each way round. The Go server has
no shards: its two connections are any two.

A round can be short on any server: the two sockets' bytes are written on two cores and
the kernel delivers them independently. What the count shows is how far the server orders
the publisher's PONG after its deliveries.

Usage: perf/flush_order.py --port P [--shards S] [--rounds R] [--msgs N]
"""
import argparse
import json
import socket

TIMEOUT = 10  # seconds, every blocking read


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    f = s.makefile("rb")
    info = json.loads(f.readline()[5:])
    return s, f, info["client_id"]


def pair(port, shards, sub_shard):
    """A (subscriber, publisher) pair on shards sub_shard and the next one."""
    kept = {}
    for _ in range(1000):
        s, f, cid = connect(port)
        shard = (cid - 1) % shards
        if shard not in kept:
            kept[shard] = (s, f)
        want = (sub_shard % shards, (sub_shard + 1) % shards)
        if all(w in kept for w in want):
            return kept[want[0]], kept[want[1]]
    raise SystemExit("could not place the connections")


def short_rounds(sub, pub, rounds, msgs):
    (ss, sf), (ps, pf) = sub, pub
    ss.sendall(b'CONNECT {"verbose":false}\r\nSUB flush.x 1\r\nPING\r\n')
    assert sf.readline() == b"PONG\r\n"
    ps.sendall(b'CONNECT {"verbose":false}\r\nPING\r\n')
    assert pf.readline() == b"PONG\r\n"
    want = len(b"MSG flush.x 1 5\r\nhello\r\n") * msgs
    short = 0
    for _ in range(rounds):
        ps.sendall(b"PUB flush.x 5\r\nhello\r\n" * msgs + b"PING\r\n")
        line = pf.readline()
        assert line == b"PONG\r\n", line
        ss.setblocking(False)
        got = 0
        try:
            while True:
                d = ss.recv(65536)
                if not d:
                    break
                got += len(d)
        except BlockingIOError:
            pass
        ss.settimeout(TIMEOUT)
        if got < want:
            short += 1
        while got < want:
            got += len(ss.recv(65536))
    return short


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--msgs", type=int, default=100)
    a = ap.parse_args()
    total = 0
    for sub_shard in (0, 1):
        sub, pub = pair(a.port, a.shards, sub_shard)
        n = short_rounds(sub, pub, a.rounds, a.msgs)
        print(f"subscriber on shard {sub_shard}: {n} of {a.rounds} rounds short")
        total += n
    print(f"short rounds: {total} of {2 * a.rounds}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The client side of perf/js_crash_loop.sh: a NATS client over a plain socket (stdlib only)
that creates the stream, publishes into it keeping what was acked, and checks after a
restart that every acked message is still there.

  create  --port P --stream S --subject SUBJ     create a file stream S on SUBJ
  publish --port P --subject SUBJ --acked FILE   publish until the server goes away; append
          [--window N] [--started FILE]          "<seq> <base64 payload>" per ack to FILE
  verify  --port P --stream S --acked FILE       every acked seq present with its payload,
                                                 acked seqs increasing, last_seq >= them all
  consume --port P --stream S --consumed FILE    pull from the durable consumer WORKER (made
          [--started FILE]                       by create) until the server goes away,
                                                 appending each seq whose ack the server
                                                 answered
  drain   --port P --stream S --acked FILE       pull what WORKER has left (redeliveries
          --consumed FILE                        too); every acked publish must have been
                                                 consumed, nothing left pending
  info    --port P --stream S                    print $JS.API.STREAM.INFO.S's reply

Exit status: 0 fine, 1 a violation (the first one is printed with its seq), 2 any other
failure (no connection, an API error, an error ack).
"""
import argparse
import base64
import json
import os
import random
import socket
import sys
import time

# A request or a connection that takes longer than this means the server is stuck.
TIMEOUT_S = 10.0
# Payload sizes are drawn from 1..MAX_PAYLOAD so the kill lands on records of many lengths.
# Small payloads keep verify fast: it reads back every message acked so far after every
# restart, so its cost grows with the square of the iterations.
MAX_PAYLOAD = 256
# MSG.GET requests in flight during verify: enough to hide the round trip.
VERIFY_WINDOW = 256
READ_BYTES = 1 << 16
# The durable pull consumer the loop reads with, its ack wait (what a kill leaves unacked
# comes back after it), and its pulls: a batch, waiting this long for it.
CONSUMER = "WORKER"
CONSUMER_ACK_WAIT_NS = 1_000_000_000
CONSUME_BATCH = 100
CONSUME_EXPIRES_NS = 500_000_000
# How long the final drain may take: redeliveries wait out the ack wait.
DRAIN_TIMEOUT_S = 60.0


class ServerGone(Exception):
    """The server closed the connection or reset it (it was killed)."""


class Violation(Exception):
    pass


class Nats:
    """One connection: CONNECT without headers or echo, then MSG frames by sid."""

    def __init__(self, port, name, headers=False):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.next_sid = 1
        self.line()  # INFO
        opts = {"verbose": False, "pedantic": False, "headers": headers, "protocol": 1,
                "echo": False, "name": name}
        self.send(b"CONNECT " + json.dumps(opts).encode() + b"\r\nPING\r\n")
        while self.frame()[0] != "PONG":
            pass

    def send(self, data):
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError) as e:
            raise ServerGone(str(e)) from e

    def fill(self):
        try:
            chunk = self.sock.recv(READ_BYTES)
        except ConnectionResetError as e:
            raise ServerGone(str(e)) from e
        if not chunk:
            raise ServerGone("connection closed")
        self.buf += chunk

    def line(self):
        while True:
            at = self.buf.find(b"\r\n")
            if at >= 0:
                line = bytes(self.buf[:at])
                del self.buf[:at + 2]
                return line
            self.fill()

    def frame(self):
        """The next frame: ("MSG", subject, sid, payload, reply, headers) or ("PONG",)."""
        while True:
            line = self.line()
            if line.startswith(b"MSG ") or line.startswith(b"HMSG "):
                parts = line.split()
                size = int(parts[-1])
                hdr = int(parts[-2]) if parts[0] == b"HMSG" else 0
                plain = 5 if parts[0] == b"HMSG" else 4
                reply = parts[3].decode() if len(parts) > plain else None
                while len(self.buf) < size + 2:
                    self.fill()
                headers = bytes(self.buf[:hdr])
                payload = bytes(self.buf[hdr:size])
                del self.buf[:size + 2]
                return ("MSG", parts[1].decode(), int(parts[2]), payload, reply, headers)
            if line == b"PING":
                self.send(b"PONG\r\n")
            elif line == b"PONG":
                return ("PONG",)
            elif line.startswith(b"-ERR"):
                raise RuntimeError(f"server error: {line.decode(errors='replace')}")
            elif line == b"+OK" or line.startswith(b"INFO "):
                continue
            else:
                raise RuntimeError(f"unexpected line from the server: {line[:80]!r}")

    def subscribe(self, subject):
        sid = self.next_sid
        self.next_sid += 1
        self.send(f"SUB {subject} {sid}\r\n".encode())
        return sid

    def request(self, subject, body):
        inbox = f"_INBOX.{os.urandom(8).hex()}"
        sid = self.subscribe(inbox)
        self.send(pub(subject, inbox, body))
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            f = self.frame()
            if f[0] == "MSG" and f[2] == sid:
                self.send(f"UNSUB {sid}\r\n".encode())
                return json.loads(f[3])
        raise RuntimeError(f"no reply to {subject}")


def pub(subject, reply, payload):
    return b"PUB %s %s %d\r\n%s\r\n" % (subject.encode(), reply.encode(), len(payload), payload)


def api(nc, subject, body=b""):
    reply = nc.request(subject, body)
    if "error" in reply:
        raise RuntimeError(f"{subject}: {reply['error']}")
    return reply


def create(a):
    nc = Nats(a.port, "js-crash-create")
    config = {"name": a.stream, "subjects": [a.subject], "storage": "file"}
    api(nc, f"$JS.API.STREAM.CREATE.{a.stream}", json.dumps(config).encode())
    consumer = {"stream_name": a.stream, "config": {
        "durable_name": CONSUMER, "ack_policy": "explicit", "ack_wait": CONSUMER_ACK_WAIT_NS}}
    api(nc, f"$JS.API.CONSUMER.CREATE.{a.stream}.{CONSUMER}", json.dumps(consumer).encode())


def pull_round(nc, stream, inbox, sid, batch, expires_ns, out):
    """One pull request of `batch` on WORKER: each message is acked with a reply, and its
    seq appended to `out` once the server answered the ack. Returns how many came."""
    body = json.dumps({"batch": batch, "expires": expires_ns}).encode()
    nc.send(pub(f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{CONSUMER}", f"{inbox}.req", body))
    got, acks, done = 0, 0, False
    while not done or acks < got:
        f = nc.frame()
        if f[0] != "MSG" or f[2] != sid:
            continue
        subject, reply, headers = f[1], f[4], f[5]
        # A delivery shows the stored subject; what tells it is the ack subject.
        if reply and reply.startswith("$JS.ACK."):
            seq = int(reply.split(".")[5])
            nc.send(pub(reply, f"{inbox}.ack.{seq}", b""))
            got += 1
            done = got == batch
        elif subject.endswith(".req") and headers.startswith(b"NATS/1.0 "):
            done = True  # 404, 408 or 409: the request is over
        elif ".ack." in subject:
            out.write(f"{subject.rsplit('.', 1)[1]}\n")
            acks += 1
    out.flush()
    return got


def consume(a):
    """Pulls and acks until the server goes away."""
    nc = Nats(a.port, "js-crash-consume", headers=True)
    inbox = f"_INBOX.{os.urandom(8).hex()}"
    sid = nc.subscribe(f"{inbox}.>")
    n = 0
    with open(a.consumed, "a") as out:
        if a.started:
            open(a.started, "w").close()
        try:
            while True:
                n += pull_round(nc, a.stream, inbox, sid, CONSUME_BATCH, CONSUME_EXPIRES_NS, out)
        except (ServerGone, socket.timeout):
            pass
    print(f"consumed {n}")


def drain(a):
    """Pulls what WORKER has left until nothing is pending, then checks that every acked
    publish was consumed at least once (kills may bring some back twice: at least once)."""
    acked = {seq for seq, _ in read_acked(a.acked)}
    nc = Nats(a.port, "js-crash-drain", headers=True)
    inbox = f"_INBOX.{os.urandom(8).hex()}"
    sid = nc.subscribe(f"{inbox}.>")
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    with open(a.consumed, "a") as out:
        while time.monotonic() < deadline:
            got = pull_round(nc, a.stream, inbox, sid, CONSUME_BATCH, CONSUME_EXPIRES_NS, out)
            info = api(nc, f"$JS.API.CONSUMER.INFO.{a.stream}.{CONSUMER}")
            if got == 0 and info["num_ack_pending"] == 0 and info["num_pending"] == 0:
                break
        else:
            raise Violation(f"WORKER still has messages after {DRAIN_TIMEOUT_S} s: {info}")
    with open(a.consumed) as f:
        consumed = {int(line) for line in f if line.strip()}
    missing = sorted(acked - consumed)
    if missing:
        raise Violation(f"seq {missing[0]}: acked by the stream, never consumed "
                        f"({len(missing)} such)")
    print(f"consumed all {len(acked)} acked messages ({len(consumed)} distinct seqs consumed); "
          f"WORKER ack floor {info['ack_floor']['stream_seq']}")


def publish(a):
    """Keeps `window` publishes in flight until the server goes away. Each ack is appended
    to the acked file as soon as it is read, so the file holds exactly what was acked."""
    nc = Nats(a.port, "js-crash-publish")
    inbox = f"_INBOX.{os.urandom(8).hex()}"
    sid = nc.subscribe(f"{inbox}.*")
    rng = random.Random()
    pending = {}
    next_n = 0
    acked = 0
    started = False
    with open(a.acked, "a") as out:
        try:
            while True:
                batch = []
                while len(pending) < a.window:
                    payload = rng.randbytes(rng.randint(1, a.max_payload))
                    pending[next_n] = payload
                    batch.append(pub(a.subject, f"{inbox}.{next_n}", payload))
                    next_n += 1
                if batch:
                    nc.send(b"".join(batch))
                if not started and a.started:
                    open(a.started, "w").close()
                    started = True
                lines = []
                f = nc.frame()
                while True:
                    if f[0] == "MSG" and f[2] == sid:
                        n = int(f[1].rsplit(".", 1)[1])
                        payload = pending.pop(n, None)
                        if payload is None:
                            raise RuntimeError(f"an ack for publish {n}, which is not in flight")
                        ack = json.loads(f[3])
                        if "error" in ack:
                            raise RuntimeError(f"publish {n} refused: {ack['error']}")
                        lines.append(f"{ack['seq']} {base64.b64encode(payload).decode()}\n")
                    # Take whatever else is already buffered before publishing more.
                    if b"\r\n" not in nc.buf:
                        break
                    f = nc.frame()
                out.write("".join(lines))
                out.flush()
                acked += len(lines)
        except (ServerGone, socket.timeout):
            pass
    print(f"acked {acked} of {next_n} publishes ({len(pending)} in flight when the server went away)")


def read_acked(path):
    """(seq, payload) per acked message, checking that the seqs only go up."""
    entries = []
    last = 0
    with open(path) as f:
        for number, line in enumerate(f, 1):
            seq_text, data = line.split()
            seq = int(seq_text)
            if seq <= last:
                raise Violation(f"seq {seq}: acked after seq {last} (line {number}); "
                                "acked seqs must be unique and increasing")
            last = seq
            entries.append((seq, base64.b64decode(data)))
    return entries


def verify(a):
    started = time.monotonic()
    entries = read_acked(a.acked)
    nc = Nats(a.port, "js-crash-verify")
    info = api(nc, f"$JS.API.STREAM.INFO.{a.stream}")
    state = info["state"]
    if entries and state["last_seq"] < entries[-1][0]:
        raise Violation(f"seq {entries[-1][0]}: acked, but the stream's last_seq is {state['last_seq']}")
    if state["messages"] and state["messages"] != state["last_seq"] - state["first_seq"] + 1:
        raise Violation(f"seq {state['first_seq']}..{state['last_seq']}: {state['messages']} "
                        "messages, a hole in a stream that deletes nothing")
    inbox = f"_INBOX.{os.urandom(8).hex()}"
    sid = nc.subscribe(f"{inbox}.*")
    get = f"$JS.API.STREAM.MSG.GET.{a.stream}"
    for start in range(0, len(entries), VERIFY_WINDOW):
        chunk = entries[start:start + VERIFY_WINDOW]
        nc.send(b"".join(pub(get, f"{inbox}.{i}", json.dumps({"seq": seq}).encode())
                         for i, (seq, _) in enumerate(chunk)))
        replies = {}
        while len(replies) < len(chunk):
            f = nc.frame()
            if f[0] == "MSG" and f[2] == sid:
                replies[int(f[1].rsplit(".", 1)[1])] = json.loads(f[3])
        for i, (seq, payload) in enumerate(chunk):
            reply = replies[i]
            if "error" in reply:
                raise Violation(f"seq {seq}: acked, but MSG.GET says {reply['error']}")
            msg = reply["message"]
            if msg["seq"] != seq:
                raise Violation(f"seq {seq}: MSG.GET answered with seq {msg['seq']}")
            if base64.b64decode(msg.get("data", "")) != payload:
                raise Violation(f"seq {seq}: payload differs from the one acked")
    print(f"verified {len(entries)} acked messages in {time.monotonic() - started:.1f} s; "
          f"stream first_seq {state['first_seq']}, last_seq {state['last_seq']}, "
          f"messages {state['messages']}")


def info(a):
    nc = Nats(a.port, "js-crash-info")
    print(json.dumps(api(nc, f"$JS.API.STREAM.INFO.{a.stream}")))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("create", "publish", "verify", "consume", "drain", "info"):
        s = sub.add_parser(name)
        s.add_argument("--port", type=int, required=True)
        if name != "publish":
            s.add_argument("--stream", required=True)
        if name in ("create", "publish"):
            s.add_argument("--subject", required=True)
        if name in ("publish", "verify", "drain"):
            s.add_argument("--acked", required=True)
        if name in ("consume", "drain"):
            s.add_argument("--consumed", required=True)
    sub.choices["consume"].add_argument("--started", help="touched once connected")
    pub_parser = sub.choices["publish"]
    pub_parser.add_argument("--window", type=int, default=16, help="publishes awaiting their ack")
    pub_parser.add_argument("--started", help="touched once the first publishes are sent")
    pub_parser.add_argument("--max-payload", type=int, default=MAX_PAYLOAD,
                            help="payload sizes are drawn from 1..N bytes")
    a = p.parse_args()
    try:
        commands = {"create": create, "publish": publish, "verify": verify, "consume": consume,
                    "drain": drain, "info": info}
        commands[a.command](a)
    except Violation as v:
        print(f"VIOLATION: {v}", file=sys.stderr)
        sys.exit(1)
    except (RuntimeError, OSError, ServerGone, KeyError, ValueError) as e:
        print(f"js_crash_client {a.command}: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()

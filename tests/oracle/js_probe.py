#!/usr/bin/env python3
"""Send JetStream API requests to a NATS server and print the replies.

Each stdin line is `SUBJECT [BODY]`; the request goes out with a reply inbox and the reply
(status line and body) is printed, or `(no reply)` after the timeout. Used to record what
nats-server 2.15.1 answers, to compare Riptide with it:
    .venv/bin/nats-server -js -sd /tmp/js -a 127.0.0.1 -p 4999 &
    printf '%s\n' '$JS.API.STREAM.CREATE.S {"name":"S","subjects":["s.>"]}' | js_probe.py 4999
"""
import socket
import sys

TIMEOUT_S = 2.0


class Conn:
    """A socket with its own read buffer (a file object is unusable after a timeout)."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.settimeout(TIMEOUT_S)
        self.buf = b""

    def fill(self):
        data = self.s.recv(65536)
        if not data:
            raise EOFError("server closed the connection")
        self.buf += data

    def line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode()

    def read(self, n):
        while len(self.buf) < n:
            self.fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data


def connect(port):
    c = Conn(port)
    c.line()  # INFO
    c.s.sendall(b'CONNECT {"verbose":false,"headers":true,"protocol":1}\r\nSUB _INBOX.> 1\r\nPING\r\n')
    assert c.line() == "PONG"
    # Protocol 1: the server follows the login with an INFO naming the account.
    assert c.line().startswith("INFO ")
    return c


def request(c, subject, body):
    c.s.sendall(f"PUB {subject} _INBOX.r {len(body)}\r\n".encode() + body + b"\r\n")
    while True:
        try:
            line = c.line()
        except socket.timeout:
            return "(no reply)", ""
        if line == "PING":
            c.s.sendall(b"PONG\r\n")
            continue
        parts = line.split()
        if parts and parts[0] in ("MSG", "HMSG"):
            data = c.read(int(parts[-1]) + 2)[:-2]
            return line, data.decode(errors="replace")
        return line, ""


def main():
    c = connect(int(sys.argv[1]))
    for line in sys.stdin:
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        subject, _, body = line.partition(" ")
        status, data = request(c, subject, body.encode())
        print(">>", line)
        print("<<", status)
        if data:
            print(data)


if __name__ == "__main__":
    main()

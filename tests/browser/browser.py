"""The official nats.ws client in headless Chromium talks with a plain TCP client through
Riptide's WebSocket listener: once over ws:// and once over wss:// (certificates made here
with trustme). Starts its own Riptide on free loopback ports and stops it (by PID).

usage: browser.py CHROMIUM RIPTIDE_BIN NATS_WS_BUNDLE SCREENSHOT_DIR
"""

import functools
import http.server
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

import trustme
from playwright.sync_api import sync_playwright

MESSAGES = 100
IO_TIMEOUT_S = 10
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--ignore-certificate-errors"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Tcp:
    """A raw NATS protocol client over TCP."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT_S)
        self.buf = b""
        assert self.line().startswith(b"INFO {")
        self.s.sendall(b'CONNECT {"verbose":false}\r\nSUB from.browser 1\r\nPING\r\n')
        assert self.line() == b"PONG\r\n"

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            assert chunk, "server closed the TCP client"
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line + b"\r\n"

    def read(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            assert chunk, "server closed the TCP client"
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def msg(self):
        """The next MSG's payload (skipping server PINGs)."""
        while True:
            line = self.line()
            if line == b"PING\r\n":
                self.s.sendall(b"PONG\r\n")
                continue
            parts = line.split()
            assert parts[0] == b"MSG", line
            payload = self.read(int(parts[-1]) + 2)[:-2]
            return payload.decode()

    def publish(self, subject, text):
        data = text.encode()
        self.s.sendall(b"PUB %s %d\r\n%s\r\n" % (subject.encode(), len(data), data))


def serve_page(directory):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=directory)
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def start_riptide(binary, conf_text, work):
    conf = os.path.join(work, "riptide.conf")
    with open(conf, "w") as f:
        f.write(conf_text)
    log = open(os.path.join(work, "riptide.log"), "w")
    proc = subprocess.Popen([binary, "-c", conf], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + IO_TIMEOUT_S
    while time.time() < deadline:
        with open(os.path.join(work, "riptide.log")) as f:
            if "Server is ready" in f.read():
                return proc
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    with open(os.path.join(work, "riptide.log")) as f:
        sys.exit("riptide did not start:\n" + f.read())


def run(browser, binary, page_url, work, scheme, shot):
    tcp_port, ws_port = free_port(), free_port()
    tls = ""
    if scheme == "wss":
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        cert.private_key_pem.write_to_path(os.path.join(work, "key.pem"))
        cert.cert_chain_pems[0].write_to_path(os.path.join(work, "cert.pem"))
        tls = 'tls { cert_file: "%s/cert.pem", key_file: "%s/key.pem" }' % (work, work)
    conf = (
        "listen: 127.0.0.1:%d\nshards: 2\n"
        "websocket { host: 127.0.0.1, port: %d, %s %s }\n"
        % (tcp_port, ws_port, "no_tls: true" if not tls else "", tls)
    )
    proc = start_riptide(binary, conf, work)
    try:
        tcp = Tcp(tcp_port)
        ctx = browser.new_context(ignore_https_errors=True)
        page = ctx.new_page()
        ws_url = "%s://127.0.0.1:%d" % (scheme, ws_port)
        page.goto("%s/index.html?ws=%s" % (page_url, ws_url))
        page.wait_for_function(
            "window.result && window.result.state !== 'connecting'",
            timeout=IO_TIMEOUT_S * 1000,
        )
        result = page.evaluate("window.result")
        assert result["state"] == "ready", result
        # The INFO the browser got names the WebSocket port, as the Go server's does.
        assert result["info"]["port"] == ws_port, result["info"]
        assert tcp.msg() == "hello from the browser"
        sent = ["msg-%d %s" % (i, "x" * (i * 97 % 5000)) for i in range(MESSAGES)]
        for text in sent:
            tcp.publish("to.browser", text)
        echoed = [tcp.msg() for _ in sent]
        assert echoed == ["echo:" + t for t in sent], "echoes out of order or lost"
        received = page.evaluate("window.result.received")
        assert received == sent, "the browser got %d of %d in order" % (len(received), len(sent))
        page.screenshot(path=shot)
        ctx.close()
        print("browser: %s ok: nats.ws <-> TCP, %d messages each way" % (scheme, MESSAGES))
    finally:
        proc.terminate()
        proc.wait(timeout=IO_TIMEOUT_S)


def main():
    chromium, binary, bundle, shots = sys.argv[1:5]
    with tempfile.TemporaryDirectory() as work:
        page_dir = os.path.join(work, "page")
        os.makedirs(page_dir)
        here = os.path.dirname(os.path.abspath(__file__))
        with open(os.path.join(here, "page", "index.html")) as src:
            index = src.read()
        with open(os.path.join(page_dir, "index.html"), "w") as dst:
            dst.write(index)
        with open(bundle) as src, open(os.path.join(page_dir, "nats.js"), "w") as dst:
            dst.write(src.read())
        httpd = serve_page(page_dir)
        page_url = "http://127.0.0.1:%d" % httpd.server_address[1]
        os.makedirs(shots, exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            try:
                for scheme in ("ws", "wss"):
                    run(browser, binary, page_url, work, scheme,
                        os.path.join(shots, "browser-%s.png" % scheme))
            finally:
                browser.close()
        httpd.shutdown()


if __name__ == "__main__":
    main()

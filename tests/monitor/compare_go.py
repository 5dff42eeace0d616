"""Runs one scenario against the Go server and Riptide, then compares their monitoring JSON:
the key sets must match except for the differences listed below, and the figures the
scenario fixes must be equal. Also parses Riptide's /metrics with prometheus_client.

usage: compare_go.py GO_PORT GO_HTTP RIPTIDE_PORT RIPTIDE_HTTP
"""
import json
import socket
import sys
import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

N = 40  # messages published in the scenario
TIMEOUT = 10  # seconds, for every socket read

# Keys one server has and the other lacks, on purpose (README "Monitoring").
GO_ONLY = {
    "accountz": {"system_account"},
}
RIPTIDE_ONLY = {"varz": {"riptide_version", "shards"}}

ENDPOINTS = [
    "varz", "connz?subs=1", "connz?subs=detail", "connz?state=closed", "connz?auth=1",
    "subsz?subs=1&test=foo", "healthz", "routez", "gatewayz", "leafz", "accountz",
    "accstatz", "jsz",
]

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


class Client:
    def __init__(self, port, connect):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.buf = b""
        assert self.line().startswith(b"INFO ")
        self.s.sendall(b"CONNECT " + json.dumps(connect).encode() + b"\r\n")

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise RuntimeError("closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def sync(self):
        self.s.sendall(b"PING\r\n")
        lines = []
        while (l := self.line()) != b"PONG":
            lines.append(l)
        return lines


def get(http, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{http}/{path}", timeout=TIMEOUT) as r:
        return r.read()


def scenario(port, http, extra=()):
    a = Client(port, {"verbose": False, "name": "a", "lang": "python", "version": "1.0"})
    a.s.sendall(b"SUB foo 1\r\nSUB bar q 2\r\nSUB baz 3\r\nUNSUB 3\r\n")
    a.sync()
    b = Client(port, {"verbose": False, "name": "b"})
    for i in range(N):
        b.s.sendall(b"PUB foo 5\r\nm%04d\r\n" % i)
    b.sync()
    got = 0
    while got < N:
        if a.line().startswith(b"MSG foo 1 5"):
            got += 1
            a.line()
    c = Client(port, {"verbose": False, "name": "c"})
    c.sync()
    c.s.shutdown(socket.SHUT_WR)
    c.s.recv(1)
    c.s.close()
    for _ in range(500):
        if json.loads(get(http, "connz?state=closed"))["total"] >= 1:
            break
        time.sleep(0.02)
    out = {e: get(http, e) for e in ENDPOINTS}
    out.update({e: get(http, e) for e in extra})
    a.s.close()
    b.s.close()
    return out


def keys(v, pre=""):
    out = set()
    if isinstance(v, dict):
        for k, x in v.items():
            out.add(pre + k)
            out |= keys(x, pre + k + ".")
    elif isinstance(v, list):
        for x in v:
            out |= keys(x, pre + "[].")
    return out


def by_name(connz, name):
    return next(c for c in connz["connections"] if c.get("name") == name)


def main():
    go_port, go_http, rt_port, rt_http = map(int, sys.argv[1:5])
    go = scenario(go_port, go_http)
    rt = scenario(rt_port, rt_http, extra=["metrics"])
    base = lambda e: e.split("?")[0]

    for e in ENDPOINTS:
        g, r = json.loads(go[e]), json.loads(rt[e])
        kg, kr = keys(g), keys(r)
        go_only = {k for k in kg - kr if k.split(".")[0] not in GO_ONLY.get(base(e), set())}
        rt_only = {k for k in kr - kg if k.split(".")[0] not in RIPTIDE_ONLY.get(base(e), set())}
        check(not go_only and not rt_only,
              f"/{e}: same keys (Go only: {sorted(go_only)}, Riptide only: {sorted(rt_only)})")

    gv, rv = json.loads(go["varz"]), json.loads(rt["varz"])
    for k in ["in_msgs", "in_bytes", "out_msgs", "out_bytes", "in_client_msgs",
              "out_client_msgs", "connections", "total_connections", "slow_consumers",
              "max_payload", "max_control_line", "max_pending", "ping_interval", "ping_max",
              "write_deadline", "auth_timeout", "max_connections", "proto", "version"]:
        check(gv[k] == rv[k], f"/varz {k}: Go {gv[k]} Riptide {rv[k]}")
    check(rv["in_msgs"] == N and rv["out_msgs"] == N, f"/varz counts {N} messages")
    check(gv["feature_flags"] == rv["feature_flags"],
          f"/varz feature_flags: Go {gv['feature_flags']} Riptide {rv['feature_flags']}")

    gc, rc = json.loads(go["connz?subs=1"]), json.loads(rt["connz?subs=1"])
    check(gc["num_connections"] == rc["num_connections"] == 2, "/connz two open clients")
    for name in ["a", "b"]:
        ga, ra = by_name(gc, name), by_name(rc, name)
        for k in ["in_msgs", "out_msgs", "in_bytes", "out_bytes", "subscriptions", "ip",
                  "kind", "type", "lang", "version"]:
            check(ga.get(k) == ra.get(k), f"/connz {name}.{k}: Go {ga.get(k)} Riptide {ra.get(k)}")
        check(sorted(ga.get("subscriptions_list", [])) == sorted(ra.get("subscriptions_list", [])),
              f"/connz {name} subscriptions_list")
    gcl, rcl = json.loads(go["connz?state=closed"]), json.loads(rt["connz?state=closed"])
    check(gcl["total"] == rcl["total"] == 1, "/connz?state=closed one closed client")
    check(gcl["connections"][0]["reason"] == rcl["connections"][0]["reason"],
          f"close reason: Go {gcl['connections'][0]['reason']} Riptide {rcl['connections'][0]['reason']}")
    ga, ra = by_name(json.loads(go["connz?auth=1"]), "a"), by_name(json.loads(rt["connz?auth=1"]), "a")
    check(ga.get("name_tag") == ra.get("name_tag") == "$G", "/connz?auth=1 name_tag $G")

    gs, rs = json.loads(go["subsz?subs=1&test=foo"]), json.loads(rt["subsz?subs=1&test=foo"])
    check(gs["total"] == rs["total"] == 1, "/subsz?test=foo one match")
    strip = lambda d: {k: v for k, v in d.items() if k != "cid"}
    check(strip(gs["subscriptions_list"][0]) == strip(rs["subscriptions_list"][0]),
          f"/subsz match: Go {gs['subscriptions_list'][0]} Riptide {rs['subscriptions_list'][0]}")
    check(go["healthz"] == rt["healthz"], "/healthz same body")
    ga, ra = json.loads(go["accstatz"])["account_statz"][0], json.loads(rt["accstatz"])["account_statz"][0]
    for k in ["conns", "total_conns", "sent", "received", "slow_consumers"]:
        check(ga[k] == ra[k], f"/accstatz {k}: Go {ga[k]} Riptide {ra[k]}")

    families = {f.name: f for f in text_string_to_metric_families(rt["metrics"].decode())}
    # The parser names counter samples `<family>_total`.
    value = lambda fam: sum(s.value for s in families[fam].samples)
    check(value("gnatsd_varz_in_msgs") == N, "/metrics gnatsd_varz_in_msgs")
    check(value("riptide_shard_in_msgs") == N,
          "/metrics per-shard in_msgs add up")
    shards = {s.labels["shard"] for s in families["riptide_shard_busy_seconds"].samples}
    check(shards == {"0", "1"}, f"/metrics per-shard labels {sorted(shards)}")

    print(f"compare: {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Compatibility checks for Riptide with the nats-py asyncio client.

    python_client.py [NATS_URL]        (or env NATS_URL, default nats://127.0.0.1:4222)

With NATS_TLS_CA (the CA that signed the servers' certificates) and NATS_TLS_URL (a server
with TLS after a plain INFO) and/or NATS_TLS_FIRST_URL (one with `handshake_first`), the
TLS checks run too. With NATS_CLUSTER_SEED (a node of a cluster; its PID in
NATS_CLUSTER_SEED_PID, which the check kills) and NATS_CLUSTER_OTHERS (the client URLs of
the other nodes, comma-separated), the cluster discovery and failover check runs too.

Each check uses its own connections, so a broken check cannot leak subscriptions into the
next one, and most checks put publisher and subscriber on different connections because
Riptide may place them on different shards: that is the path most likely to break.
Prints one line per check and a final `python-client: P passed, F failed` line; exits 1
if anything failed.
"""
import asyncio
import json
import os
import ssl
import sys
import time

import nats
import nats.js.errors
from nats.errors import NoRespondersError

URL = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
CHECK_TIMEOUT = 15.0  # seconds per check; a hang is a failure, not a stuck CI job
WAIT = 5.0  # how long to wait for messages that should arrive
QUIET = 0.3  # how long to watch for messages that should NOT arrive
TLS_CA = os.environ.get("NATS_TLS_CA")
# (url, TLS first) for each TLS server given.
TLS_SERVERS = [
    (url, first)
    for url, first in ((os.environ.get("NATS_TLS_URL"), False),
                       (os.environ.get("NATS_TLS_FIRST_URL"), True))
    if url
]
CLUSTER_SEED = os.environ.get("NATS_CLUSTER_SEED")
CLUSTER_OTHERS = [u for u in os.environ.get("NATS_CLUSTER_OTHERS", "").split(",") if u]


class Conns:
    """Opens connections for one check and closes them all however the check ends.

    Async errors reported by the client (e.g. a server -ERR) are collected and fail the
    check, since nats-py would otherwise only log them.
    """

    def __init__(self):
        self.conns = []
        self.errors = []

    async def new(self, name, url=URL, **options):
        async def on_error(e):
            self.errors.append(f"{name}: {e!r}")

        options.setdefault("allow_reconnect", False)
        nc = await nats.connect(url, name=name, connect_timeout=5, error_cb=on_error, **options)
        self.conns.append(nc)
        return nc

    async def close(self):
        for nc in self.conns:
            if not nc.is_closed:
                await nc.close()


async def collect(sub, count, timeout=WAIT):
    """Next `count` messages from a sync subscription, failing if they don't all arrive."""
    msgs = []
    deadline = time.monotonic() + timeout
    while len(msgs) < count:
        left = deadline - time.monotonic()
        assert left > 0, f"{sub.subject}: got {len(msgs)} of {count} messages"
        try:
            msgs.append(await sub.next_msg(timeout=left))
        except nats.errors.TimeoutError:
            raise AssertionError(f"{sub.subject}: got {len(msgs)} of {count} messages") from None
    return msgs


async def assert_silent(sub):
    """No further message arrives on `sub` within QUIET seconds."""
    try:
        msg = await sub.next_msg(timeout=QUIET)
    except nats.errors.TimeoutError:
        return
    raise AssertionError(f"{sub.subject}: unexpected extra message {msg.subject} {msg.data!r}")


async def wait_until(cond, what, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def barrier(nc, timeout=WAIT):
    """Returns once the server has processed every command sent so far on `nc`.

    nats-py 2.x's flush() writes its PING straight to the socket, ahead of SUB/PUB commands
    still waiting in the client's pending buffer, so one flush() is no barrier: the PONG can
    come back before the server has seen those commands. The first flush() gets the buffer
    onto the socket; the second PING then follows it, and its PONG proves it was processed.
    """
    await nc.flush(timeout=timeout)
    await nc.flush(timeout=timeout)


async def await_route(pub_nc, subject, subs):
    """Publishes probes on `subject` until every sub in `subs` has one, then drains them.

    Interest crosses a route asynchronously, so a subscriber on another node is reachable
    only some time after its own server acknowledged the SUB.
    """
    pending = set(range(len(subs)))
    deadline = time.monotonic() + WAIT
    while pending:
        assert time.monotonic() < deadline, f"{subject}: interest never crossed to {pending}"
        await pub_nc.publish(subject, b"probe")
        await pub_nc.flush(timeout=WAIT)
        for i in list(pending):
            try:
                await subs[i].next_msg(timeout=0.05)
                pending.discard(i)
            except nats.errors.TimeoutError:
                pass
    await asyncio.sleep(QUIET)
    for s in subs:
        while True:
            try:
                await s.next_msg(timeout=0.01)
            except nats.errors.TimeoutError:
                break


def port_of(url):
    return url.rsplit(":", 1)[1].strip("/")


# --- checks ---------------------------------------------------------------------------


async def check_pubsub(c):
    sub_nc = await c.new("sub")
    pub_nc = await c.new("pub")
    sub = await sub_nc.subscribe("py.basic")
    own = await pub_nc.subscribe("py.basic")
    # Once the barrier returns the server has registered the subscription, so a publish
    # from any other connection (possibly on another shard) must now reach it.
    await barrier(sub_nc)
    await barrier(pub_nc)

    payloads = [b"one", b"", b"three \r\n with CRLF", bytes(range(256)) * 40]
    for p in payloads:
        await pub_nc.publish("py.basic", p)
    await barrier(pub_nc)

    for s in (sub, own):
        got = await collect(s, len(payloads))
        assert [m.subject for m in got] == ["py.basic"] * len(payloads), [m.subject for m in got]
        # Order from one publisher must be preserved.
        assert [m.data for m in got] == payloads, [m.data[:20] for m in got]
        assert all(not m.reply for m in got), [m.reply for m in got]
        await assert_silent(s)


async def check_wildcards(c):
    sub_nc = await c.new("sub")
    pub_nc = await c.new("pub")
    star = await sub_nc.subscribe("py.wild.*")
    full = await sub_nc.subscribe("py.wild.>")
    mid = await sub_nc.subscribe("py.*.mid")
    await barrier(sub_nc)

    for subject in ["py.wild", "py.wild.a", "py.wild.a.b", "py.wild.b", "py.other.x", "py.x.mid",
                    "py.wild.mid", "py.x.mid.y"]:
        await pub_nc.publish(subject, subject.encode())
    await barrier(pub_nc)

    got = [m.subject for m in await collect(star, 3)]
    assert got == ["py.wild.a", "py.wild.b", "py.wild.mid"], got
    # '>' needs at least one token after it, so "py.wild" itself must not match.
    got = [m.subject for m in await collect(full, 4)]
    assert got == ["py.wild.a", "py.wild.a.b", "py.wild.b", "py.wild.mid"], got
    got = [m.subject for m in await collect(mid, 2)]
    assert got == ["py.x.mid", "py.wild.mid"], got
    for m_sub in (star, full, mid):
        await assert_silent(m_sub)


async def check_queue_group(c):
    total = 300
    members = [await c.new(f"worker{i}") for i in range(3)]
    received = {i: [] for i in range(3)}
    plain = []

    def handler(i):
        async def cb(msg):
            received[i].append(int(msg.data))
        return cb

    for i, nc in enumerate(members):
        await nc.subscribe("py.jobs", queue="workers", cb=handler(i))
        await barrier(nc)

    # A plain subscriber next to the group still gets every message.
    obs_nc = await c.new("observer")

    async def observe(msg):
        plain.append(int(msg.data))

    await obs_nc.subscribe("py.jobs", cb=observe)
    await barrier(obs_nc)

    pub_nc = await c.new("pub")
    for n in range(total):
        await pub_nc.publish("py.jobs", str(n).encode())
    await barrier(pub_nc)

    await wait_until(lambda: sum(len(v) for v in received.values()) >= total and len(plain) >= total,
                     f"{total} queue deliveries")
    await asyncio.sleep(QUIET)  # duplicates, if any, would show up now
    for nc in members + [obs_nc]:
        await barrier(nc)

    everything = sorted(n for v in received.values() for n in v)
    counts = [len(received[i]) for i in range(3)]
    assert everything == list(range(total)), f"per-member counts {counts}, total {len(everything)}"
    # The group should spread work; a member idle for 300 messages means no balancing.
    assert all(n > 0 for n in counts), f"per-member counts {counts}"
    assert sorted(plain) == list(range(total)), f"plain subscriber got {len(plain)}"
    print(f"     queue split across members: {counts}")


async def check_request_reply(c):
    srv_nc = await c.new("responder")
    cli_nc = await c.new("requester")

    async def upper(msg):
        await srv_nc.publish(msg.reply, msg.data.upper())

    await srv_nc.subscribe("py.svc.upper", cb=upper)
    await barrier(srv_nc)

    reply = await cli_nc.request("py.svc.upper", b"hello", timeout=WAIT)
    assert reply.data == b"HELLO", reply.data
    assert reply.subject.startswith("_INBOX."), reply.subject

    # Many requests in flight at once share nats-py's single wildcard inbox.
    words = [f"word-{i}".encode() for i in range(50)]
    replies = await asyncio.gather(*(cli_nc.request("py.svc.upper", w, timeout=WAIT) for w in words))
    assert [r.data for r in replies] == [w.upper() for w in words]

    # The old style uses a fresh inbox subscription with UNSUB 1 per request.
    reply = await cli_nc.request("py.svc.upper", b"old", timeout=WAIT, old_style=True)
    assert reply.data == b"OLD", reply.data


async def check_headers(c):
    sub_nc = await c.new("sub")
    pub_nc = await c.new("pub")
    sub = await sub_nc.subscribe("py.hdr")
    await barrier(sub_nc)

    sent = {"X-Order": "42", "X-Trace": "abc def", "Content-Type": "application/json"}
    body = json.dumps({"id": 42}).encode()
    await pub_nc.publish("py.hdr", body, headers=sent)
    await pub_nc.publish("py.hdr", b"", headers={"X-Empty-Body": "yes"})
    await pub_nc.publish("py.hdr", b"no headers")
    await barrier(pub_nc)

    with_body, empty, plain = await collect(sub, 3)
    assert with_body.data == body, with_body.data
    assert with_body.headers == sent, with_body.headers
    assert empty.data == b"", empty.data
    assert empty.headers == {"X-Empty-Body": "yes"}, empty.headers
    assert plain.data == b"no headers" and not plain.headers, (plain.data, plain.headers)

    # Headers must also survive the request and the reply legs.
    async def echo(msg):
        out = dict(msg.headers or {})
        out["X-Replied"] = "true"
        await sub_nc.publish(msg.reply, msg.data[::-1], headers=out)

    await sub_nc.subscribe("py.hdr.echo", cb=echo)
    await barrier(sub_nc)
    reply = await pub_nc.request("py.hdr.echo", b"abc", timeout=WAIT, headers={"X-Req": "1"})
    assert reply.data == b"cba", reply.data
    assert reply.headers == {"X-Req": "1", "X-Replied": "true"}, reply.headers


async def check_no_responders(c):
    nc = await c.new("requester")
    start = time.monotonic()
    try:
        msg = await nc.request("py.nobody.home", b"anyone?", timeout=WAIT)
    except NoRespondersError:
        pass
    else:
        raise AssertionError(f"expected NoRespondersError, got reply {msg.data!r} {msg.headers}")
    # The server answers with a 503 status at once; timing out instead would be a different,
    # slower failure mode that the client reports with the same exception in some versions.
    elapsed = time.monotonic() - start
    assert elapsed < WAIT / 2, f"no-responders took {elapsed:.2f}s"


async def check_unsub_after_n(c):
    limit = 3
    sub_nc = await c.new("sub")
    pub_nc = await c.new("pub")
    sub = await sub_nc.subscribe("py.limited")
    await sub.unsubscribe(limit=limit)
    await barrier(sub_nc)

    for n in range(10):
        await pub_nc.publish("py.limited", str(n).encode())
    await barrier(pub_nc)

    got = [int(m.data) for m in await collect(sub, limit)]
    assert got == [0, 1, 2], got
    await asyncio.sleep(QUIET)
    await barrier(sub_nc)
    # nats-py also drops extra messages itself, so count what arrived on the wire: the
    # server must stop delivering after `limit`.
    assert sub_nc.stats["in_msgs"] == limit, f"server delivered {sub_nc.stats['in_msgs']} messages"

    # With its only subscriber gone, the subject has no interest left on the server.
    try:
        await pub_nc.request("py.limited", b"still there?", timeout=WAIT)
    except NoRespondersError:
        pass
    else:
        raise AssertionError("request to auto-unsubscribed subject got a reply")

    # A plain UNSUB stops delivery at once.
    sub2 = await sub_nc.subscribe("py.limited2")
    await barrier(sub_nc)
    await pub_nc.publish("py.limited2", b"before")
    await barrier(pub_nc)
    assert [m.data for m in await collect(sub2, 1)] == [b"before"]
    await sub2.unsubscribe()
    await barrier(sub_nc)
    before = sub_nc.stats["in_msgs"]
    await pub_nc.publish("py.limited2", b"after")
    await barrier(pub_nc)
    await asyncio.sleep(QUIET)
    await barrier(sub_nc)
    assert sub_nc.stats["in_msgs"] == before, "message delivered after UNSUB"


async def check_flush(c):
    nc = await c.new("self")
    count = 500
    sub = await nc.subscribe("py.flush")
    await barrier(nc)
    for n in range(count):
        await nc.publish("py.flush", str(n).encode())
    # The server answers PING in order after handling our PUBs, so by the time the PONG is
    # read every message for our own subscription has already been read off the socket.
    await barrier(nc, timeout=WAIT)
    assert nc.stats["in_msgs"] == count, f"after flush only {nc.stats['in_msgs']} of {count} arrived"
    got = [int(m.data) for m in await collect(sub, count)]
    assert got == list(range(count)), "messages reordered"

    rtt = await nc.rtt()
    assert 0 <= rtt < 1.0, rtt


async def check_drain(c):
    count = 200
    sub_nc = await c.new("sub")
    pub_nc = await c.new("pub")
    handled = []

    async def slow(msg):
        await asyncio.sleep(0.001)  # keep a backlog in the client so drain has work to do
        handled.append(int(msg.data))

    await sub_nc.subscribe("py.drain", cb=slow)
    await barrier(sub_nc)

    # Publisher drain: messages published right before drain() must all be delivered,
    # even though the connection closes straight after.
    for n in range(count):
        await pub_nc.publish("py.drain", str(n).encode())
    await pub_nc.drain()
    assert pub_nc.is_closed

    await wait_until(lambda: sub_nc.stats["in_msgs"] >= count, f"{count} messages on the wire")
    # Subscriber drain: everything already received is still handed to the callback.
    await sub_nc.drain()
    assert sub_nc.is_closed
    assert handled == list(range(count)), f"handled {len(handled)} of {count}"

    # After draining, the server must drop the interest. Noticing the closed socket is
    # asynchronous to other connections, so allow it a moment: a request that times out
    # means interest is still registered, NoRespondersError means it is gone.
    nc = await c.new("after")
    deadline = time.monotonic() + WAIT
    while True:
        try:
            msg = await nc.request("py.drain", b"x", timeout=0.5)
        except NoRespondersError:
            break
        except nats.errors.TimeoutError:
            assert time.monotonic() < deadline, "interest in py.drain still present after drain"
        else:
            raise AssertionError(f"drained subscription still answered: {msg.data!r}")


async def check_tls_close(c):
    """close() over TLS returns at once, in both TLS orders.

    nats-py's close() ends TLS as asyncio does: it sends close_notify and waits for the
    server's (up to asyncio's ssl_shutdown_timeout, 30 s) before the socket goes. The Go
    server answers at once; one that ignores the close_notify makes every close() wait.
    """
    tls = ssl.create_default_context(cafile=TLS_CA)
    for url, first in TLS_SERVERS:
        nc = await c.new(f"tls-first-{first}", url, tls=tls, tls_handshake_first=first)
        sub = await nc.subscribe("py.tls")
        await barrier(nc)
        await nc.publish("py.tls", b"sealed")
        await barrier(nc)
        got = [m.data for m in await collect(sub, 1)]
        assert got == [b"sealed"], got
        try:
            # A bound on a hang, far below asyncio's 30 s: not a speed requirement.
            await asyncio.wait_for(nc.close(), 3)
        except asyncio.TimeoutError:
            raise AssertionError(f"{url}: close() still waiting for the server after 3 s") from None
        assert nc.is_closed


async def check_jetstream_streams(c):
    """Stream management, publish acks with dedupe, gets (API and direct), purge, delete."""
    nc = await c.new("js")
    js = nc.jetstream()
    try:
        await js.delete_stream("PY")  # left over from an earlier run against the same server
    except nats.js.errors.NotFoundError:
        pass
    await js.add_stream(name="PY", subjects=["py.js.>"], allow_direct=True, max_msgs_per_subject=5)
    acks = [await js.publish(f"py.js.{i % 2}", f"m{i}".encode()) for i in range(6)]
    assert [a.seq for a in acks] == [1, 2, 3, 4, 5, 6], acks
    assert all(a.stream == "PY" for a in acks), acks
    first = await js.publish("py.js.id", b"once", headers={"Nats-Msg-Id": "only"})
    again = await js.publish("py.js.id", b"once", headers={"Nats-Msg-Id": "only"})
    assert first.seq == 7 and not first.duplicate, first
    assert (again.seq, again.duplicate) == (7, True), again
    info = await js.stream_info("PY")
    assert (info.state.messages, info.state.first_seq, info.state.last_seq) == (7, 1, 7), info.state
    msg = await js.get_msg("PY", 3)
    assert (msg.subject, msg.data) == ("py.js.0", b"m2"), msg
    last = await js.get_last_msg("PY", "py.js.1")
    assert (last.seq, last.data) == (6, b"m5"), last
    direct = await js.get_msg("PY", 4, direct=True)
    assert (direct.seq, direct.data) == (4, b"m3"), direct
    await js.delete_msg("PY", 3)
    assert (await js.stream_info("PY")).state.messages == 6
    await js.purge_stream("PY", subject="py.js.0")
    assert (await js.stream_info("PY")).state.messages == 4
    names = [s.config.name for s in await js.streams_info()]
    assert "PY" in names, names
    await js.delete_stream("PY")
    try:
        await js.stream_info("PY")
    except nats.js.errors.NotFoundError:
        pass
    else:
        raise AssertionError("stream PY still there after delete")


async def check_jetstream_consumers(c):
    """Pull (fetch, ack, nak, a timed-out empty fetch), push (a durable subscription), and a
    key-value bucket (put, get, update and a stale one refused, delete, keys, watch)."""
    nc = await c.new("jsc")
    js = nc.jetstream()
    for stream in ("PYC", "KV_pyset"):
        try:
            await js.delete_stream(stream)  # left over from an earlier run
        except nats.js.errors.NotFoundError:
            pass
    await js.add_stream(name="PYC", subjects=["pyc.>"])
    for i in range(10):
        await js.publish(f"pyc.{i % 2}", f"c{i}".encode())
    pull = await js.pull_subscribe("pyc.>", durable="puller")
    batch = await pull.fetch(4, timeout=5)
    assert [m.data for m in batch] == [b"c0", b"c1", b"c2", b"c3"], batch
    for m in batch[:3]:
        await m.ack_sync()
    await batch[3].nak()
    # The Go server applies acks on a goroutine of their own, so a request sent right after
    # the NAK is served first there; give it the moment it needs to hold as the oracle.
    await asyncio.sleep(0.2)
    again = await pull.fetch(1, timeout=5)
    assert (again[0].data, again[0].metadata.num_delivered) == (b"c3", 2), again[0].metadata
    await again[0].ack()
    rest = await pull.fetch(10, timeout=1)
    assert [m.data for m in rest] == [f"c{i}".encode() for i in range(4, 10)], rest
    for m in rest:
        await m.ack()
    try:
        await pull.fetch(1, timeout=0.5)
    except nats.errors.TimeoutError:
        pass
    else:
        raise AssertionError("a fetch from an empty consumer got a message")
    info = await js.consumer_info("PYC", "puller")
    assert (info.num_pending, info.num_ack_pending, info.delivered.stream_seq) == (0, 0, 10), info

    got = asyncio.Queue()

    async def on_msg(m):
        await m.ack()
        await got.put(m.data)

    push = await js.subscribe("pyc.1", durable="pusher", cb=on_msg)
    pushed = [await asyncio.wait_for(got.get(), 5) for _ in range(5)]
    assert pushed == [f"c{i}".encode() for i in range(1, 10, 2)], pushed
    await js.publish("pyc.1", b"late")
    assert await asyncio.wait_for(got.get(), 5) == b"late"
    await push.unsubscribe()

    kv = await js.create_key_value(bucket="pyset", history=3)
    r1 = await kv.put("color", b"red")
    assert (await kv.get("color")).value == b"red"
    await kv.update("color", b"blue", last=r1)
    try:
        await kv.update("color", b"green", last=r1)
    except nats.js.errors.KeyWrongLastSequenceError:
        pass
    else:
        raise AssertionError("a stale update was taken")
    await kv.put("size", b"L")
    await kv.delete("size")
    assert await kv.keys() == ["color"]
    watcher = await kv.watch("color")
    current = await watcher.updates(timeout=5)
    assert current.value == b"blue", current
    await watcher.updates(timeout=5)  # the end of the initial values
    await kv.put("color", b"green")
    changed = await watcher.updates(timeout=5)
    assert changed.value == b"green", changed
    await watcher.stop()
    await js.delete_key_value("pyset")
    await js.delete_stream("PYC")


async def check_jetstream_object_store(c):
    """An object store: a multi-chunk put and get, a replaced object, delete, list."""
    js = (await c.new("jso")).jetstream()
    obs = await js.create_object_store("pyfiles")
    big = bytes(i * 7 % 251 for i in range(300 * 1024 + 17))
    info = await obs.put("big.bin", big)
    assert info.size == len(big), info
    got = await obs.get("big.bin")
    assert got.data == big, "the object reads back as written"
    await obs.put("small.txt", b"first")
    await obs.put("small.txt", b"second")
    assert (await obs.get("small.txt")).data == b"second"
    await obs.delete("big.bin")
    try:
        await obs.get("big.bin")
    except nats.js.errors.ObjectNotFoundError:
        pass
    else:
        raise AssertionError("a deleted object was read")
    names = sorted(i.name for i in await obs.list())
    assert names == ["big.bin", "small.txt"], names  # deleted ones are listed too
    await js.delete_object_store("pyfiles")


async def check_cluster_failover(c):
    """Connected to one node only, the client learns the others from INFO `connect_urls`;
    messages cross the cluster each way in order; when that node is killed (-9) the client
    reconnects to a gossiped URL and its subscription works there again."""
    reconnected = asyncio.Event()

    async def on_reconnect():
        reconnected.set()

    nc = await c.new("cluster-seed", url=CLUSTER_SEED, allow_reconnect=True,
                     reconnect_time_wait=0.1, max_reconnect_attempts=100,
                     reconnected_cb=on_reconnect)
    others = sorted(port_of(u) for u in CLUSTER_OTHERS)
    await wait_until(lambda: sorted(str(u.port) for u in nc.discovered_servers) == others,
                     f"connect_urls naming {others}")

    remote = [await c.new(f"cluster-{port_of(u)}", url=u) for u in CLUSTER_OTHERS]
    subs = [await r.subscribe("py.cluster.out") for r in remote]
    for r in remote:
        await barrier(r)
    await await_route(nc, "py.cluster.out", subs)
    total = 100
    for n in range(total):
        await nc.publish("py.cluster.out", str(n).encode())
    await barrier(nc)
    for s in subs:
        got = await collect(s, total)
        assert [int(m.data) for m in got] == list(range(total)), [m.data for m in got[:5]]
        await assert_silent(s)

    back = await nc.subscribe("py.cluster.back")
    await barrier(nc)
    for r in remote:
        await await_route(r, "py.cluster.back", [back])
        await r.publish("py.cluster.back", port_of(r.connected_url.netloc).encode())
        await barrier(r)
        assert (await collect(back, 1))[0].data == port_of(r.connected_url.netloc).encode()

    os.kill(int(os.environ["NATS_CLUSTER_SEED_PID"]), 9)
    await asyncio.wait_for(reconnected.wait(), WAIT)
    now = str(nc.connected_url.port)
    assert now in others, f"reconnected to {now}, not one of {others}"
    # The subscription made before the kill was sent again to the new node.
    for r in remote:
        await await_route(r, "py.cluster.back", [back])
        await r.publish("py.cluster.back", b"after")
        await barrier(r)
        assert (await collect(back, 1))[0].data == b"after"
    # The only errors the seed connection may report are the kill and its redials of the
    # dead node.
    expected = ("cluster-seed: UnexpectedEOF(", "cluster-seed: ConnectionRefusedError(")
    c.errors = [e for e in c.errors if not e.startswith(expected)]
    print(f"     discovered {others}, reconnected to {now}")


CHECKS = [
    check_pubsub,
    check_wildcards,
    check_queue_group,
    check_request_reply,
    check_headers,
    check_no_responders,
    check_unsub_after_n,
    check_flush,
    check_drain,
    check_jetstream_streams,
    check_jetstream_consumers,
    check_jetstream_object_store,
] + ([check_tls_close] if TLS_SERVERS else []) + ([check_cluster_failover] if CLUSTER_SEED else [])


async def run_check(check):
    c = Conns()
    try:
        await asyncio.wait_for(check(c), CHECK_TIMEOUT)
        assert not c.errors, f"async client errors: {c.errors}"
    finally:
        try:
            await asyncio.wait_for(c.close(), 5)
        except Exception:
            pass


async def main():
    passed = failed = 0
    for check in CHECKS:
        name = check.__name__.removeprefix("check_")
        try:
            await run_check(check)
        except asyncio.TimeoutError:
            failed += 1
            print(f"FAIL {name}: did not finish within {CHECK_TIMEOUT:.0f}s")
        except Exception as e:
            failed += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}")
        else:
            passed += 1
            print(f"ok   {name}")
    print(f"python-client: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

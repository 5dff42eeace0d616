//! What a publisher on one shard can rely on about subscribers on another, checked against
//! the Go server where it has the same property: a PONG after publishes means they were
//! handed to the subscribers first, and fast publishers are paced to a slower reader on
//! another shard instead of pushing it past `max_pending`.

mod common;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::thread;

use common::go::{go_server, Go};
use common::process::Proc;
use common::{one_per_shard, Raw, IO_TIMEOUT};

const SHARDS: usize = 2;

/// Messages per flush round, and rounds (the report saw Go deliver 20 of 20).
const FLUSH_MSGS: usize = 100;
const FLUSH_ROUNDS: usize = 20;

/// Everything already in the socket's receive queue, without waiting for more.
fn drain_now(c: &mut Raw) -> Vec<u8> {
    c.s.set_nonblocking(true).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match c.s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => panic!("read failed: {e}"),
        }
    }
    c.s.set_nonblocking(false).unwrap();
    out
}

/// `publisher` sends PUBs then PING; once its PONG is read, `subscriber`'s socket must
/// already hold every message, round after round.
fn flush_delivers_first(mut subscriber: Raw, mut publisher: Raw) {
    subscriber.send(b"CONNECT {\"verbose\":false}\r\nSUB flush.x 1\r\n");
    assert_eq!(subscriber.sync(), b"");
    publisher.send(b"CONNECT {\"verbose\":false}\r\n");
    assert_eq!(publisher.sync(), b"");
    let batch = b"PUB flush.x 5\r\nhello\r\n".repeat(FLUSH_MSGS);
    let want = b"MSG flush.x 1 5\r\nhello\r\n".repeat(FLUSH_MSGS);
    for round in 0..FLUSH_ROUNDS {
        publisher.send(&batch);
        assert_eq!(publisher.sync(), b"");
        let got = drain_now(&mut subscriber);
        assert_eq!(
            got.len(),
            want.len(),
            "round {round}: the subscriber held {} of {} bytes when the PONG came",
            got.len(),
            want.len()
        );
        assert_eq!(got, want, "round {round}");
    }
}

#[test]
fn pong_comes_after_cross_shard_deliveries() {
    let srv = common::start(SHARDS);
    let mut conns = one_per_shard(srv.addr, SHARDS).into_iter();
    let (on_0, on_1) = (conns.next().unwrap(), conns.next().unwrap());
    flush_delivers_first(on_0, on_1);
    let mut conns = one_per_shard(srv.addr, SHARDS).into_iter();
    let (on_0, on_1) = (conns.next().unwrap(), conns.next().unwrap());
    flush_delivers_first(on_1, on_0);

    let Some(bin) = go_server() else { return };
    let go = Go::spawn(&mut std::process::Command::new(bin));
    flush_delivers_first(Raw::connect(go.addr), Raw::connect(go.addr));
}

/// Publishers, messages each and payload for the backpressure test: 128 MiB in all, twice
/// the default `max_pending`.
const PUBLISHERS: usize = 4;
const FLOOD_MSGS: usize = 2048;
const FLOOD_PAYLOAD: usize = 16 * 1024;
/// What the server may hold while it paces them: the reader's `max_pending` (64 MiB, Go's
/// default), what is on its way between shards (8 MiB), and the rest of the process.
const RSS_BOUND: u64 = 160 * 1024 * 1024;

/// `PUBLISHERS` connections, made by `connect`, flood one reader as fast as they can; the
/// reader reads as fast as it can. Returns how many messages it got.
fn flood(reader: Raw, connect: impl Fn() -> Raw) -> usize {
    let mut reader = reader;
    reader.send(b"CONNECT {\"verbose\":false}\r\nSUB flood 1\r\n");
    assert_eq!(reader.sync(), b"");
    let total = PUBLISHERS * FLOOD_MSGS;
    let stream = reader.s.try_clone().unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let counter = thread::spawn(move || {
        let mut r = BufReader::with_capacity(1 << 20, stream);
        let mut line = Vec::new();
        let mut got = 0;
        while got < total {
            line.clear();
            if r.read_until(b'\n', &mut line).unwrap_or(0) == 0 {
                break;
            }
            if !line.starts_with(b"MSG flood 1 ") {
                break;
            }
            let mut payload = vec![0; FLOOD_PAYLOAD + 2];
            if r.read_exact(&mut payload).is_err() {
                break;
            }
            got += 1;
        }
        got
    });
    let mut pubs: Vec<Raw> = (0..PUBLISHERS).map(|_| connect()).collect();
    for p in &mut pubs {
        p.send(b"CONNECT {\"verbose\":false}\r\n");
        assert_eq!(p.sync(), b"");
    }
    let senders: Vec<_> = pubs
        .into_iter()
        .map(|mut p| {
            thread::spawn(move || {
                let mut msg = format!("PUB flood {FLOOD_PAYLOAD}\r\n").into_bytes();
                msg.extend(std::iter::repeat_n(b'x', FLOOD_PAYLOAD));
                msg.extend_from_slice(b"\r\n");
                let chunk = msg.repeat(16);
                for _ in 0..FLOOD_MSGS / 16 {
                    p.s.write_all(&chunk).unwrap();
                }
                p.sync()
            })
        })
        .collect();
    for s in senders {
        assert_eq!(s.join().unwrap(), b"", "a publisher got an error");
    }
    counter.join().unwrap()
}

#[test]
fn publishers_on_another_shard_are_paced_to_the_reader() {
    let srv = Proc::start(&["-a", "127.0.0.1", "-p", "-1", "--shards", "2"]);
    let addr = srv.addr();
    let reader = one_per_shard(addr, SHARDS).pop().unwrap();
    let on_shard_0 = || loop {
        let c = Raw::connect(addr);
        if c.shard(SHARDS) == 0 {
            return c;
        }
    };
    let got = flood(reader, on_shard_0);
    assert_eq!(got, PUBLISHERS * FLOOD_MSGS, "the reader lost messages");
    let peak = srv.peak_rss();
    assert!(peak < RSS_BOUND, "peak resident {} MiB", peak >> 20);

    let Some(bin) = go_server() else { return };
    let go = Go::spawn(&mut std::process::Command::new(bin));
    let go_addr: SocketAddr = go.addr;
    let got = flood(Raw::connect(go_addr), || Raw::connect(go_addr));
    assert_eq!(got, PUBLISHERS * FLOOD_MSGS, "Go's reader lost messages");
}

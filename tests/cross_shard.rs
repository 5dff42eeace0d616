//! What a publisher on one shard can rely on about subscribers on another, checked against
//! the Go server where it has the same property: a PONG after publishes means they were
//! handed to the subscribers first, and fast publishers are paced to a slower reader on
//! another shard instead of pushing it past `max_pending`.

use crate::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::Duration;

use common::go::{go_server, Go};
use common::process::{loopback, Proc};
use common::{one_per_shard, Raw, IO_TIMEOUT};

const SHARDS: usize = 2;

/// Messages per flush round, and rounds.
const FLUSH_MSGS: usize = 100;
const FLUSH_ROUNDS: usize = 20;

/// `publisher` sends PUBs then PING; once its PONG is read, the subscriber's next PING must
/// come back after every one of those messages, round after round. (Whether the
/// subscriber's socket already holds them the instant the PONG is read also depends on the
/// kernel delivering two sockets' data written on two cores: the Go server misses that in
/// some rounds too, see `perf/flush_order.py`. The shard tests pin the server's side: the
/// PONG waits until the other shard queued the messages.)
fn flush_delivers_first(mut subscriber: Raw, mut publisher: Raw) {
    subscriber.send(b"CONNECT {\"verbose\":false}\r\nSUB flush.x 1\r\n");
    assert_eq!(subscriber.sync(), b"");
    publisher.log_in("");
    let batch = b"PUB flush.x 5\r\nhello\r\n".repeat(FLUSH_MSGS);
    let want = b"MSG flush.x 1 5\r\nhello\r\n".repeat(FLUSH_MSGS);
    for round in 0..FLUSH_ROUNDS {
        publisher.send(&batch);
        assert_eq!(publisher.sync(), b"");
        let got = subscriber.sync();
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want),
            "round {round}"
        );
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

/// Publishers and payload for the backpressure test.
const PUBLISHERS: usize = 4;
const FLOOD_PAYLOAD: usize = 16 * 1024;
/// Messages each publisher sends to Riptide: 512 MiB in all, eight times the default
/// `max_pending`, so a server that buffered instead of pacing would hold far over `RSS_BOUND`.
const FLOOD_MSGS: usize = 8192;
/// Messages each sends to the Go server: 256 MiB in all. Go paces too but gives up on a
/// stalled reader sooner: with 512 MiB its reader lost about a fifth of the messages.
const GO_FLOOD_MSGS: usize = 4096;
/// What the server may hold at its peak while it paces them, half of what was published:
/// the reader's `max_pending` (64 MiB, Go's default), what is on its way between shards
/// (16 MiB), the shards' receive buffers (8 MiB each), what paused publishers sent meanwhile,
/// and the allocator's caches. Peaks seen: 197 to 232 MiB whether 256 or 512 MiB were
/// published (Go's 107 to 122 MiB for 256 MiB).
const RSS_BOUND: u64 = 256 * 1024 * 1024;

/// The reader takes at most this much per read, bytes, and pauses `READ_PAUSE` before each:
/// at most about 200 MB/s, slower than four publishers on loopback. The Go server paces its
/// publishers to it without loss (at a 500 us pause it sometimes loses messages).
const READ_CHUNK: usize = 64 * 1024;
const READ_PAUSE: Duration = Duration::from_micros(300);

/// A socket read in paced chunks: a consumer slower than its publishers.
struct Paced(TcpStream);

impl Read for Paced {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        thread::sleep(READ_PAUSE);
        let n = buf.len().min(READ_CHUNK);
        self.0.read(&mut buf[..n])
    }
}

/// `PUBLISHERS` connections, made by `connect`, flood one paced reader as fast as they can.
/// Returns how many messages it got.
fn flood(reader: Raw, connect: impl Fn() -> Raw, msgs: usize) -> usize {
    let mut reader = reader;
    reader.send(b"CONNECT {\"verbose\":false}\r\nSUB flood 1\r\n");
    assert_eq!(reader.sync(), b"");
    let total = PUBLISHERS * msgs;
    let stream = reader.s.try_clone().unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let counter = thread::spawn(move || {
        let mut r = BufReader::with_capacity(READ_CHUNK, Paced(stream));
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
        p.log_in("");
    }
    let senders: Vec<_> = pubs
        .into_iter()
        .map(|mut p| {
            thread::spawn(move || {
                let mut msg = format!("PUB flood {FLOOD_PAYLOAD}\r\n").into_bytes();
                msg.extend(std::iter::repeat_n(b'x', FLOOD_PAYLOAD));
                msg.extend_from_slice(b"\r\n");
                let chunk = msg.repeat(16);
                for _ in 0..msgs / 16 {
                    p.s.write_all(&chunk).unwrap();
                }
                p.sync()
            })
        })
        .collect();
    for s in senders {
        // Nothing but the server's own PINGs (Go sends one about 2 s after a connect).
        let before_pong = String::from_utf8(s.join().unwrap()).unwrap();
        assert_eq!(
            before_pong.replace("PING\r\n", ""),
            "",
            "a publisher got an error"
        );
    }
    counter.join().unwrap()
}

#[test]
fn publishers_on_another_shard_are_paced_to_the_reader() {
    let srv = Proc::start(&loopback(&["--shards", "2"]));
    let addr = srv.addr();
    let reader = one_per_shard(addr, SHARDS).pop().unwrap();
    let on_shard_0 = || loop {
        let c = Raw::connect(addr);
        if c.shard(SHARDS) == 0 {
            return c;
        }
    };
    let got = flood(reader, on_shard_0, FLOOD_MSGS);
    assert_eq!(got, PUBLISHERS * FLOOD_MSGS, "the reader lost messages");
    let peak = srv.peak_rss();
    assert!(peak < RSS_BOUND, "peak resident {} MiB", peak >> 20);

    let Some(bin) = go_server() else { return };
    let go = Go::spawn(&mut std::process::Command::new(bin));
    let go_addr: SocketAddr = go.addr;
    let got = flood(
        Raw::connect(go_addr),
        || Raw::connect(go_addr),
        GO_FLOOD_MSGS,
    );
    assert_eq!(got, PUBLISHERS * GO_FLOOD_MSGS, "Go's reader lost messages");
}

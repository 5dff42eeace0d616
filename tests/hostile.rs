//! Hostile clients over real sockets, all at once, while a well-behaved publisher and
//! subscriber on every shard keep exchanging messages: each hostile client gets the Go
//! server's answer, the healthy ones never stop flowing, every shard keeps serving, and
//! when the hostile clients are gone the connection and subscription counts are back to
//! what the healthy clients hold.

use crate::common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::thread;

use common::go_cases::{self, CASES};
use common::http::{get, raw_http, wait_for};
use common::{one_per_shard, Raw};

const SHARDS: usize = 2;
/// Small, so that a SUB flood passes it quickly.
const MAX_SUBS: usize = 1_000;
/// Small, so that a client that never reads is cut off after little traffic, bytes.
const MAX_PENDING: usize = 256 * 1024;
/// More than the kernel's loopback socket buffers and `MAX_PENDING` together hold, bytes.
const FLOOD_BYTES: usize = 32 * 1024 * 1024;
const FLOOD_PAYLOAD: usize = 1024;
const PINGS: usize = 50_000;
/// How often each reset pattern repeats.
const RESETS: usize = 20;
/// Garbage without a CRLF, longer than the default max_control_line (4 KiB).
const GARBAGE_BYTES: usize = 8 * 1024;

/// A publisher and a subscriber on every shard.
struct Healthy {
    pubs: Vec<Raw>,
    subs: Vec<Raw>,
    seq: u64,
}

impl Healthy {
    fn new(addr: SocketAddr) -> Healthy {
        let mut subs = one_per_shard(addr, SHARDS);
        for s in &mut subs {
            s.send(b"CONNECT {\"verbose\":false}\r\nSUB healthy 1\r\n");
            assert_eq!(s.sync(), b"");
        }
        let mut pubs = one_per_shard(addr, SHARDS);
        for p in &mut pubs {
            p.send(b"CONNECT {\"verbose\":false}\r\n");
        }
        Healthy { pubs, subs, seq: 0 }
    }

    /// One message from every shard's publisher reaches every shard's subscriber, in order.
    fn round(&mut self) {
        let first = self.seq;
        for p in &mut self.pubs {
            let body = format!("{}", self.seq);
            p.send(format!("PUB healthy {}\r\n{body}\r\n", body.len()).as_bytes());
            assert_eq!(p.sync(), b"");
            self.seq += 1;
        }
        for s in &mut self.subs {
            for n in first..self.seq {
                let body = n.to_string();
                assert_eq!(s.line(), format!("MSG healthy 1 {}\r\n", body.len()));
                assert_eq!(s.line(), format!("{body}\r\n"));
            }
        }
    }
}

/// Go cases whose `SUB >` would also see the healthy clients' traffic.
const SEES_ALL_SUBJECTS: [&str; 1] = ["wildcards"];

fn replay_go_cases(addr: SocketAddr) {
    for case in CASES.iter().filter(|c| !SEES_ALL_SUBJECTS.contains(&c.0)) {
        go_cases::check(addr, case);
    }
}

fn binary_garbage(addr: SocketAddr) {
    let mut c = Raw::connect(addr);
    let garbage: Vec<u8> = (1..=255u8).cycle().take(GARBAGE_BYTES).collect();
    c.send(&garbage);
    assert_eq!(c.read_to_close(), b"-ERR 'Unknown Protocol Operation'\r\n");
}

/// Past max_subscriptions each SUB gets the Go error and the connection stays; UNSUB of
/// sids that were never subscribed is silently accepted.
fn subscription_flood(addr: SocketAddr) {
    let mut c = Raw::connect(addr);
    let mut batch = b"CONNECT {\"verbose\":false}\r\n".to_vec();
    for sid in 0..3 * MAX_SUBS {
        batch.extend_from_slice(format!("SUB flood.{sid} {sid}\r\n").as_bytes());
    }
    c.send(&batch);
    let err: &[u8] = b"-ERR 'maximum subscriptions exceeded'\r\n";
    assert_eq!(c.sync(), err.repeat(2 * MAX_SUBS));
    let unknown: Vec<u8> = (0..MAX_SUBS)
        .flat_map(|i| format!("UNSUB {}\r\n", 10 * MAX_SUBS + i).into_bytes())
        .collect();
    c.send(&unknown);
    assert_eq!(c.sync(), b"");
}

/// Every PING of a flood is answered while the client writes and reads at once.
fn ping_flood(addr: SocketAddr) {
    let mut c = Raw::connect(addr);
    let mut writer = c.s.try_clone().unwrap();
    let flood = thread::spawn(move || writer.write_all(&b"PING\r\n".repeat(PINGS)).unwrap());
    assert_eq!(c.read_n(PINGS * 6), b"PONG\r\n".repeat(PINGS));
    flood.join().unwrap();
    assert_eq!(c.sync(), b"");
}

/// `PUB subject size` with a payload of that many bytes.
fn pub_frame(subject: &str, size: usize) -> Vec<u8> {
    [
        format!("PUB {subject} {size}\r\n").as_bytes(),
        &vec![b'x'; size],
        b"\r\n",
    ]
    .concat()
}

/// A subscriber that never reads is closed as a slow consumer; its publisher is not.
fn never_reads(addr: SocketAddr) {
    let mut stalled = Raw::connect(addr);
    stalled.send(b"CONNECT {\"verbose\":false}\r\nSUB stalled 1\r\n");
    assert_eq!(stalled.sync(), b"");
    let mut p = Raw::connect(addr);
    p.send(b"CONNECT {\"verbose\":false}\r\n");
    let msg = pub_frame("stalled", FLOOD_PAYLOAD);
    for _ in 0..FLOOD_BYTES / FLOOD_PAYLOAD / 1000 {
        p.send(&msg.repeat(1000));
        assert_eq!(p.sync(), b"");
    }
    stalled.read_to_close();
}

/// Clients reset mid-frame while publishing, and mid-stream while being written to.
fn resets(addr: SocketAddr) {
    for _ in 0..RESETS {
        let mut c = Raw::connect(addr);
        c.send(b"PUB reset 100000\r\n");
        c.send(&[b'r'; 50_000]);
        c.reset();

        let mut sub = Raw::connect(addr);
        sub.send(b"CONNECT {\"verbose\":false}\r\nSUB reset.stream 1\r\n");
        assert_eq!(sub.sync(), b"");
        let mut p = Raw::connect(addr);
        p.send(b"CONNECT {\"verbose\":false}\r\n");
        let msg = pub_frame("reset.stream", FLOOD_PAYLOAD);
        p.send(&msg.repeat(200));
        sub.reset();
        p.send(&msg.repeat(200));
        assert_eq!(p.sync(), b"");
    }
}

#[test]
fn hostile_clients_leave_everyone_else_served() {
    let mut cfg = common::config(SHARDS);
    cfg.max_subscriptions = MAX_SUBS;
    cfg.max_pending = MAX_PENDING;
    cfg.http_port = Some(0);
    let srv = common::start_with(cfg);
    let addr = srv.addr;
    let http = srv.monitor.as_ref().expect("monitor").addr;
    let mut healthy = Healthy::new(addr);

    // Held for the whole test: a frame stopped halfway in its payload, one stopped halfway
    // in its control line, and a client that said nothing after INFO.
    let mut mid_payload = Raw::connect(addr);
    mid_payload.send(b"PUB held 10\r\nhel");
    let mut mid_line = Raw::connect(addr);
    mid_line.send(b"SUB hel");
    let mut silent = Raw::connect(addr);

    // The Go cases share subjects, so one thread replays them in turn.
    let hostile: Vec<fn(SocketAddr)> = vec![
        replay_go_cases,
        binary_garbage,
        subscription_flood,
        ping_flood,
        never_reads,
        resets,
    ];
    let running: Vec<_> = hostile
        .into_iter()
        .map(|f| thread::spawn(move || f(addr)))
        .collect();
    let mut rounds = 0;
    loop {
        healthy.round();
        rounds += 1;
        if running.iter().all(|t| t.is_finished()) {
            break;
        }
    }
    for t in running {
        t.join()
            .expect("a hostile client saw an answer other than Go's");
    }
    assert!(
        rounds > 1,
        "the healthy clients ran alongside the hostile ones"
    );

    // The held clients were served all along: their frames complete now.
    mid_payload.send(b"lo12345\r\nPING\r\n");
    assert_eq!(mid_payload.line(), "+OK\r\n");
    assert_eq!(mid_payload.line(), "PONG\r\n");
    mid_line.send(b"d 7\r\nPING\r\n");
    assert_eq!(mid_line.line(), "+OK\r\n");
    assert_eq!(mid_line.line(), "PONG\r\n");
    assert_eq!(silent.sync(), b"");
    drop((mid_payload, mid_line, silent));

    healthy.round();
    let left = 2 * SHARDS as u64;
    wait_for(http, "/varz", |v| {
        v["connections"] == left && v["subscriptions"] == SHARDS as u64
    });
}

/// Query values and paths a fuzzing or careless client sends, with the Go server's status
/// for each (nats-server 2.15.1, queried once with curl).
const MONITOR_CASES: [(&str, u16); 30] = [
    ("/connz?limit=-1", 200),
    ("/connz?limit=99999999999999999999", 400),
    ("/connz?offset=-5", 200),
    ("/connz?offset=abc", 400),
    ("/connz?sort=bogus", 400),
    ("/connz?sort=", 200),
    ("/connz?sort=stop", 400),
    ("/connz?sort=reason&state=open", 400),
    ("/connz?cid=x", 400),
    ("/connz?cid=-1", 400),
    ("/connz?state=weird", 400),
    ("/connz?subs=maybe", 400),
    ("/connz?subs=detail&auth=2", 400),
    ("/connz?acc=%zz", 200),
    ("/subsz?test=foo..bar", 400),
    ("/subsz?test=%3E", 400),
    ("/subsz?subs=yes", 400),
    ("/subsz?limit=-7&offset=-1", 200),
    ("/varz?x=%00", 200),
    ("/healthz?js-enabled-only=maybe", 400),
    ("/healthz?js-server-only=true", 200),
    ("/accountz?acc=nope", 400),
    ("/accstatz?unused=x", 400),
    ("/jsz?accounts=maybe", 400),
    ("/routez?subs=detail", 200),
    ("/leafz?subs=x", 400),
    ("/nothing/here", 404),
    ("/%", 400),
    ("//varz", 307),
    ("/varz/extra", 404),
];
/// Monitoring clients that connect and send nothing, or half a request, held meanwhile.
const IDLE_MONITOR_CLIENTS: usize = 300;

/// The monitoring port under hostile clients: every odd request gets the Go server's
/// status while hundreds of idle and half-sent requests hold connections, a head that is
/// not HTTP or too long gets 400, and the broker keeps serving.
#[test]
fn hostile_monitor_clients_get_go_answers() {
    let mut cfg = common::config(SHARDS);
    cfg.http_port = Some(0);
    let srv = common::start_with(cfg);
    let http = srv.monitor.as_ref().expect("monitor").addr;
    let held: Vec<TcpStream> = (0..IDLE_MONITOR_CLIENTS)
        .map(|i| {
            let mut s = TcpStream::connect(http).unwrap();
            if i % 2 == 1 {
                s.write_all(b"GET /varz HTTP/1.1\r\nHost: x\r\n").unwrap();
            }
            s
        })
        .collect();
    for (path, status) in MONITOR_CASES {
        assert_eq!(get(http, path).status, status, "{path}");
    }
    assert_eq!(raw_http(http, b"garbage\r\n\r\n").status, 400);
    // Past MAX_REQUEST_HEAD (16 KiB; Go reads up to 1 MB and answers 431).
    let long = [
        b"GET /varz HTTP/1.1\r\n".as_slice(),
        &b"X: y\r\n".repeat(4096),
    ]
    .concat();
    assert_eq!(raw_http(http, &long).status, 400);
    drop(held);
    let mut c = Raw::connect(srv.addr);
    assert_eq!(c.sync(), b"", "the broker is unaffected");
}

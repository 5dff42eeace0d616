//! Connection storms against the real binary (mimalloc, as users run it): 10,000
//! connections opened and closed in waves, then reconnect storms with subscriptions where
//! half the clients reset instead of closing. After each wave the connection, subscription
//! and replicated-interest counts are back to zero, and at the end the server's RSS is back
//! near what it was after the first wave: nothing a connection owned is leaked.

use crate::common;

use std::net::SocketAddr;

use common::http::{get, wait_for};
use common::process::{loopback, Proc};
use common::Raw;

const SHARDS: &str = "2";
/// Connections open at once in a wave.
const WAVE: usize = 2_500;
/// Plain waves: `WAVES * WAVE` = 10,000 connections.
const WAVES: usize = 4;
/// Reconnect waves with subscriptions.
const RECONNECT_WAVES: usize = 3;
/// Subscriptions per connection in a reconnect wave: a subject shared by many, a wildcard,
/// a queue group and one of its own.
const SUBS_PER_CONN: usize = 4;
/// How much the RSS may grow over the storms after the first wave, bytes. A leak of what
/// a connection owns (its buffers alone are kilobytes) over the 17,500 connections that
/// follow would pass this many times over.
const RSS_SLACK: u64 = 64 * 1024 * 1024;

/// Opens `WAVE` connections, each with `subs` subscriptions, and waits until the server
/// has answered every one's PING.
fn open_wave(addr: SocketAddr, subs: bool) -> Vec<Raw> {
    let mut conns: Vec<Raw> = (0..WAVE).map(|_| Raw::connect(addr)).collect();
    for (i, c) in conns.iter_mut().enumerate() {
        let mut hello = b"CONNECT {\"verbose\":false}\r\n".to_vec();
        if subs {
            hello.extend_from_slice(
                format!(
                    "SUB storm.{} 1\r\nSUB storm.* 2\r\nSUB storm.> workers 3\r\nSUB storm.own.{i} 4\r\n",
                    i % 50
                )
                .as_bytes(),
            );
        }
        hello.extend_from_slice(b"PING\r\n");
        c.send(&hello);
    }
    for c in &mut conns {
        assert_eq!(c.line(), "PONG\r\n");
    }
    conns
}

/// Waits until the server holds no connection, subscription or replicated interest.
fn wait_empty(http: SocketAddr) {
    wait_for(http, "/varz", |v| {
        v["connections"] == 0 && v["subscriptions"] == 0
    });
    wait_for(http, "/shardz", |v| {
        v["shards"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["remote_interest"] == 0)
    });
}

#[test]
fn connection_and_reconnect_storms_leak_nothing() {
    riptide::runtime::raise_fd_limit();
    let p = Proc::start(&loopback(&["-m", "-1", "--shards", SHARDS]));
    let (addr, http) = (p.addr(), p.monitor_addr());

    let mut baseline = None;
    for _ in 0..WAVES {
        let conns = open_wave(addr, false);
        assert_eq!(get(http, "/varz").json()["connections"], WAVE);
        drop(conns);
        wait_empty(http);
        baseline.get_or_insert_with(|| p.rss());
    }
    for _ in 0..RECONNECT_WAVES {
        let conns = open_wave(addr, true);
        let v = get(http, "/varz").json();
        assert_eq!(v["connections"], WAVE);
        assert_eq!(v["subscriptions"], WAVE * SUBS_PER_CONN);
        for (i, c) in conns.into_iter().enumerate() {
            if i % 2 == 0 {
                c.reset();
            }
        }
        wait_empty(http);
    }
    let total = get(http, "/varz").json()["total_connections"]
        .as_u64()
        .unwrap();
    assert!(
        total >= ((WAVES + RECONNECT_WAVES) * WAVE) as u64,
        "{total}"
    );

    let (baseline, after) = (baseline.unwrap(), p.rss());
    eprintln!("server RSS after the first wave {baseline} bytes, after all storms {after} bytes");
    assert!(
        after <= baseline + RSS_SLACK,
        "RSS grew from {baseline} to {after} bytes over the storms"
    );
    let mut c = Raw::connect(addr);
    assert_eq!(c.sync(), b"", "still serving");
}

//! Shards driven deterministically in one thread, without sockets: interest propagation,
//! the PONG barrier, queue picks across shards, timers and slow consumers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{ConnId, Shard};
use crate::config::Config;
use crate::conn::Closing;
use crate::fanout::Mesh;
use crate::server::Server;

struct ShardSet {
    shards: Vec<Shard>,
    t0: Instant,
}

impl ShardSet {
    fn new(n: usize, cfg: Config) -> ShardSet {
        let server = Arc::new(Server::new(cfg, "NTEST".into(), 4222, Default::default()).unwrap());
        let mesh = Arc::new(Mesh::new(n).unwrap());
        let t0 = Instant::now();
        let shards = (0..n)
            .map(|i| Shard::new(i, server.clone(), mesh.clone(), t0, 0x9E37_79B9_7F4A_7C15))
            .collect();
        ShardSet { shards, t0 }
    }

    /// A client on `shard` that has read its INFO and sent a quiet CONNECT.
    fn client(&mut self, shard: usize, connect: &str) -> (usize, ConnId) {
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let id = self.shards[shard].accept(peer, false);
        let info = self.take(shard, id);
        assert!(info.starts_with("INFO {"), "{info}");
        self.send(shard, id, &format!("CONNECT {connect}\r\n"));
        (shard, id)
    }

    fn send(&mut self, shard: usize, id: ConnId, data: &str) {
        self.shards[shard].on_read(id, data.as_bytes());
    }

    fn take(&mut self, shard: usize, id: ConnId) -> String {
        String::from_utf8(self.shards[shard].clients.conns[id].out.take_all()).unwrap()
    }

    /// Runs turns until no shard has anything left to say to another (bounded).
    fn settle(&mut self) {
        for _ in 0..100 {
            for s in &mut self.shards {
                s.end_turn();
            }
            let mut any = false;
            for s in &mut self.shards {
                any |= s.poll_mesh();
            }
            if !any {
                return;
            }
        }
        panic!("shards did not settle");
    }
}

const QUIET: &str = r#"{"verbose":false,"pedantic":false,"headers":true,"protocol":1}"#;

#[test]
fn interest_propagates_and_messages_cross_shards() {
    let mut c = ShardSet::new(3, Config::default());
    let (s0, sub) = c.client(0, QUIET);
    let (s2, publ) = c.client(2, QUIET);
    c.send(s0, sub, "SUB foo.* 1\r\n");
    c.settle();
    c.send(s2, publ, "PUB foo.bar 5\r\nhello\r\n");
    c.settle();
    assert_eq!(c.take(s0, sub), "MSG foo.bar 1 5\r\nhello\r\n");
    // Shard 1 has no interest and must not have been sent anything.
    assert_eq!(c.shards[1].stats.remote_received, 0);
    assert_eq!(c.shards[2].stats.remote_sent, 1);
}

#[test]
fn only_edges_are_replicated_and_unsub_stops_traffic() {
    let mut c = ShardSet::new(2, Config::default());
    let (s0, a) = c.client(0, QUIET);
    let (s1, publ) = c.client(1, QUIET);
    c.send(s0, a, "SUB foo 1\r\nSUB foo 2\r\n");
    c.settle();
    // Two local subscriptions, one plain interest entry on the other shard.
    assert_eq!(c.shards[1].index.remote_interest(), 1);
    c.send(s1, publ, "PUB foo 1\r\nx\r\n");
    c.settle();
    assert_eq!(c.take(s0, a), "MSG foo 1 1\r\nx\r\nMSG foo 2 1\r\nx\r\n");
    assert_eq!(
        c.shards[1].stats.remote_sent, 1,
        "one message per shard, not per subscriber"
    );
    c.send(s0, a, "UNSUB 1\r\n");
    c.settle();
    assert_eq!(
        c.shards[1].index.remote_interest(),
        1,
        "1 -> still interested"
    );
    c.send(s0, a, "UNSUB 2\r\n");
    c.settle();
    assert_eq!(c.shards[1].index.remote_interest(), 0);
    c.send(s1, publ, "PUB foo 1\r\nx\r\n");
    c.settle();
    assert_eq!(c.shards[1].stats.remote_sent, 1);
    assert_eq!(c.take(s0, a), "");
}

#[test]
fn pong_waits_until_every_shard_applied_the_sub() {
    let mut c = ShardSet::new(3, Config::default());
    let (s0, a) = c.client(0, QUIET);
    let (s2, publ) = c.client(2, QUIET);
    c.send(s0, a, "SUB foo 1\r\nPING\r\nPUB foo 2\r\nhi\r\n");
    // Nothing crossed shards yet: no PONG, and the PUB after the PING waits too.
    assert_eq!(c.take(s0, a), "");
    // Shard 2 gets the interest and acks; shard 0 is not told yet.
    c.shards[0].end_turn();
    c.shards[2].poll_mesh();
    c.shards[2].end_turn();
    assert_eq!(c.take(s0, a), "");
    c.shards[1].poll_mesh();
    c.shards[1].end_turn();
    c.shards[0].poll_mesh();
    // Both acks arrived: PONG (and the async INFO of a protocol-1 client), then the PUB.
    let out = c.take(s0, a);
    assert!(out.starts_with("PONG\r\nINFO {"), "{out}");
    assert!(out.contains("\"connect_info\":true"));
    assert!(out.ends_with("MSG foo 1 2\r\nhi\r\n"), "{out}");
    // The subscription is live everywhere the moment the PONG is out.
    c.send(s2, publ, "PUB foo 2\r\nyo\r\n");
    c.settle();
    assert_eq!(c.take(s0, a), "MSG foo 1 2\r\nyo\r\n");
    // With nothing outstanding a PING is answered at once.
    c.send(s0, a, "PING\r\n");
    assert_eq!(c.take(s0, a), "PONG\r\n");
}

#[test]
fn queue_group_across_shards_gets_each_message_once_by_weight() {
    let mut c = ShardSet::new(3, Config::default());
    let mut members = Vec::new();
    let (s0, m0) = c.client(0, QUIET);
    c.send(s0, m0, "SUB work q 1\r\n");
    members.push((s0, m0));
    for sid in 0..3 {
        let (s1, m) = c.client(1, QUIET);
        c.send(s1, m, &format!("SUB work q {sid}\r\n"));
        members.push((s1, m));
    }
    let (s2, publ) = c.client(2, QUIET);
    c.settle();
    const N: usize = 4000;
    for i in 0..N {
        let body = format!("{i:05}");
        c.send(s2, publ, &format!("PUB work 5\r\n{body}\r\n"));
        if i % 100 == 0 {
            c.settle();
        }
    }
    c.settle();
    let mut seen = vec![0u32; N];
    let mut per_member = Vec::new();
    for (s, m) in members {
        let out = c.take(s, m);
        let msgs: Vec<&str> = out.split("\r\n").filter(|l| l.len() == 5).collect();
        for body in &msgs {
            seen[body.parse::<usize>().unwrap()] += 1;
        }
        per_member.push(msgs.len());
    }
    assert!(seen.iter().all(|&n| n == 1), "every message exactly once");
    assert!(per_member.iter().all(|&n| n > 0), "{per_member:?}");
    // Weights 1:3 between the shards; the shard-0 member's share is near 1/4.
    let share = per_member[0] as f64 / N as f64;
    assert!((0.15..0.35).contains(&share), "{per_member:?}");
}

#[test]
fn queue_group_members_on_both_sides_of_the_publisher() {
    let mut c = ShardSet::new(2, Config::default());
    let (s0, local) = c.client(0, QUIET);
    let (s1, remote) = c.client(1, QUIET);
    c.send(s0, local, "SUB work q 1\r\n");
    c.send(s1, remote, "SUB work q 1\r\n");
    c.settle();
    for _ in 0..1000 {
        c.send(s0, local, "PUB work 1\r\nx\r\n");
    }
    c.settle();
    let a = c.take(s0, local).matches("MSG").count();
    let b = c.take(s1, remote).matches("MSG").count();
    assert_eq!(a + b, 1000);
    assert!(a > 0 && b > 0);
}

#[test]
fn stale_connection_after_ping_max() {
    let cfg = Config {
        ping_interval: Duration::from_secs(1),
        ping_max: 2,
        ..Config::default()
    };
    let mut c = ShardSet::new(1, cfg);
    let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
    let id = c.shards[0].accept(peer, false);
    c.take(0, id);
    let t0 = c.t0;
    c.shards[0].on_timers(t0 + Duration::from_millis(1100));
    assert_eq!(c.take(0, id), "PING\r\n");
    c.shards[0].on_timers(t0 + Duration::from_millis(2200));
    assert_eq!(c.take(0, id), "PING\r\n");
    c.shards[0].on_timers(t0 + Duration::from_millis(3300));
    assert_eq!(c.take(0, id), "-ERR 'Stale Connection'\r\n");
    assert_eq!(
        c.shards[0].clients.conns[id].closing,
        Some(Closing::AfterFlush)
    );
}

#[test]
fn pong_resets_outstanding_pings() {
    let cfg = Config {
        ping_interval: Duration::from_secs(1),
        ping_max: 1,
        ..Config::default()
    };
    let mut c = ShardSet::new(1, cfg);
    let id = c.shards[0].accept("127.0.0.1:5000".parse().unwrap(), false);
    c.take(0, id);
    let t0 = c.t0;
    for k in 1..5u64 {
        c.shards[0].on_timers(t0 + Duration::from_millis(1100 * k));
        assert_eq!(c.take(0, id), "PING\r\n");
        c.send(0, id, "PONG\r\n");
    }
    assert!(c.shards[0].clients.conns[id].closing.is_none());
}

#[test]
fn slow_consumer_is_cut_off_without_touching_others() {
    let cfg = Config {
        max_pending: 10_000,
        ..Config::default()
    };
    let mut c = ShardSet::new(1, cfg);
    let (_, slow) = c.client(0, QUIET);
    let (_, fast) = c.client(0, QUIET);
    let (_, publ) = c.client(0, QUIET);
    c.send(0, slow, "SUB data 1\r\n");
    c.send(0, fast, "SUB data 1\r\n");
    let payload = "x".repeat(1000);
    for _ in 0..20 {
        c.send(0, publ, &format!("PUB data 1000\r\n{payload}\r\n"));
        // The fast consumer's socket keeps up; the slow one never writes.
        c.take(0, fast);
    }
    // Past 3/4 of max_pending the slow consumer paused the publisher (the stall gate); the
    // pauses end by time, since that consumer never drains, and it is then cut off.
    assert!(c.shards[0].is_stalled(publ));
    let mut now = c.t0;
    for _ in 0..100 {
        if !c.shards[0].is_stalled(publ) {
            break;
        }
        now += Duration::from_millis(3);
        c.shards[0].now = now;
        c.shards[0].release_stalls(now);
        c.take(0, fast);
    }
    assert!(!c.shards[0].is_stalled(publ));
    assert_eq!(c.shards[0].clients.conns[slow].closing, Some(Closing::Now));
    assert!(c.shards[0].clients.conns[fast].closing.is_none());
    assert!(c.shards[0].clients.conns[publ].closing.is_none());
    assert_eq!(c.shards[0].stats.slow_consumers, 1);
}

#[test]
fn write_deadline_makes_a_slow_consumer() {
    let mut c = ShardSet::new(1, Config::default());
    let (_, a) = c.client(0, QUIET);
    c.send(0, a, "PING\r\n");
    let t0 = c.t0;
    // A write that the kernel never finishes.
    assert!(c.shards[0].clients.conns[a].out.start_write(t0).is_some());
    c.shards[0].on_tick(t0 + Duration::from_secs(5));
    assert!(c.shards[0].clients.conns[a].closing.is_none());
    c.shards[0].on_tick(t0 + Duration::from_secs(11));
    assert_eq!(c.shards[0].clients.conns[a].closing, Some(Closing::Now));
}

#[test]
fn auto_unsubscribe_across_shards() {
    let mut c = ShardSet::new(2, Config::default());
    let (s0, a) = c.client(0, QUIET);
    let (s1, publ) = c.client(1, QUIET);
    c.send(s0, a, "SUB foo 1\r\nUNSUB 1 2\r\n");
    c.settle();
    for _ in 0..5 {
        c.send(s1, publ, "PUB foo 1\r\nx\r\n");
    }
    c.settle();
    assert_eq!(c.take(s0, a).matches("MSG").count(), 2);
    assert_eq!(
        c.shards[1].index.remote_interest(),
        0,
        "the edge went back to zero"
    );
}

#[test]
fn closing_a_connection_withdraws_its_interest() {
    let mut c = ShardSet::new(2, Config::default());
    let (s0, a) = c.client(0, QUIET);
    c.send(s0, a, "SUB foo 1\r\nSUB bar q 2\r\n");
    c.settle();
    assert_eq!(c.shards[1].index.remote_interest(), 2);
    c.shards[0].on_read_closed(a, crate::conn::CloseReason::ClientClosed);
    c.settle();
    assert_eq!(c.shards[1].index.remote_interest(), 0);
    assert_eq!(c.shards[0].server.connections(), 0);
}

#[test]
fn pong_after_cross_shard_publishes_waits_for_their_delivery() {
    let mut c = ShardSet::new(3, Config::default());
    let (s0, sub) = c.client(0, QUIET);
    let (s2, publ) = c.client(2, QUIET);
    let (_, quiet) = c.client(2, QUIET);
    c.send(s0, sub, "SUB foo 1\r\n");
    c.settle();
    c.take(s2, publ);
    c.send(s2, publ, "PUB foo 2\r\nhi\r\nPING\r\nPUB foo 2\r\nyo\r\n");
    // The fence went out with the message; no PONG until shard 0 handled both.
    assert_eq!(c.take(s2, publ), "");
    // A connection that published nothing across shards does not wait.
    c.send(s2, quiet, "PING\r\n");
    assert!(c.take(s2, quiet).starts_with("PONG\r\n"));
    c.shards[0].poll_mesh();
    assert_eq!(c.take(s0, sub), "MSG foo 1 2\r\nhi\r\n");
    c.shards[1].poll_mesh();
    c.shards[0].end_turn();
    c.shards[1].end_turn();
    c.shards[2].poll_mesh();
    // Both acks are back: the PONG, then the PUB that waited behind it.
    assert!(c.take(s2, publ).starts_with("PONG\r\n"));
    c.settle();
    assert_eq!(c.take(s0, sub), "MSG foo 1 2\r\nyo\r\n");
    // `yo` crossed after the first PING, so the next one is fenced too; then nothing has.
    c.send(s2, publ, "PING\r\n");
    assert_eq!(c.take(s2, publ), "");
    c.settle();
    assert_eq!(c.take(s2, publ), "PONG\r\n");
    c.send(s2, publ, "PING\r\n");
    assert_eq!(c.take(s2, publ), "PONG\r\n");
}

#[test]
fn a_shard_that_falls_behind_pauses_the_publishers_that_feed_it() {
    let mut c = ShardSet::new(2, Config::default());
    let (s0, sub) = c.client(0, QUIET);
    let (s1, publ) = c.client(1, QUIET);
    c.send(s0, sub, "SUB big 1\r\n");
    c.settle();
    let payload = "x".repeat(64 * 1024);
    let msg = format!("PUB big {}\r\n{payload}\r\n", payload.len());
    // Shard 0 takes nothing: past the in-flight bound the publisher is paused, whatever
    // its stall budget, and what it sends meanwhile waits.
    let mut sent = 0;
    while !c.shards[1].is_stalled(publ) {
        c.send(s1, publ, &msg);
        c.shards[1].end_turn();
        sent += 1;
        assert!(sent < 1000, "never paused");
    }
    // Under the default max_pending the bound is a quarter of it.
    assert!(
        sent * payload.len() >= Config::default().max_pending / 4,
        "paused after {sent}"
    );
    c.send(s1, publ, &msg);
    let later = c.t0 + Duration::from_secs(60);
    c.shards[1].release_stalls(later);
    assert!(c.shards[1].is_stalled(publ), "released by time");
    // Once shard 0 took what was pending, the publisher goes on with what it sent.
    c.shards[0].poll_mesh();
    c.shards[1].release_stalls(later);
    assert!(!c.shards[1].is_stalled(publ));
    c.settle();
    let got = c.take(s0, sub);
    assert_eq!(got.matches("MSG big 1 65536\r\n").count(), sent + 1);
}

#[test]
fn a_consumer_past_its_gate_pauses_a_publisher_on_another_shard() {
    let cfg = Config {
        max_pending: 100_000,
        ..Config::default()
    };
    let mut c = ShardSet::new(2, cfg);
    let (s0, slow) = c.client(0, QUIET);
    let (s1, publ) = c.client(1, QUIET);
    c.send(s0, slow, "SUB data 1\r\n");
    c.settle();
    let payload = "x".repeat(1000);
    let mut sent = 0;
    while !c.shards[1].is_stalled(publ) {
        c.send(s1, publ, &format!("PUB data 1000\r\n{payload}\r\n"));
        c.settle();
        sent += 1;
        assert!(sent < 100, "never paused");
    }
    // Paused past 3/4 of max_pending, before the consumer was cut off.
    assert!(
        c.shards[0].clients.conns[slow].pending_bytes() > 75_000,
        "paused after {sent}"
    );
    assert!(c.shards[0].clients.conns[slow].closing.is_none());
    // While the consumer stays past its gate, a pause lasts a read's budget, and each new
    // read is paused again.
    let mut now = c.t0 + Duration::from_millis(11);
    c.shards[1].now = now;
    c.shards[1].release_stalls(now);
    assert!(!c.shards[1].is_stalled(publ));
    c.send(s1, publ, &format!("PUB data 1000\r\n{payload}\r\n"));
    assert!(c.shards[1].is_stalled(publ));
    // Once it drained, its shard says so and the publisher goes on at once.
    c.take(s0, slow);
    c.shards[0].release_stalls(now);
    c.settle();
    now += Duration::from_millis(1);
    c.shards[1].release_stalls(now);
    assert!(!c.shards[1].is_stalled(publ));
    c.send(s1, publ, &format!("PUB data 1000\r\n{payload}\r\n"));
    assert!(!c.shards[1].is_stalled(publ));
}

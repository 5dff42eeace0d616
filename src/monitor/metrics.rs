//! `/metrics`: Prometheus text exposition (format 0.0.4). Server totals use the names of
//! the NATS Prometheus exporter (`gnatsd_varz_*`), so dashboards built on it read Riptide
//! unchanged; `riptide_shard_*` adds what the Go server has no word for: each shard's load.

use std::fmt::Write;

use super::http::PROMETHEUS;
use super::{Context, Request, Response};
use crate::shard::{Query, ShardSnapshot};

#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        }
    }
}

/// Reads one figure off a shard's snapshot.
type ShardFigure = fn(&ShardSnapshot) -> f64;

struct Exposition(String);

impl Exposition {
    fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {}", kind.name());
    }

    fn single(&mut self, name: &str, kind: Kind, help: &str, value: f64) {
        self.family(name, kind, help);
        let _ = writeln!(self.0, "{name} {value}");
    }

    fn per_shard(
        &mut self,
        name: &str,
        kind: Kind,
        help: &str,
        snaps: &[ShardSnapshot],
        value: impl Fn(&ShardSnapshot) -> f64,
    ) {
        self.family(name, kind, help);
        for s in snaps {
            let _ = writeln!(self.0, "{name}{{shard=\"{}\"}} {}", s.shard, value(s));
        }
    }
}

pub(super) fn metrics(ctx: &Context, _: &Request) -> Response {
    let snaps = ctx.gather(Query::default());
    let t = super::varz::totals(&snaps);
    let conns: usize = snaps.iter().map(|s| s.connections).sum();
    let subs: usize = snaps.iter().map(|s| s.subscriptions).sum();
    let up = ctx.started.mono.elapsed().as_secs_f64();
    let mut e = Exposition(String::new());
    use Kind::{Counter, Gauge};
    let server: [(&str, Kind, &str, f64); 14] = [
        (
            "connections",
            Gauge,
            "Open client connections.",
            conns as f64,
        ),
        (
            "total_connections",
            Counter,
            "Client connections accepted since start.",
            t.total_connections as f64,
        ),
        ("subscriptions", Gauge, "Subscriptions.", subs as f64),
        (
            "in_msgs",
            Counter,
            "Messages received from clients.",
            t.in_msgs as f64,
        ),
        (
            "in_bytes",
            Counter,
            "Payload bytes received from clients.",
            t.in_bytes as f64,
        ),
        (
            "out_msgs",
            Counter,
            "Messages delivered to clients.",
            t.out_msgs as f64,
        ),
        (
            "out_bytes",
            Counter,
            "Payload bytes delivered to clients.",
            t.out_bytes as f64,
        ),
        (
            "slow_consumers",
            Counter,
            "Clients cut off as slow consumers.",
            t.slow_consumers as f64,
        ),
        (
            "stale_connections",
            Counter,
            "Clients closed for unanswered PINGs.",
            t.stale_connections as f64,
        ),
        (
            "stalled_clients",
            Counter,
            "Times a fast publisher was paused for a slow consumer.",
            t.stalls as f64,
        ),
        (
            "mem",
            Gauge,
            "Resident memory, bytes.",
            super::varz::rss_bytes() as f64,
        ),
        (
            "max_connections",
            Gauge,
            "Configured max_connections.",
            ctx.server().cfg.max_connections as f64,
        ),
        (
            "max_payload",
            Gauge,
            "Configured max_payload, bytes.",
            ctx.server().cfg.max_payload as f64,
        ),
        (
            "uptime_seconds",
            Gauge,
            "Seconds since the monitor started.",
            up,
        ),
    ];
    for (name, kind, help, v) in server {
        e.single(&format!("gnatsd_varz_{name}"), kind, help, v);
    }
    e.single(
        "riptide_shards",
        Gauge,
        "Shards (one reactor thread each).",
        snaps.len() as f64,
    );
    let shard: [(&str, Kind, &str, ShardFigure); 16] = [
        (
            "connections",
            Gauge,
            "Open client connections on the shard.",
            |s| s.connections as f64,
        ),
        (
            "subscriptions",
            Gauge,
            "Subscriptions of the shard's clients.",
            |s| s.subscriptions as f64,
        ),
        (
            "remote_interest",
            Gauge,
            "Entries of other shards' interest replicated to the shard.",
            |s| s.remote_interest as f64,
        ),
        (
            "in_msgs_total",
            Counter,
            "Messages published by the shard's clients.",
            |s| s.stats.in_msgs as f64,
        ),
        (
            "in_bytes_total",
            Counter,
            "Payload bytes published by the shard's clients.",
            |s| s.stats.in_bytes as f64,
        ),
        (
            "out_msgs_total",
            Counter,
            "Messages delivered to the shard's clients.",
            |s| s.stats.out_msgs as f64,
        ),
        (
            "out_bytes_total",
            Counter,
            "Payload bytes delivered to the shard's clients.",
            |s| s.stats.out_bytes as f64,
        ),
        (
            "cross_shard_sent_total",
            Counter,
            "Messages sent to other shards over the rings.",
            |s| s.stats.remote_sent as f64,
        ),
        (
            "cross_shard_received_total",
            Counter,
            "Messages received from other shards.",
            |s| s.stats.remote_received as f64,
        ),
        (
            "ring_full_total",
            Counter,
            "Times a batch found its ring to another shard full.",
            |s| s.stats.ring_full as f64,
        ),
        (
            "slow_consumers_total",
            Counter,
            "Clients of the shard cut off as slow consumers.",
            |s| s.stats.slow_consumers as f64,
        ),
        (
            "stalled_clients_total",
            Counter,
            "Times a publisher of the shard was paused.",
            |s| s.stats.stalls as f64,
        ),
        (
            "reactor_turns_total",
            Counter,
            "Event loop turns of the shard's reactor.",
            |s| s.reactor.turns as f64,
        ),
        (
            "busy_seconds_total",
            Counter,
            "Time the reactor spent working.",
            |s| {
                s.reactor
                    .running
                    .saturating_sub(s.reactor.parked)
                    .as_secs_f64()
            },
        ),
        (
            "parked_seconds_total",
            Counter,
            "Time the reactor spent blocked waiting for events.",
            |s| s.reactor.parked.as_secs_f64(),
        ),
        (
            "cache_hits_total",
            Counter,
            "Publishes routed from the L1 match cache.",
            |s| s.stats.cache_hits as f64,
        ),
    ];
    for (name, kind, help, f) in shard {
        e.per_shard(&format!("riptide_shard_{name}"), kind, help, &snaps, f);
    }
    Response {
        status: 200,
        content_type: PROMETHEUS,
        body: e.0.into_bytes(),
        location: None,
    }
}

//! `/varz`: server settings and totals in the Go server's `Varz` shape, and Riptide's
//! `/shardz`: the same totals per shard, with how busy each reactor is.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{json, Value};

use super::{pretty, Context, Request, Response};
use crate::info::{go_field, GO_SERVER_VERSION, PROTO, RIPTIDE_VERSION};
use crate::shard::{Query, ShardSnapshot, ShardStats};
use crate::timefmt::{rfc3339_nano, uptime};
use crate::transport::tls::DEFAULT_TLS_TIMEOUT;

/// Seconds, as the Go server reports `auth_timeout` and `tls_timeout` (float64 seconds).
fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Sums the shards' counters.
pub(crate) fn totals(snaps: &[ShardSnapshot]) -> ShardStats {
    let mut t = ShardStats::default();
    for s in snaps {
        let s = &s.stats;
        t.in_msgs += s.in_msgs;
        t.in_bytes += s.in_bytes;
        t.out_msgs += s.out_msgs;
        t.out_bytes += s.out_bytes;
        t.remote_sent += s.remote_sent;
        t.remote_received += s.remote_received;
        t.ring_full += s.ring_full;
        t.slow_consumers += s.slow_consumers;
        t.total_connections += s.total_connections;
        t.stale_connections += s.stale_connections;
        t.stalls += s.stalls;
        t.sub_inserts += s.sub_inserts;
        t.sub_removes += s.sub_removes;
        t.matches += s.matches;
        t.cache_hits += s.cache_hits;
    }
    t
}

/// Resident set size in bytes (`/proc/self/statm`), as Go's `mem`.
pub(crate) fn rss_bytes() -> u64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(0) as u64;
    pages * page
}

/// User plus system CPU time of the process (`/proc/self/stat` fields 14 and 15).
fn cpu_time() -> Duration {
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // The command name may hold spaces; fields count from after its ')'.
            let rest = &s[s.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_nanos(ticks * 1_000_000_000 / hz)
}

/// CPU use in percent of one core since the previous request (since start for the first),
/// as Go's `cpu` (sampled by `pse`).
pub(crate) fn cpu_percent(ctx: &Context) -> f64 {
    let now = Instant::now();
    let used = cpu_time();
    let mut last = ctx.cpu_sample.lock().unwrap_or_else(|e| e.into_inner());
    let (t0, u0) = last.unwrap_or((ctx.started.mono, Duration::ZERO));
    *last = Some((now, used));
    let wall = now.duration_since(t0).as_secs_f64();
    if wall <= 0.0 {
        return 0.0;
    }
    let pct = used.saturating_sub(u0).as_secs_f64() / wall * 100.0;
    (pct * 100.0).round() / 100.0
}

/// Go's `leaf` block of `/varz` (`LeafNodeOptsVarz`): empty without a leaf node port.
fn leaf_block(server: &crate::server::Server) -> Value {
    let Some((host, port)) = server.cluster_view.leaf_listen() else {
        return json!({});
    };
    json!({
        "host": host,
        "port": port,
        "auth_timeout": secs(crate::config::DEFAULT_AUTH_TIMEOUT),
        "tls_timeout": secs(DEFAULT_TLS_TIMEOUT),
    })
}

/// Go's `cluster` block of `/varz` (`ClusterOptsVarz`): empty outside a cluster.
fn cluster_block(server: &crate::server::Server) -> Value {
    let Some((name, addr, port)) = server.cluster_view.listen() else {
        return json!({});
    };
    let c = server.cfg.cluster.clone().unwrap_or_default();
    let urls: Vec<String> = c
        .routes
        .iter()
        .map(|u| format!("{}:{}", u.host, u.port))
        .collect();
    json!({
        "name": name,
        "addr": addr,
        "cluster_port": port,
        "auth_timeout": secs(c.auth_timeout.unwrap_or(crate::config::DEFAULT_AUTH_TIMEOUT)),
        "urls": urls,
        "tls_timeout": secs(DEFAULT_TLS_TIMEOUT),
    })
}

#[derive(Serialize)]
struct SlowStats {
    clients: u64,
    routes: u64,
    gateways: u64,
    leafs: u64,
}

impl SlowStats {
    fn clients(n: u64) -> SlowStats {
        SlowStats {
            clients: n,
            routes: 0,
            gateways: 0,
            leafs: 0,
        }
    }
}

fn extend(m: &mut serde_json::Map<String, Value>, more: Value) {
    if let Value::Object(more) = more {
        m.extend(more);
    }
}

pub(super) fn varz(ctx: &Context, _: &Request) -> Response {
    let snaps = ctx.gather(Query::default());
    let t = totals(&snaps);
    let now = super::Clock::now();
    let server = ctx.server();
    let cfg = &server.cfg;
    let start = ctx.started.wall;
    let subs: usize = snaps.iter().map(|s| s.subscriptions).sum();
    let req_stats: BTreeMap<&str, u64> = ctx
        .req_stats
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let mut v = json!({
        "server_id": server.server_id,
        "server_name": server.name(),
        "version": GO_SERVER_VERSION,
        "proto": PROTO,
        "git_commit": env!("RIPTIDE_GIT_COMMIT"),
        "go": go_field(),
        "host": cfg.host,
        "port": server.port,
    });
    let m = v.as_object_mut().expect("an object");
    if cfg.auth_required() {
        m.insert("auth_required".into(), Value::Bool(true));
    }
    if let Some(tls) = &cfg.tls {
        m.insert("tls_required".into(), Value::Bool(true));
        if tls.verifies_clients() {
            m.insert("tls_verify".into(), Value::Bool(true));
        }
    }
    m.insert("max_connections".into(), json!(cfg.max_connections));
    if cfg.max_subscriptions > 0 {
        m.insert("max_subscriptions".into(), json!(cfg.max_subscriptions));
    }
    let rest = json!({
        "ping_interval": cfg.ping_interval.as_nanos() as u64,
        "ping_max": cfg.ping_max,
        // Without a monitoring port (a `VARZ` request over NATS) Go shows the client host.
        "http_host": ctx.http_addr.map_or_else(|| cfg.host.clone(), |a| a.ip().to_string()),
        "http_port": ctx.http_addr.map_or(0, |a| a.port()),
        "http_base_path": ctx.base_path,
        "https_port": 0,
        "auth_timeout": secs(cfg.auth_timeout()),
        "max_control_line": cfg.max_control_line,
        "max_payload": cfg.max_payload,
        "max_pending": cfg.max_pending,
        "cluster": cluster_block(&server),
        "gateway": {},
        "leaf": leaf_block(&server),
        "mqtt": {},
        "websocket": {},
        "jetstream": super::jsz::varz_block(ctx),
        "tls_timeout": secs(cfg.tls.as_ref().map_or(DEFAULT_TLS_TIMEOUT, |t| t.timeout)),
        "write_deadline": cfg.write_deadline.as_nanos() as u64,
    });
    extend(m, rest);
    let rest = json!({
        "start": rfc3339_nano(start),
        "now": rfc3339_nano(now.wall),
        "uptime": uptime(now.mono.duration_since(ctx.started.mono)),
        "mem": super::varz::rss_bytes(),
        "cores": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "gomaxprocs": ctx.shards,
        "cpu": super::go_float(cpu_percent(ctx)),
        "connections": snaps.iter().map(|s| s.connections).sum::<usize>(),
        "total_connections": t.total_connections,
        "routes": snaps.iter().map(|s| s.routes.len()).sum::<usize>(),
        "remotes": snaps.iter().map(|s| s.routes.len()).sum::<usize>(),
        "leafnodes": snaps.iter().map(|s| s.leafs.len()).sum::<usize>(),
    });
    extend(m, rest);
    let rest = json!({
        "in_msgs": t.in_msgs,
        "in_bytes": t.in_bytes,
        "in_client_msgs": t.in_msgs,
        "in_client_bytes": t.in_bytes,
        "out_msgs": t.out_msgs,
        "out_bytes": t.out_bytes,
        "out_client_msgs": t.out_msgs,
        "out_client_bytes": t.out_bytes,
        "slow_consumers": t.slow_consumers,
        "stale_connections": t.stale_connections,
        "stalled_clients": t.stalls,
        "subscriptions": subs,
        "http_req_stats": req_stats,
        "config_load_time": rfc3339_nano(start),
        "config_digest": "",
        // Go 2.15.1's opt-in feature flags with the values it reports when none is set
        // (read off its /varz): tools that read the map find every key.
        "feature_flags": {
            "js_ack_fc_v2": false,
            "js_api_reply_v2": false,
            "js_raft_delete_range": true,
            "js_snapshot_sources": false,
        },
    });
    extend(m, rest);
    if let Some(sys) = server.accounts.system() {
        m.insert("system_account".into(), json!(server.accounts.name(sys)));
    }
    let rest = json!({
        "slow_consumer_stats": SlowStats::clients(t.slow_consumers),
        "stale_connection_stats": SlowStats::clients(t.stale_connections),
        // No disk I/O happens here yet; the zeros keep the Go shape for tools that read it.
        "disk_io_wait_stats": {"waiters": 0, "waits": 0, "wait_time": 0, "max_wait_time": 0},
        "riptide_version": RIPTIDE_VERSION,
        "shards": ctx.shards,
    });
    extend(m, rest);
    pretty(&v)
}

/// Riptide's per-shard view (not in the Go server): each shard's counters and reactor.
pub(super) fn shardz(ctx: &Context, _: &Request) -> Response {
    let snaps = ctx.gather(Query::default());
    let now = super::Clock::now();
    let shards: Vec<Value> = snaps
        .iter()
        .map(|s| {
            let r = &s.reactor;
            let busy = r.running.saturating_sub(r.parked);
            json!({
                "shard": s.shard,
                "connections": s.connections,
                "subscriptions": s.subscriptions,
                "remote_interest": s.remote_interest,
                "in_msgs": s.stats.in_msgs,
                "in_bytes": s.stats.in_bytes,
                "out_msgs": s.stats.out_msgs,
                "out_bytes": s.stats.out_bytes,
                "cross_shard_sent": s.stats.remote_sent,
                "cross_shard_received": s.stats.remote_received,
                "ring_full": s.stats.ring_full,
                "slow_consumers": s.stats.slow_consumers,
                "stalled_clients": s.stats.stalls,
                "reactor_turns": r.turns,
                "busy_ns": busy.as_nanos() as u64,
                "parked_ns": r.parked.as_nanos() as u64,
            })
        })
        .collect();
    pretty(&json!({
        "server_id": ctx.server().server_id,
        "now": rfc3339_nano(now.wall),
        "num_shards": ctx.shards,
        "shards": shards,
    }))
}

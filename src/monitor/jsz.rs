//! `/jsz` and the `jetstream` block of `/varz`: JetStream's configuration and usage as the
//! Go server shows them (`server/monitor.go` `Jsz`, `JSInfo`), from the host shard's
//! snapshot.

use serde_json::{json, Map, Value};

use super::{check_params, param_bool, pretty, Clock, Context, Request, Response};
use crate::jetstream::{Usage, API_LEVEL};
use crate::shard::Query;
use crate::timefmt::rfc3339_nano;

/// The parameters Go's `/jsz` decodes.
const JSZ_BOOLS: [&str; 7] = [
    "accounts",
    "streams",
    "consumers",
    "config",
    "leader-only",
    "raft",
    "stream-leader-only",
];
const JSZ_INTS: [&str; 2] = ["offset", "limit"];
/// Go's `JSDefaultMaxConsumers` as `/jsz` shows it under `limits`.
const DEFAULT_MAX_CONSUMERS: u64 = 1000;
/// What Go shows as an account's reservations when it has none (`-1` as a `uint64`).
const NO_RESERVATION: u64 = u64::MAX;

/// JetStream's usage from the host shard, `None` when JetStream is off.
pub(crate) fn usage(ctx: &Context) -> Option<Usage> {
    if !ctx.server().cfg.jetstream {
        return None;
    }
    ctx.gather(Query {
        jetstream: true,
        ..Query::default()
    })
    .into_iter()
    .find_map(|s| s.jetstream)
}

fn config(u: &Usage) -> Value {
    let mut c = json!({
        "max_memory": u.max_memory,
        "max_storage": u.max_storage,
        "store_dir": u.store_dir.display().to_string(),
        "sync_interval": u.sync_interval.as_nanos() as u64,
    });
    if u.sync_always {
        c["sync_always"] = true.into();
    }
    // Go's `strict,omitempty`.
    if u.strict {
        c["strict"] = true.into();
    }
    c
}

/// Memory, storage, reservations, accounts and API counters (Go's `JetStreamStats`).
fn stats(ctx: &Context, u: &Usage) -> Map<String, Value> {
    let enabled = crate::shard::enabled_accounts(&ctx.server()).len();
    let total =
        |f: fn(&crate::jetstream::AccountUsage) -> u64| -> u64 { u.accounts.iter().map(f).sum() };
    let v = json!({
        "memory": total(|a| a.memory),
        "storage": total(|a| a.storage),
        "reserved_memory": 0,
        "reserved_storage": 0,
        "accounts": enabled,
        "ha_assets": 0,
        "api": {"level": API_LEVEL, "total": total(|a| a.api_total), "errors": total(|a| a.api_errors)},
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The `jetstream` block of `/varz`: `{}` without JetStream.
pub(crate) fn varz_block(ctx: &Context) -> Value {
    match usage(ctx) {
        None => json!({}),
        Some(u) => json!({
            "config": config(&u),
            "stats": stats(ctx, &u),
            "limits": {"default_max_consumers": DEFAULT_MAX_CONSUMERS},
        }),
    }
}

pub(super) fn jsz(ctx: &Context, r: &Request) -> Response {
    if let Err(bad) = check_params(r, &JSZ_BOOLS, &JSZ_INTS, false) {
        return bad;
    }
    let flag = |name| param_bool(r, name).unwrap_or(false);
    let (streams, with_config) = (flag("streams"), flag("config"));
    let accounts = flag("accounts") || streams;
    let server = ctx.server();
    let now = rfc3339_nano(Clock::now().wall);
    let Some(u) = usage(ctx) else {
        return pretty(&json!({
            "memory": 0, "storage": 0, "reserved_memory": 0, "reserved_storage": 0,
            "accounts": 0, "ha_assets": 0, "api": {"level": 0, "total": 0, "errors": 0},
            "server_id": server.server_id, "now": now, "disabled": true,
            "config": {"max_memory": 0, "max_storage": 0},
            "streams": 0, "consumers": 0, "messages": 0, "bytes": 0, "total": 0,
        }));
    };
    let mut m = stats(ctx, &u);
    m.insert("server_id".into(), server.server_id.clone().into());
    m.insert("now".into(), now.into());
    m.insert("config".into(), config(&u));
    m.insert(
        "limits".into(),
        json!({"default_max_consumers": DEFAULT_MAX_CONSUMERS}),
    );
    let count =
        |f: fn(&crate::jetstream::AccountUsage) -> u64| -> u64 { u.accounts.iter().map(f).sum() };
    m.insert("streams".into(), count(|a| a.streams.len() as u64).into());
    m.insert("consumers".into(), count(|a| a.consumers).into());
    m.insert("messages".into(), count(|a| a.messages).into());
    m.insert("bytes".into(), count(|a| a.bytes).into());
    if accounts {
        let details: Vec<Value> = u
            .accounts
            .iter()
            .map(|a| {
                let mut d = json!({
                    "name": a.name, "id": a.name, "memory": a.memory, "storage": a.storage,
                    "reserved_memory": NO_RESERVATION, "reserved_storage": NO_RESERVATION,
                    "accounts": 0, "ha_assets": 0,
                    "api": {"level": 0, "total": a.api_total, "errors": a.api_errors},
                });
                if streams {
                    let list: Vec<Value> = a
                        .streams
                        .iter()
                        .map(|s| {
                            let mut e = json!({
                                "name": s.name,
                                "created": s.created,
                                "cluster": {"leader": server.name()},
                            });
                            if with_config {
                                e["config"] = s.config.clone();
                            }
                            e["state"] = s.state.clone();
                            e
                        })
                        .collect();
                    d["stream_detail"] = list.into();
                }
                d
            })
            .collect();
        m.insert("account_details".into(), details.into());
    }
    m.insert("total".into(), u.accounts.len().into());
    pretty(&Value::Object(m))
}

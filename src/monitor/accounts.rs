//! `/accountz` and `/accstatz`: the configured accounts and the global one, as the Go server
//! lists them when it runs without a system account (`no_sys_acc`), which is Riptide's case.

use serde_json::{json, Value};

use super::{param_bool, pretty, Clock, Context, Request, Response};
use crate::accounts::{AccountConfig, ExportKind, ResponseType};
use crate::shard::{Query, ShardSnapshot};
use crate::timefmt::rfc3339_nano;

fn kind(k: ExportKind) -> &'static str {
    match k {
        ExportKind::Stream => "stream",
        ExportKind::Service => "service",
    }
}

/// Go's names of the response types in `/accountz` (`ServiceRespType.String`).
fn response(r: ResponseType) -> &'static str {
    match r {
        ResponseType::Singleton => "Singleton",
        ResponseType::Stream => "Streamed",
        ResponseType::Chunked => "Chunked",
    }
}

/// An account's exports and imports in Go's `ExtExport` / `ExtImport` forms.
fn exports_imports(cfg: Option<&AccountConfig>, detail: &mut serde_json::Map<String, Value>) {
    let Some(cfg) = cfg else {
        return;
    };
    if !cfg.exports.is_empty() {
        let exports: Vec<Value> = cfg
            .exports
            .iter()
            .map(|e| {
                let mut v = json!({"subject": e.subject, "type": kind(e.kind)});
                if e.kind == ExportKind::Service {
                    v["response_type"] = json!(response(e.response));
                }
                if let Some(a) = &e.accounts {
                    v["approved_accounts"] = json!(a);
                }
                v
            })
            .collect();
        detail.insert("exports".into(), json!(exports));
    }
    if !cfg.imports.is_empty() {
        let imports: Vec<Value> = cfg
            .imports
            .iter()
            .map(|i| {
                let local = i.to.clone().unwrap_or_else(|| i.subject.clone());
                let mut v = json!({"subject": i.subject, "account": i.account});
                if i.kind == ExportKind::Service {
                    v["to"] = json!(local);
                }
                v["local_subject"] = json!(local);
                v["type"] = json!(kind(i.kind));
                v["invalid"] = json!(false);
                v["share"] = json!(false);
                v["tracking"] = json!(false);
                v
            })
            .collect();
        detail.insert("imports".into(), json!(imports));
    }
}

/// Open connections and subscriptions of `account` over all shards.
fn usage(snaps: &[ShardSnapshot], account: &str) -> (usize, usize) {
    let conns = snaps
        .iter()
        .flat_map(|s| &s.conns)
        .filter(|c| c.account == account)
        .count();
    let subs = snaps
        .iter()
        .flat_map(|s| &s.subs)
        .filter(|s| s.account == account)
        .count();
    (conns, subs)
}

pub(super) fn accountz(ctx: &Context, r: &Request) -> Response {
    let now = rfc3339_nano(Clock::now().wall);
    let server = ctx.server();
    let acc = r.param("acc");
    if acc.is_empty() {
        let names: Vec<&str> = server
            .accounts
            .iter()
            .map(|(_, a)| a.name.as_str())
            .collect();
        return pretty(&json!({
            "server_id": server.server_id,
            "now": now,
            "accounts": names,
        }));
    }
    if server.accounts.id(acc).is_none() {
        return Response::error(400, format!("Account {acc} does not exist"));
    }
    let snaps = ctx.gather(Query {
        conns: true,
        subs: true,
        ..Query::default()
    });
    let (conns, subs) = usage(&snaps, acc);
    let mut detail = serde_json::Map::new();
    detail.insert("account_name".into(), json!(acc));
    detail.insert("update_time".into(), json!(rfc3339_nano(ctx.started.wall)));
    detail.insert("expired".into(), json!(false));
    detail.insert("complete".into(), json!(true));
    detail.insert("jetstream_enabled".into(), json!(false));
    detail.insert("leafnode_connections".into(), json!(0));
    detail.insert("client_connections".into(), json!(conns));
    detail.insert("subscriptions".into(), json!(subs));
    exports_imports(
        server.cfg.accounts.iter().find(|a| a.name == acc),
        &mut detail,
    );
    detail.insert("name_tag".into(), json!(acc));
    pretty(&json!({
        "server_id": server.server_id,
        "now": now,
        "account_detail": detail,
    }))
}

fn zero_pair() -> Value {
    json!({"msgs": 0, "bytes": 0})
}

pub(super) fn accstatz(ctx: &Context, r: &Request) -> Response {
    let unused = match param_bool(r, "unused") {
        Ok(u) => u,
        Err(e) => return e,
    };
    let snaps = ctx.gather(Query {
        conns: true,
        subs: true,
        ..Query::default()
    });
    let server = ctx.server();
    let t = super::varz::totals(&snaps);
    let mut stats = Vec::new();
    for (_, a) in server.accounts.iter() {
        let (conns, subs) = usage(&snaps, &a.name);
        // Like the Go server, an account without local connections is listed only on request.
        if conns == 0 && !unused {
            continue;
        }
        // With the global account alone the shards' totals are its own; otherwise they are
        // split by the account's open connections' counters (closed ones' are not kept per
        // account, nor are slow consumers).
        let (in_msgs, in_bytes, out_msgs, out_bytes, slow) = if server.accounts.len() == 1 {
            (
                t.in_msgs,
                t.in_bytes,
                t.out_msgs,
                t.out_bytes,
                t.slow_consumers,
            )
        } else {
            snaps
                .iter()
                .flat_map(|s| &s.conns)
                .filter(|c| c.account == a.name)
                .fold((0, 0, 0, 0, 0), |(im, ib, om, ob, sc), c| {
                    (
                        im + c.in_msgs,
                        ib + c.in_bytes,
                        om + c.out_msgs,
                        ob + c.out_bytes,
                        sc,
                    )
                })
        };
        stats.push(json!({
            "acc": a.name,
            "name": a.name,
            "conns": conns,
            "leafnodes": 0,
            "total_conns": conns,
            "num_subscriptions": subs,
            "sent": {"msgs": out_msgs, "bytes": out_bytes,
                     "gateways": zero_pair(), "routes": zero_pair(), "leafs": zero_pair()},
            "received": {"msgs": in_msgs, "bytes": in_bytes,
                         "gateways": zero_pair(), "routes": zero_pair(), "leafs": zero_pair()},
            "slow_consumers": slow,
        }));
    }
    pretty(&json!({
        "server_id": server.server_id,
        "now": rfc3339_nano(Clock::now().wall),
        "account_statz": stats,
    }))
}

//! `/accountz` and `/accstatz`: the configured accounts, the global one and the system
//! account, with the system services every account imports, as the Go server lists them.

use serde_json::{json, Value};

use super::{param_bool, pretty, Clock, Context, Request, Response};
use crate::accounts::{AccountConfig, ExportKind, ResponseType, GLOBAL_ACCOUNT};
use crate::server::Server;
use crate::shard::{Query, ShardSnapshot};
use crate::system::request;
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

/// Go's `ExtImport` of a service import.
fn service_import(subject: &str, account: &str, local: &str, share: bool) -> Value {
    json!({"subject": subject, "account": account, "to": local, "local_subject": local,
           "type": "service", "invalid": false, "share": share, "tracking": false})
}

/// An account's exports and imports in Go's `ExtExport` / `ExtImport` forms: the configured
/// ones, and the system services (exported by the system account, imported by every
/// account, the system account importing its own `USER.INFO`).
fn exports_imports(
    name: &str,
    system: Option<&str>,
    cfg: Option<&AccountConfig>,
    detail: &mut serde_json::Map<String, Value>,
) {
    let mut exports: Vec<Value> = Vec::new();
    let mut imports: Vec<Value> = Vec::new();
    if let Some(sys) = system {
        if name == sys {
            exports.extend(request::EXPORTS.iter().map(|(subject, response)| {
                json!({"subject": subject, "type": "service", "response_type": response})
            }));
        }
        imports.extend(
            request::IMPORTS
                .iter()
                .filter(|(_, local, _)| name != sys || *local == "$SYS.REQ.USER.INFO")
                .map(|(subject, local, share)| {
                    service_import(&subject.replace("{acc}", name), sys, local, *share)
                }),
        );
    }
    if let Some(cfg) = cfg {
        exports.extend(cfg.exports.iter().map(|e| {
            let mut v = json!({"subject": e.subject, "type": kind(e.kind)});
            if e.kind == ExportKind::Service {
                v["response_type"] = json!(response(e.response));
            }
            if let Some(a) = &e.accounts {
                v["approved_accounts"] = json!(a);
            }
            v
        }));
        imports.extend(cfg.imports.iter().map(|i| {
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
        }));
    }
    if !exports.is_empty() {
        detail.insert("exports".into(), json!(exports));
    }
    if !imports.is_empty() {
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
    let system = server.accounts.system().map(|id| server.accounts.name(id));
    let mut top = serde_json::Map::new();
    top.insert("server_id".into(), json!(server.server_id));
    top.insert("now".into(), json!(now));
    if let Some(sys) = system {
        top.insert("system_account".into(), json!(sys));
    }
    if acc.is_empty() {
        let names: Vec<&str> = server
            .accounts
            .iter()
            .map(|(_, a)| a.name.as_str())
            .collect();
        top.insert("accounts".into(), json!(names));
        return pretty(&top);
    }
    if server.accounts.id(acc).is_none() {
        return Response::error(400, format!("Account {acc} does not exist"));
    }
    let snaps = ctx.gather(usage_query());
    let (conns, subs) = usage(&snaps, acc);
    let mut detail = serde_json::Map::new();
    detail.insert("account_name".into(), json!(acc));
    detail.insert("update_time".into(), json!(rfc3339_nano(ctx.started.wall)));
    if system == Some(acc) {
        detail.insert("is_system".into(), json!(true));
    }
    detail.insert("expired".into(), json!(false));
    detail.insert("complete".into(), json!(true));
    let js = crate::shard::enabled_accounts(&ctx.server())
        .iter()
        .any(|a| a.name == acc);
    detail.insert(
        "jetstream_enabled".into(),
        json!(ctx.server().cfg.jetstream && js),
    );
    detail.insert("leafnode_connections".into(), json!(0));
    detail.insert("client_connections".into(), json!(conns));
    detail.insert("subscriptions".into(), json!(subs));
    exports_imports(
        acc,
        system,
        server.cfg.accounts.iter().find(|a| a.name == acc),
        &mut detail,
    );
    detail.insert("name_tag".into(), json!(acc));
    top.insert("account_detail".into(), Value::Object(detail));
    pretty(&top)
}

fn zero_pair() -> Value {
    json!({"msgs": 0, "bytes": 0})
}

/// One account's statistics (Go's `AccountStat`) from the shards' snapshots. With every
/// client in the global account the shards' totals are its own; otherwise they are split
/// by the account's open connections' counters (closed ones' are not kept per account, nor
/// are slow consumers).
pub(crate) fn account_stat(
    server: &Server,
    snaps: &[ShardSnapshot],
    name: &str,
) -> serde_json::Map<String, Value> {
    let (conns, subs) = usage(snaps, name);
    let global_only = server.cfg.accounts.is_empty() && !server.cfg.operator.enabled();
    let (in_msgs, in_bytes, out_msgs, out_bytes, slow) = if global_only && name == GLOBAL_ACCOUNT {
        let t = super::varz::totals(snaps);
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
            .filter(|c| c.account == name)
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
    let v = json!({
        "acc": name,
        "name": name,
        "conns": conns,
        "leafnodes": 0,
        "total_conns": conns,
        "num_subscriptions": subs,
        "sent": {"msgs": out_msgs, "bytes": out_bytes,
                 "gateways": zero_pair(), "routes": zero_pair(), "leafs": zero_pair()},
        "received": {"msgs": in_msgs, "bytes": in_bytes,
                     "gateways": zero_pair(), "routes": zero_pair(), "leafs": zero_pair()},
        "slow_consumers": slow,
    });
    match v {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

/// The snapshots account statistics need.
pub(crate) fn usage_query() -> Query {
    Query {
        conns: true,
        subs: true,
        ..Query::default()
    }
}

pub(super) fn accstatz(ctx: &Context, r: &Request) -> Response {
    let unused = match param_bool(r, "unused") {
        Ok(u) => u,
        Err(e) => return e,
    };
    // `accs=A,B` limits the list to those accounts (`HandleAccountStatz`).
    let only: Vec<&str> = r
        .param("accs")
        .split(',')
        .filter(|a| !a.is_empty())
        .collect();
    let snaps = ctx.gather(usage_query());
    let server = ctx.server();
    let stats: Vec<Value> = server
        .accounts
        .iter()
        .filter(|(_, a)| only.is_empty() || only.contains(&a.name.as_str()))
        .map(|(_, a)| account_stat(&server, &snaps, &a.name))
        // Like the Go server, an account without local connections is listed only on request.
        .filter(|s| unused || s["conns"] != json!(0))
        .map(Value::Object)
        .collect();
    pretty(&json!({
        "server_id": server.server_id,
        "now": rfc3339_nano(Clock::now().wall),
        "account_statz": stats,
    }))
}

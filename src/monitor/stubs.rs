//! Endpoints of the cluster side: `/routez` with the routes, and those of features Riptide
//! does not have yet (gateways, leaf nodes): the Go server's answers for a server without
//! them, so tools that poll them keep working.

use serde_json::json;

use super::{check_params, pretty, Clock, Context, Request, Response};
use crate::shard::Query;
use crate::timefmt::{go_duration, rfc3339_nano, uptime};

fn now() -> String {
    rfc3339_nano(Clock::now().wall)
}

/// The parameters each endpoint decodes in the Go server (`monitor.go`).
const HEALTHZ_BOOLS: [&str; 4] = [
    "js-enabled-only",
    "js-server-only",
    "js-meta-only",
    "details",
];
/// Healthy as long as the server runs: there is no JetStream to be unhealthy yet.
pub(super) fn healthz(_: &Context, r: &Request) -> Response {
    if let Err(bad) = check_params(r, &HEALTHZ_BOOLS, &[], false) {
        return bad;
    }
    Response::json(br#"{"status":"ok"}"#.to_vec())
}

/// The routes as Go lists them (`Routez`, `RouteInfo` in `monitor.go`); `subs=1` adds each
/// route's interest.
pub(super) fn routez(ctx: &Context, r: &Request) -> Response {
    let with_subs = match super::param_subs(r) {
        Ok((subs, _)) => subs,
        Err(bad) => return bad,
    };
    let clock = Clock::now();
    let routes: Vec<serde_json::Value> = ctx
        .gather(Query::default())
        .into_iter()
        .flat_map(|s| s.routes)
        .map(|rt| {
            let c = &rt.conn;
            let mut v = json!({
                "rid": c.cid,
                "remote_id": rt.remote_id,
                "remote_name": rt.remote_name,
                "did_solicit": rt.did_solicit,
                "is_configured": rt.is_configured,
                "ip": c.peer.ip().to_string(),
                "port": c.peer.port(),
                "start": clock.date(c.start),
                "last_activity": clock.date(c.last_activity),
            });
            if let Some(rtt) = c.rtt {
                v["rtt"] = json!(go_duration(rtt));
            }
            for (k, x) in [
                (
                    "uptime",
                    json!(uptime(clock.mono.saturating_duration_since(c.start))),
                ),
                (
                    "idle",
                    json!(uptime(
                        clock.mono.saturating_duration_since(c.last_activity)
                    )),
                ),
            ] {
                v[k] = x;
            }
            for (k, p) in [("import", &rt.import), ("export", &rt.export)] {
                if let Some(p) = p {
                    v[k] = json!(p);
                }
            }
            for (k, x) in [
                ("pending_size", json!(c.pending_bytes)),
                ("in_msgs", json!(c.in_msgs)),
                ("out_msgs", json!(c.out_msgs)),
                ("in_bytes", json!(c.in_bytes)),
                ("out_bytes", json!(c.out_bytes)),
                ("subscriptions", json!(c.num_subs)),
            ] {
                v[k] = x;
            }
            if with_subs {
                v["subscriptions_list"] = json!(rt.subs);
            }
            // A pinned account's connection names it.
            if let Some(a) = &rt.account {
                v["account"] = json!(a);
            }
            if let Some(m) = rt.compression {
                v["compression"] = json!(m);
            }
            v
        })
        .collect();
    pretty(&json!({
        "server_id": ctx.server().server_id,
        "server_name": ctx.server().name(),
        "now": now(),
        "num_routes": routes.len(),
        "routes": routes,
    }))
}

pub(super) fn gatewayz(ctx: &Context, r: &Request) -> Response {
    if let Err(bad) = check_params(r, &["accs"], &[], true) {
        return bad;
    }
    pretty(&json!({
        "server_id": ctx.server().server_id,
        "now": now(),
        "outbound_gateways": {},
        "inbound_gateways": {},
    }))
}

pub(super) fn leafz(ctx: &Context, r: &Request) -> Response {
    if let Err(bad) = check_params(r, &["subs"], &[], false) {
        return bad;
    }
    let with_subs = match super::param_subs(r) {
        Ok((subs, _)) => subs,
        Err(bad) => return bad,
    };
    let leafs: Vec<serde_json::Value> = ctx
        .gather(Query::default())
        .into_iter()
        .flat_map(|s| s.leafs)
        .map(|l| {
            let c = &l.conn;
            let mut v = json!({
                "id": c.cid,
                "name": l.name,
                "is_spoke": l.is_spoke,
                "account": l.account,
                "ip": c.peer.ip().to_string(),
                "port": c.peer.port(),
            });
            if let Some(rtt) = c.rtt {
                v["rtt"] = json!(go_duration(rtt));
            }
            v["in_msgs"] = json!(c.in_msgs);
            v["out_msgs"] = json!(c.out_msgs);
            v["in_bytes"] = json!(c.in_bytes);
            v["out_bytes"] = json!(c.out_bytes);
            v["subscriptions"] = json!(c.num_subs);
            if with_subs {
                v["subscriptions_list"] = json!(l.subs);
            }
            if let Some(m) = l.compression {
                v["compression"] = json!(m);
            }
            v
        })
        .collect();
    pretty(&json!({
        "server_id": ctx.server().server_id,
        "now": now(),
        "leafnodes": leafs.len(),
        "leafs": leafs,
    }))
}

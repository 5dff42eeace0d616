//! Endpoints of features Riptide does not have yet (routes, gateways, leaf nodes): the Go
//! server's answers for a server without them, so tools that poll them
//! keep working.

use serde_json::json;

use super::{check_params, pretty, Clock, Context, Request, Response};
use crate::timefmt::rfc3339_nano;

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

pub(super) fn routez(ctx: &Context, r: &Request) -> Response {
    if let Err(bad) = check_params(r, &[], &[], true) {
        return bad;
    }
    pretty(&json!({
        "server_id": ctx.server().server_id,
        "server_name": ctx.server().name(),
        "now": now(),
        "num_routes": 0,
        "routes": [],
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
    pretty(&json!({
        "server_id": ctx.server().server_id,
        "now": now(),
        "leafnodes": 0,
        "leafs": [],
    }))
}

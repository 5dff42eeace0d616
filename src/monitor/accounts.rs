//! `/accountz` and `/accstatz`. Until accounts land every client is in the global account
//! `$G`, so these report that one account.

use serde_json::json;

use super::connz::GLOBAL_ACCOUNT;
use super::{param_bool, pretty, Clock, Context, Request, Response};
use crate::shard::Query;
use crate::timefmt::rfc3339_nano;

pub(super) fn accountz(ctx: &Context, r: &Request) -> Response {
    let now = rfc3339_nano(Clock::now().wall);
    let acc = r.param("acc");
    if acc.is_empty() {
        return pretty(&json!({
            "server_id": ctx.server().server_id,
            "now": now,
            "accounts": [GLOBAL_ACCOUNT],
        }));
    }
    if acc != GLOBAL_ACCOUNT {
        return Response::error(400, format!("Account {acc} does not exist"));
    }
    let snaps = ctx.gather(Query::default());
    pretty(&json!({
        "server_id": ctx.server().server_id,
        "now": now,
        "account_detail": {
            "account_name": GLOBAL_ACCOUNT,
            "update_time": rfc3339_nano(ctx.started.wall),
            "is_system": false,
            "expired": false,
            "complete": true,
            "jetstream_enabled": false,
            "leafnode_connections": 0,
            "client_connections": snaps.iter().map(|s| s.connections).sum::<usize>(),
            "subscriptions": snaps.iter().map(|s| s.subscriptions).sum::<usize>(),
        },
    }))
}

fn zero_pair() -> serde_json::Value {
    json!({"msgs": 0, "bytes": 0})
}

pub(super) fn accstatz(ctx: &Context, r: &Request) -> Response {
    let unused = match param_bool(r, "unused") {
        Ok(u) => u,
        Err(e) => return e,
    };
    let snaps = ctx.gather(Query::default());
    let t = super::varz::totals(&snaps);
    let conns: usize = snaps.iter().map(|s| s.connections).sum();
    let mut stats = Vec::new();
    // Like the Go server, an account without local connections is listed only on request.
    if conns > 0 || unused {
        stats.push(json!({
            "acc": GLOBAL_ACCOUNT,
            "name": GLOBAL_ACCOUNT,
            "conns": conns,
            "leafnodes": 0,
            "total_conns": conns,
            "num_subscriptions": snaps.iter().map(|s| s.subscriptions).sum::<usize>(),
            "sent": {"msgs": t.out_msgs, "bytes": t.out_bytes,
                     "gateways": zero_pair(), "routes": zero_pair(), "leafs": zero_pair()},
            "received": {"msgs": t.in_msgs, "bytes": t.in_bytes,
                         "gateways": zero_pair(), "routes": zero_pair(), "leafs": zero_pair()},
            "slow_consumers": t.slow_consumers,
        }));
    }
    pretty(&json!({
        "server_id": ctx.server().server_id,
        "now": rfc3339_nano(Clock::now().wall),
        "account_statz": stats,
    }))
}

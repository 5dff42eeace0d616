//! `/connz`: open and closed connections with the Go server's `ConnInfo` fields, its sort
//! options (`monitor_sort_opts.go`), paging and filters.

use std::cmp::Reverse;
use std::time::Duration;

use serde::Serialize;

use super::{limit_or_default, page, param_bool, param_int, param_subs, pretty, Clock, Context};
use super::{Request, Response};
use crate::accounts::GLOBAL_ACCOUNT;
use crate::shard::{ConnSnapshot, Query, SubSnapshot};
use crate::timefmt::{go_duration, rfc3339_nano, uptime};

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    Closed,
    Any,
}

/// A subscription as `/connz` and `/subsz` list it (`SubDetail`).
#[derive(Serialize)]
pub(crate) struct SubDetail<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_tag: Option<&'a str>,
    pub subject: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qgroup: Option<&'a str>,
    pub sid: &'a str,
    pub msgs: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub cid: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl<'a> SubDetail<'a> {
    pub(crate) fn new(s: &'a SubSnapshot, account: Option<&'a str>) -> SubDetail<'a> {
        SubDetail {
            account,
            account_tag: account,
            subject: &s.subject,
            qgroup: s.queue.as_deref(),
            sid: &s.sid,
            msgs: s.msgs,
            max: s.max,
            cid: s.cid,
        }
    }
}

#[derive(Serialize)]
struct ConnInfo<'a> {
    cid: u64,
    kind: &'static str,
    #[serde(rename = "type")]
    kind_type: &'static str,
    ip: String,
    port: u16,
    start: String,
    last_activity: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rtt: Option<String>,
    uptime: String,
    idle: String,
    pending_bytes: usize,
    in_msgs: u64,
    out_msgs: u64,
    in_bytes: u64,
    out_bytes: u64,
    #[serde(skip_serializing_if = "is_zero")]
    stalls: u64,
    subscriptions: usize,
    #[serde(skip_serializing_if = "str::is_empty")]
    name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    lang: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    version: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    authorized_user: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscriptions_list: Option<Vec<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscriptions_list_detail: Option<Vec<SubDetail<'a>>>,
    /// The account's name tag (with `auth`); `account` itself is shown only for accounts other
    /// than `$G`.
    #[serde(skip_serializing_if = "Option::is_none")]
    name_tag: Option<&'a str>,
}

#[derive(Serialize)]
struct Connz<'a> {
    server_id: &'a str,
    now: String,
    num_connections: usize,
    total: usize,
    offset: i64,
    limit: usize,
    connections: Vec<ConnInfo<'a>>,
}

/// The sort keys the Go server accepts, ascending for `cid`/`start`/`reason`, descending for
/// the rest (`ConnInfos` sorters in `monitor_sort_opts.go`).
fn sort(conns: &mut [&ConnSnapshot], by: &str, now: std::time::Instant) {
    let stop = |c: &ConnSnapshot| c.stop.unwrap_or(now);
    match by {
        "" | "cid" => conns.sort_by_key(|c| c.cid),
        "start" => conns.sort_by_key(|c| (c.start, c.cid)),
        "subs" => conns.sort_by_key(|c| Reverse(c.num_subs)),
        "pending" => conns.sort_by_key(|c| Reverse(c.pending_bytes)),
        "msgs_to" => conns.sort_by_key(|c| Reverse(c.out_msgs)),
        "msgs_from" => conns.sort_by_key(|c| Reverse(c.in_msgs)),
        "bytes_to" => conns.sort_by_key(|c| Reverse(c.out_bytes)),
        "bytes_from" => conns.sort_by_key(|c| Reverse(c.in_bytes)),
        "last" => conns.sort_by_key(|c| Reverse(c.last_activity)),
        "idle" => {
            conns.sort_by_key(|c| Reverse(stop(c).saturating_duration_since(c.last_activity)))
        }
        "uptime" => conns.sort_by_key(|c| Reverse(stop(c).saturating_duration_since(c.start))),
        "stop" => conns.sort_by_key(|c| Reverse(c.stop)),
        "reason" => conns.sort_by_key(|c| c.reason.map(|r| r.as_str())),
        "rtt" => conns.sort_by_key(|c| Reverse(c.rtt)),
        _ => {}
    }
}

/// RTTs between 1µs and 1ms are shown in whole microseconds (`getRTT`, monitor.go).
fn truncate_rtt(d: Duration) -> Duration {
    if d > Duration::from_micros(1) && d < Duration::from_millis(1) {
        Duration::from_micros(d.as_micros() as u64)
    } else {
        d
    }
}

pub(super) fn connz(ctx: &Context, r: &Request) -> Response {
    match build(ctx, r) {
        Ok(resp) | Err(resp) => resp,
    }
}

fn build(ctx: &Context, r: &Request) -> Result<Response, Response> {
    let sort_by = r.param("sort");
    let auth = param_bool(r, "auth")?;
    let (subs, detail) = param_subs(r)?;
    let subs = subs && !detail;
    let offset = param_int(r, "offset")?;
    let limit = limit_or_default(param_int(r, "limit")?);
    let cid = match r.param("cid") {
        "" => None,
        v => Some(v.parse::<u64>().map_err(|_| {
            Response::error(
                400,
                format!(
                    "Error decoding uint64 for 'cid': strconv.ParseUint: parsing \"{v}\": invalid syntax"
                ),
            )
        })?),
    };
    let state = match r.param("state").to_ascii_lowercase().as_str() {
        "" | "open" => State::Open,
        "closed" => State::Closed,
        "any" | "all" => State::Any,
        _ => {
            return Err(Response::error(
                400,
                format!("Error decoding state for {}", r.param("state")),
            ))
        }
    };
    const SORTS: [&str; 15] = [
        "",
        "cid",
        "start",
        "subs",
        "pending",
        "msgs_to",
        "msgs_from",
        "bytes_to",
        "bytes_from",
        "last",
        "idle",
        "uptime",
        "stop",
        "reason",
        "rtt",
    ];
    if !SORTS.contains(&sort_by) {
        return Err(Response::error(
            400,
            format!("invalid sorting option: {sort_by}"),
        ));
    }
    if matches!(sort_by, "stop" | "reason") && state == State::Open {
        return Err(Response::error(
            400,
            format!("sort by {sort_by} only valid on closed connections"),
        ));
    }
    let user = r.param("user");
    let acc = r.param("acc");

    let snaps = ctx.gather(Query {
        conns: state != State::Closed || cid.is_some(),
        closed: state != State::Open || cid.is_some(),
        conn_subs: subs || detail,
        subs: false,
        jetstream: false,
    });
    let clock = Clock::now();
    let mut all: Vec<&ConnSnapshot> = snaps
        .iter()
        .flat_map(|s| {
            let open = s
                .conns
                .iter()
                .filter(|_| state != State::Closed || cid.is_some());
            let closed = s
                .closed
                .iter()
                .filter(|_| state != State::Open || cid.is_some());
            open.chain(closed)
        })
        .filter(|c| cid.is_none_or(|id| c.cid == id))
        .filter(|c| user.is_empty() || c.user == user)
        .filter(|c| acc.is_empty() || c.account == acc)
        .collect();
    sort(&mut all, sort_by, clock.mono);
    let total = all.len();
    let shown = page(all, offset, limit);
    let connections = shown
        .into_iter()
        .map(|c| conn_info(c, &clock, auth, subs, detail))
        .collect::<Vec<_>>();
    Ok(pretty(&Connz {
        server_id: &ctx.server().server_id,
        now: rfc3339_nano(clock.wall),
        num_connections: connections.len(),
        total,
        offset,
        limit,
        connections,
    }))
}

fn conn_info<'a>(
    c: &'a ConnSnapshot,
    clock: &Clock,
    auth: bool,
    subs: bool,
    detail: bool,
) -> ConnInfo<'a> {
    let end = c.stop.unwrap_or(clock.mono);
    ConnInfo {
        cid: c.cid,
        kind: "Client",
        kind_type: "nats",
        ip: c.peer.ip().to_string(),
        port: c.peer.port(),
        start: clock.date(c.start),
        last_activity: clock.date(c.last_activity),
        stop: c.stop.map(|t| clock.date(t)),
        reason: c.reason.map(|r| r.as_str()),
        rtt: c.rtt.map(|d| go_duration(truncate_rtt(d))),
        uptime: uptime(end.saturating_duration_since(c.start)),
        idle: uptime(end.saturating_duration_since(c.last_activity)),
        pending_bytes: c.pending_bytes,
        in_msgs: c.in_msgs,
        out_msgs: c.out_msgs,
        in_bytes: c.in_bytes,
        out_bytes: c.out_bytes,
        stalls: c.stalls,
        subscriptions: c.num_subs,
        name: &c.name,
        lang: &c.lang,
        version: &c.version,
        authorized_user: if auth { &c.user } else { "" },
        account: (auth && c.account != GLOBAL_ACCOUNT).then_some(c.account.as_str()),
        subscriptions_list: (subs && !c.subs.is_empty())
            .then(|| c.subs.iter().map(|s| s.subject.as_str()).collect()),
        subscriptions_list_detail: (detail && !c.subs.is_empty())
            .then(|| c.subs.iter().map(|s| SubDetail::new(s, None)).collect()),
        name_tag: auth.then_some(c.account.as_str()),
    }
}

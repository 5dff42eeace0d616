//! `/subsz` (also `/subscriptionsz`): subscription index statistics in the Go server's
//! `SublistStats` shape, and optionally the subscriptions, filtered by a `test` subject.

use serde::Serialize;

use super::connz::SubDetail;
use super::{limit_or_default, page, param_bool, param_int, pretty, Clock, Context};
use super::{Request, Response};
use crate::shard::{Query, SubSnapshot};
use crate::subject::{is_valid_literal, matches_literal};
use crate::timefmt::rfc3339_nano;

#[derive(Serialize)]
struct Subsz<'a> {
    server_id: &'a str,
    now: String,
    num_subscriptions: usize,
    num_cache: usize,
    num_inserts: u64,
    num_removes: u64,
    num_matches: u64,
    cache_hit_rate: f64,
    max_fanout: usize,
    avg_fanout: f64,
    total: usize,
    offset: i64,
    limit: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscriptions_list: Option<Vec<SubDetail<'a>>>,
}

pub(super) fn subsz(ctx: &Context, r: &Request) -> Response {
    match build(ctx, r) {
        Ok(resp) | Err(resp) => resp,
    }
}

fn build(ctx: &Context, r: &Request) -> Result<Response, Response> {
    let subs = param_bool(r, "subs")?;
    let offset = param_int(r, "offset")?;
    let limit = limit_or_default(param_int(r, "limit")?);
    let test = r.param("test");
    if !test.is_empty() && !is_valid_literal(test.as_bytes()) {
        return Err(Response::error(
            400,
            format!("invalid test subject, must be valid publish subject: {test}"),
        ));
    }
    let acc = r.param("acc");
    let snaps = ctx.gather(Query {
        subs: subs || !test.is_empty(),
        ..Query::default()
    });
    let clock = Clock::now();
    let t = super::varz::totals(&snaps);
    let (mut entries, mut fanout, mut max_fanout) = (0, 0, 0);
    for s in &snaps {
        entries += s.cache.entries;
        fanout += s.cache.total_fanout;
        max_fanout = max_fanout.max(s.cache.max_fanout);
    }
    let mut matching: Vec<&SubSnapshot> = snaps
        .iter()
        .flat_map(|s| &s.subs)
        .filter(|s| test.is_empty() || matches_literal(s.subject.as_bytes(), test.as_bytes()))
        .filter(|s| acc.is_empty() || s.account == acc)
        .collect();
    matching.sort_by_key(|s| s.cid);
    let total = matching.len();
    let list = subs.then(|| {
        page(matching, offset, limit)
            .into_iter()
            .map(|s| SubDetail::new(s, Some(&s.account)))
            .collect()
    });
    Ok(pretty(&Subsz {
        server_id: &ctx.server().server_id,
        now: rfc3339_nano(clock.wall),
        num_subscriptions: snaps.iter().map(|s| s.subscriptions).sum(),
        num_cache: entries,
        num_inserts: t.sub_inserts,
        num_removes: t.sub_removes,
        num_matches: t.matches,
        cache_hit_rate: if t.matches == 0 {
            0.0
        } else {
            t.cache_hits as f64 / t.matches as f64
        },
        max_fanout,
        avg_fanout: if entries == 0 {
            0.0
        } else {
            fanout as f64 / entries as f64
        },
        total,
        offset,
        limit,
        subscriptions_list: list,
    }))
}

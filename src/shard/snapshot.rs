//! What a shard reports to the monitor: its counters, and on request its connections
//! (open and recently closed) and subscriptions. Built on the shard's own thread when the
//! monitor asks, so reading statistics puts nothing shared on the message path.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::{ConnId, Shard, ShardStats, Sub};
use crate::conn::{CloseReason, Conn};

/// Closed connections the server remembers for `/connz?state=closed`, shared out over the
/// shards (`DEFAULT_MAX_CLOSED_CLIENTS`, 10000).
pub const MAX_CLOSED_CLIENTS: usize = 10_000;

/// What the monitor wants besides the counters.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query {
    pub conns: bool,
    pub closed: bool,
    /// Subscriptions of each listed connection.
    pub conn_subs: bool,
    /// Every subscription of the shard.
    pub subs: bool,
    /// JetStream's usage, from the shard that hosts it.
    pub jetstream: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubSnapshot {
    pub subject: String,
    pub queue: Option<String>,
    pub sid: String,
    pub msgs: u64,
    /// Auto-unsubscribe limit; 0 means none.
    pub max: u64,
    pub cid: u64,
    pub account: String,
}

#[derive(Debug, Clone)]
pub struct ConnSnapshot {
    pub cid: u64,
    pub peer: SocketAddr,
    pub start: Instant,
    pub last_activity: Instant,
    pub stop: Option<Instant>,
    pub reason: Option<CloseReason>,
    pub rtt: Option<Duration>,
    pub pending_bytes: usize,
    pub in_msgs: u64,
    pub out_msgs: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
    pub stalls: u64,
    pub num_subs: usize,
    pub name: String,
    pub lang: String,
    pub version: String,
    pub user: String,
    pub account: String,
    pub subs: Vec<SubSnapshot>,
}

/// The reactor's own counters: how often it turned and how long it slept.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReactorStats {
    pub turns: u64,
    pub parked: Duration,
    pub running: Duration,
}

/// L1 match cache figures for `/subsz`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CacheStats {
    pub entries: usize,
    pub max_fanout: usize,
    pub total_fanout: usize,
}

impl CacheStats {
    /// Both caches' entries together.
    fn merge(self, other: CacheStats) -> CacheStats {
        CacheStats {
            entries: self.entries + other.entries,
            max_fanout: self.max_fanout.max(other.max_fanout),
            total_fanout: self.total_fanout + other.total_fanout,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ShardSnapshot {
    pub shard: usize,
    pub taken: Instant,
    pub stats: ShardStats,
    pub reactor: ReactorStats,
    pub connections: usize,
    pub subscriptions: usize,
    /// Entries in the replicated interest of the other shards.
    pub remote_interest: usize,
    pub cache: CacheStats,
    pub conns: Vec<ConnSnapshot>,
    pub closed: Vec<ConnSnapshot>,
    pub subs: Vec<SubSnapshot>,
    /// JetStream's usage, on the host shard when asked for.
    pub jetstream: Option<crate::jetstream::Usage>,
    /// The registered routes, on the cluster shard.
    pub routes: Vec<RouteSnapshot>,
    /// The registered leaf node connections, on the cluster shard.
    pub leafs: Vec<super::LeafSnapshot>,
}

/// One route, for `/routez`.
#[derive(Debug, Clone)]
pub struct RouteSnapshot {
    pub conn: ConnSnapshot,
    pub remote_id: String,
    pub remote_name: String,
    pub did_solicit: bool,
    pub is_configured: bool,
    /// The pinned account a route connection is dedicated to.
    pub account: Option<String>,
    /// The remote's route permissions, as its INFO gave them.
    pub import: Option<crate::cluster::handshake::PermissionJson>,
    pub export: Option<crate::cluster::handshake::PermissionJson>,
    /// The interest it told us, as `account subject [queue]`.
    pub subs: Vec<String>,
    /// The compression mode this side writes with.
    pub compression: Option<&'static str>,
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn sub_snapshot(s: &Sub, cid: u64, account: &str) -> SubSnapshot {
    SubSnapshot {
        subject: text(&s.subject),
        queue: s.queue.as_deref().map(text),
        sid: text(&s.sid),
        msgs: s.delivered,
        max: s.max,
        cid,
        account: account.to_string(),
    }
}

/// The connections a shard has closed lately, oldest first, its share of
/// `MAX_CLOSED_CLIENTS`.
#[derive(Debug)]
pub(super) struct ClosedLog {
    entries: VecDeque<ConnSnapshot>,
    cap: usize,
}

impl ClosedLog {
    pub(super) fn new(shards: usize) -> ClosedLog {
        ClosedLog {
            entries: VecDeque::new(),
            cap: MAX_CLOSED_CLIENTS.div_ceil(shards.max(1)),
        }
    }

    fn push(&mut self, c: ConnSnapshot) {
        if self.entries.len() == self.cap {
            self.entries.pop_front();
        }
        self.entries.push_back(c);
    }
}

impl Shard {
    pub(super) fn conn_snapshot(&self, c: &Conn, with_subs: bool) -> ConnSnapshot {
        let subs = if with_subs {
            let mut v: Vec<SubSnapshot> = c
                .subs
                .values()
                .filter_map(|&s| self.index.subs.get(s))
                .map(|s| sub_snapshot(s, c.cid, self.server.accounts.name(s.account)))
                .collect();
            v.sort_by(|a, b| a.sid.cmp(&b.sid));
            v
        } else {
            Vec::new()
        };
        ConnSnapshot {
            cid: c.cid,
            peer: c.peer,
            start: c.created,
            last_activity: c.pings.last_in,
            stop: None,
            reason: None,
            rtt: c.pings.rtt,
            pending_bytes: c.pending_bytes(),
            in_msgs: c.in_msgs,
            out_msgs: c.out_msgs,
            in_bytes: c.in_bytes,
            out_bytes: c.out_bytes,
            stalls: c.stalls,
            num_subs: c.subs.len(),
            name: c.opts.name.clone(),
            lang: c.opts.lang.clone(),
            version: c.opts.version.clone(),
            user: c.user.clone(),
            account: self.server.accounts.name(c.account).to_string(),
            subs,
        }
    }

    /// Remembers a connection that is closing, with its subscriptions, for `/connz`.
    pub(super) fn log_closed(&mut self, id: ConnId, reason: CloseReason) {
        let Some(c) = self.clients.conns.get(id) else {
            return;
        };
        let mut s = self.conn_snapshot(c, true);
        s.stop = Some(self.now);
        s.reason = Some(reason);
        self.clients.closed_log.push(s);
    }

    /// The shard's figures, and whatever else `q` asks for.
    pub fn snapshot(&self, q: &Query, reactor: ReactorStats) -> ShardSnapshot {
        let routes = self.route_snapshots(|c| self.conn_snapshot(c, false));
        let leafs = self.leaf_snapshots(|c| self.conn_snapshot(c, false));
        let open = self
            .clients
            .conns
            .iter()
            .filter(|(_, c)| c.closing.is_none() && c.route.is_none());
        let conns = if q.conns {
            open.clone()
                .map(|(_, c)| self.conn_snapshot(c, q.conn_subs))
                .collect()
        } else {
            Vec::new()
        };
        let closed = if q.closed {
            self.clients.closed_log.entries.iter().cloned().collect()
        } else {
            Vec::new()
        };
        let subs = if q.subs {
            self.index
                .subs
                .iter()
                .map(|(_, s)| {
                    let cid = self.clients.conns.get(s.conn).map_or(0, |c| c.cid);
                    sub_snapshot(s, cid, self.server.accounts.name(s.account))
                })
                .collect()
        } else {
            Vec::new()
        };
        ShardSnapshot {
            shard: self.id,
            taken: self.now,
            stats: self.stats.clone(),
            reactor,
            connections: open.count(),
            subscriptions: self.index.subs.len(),
            remote_interest: self.index.remote_interest(),
            cache: self
                .index
                .accounts()
                .iter()
                .map(|a| a.cache.stats())
                .fold(CacheStats::default(), CacheStats::merge),
            conns,
            closed,
            subs,
            jetstream: if q.jetstream {
                self.jetstream_usage()
            } else {
                None
            },
            routes,
            leafs,
        }
    }
}

//! A shard's broker logic, without I/O. The reactor feeds it bytes and events and writes
//! out what it queues; tests drive several shards in one thread the same way.
//!
//! # Parts
//! - `clients`: the connections, what the reactor must flush or close this turn, and the
//!   connection timers on the timer wheel.
//! - `index`: the subscriptions, per account a trie of local targets (clients and internal
//!   services), a trie of the peers' interest, and the match cache.
//! - `interest`: replication of our interest to peers and theirs to us, with the PONG
//!   barrier and fences.
//! - `peers`: the port to the peers: staged batches, overflow, the weight in flight.
//! - `wire`: socket bytes through a connection's transport to the parser.
//! - `protocol`: the parser's callbacks (CONNECT, SUB, PUB, PING...).
//! - `delivery`: a publish matched and handed to its targets, local and peers.
//! - `stall`: pacing publishers to slow consumers and to peers that fall behind.
//! - `jetstream`: on the host shard, JetStream's API and streams as internal services, the
//!   held create replies, the stream writes handed to the reactor and their acks.
//! - `routes`, `leafs`: on the cluster shard, the route and leaf node connections;
//!   `compression`: their S2 compression, negotiated and re-picked; `handover`: leaf nodes
//!   from the WebSocket port, moved to the cluster shard.
//! - `system`: the system account's events and requests; `snapshot`, `reload`,
//!   `lame_duck`: the monitoring, reload and lame-duck sides.

mod clients;
mod compression;
mod delivery;
mod handover;
mod index;
mod interest;
mod jetstream;
mod lame_duck;
mod leafs;
mod peers;
mod protocol;
mod reload;
mod routes;
mod snapshot;
pub(crate) mod stall;
mod system;
pub(crate) mod table;
mod wire;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use crate::config::FIRST_CLIENT_PING_INTERVAL;
use crate::conn::{CloseReason, Closing, Conn, SubId};
use crate::fanout::Mesh;
use crate::log_at;
use crate::proto::{encode, ParseError};
use crate::server::Server;
use clients::Timer;
pub use clients::{Clients, ConnId, ConnTable};
pub use handover::WsLeaf;
pub use index::Sub;
use index::{SubIndex, SystemServices, Target};
use peers::PeerPort;
pub use table::SlotId;

pub use interest::{Interest, RemoteEntry};
#[cfg(feature = "testkit")]
pub use jetstream::FAULT_STREAM_WRITE_ENV;
pub(crate) use jetstream::{api_accounts, enabled_accounts, startup_interest};
pub use leafs::{LeafHost, LeafSnapshot};
use protocol::ConnCtx;
pub use reload::ReloadClosed;
pub use routes::{LinkRole, RouteLink, Routes};
pub use snapshot::{
    CacheStats, ConnSnapshot, Query, ReactorStats, RouteSnapshot, ShardSnapshot, SubSnapshot,
    MAX_CLOSED_CLIENTS,
};

/// Counters of one shard, read on request (no shared atomics on the message path).
#[derive(Debug, Default, Clone)]
pub struct ShardStats {
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
    pub remote_sent: u64,
    pub remote_received: u64,
    pub ring_full: u64,
    pub slow_consumers: u64,
    pub total_connections: u64,
    pub stale_connections: u64,
    /// Times a publisher was paused for a slow consumer (Go's `stalled_clients`).
    pub stalls: u64,
    pub sub_inserts: u64,
    pub sub_removes: u64,
    /// Subjects routed, and how many of them the L1 cache answered.
    pub matches: u64,
    pub cache_hits: u64,
}

/// One core's broker, in owned parts: its clients and their timers, the index of its
/// subscriptions (with its match cache), the interest replicated to and from its peers, and
/// the port through which it talks to those peers.
pub struct Shard {
    pub id: usize,
    pub server: Arc<Server>,
    pub clients: Clients,
    index: SubIndex,
    interest: Interest,
    peers: PeerPort,
    stalls: stall::Stalls,
    rng: u64,
    pub now: Instant,
    pub stats: ShardStats,
    /// JetStream, on the host shard.
    js: Option<Box<jetstream::Host>>,
    /// The routes and leaf node connections, on the cluster shard of a server in a cluster
    /// or with `leafnodes {}`.
    routes: Option<Box<Routes>>,
}

impl Shard {
    /// `seed` drives queue-member picks; tests pass a fixed one to be deterministic.
    pub fn new(id: usize, server: Arc<Server>, mesh: Arc<Mesh>, now: Instant, seed: u64) -> Shard {
        let n = mesh.shards();
        Shard {
            id,
            clients: Clients::new(n, now),
            index: SubIndex::new(system_services(&server)),
            interest: Interest::new(id, n),
            peers: PeerPort::new(mesh),
            stalls: stall::Stalls::default(),
            // xorshift must not start at zero.
            rng: (seed ^ (id as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D)) | 1,
            server,
            now,
            stats: ShardStats::default(),
            js: None,
            routes: None,
        }
    }

    pub fn shards(&self) -> usize {
        self.peers.mesh.shards()
    }

    /// A client id that also tells its shard: `(cid - 1) % shards == shard`.
    fn next_cid(&mut self) -> u64 {
        self.clients.next_seq += 1;
        (self.clients.next_seq - 1) * self.shards() as u64 + self.id as u64 + 1
    }

    /// Registers an accepted socket and queues its INFO. A connection over
    /// `max_connections` gets INFO and `-ERR 'maximum connections exceeded'`, then closes.
    pub fn accept(&mut self, peer: SocketAddr, websocket: bool) -> ConnId {
        let cid = self.next_cid();
        let first_ping = self.now
            + self
                .server
                .cfg
                .ping_interval_for(websocket)
                .min(FIRST_CLIENT_PING_INTERVAL);
        let conn = Conn::new(
            cid,
            peer,
            self.server.cfg.max_control_line,
            self.now,
            self.server.auth_for(websocket).required(),
        );
        let id = self.clients.conns.insert(conn);
        let auth = self.clients.conns[id].auth_pending;
        if auth {
            let at = self.now + self.server.auth_for(websocket).timeout();
            self.clients.timers.insert(at, Timer::Auth(id, cid));
        }
        self.clients.timers.insert(first_ping, Timer::Ping(id, cid));
        // Each connection gets its own nonce, so a signature cannot be replayed elsewhere.
        let nonce = self
            .server
            .auth_for(websocket)
            .nonce_required()
            .then(crate::auth::new_nonce);
        let info = self.server.info_for(websocket).render(
            cid,
            &peer.ip().to_string(),
            None,
            nonce.as_deref(),
            &self.server.cluster_view.fragment(),
        );
        self.clients.conns[id].nonce = nonce;
        self.clients.conns[id].websocket = websocket;
        encode::info(&mut self.clients.conns[id].out.tail(), &info);
        self.mark_dirty(id);
        if !self.server.try_add_connection() {
            self.send_err(id, "maximum connections exceeded");
            self.begin_close(id, CloseReason::MaxConnections, Closing::AfterFlush, false);
            self.wrap(id, websocket);
            return id;
        }
        self.stats.total_connections += 1;
        log_at!(
            Debug,
            "{} - Client connection created",
            self.clients.conns[id].log_prefix()
        );
        self.wrap(id, websocket);
        id
    }

    /// Bytes read from a connection.
    pub fn on_read(&mut self, id: ConnId, data: &[u8]) {
        let Some(c) = self.clients.conns.get_mut(id) else {
            return;
        };
        if c.closing.is_some() {
            return;
        }
        if c.route.is_some() {
            self.poll_mesh();
            return self.route_read(id, data);
        }
        if c.input_held() {
            c.input.stash.push(data);
            // Each read brings its own stall allowance, used when the stash is parsed.
            c.input.stall_budget += stall::STALL_BUDGET;
            return;
        }
        c.input.stall_budget = stall::STALL_BUDGET;
        // Interest other shards sent before these bytes arrived is applied first, so a
        // publish sees subscriptions made elsewhere just before it (the Go server's SUB is
        // visible as soon as it is parsed).
        self.poll_mesh();
        let n = self.parse(id, data);
        if n < data.len() {
            if let Some(c) = self.clients.conns.get_mut(id) {
                c.input.stash.push(&data[n..]);
            }
        }
        self.pace_remote(id);
        // A SUB/UNSUB (or a fence) leaves at once rather than at the end of the turn, for the
        // same reason; unless an Ack is staged, which must wait for this turn's writes.
        if self.peers.interest_staged && !self.peers.ack_staged {
            self.end_turn();
        }
    }

    /// Parses `data`, and returns how much of it: the parser stops early where the input
    /// is held from then on.
    fn parse(&mut self, id: ConnId, data: &[u8]) -> usize {
        let mut parser = std::mem::replace(
            &mut self.clients.conns[id].parser,
            crate::proto::Parser::new(0),
        );
        let res = parser.parse(data, &mut ConnCtx { shard: self, id });
        self.clients.conns[id].parser = parser;
        match res {
            Ok(n) => n,
            Err(e) => {
                self.on_parse_error(id, e);
                data.len()
            }
        }
    }

    fn on_parse_error(&mut self, id: ConnId, e: ParseError) {
        match e {
            ParseError::UnknownOp => {
                self.send_err(id, "Unknown Protocol Operation");
                self.begin_close(id, CloseReason::ParseError, Closing::AfterFlush, true);
            }
            ParseError::ControlLine => {
                self.send_err(id, "maximum control line exceeded");
                self.begin_close(id, CloseReason::MaxControlLine, Closing::AfterFlush, true);
            }
            ParseError::BadArgs => self.begin_close(
                id,
                CloseReason::ProtocolViolation,
                Closing::AfterFlush,
                true,
            ),
            ParseError::Stopped => {}
        }
    }

    /// Parses input that waited while the connection was paused.
    fn resume(&mut self, id: ConnId) {
        let c = &mut self.clients.conns[id];
        if c.closing.is_some() || c.input_held() {
            return;
        }
        if c.input.stash.is_empty() {
            if c.input.eof {
                self.begin_close(id, CloseReason::ClientClosed, Closing::AfterFlush, true);
            }
            return;
        }
        let mut stash = std::mem::take(&mut c.input.stash);
        // Parsed a read's worth at a time, so that pacing for consumers on other shards
        // applies to what waited as it does to fresh reads.
        while let Some(chunk) = stash.front(stall::PACED_CHUNK) {
            let n = self.parse(id, chunk);
            stash.consume(n);
            if self.clients.conns[id].input_held() || self.clients.conns[id].closing.is_some() {
                break;
            }
            self.pace_remote(id);
            if self.clients.conns[id].input_held() {
                break;
            }
        }
        let c = &mut self.clients.conns[id];
        if c.closing.is_none() {
            c.input.stash = stash;
        }
        if c.input.eof && !c.input_held() {
            self.begin_close(id, CloseReason::ClientClosed, Closing::AfterFlush, true);
        }
    }

    /// The peer closed or the socket failed. A peer that only shut down its sending side still
    /// gets what was queued for it (e.g. `printf 'PING\r\n' | nc -q0`), as the Go server
    /// flushes on close.
    pub fn on_read_closed(&mut self, id: ConnId, reason: CloseReason) {
        if reason != CloseReason::ClientClosed {
            self.begin_close(id, reason, Closing::Now, true);
            return;
        }
        match self.clients.conns.get_mut(id) {
            // Input that waits behind a PONG barrier was sent before the EOF: it is handled
            // first, and the connection closes when the barrier lets it through.
            Some(c) if c.input_held() => c.input.eof = true,
            _ => self.begin_close(id, reason, Closing::AfterFlush, true),
        }
    }

    /// The TLS or WebSocket layer failed or timed out: what it queued (an alert, an HTTP
    /// answer) is flushed, protocol output that can no longer be encoded is dropped.
    pub fn close_transport(&mut self, id: ConnId, reason: CloseReason) {
        self.begin_close(id, reason, Closing::AfterFlush, true);
        if let Some(c) = self.clients.conns.get_mut(id) {
            c.out.discard();
        }
    }

    /// A write failed: the connection is gone.
    pub fn on_write_error(&mut self, id: ConnId) {
        self.begin_close(id, CloseReason::WriteError, Closing::Now, true);
    }

    pub(crate) fn send_err(&mut self, id: ConnId, text: &str) {
        log_at!(
            Debug,
            "{} - Client Error: {}",
            self.clients.conns[id].log_prefix(),
            text
        );
        self.trace_out(id, format_args!("-ERR {text}"));
        encode::err(&mut self.clients.conns[id].out.tail(), text);
        self.mark_dirty(id);
    }

    /// Queues a fixed protocol line (`+OK`, `PING`, `PONG`).
    pub(crate) fn send(&mut self, id: ConnId, line: &[u8]) {
        if crate::log::trace_enabled() {
            // Traced as the Go server does: `->> [OK]`, `->> [PONG]`.
            let text = String::from_utf8_lossy(line);
            let text = text.trim_end();
            self.trace_out(id, format_args!("{}", text.trim_start_matches('+')));
        }
        self.clients.conns[id].out.push(line);
        self.mark_dirty(id);
    }

    /// `-V` trace of a line sent to a client: `cid:N - ->> [line]`.
    pub(crate) fn trace_out(&self, id: ConnId, line: std::fmt::Arguments<'_>) {
        if crate::log::trace_enabled() {
            log_at!(
                Trace,
                "{} - ->> [{}]",
                self.clients.conns[id].log_prefix(),
                line
            );
        }
    }

    fn mark_dirty(&mut self, id: ConnId) {
        let c = &mut self.clients.conns[id];
        if !c.dirty {
            c.dirty = true;
            self.clients.dirty.push(id);
        }
    }

    /// Starts closing: subscriptions go at once (so other shards stop sending), the socket
    /// goes when the reactor has flushed or dropped the output. `counted` is false for a
    /// connection refused by `max_connections`, which never took a slot.
    pub(crate) fn begin_close(
        &mut self,
        id: ConnId,
        reason: CloseReason,
        how: Closing,
        counted: bool,
    ) {
        let Some(c) = self.clients.conns.get_mut(id) else {
            return;
        };
        if c.closing.is_some() {
            return;
        }
        c.closing = Some(how);
        c.close_reason = Some(reason);
        if how == Closing::Now {
            c.out.discard();
        }
        if c.route.is_some() {
            self.route_closed(id, reason);
            self.clients.closed.push(id);
            self.mark_dirty(id);
            return;
        }
        log_at!(
            Debug,
            "{} - Client connection closed: {}",
            c.log_prefix(),
            reason.as_str()
        );
        if reason == CloseReason::StaleConnection {
            self.stats.stale_connections += 1;
        }
        self.log_closed(id, reason);
        if counted {
            self.disconnect_event(id, reason);
        }
        let Some(c) = self.clients.conns.get_mut(id) else {
            return;
        };
        let sids: Vec<SubId> = c.subs.drain().map(|(_, s)| s).collect();
        let limited = std::mem::take(&mut c.in_account_limit).then_some(c.account);
        for s in sids {
            self.remove_sub(s);
        }
        self.interest.forget_waiter(id);
        if let Some(account) = limited {
            self.server.leave_account(account);
        }
        if counted {
            self.server.remove_connection();
        }
        self.clients.closed.push(id);
        self.mark_dirty(id);
    }

    /// Frees a connection's slot once its socket is closed and no I/O refers to it.
    pub fn release(&mut self, id: ConnId) {
        if self.clients.conns.contains(id) {
            self.clients.conns.remove(id);
        }
    }

    /// Connections with output queued since the last call; each is listed once.
    pub fn take_dirty(&mut self, into: &mut Vec<ConnId>) {
        for id in self.clients.dirty.drain(..) {
            if let Some(c) = self.clients.conns.get_mut(id) {
                c.dirty = false;
                into.push(id);
            }
        }
    }

    /// Connections that started closing since the last call.
    pub fn take_closed(&mut self, into: &mut Vec<ConnId>) {
        into.append(&mut self.clients.closed);
    }

    /// The coarse tick: write deadlines, checked against each connection's oldest
    /// unfinished write; a route or leaf connection is kept however long its writes take,
    /// as Go's `retry` policy keeps them (its pings still find a dead one).
    /// (Every other connection timer is on the timer wheel.)
    pub fn on_tick(&mut self, now: Instant) {
        self.now = now;
        self.jetstream_tick();
        let deadline = self.server.cfg.write_deadline;
        let slow: Vec<ConnId> = self
            .clients
            .conns
            .iter()
            .filter(|(_, c)| {
                c.closing.is_none()
                    && c.route.is_none()
                    && c.out
                        .write_since
                        .is_some_and(|since| now.duration_since(since) > deadline)
            })
            .map(|(id, _)| id)
            .collect();
        for id in slow {
            let c = &self.clients.conns[id];
            log_at!(
                Info,
                "{} - Slow Consumer Detected: WriteDeadline of {:?} exceeded with {} total bytes pending",
                c.log_prefix(),
                deadline,
                c.pending_bytes()
            );
            self.stats.slow_consumers += 1;
            self.begin_close(
                id,
                CloseReason::SlowConsumerWriteDeadline,
                Closing::Now,
                true,
            );
        }
    }

    /// The connections not closing yet.
    fn open_conns(&self) -> Vec<ConnId> {
        self.clients
            .conns
            .iter()
            .filter(|(_, c)| c.closing.is_none())
            .map(|(id, _)| id)
            .collect()
    }

    /// Server shutdown: every connection flushes what it has and closes.
    pub fn shutdown(&mut self) {
        for id in self.open_conns() {
            self.begin_close(id, CloseReason::ServerShutdown, Closing::AfterFlush, true);
        }
    }

    fn rand(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }
}

/// Where `server`'s system services subscribe.
fn system_services(server: &Server) -> SystemServices {
    SystemServices {
        account: server.accounts.system(),
        server_id: server.server_id.clone(),
    }
}

#[cfg(test)]
mod tests;

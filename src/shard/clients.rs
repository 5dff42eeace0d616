//! The shard's client connections and their timers.

use std::time::Instant;

use super::snapshot::ClosedLog;
use super::table::{slot_id, Table};
use super::Shard;
use crate::conn::{CloseReason, Closing, Conn};
use crate::log_at;
use crate::proto::encode;
use crate::timer_wheel::TimerWheel;

slot_id!(
    /// A connection's slot in its shard. Slots are reused once a connection is gone, so what
    /// may outlive one (a timer) names it together with its client id.
    ConnId
);

/// The shard's connections.
pub type ConnTable = Table<ConnId, Conn>;

/// What a connection timer is for. Each names the connection by slot and client id, so a
/// timer that outlived its connection (the slot taken by another) is told apart and dropped:
/// timers are never cancelled, only found stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    /// The TLS handshake or WebSocket upgrade must be done by now.
    Handshake(ConnId, u64),
    /// A silent `handshake_first: auto` client gets the INFO in the clear now.
    Fallback(ConnId, u64),
    /// The client must have logged in by now (Go's `authTimeout`).
    Auth(ConnId, u64),
    /// Its user JWT runs out now.
    Expiry(ConnId, u64),
    /// A server PING may be due (Go's `ping_interval` timer per client).
    Ping(ConnId, u64),
    /// A JetStream deadline on the host may be due: a pull request's expiry, an ack wait.
    JetStream,
}

impl Timer {
    /// The connection it is for, and that connection's unique id.
    fn conn(self) -> Option<(ConnId, u64)> {
        match self {
            Timer::Handshake(id, cid)
            | Timer::Fallback(id, cid)
            | Timer::Auth(id, cid)
            | Timer::Expiry(id, cid)
            | Timer::Ping(id, cid) => Some((id, cid)),
            Timer::JetStream => None,
        }
    }
}

/// The connections, what the reactor must do for them this turn, and their timers.
pub struct Clients {
    pub conns: ConnTable,
    /// Connections with output queued this turn.
    pub(super) dirty: Vec<ConnId>,
    /// Connections that started closing; the reactor tears their sockets down.
    pub(super) closed: Vec<ConnId>,
    /// Leaf nodes from the WebSocket port; the reactor lets go of their sockets.
    pub(super) handovers: Vec<ConnId>,
    pub(super) timers: TimerWheel<Timer>,
    /// Timers that fired this turn, reused.
    due: Vec<Timer>,
    pub(super) closed_log: ClosedLog,
    pub(super) next_seq: u64,
    /// Protocol bytes a transport decoded, reused.
    pub(super) decoded: Vec<u8>,
}

impl Clients {
    pub(super) fn new(shards: usize, now: Instant) -> Clients {
        Clients {
            conns: ConnTable::default(),
            dirty: Vec::new(),
            closed: Vec::new(),
            handovers: Vec::new(),
            timers: TimerWheel::new(now),
            due: Vec::new(),
            closed_log: ClosedLog::new(shards),
            next_seq: 0,
            decoded: Vec::new(),
        }
    }
}

impl Shard {
    /// Fires the connection timers due by `now`.
    pub fn on_timers(&mut self, now: Instant) {
        let mut due = std::mem::take(&mut self.clients.due);
        self.clients.timers.expire(now, &mut due);
        for timer in due.drain(..) {
            let Some((id, cid)) = timer.conn() else {
                self.jetstream_timer();
                continue;
            };
            if self
                .clients
                .conns
                .get(id)
                .is_none_or(|c| c.cid != cid || c.closing.is_some())
            {
                continue;
            }
            match timer {
                Timer::Handshake(..) => self.handshake_deadline(id, now),
                Timer::Fallback(..) => self.handshake_fallback(id, now),
                Timer::Auth(..) => self.auth_deadline(id, now),
                Timer::Expiry(..) => self.login_expired(id, now),
                Timer::Ping(..) => self.ping_timer(id, now),
                // `conn` has none: taken above.
                Timer::JetStream => {}
            }
        }
        self.clients.due = due;
    }

    /// A client still not logged in when its auth timer runs out is closed. The timer
    /// started at its accept; a TLS client's starts again when its handshake is done (Go
    /// starts it after `doTLSHandshake`), so an early firing re-arms it.
    fn auth_deadline(&mut self, id: ConnId, now: Instant) {
        let c = &self.clients.conns[id];
        if !c.auth_pending {
            return;
        }
        let due = c.auth_from + self.server.auth_for(c.websocket).timeout();
        if now < due {
            let timer = Timer::Auth(id, c.cid);
            self.clients.timers.insert(due, timer);
            return;
        }
        self.send_err(id, "Authentication Timeout");
        self.begin_close(
            id,
            CloseReason::AuthenticationTimeout,
            Closing::AfterFlush,
            true,
        );
    }

    fn login_expired(&mut self, id: ConnId, now: Instant) {
        if self.clients.conns[id].expires.is_some_and(|e| now >= e) {
            self.send_err(id, "User Authentication Expired");
            self.begin_close(
                id,
                CloseReason::AuthenticationExpired,
                Closing::AfterFlush,
                true,
            );
        }
    }

    /// Go's `processPingTimer`: a PING unless the client was heard from within the
    /// interval, and a stale connection once `ping_max` PINGs went unanswered.
    fn ping_timer(&mut self, id: ConnId, now: Instant) {
        let cfg = &self.server.cfg;
        let ping_max = cfg.ping_max;
        let c = &self.clients.conns[id];
        let interval = c.ping_interval(cfg);
        let timer = Timer::Ping(id, c.cid);
        self.clients.timers.insert(now + interval, timer);
        let c = &mut self.clients.conns[id];
        // A client that sent a message or PING recently needs no PING; one that never sent
        // CONNECT has no RTT yet and always gets one. Routes are always pinged, as in Go.
        if c.route.is_none() && c.connect_received && now.duration_since(c.pings.last_in) < interval
        {
            return;
        }
        if c.pings.outstanding + 1 > ping_max {
            log_at!(
                Debug,
                "{} - Stale Client Connection - Closing",
                c.log_prefix()
            );
            self.send_err(id, "Stale Connection");
            self.begin_close(id, CloseReason::StaleConnection, Closing::AfterFlush, true);
        } else {
            c.pings.outstanding += 1;
            c.pings.sent.get_or_insert(now);
            self.send(id, encode::PING);
        }
    }

    /// When the earliest timer is due; the reactor wakes for it.
    pub fn next_timer(&self) -> Option<Instant> {
        self.clients.timers.next_deadline()
    }
}

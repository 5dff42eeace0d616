//! The shard's client connections and their timers.

use std::time::Instant;

use slab::Slab;

use super::snapshot::ClosedLog;
use super::Shard;
use crate::conn::Conn;
use crate::timer_wheel::TimerWheel;

/// Index of a connection in its shard.
pub type ConnId = usize;

/// What a connection timer is for. Each names the connection by slot and client id, so a
/// timer that outlived its connection (the slot taken by another) is told apart and dropped:
/// timers are never cancelled, only found stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Timer {
    /// The TLS handshake or WebSocket upgrade must be done by now.
    Handshake(ConnId, u64),
    /// A silent `handshake_first: auto` client gets the INFO in the clear now.
    Fallback(ConnId, u64),
}

impl Timer {
    fn conn(self) -> (ConnId, u64) {
        match self {
            Timer::Handshake(id, cid) | Timer::Fallback(id, cid) => (id, cid),
        }
    }
}

/// The connections, what the reactor must do for them this turn, and their timers.
pub struct Clients {
    pub conns: Slab<Conn>,
    /// Connections with output queued this turn.
    pub(super) dirty: Vec<ConnId>,
    /// Connections that started closing; the reactor tears their sockets down.
    pub(super) closed: Vec<ConnId>,
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
            conns: Slab::new(),
            dirty: Vec::new(),
            closed: Vec::new(),
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
            let (id, cid) = timer.conn();
            if self.clients.conns.get(id).is_none_or(|c| c.cid != cid) {
                continue;
            }
            match timer {
                Timer::Handshake(..) => self.handshake_deadline(id, now),
                Timer::Fallback(..) => self.handshake_fallback(id, now),
            }
        }
        self.clients.due = due;
    }

    /// When the earliest timer is due; the reactor wakes for it.
    pub fn next_timer(&self) -> Option<Instant> {
        self.clients.timers.next_deadline()
    }
}

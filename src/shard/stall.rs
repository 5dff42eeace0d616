//! Fast-producer stall, the Go server's stall gate (`client.go` `queueOutbound` and
//! `stalledWait`): a consumer whose queue passes 3/4 of `max_pending` makes each local
//! publisher that delivers to it pause before its next message, so a fast publisher is paced
//! to the consumer instead of pushing it past `max_pending` at once.
//!
//! A paused publisher's socket is not read (the reactor cancels its recv), so TCP pushes back
//! on it. The pause ends when the consumer drains below the gate or after `STALL_WAIT`, and a
//! publisher is paused at most `STALL_BUDGET` per read: a consumer that truly stopped reading
//! still reaches `max_pending` and is cut off, and nobody else waits on it. Only the publisher
//! is paused, never the shard. Publishers on other shards are not stalled.

use std::time::{Duration, Instant};

use super::{ConnId, Shard};

/// Longest single pause (`stallClientMinDuration`, 2 ms).
const STALL_WAIT: Duration = Duration::from_millis(2);
/// Most a publisher is paused per read from its socket (`stallTotalAllowed`, 10 ms).
pub(crate) const STALL_BUDGET: Duration = Duration::from_millis(10);

/// A paused publisher: until when, and the consumer it waits for.
#[derive(Debug, Clone, Copy)]
pub struct Stall {
    until: Instant,
    consumer: ConnId,
}

/// The shard's stalled publishers and what the reactor must do about their sockets.
#[derive(Debug, Default)]
pub(super) struct Stalls {
    /// Set by a delivery that found its consumer past the gate; taken by the publisher.
    gate: Option<ConnId>,
    stalled: Vec<ConnId>,
    /// Publishers whose reads the reactor must stop, and those it must resume.
    recv_off: Vec<ConnId>,
    recv_on: Vec<ConnId>,
}

impl Shard {
    /// True when a consumer with `queued` bytes should slow its publishers (3/4 of
    /// `max_pending`, as the Go server).
    fn past_stall_gate(&self, queued: usize) -> bool {
        queued > self.server.cfg.max_pending / 4 * 3
    }

    /// A local delivery queued `queued` bytes for `consumer`.
    pub(super) fn check_stall_gate(&mut self, consumer: ConnId, queued: usize) {
        if self.past_stall_gate(queued) {
            self.stalls.gate = Some(consumer);
        }
    }

    /// After one of `id`'s messages was routed: pauses `id` if a consumer asked for it and
    /// its budget allows. True when paused.
    pub(super) fn stall_publisher(&mut self, id: ConnId) -> bool {
        let Some(consumer) = self.stalls.gate.take() else {
            return false;
        };
        let now = self.now;
        let c = &mut self.conns[id];
        if c.stall_budget.is_zero() || consumer == id {
            return false;
        }
        let wait = STALL_WAIT.min(c.stall_budget);
        c.stall_budget -= wait;
        c.stalls += 1;
        self.stats.stalls += 1;
        c.paused = true;
        c.stall = Some(Stall {
            until: now + wait,
            consumer,
        });
        self.stalls.stalled.push(id);
        self.stalls.recv_off.push(id);
        true
    }

    pub fn has_stalls(&self) -> bool {
        !self.stalls.stalled.is_empty()
    }

    pub fn is_stalled(&self, id: ConnId) -> bool {
        self.conns.get(id).is_some_and(|c| c.stall.is_some())
    }

    /// Lets publishers go whose consumer drained below the gate or went away, or whose wait
    /// ran out, and parses what they sent meanwhile.
    pub fn release_stalls(&mut self, now: Instant) {
        for id in std::mem::take(&mut self.stalls.stalled) {
            let Some(stall) = self.conns.get(id).and_then(|c| c.stall) else {
                continue;
            };
            let drained = self
                .conns
                .get(stall.consumer)
                .is_none_or(|k| k.closing.is_some() || !self.past_stall_gate(k.out.queued()));
            if !drained && now < stall.until && self.conns[id].closing.is_none() {
                self.stalls.stalled.push(id);
                continue;
            }
            self.conns[id].stall = None;
            self.stalls.recv_on.push(id);
            self.resume(id);
        }
    }

    /// Connections whose socket reads the reactor must stop (`off`) and resume (`on`).
    pub fn take_recv_changes(&mut self, off: &mut Vec<ConnId>, on: &mut Vec<ConnId>) {
        off.append(&mut self.stalls.recv_off);
        on.append(&mut self.stalls.recv_on);
    }
}

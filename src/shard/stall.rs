//! Fast-producer stall, the Go server's stall gate (`client.go` `queueOutbound` and
//! `stalledWait`): a consumer whose queue passes 3/4 of `max_pending` makes each publisher
//! that delivers to it pause before its next message, so a fast publisher is paced to the
//! consumer instead of pushing it past `max_pending` at once.
//!
//! A paused publisher's socket is not read (the reactor cancels its recv), so TCP pushes back
//! on it. The pause ends when the consumer drains below the gate or after `STALL_WAIT`, and a
//! publisher is paused at most `STALL_BUDGET` per read: a consumer that truly stopped reading
//! still reaches `max_pending` and is cut off, and nobody else waits on it. Only the publisher
//! is paused, never the shard.
//!
//! A publisher on another shard is paced through the rings: the consumer's shard sends its
//! shard a `Stall` naming it, and until the matching `Unstall` (sent once every consumer
//! that asked has drained below its gate, or gone) each of its reads is followed by a pause
//! of at most `STALL_BUDGET`, as Go pauses a publisher's read loop. Separately, a publisher
//! whose message leaves for a shard that already has `peer_pending_max` bytes on their way
//! to it waits until that shard has taken half of them, however long: that bounds the
//! memory between shards when one falls behind.

use std::time::{Duration, Instant};

use super::{ConnId, Shard};
use crate::fanout::mesh::PEER_PENDING_MAX_BYTES;
use crate::fanout::ShardMsg;

/// One read from a socket (the reactor's `RECV_BUF_SIZE`, Go's largest read buffer): the
/// least `peer_pending_max` can be, and how much of a stash is parsed between pauses.
pub(super) const PACED_CHUNK: usize = 64 * 1024;

/// Longest single pause (`stallClientMinDuration`, 2 ms).
const STALL_WAIT: Duration = Duration::from_millis(2);
/// Most a publisher is paused per read from its socket (`stallTotalAllowed`, 10 ms).
pub(crate) const STALL_BUDGET: Duration = Duration::from_millis(10);

/// What a paused publisher waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StallOn {
    /// A consumer on this shard, past the gate, to drain below it.
    Consumer(ConnId),
    /// Consumers on other shards, to send `Unstall`.
    RemoteConsumer,
    /// The shard whose pending bytes from us passed `peer_pending_max`, to take half.
    Peer(usize),
}

/// A publisher of another shard that one of our consumers asked to pause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RemoteStall {
    consumer: ConnId,
    shard: usize,
    publisher: ConnId,
}

/// A paused publisher: what it waits for, and until when at most (no limit for `Peer`).
#[derive(Debug, Clone, Copy)]
pub struct Stall {
    until: Option<Instant>,
    on: StallOn,
}

/// The shard's stalled publishers and what the reactor must do about their sockets.
#[derive(Debug, Default)]
pub(super) struct Stalls {
    /// Set while routing a message that should pause its publisher; taken by the publisher
    /// (or, for a message from another shard, sent back to it).
    gate: Option<StallOn>,
    stalled: Vec<ConnId>,
    /// Other shards' publishers we sent `Stall`, until their consumers drain.
    remote: Vec<RemoteStall>,
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

    /// A delivery queued `queued` bytes for `consumer`.
    pub(super) fn check_stall_gate(&mut self, consumer: ConnId, queued: usize) {
        if self.past_stall_gate(queued) {
            self.set_gate(StallOn::Consumer(consumer));
        }
    }

    /// A message was staged for `peer`, which now has `pending` bytes on their way to it.
    pub(super) fn check_peer_gate(&mut self, peer: usize, pending: usize) {
        if pending > self.peer_pending_max() {
            self.set_gate(StallOn::Peer(peer));
        }
    }

    /// `PEER_PENDING_MAX_BYTES`, or a quarter of a smaller `max_pending`, but at least one
    /// read.
    fn peer_pending_max(&self) -> usize {
        (self.server.cfg.max_pending / 4).clamp(PACED_CHUNK, PEER_PENDING_MAX_BYTES)
    }

    /// The memory bound wins over a consumer's gate: it is the one that does not time out.
    fn set_gate(&mut self, on: StallOn) {
        if !matches!(self.stalls.gate, Some(StallOn::Peer(_))) {
            self.stalls.gate = Some(on);
        }
    }

    /// Forgets a gate left by routing that no publisher of ours will take.
    pub(super) fn clear_gate(&mut self) {
        self.stalls.gate = None;
    }

    /// The consumer a routed message found past its gate, if any.
    pub(super) fn take_consumer_gate(&mut self) -> Option<ConnId> {
        match self.stalls.gate.take() {
            Some(StallOn::Consumer(c)) => Some(c),
            _ => None,
        }
    }

    /// `consumer` is past its gate with a message from `publisher` of shard `shard`: asks
    /// that shard to pace it, once until it drains.
    pub(super) fn stall_remote_publisher(
        &mut self,
        consumer: ConnId,
        shard: usize,
        publisher: ConnId,
    ) {
        let asked = RemoteStall {
            consumer,
            shard,
            publisher,
        };
        if self.stalls.remote.contains(&asked) {
            return;
        }
        if !self
            .stalls
            .remote
            .iter()
            .any(|r| r.shard == shard && r.publisher == publisher)
        {
            self.peers.stage(shard, ShardMsg::Stall { publisher });
        }
        self.stalls.remote.push(asked);
    }

    /// Sends `Unstall` for the remote publishers none of whose consumers is past its gate
    /// any more.
    fn release_remote_publishers(&mut self) {
        if self.stalls.remote.is_empty() {
            return;
        }
        let (kept, drained): (Vec<RemoteStall>, Vec<RemoteStall>) =
            std::mem::take(&mut self.stalls.remote)
                .into_iter()
                .partition(|r| {
                    self.clients.conns.get(r.consumer).is_some_and(|k| {
                        k.closing.is_none() && self.past_stall_gate(k.pending_bytes())
                    })
                });
        self.stalls.remote = kept;
        let mut sent: Vec<(usize, ConnId)> = Vec::new();
        for r in drained {
            let pair = (r.shard, r.publisher);
            let waits = self
                .stalls
                .remote
                .iter()
                .any(|o| (o.shard, o.publisher) == pair);
            if !waits && !sent.contains(&pair) {
                sent.push(pair);
                self.peers.stage(
                    r.shard,
                    ShardMsg::Unstall {
                        publisher: r.publisher,
                    },
                );
            }
        }
    }

    /// After one of `id`'s messages was routed: pauses `id` if a consumer or a peer asked
    /// for it and its budget allows (a peer's bound ignores the budget). True when paused.
    pub(super) fn stall_publisher(&mut self, id: ConnId) -> bool {
        match self.stalls.gate.take() {
            None => false,
            Some(StallOn::Consumer(c)) if c == id => false,
            Some(on @ StallOn::Peer(_)) => {
                self.pause_publisher(id, on, None);
                true
            }
            Some(on) => self.pause_for_budget(id, on),
        }
    }

    /// Another shard asks to pace `id` (`Stall`) or lets it go (`Unstall`).
    pub(super) fn remote_pressure(&mut self, id: ConnId, on: bool) {
        let Some(c) = self.clients.conns.get_mut(id) else {
            return;
        };
        c.input.remote_pressure = on;
        if on {
            self.pace_remote(id);
        }
    }

    /// Pauses `id` after a read while consumers on other shards are past their gates: up to
    /// `STALL_BUDGET` (Go's `stallTotalAllowed` for one read), or until `Unstall`.
    pub(super) fn pace_remote(&mut self, id: ConnId) {
        let c = &self.clients.conns[id];
        if c.input.remote_pressure && !c.input_held() && c.closing.is_none() {
            let until = self.now + STALL_BUDGET;
            self.pause_publisher(id, StallOn::RemoteConsumer, Some(until));
        }
    }

    fn pause_for_budget(&mut self, id: ConnId, on: StallOn) -> bool {
        let c = &mut self.clients.conns[id];
        if c.input.stall_budget.is_zero() {
            return false;
        }
        let wait = STALL_WAIT.min(c.input.stall_budget);
        c.input.stall_budget -= wait;
        self.pause_publisher(id, on, Some(self.now + wait));
        true
    }

    fn pause_publisher(&mut self, id: ConnId, on: StallOn, until: Option<Instant>) {
        let c = &mut self.clients.conns[id];
        c.stalls += 1;
        self.stats.stalls += 1;
        c.input.stall = Some(Stall { until, on });
        self.stalls.stalled.push(id);
        self.stalls.recv_off.push(id);
    }

    pub fn has_stalls(&self) -> bool {
        !self.stalls.stalled.is_empty()
    }

    pub fn is_stalled(&self, id: ConnId) -> bool {
        self.clients
            .conns
            .get(id)
            .is_some_and(|c| c.input.stall.is_some())
    }

    /// Lets publishers go whose consumer drained below the gate or went away, or whose wait
    /// ran out, and parses what they sent meanwhile.
    pub fn release_stalls(&mut self, now: Instant) {
        self.release_remote_publishers();
        for id in std::mem::take(&mut self.stalls.stalled) {
            let Some(stall) = self.clients.conns.get(id).and_then(|c| c.input.stall) else {
                continue;
            };
            let done = match stall.on {
                StallOn::Consumer(consumer) => self.clients.conns.get(consumer).is_none_or(|k| {
                    k.closing.is_some() || !self.past_stall_gate(k.pending_bytes())
                }),
                StallOn::RemoteConsumer => !self.clients.conns[id].input.remote_pressure,
                StallOn::Peer(peer) => {
                    // Seen afresh, so the stash parsed next is not judged by the old figure.
                    self.peers.peer_pending[peer] = self.peers.mesh.pending(self.id, peer);
                    self.peers.peer_pending[peer] <= self.peer_pending_max() / 2
                }
            };
            let timed_out = stall.until.is_some_and(|u| now >= u);
            if !done && !timed_out && self.clients.conns[id].closing.is_none() {
                self.stalls.stalled.push(id);
                continue;
            }
            self.clients.conns[id].input.stall = None;
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

//! The shard's port to its peers: the other shards today, route and leaf connections
//! later. Messages for a peer are staged during a turn and leave as one batch at its end, in
//! order behind any batch still waiting for room in the ring; what arrives is taken between
//! completions. The weight in flight to each peer is what its publishers' memory bound reads.

use std::collections::VecDeque;
use std::sync::Arc;

use super::Shard;
use crate::fanout::{Batch, Mesh, ShardMsg};

/// What the shard holds for and about its peers.
pub(super) struct PeerPort {
    pub(super) mesh: Arc<Mesh>,
    /// Messages for each peer produced this turn, pushed as one batch at turn end.
    pub(super) staged: Vec<Batch>,
    /// The weight of `staged`, per peer (`ShardMsg::weight`).
    pub(super) staged_bytes: Vec<usize>,
    /// Per peer, the weight it had not taken yet at the end of our last turn.
    pub(super) peer_pending: Vec<usize>,
    /// Batches that found their ring full; always drained before new ones, so a
    /// publisher's order holds.
    overflow: Vec<VecDeque<Batch>>,
    /// An interest change or fence is staged and should be pushed without waiting for turn
    /// end.
    pub(super) interest_staged: bool,
    /// An `Ack` is staged: it promises that deliveries before it are queued, so the reactor
    /// starts their writes before pushing it.
    pub(super) ack_staged: bool,
}

impl PeerPort {
    pub(super) fn new(mesh: Arc<Mesh>) -> PeerPort {
        let n = mesh.shards();
        PeerPort {
            mesh,
            staged: (0..n).map(|_| Vec::new()).collect(),
            staged_bytes: vec![0; n],
            peer_pending: vec![0; n],
            overflow: (0..n).map(|_| VecDeque::new()).collect(),
            interest_staged: false,
            ack_staged: false,
        }
    }

    /// Stages `msg` for `peer`, counting its weight.
    pub(super) fn stage(&mut self, peer: usize, msg: ShardMsg) {
        self.staged_bytes[peer] += msg.weight();
        self.staged[peer].push(msg);
    }
}

impl Shard {
    /// End of a reactor turn: hands this turn's cross-shard messages to the rings (overflow
    /// first, so nothing overtakes) and rings the doorbells of parked receivers.
    pub fn end_turn(&mut self) {
        self.peers.interest_staged = false;
        self.peers.ack_staged = false;
        for dst in 0..self.shards() {
            if dst == self.id {
                continue;
            }
            let staged = std::mem::take(&mut self.peers.staged[dst]);
            if !staged.is_empty() {
                self.peers.overflow[dst].push_back(staged);
            }
            let bytes = std::mem::take(&mut self.peers.staged_bytes[dst]);
            self.peers.peer_pending[dst] = if bytes == 0 {
                self.peers.mesh.pending(self.id, dst)
            } else {
                self.peers.mesh.add_pending(self.id, dst, bytes)
            };
            let mut pushed = false;
            while let Some(batch) = self.peers.overflow[dst].pop_front() {
                match self.peers.mesh.push(self.id, dst, batch) {
                    Ok(()) => pushed = true,
                    Err(batch) => {
                        self.stats.ring_full += 1;
                        self.peers.overflow[dst].push_front(batch);
                        break;
                    }
                }
            }
            if pushed {
                self.peers.mesh.notify(dst);
            }
        }
    }

    /// Whether an `Ack` waits for `end_turn`.
    pub fn has_staged_ack(&self) -> bool {
        self.peers.ack_staged
    }

    /// Whether batches are still waiting for room in a ring.
    pub fn has_overflow(&self) -> bool {
        self.peers.overflow.iter().any(|q| !q.is_empty())
    }

    /// Takes what other shards sent. Returns whether there was anything.
    pub fn poll_mesh(&mut self) -> bool {
        let mut any = false;
        for src in 0..self.shards() {
            if src == self.id {
                continue;
            }
            while let Some(batch) = self.peers.mesh.pop(src, self.id) {
                any = true;
                self.on_batch(src, batch);
            }
        }
        any
    }
}

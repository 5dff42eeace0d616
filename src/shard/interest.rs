//! Interest replication between shards and the PONG barrier.
//!
//! Each shard tells the others when its own count of subscriptions on a (subject, queue)
//! changes in a way that matters to them: plain interest only on 0->1 and 1->0 edges, queue
//! groups on every change (their member count is the weight used to pick a shard), as the
//! Go server's routes do (`updateRouteSubscriptionMap`). Every such change carries a
//! sequence number; receivers acknowledge what they applied. A client's PONG is held until
//! every other shard has acknowledged the changes made before its PING, so that a client's
//! `flush()` after SUB means the subscription is live everywhere.
//!
//! The same acknowledgements order a PING after publishes that crossed shards: such a PING
//! sends a `Fence` down every ring, and since a ring is FIFO and a receiver acknowledges only
//! after handling the whole batch, the acknowledgement means the messages before the fence
//! are in their subscribers' outbound queues. Connections that published nothing across
//! shards never wait for one.

use std::collections::HashMap;

use bytes::Bytes;

use super::delivery::Msg;
use super::{ConnId, Shard};
use crate::accounts::AccountId;
use crate::fanout::{Batch, PeerId, ShardMsg};

/// A peer's interest entry: (peer, weight). Weight is 0 for plain interest.
pub type RemoteEntry = (PeerId, u32);

/// (account, subject, queue group).
pub(crate) type Key = (AccountId, Bytes, Option<Bytes>);

/// Interest bookkeeping; what other shards want lives in each account's `remote` trie.
#[derive(Debug)]
pub struct Interest {
    me: usize,
    /// Our own subscriptions per (account, subject, queue).
    local_counts: HashMap<Key, u32>,
    remote_counts: HashMap<(PeerId, Key), u32>,
    /// Sequence number of our latest interest change or fence.
    seq: u64,
    /// Sequence number of our latest interest change: what a plain PONG waits for.
    interest_seq: u64,
    /// Per shard: our latest change it has applied.
    acked: Vec<u64>,
    /// Connections whose PONG waits for `acked` to reach a sequence number.
    waiters: Vec<(ConnId, u64)>,
    /// Per shard: its latest change we applied and have not acknowledged yet.
    ack_due: Vec<Option<u64>>,
}

impl Interest {
    pub fn new(me: usize, shards: usize) -> Interest {
        Interest {
            me,
            local_counts: HashMap::new(),
            remote_counts: HashMap::new(),
            seq: 0,
            interest_seq: 0,
            acked: vec![0; shards],
            waiters: Vec::new(),
            ack_due: vec![None; shards],
        }
    }

    /// Whether every other shard applied our changes up to `seq`.
    pub fn acked_all(&self, seq: u64) -> bool {
        self.acked
            .iter()
            .enumerate()
            .all(|(s, &a)| s == self.me || a >= seq)
    }

    /// Whether a PONG now would run ahead of interest other shards have not applied.
    pub fn barrier_pending(&self) -> bool {
        !self.acked_all(self.interest_seq)
    }

    /// Our latest interest change.
    pub fn interest_seq(&self) -> u64 {
        self.interest_seq
    }

    /// Every key of `account` some subscription or peer has interest in.
    pub(super) fn keys_in(&self, account: AccountId) -> Vec<Key> {
        let mut keys: Vec<Key> = self
            .local_counts
            .keys()
            .chain(self.remote_counts.keys().map(|(_, k)| k))
            .filter(|k| k.0 == account)
            .cloned()
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    pub fn forget_waiter(&mut self, id: ConnId) {
        self.waiters.retain(|&(w, _)| w != id);
    }
}

impl Shard {
    /// Our subscription count on (account, subject, queue) moved by `delta`; tells the
    /// other shards when it matters to them, and on the cluster shard the routes.
    pub(super) fn local_interest(
        &mut self,
        account: AccountId,
        subject: &Bytes,
        queue: &Option<Bytes>,
        delta: i32,
    ) {
        let key = (account, subject.clone(), queue.clone());
        let count = {
            let c = self.interest.local_counts.entry(key.clone()).or_insert(0);
            *c = c.saturating_add_signed(delta);
            *c
        };
        if count == 0 {
            self.interest.local_counts.remove(&key);
        }
        self.tell_links(&key);
        let edge = queue.is_some() || (delta > 0 && count == 1) || (delta < 0 && count == 0);
        if edge {
            self.stage_interest(key, count, false);
        }
    }

    /// Tells every other shard our count on `key` (or, `routed`, the routes').
    pub(super) fn stage_interest(&mut self, key: Key, count: u32, routed: bool) {
        if self.shards() == 1 {
            return;
        }
        self.interest.seq += 1;
        let seq = self.interest.seq;
        self.interest.interest_seq = seq;
        self.peers.interest_staged = true;
        let (account, subject, queue) = key;
        for dst in 0..self.shards() {
            if dst != self.id {
                self.peers.stage(
                    dst,
                    ShardMsg::Interest {
                        account,
                        subject: subject.clone(),
                        queue: queue.clone(),
                        count,
                        seq,
                        routed,
                    },
                );
            }
        }
    }

    /// The server-wide count of client interest on `key`: ours and every other shard's.
    pub(super) fn server_count(&self, key: &Key) -> u32 {
        let own = self.interest.local_counts.get(key).copied().unwrap_or(0);
        (0..self.shards())
            .filter(|&s| s != self.id)
            .map(|s| {
                self.interest
                    .remote_counts
                    .get(&(PeerId::shard(s), key.clone()))
                    .copied()
                    .unwrap_or(0)
            })
            .fold(own, u32::saturating_add)
    }

    /// Holds `id`'s PONG until the other shards caught up with our interest changes.
    pub(super) fn wait_for_barrier(&mut self, id: ConnId) {
        let seq = self.interest.interest_seq;
        self.wait_for_ack(id, seq);
    }

    /// Holds `id`'s PONG until every other shard has handled what was staged for it so far
    /// (the messages `id` published there, and our interest changes).
    pub(super) fn fence(&mut self, id: ConnId) {
        self.interest.seq += 1;
        let seq = self.interest.seq;
        self.peers.interest_staged = true;
        for dst in 0..self.shards() {
            if dst != self.id {
                self.peers.stage(dst, ShardMsg::Fence { seq });
            }
        }
        self.wait_for_ack(id, seq);
    }

    fn wait_for_ack(&mut self, id: ConnId, seq: u64) {
        self.interest.waiters.push((id, seq));
        self.clients.conns[id].input.barrier = true;
    }

    pub(super) fn on_batch(&mut self, src: usize, batch: Batch) {
        let mut acks_moved = false;
        let mut weight = 0;
        for msg in batch {
            weight += msg.weight();
            match msg {
                ShardMsg::Deliver {
                    account,
                    subject,
                    shown,
                    reply,
                    header_len,
                    data,
                    plain,
                    queues,
                    publisher,
                    to_routes,
                } => {
                    self.stats.remote_received += 1;
                    let mut msg = Msg::remote(&subject, reply.as_deref(), header_len, &data);
                    msg.shown = shown.as_deref();
                    self.clear_gate();
                    self.deliver_remote(account, &mut msg, plain, &queues);
                    if let Some(to) = to_routes {
                        self.forward_to_routes(account, &mut msg, &to);
                    }
                    if let (Some(consumer), Some(p)) = (self.take_consumer_gate(), publisher) {
                        self.stall_remote_publisher(consumer, src, p);
                    }
                }
                ShardMsg::Stall { publisher } => self.remote_pressure(publisher, true),
                ShardMsg::Unstall { publisher } => self.remote_pressure(publisher, false),
                ShardMsg::Interest {
                    account,
                    subject,
                    queue,
                    count,
                    seq,
                    routed,
                } => {
                    let peer = if routed {
                        PeerId::ROUTES
                    } else {
                        PeerId::shard(src)
                    };
                    let key = (account, subject, queue);
                    self.apply_remote_interest(peer, key.clone(), count);
                    if !routed {
                        self.tell_links(&key);
                    }
                    self.interest.ack_due[src] = Some(seq);
                }
                ShardMsg::Fence { seq } => self.interest.ack_due[src] = Some(seq),
                ShardMsg::ClusterChanged => self.send_async_info(),
                ShardMsg::Ack { seq } => {
                    let a = &mut self.interest.acked[src];
                    if seq > *a {
                        *a = seq;
                        acks_moved = true;
                    }
                }
            }
        }
        self.peers.mesh.take_pending(src, self.id, weight);
        if let Some(seq) = self.interest.ack_due[src].take() {
            self.peers.stage(src, ShardMsg::Ack { seq });
            self.peers.ack_staged = true;
        }
        if acks_moved {
            self.release_waiters();
            self.release_held_replies();
        }
    }

    pub(super) fn apply_remote_interest(&mut self, src: PeerId, key: Key, count: u32) {
        let key = (src, key);
        let old = self.interest.remote_counts.remove(&key).unwrap_or(0);
        let (account, subject, queue) = &key.1;
        let weight = |c: u32| if queue.is_some() { c } else { 0 };
        let index = self.index.account(*account);
        if old > 0 {
            index
                .remote
                .remove(subject, queue.as_deref(), &(src, weight(old)));
        }
        let inserted = count > 0
            && index
                .remote
                .insert(subject, queue.as_deref(), (src, weight(count)))
                .is_ok();
        index.cache.invalidate();
        if inserted {
            self.interest.remote_counts.insert(key, count);
        }
    }

    fn release_waiters(&mut self) {
        let mut ready = Vec::new();
        let interest = &mut self.interest;
        let mut i = 0;
        while i < interest.waiters.len() {
            let (id, seq) = interest.waiters[i];
            if interest.acked_all(seq) {
                ready.push(id);
                interest.waiters.swap_remove(i);
            } else {
                i += 1;
            }
        }
        for id in ready {
            if let Some(c) = self.clients.conns.get_mut(id) {
                c.input.barrier = false;
            }
            if self
                .clients
                .conns
                .get(id)
                .is_some_and(|c| c.closing.is_none())
            {
                self.send_pong(id);
                self.resume(id);
            }
        }
    }
}

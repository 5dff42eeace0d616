//! One bounded lock-free ring per ordered shard pair, carrying batches, plus a doorbell per
//! shard that is rung only when that shard is about to park (Seastar's and glommio's scheme).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use bytes::Bytes;

use crate::shard::ConnId;
use crossbeam_queue::ArrayQueue;
use crossbeam_utils::CachePadded;

use crate::accounts::AccountId;

/// Batches a ring holds before the sender spills to its overflow queue (Seastar's
/// `smp_message_queue` holds 128 entries; ours are whole batches).
pub const RING_BATCHES: usize = 256;

/// Most bytes of messages one shard may have on their way to another (in its overflow queue
/// and the ring) before the publishers that feed it are paused; `max_pending / 4` when that
/// is less. This bounds what a shard that falls behind costs in memory, and keeps what is in
/// flight within the quarter of `max_pending` a consumer has between its stall gate and
/// being cut off. The Go server has no such queue (a publisher's goroutine writes into its
/// subscribers' buffers itself), so the value is ours: at 4 MiB a fanout across two shards
/// lost about a tenth of its rate to pauses (`results/README.md`), at 16 MiB none.
pub const PEER_PENDING_MAX_BYTES: usize = 16 * 1024 * 1024;

/// What one shard tells another. The sender is implied by the ring it travels on.
#[derive(Debug, Clone)]
pub enum ShardMsg {
    /// A publish for the receiver's subscribers: re-matched there. `plain` asks for delivery
    /// to its plain subscribers; `queues` names the groups whose pick fell on the receiver.
    Deliver {
        /// The account whose subscribers it is for (imports already applied).
        account: AccountId,
        subject: Bytes,
        /// The subject the MSG line shows, when not `subject` (a JetStream delivery's).
        shown: Option<Bytes>,
        reply: Option<Bytes>,
        header_len: Option<usize>,
        data: Bytes,
        plain: bool,
        queues: Vec<Bytes>,
        /// The publishing connection on the sender, which a consumer past its stall gate
        /// asks the sender to pause.
        publisher: Option<ConnId>,
        /// For the cluster shard: what goes on to the routes.
        to_routes: Option<Box<ToRoutes>>,
    },
    /// A consumer of the sender is past its stall gate with a message `publisher` (one of
    /// the receiver's connections) sent: the receiver paces its reads until `Unstall`.
    Stall { publisher: ConnId },
    /// Every consumer that asked to pause `publisher` drained below its gate or went away.
    Unstall { publisher: ConnId },
    /// The sender's own count of subscriptions on (account, subject, queue) changed: 0/1 for plain
    /// interest (sent only on edges), the member count (the weight) for a queue group.
    Interest {
        account: AccountId,
        subject: Bytes,
        queue: Option<Bytes>,
        count: u32,
        seq: u64,
        /// The routes' interest, which the cluster shard reports for them, rather than the
        /// sender's own.
        routed: bool,
    },
    /// Asks for an `Ack` of `seq` once everything sent before it was handled: the PING of
    /// a connection that published across shards waits for it.
    Fence { seq: u64 },
    /// The sender handled everything the receiver sent up to `seq` (interest changes and
    /// fences).
    Ack { seq: u64 },
    /// The cluster's servers changed: clients that take async INFOs get one.
    ClusterChanged,
}

/// A publish the cluster shard passes on to its routes: to those with plain interest, and
/// to one route per queue group named.
#[derive(Debug, Clone, Default)]
pub struct ToRoutes {
    pub plain: bool,
    pub queues: Vec<Bytes>,
}

impl ShardMsg {
    /// Bytes it holds while between shards, counted against `PEER_PENDING_MAX_BYTES`.
    pub fn weight(&self) -> usize {
        match self {
            ShardMsg::Deliver {
                subject,
                shown,
                reply,
                data,
                ..
            } => {
                std::mem::size_of::<ShardMsg>()
                    + subject.len()
                    + shown.as_ref().map_or(0, Bytes::len)
                    + reply.as_ref().map_or(0, Bytes::len)
                    + data.len()
            }
            _ => 0,
        }
    }
}

pub type Batch = Vec<ShardMsg>;

/// Wakes a parked shard: an eventfd its reactor reads, and the flag saying it is parked.
#[derive(Debug)]
struct Doorbell {
    parked: CachePadded<AtomicBool>,
    eventfd: OwnedFd,
}

#[derive(Debug)]
pub struct Mesh {
    shards: usize,
    rings: Vec<CachePadded<ArrayQueue<Batch>>>,
    /// Per ordered pair, the weight of what the sender handed over and the receiver has not
    /// taken yet (see `PEER_PENDING_MAX_BYTES`). Touched once per batch on each side.
    pending: Vec<CachePadded<AtomicUsize>>,
    doorbells: Vec<Doorbell>,
}

impl Mesh {
    pub fn new(shards: usize) -> std::io::Result<Mesh> {
        let mut doorbells = Vec::with_capacity(shards);
        for _ in 0..shards {
            // SAFETY: plain syscall; the result is checked before use.
            let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            doorbells.push(Doorbell {
                parked: CachePadded::new(AtomicBool::new(false)),
                // SAFETY: `fd` is a fresh descriptor we own.
                eventfd: unsafe { OwnedFd::from_raw_fd(fd) },
            });
        }
        let rings = (0..shards * shards)
            .map(|_| CachePadded::new(ArrayQueue::new(RING_BATCHES)))
            .collect();
        let pending = (0..shards * shards)
            .map(|_| CachePadded::new(AtomicUsize::new(0)))
            .collect();
        Ok(Mesh {
            shards,
            rings,
            pending,
            doorbells,
        })
    }

    pub fn shards(&self) -> usize {
        self.shards
    }

    fn pair(&self, src: usize, dst: usize) -> usize {
        src * self.shards + dst
    }

    fn ring(&self, src: usize, dst: usize) -> &ArrayQueue<Batch> {
        &self.rings[self.pair(src, dst)]
    }

    /// Offers a batch from `src` to `dst`; gives it back when the ring is full.
    pub fn push(&self, src: usize, dst: usize, batch: Batch) -> Result<(), Batch> {
        self.ring(src, dst).push(batch)
    }

    pub fn pop(&self, src: usize, dst: usize) -> Option<Batch> {
        self.ring(src, dst).pop()
    }

    /// `src` handed `bytes` more towards `dst`; returns the total now pending.
    pub fn add_pending(&self, src: usize, dst: usize, bytes: usize) -> usize {
        self.pending[self.pair(src, dst)].fetch_add(bytes, Ordering::Relaxed) + bytes
    }

    /// `dst` took `bytes` of what `src` sent.
    pub fn take_pending(&self, src: usize, dst: usize, bytes: usize) {
        self.pending[self.pair(src, dst)].fetch_sub(bytes, Ordering::Relaxed);
    }

    pub fn pending(&self, src: usize, dst: usize) -> usize {
        self.pending[self.pair(src, dst)].load(Ordering::Relaxed)
    }

    /// Whether anything waits for `dst` on any ring.
    pub fn has_input(&self, dst: usize) -> bool {
        (0..self.shards).any(|src| src != dst && !self.ring(src, dst).is_empty())
    }

    /// Rings `dst`'s doorbell if it is parked. Pairs with `park`: both sides use SeqCst so
    /// that either the sender sees `parked` or the parker sees the pushed batch.
    pub fn notify(&self, dst: usize) {
        let d = &self.doorbells[dst];
        if d.parked.load(Ordering::SeqCst) && d.parked.swap(false, Ordering::SeqCst) {
            self.wake(dst);
        }
    }

    /// Wakes `dst` unconditionally (shutdown).
    pub fn wake(&self, dst: usize) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid u64 to our eventfd. A full counter (EAGAIN)
        // still leaves the eventfd readable, which is all a wake-up needs.
        unsafe {
            libc::write(
                self.doorbells[dst].eventfd.as_raw_fd(),
                (&one as *const u64).cast(),
                8,
            );
        }
    }

    /// Announces that `shard` is about to sleep. Returns false when input arrived meanwhile,
    /// in which case the caller must not sleep.
    pub fn park(&self, shard: usize) -> bool {
        self.doorbells[shard].parked.store(true, Ordering::SeqCst);
        if self.has_input(shard) {
            self.doorbells[shard].parked.store(false, Ordering::SeqCst);
            return false;
        }
        true
    }

    pub fn unpark(&self, shard: usize) {
        self.doorbells[shard].parked.store(false, Ordering::SeqCst);
    }

    pub fn eventfd(&self, shard: usize) -> RawFd {
        self.doorbells[shard].eventfd.as_raw_fd()
    }
}

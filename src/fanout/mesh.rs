//! One bounded lock-free ring per ordered shard pair, carrying batches, plus a doorbell per
//! shard that is rung only when that shard is about to park (Seastar's and glommio's scheme).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use crossbeam_queue::ArrayQueue;
use crossbeam_utils::CachePadded;

use crate::accounts::AccountId;

/// Batches a ring holds before the sender spills to its overflow queue (Seastar's
/// `smp_message_queue` holds 128 entries; ours are whole batches).
pub const RING_BATCHES: usize = 256;

/// What one shard tells another. The sender is implied by the ring it travels on.
#[derive(Debug, Clone)]
pub enum ShardMsg {
    /// A publish for the receiver's subscribers: re-matched there. `plain` asks for delivery
    /// to its plain subscribers; `queues` names the groups whose pick fell on the receiver.
    Deliver {
        /// The account whose subscribers it is for (imports already applied).
        account: AccountId,
        subject: Bytes,
        reply: Option<Bytes>,
        header_len: Option<usize>,
        data: Bytes,
        plain: bool,
        queues: Vec<Bytes>,
    },
    /// The sender's own count of subscriptions on (account, subject, queue) changed: 0/1 for plain
    /// interest (sent only on edges), the member count (the weight) for a queue group.
    Interest {
        account: AccountId,
        subject: Bytes,
        queue: Option<Bytes>,
        count: u32,
        seq: u64,
    },
    /// The sender applied every interest change of the receiver up to `seq`.
    Ack { seq: u64 },
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
        Ok(Mesh {
            shards,
            rings,
            doorbells,
        })
    }

    pub fn shards(&self) -> usize {
        self.shards
    }

    fn ring(&self, src: usize, dst: usize) -> &ArrayQueue<Batch> {
        &self.rings[src * self.shards + dst]
    }

    /// Offers a batch from `src` to `dst`; gives it back when the ring is full.
    pub fn push(&self, src: usize, dst: usize, batch: Batch) -> Result<(), Batch> {
        self.ring(src, dst).push(batch)
    }

    pub fn pop(&self, src: usize, dst: usize) -> Option<Batch> {
        self.ring(src, dst).pop()
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

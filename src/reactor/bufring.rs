//! A provided-buffer ring: buffers the kernel picks from for multishot recv, so that idle
//! connections hold no receive buffer at all.

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::io;
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::types::BufRingEntry;
use io_uring::IoUring;

/// Ring entries must be a page-aligned array.
const PAGE: usize = 4096;

pub struct BufRing {
    entries: *mut BufRingEntry,
    layout: Layout,
    data: Vec<u8>,
    count: u16,
    buf_size: usize,
    tail: u16,
}

impl BufRing {
    /// Registers `count` (a power of two) buffers of `buf_size` bytes under group `bgid`.
    pub fn new(ring: &IoUring, bgid: u16, count: u16, buf_size: usize) -> io::Result<BufRing> {
        assert!(count.is_power_of_two());
        let layout = Layout::from_size_align(
            usize::from(count) * std::mem::size_of::<BufRingEntry>(),
            PAGE,
        )
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        // SAFETY: non-zero size layout.
        let entries = unsafe { alloc_zeroed(layout) } as *mut BufRingEntry;
        if entries.is_null() {
            return Err(io::Error::from(io::ErrorKind::OutOfMemory));
        }
        let mut br = BufRing {
            entries,
            layout,
            data: vec![0; usize::from(count) * buf_size],
            count,
            buf_size,
            tail: 0,
        };
        // SAFETY: the entries array lives as long as `br`, and the reactor drops the ring
        // (ending the registration) before it drops `br`.
        unsafe {
            ring.submitter()
                .register_buf_ring_with_flags(entries as u64, count, bgid, 0)?
        };
        for bid in 0..count {
            br.push(bid);
        }
        br.publish();
        Ok(br)
    }

    fn push(&mut self, bid: u16) {
        let idx = usize::from(self.tail & (self.count - 1));
        // SAFETY: idx < count, inside the entries array.
        let e = unsafe { &mut *self.entries.add(idx) };
        e.set_addr(self.data[usize::from(bid) * self.buf_size..].as_ptr() as u64);
        e.set_len(self.buf_size as u32);
        e.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    fn publish(&self) {
        // SAFETY: the tail lives inside entry 0, which the kernel reads; the store is the
        // release that makes the entries written before it visible.
        unsafe {
            let tail = BufRingEntry::tail(self.entries) as *const AtomicU16;
            (*tail).store(self.tail, Ordering::Release);
        }
    }

    /// The bytes the kernel put into buffer `bid`.
    pub fn get(&self, bid: u16, len: usize) -> &[u8] {
        let start = usize::from(bid) * self.buf_size;
        &self.data[start..start + len]
    }

    /// Gives buffer `bid` back to the kernel.
    pub fn recycle(&mut self, bid: u16) {
        self.push(bid);
        self.publish();
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout. The ring (and with it the kernel's
        // registration) is dropped before us: `Reactor` declares it first.
        unsafe { dealloc(self.entries.cast(), self.layout) };
    }
}

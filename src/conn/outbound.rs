//! Per-connection outbound bytes: small frames coalesced into contiguous buffers, large
//! payloads referenced, and at most one vectored write in flight.
//!
//! Frames appended while a write is in flight go to `pending`; the chunks being written sit
//! frozen in `inflight` so the kernel's iovecs stay valid until the write completes.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;

/// Payloads at least this big are referenced, not copied (async-nats `WRITE_FLATTEN_THRESHOLD`).
pub const FLATTEN_THRESHOLD: usize = 4096;
/// A coalescing buffer stops growing here and a new one is started (nats-server's largest
/// pooled outbound chunk, 64 KiB).
const CHUNK_CAP: usize = 64 * 1024;
/// Most iovecs in one writev (`IOV_MAX`, and nats-server's `nbPoolSizeLarge` batching).
pub const MAX_IOVECS: usize = 1024;
/// Spare coalescing buffers kept per connection for reuse.
const POOL_KEEP: usize = 2;

#[derive(Debug)]
enum Chunk {
    Owned(Vec<u8>),
    Shared(Bytes),
}

impl Chunk {
    fn bytes(&self) -> &[u8] {
        match self {
            Chunk::Owned(v) => v,
            Chunk::Shared(b) => b,
        }
    }
}

#[derive(Debug, Default)]
pub struct Outbound {
    pending: VecDeque<Chunk>,
    inflight: VecDeque<Chunk>,
    /// Bytes of `inflight[0]` already written.
    inflight_off: usize,
    queued: usize,
    iovecs: Vec<libc::iovec>,
    pool: Vec<Vec<u8>>,
    /// When the oldest unfinished write was started; for the write deadline.
    pub write_since: Option<Instant>,
}

impl Outbound {
    /// Bytes accepted but not yet written.
    pub fn queued(&self) -> usize {
        self.queued
    }

    pub fn is_empty(&self) -> bool {
        self.queued == 0
    }

    /// The coalescing buffer at the tail, for writers that format in place.
    pub fn tail(&mut self) -> TailWriter<'_> {
        let need_new = !matches!(self.pending.back(), Some(Chunk::Owned(v)) if v.len() < CHUNK_CAP);
        if need_new {
            let buf = self.pool.pop().unwrap_or_default();
            self.pending.push_back(Chunk::Owned(buf));
        }
        let Some(Chunk::Owned(buf)) = self.pending.back_mut() else {
            unreachable!("tail chunk was just made owned")
        };
        let start = buf.len();
        TailWriter {
            buf,
            start,
            queued: &mut self.queued,
        }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.tail().extend_from_slice(bytes);
    }

    /// Queues a large payload by reference.
    pub fn push_shared(&mut self, bytes: Bytes) {
        self.queued += bytes.len();
        self.pending.push_back(Chunk::Shared(bytes));
    }

    /// Prepares the next write: the iovecs to hand to the kernel, or `None` when there is
    /// nothing to write or a write is already in flight.
    pub fn start_write(&mut self, now: Instant) -> Option<&[libc::iovec]> {
        if !self.inflight.is_empty() || self.pending.is_empty() {
            return None;
        }
        while self.inflight.len() < MAX_IOVECS {
            match self.pending.pop_front() {
                Some(c) => self.inflight.push_back(c),
                None => break,
            }
        }
        self.write_since.get_or_insert(now);
        self.build_iovecs();
        Some(&self.iovecs)
    }

    /// The iovecs to resubmit after a short write.
    pub fn resume_write(&mut self) -> Option<&[libc::iovec]> {
        if self.inflight.is_empty() {
            return None;
        }
        self.build_iovecs();
        Some(&self.iovecs)
    }

    fn build_iovecs(&mut self) {
        self.iovecs.clear();
        for (i, c) in self.inflight.iter().enumerate() {
            let b = c.bytes();
            let off = if i == 0 { self.inflight_off } else { 0 };
            self.iovecs.push(libc::iovec {
                iov_base: b[off..].as_ptr() as *mut libc::c_void,
                iov_len: b.len() - off,
            });
        }
    }

    /// Records that the kernel wrote `n` bytes of the in-flight chunks. Returns true when the
    /// in-flight write is finished (a short write leaves the rest in flight to resume).
    pub fn complete_write(&mut self, mut n: usize) -> bool {
        self.queued -= n;
        while n > 0 {
            let front_left = self.inflight[0].bytes().len() - self.inflight_off;
            if n < front_left {
                self.inflight_off += n;
                break;
            }
            n -= front_left;
            self.inflight_off = 0;
            self.recycle_front();
        }
        // Zero-length chunks at the front are done too.
        while self
            .inflight
            .front()
            .is_some_and(|c| c.bytes().len() == self.inflight_off)
        {
            self.inflight_off = 0;
            self.recycle_front();
        }
        if self.inflight.is_empty() {
            if self.pending.is_empty() {
                self.write_since = None;
            }
            true
        } else {
            false
        }
    }

    fn recycle_front(&mut self) {
        if let Some(Chunk::Owned(mut v)) = self.inflight.pop_front() {
            if self.pool.len() < POOL_KEEP && v.capacity() <= CHUNK_CAP * 2 {
                v.clear();
                self.pool.push(v);
            }
        }
    }

    /// A write is in flight.
    pub fn writing(&self) -> bool {
        !self.inflight.is_empty()
    }

    /// Takes the bytes queued behind the write in flight (all of them when none is).
    pub fn take_pending(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        for c in self.pending.drain(..) {
            out.extend_from_slice(c.bytes());
        }
        self.queued -= out.len();
        out
    }

    /// Takes every queued byte at once, as if one write had sent it all (tests, shutdown).
    pub fn take_all(&mut self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.queued);
        for (i, c) in self.inflight.iter().chain(self.pending.iter()).enumerate() {
            let off = if i == 0 { self.inflight_off } else { 0 };
            out.extend_from_slice(&c.bytes()[off..]);
        }
        self.inflight.clear();
        self.pending.clear();
        self.inflight_off = 0;
        self.queued = 0;
        self.write_since = None;
        out
    }

    /// Drops everything queued, e.g. for a slow consumer that is being cut off.
    pub fn discard(&mut self) {
        self.pending.clear();
        self.queued =
            self.inflight.iter().map(|c| c.bytes().len()).sum::<usize>() - self.inflight_off;
    }
}

/// Appends to the tail coalescing buffer and keeps `queued` in step when dropped.
pub struct TailWriter<'a> {
    buf: &'a mut Vec<u8>,
    start: usize,
    queued: &'a mut usize,
}

impl std::ops::Deref for TailWriter<'_> {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        self.buf
    }
}

impl std::ops::DerefMut for TailWriter<'_> {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        self.buf
    }
}

impl Drop for TailWriter<'_> {
    fn drop(&mut self) {
        *self.queued += self.buf.len() - self.start;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iov_bytes(iovs: &[libc::iovec]) -> Vec<u8> {
        let mut v = Vec::new();
        for iov in iovs {
            // SAFETY: the iovecs point into chunks the Outbound still owns.
            v.extend_from_slice(unsafe {
                std::slice::from_raw_parts(iov.iov_base as *const u8, iov.iov_len)
            });
        }
        v
    }

    #[test]
    fn coalesces_small_and_references_large() {
        let mut o = Outbound::default();
        o.push(b"MSG a 1 2\r\n");
        o.push(b"hi\r\n");
        o.push(b"MSG a 1 5000\r\n");
        o.push_shared(Bytes::from(vec![b'x'; 5000]));
        o.push(b"\r\n");
        assert_eq!(o.queued(), 11 + 4 + 14 + 5000 + 2);
        let iovs = o.start_write(Instant::now()).unwrap();
        assert_eq!(iovs.len(), 3);
        let all = iov_bytes(iovs);
        assert_eq!(all.len(), o.queued());
    }

    #[test]
    fn short_writes_resume_and_appends_wait() {
        let mut o = Outbound::default();
        o.push(b"0123456789");
        o.push_shared(Bytes::from_static(b"abcdefghij"));
        assert!(o.start_write(Instant::now()).is_some());
        o.push(b"later");
        assert!(
            o.start_write(Instant::now()).is_none(),
            "one write in flight"
        );
        assert!(!o.complete_write(12));
        assert_eq!(iov_bytes(o.resume_write().unwrap()), b"cdefghij");
        assert!(o.complete_write(8));
        assert!(o.write_since.is_some(), "more is pending");
        assert_eq!(iov_bytes(o.start_write(Instant::now()).unwrap()), b"later");
        assert!(o.complete_write(5));
        assert!(o.is_empty());
        assert!(o.write_since.is_none());
    }

    #[test]
    fn at_most_max_iovecs() {
        let mut o = Outbound::default();
        for _ in 0..MAX_IOVECS + 10 {
            o.push_shared(Bytes::from_static(b"x"));
        }
        assert_eq!(o.start_write(Instant::now()).unwrap().len(), MAX_IOVECS);
        assert!(o.complete_write(MAX_IOVECS));
        assert_eq!(o.start_write(Instant::now()).unwrap().len(), 10);
    }
}

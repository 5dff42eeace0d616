//! The connection's side of its socket: what to send next and what was written. Plain TCP
//! writes `Outbound`'s chunks as they are; a TLS or WebSocket connection frames them through
//! its `Transport` first. Either way the connection owns every byte until the kernel took
//! it, so `pending_bytes` (what `max_pending` and the stall gate measure) counts framed bytes
//! the same for all three, and the reactor only moves iovecs.

use std::time::Instant;

use super::{CloseReason, Closing, Conn};
use crate::transport::s2::Level;
use crate::transport::Transport;

impl Conn {
    /// Bytes waiting for the socket: protocol output not framed yet, plus framed bytes not
    /// written yet.
    pub fn pending_bytes(&self) -> usize {
        self.out.queued() + self.transport.as_ref().map_or(0, |t| t.buffered())
    }

    /// Nothing is left to write, framed or not.
    pub fn flushed(&self) -> bool {
        self.out.is_empty() && self.transport.as_ref().is_none_or(|t| t.is_empty())
    }

    /// A TLS or WebSocket goodbye (close frame, close_notify) is still to be queued.
    pub fn owes_goodbye(&self) -> bool {
        self.transport.as_ref().is_some_and(|t| t.owes_close())
    }

    /// Queues the transport's goodbyes once a connection closing after a flush has framed all
    /// its protocol output.
    pub fn queue_goodbye(&mut self) {
        if self.closing != Some(Closing::AfterFlush) || !self.out.is_empty() {
            return;
        }
        let reason = self.close_reason.unwrap_or(CloseReason::ServerShutdown);
        if let Some(t) = self.transport.as_mut() {
            t.close(reason);
        }
    }

    /// The next write, when none is in flight: its iovecs, or `None` when there is nothing
    /// to send yet.
    pub fn start_write(&mut self, now: Instant) -> Option<&[libc::iovec]> {
        match self.transport.as_deref_mut() {
            None => self.out.start_write(now),
            Some(t) => {
                frame_output(t, &mut self.out, now);
                t.start_write().map(std::slice::from_ref)
            }
        }
    }

    /// Output from now on is S2-compressed at `level`; what is queued already is written
    /// as it is. A plain connection gets a transport for it; a write it had in flight
    /// finishes as it started.
    pub fn start_compression(&mut self, level: Level, now: Instant) {
        let t = self
            .transport
            .get_or_insert_with(|| Box::new(Transport::plain(now)));
        let queued = self.out.take_pending();
        t.write(&queued);
        t.compress(level);
    }

    /// Records `n` bytes written; true when the write in flight is finished (a short write
    /// leaves the rest for `resume_write`).
    pub fn complete_write(&mut self, n: usize) -> bool {
        let t = match self.transport.as_deref_mut() {
            Some(t) if !self.out.writing() => t,
            _ => return self.out.complete_write(n),
        };
        if !t.complete_write(n) {
            return false;
        }
        if t.is_empty() && self.out.is_empty() {
            self.out.write_since = None;
        }
        true
    }

    /// The rest of a short write.
    pub fn resume_write(&mut self) -> Option<&[libc::iovec]> {
        match self.transport.as_deref_mut() {
            Some(t) if !self.out.writing() => t.start_write().map(std::slice::from_ref),
            _ => self.out.resume_write(),
        }
    }
}

/// Moves queued protocol output into a transport: the INFO in the clear when TLS starts
/// after it, else everything queued, once the transport takes output. The write deadline
/// keeps running while the transport holds bytes, so a stuck TLS or WebSocket client is
/// still cut off.
fn frame_output(t: &mut Transport, out: &mut super::Outbound, now: Instant) {
    if t.wants_plain_info() {
        let info = out.take_all();
        t.write_plain(&info);
    } else if t.accepts_output() {
        if let Some(iovs) = out.start_write(now) {
            let mut n = 0;
            for iov in iovs {
                // SAFETY: the iovecs point into chunks `out` keeps until `complete_write`.
                let bytes =
                    unsafe { std::slice::from_raw_parts(iov.iov_base as *const u8, iov.iov_len) };
                n += bytes.len();
                t.write(bytes);
            }
            out.complete_write(n);
        }
        t.seal();
    }
    if !t.is_empty() {
        out.write_since.get_or_insert(now);
    }
}

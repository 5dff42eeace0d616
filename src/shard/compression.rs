//! Compression on the cluster shard's route and leaf connections: negotiated on the first
//! INFO each side reads, as Go's `negotiateRouteCompression` and
//! `negotiateLeafCompression` do, and re-picked by `s2_auto` as the RTT changes.
//!
//! When both INFOs ask for it, the side that dialed sends its answering INFO in the clear
//! and then compresses, while the side that accepted compresses first and sends its
//! answer compressed; both read compressed bytes from right after the INFO that settled
//! it. Each then waits for the other's answering INFO before going on, so that INFO, not
//! the first one, is what registers the connection.

use std::time::Duration;

use super::{ConnId, Shard};
use crate::cluster::compression::{Compression, Mode};
use crate::conn::CloseReason;
use crate::log_at;
use crate::proto::Stop;

impl Shard {
    /// The peer's first INFO on link `id` says `theirs`: settles the mode this side writes
    /// with (`own_compression`'s pick). True when compression starts: `answer` (given the mode to name) is sent, and
    /// the bytes read after this INFO are compressed. A mode this side does not know gets
    /// Go's error and closes the connection.
    pub(super) fn negotiate_compression(
        &mut self,
        id: ConnId,
        theirs: &str,
        answer: impl FnOnce(&Shard, &str) -> Vec<u8>,
    ) -> Result<bool, Stop> {
        let c = &self.clients.conns[id];
        let Some(link) = c.route.as_ref().filter(|l| l.compression.is_none()) else {
            return Ok(false);
        };
        let solicited = link.solicited;
        let Some(own) = self.own_compression(id).cloned() else {
            return Ok(false);
        };
        let rtt = self.now.saturating_duration_since(c.created);
        let picked = match own.pick(theirs, rtt) {
            Ok(m) => m,
            Err(e) => {
                log_at!(Error, "{} - {e}", c.log_prefix());
                self.route_refuse(id, &e, CloseReason::ProtocolViolation);
                return Err(Stop);
            }
        };
        if let Some(link) = self.clients.conns[id].route.as_mut() {
            link.compression = Some(picked);
        }
        let Some(level) = picked.level() else {
            return Ok(false);
        };
        let line = answer(self, own.answer_name(picked));
        let now = self.now;
        let c = &mut self.clients.conns[id];
        if solicited {
            c.out.push(&line);
            c.start_compression(level, now);
        } else {
            c.start_compression(level, now);
            c.out.push(&line);
        }
        self.mark_dirty(id);
        Ok(true)
    }

    /// Bytes the protocol parser read past the INFO that started compression: they are
    /// the start of the compressed stream.
    pub(super) fn inflate(&mut self, id: ConnId, compressed: &[u8]) {
        let Some(t) = self
            .clients
            .conns
            .get_mut(id)
            .and_then(|c| c.transport.as_deref_mut())
        else {
            return;
        };
        let mut app = Vec::new();
        match t.inflate(compressed, &mut app) {
            Ok(()) if !app.is_empty() => self.route_read(id, &app),
            Ok(()) => {}
            Err(f) => {
                log_at!(Error, "{} - {}", self.clients.conns[id].log_prefix(), f.log);
                self.close_transport(id, f.reason);
            }
        }
    }

    /// This side's `compression` for link `id`: the routes', the leaf node port's, or the
    /// remote's a spoke dialed.
    pub(super) fn own_compression(&self, id: ConnId) -> Option<&Compression> {
        let link = self.clients.conns[id].route.as_ref()?;
        let r = self.routes.as_ref()?;
        if !link.is_leaf() {
            return Some(&r.compression);
        }
        let host = r.leaf.as_ref()?;
        match &link.leaf {
            Some(leaf) if link.solicited => host.remote_compression.get(leaf.remote),
            _ => Some(&host.compression),
        }
    }

    /// A PONG measured the link's RTT: `s2_auto` picks its level again from it.
    pub(super) fn repick_compression(&mut self, id: ConnId, rtt: Duration) {
        let (Some(link), Some(own)) = (
            self.clients.conns[id].route.as_ref(),
            self.own_compression(id),
        ) else {
            return;
        };
        if own.mode != Mode::Auto || link.compression.and_then(Mode::level).is_none() {
            return;
        }
        let picked = own.auto_level(rtt);
        let Some(level) = picked.level().filter(|_| link.compression != Some(picked)) else {
            return;
        };
        let c = &mut self.clients.conns[id];
        if let Some(link) = c.route.as_mut() {
            link.compression = Some(picked);
        }
        if let Some(t) = c.transport.as_deref_mut() {
            t.set_level(level);
        }
    }
}

//! Bytes from a connection's socket on their way to the parser: a plain TCP client's go
//! straight in; a TLS or WebSocket client's are decoded by its transport first, a record at
//! a time, with the handshake's outcomes (a certificate, an upgrade request, a failure, a
//! close_notify) applied between records.

use std::time::Instant;

use super::{ConnId, Shard, Timer};
use crate::conn::CloseReason;
use crate::log_at;
use crate::transport::cert::CertSubject;
use crate::transport::{Failure, NotPinned, Transport};

impl Shard {
    /// Wraps a new connection in its listener's TLS and/or WebSocket layers, if it has any,
    /// and starts their deadlines.
    pub(super) fn wrap(&mut self, id: ConnId, websocket: bool) {
        let wrap = if websocket {
            self.server.ws_wrap.clone()
        } else {
            self.server.client_wrap.clone()
        };
        if let Some(wrap) = wrap {
            self.attach(id, Transport::new(&wrap, self.now));
        }
    }

    /// Gives a connection its transport, with the handshake's deadlines; one that could
    /// not be set up closes the connection.
    pub(super) fn attach(&mut self, id: ConnId, t: Result<Transport, Failure>) {
        match t {
            Ok(t) => {
                let cid = self.clients.conns[id].cid;
                self.clients
                    .timers
                    .insert(t.handshake_deadline, Timer::Handshake(id, cid));
                if let Some(at) = t.fallback_deadline() {
                    self.clients.timers.insert(at, Timer::Fallback(id, cid));
                }
                self.clients.conns[id].transport = Some(Box::new(t));
                self.mark_dirty(id);
            }
            Err(f) => {
                log_at!(Error, "{}", f.log);
                self.close_transport(id, f.reason);
            }
        }
    }

    /// A dialed leaf connection read the hub's INFO: its TLS starts now, before the
    /// CONNECT, which goes out encrypted.
    pub(super) fn start_tls(&mut self, id: ConnId) {
        let now = self.now;
        let c = &mut self.clients.conns[id];
        let Some(t) = c.transport.as_deref_mut() else {
            return;
        };
        t.start_tls(now);
        let (at, cid) = (t.handshake_deadline, c.cid);
        self.clients.timers.insert(at, Timer::Handshake(id, cid));
        self.mark_dirty(id);
    }

    /// Bytes read from a connection's socket.
    pub fn on_received(&mut self, id: ConnId, data: &[u8]) {
        match self.clients.conns.get(id) {
            Some(c) if c.transport.is_some() => {}
            Some(_) => return self.on_read(id, data),
            None => return,
        }
        let mut decoded = std::mem::take(&mut self.clients.decoded);
        let mut rest = data;
        // A TLS record at a time, and nothing once the connection is closing: as in Go, what
        // a client sends after a CONNECT that closes it (or after any close) is never read,
        // so it cannot spoil the answer.
        while !rest.is_empty() {
            let Some(c) = self
                .clients
                .conns
                .get_mut(id)
                .filter(|c| c.closing.is_none())
            else {
                break;
            };
            let Some(t) = c.transport.as_deref_mut() else {
                break;
            };
            let r = t.read(rest, &mut decoded);
            let leaf = t.take_leaf_news();
            let peer_closed = t.peer_closed();
            let secured = t.take_secured();
            // Before the CONNECT it may carry is parsed: cookie credentials.
            if let Some(h) = t.take_handshake() {
                c.handshake = Some(Box::new(h));
            }
            if !t.is_empty() {
                // Handshake records, pongs, the upgrade answer.
                self.mark_dirty(id);
            }
            let open = secured.is_none_or(|s| self.on_secured(id, s));
            if open && !decoded.is_empty() {
                self.on_read(id, &decoded);
            }
            decoded.clear();
            match r {
                Ok(used) => rest = &rest[used..],
                Err(f) => {
                    if f.reason != CloseReason::ClientClosed {
                        if let Some(c) = self.clients.conns.get(id) {
                            log_at!(Error, "{} - {}", c.log_prefix(), f.log);
                        }
                    }
                    self.close_transport(id, f.reason);
                    break;
                }
            }
            if leaf {
                self.leaf_over_websocket(id);
            }
            if peer_closed {
                // Go's read loop takes close_notify as EOF; closing then sends ours before
                // the socket goes, as `tls.Conn.Close` does, which is what a client waiting
                // for it needs.
                self.on_read_closed(id, CloseReason::ClientClosed);
                break;
            }
        }
        self.clients.decoded = decoded;
    }

    /// The TLS handshake just finished: a client certificate `pinned_certs` does not list
    /// ends the connection as Go's `doTLSHandshake` does; otherwise the certificate is kept
    /// for `verify_and_map` and reloads, and the auth timer starts now. False when the
    /// connection was closed.
    fn on_secured(
        &mut self,
        id: ConnId,
        secured: Result<Option<Box<CertSubject>>, NotPinned>,
    ) -> bool {
        match secured {
            Ok(cert) => {
                let now = self.now;
                let c = &mut self.clients.conns[id];
                c.cert = cert;
                c.auth_from = now;
                true
            }
            Err(e) => {
                let prefix = self.clients.conns[id].log_prefix();
                log_at!(Debug, "{prefix} - {}", e.detail);
                log_at!(
                    Error,
                    "{prefix} - TLS handshake error: certificate not pinned"
                );
                self.close_transport(id, CloseReason::TlsHandshakeError);
                false
            }
        }
    }

    /// The TLS handshake or WebSocket upgrade took too long (Go's `tlsTimeout`, the
    /// WebSocket `handshake_timeout`).
    pub(super) fn handshake_deadline(&mut self, id: ConnId, now: Instant) {
        let Some(t) = self.clients.conns[id].transport.as_deref() else {
            return;
        };
        if !t.handshaking() || self.clients.conns[id].closing.is_some() {
            return;
        }
        if now < t.handshake_deadline {
            // `fall_back` gave the handshake its full time again.
            let at = t.handshake_deadline;
            let cid = self.clients.conns[id].cid;
            self.clients.timers.insert(at, Timer::Handshake(id, cid));
            return;
        }
        log_at!(
            Error,
            "{} - TLS handshake timeout",
            self.clients.conns[id].log_prefix()
        );
        self.close_transport(id, CloseReason::TlsHandshakeError);
    }

    /// A `handshake_first: auto` client stayed silent past its fallback delay: it gets the
    /// INFO in the clear (Go's `createClientEx`).
    pub(super) fn handshake_fallback(&mut self, id: ConnId, now: Instant) {
        let Some(t) = self.clients.conns[id].transport.as_deref_mut() else {
            return;
        };
        if t.fallback_deadline().is_some_and(|at| now >= at) {
            t.fall_back(now);
            self.mark_dirty(id);
        }
    }
}

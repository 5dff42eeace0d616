//! A shard's part of a configuration reload (the Go server's `reload.go`): run with the new
//! settings, and close the clients they no longer allow.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::{ConnId, Shard};
use crate::auth::Login;
use crate::conn::{CloseReason, Closing, SubId};
use crate::log_at;
use crate::permissions::{self, ConnPermissions, UserPermissions};
use crate::server::Server;

impl Shard {
    /// Switches to `server`'s settings. A client whose credentials no longer pass gets
    /// `-ERR 'Authorization Violation'` and is closed (`reloadAuthorization`); then, while
    /// `excess` is above zero, clients are closed with `maximum connections exceeded`
    /// (`maxConnOption`); then, if `pinned_certs` changed, clients whose certificate it no
    /// longer lists are closed (`recheckPinnedCerts`).
    pub fn reload(&mut self, server: Arc<Server>, excess: &AtomicUsize) -> ReloadClosed {
        let old_pins = pinned_certs(&self.server);
        self.server = server;
        self.index.set_system(super::system_services(&self.server));
        let repin = pinned_certs(&self.server) != old_pins;
        let max_control_line = self.server.cfg.max_control_line;
        let open = self.open_conns();
        let mut kept = Vec::with_capacity(open.len());
        for id in open {
            self.clients.conns[id]
                .parser
                .set_max_control_line(max_control_line);
            match self.relogin(id) {
                Relogin::Unchanged => {
                    kept.push(id);
                    continue;
                }
                Relogin::As(permissions) => {
                    self.apply_permissions(id, permissions);
                    kept.push(id);
                    continue;
                }
                Relogin::Refused => {}
            }
            let c = &self.clients.conns[id];
            let user = if c.user.is_empty() {
                String::new()
            } else {
                format!(" - User {:?}", c.user)
            };
            log_at!(Error, "{} - authentication error{user}", c.log_prefix());
            self.send_err(id, "Authorization Violation");
            self.begin_close(
                id,
                CloseReason::AuthenticationViolation,
                Closing::AfterFlush,
                true,
            );
        }
        let mut closed = 0;
        for id in kept {
            let taken =
                excess.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
            if taken.is_err() {
                break;
            }
            self.send_err(id, "maximum connections exceeded");
            self.begin_close(id, CloseReason::MaxConnections, Closing::AfterFlush, true);
            closed += 1;
        }
        ReloadClosed {
            max_connections: closed,
            unpinned: if repin { self.close_unpinned() } else { 0 },
        }
    }

    /// Closes the (non-WebSocket) clients whose certificate the new `pinned_certs` does not
    /// list, as a failed handshake and with no `-ERR`, as Go does.
    fn close_unpinned(&mut self) -> usize {
        let pins = pinned_certs(&self.server);
        if pins.is_empty() {
            return 0;
        }
        let refused: Vec<ConnId> = self
            .open_conns()
            .into_iter()
            .filter(|&id| {
                let c = &self.clients.conns[id];
                !c.websocket && !c.cert.as_ref().is_some_and(|k| pins.contains(&k.key_id))
            })
            .collect();
        for &id in &refused {
            self.begin_close(
                id,
                CloseReason::TlsHandshakeError,
                Closing::AfterFlush,
                true,
            );
        }
        refused.len()
    }

    /// A logged-in client's credentials checked against the current settings. One that has
    /// not sent CONNECT yet is checked when it does.
    fn relogin(&self, id: ConnId) -> Relogin {
        let c = &self.clients.conns[id];
        if !self.server.auth_for(c.websocket).required() || c.auth_pending {
            return Relogin::Unchanged;
        }
        match self.authenticate(id, &c.opts.credentials()) {
            // A user moved to another account logs in again, as in Go, where the account's
            // removal or change closes its clients.
            Login::User {
                permissions,
                account,
                ..
            } if account == c.account => Relogin::As(permissions),
            Login::User { .. } | Login::Refused => Relogin::Refused,
        }
    }

    /// Gives a client its user's reloaded permissions and drops the subscriptions they no
    /// longer allow, each with the Go server's `-ERR` (`processSubsOnConfigReload`).
    fn apply_permissions(&mut self, id: ConnId, permissions: Option<Arc<UserPermissions>>) {
        let mut perms = permissions.map(|p| Box::new(ConnPermissions::new(p)));
        let mut subs: Vec<SubId> = self.clients.conns[id].subs.values().copied().collect();
        // In the order they were made, so the -ERRs come in a stable order.
        subs.sort_unstable();
        if let Some(p) = perms.as_mut() {
            for sub_id in subs {
                let sub = &self.index.subs[sub_id];
                if p.can_subscribe(&sub.subject, sub.queue.as_deref()) {
                    continue;
                }
                // Go names the sid too: `... to "bar" (sid "2")`.
                let what = format!(
                    "{} (sid {})",
                    permissions::subscribe_violation(&sub.subject, sub.queue.as_deref()),
                    permissions::go_quote(&sub.sid)
                );
                log_at!(
                    Info,
                    "{} - Removed sub {} for User {:?} - not authorized",
                    self.clients.conns[id].log_prefix(),
                    what.trim_start_matches(permissions::SUBSCRIBE_VIOLATION),
                    self.clients.conns[id].user
                );
                self.send_err(id, &what);
                self.unsubscribe(id, sub_id);
            }
        }
        self.clients.conns[id].perms = perms;
    }
}

/// The client port's `pinned_certs`.
fn pinned_certs(server: &Server) -> std::collections::BTreeSet<String> {
    server
        .cfg
        .tls
        .as_ref()
        .map(|t| t.pinned_certs.clone())
        .unwrap_or_default()
}

/// How many clients a reload closed, and why.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReloadClosed {
    /// Over the new `max_connections`.
    pub max_connections: usize,
    /// Their certificate is not in the new `pinned_certs`.
    pub unpinned: usize,
}

impl std::ops::Add for ReloadClosed {
    type Output = ReloadClosed;

    fn add(self, other: ReloadClosed) -> ReloadClosed {
        ReloadClosed {
            max_connections: self.max_connections + other.max_connections,
            unpinned: self.unpinned + other.unpinned,
        }
    }
}

/// What a reload makes of a logged-in client.
enum Relogin {
    /// Auth is off, or the client has not logged in yet.
    Unchanged,
    /// Still allowed, with these permissions.
    As(Option<Arc<UserPermissions>>),
    Refused,
}

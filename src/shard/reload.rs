//! A shard's part of a configuration reload (the Go server's `reload.go`): run with the new
//! settings, and close the clients they no longer allow.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::{ConnId, Shard};
use crate::auth::Login;
use crate::conn::{CloseReason, Closing};
use crate::log_at;
use crate::server::Server;

impl Shard {
    /// Switches to `server`'s settings. A client whose credentials no longer pass gets
    /// `-ERR 'Authorization Violation'` and is closed (`reloadAuthorization`); then, while
    /// `excess` is above zero, clients are closed with `maximum connections exceeded`
    /// (`maxConnOption`). Returns how many were closed for `max_connections`.
    pub fn reload(&mut self, server: Arc<Server>, excess: &AtomicUsize) -> usize {
        self.server = server;
        let max_control_line = self.server.cfg.max_control_line;
        let open = self.open_conns();
        let mut kept = Vec::with_capacity(open.len());
        for id in open {
            self.conns[id].parser.set_max_control_line(max_control_line);
            if self.still_authorized(id) {
                kept.push(id);
                continue;
            }
            let c = &self.conns[id];
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
        closed
    }

    /// Whether a logged-in client's credentials pass the current settings. One that has not
    /// sent CONNECT yet is checked when it does.
    fn still_authorized(&self, id: ConnId) -> bool {
        let c = &self.conns[id];
        if !self.server.cfg.auth.required() || c.auth_pending {
            return true;
        }
        matches!(
            self.server
                .auth
                .check(&c.opts.credentials(), c.nonce.as_deref()),
            Login::User { .. }
        )
    }
}

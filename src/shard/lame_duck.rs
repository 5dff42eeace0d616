//! A shard's part of lame duck mode (`lameDuckMode` in the Go server's `server.go`): tell its
//! clients, list them for the main thread, and close the ones it names, one batch at a time.

use super::Shard;
use crate::conn::{CloseReason, Closing};
use crate::info::PROTO;
use crate::mailbox::ClientRef;
use crate::proto::encode;

impl Shard {
    /// Sends every client that takes async INFOs the INFO as it is now (the cluster's
    /// client URLs changed), as Go's `sendAsyncInfoToClients`.
    pub(super) fn send_async_info(&mut self) {
        let cluster = self.server.cluster_view.fragment();
        for id in self.open_conns() {
            let c = &mut self.clients.conns[id];
            if c.route.is_some() || c.opts.protocol < i64::from(PROTO) || !c.pings.first_pong_sent {
                continue;
            }
            let info = self.server.info_for(c.websocket).render(
                c.cid,
                &c.peer.ip().to_string(),
                None,
                None,
                &cluster,
            );
            encode::info(&mut c.out.tail(), &info);
            self.mark_dirty(id);
        }
    }

    /// Sends every client that takes async INFOs one with `"ldm":true`, and returns all the
    /// open connections, to be closed gradually.
    pub fn enter_lame_duck(&mut self) -> Vec<ClientRef> {
        self.routes_lame_duck();
        let open = self.open_conns();
        let mut clients = Vec::with_capacity(open.len());
        for id in open {
            let c = &mut self.clients.conns[id];
            if c.route.is_some() {
                continue;
            }
            clients.push(ClientRef {
                shard: self.id,
                id,
                cid: c.cid,
            });
            // Only clients registered for async INFO get it: protocol 1 and past their first
            // PONG (`sendAsyncInfoToClients`).
            if c.opts.protocol >= i64::from(PROTO) && c.pings.first_pong_sent {
                let info = self.server.info_for(c.websocket).render_lame_duck(
                    c.cid,
                    &c.peer.ip().to_string(),
                    &self.server.cluster_view.fragment(),
                );
                encode::info(&mut c.out.tail(), &info);
                self.mark_dirty(id);
            }
        }
        clients
    }

    /// Closes these clients as a shutdown does (output flushed first); ones already gone are
    /// skipped.
    pub fn close_clients(&mut self, clients: &[ClientRef]) {
        for c in clients {
            if self
                .clients
                .conns
                .get(c.id)
                .is_some_and(|conn| conn.cid == c.cid)
            {
                self.begin_close(c.id, CloseReason::ServerShutdown, Closing::AfterFlush, true);
            }
        }
    }
}

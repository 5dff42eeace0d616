//! Leaf nodes on the WebSocket port. The port is a client listener on every shard, while
//! leaf connections live on the cluster shard; so the shard that accepted the socket leaves
//! a `/leafnode` upgrade request unanswered, and once its reactor has let go of the socket
//! (no receive armed, nothing in flight), the connection moves to the cluster shard with its
//! TLS session and the request, which is answered there (Go's WebSocket handler calling
//! `createLeafNode`).

use std::net::SocketAddr;
use std::os::fd::OwnedFd;

use super::{ConnId, Shard};
use crate::conn::{CloseReason, Closing};
use crate::log_at;
use crate::transport::WsLeafRequest;

/// A leaf node's connection on its way to the cluster shard.
#[derive(Debug)]
pub struct WsLeaf {
    pub fd: OwnedFd,
    pub peer: SocketAddr,
    pub request: WsLeafRequest,
}

impl Shard {
    /// A client's WebSocket connection asked for `/leafnode`: without a leaf node port it
    /// is closed, as Go closes it; otherwise the reactor lets go of its socket.
    pub(super) fn leaf_over_websocket(&mut self, id: ConnId) {
        if self.server.cluster_view.leaf_listen().is_none() {
            log_at!(Error, "Not configured to accept leaf node connections");
            self.uncount_client();
            self.begin_close(id, CloseReason::ClientClosed, Closing::Now, false);
            return;
        }
        self.clients.handovers.push(id);
    }

    /// Connections whose socket the reactor is to let go of, since the last call.
    pub fn take_handovers(&mut self, into: &mut Vec<ConnId>) {
        into.append(&mut self.clients.handovers);
    }

    /// The reactor let go of the socket `fd`, and its slot: the connection leaves this
    /// shard, and was never a client (Go counts it as a leaf node only). `None` when it
    /// holds no leaf request; the socket is then closed with `fd`.
    pub fn hand_over(&mut self, id: ConnId, fd: OwnedFd) -> Option<WsLeaf> {
        if !self.clients.conns.contains(id) {
            return None;
        }
        let mut c = self.clients.conns.remove(id);
        self.uncount_client();
        let request = c.transport.as_deref_mut()?.take_leaf_request()?;
        Some(WsLeaf {
            fd,
            peer: c.peer,
            request,
        })
    }

    /// Takes back what accepting a WebSocket connection counted for a client.
    fn uncount_client(&mut self) {
        self.server.remove_connection();
        self.stats.total_connections -= 1;
    }
}

//! WebSocket for client connections (and leaf connections this server dials), sans-IO: the HTTP upgrade checked as the Go server
//! checks it, then frames in and out with its rules and `permessage-deflate`, so the shard's
//! reactor keeps the socket and the NATS protocol inside is the same as over TCP.
//!
//! - `upgrade`: the request checks, origins, extension negotiation, the `101` answer with
//!   the configured extra headers.
//! - `handshake`: `X-Forwarded-For` and credentials from cookies, for the connection.
//! - `frames`: frames to messages and back (tungstenite parses and formats the headers).
//! - `deflate`: per-message compression with flate2.
//! - `dial`: the other side, for a leaf node that dials its hub's WebSocket port.

mod deflate;
mod dial;
mod frames;
mod handshake;
mod upgrade;

use std::time::Duration;

pub use dial::WsDial;
pub use handshake::{CookieNames, Handshake};
pub use upgrade::{check_response_headers, response_headers, Origin, OriginPolicy, UpgradePolicy};

use crate::config::WsAuthConfig;
use frames::Session;

/// Default handshake deadline when `handshake_timeout` is not set: the TLS one, as a
/// client with neither would otherwise hold a slot until its auth timeout.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(2);

/// The `websocket {}` settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WsSettings {
    pub host: Option<String>,
    /// `-1` asks for a random free port.
    pub port: i32,
    pub advertise: Option<String>,
    pub no_tls: bool,
    pub tls: Option<super::tls::TlsSettings>,
    /// Accept `permessage-deflate` when a client offers it.
    pub compression: bool,
    pub same_origin: bool,
    /// `scheme://host[:port]` entries.
    pub allowed_origins: Vec<String>,
    pub handshake_timeout: Option<Duration>,
    /// Credentials for this listener's clients instead of the `authorization` block's.
    pub auth: WsAuthConfig,
    /// Cookies whose values stand in for CONNECT credentials the client leaves out.
    pub cookies: CookieNames,
    /// Extra `name: value` lines of every `101` answer (`headers {}`), in file order.
    pub headers: Vec<(String, String)>,
    /// The server's PING period for this listener's clients instead of `ping_interval`.
    pub ping_interval: Option<Duration>,
}

/// A failed upgrade or a broken stream: what to log, and whether it was the client closing
/// normally.
#[derive(Debug)]
pub struct WsFailure {
    pub reason: String,
    pub closed_by_client: bool,
}

/// Where a WebSocket connection is: its upgrade (`U`: what it keeps meanwhile), framing,
/// or done after a failure.
enum Phase<U> {
    Upgrading(U),
    Open(Box<Session>),
    Done,
}

impl<U> Phase<U> {
    /// A read's outcome: a failure ends the framing for good.
    fn settle(&mut self, r: Result<(), WsFailure>) -> Result<(), WsFailure> {
        if r.is_err() {
            *self = Phase::Done;
        }
        r
    }

    /// Frames read once the upgrade is done.
    fn read_frames(
        &mut self,
        data: &[u8],
        plain: &mut Vec<u8>,
        wire: &mut Vec<u8>,
    ) -> Result<(), WsFailure> {
        let r = match self {
            Phase::Open(session) => session.read(data, plain, wire),
            _ => Ok(()),
        };
        self.settle(r)
    }

    /// Frames protocol output once the upgrade is done.
    fn write(&mut self, plain: &[u8], wire: &mut Vec<u8>) {
        if let Phase::Open(session) = self {
            session.write(plain, wire);
        }
    }
}

type State = Phase<Vec<u8>>;

/// One connection's WebSocket state.
pub struct WsLayer {
    state: State,
    /// What the upgrade request told, until the connection takes it.
    handshake: Option<Handshake>,
    /// Upgrades leaf nodes itself: the cluster shard's connection a leaf request was handed
    /// to. Otherwise such a request is left unanswered and handed over.
    takes_leafs: bool,
    /// A leaf node's upgrade request, unanswered, and whatever came after it, while the
    /// connection waits to be handed to the cluster shard.
    leaf_request: Option<Vec<u8>>,
    /// The leaf request is new: the shard has not been told yet.
    leaf_news: bool,
}

impl std::fmt::Debug for WsLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsLayer")
            .field("open", &matches!(self.state, State::Open(_)))
            .finish()
    }
}

impl Default for WsLayer {
    fn default() -> Self {
        WsLayer {
            state: State::Upgrading(Vec::new()),
            handshake: None,
            takes_leafs: false,
            leaf_request: None,
            leaf_news: false,
        }
    }
}

impl WsLayer {
    /// The layer of a leaf node's connection handed over by the shard that accepted it.
    pub fn for_leaf() -> WsLayer {
        WsLayer {
            takes_leafs: true,
            ..WsLayer::default()
        }
    }

    pub fn upgrading(&self) -> bool {
        matches!(self.state, State::Upgrading(_))
    }

    /// True once, after the read that found a leaf node's upgrade request this layer does
    /// not answer.
    pub fn take_leaf_news(&mut self) -> bool {
        std::mem::take(&mut self.leaf_news)
    }

    /// The leaf node's request and the bytes after it, for the shard that takes it.
    pub fn take_leaf_request(&mut self) -> Option<Vec<u8>> {
        self.leaf_request.take()
    }

    /// What the upgrade request carried for the connection, once.
    pub fn take_handshake(&mut self) -> Option<Handshake> {
        self.handshake.take()
    }

    /// Takes received bytes: the upgrade request first, then frames. Application bytes are
    /// appended to `plain`; the upgrade answer, pongs and close frames to `wire`.
    pub fn read(
        &mut self,
        data: &[u8],
        policy: &UpgradePolicy,
        plain: &mut Vec<u8>,
        wire: &mut Vec<u8>,
    ) -> Result<(), WsFailure> {
        if let Some(request) = &mut self.leaf_request {
            request.extend_from_slice(data);
            return Ok(());
        }
        let r = match &mut self.state {
            State::Upgrading(head) => {
                head.extend_from_slice(data);
                let head = std::mem::take(head);
                let answered = wire.len();
                match upgrade::upgrade(&head, policy, wire) {
                    Ok(None) => {
                        self.state = State::Upgrading(head);
                        Ok(())
                    }
                    Ok(Some(accepted)) if accepted.leaf && !self.takes_leafs => {
                        wire.truncate(answered);
                        self.leaf_request = Some(head);
                        self.leaf_news = true;
                        Ok(())
                    }
                    Ok(Some(accepted)) => {
                        self.handshake = accepted.handshake;
                        self.state = State::Open(Box::new(accepted.session));
                        match &head[accepted.used..] {
                            [] => Ok(()),
                            rest => self.read(rest, policy, plain, wire),
                        }
                    }
                    Err(e) => Err(e),
                }
            }
            _ => return self.state.read_frames(data, plain, wire),
        };
        self.state.settle(r)
    }

    /// Frames protocol output.
    pub fn write(&mut self, plain: &[u8], wire: &mut Vec<u8>) {
        self.state.write(plain, wire);
    }

    /// Queues a close frame with Go's status for `reason` (`wsEnqueueCloseMessage`).
    pub fn close(&mut self, code: u16, reason: &str, wire: &mut Vec<u8>) {
        if let State::Open(_) = self.state {
            frames::close(code, reason, wire);
            self.state = State::Done;
        }
    }
}

#[cfg(test)]
mod tests;

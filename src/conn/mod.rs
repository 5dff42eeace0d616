//! One client connection's protocol state, independent of how its bytes travel.

pub mod outbound;
mod stash;
mod wire;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use serde::Deserialize;

use crate::accounts::{AccountId, GLOBAL};
use crate::auth::UserLimits;
use crate::permissions::ConnPermissions;
use crate::proto::Parser;
pub use outbound::Outbound;
pub use stash::Stash;

crate::shard::table::slot_id!(
    /// A subscription's slot in its shard's table.
    SubId
);

/// Options a client sets with CONNECT. Before CONNECT the Go server assumes
/// `verbose`, `pedantic` and `echo` (`defaultOpts`, `client.go`).
#[derive(Debug, Clone)]
pub struct ClientOpts {
    pub verbose: bool,
    pub pedantic: bool,
    pub echo: bool,
    pub headers: bool,
    pub no_responders: bool,
    pub protocol: i64,
    pub name: String,
    pub lang: String,
    pub version: String,
    /// The credentials it presented, kept to check them again when a reload changes the
    /// configured users or token (`isClientAuthorized` in `reloadAuthorization`).
    pub user: Option<String>,
    pub pass: Option<String>,
    pub auth_token: Option<String>,
    pub nkey: Option<String>,
    pub sig: Option<String>,
}

impl Default for ClientOpts {
    fn default() -> Self {
        ClientOpts {
            verbose: true,
            pedantic: true,
            echo: true,
            headers: false,
            no_responders: false,
            protocol: 0,
            name: String::new(),
            lang: String::new(),
            version: String::new(),
            user: None,
            pass: None,
            auth_token: None,
            nkey: None,
            sig: None,
        }
    }
}

/// CONNECT's JSON. Absent fields keep their current value, as Go's `json.Unmarshal` into the
/// existing options does; a field of the wrong type fails the whole CONNECT.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ConnectMsg {
    pub verbose: Option<bool>,
    pub pedantic: Option<bool>,
    pub echo: Option<bool>,
    pub headers: Option<bool>,
    pub no_responders: Option<bool>,
    pub protocol: Option<i64>,
    pub name: Option<String>,
    pub lang: Option<String>,
    pub version: Option<String>,
    pub tls_required: Option<bool>,
    pub user: Option<String>,
    pub pass: Option<String>,
    pub auth_token: Option<String>,
    pub nkey: Option<String>,
    pub jwt: Option<String>,
    pub sig: Option<String>,
    pub account: Option<String>,
    pub new_account: Option<bool>,
}

impl ConnectMsg {
    /// Parses CONNECT's JSON as Go's `json.Unmarshal` into a struct does: `null` changes
    /// nothing, anything but an object is an error, keys match case-insensitively and a
    /// repeated key's last value wins.
    pub fn parse(json: &[u8]) -> Result<ConnectMsg, serde_json::Error> {
        match serde_json::from_slice(json)? {
            serde_json::Value::Null => Ok(ConnectMsg::default()),
            serde_json::Value::Object(fields) => {
                let folded: serde_json::Map<String, serde_json::Value> = fields
                    .into_iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v))
                    .collect();
                ConnectMsg::deserialize(serde_json::Value::Object(folded))
            }
            _ => Err(serde::de::Error::custom("CONNECT is not a JSON object")),
        }
    }
}

impl ClientOpts {
    pub fn merge(&mut self, m: &ConnectMsg) {
        macro_rules! take {
            ($($f:ident),*) => { $( if let Some(v) = &m.$f { self.$f = v.clone(); } )* };
        }
        take!(
            verbose,
            pedantic,
            echo,
            headers,
            no_responders,
            protocol,
            name,
            lang,
            version
        );
        for (mine, given) in [
            (&mut self.user, &m.user),
            (&mut self.pass, &m.pass),
            (&mut self.auth_token, &m.auth_token),
            (&mut self.nkey, &m.nkey),
            (&mut self.sig, &m.sig),
        ] {
            if given.is_some() {
                mine.clone_from(given);
            }
        }
    }

    /// The credentials as a CONNECT, to check them again.
    pub fn credentials(&self) -> ConnectMsg {
        ConnectMsg {
            user: self.user.clone(),
            pass: self.pass.clone(),
            auth_token: self.auth_token.clone(),
            nkey: self.nkey.clone(),
            sig: self.sig.clone(),
            ..ConnectMsg::default()
        }
    }
}

/// Why a connection ended, with the Go server's wording (`/connz` close reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    ClientClosed,
    ParseError,
    ProtocolViolation,
    BadClientProtocol,
    NoRespondersRequiresHeaders,
    AuthenticationViolation,
    AuthenticationTimeout,
    MaxPayload,
    MaxControlLine,
    MaxConnections,
    SlowConsumerPendingBytes,
    SlowConsumerWriteDeadline,
    StaleConnection,
    ReadError,
    WriteError,
    ServerShutdown,
    TlsHandshakeError,
    /// The user JWT ran out while connected.
    AuthenticationExpired,
    /// Its account already had as many connections as its JWT allows.
    MaxAccountConnections,
    /// A second route to a server already routed to.
    DuplicateRoute,
    /// A client on the route or leaf node port.
    WrongPort,
    /// A gateway on the leaf node port.
    WrongGateway,
    /// A leaf node of this server's own cluster.
    ClusterNamesIdentical,
    /// A leaf node older than `min_version`.
    MinimumVersionRequired,
}

impl CloseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::ClientClosed => "Client Closed",
            CloseReason::ParseError => "Parse Error",
            CloseReason::ProtocolViolation => "Protocol Violation",
            CloseReason::BadClientProtocol => "Bad Client Protocol Version",
            CloseReason::NoRespondersRequiresHeaders => "No Responders Requires Headers",
            CloseReason::AuthenticationViolation => "Authentication Failure",
            CloseReason::AuthenticationTimeout => "Authentication Timeout",
            CloseReason::MaxPayload => "Maximum Message Payload Exceeded",
            CloseReason::MaxControlLine => "Maximum Control Line Exceeded",
            CloseReason::MaxConnections => "Maximum Connections Exceeded",
            CloseReason::SlowConsumerPendingBytes => "Slow Consumer (Pending Bytes)",
            CloseReason::SlowConsumerWriteDeadline => "Slow Consumer (Write Deadline)",
            CloseReason::StaleConnection => "Stale Connection",
            CloseReason::ReadError => "Read Error",
            CloseReason::WriteError => "Write Error",
            CloseReason::ServerShutdown => "Server Shutdown",
            CloseReason::TlsHandshakeError => "TLS Handshake Failure",
            CloseReason::AuthenticationExpired => "Authentication Expired",
            CloseReason::MaxAccountConnections => "Maximum Account Connections Exceeded",
            CloseReason::DuplicateRoute => "Duplicate Route",
            CloseReason::WrongPort => "Incorrect Port",
            CloseReason::WrongGateway => "Wrong Gateway",
            CloseReason::ClusterNamesIdentical => "Cluster Names Identical",
            CloseReason::MinimumVersionRequired => "Minimum Version Required",
        }
    }
}

/// What holds a connection's input back, and the input that waits. The PONG barrier and
/// the producer stall are separate: input flows again only when neither holds it.
#[derive(Debug)]
pub struct InputHold {
    /// Its PONG waits for the other shards to apply its interest (or take its fenced
    /// publishes).
    pub barrier: bool,
    /// Paused by a consumer's stall gate or a peer's bound (see `shard::stall`).
    pub stall: Option<crate::shard::stall::Stall>,
    /// Consumers on other shards asked to pace it (`Stall`, until `Unstall`).
    pub remote_pressure: bool,
    /// Stall time left for the current read.
    pub stall_budget: std::time::Duration,
    /// Published to another shard since its last PING, whose PONG must then wait for a
    /// fence (see `shard::interest`).
    pub published_across: bool,
    /// Input read while held, parsed when it flows again.
    pub stash: Stash,
    /// The peer finished sending while the input was held.
    pub eof: bool,
}

impl Default for InputHold {
    fn default() -> Self {
        InputHold {
            barrier: false,
            stall: None,
            remote_pressure: false,
            stall_budget: crate::shard::stall::STALL_BUDGET,
            published_across: false,
            stash: Stash::default(),
            eof: false,
        }
    }
}

/// Keepalive state: server PINGs unanswered, and the round trip the last PONG measured.
#[derive(Debug)]
pub struct PingState {
    pub outstanding: u32,
    /// When the outstanding server PING went out; its PONG gives `rtt`.
    pub sent: Option<Instant>,
    pub rtt: Option<std::time::Duration>,
    /// Last inbound message or PING, which makes a server PING unnecessary.
    pub last_in: Instant,
    /// The first PONG went out: async INFOs may follow (protocol 1).
    pub first_pong_sent: bool,
}

impl PingState {
    fn new(now: Instant) -> PingState {
        PingState {
            outstanding: 0,
            sent: None,
            rtt: None,
            last_in: now,
            first_pong_sent: false,
        }
    }
}

/// How a closing connection leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closing {
    /// Write what is queued (e.g. the final `-ERR`), then close.
    AfterFlush,
    /// Close now, dropping what is queued (slow consumers, as the Go server's `skipFlushOnClose`).
    Now,
}

#[derive(Debug)]
pub struct Conn {
    pub cid: u64,
    pub peer: SocketAddr,
    pub parser: Parser,
    pub out: Outbound,
    pub opts: ClientOpts,
    pub connect_received: bool,
    /// Auth is required and this client has not logged in yet.
    pub auth_pending: bool,
    /// The user it logged in as.
    pub user: String,
    /// The account it is in: whose subjects it publishes and subscribes to.
    pub account: AccountId,
    /// Its user JWT's limits, within the server's.
    pub limits: UserLimits,
    /// When its login runs out (user JWT expiry).
    pub expires: Option<Instant>,
    /// Counted in its account's connection limit, to be uncounted when it closes.
    pub in_account_limit: bool,
    /// The challenge its INFO carried, when nkey users exist.
    pub nonce: Option<String>,
    /// Its user's permissions; `None` when the user may do anything, which keeps permission
    /// checks off the message path.
    pub perms: Option<Box<ConnPermissions>>,
    pub created: Instant,
    pub subs: HashMap<Bytes, SubId>,
    pub closing: Option<Closing>,
    /// Whether its input is held back, and what waits.
    pub input: InputHold,
    /// PINGs and PONGs: keepalive and round-trip time.
    pub pings: PingState,
    /// Came in on the WebSocket listener: its INFOs name that listener.
    pub websocket: bool,
    /// What its WebSocket upgrade request carried: a forwarded-for address, cookie
    /// credentials.
    pub handshake: Option<Box<crate::transport::ws::Handshake>>,
    /// TLS and/or WebSocket framing between `out` and the socket; `None` for plain TCP.
    pub transport: Option<Box<crate::transport::Transport>>,
    /// Why it is closing; a WebSocket client's close frame carries it.
    pub close_reason: Option<CloseReason>,
    /// Already listed among the shard's connections with output to flush this turn.
    pub dirty: bool,
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
    /// Times this publisher was paused for a slow consumer.
    pub stalls: u64,
    /// The TLS client certificate's names and key id, for `verify_and_map` and for
    /// re-checking `pinned_certs` on reload.
    pub cert: Option<Box<crate::transport::cert::CertSubject>>,
    /// Since when the client has had to send CONNECT: its accept, or for TLS the end of the
    /// handshake (Go starts the auth timer after it, `createClientEx`).
    pub auth_from: Instant,
    /// A route to another server rather than a client (on the cluster shard only).
    pub route: Option<Box<crate::shard::RouteLink>>,
}

impl Conn {
    pub fn new(
        cid: u64,
        peer: SocketAddr,
        max_control_line: usize,
        now: Instant,
        auth_pending: bool,
    ) -> Conn {
        Conn {
            cid,
            peer,
            parser: Parser::new(max_control_line),
            out: Outbound::default(),
            opts: ClientOpts::default(),
            connect_received: false,
            auth_pending,
            user: String::new(),
            account: GLOBAL,
            limits: UserLimits::default(),
            expires: None,
            in_account_limit: false,
            nonce: None,
            perms: None,
            created: now,
            subs: HashMap::new(),
            closing: None,
            input: InputHold::default(),
            pings: PingState::new(now),
            websocket: false,
            handshake: None,
            transport: None,
            close_reason: None,
            dirty: false,
            in_msgs: 0,
            in_bytes: 0,
            out_msgs: 0,
            out_bytes: 0,
            stalls: 0,
            cert: None,
            auth_from: now,
            route: None,
        }
    }

    /// How often the server PINGs it: `ping_interval` (the WebSocket block's for a
    /// WebSocket client), at most every 30 s for a route (Go's `adjustPingInterval`).
    pub fn ping_interval(&self, cfg: &crate::config::Config) -> std::time::Duration {
        let interval = cfg.ping_interval_for(self.websocket);
        if self.route.is_some() {
            interval.min(crate::cluster::settings::ROUTE_MAX_PING_INTERVAL)
        } else {
            interval
        }
    }

    /// Input is held back, by the PONG barrier or a stall, and waits in `stash`.
    pub fn input_held(&self) -> bool {
        self.input.barrier || self.input.stall.is_some()
    }

    /// The Go server's log prefix for a client: `127.0.0.1:5678 - cid:9`; a WebSocket
    /// client is a `wid`, named `1.2.3.4/127.0.0.1:5678` when a proxy forwarded for 1.2.3.4.
    pub fn log_prefix(&self) -> String {
        match &self.route {
            Some(l) if l.is_leaf() => return format!("{} - lid:{}", self.peer, self.cid),
            Some(_) => return format!("{} - rid:{}", self.peer, self.cid),
            None => {}
        }
        if !self.websocket {
            return format!("{} - cid:{}", self.peer, self.cid);
        }
        match self.handshake.as_ref().and_then(|h| h.client_ip) {
            Some(ip) => format!("{ip}/{} - wid:{}", self.peer, self.cid),
            None => format!("{} - wid:{}", self.peer, self.cid),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::ws::Handshake;

    #[test]
    fn log_prefixes_as_go() {
        let now = Instant::now();
        let mut c = Conn::new(9, "127.0.0.1:5678".parse().unwrap(), 4096, now, false);
        assert_eq!(c.log_prefix(), "127.0.0.1:5678 - cid:9");
        c.websocket = true;
        assert_eq!(c.log_prefix(), "127.0.0.1:5678 - wid:9");
        c.handshake = Some(Box::new(Handshake {
            client_ip: Some("1.2.3.4".parse().unwrap()),
            ..Handshake::default()
        }));
        assert_eq!(c.log_prefix(), "1.2.3.4/127.0.0.1:5678 - wid:9");
    }
}

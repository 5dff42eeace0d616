//! The JSON the system account carries, with the Go server's field names and order
//! (`events.go`: `ServerInfo`, `ClientInfo`, `ConnectEventMsg`, `DisconnectEventMsg`,
//! `AccountNumConns`, `ServerAPIResponse`, `UserInfo`).

use std::time::SystemTime;

use serde::Serialize;

use crate::info::GO_SERVER_VERSION;
use crate::server::Server;
use crate::timefmt::rfc3339_nano;

pub(crate) const CONNECT_TYPE: &str = "io.nats.server.advisory.v1.client_connect";
pub(crate) const DISCONNECT_TYPE: &str = "io.nats.server.advisory.v1.client_disconnect";
pub(crate) const ACCOUNT_CONNECTIONS_TYPE: &str = "io.nats.server.advisory.v1.account_connections";

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Who sent an event or answer, stamped with the server's next sequence number.
#[derive(Debug, Serialize)]
pub(crate) struct ServerInfo {
    name: String,
    host: String,
    id: String,
    ver: &'static str,
    jetstream: bool,
    flags: u64,
    seq: u64,
    time: String,
}

impl ServerInfo {
    pub fn of(server: &Server) -> ServerInfo {
        ServerInfo {
            name: server.name().to_string(),
            host: server.cfg.host.clone(),
            id: server.server_id.clone(),
            ver: GO_SERVER_VERSION,
            jetstream: server.cfg.jetstream,
            flags: 0,
            seq: server.system.next_seq(),
            time: rfc3339_nano(SystemTime::now()),
        }
    }
}

/// The `server_name`/`host`/`id` triple `IDZ` answers with (`ServerID`).
#[derive(Debug, Serialize)]
pub(crate) struct ServerId<'a> {
    pub name: &'a str,
    pub host: &'a str,
    pub id: &'a str,
}

/// A client as events describe it; empty fields are left out, as Go's `omitempty` does.
#[derive(Debug, Default, Serialize)]
pub(crate) struct ClientInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub host: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub id: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub acc: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub lang: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ver: String,
    /// Nanoseconds.
    #[serde(skip_serializing_if = "is_zero")]
    pub rtt: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name_tag: String,
    pub kind: &'static str,
    pub client_type: &'static str,
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct MsgBytes {
    pub msgs: u64,
    pub bytes: u64,
}

/// What every event starts with (Go's embedded `TypedEvent`, then the event's `server`).
#[derive(Debug, Serialize)]
pub(crate) struct EventHead {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    timestamp: String,
    server: ServerInfo,
}

impl EventHead {
    /// A fresh event of `kind` sent by `server`, stamped `timestamp`.
    pub fn new(kind: &'static str, timestamp: String, server: &Server) -> EventHead {
        EventHead {
            kind,
            id: super::event_id(),
            timestamp,
            server: ServerInfo::of(server),
        }
    }
}

/// `$SYS.ACCOUNT.<acc>.CONNECT`.
#[derive(Debug, Serialize)]
pub(crate) struct ConnectEvent {
    #[serde(flatten)]
    pub head: EventHead,
    pub client: ClientInfo,
}

/// `$SYS.ACCOUNT.<acc>.DISCONNECT` and `$SYS.SERVER.<id>.CLIENT.AUTH.ERR`. `sent` is what
/// the client sent, `received` what it was sent.
#[derive(Debug, Serialize)]
pub(crate) struct DisconnectEvent {
    #[serde(flatten)]
    pub head: EventHead,
    pub client: ClientInfo,
    pub sent: MsgBytes,
    pub received: MsgBytes,
    pub reason: &'static str,
}

/// `$SYS.ACCOUNT.<acc>.SERVER.CONNS`: an account's statistics (`AccountStat`) as an event.
#[derive(Debug, Serialize)]
pub(crate) struct AccountConnections {
    #[serde(flatten)]
    pub head: EventHead,
    #[serde(flatten)]
    pub stat: serde_json::Map<String, serde_json::Value>,
}

/// A service's answer: its data or an error, under the server that answered.
#[derive(Debug, Serialize)]
pub(crate) struct ApiResponse {
    pub server: ServerInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ApiError {
    pub code: u16,
    pub description: String,
}

/// `STATSZ`'s answer and heartbeat (`ServerStatsMsg`).
#[derive(Debug, Serialize)]
pub(crate) struct StatszMsg {
    pub server: ServerInfo,
    pub statsz: serde_json::Value,
}

/// `$SYS.REQ.USER.INFO`'s data: the requester's user, account and permissions.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct UserInfo {
    pub user: String,
    pub account: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub account_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions: Option<serde_json::Value>,
    /// Nanoseconds until the login expires.
    #[serde(skip_serializing_if = "is_zero")]
    pub expires: u64,
}

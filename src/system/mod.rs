//! The system account (`$SYS`): the server's own events and services over NATS, as the Go
//! server's `events.go` publishes and answers them.
//!
//! Shards publish connection events (`$SYS.ACCOUNT.<acc>.CONNECT`, `DISCONNECT`,
//! `$SYS.SERVER.<id>.CLIENT.AUTH.ERR`) themselves, into the system account, and only when
//! someone there listens. Requests to the server's services (`$SYS.REQ.…`) are taken on the
//! shard where they are published and answered by the `service` thread, which builds the
//! monitoring endpoints' JSON from the shards' snapshots and hands the answer back to that
//! shard to publish. Every account reaches a few of these services through the imports Go
//! gives each account (`$SYS.REQ.USER.INFO`, `$SYS.REQ.ACCOUNT.PING.CONNZ`, ...); they are
//! taken the same way, and answered in the requester's account.
//!
//! # Layout
//! - `request`: what a `$SYS.REQ` subject asks for (sans-IO).
//! - `events`: the JSON of events and of the answers' envelope, with Go's field names.
//! - `service`: the thread that answers requests and sends the `STATSZ` heartbeat.

pub(crate) mod events;
pub(crate) mod request;
pub(crate) mod service;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, OnceLock};

use bytes::Bytes;

use crate::accounts::AccountId;
pub(crate) use request::Ask;

/// The system account's name when no configuration names one (`DEFAULT_SYSTEM_ACCOUNT`).
pub const SYSTEM_ACCOUNT: &str = "$SYS";

/// A request to the server's services, as the shard took it.
#[derive(Debug)]
pub(crate) struct Request {
    /// The shard it was published on; the answer is published there.
    pub shard: usize,
    /// The account the answer is published in: the requester's.
    pub account: AccountId,
    pub ask: Ask,
    /// Where the answer goes; `None` for a `STATSZ` request without one, answered on the
    /// server's broadcast subject.
    pub reply: Option<Bytes>,
    /// The request's JSON options.
    pub body: Bytes,
    /// Who asked; only for `$SYS.REQ.USER.INFO`.
    pub requester: Option<events::UserInfo>,
}

/// What the service thread is asked to do.
#[derive(Debug)]
pub(crate) enum Job {
    Answer(Box<Request>),
    /// An account's connection count changed: publish its `SERVER.CONNS` events.
    AccountConns(AccountId),
    Stop,
}

/// What the shards share with the service thread, kept across reloads.
#[derive(Debug, Default)]
pub struct SystemLink {
    /// The `seq` of the last event or answer this server sent.
    seq: AtomicU64,
    service: OnceLock<mpsc::Sender<Job>>,
}

impl SystemLink {
    pub(crate) fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Hands `job` to the service thread; false when none runs (tests driving shards
    /// without one).
    pub(crate) fn send(&self, job: Job) -> bool {
        self.service.get().is_some_and(|tx| tx.send(job).is_ok())
    }

    pub(crate) fn connect(&self, tx: mpsc::Sender<Job>) {
        let _ = self.service.set(tx);
    }
}

/// JSON as Go's `encoding/json` writes it: compact, with `<`, `>` and `&` escaped (its
/// HTML-safe default) and the two line separators escaped too. Those characters can only
/// occur inside strings, so replacing them keeps the document valid.
pub(crate) fn go_json(v: &impl serde::Serialize) -> Vec<u8> {
    let raw = serde_json::to_vec(v).unwrap_or_default();
    let mut out = Vec::with_capacity(raw.len());
    let text = String::from_utf8_lossy(&raw);
    for ch in text.chars() {
        match ch {
            '<' => out.extend_from_slice(b"\\u003c"),
            '>' => out.extend_from_slice(b"\\u003e"),
            '&' => out.extend_from_slice(b"\\u0026"),
            '\u{2028}' => out.extend_from_slice(b"\\u2028"),
            '\u{2029}' => out.extend_from_slice(b"\\u2029"),
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out
}

/// A fresh event id, 22 base-62 characters as Go's `nuid`.
pub(crate) fn event_id() -> String {
    String::from_utf8_lossy(&crate::accounts::random_token::<EVENT_ID_LEN>()).into_owned()
}

/// Length of an event id (`nuid`'s `totalLen`).
const EVENT_ID_LEN: usize = 22;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_json_escapes_as_go() {
        let v = serde_json::json!({"s": "_INBOX.> <a&b>\u{2028}é"});
        assert_eq!(
            String::from_utf8(go_json(&v)).unwrap(),
            r#"{"s":"_INBOX.\u003e \u003ca\u0026b\u003e\u2028é"}"#
        );
    }

    #[test]
    fn event_ids_are_nuid_shaped() {
        let (a, b) = (event_id(), event_id());
        assert_eq!(a.len(), EVENT_ID_LEN);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }
}

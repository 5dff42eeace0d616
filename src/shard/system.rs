//! The shard's side of the system account: connection events published where the
//! connection lives, requests to the server's services handed to the service thread, and
//! the messages that thread publishes back through the shard.

use std::time::SystemTime;

use bytes::Bytes;

use super::delivery::Msg;
use super::{ConnId, Shard};
use crate::accounts::AccountId;
use crate::conn::{CloseReason, Conn};
use crate::log_at;
use crate::monitor::Clock;
use crate::system::events::{
    ClientInfo, ConnectEvent, DisconnectEvent, EventHead, MsgBytes, UserInfo, CONNECT_TYPE,
    DISCONNECT_TYPE,
};
use crate::system::{go_json, request, Ask, Job, Request};
use crate::timefmt::rfc3339_nano;

/// The user a client presented, as Go's `getRawAuthUser` gives it to events: its nkey, its
/// user name, the user it logged in as (a JWT's key, a certificate's user), or its token.
fn raw_auth_user(c: &Conn) -> String {
    let o = &c.opts;
    o.nkey
        .clone()
        .or_else(|| o.user.clone())
        .or_else(|| (!c.user.is_empty()).then(|| c.user.clone()))
        .or_else(|| o.auth_token.clone())
        .unwrap_or_default()
}

impl Shard {
    /// A message from the server itself (the system account's service), routed as a
    /// publish in `account` with no client behind it.
    pub fn publish_internal(&mut self, account: AccountId, subject: &[u8], data: &[u8]) {
        let mut msg = Msg::local(subject, None, None, data);
        self.publish_in(account, None, &mut msg);
        if self.server.accounts.get(account).shares() {
            self.publish_shared(account, None, &msg);
        }
    }

    /// A publish that reached the system services' subscriptions (`$SYS.REQ.…`): when it
    /// asks one of them (in the system account, or through the imports every account has),
    /// the service thread answers it. Returns whether it was taken, so the requester gets no
    /// "no responders". `from` is the client that published it, none for a request that
    /// came over a route, which `USER.INFO` cannot answer (it has no client to tell of).
    pub(super) fn system_request(
        &mut self,
        account: AccountId,
        from: Option<ConnId>,
        msg: &Msg<'_>,
    ) -> bool {
        let server = self.server.clone();
        let Some(system) = server.accounts.system() else {
            return false;
        };
        let ask = if account == system {
            request::in_system(msg.subject, &server.server_id)
        } else {
            request::imported(msg.subject, server.accounts.name(account))
        };
        let Some(ask) = ask.filter(|a| *a != Ask::UserInfo || from.is_some()) else {
            return false;
        };
        // Only `USER.INFO` answers with who asked; the others need not pay for it.
        let requester = from.filter(|_| ask == Ask::UserInfo).map(|from| {
            let c = &self.clients.conns[from];
            let name = server.accounts.name(c.account).to_string();
            UserInfo {
                user: raw_auth_user(c),
                account: name.clone(),
                account_name: name,
                permissions: c.perms.as_ref().map(|p| p.user().go_json()),
                expires: c.expires.map_or(0, |e| {
                    e.saturating_duration_since(self.now).as_nanos() as u64
                }),
            }
        });
        let body = &msg.data[msg.header_len.unwrap_or(0)..];
        server.system.send(Job::Answer(Box::new(Request {
            shard: self.id,
            account,
            ask,
            reply: msg.reply.map(Bytes::copy_from_slice),
            body: Bytes::copy_from_slice(body),
            requester,
        })))
    }

    /// Publishes `event` in the system account on `subject` if anyone there listens; the
    /// JSON is built only then.
    fn system_event<T: serde::Serialize>(&mut self, subject: &str, event: impl FnOnce(&Self) -> T) {
        let Some(system) = self.server.accounts.system() else {
            return;
        };
        if !self.has_interest(system, subject.as_bytes()) {
            return;
        }
        let payload = go_json(&event(self));
        self.publish_internal(system, subject.as_bytes(), &payload);
    }

    fn client_info(&self, id: ConnId) -> ClientInfo {
        let c = &self.clients.conns[id];
        let acc = self.server.accounts.name(c.account).to_string();
        ClientInfo {
            start: Some(Clock::now().date(c.created)),
            host: c.peer.ip().to_string(),
            id: c.cid,
            acc: acc.clone(),
            user: raw_auth_user(c),
            name: c.opts.name.clone(),
            lang: c.opts.lang.clone(),
            ver: c.opts.version.clone(),
            name_tag: acc,
            kind: "Client",
            client_type: if c.websocket { "websocket" } else { "nats" },
            ..ClientInfo::default()
        }
    }

    /// `$SYS.ACCOUNT.<acc>.CONNECT` for a client that logged in (`accountConnectEvent`),
    /// and its account's connection count for the service thread to publish.
    pub(super) fn connect_event(&mut self, id: ConnId) {
        let account = self.clients.conns[id].account;
        let subject = format!(
            "$SYS.ACCOUNT.{}.CONNECT",
            self.server.accounts.name(account)
        );
        self.system_event(&subject, |s| ConnectEvent {
            head: EventHead::new(CONNECT_TYPE, rfc3339_nano(SystemTime::now()), &s.server),
            client: s.client_info(id),
        });
        self.server.system.send(Job::AccountConns(account));
    }

    /// A client's end as an event: `DisconnectEventMsg` on `subject`.
    fn disconnect(&self, id: ConnId, reason: CloseReason) -> DisconnectEvent {
        let c = &self.clients.conns[id];
        let stop = rfc3339_nano(SystemTime::now());
        let mut client = self.client_info(id);
        client.rtt = c.pings.rtt.map_or(0, |d| d.as_nanos() as u64);
        client.stop = Some(stop.clone());
        DisconnectEvent {
            head: EventHead::new(DISCONNECT_TYPE, stop, &self.server),
            client,
            sent: MsgBytes {
                msgs: c.in_msgs,
                bytes: c.in_bytes,
            },
            received: MsgBytes {
                msgs: c.out_msgs,
                bytes: c.out_bytes,
            },
            reason: reason.as_str(),
        }
    }

    /// `$SYS.ACCOUNT.<acc>.DISCONNECT` for any client that closes, logged in or not
    /// (`accountDisconnectEvent`: a client is in the global account until it logs in).
    pub(super) fn disconnect_event(&mut self, id: ConnId, reason: CloseReason) {
        let account = self.clients.conns[id].account;
        let subject = format!(
            "$SYS.ACCOUNT.{}.DISCONNECT",
            self.server.accounts.name(account)
        );
        self.system_event(&subject, |s| s.disconnect(id, reason));
        if self.clients.conns[id].connect_received {
            self.server.system.send(Job::AccountConns(account));
        }
    }

    /// A refused login, as Go's `authViolation`: the `[ERR]` line naming what the client
    /// presented, the `$SYS.SERVER.<id>.CLIENT.AUTH.ERR` event, then the caller's `-ERR`
    /// and close.
    pub(super) fn auth_violation(&mut self, id: ConnId) {
        let c = &self.clients.conns[id];
        let presented = if let Some(nkey) = &c.opts.nkey {
            format!(" - Nkey {nkey:?}")
        } else if let Some(user) = &c.opts.user {
            format!(" - User {user:?}")
        } else if c.opts.auth_token.is_some() {
            " - Token \"[REDACTED]\"".to_string()
        } else {
            String::new()
        };
        log_at!(
            Error,
            "{} - authentication error{presented}",
            c.log_prefix()
        );
        let subject = format!("$SYS.SERVER.{}.CLIENT.AUTH.ERR", self.server.server_id);
        self.system_event(&subject, |s| {
            s.disconnect(id, CloseReason::AuthenticationViolation)
        });
    }
}

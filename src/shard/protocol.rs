//! What each client operation does, as the Go server's `client.go` does it.

use std::sync::Arc;

use bytes::Bytes;

use super::{ConnId, Shard, Sub, Target, Timer};
use crate::accounts::AccountId;
use crate::auth::{Login, UserLimits};
use crate::conn::{CloseReason, Closing, ConnectMsg};
use crate::jwt::trust::ConnectionType;
use crate::log_at;
use crate::permissions::{self, ConnPermissions, UserPermissions, SYSTEM_QUEUE};
use crate::proto::{encode, Flow, Handler, PubArgs, Publish, Stop};
use crate::subject;

/// Highest client protocol level (`ClientProtoInfo`).
const MAX_CLIENT_PROTO: i64 = 1;

/// A shard seen from one of its connections while that connection's bytes are parsed.
pub(super) struct ConnCtx<'a> {
    pub shard: &'a mut Shard,
    pub id: ConnId,
}

impl ConnCtx<'_> {
    fn ok_if_verbose(&mut self) {
        if self.shard.clients.conns[self.id].opts.verbose {
            self.shard.send(self.id, encode::OK);
        }
    }

    fn fail(&mut self, text: Option<&str>, reason: CloseReason) -> Stop {
        if let Some(text) = text {
            self.shard.send_err(self.id, text);
        }
        self.shard
            .begin_close(self.id, reason, Closing::AfterFlush, true);
        Stop
    }

    /// Records who the client logged in as, in which account, with its user's permissions.
    /// Fails when the account already has as many connections as its JWT allows
    /// (`registerWithAccount`).
    fn log_in(
        &mut self,
        name: String,
        account: AccountId,
        permissions: Option<Arc<UserPermissions>>,
        limits: UserLimits,
    ) -> Result<(), Stop> {
        if let Some(max) = limits.account_connections {
            if !self.shard.server.try_join_account(account, max) {
                return Err(self.fail(
                    Some("maximum account active connections exceeded"),
                    CloseReason::MaxAccountConnections,
                ));
            }
            self.shard.clients.conns[self.id].in_account_limit = true;
        }
        let now = self.shard.now;
        let c = &mut self.shard.clients.conns[self.id];
        c.auth_pending = false;
        c.user = name;
        c.account = account;
        c.limits = limits;
        c.expires = limits.expires_in.map(|d| now + d);
        c.perms = permissions.map(|p| Box::new(ConnPermissions::new(p)));
        if let Some(at) = c.expires {
            let timer = Timer::Expiry(self.id, c.cid);
            self.shard.clients.timers.insert(at, timer);
        }
        Ok(())
    }

    /// Before a client logs in, only CONNECT is allowed; a client may skip it when
    /// `no_auth_user` names a configured user (`parser.go`, the `authSet` check).
    fn logged_in(&mut self) -> Result<(), Stop> {
        if !self.shard.clients.conns[self.id].auth_pending {
            return Ok(());
        }
        let websocket = self.shard.clients.conns[self.id].websocket;
        let auth = self.shard.server.auth_for(websocket);
        if let Some(Login::User {
            name,
            account,
            permissions,
            limits,
        }) = auth.no_auth_login()
        {
            self.log_in(name, account, permissions, limits)?;
            self.shard.clients.conns[self.id].connect_received = true;
            self.shard.connect_event(self.id);
            return Ok(());
        }
        Err(self.auth_violation())
    }

    /// A login refused: logged and announced as Go's `authViolation`, then closed.
    fn auth_violation(&mut self) -> Stop {
        self.shard.auth_violation(self.id);
        self.fail(
            Some("Authorization Violation"),
            CloseReason::AuthenticationViolation,
        )
    }

    /// Why a publish must be dropped, checked in the Go server's order
    /// (`processInboundClientMsg`): a gateway-reply subject, the user's publish permissions,
    /// then a reserved reply.
    fn publish_violation(&mut self, subject: &[u8], reply: Option<&[u8]>) -> Option<String> {
        if permissions::is_reserved_subject(subject) {
            return Some(permissions::publish_violation(subject));
        }
        let now = self.shard.now;
        if let Some(p) = &mut self.shard.clients.conns[self.id].perms {
            if !p.can_publish(subject, now) {
                return Some(permissions::publish_violation(subject));
            }
        }
        reply
            .filter(|r| permissions::is_reserved_reply(r))
            .map(permissions::reply_violation)
    }

    /// Why a subscription must be refused: the user's subscribe permissions, or the server's
    /// own queue group (`processSub`).
    fn subscribe_violation(&mut self, subject: &[u8], queue: Option<&[u8]>) -> Option<String> {
        let allowed = match &mut self.shard.clients.conns[self.id].perms {
            Some(p) => p.can_subscribe(subject, queue),
            None => true,
        };
        (!allowed || queue == Some(SYSTEM_QUEUE))
            .then(|| permissions::subscribe_violation(subject, queue))
    }

    fn trace(&self, op: &str, arg: &[u8]) {
        if crate::log::trace_enabled() {
            let prefix = self.shard.clients.conns[self.id].log_prefix();
            if arg.is_empty() {
                log_at!(Trace, "{prefix} - <<- [{op}]");
            } else {
                log_at!(
                    Trace,
                    "{prefix} - <<- [{op} {}]",
                    String::from_utf8_lossy(arg)
                );
            }
        }
    }
}

/// The smallest RTT reported, so that a measured RTT is never zero (`computeRTT`).
const MIN_RTT: std::time::Duration = std::time::Duration::from_micros(1);

impl Handler for ConnCtx<'_> {
    fn connect(&mut self, json: &[u8]) -> Result<Flow, Stop> {
        self.trace("CONNECT", json);
        let mut msg = match ConnectMsg::parse(json) {
            Ok(m) => m,
            Err(_) => return Err(self.fail(None, CloseReason::ProtocolViolation)),
        };
        if let Some(h) = &self.shard.clients.conns[self.id].handshake {
            h.fill(&mut msg);
        }
        #[cfg(feature = "testkit")]
        if let (Some(armed), Some(name)) = (&self.shard.server.panic_on_connect_name, &msg.name) {
            if armed == name {
                panic!("fault injection: CONNECT from a client named {name}");
            }
        }
        // The first RTT is the time from INFO to CONNECT (`computeRTT(c.start)` in
        // processConnect, before the credentials are checked); later server PINGs refresh it.
        let now = self.shard.now;
        let c = &mut self.shard.clients.conns[self.id];
        if c.pings.rtt.is_none() {
            c.pings.rtt = Some(now.saturating_duration_since(c.created).max(MIN_RTT));
        }
        if self.shard.clients.conns[self.id].auth_pending {
            match self.shard.authenticate(self.id, &msg) {
                Login::User {
                    name,
                    account,
                    permissions,
                    limits,
                } => self.log_in(name, account, permissions, limits)?,
                Login::Refused => {
                    // Go decodes CONNECT into the client's options before checking them, so
                    // the log line and the event name what the client presented.
                    self.shard.clients.conns[self.id].opts.merge(&msg);
                    return Err(self.auth_violation());
                }
            }
        }
        let c = &mut self.shard.clients.conns[self.id];
        c.opts.merge(&msg);
        let first = !std::mem::replace(&mut c.connect_received, true);
        // Naming an account in CONNECT is refused since accounts come from auth
        // (`client.go` processConnect).
        if msg.account.is_some() || msg.new_account == Some(true) {
            return Err(self.fail(
                Some("Authorization Violation"),
                CloseReason::AuthenticationViolation,
            ));
        }
        let (proto, nr, hdrs) = (c.opts.protocol, c.opts.no_responders, c.opts.headers);
        if !(0..=MAX_CLIENT_PROTO).contains(&proto) {
            return Err(self.fail(
                Some("invalid client protocol"),
                CloseReason::BadClientProtocol,
            ));
        }
        if nr && !hdrs {
            return Err(self.fail(
                Some("no responders requires headers support"),
                CloseReason::NoRespondersRequiresHeaders,
            ));
        }
        if first {
            self.shard.connect_event(self.id);
        }
        self.ok_if_verbose();
        Ok(Flow::Continue)
    }

    fn pub_args(&mut self, args: &PubArgs<'_>) -> Result<(), Stop> {
        if crate::log::trace_enabled() {
            // Traced when the control line is read, before any -ERR about it, as Go does.
            let mut line = vec![String::from_utf8_lossy(args.subject)];
            line.extend(args.reply.map(String::from_utf8_lossy));
            line.extend(args.header_len.map(|h| h.to_string().into()));
            line.push(args.total_len.to_string().into());
            let op = if args.header_len.is_some() {
                "HPUB"
            } else {
                "PUB"
            };
            self.trace(op, line.join(" ").as_bytes());
        }
        self.logged_in()?;
        let c = &self.shard.clients.conns[self.id];
        if args.header_len.is_some() && !c.opts.headers {
            return Err(self.fail(None, CloseReason::ProtocolViolation));
        }
        let max_payload = c
            .limits
            .max_payload
            .map_or(self.shard.server.cfg.max_payload, |m| {
                m.min(self.shard.server.cfg.max_payload)
            });
        if args.total_len > max_payload {
            return Err(self.fail(Some("Maximum Payload Violation"), CloseReason::MaxPayload));
        }
        if c.opts.pedantic && !subject::is_valid_literal(args.subject) {
            self.shard.send_err(self.id, "Invalid Publish Subject");
        }
        Ok(())
    }

    fn publish(&mut self, m: Publish<'_>) -> Result<Flow, Stop> {
        if crate::log::trace_enabled() {
            log_at!(
                Trace,
                "{} - <<- MSG_PAYLOAD: [{:?}]",
                self.shard.clients.conns[self.id].log_prefix(),
                String::from_utf8_lossy(m.data)
            );
        }
        let now = self.shard.now;
        let c = &mut self.shard.clients.conns[self.id];
        c.in_msgs += 1;
        c.in_bytes += m.data.len() as u64;
        c.pings.last_in = now;
        if let Some(text) = self.publish_violation(m.subject, m.reply) {
            // Counted as received, then dropped with no +OK; the connection stays.
            self.shard.stats.in_msgs += 1;
            self.shard.stats.in_bytes += m.data.len() as u64;
            self.shard.send_err(self.id, &text);
            return Ok(Flow::Continue);
        }
        self.ok_if_verbose();
        self.shard
            .publish(self.id, m.subject, m.reply, m.header_len, m.data);
        if self.shard.stall_publisher(self.id) {
            return Ok(Flow::Pause);
        }
        Ok(Flow::Continue)
    }

    fn sub(&mut self, subject: &[u8], queue: Option<&[u8]>, sid: &[u8]) -> Result<Flow, Stop> {
        // Joined only when tracing, so an untraced SUB allocates nothing for it.
        if crate::log::trace_enabled() {
            let args = match queue {
                Some(q) => [subject, q, sid].join(&b' '),
                None => [subject, sid].join(&b' '),
            };
            self.trace("SUB", &args);
        }
        self.logged_in()?;
        if let Some(text) = self.subscribe_violation(subject, queue) {
            self.shard.send_err(self.id, &text);
            return Ok(Flow::Continue);
        }
        let shard = &mut *self.shard;
        let c = &shard.clients.conns[self.id];
        let max_subs = match (shard.server.cfg.max_subscriptions, c.limits.max_subs) {
            (0, user) => user,
            (server, user) => Some(user.map_or(server, |u| u.min(server))),
        };
        if max_subs.is_some_and(|m| c.subs.len() >= m) {
            shard.send_err(self.id, "maximum subscriptions exceeded");
            return Ok(Flow::Continue);
        }
        // Re-using a sid keeps the existing subscription (`processSub`).
        if !c.subs.contains_key(sid) {
            let subject = Bytes::copy_from_slice(subject);
            let queue = queue.map(Bytes::copy_from_slice);
            let sid = Bytes::copy_from_slice(sid);
            let account = c.account;
            let sub_id = shard.index.subs.vacant_id();
            let index = shard.index.account(account);
            if index
                .local
                .insert(&subject, queue.as_deref(), Target::Client(sub_id))
                .is_err()
            {
                shard.send_err(self.id, "Invalid Subject");
                return Ok(Flow::Continue);
            }
            index.cache.invalidate();
            shard.index.subs.insert(Sub {
                conn: self.id,
                account,
                subject: subject.clone(),
                queue: queue.clone(),
                sid: sid.clone(),
                max: 0,
                delivered: 0,
            });
            shard.clients.conns[self.id].subs.insert(sid, sub_id);
            shard.stats.sub_inserts += 1;
            shard.local_interest(account, &subject, &queue, 1);
        }
        self.ok_if_verbose();
        Ok(Flow::Continue)
    }

    fn unsub(&mut self, sid: &[u8], max: Option<i64>) -> Result<Flow, Stop> {
        if crate::log::trace_enabled() {
            match max {
                Some(m) => self.trace(
                    "UNSUB",
                    format!("{} {m}", String::from_utf8_lossy(sid)).as_bytes(),
                ),
                None => self.trace("UNSUB", sid),
            }
        }
        self.logged_in()?;
        // +OK goes before the removal, as the Go server's trace shows it (OK, then DELSUB).
        self.ok_if_verbose();
        if let Some(&sub_id) = self.shard.clients.conns[self.id].subs.get(sid) {
            let sub = &mut self.shard.index.subs[sub_id];
            match max {
                Some(m) if m > 0 && m as u64 > sub.delivered => sub.max = m as u64,
                _ => {
                    log_at!(
                        Trace,
                        "{} - <-> [DELSUB {}]",
                        self.shard.clients.conns[self.id].log_prefix(),
                        String::from_utf8_lossy(sid)
                    );
                    self.shard.unsubscribe(self.id, sub_id);
                }
            }
        }
        Ok(Flow::Continue)
    }

    fn ping(&mut self) -> Result<Flow, Stop> {
        self.trace("PING", b"");
        self.logged_in()?;
        let now = self.shard.now;
        self.shard.clients.conns[self.id].pings.last_in = now;
        // What this client published to other shards reaches their subscribers before its
        // PONG does, as one Go server's flush guarantees.
        if std::mem::take(&mut self.shard.clients.conns[self.id].input.published_across) {
            self.shard.fence(self.id);
            return Ok(Flow::Pause);
        }
        if self.shard.interest.barrier_pending() {
            self.shard.wait_for_barrier(self.id);
            return Ok(Flow::Pause);
        }
        self.shard.send_pong(self.id);
        Ok(Flow::Continue)
    }

    fn pong(&mut self) -> Result<Flow, Stop> {
        self.trace("PONG", b"");
        self.logged_in()?;
        let now = self.shard.now;
        let c = &mut self.shard.clients.conns[self.id];
        c.pings.outstanding = 0;
        if let Some(sent) = c.pings.sent.take() {
            c.pings.rtt = Some(now.saturating_duration_since(sent));
        }
        Ok(Flow::Continue)
    }

    fn client_err(&mut self, text: &[u8]) -> Stop {
        self.trace("-ERR", text);
        self.fail(None, CloseReason::ParseError)
    }
}

impl Shard {
    /// Checks a client's credentials against the current settings; on a listener with
    /// `verify_and_map`, its certificate names the user.
    pub(super) fn authenticate(&self, id: ConnId, m: &ConnectMsg) -> Login {
        let c = &self.clients.conns[id];
        let auth = self.server.auth_for(c.websocket);
        if auth.operator_mode() {
            let kind = if c.websocket {
                ConnectionType::Websocket
            } else {
                ConnectionType::Standard
            };
            auth.check_jwt(m, c.nonce.as_deref(), c.peer.ip(), kind)
        } else if self.server.maps_cert_users(c.websocket) {
            auth.check_mapped(m, c.nonce.as_deref(), c.cert.as_deref())
        } else {
            auth.check(m, c.nonce.as_deref())
        }
    }

    /// PONG, and after the first one to a protocol-1 client, the async INFO with
    /// `connect_info` (`processPing`).
    pub(super) fn send_pong(&mut self, id: ConnId) {
        self.send(id, encode::PONG);
        let c = &mut self.clients.conns[id];
        if c.connect_received && !c.pings.first_pong_sent {
            c.pings.first_pong_sent = true;
            if c.opts.protocol >= MAX_CLIENT_PROTO {
                let info = self.server.info_for(c.websocket).render(
                    c.cid,
                    &c.peer.ip().to_string(),
                    Some(self.server.accounts.name(c.account)),
                    None,
                    &self.server.cluster_view.fragment(),
                );
                encode::info(&mut c.out.tail(), &info);
            }
        }
    }
}

//! Delivering a publish: match it (through the account's match cache), hand it to each local
//! target (client subscriptions, internal services), pick queue members across peers by
//! weight, and stage one message per interested peer.

use std::rc::Rc;

use bytes::{BufMut, Bytes, BytesMut};

use super::index::{Destinations, Service, Target};
use super::interest::RemoteEntry;
use super::{ConnId, Shard};
use crate::accounts::{request_info_header, AccountId, REPLY_PREFIX};
use crate::cluster::CLUSTER_SHARD;
use crate::conn::outbound::FLATTEN_THRESHOLD;
use crate::conn::{CloseReason, Closing, Conn, SubId};
use crate::fanout::{PeerId, ShardMsg, ToRoutes};
use crate::log_at;
use crate::proto::encode;

/// Service imports a request may follow in a chain (A imports from B, which imports from
/// C); the bound stops a chain that leads back into itself.
const MAX_IMPORT_HOPS: usize = 8;

/// One message being delivered. The payload is a slice, turned into a shared buffer at most
/// once, when a large payload is first queued by reference.
pub(super) struct Msg<'a> {
    /// What it is routed by.
    pub subject: &'a [u8],
    /// The subject its MSG line shows, when that is not `subject`: a JetStream delivery is
    /// routed by the consumer's deliver subject (or a pull request's reply) and shows the
    /// stored message's subject, as Go's `pa.deliver` does.
    pub shown: Option<&'a [u8]>,
    pub reply: Option<&'a [u8]>,
    pub header_len: Option<usize>,
    pub data: &'a [u8],
    shared: Option<Bytes>,
}

impl<'a> Msg<'a> {
    /// A message published here, its payload still the publisher's slice.
    pub(super) fn local(
        subject: &'a [u8],
        reply: Option<&'a [u8]>,
        header_len: Option<usize>,
        data: &'a [u8],
    ) -> Msg<'a> {
        Msg {
            subject,
            shown: None,
            reply,
            header_len,
            data,
            shared: None,
        }
    }

    /// A message another shard sent, its payload already shared.
    pub(super) fn remote(
        subject: &'a [u8],
        reply: Option<&'a [u8]>,
        header_len: Option<usize>,
        data: &'a Bytes,
    ) -> Msg<'a> {
        Msg {
            shared: Some(data.clone()),
            ..Msg::local(subject, reply, header_len, data)
        }
    }

    /// The same message under another subject and reply, for another account.
    fn retarget<'b>(&self, subject: &'b [u8], reply: Option<&'b [u8]>) -> Msg<'b>
    where
        'a: 'b,
    {
        Msg {
            subject,
            shown: self.shown,
            reply,
            header_len: self.header_len,
            data: self.data,
            shared: self.shared.clone(),
        }
    }

    /// The shared buffer, when one was made already (it crossed the rings in it).
    pub(super) fn shared_made(&self) -> Option<&Bytes> {
        self.shared.as_ref()
    }

    /// The subject its MSG line shows.
    fn shown_subject(&self) -> &'a [u8] {
        self.shown.unwrap_or(self.subject)
    }

    pub(super) fn shared(&mut self) -> &Bytes {
        let data = self.data;
        self.shared
            .get_or_insert_with(|| Bytes::copy_from_slice(data))
    }
}

impl Shard {
    /// What `subject` matches in `account`, through the match cache.
    fn destinations(&mut self, account: AccountId, subject: &[u8]) -> Rc<Destinations> {
        self.stats.matches += 1;
        let index = self.index.account(account);
        // An ack subject names one delivery and never comes again: caching it would only
        // push out the subjects that do.
        let cached = !subject.starts_with(crate::jetstream::ACK_PREFIX.as_bytes());
        if let Some(r) = cached.then(|| index.cache.get(subject)).flatten() {
            self.stats.cache_hits += 1;
            return r;
        }
        let local = index.local.matches(subject);
        let remote = index.remote.matches(subject);
        let mut remote_plain: Vec<PeerId> = remote.plain.iter().map(|&(s, _)| s).collect();
        remote_plain.sort_unstable();
        remote_plain.dedup();
        let r = Rc::new(Destinations {
            local,
            remote_plain,
            remote_queues: remote.queues,
        });
        if cached {
            index.cache.insert(subject, r.clone());
        }
        r
    }

    /// A client of this shard published.
    pub(super) fn publish(
        &mut self,
        from: ConnId,
        subject: &[u8],
        reply: Option<&[u8]>,
        header_len: Option<usize>,
        data: &[u8],
    ) {
        self.stats.in_msgs += 1;
        self.stats.in_bytes += data.len() as u64;
        self.clear_gate();
        let account = self.clients.conns[from].account;
        let mut msg = Msg::local(subject, reply, header_len, data);
        let mut delivered = self.publish_in(account, Some(from), &mut msg);
        if self.server.accounts.get(account).shares() {
            delivered |= self.publish_shared(account, Some(from), &msg);
        }
        if !delivered {
            if let Some(reply) = reply {
                let o = &self.clients.conns[from].opts;
                if o.no_responders && o.headers {
                    self.no_responders(from, subject, reply);
                }
            }
        }
    }

    /// What a publish in `account` means to other accounts: streams they import from it,
    /// services it imports from them, and answers to requests they made through services
    /// it exports (`processInboundClientMsg`, `processServiceImport`). Each is routed in
    /// the other account, once, on this shard. Returns whether anyone may get one.
    pub(super) fn publish_shared(
        &mut self,
        account: AccountId,
        from: Option<ConnId>,
        msg: &Msg<'_>,
    ) -> bool {
        let server = self.server.clone();
        let acc = server.accounts.get(account);
        let mut delivered = false;
        // A stream import is not passed on by an account that exports it again, as in Go
        // (checked against nats-server 2.15.1): only services chain.
        for s in acc.stream_imports.iter().filter(|s| s.applies(msg.subject)) {
            let subject = s.map(msg.subject);
            delivered |= self.publish_in(s.importer, from, &mut msg.retarget(&subject, msg.reply));
        }
        delivered |= self.request_across(account, from, msg, None, 0);
        delivered |= self.answer_across(account, from, msg, 0);
        delivered
    }

    /// The requests `msg` makes through `account`'s service imports: each reaches the
    /// exporter with a reply of its own and Go's `Nats-Request-Info`, and goes on through
    /// the exporter's own service imports when it exports what it imports (a chain; the
    /// header then names the first requester's account and the one it came through).
    fn request_across(
        &mut self,
        account: AccountId,
        from: Option<ConnId>,
        msg: &Msg<'_>,
        requester: Option<&str>,
        hops: usize,
    ) -> bool {
        let server = self.server.clone();
        let acc = server.accounts.get(account);
        let mut delivered = false;
        for si in acc
            .service_imports
            .iter()
            .filter(|s| s.applies(msg.subject))
        {
            let subject = si.map(msg.subject);
            let reply = msg.reply.map(|r| {
                server
                    .replies
                    .register(si.exporter, account, r, si.response, self.now)
            });
            let (origin, through) = match requester {
                None => (acc.name.as_str(), None),
                Some(r) => (r, Some(acc.name.as_str())),
            };
            let header = msg.header_len.map(|h| &msg.data[..h]);
            let payload = &msg.data[msg.header_len.unwrap_or(0)..];
            let rtt = from.and_then(|f| self.clients.conns[f].pings.rtt);
            let (hdr, data) = request_info_header(origin, through, rtt, header, payload);
            let mut request = Msg::local(&subject, reply.as_deref(), Some(hdr), &data);
            delivered |= self.publish_in(si.exporter, from, &mut request);
            if hops < MAX_IMPORT_HOPS {
                let onward = Msg::local(&subject, reply.as_deref(), msg.header_len, msg.data);
                delivered |=
                    self.request_across(si.exporter, from, &onward, Some(origin), hops + 1);
            }
        }
        delivered
    }

    /// An answer published in `account` on a reply subject of a request that came through
    /// one of its service exports goes back to the requester's reply, and from there on
    /// back along a chain.
    fn answer_across(
        &mut self,
        account: AccountId,
        from: Option<ConnId>,
        msg: &Msg<'_>,
        hops: usize,
    ) -> bool {
        let server = self.server.clone();
        if !server.accounts.get(account).answers_imports || !msg.subject.starts_with(REPLY_PREFIX) {
            return false;
        }
        let Some((importer, reply)) = server.replies.answer(account, msg.subject, self.now) else {
            return false;
        };
        let mut answer = msg.retarget(&reply, None);
        let mut delivered = self.publish_in(importer, from, &mut answer);
        if hops < MAX_IMPORT_HOPS {
            delivered |= self.answer_across(importer, from, &answer, hops + 1);
        }
        delivered
    }

    /// Routes a publish in `account`: its subscribers here, and one message per other shard
    /// with interest, queue members picked across shards by weight. Returns whether anyone
    /// may get it.
    pub(super) fn publish_in(
        &mut self,
        account: AccountId,
        from: Option<ConnId>,
        msg: &mut Msg<'_>,
    ) -> bool {
        self.publish_scoped(account, from, msg, Scope::Everywhere)
    }

    /// Routes a publish in `account` within `scope`. A queue group picks a member on this
    /// server (here or on another shard, by weight) when it has one, and a route only when
    /// it has none, as Go prefers local members (`processMsgResults`).
    pub(super) fn publish_scoped(
        &mut self,
        account: AccountId,
        from: Option<ConnId>,
        msg: &mut Msg<'_>,
        scope: Scope<'_>,
    ) -> bool {
        let dest = self.destinations(account, msg.subject);
        let routed_in = matches!(scope, Scope::FromLink { .. });
        let wanted = |name: &[u8]| match scope {
            Scope::Everywhere => true,
            Scope::FromLink { queues, .. } => queues.contains(&name),
        };
        let mut delivered = false;
        for &target in &dest.local.plain {
            // A routed message is no client's request: the system services leave it.
            if routed_in && target == Target::Service(Service::System) {
                continue;
            }
            delivered |= self.deliver_to(account, target, from, msg);
        }

        let mut targets: PeerTargets = dest
            .remote_plain
            .iter()
            .filter(|&&p| self.reaches(scope, p))
            .map(|&s| (s, true, Vec::new()))
            .collect();
        let mut seen_remote = vec![false; dest.remote_queues.len()];
        for (name, members) in &dest.local.queues {
            if !wanted(name) {
                continue;
            }
            let ri = dest.remote_queues.iter().position(|(n, _)| n == name);
            let remote = ri.map_or(&[][..], |i| {
                seen_remote[i] = true;
                &dest.remote_queues[i].1[..]
            });
            let shard_weight = weight(remote, Kind::Shard);
            let r = self.rand() % (members.len() as u64 + shard_weight);
            if r < members.len() as u64 {
                if self.deliver_one_of(account, members, r as usize, from, msg) {
                    delivered = true;
                    continue;
                }
                // No local member could take it (echo off, closing): any remote one may,
                // on this server first.
                let other = remote
                    .iter()
                    .find(|(p, _)| p.is_shard())
                    .or(remote.first().filter(|_| !routed_in));
                if let Some(&(s, _)) = other {
                    pick_remote(&mut targets, s, name);
                }
            } else {
                pick_remote(
                    &mut targets,
                    pick_weighted(remote, Kind::Shard, r - members.len() as u64),
                    name,
                );
            }
        }
        for (i, (name, remote)) in dest.remote_queues.iter().enumerate() {
            if seen_remote[i] || !wanted(name) {
                continue;
            }
            let kind = match scope {
                _ if remote.iter().any(|(p, _)| p.is_shard()) => Kind::Shard,
                Scope::Everywhere => Kind::Route,
                // No member left on this server: Go passes the message on to another
                // route's member rather than drop it (the queue group's "bounce"), never
                // back where it came from.
                Scope::FromLink { origin, .. } => Kind::RouteExcept(origin),
            };
            let total = weight(remote, kind);
            if total == 0 && !remote.iter().any(|&(p, _)| kind.has(p)) {
                continue;
            }
            let r = self.rand() % total.max(1);
            pick_remote(&mut targets, pick_weighted(remote, kind, r), name);
        }

        if !targets.is_empty() {
            delivered = true;
            self.send_to_peers(account, from, msg, targets);
        }
        delivered
    }

    /// Whether a message within `scope` goes on to `peer` for plain interest: every shard
    /// does; a link does when the message was published here, or when its role hears of
    /// the link it came from (never the same one).
    fn reaches(&self, scope: Scope<'_>, peer: PeerId) -> bool {
        match scope {
            _ if peer.is_shard() => true,
            Scope::Everywhere => true,
            Scope::FromLink { origin, role, .. } => {
                peer != origin && self.link_role(peer).is_some_and(|r| r.hears(role))
            }
        }
    }

    /// Hands a publish to the peers picked for it: one message per shard (carrying what
    /// goes on to the routes, for the cluster shard), one RMSG per route connection here.
    fn send_to_peers(
        &mut self,
        account: AccountId,
        from: Option<ConnId>,
        msg: &mut Msg<'_>,
        mut targets: PeerTargets,
    ) {
        let mut to_routes = None;
        if let Some(i) = targets.iter().position(|t| t.0 == PeerId::ROUTES) {
            let (_, plain, queues) = targets.swap_remove(i);
            to_routes = Some(Box::new(ToRoutes { plain, queues }));
            let cluster = PeerId::shard(CLUSTER_SHARD);
            if !targets.iter().any(|t| t.0 == cluster) {
                targets.push((cluster, false, Vec::new()));
            }
        }
        let mut routes = Vec::new();
        let mut shared = None;
        for (peer, plain, queues) in targets {
            if !peer.is_shard() {
                routes.push((peer, queues));
                continue;
            }
            let (subject_b, reply_b, data_b, shown_b) = shared
                .get_or_insert_with(|| {
                    let (s, r, d) = one_buffer(msg.subject, msg.reply, msg.data);
                    (s, r, d, msg.shown.map(Bytes::copy_from_slice))
                })
                .clone();
            self.stats.remote_sent += 1;
            // Its PONG must then wait for a fence to the shards. A route gets no fence: a
            // PONG says nothing about other servers, in Go either.
            if let Some(f) = from {
                self.clients.conns[f].input.published_across = true;
            }
            let shard = peer.index();
            let m = ShardMsg::Deliver {
                account,
                subject: subject_b,
                shown: shown_b,
                reply: reply_b,
                header_len: msg.header_len,
                data: data_b,
                plain,
                queues,
                publisher: from,
                to_routes: if shard == CLUSTER_SHARD {
                    to_routes.take()
                } else {
                    None
                },
            };
            self.peers.stage(shard, m);
            if from.is_some() {
                self.check_peer_gate(
                    shard,
                    self.peers.staged_bytes[shard] + self.peers.peer_pending[shard],
                );
            }
        }
        for (peer, queues) in routes {
            self.send_routed(peer, account, msg, &queues);
        }
    }

    /// A publish another shard handed the cluster shard for its routes.
    pub(super) fn forward_to_routes(
        &mut self,
        account: AccountId,
        msg: &mut Msg<'_>,
        to: &ToRoutes,
    ) {
        let dest = self.destinations(account, msg.subject);
        let mut targets: PeerTargets = Vec::new();
        if to.plain {
            for &p in dest.remote_plain.iter().filter(|p| !p.is_shard()) {
                targets.push((p, true, Vec::new()));
            }
        }
        for q in &to.queues {
            let Some((_, remote)) = dest.remote_queues.iter().find(|(n, _)| **n == **q) else {
                continue;
            };
            if remote.iter().any(|&(p, _)| Kind::Route.has(p)) {
                let r = self.rand() % weight(remote, Kind::Route).max(1);
                pick_remote(&mut targets, pick_weighted(remote, Kind::Route, r), q);
            }
        }
        for (peer, _, queues) in targets {
            self.send_routed(peer, account, msg, &queues);
        }
    }

    /// Whether a publish on `subject` in `account` would reach anyone.
    pub(super) fn has_interest(&mut self, account: AccountId, subject: &[u8]) -> bool {
        let r = self.destinations(account, subject);
        !(r.local.plain.is_empty()
            && r.local.queues.is_empty()
            && r.remote_plain.is_empty()
            && r.remote_queues.is_empty())
    }

    /// A publish another shard routed here: re-matched against our own subscriptions.
    pub(super) fn deliver_remote(
        &mut self,
        account: AccountId,
        msg: &mut Msg<'_>,
        plain: bool,
        queues: &[Bytes],
    ) {
        let dest = self.destinations(account, msg.subject);
        if plain {
            // System services answer on the shard a request was published on, which did;
            // JetStream's live on this shard alone.
            for &target in &dest.local.plain {
                match target {
                    Target::Client(sub) => {
                        self.deliver(sub, None, msg);
                    }
                    Target::Service(Service::System) => {}
                    Target::Service(_) => {
                        self.deliver_to(account, target, None, msg);
                    }
                }
            }
        }
        for q in queues {
            // The group may have emptied here meanwhile; then the message is dropped, as a
            // route's queue delivery is when its last member just left.
            if let Some((_, members)) = dest.local.queues.iter().find(|(n, _)| **n == **q) {
                let start = (self.rand() % members.len() as u64) as usize;
                self.deliver_one_of(account, members, start, None, msg);
            }
        }
    }

    /// Delivers to the first member, from `start` on, that can take the message.
    fn deliver_one_of(
        &mut self,
        account: AccountId,
        members: &[Target],
        start: usize,
        from: Option<ConnId>,
        msg: &mut Msg<'_>,
    ) -> bool {
        (0..members.len()).any(|i| {
            let target = members[(start + i) % members.len()];
            self.deliver_to(account, target, from, msg)
        })
    }

    /// Hands a message published in `account` to one local target. False when it could not
    /// take the message.
    fn deliver_to(
        &mut self,
        account: AccountId,
        target: Target,
        from: Option<ConnId>,
        msg: &mut Msg<'_>,
    ) -> bool {
        match target {
            Target::Client(sub) => self.deliver(sub, from, msg),
            // Only a client's request is answered: the services ask who sent it.
            Target::Service(Service::System) => {
                from.is_some_and(|f| self.system_request(account, Some(f), msg))
            }
            Target::Service(Service::JsApi) => {
                self.jetstream_api(account, msg);
                true
            }
            Target::Service(Service::Stream(id)) => {
                self.jetstream_ingest(account, id, msg);
                true
            }
            Target::Service(Service::Direct(id)) => {
                self.jetstream_direct_get(account, id, msg);
                true
            }
            Target::Service(Service::Next(id)) => {
                self.jetstream_pull(account, id, msg);
                true
            }
            Target::Service(Service::Acks(id)) => {
                self.jetstream_ack(account, id, msg);
                true
            }
            Target::Service(Service::FlowControl(id)) => {
                self.jetstream_flow_control(id, msg);
                true
            }
        }
    }

    /// Queues MSG/HMSG for one subscription. False when it could not take the message.
    fn deliver(&mut self, sub_id: SubId, from: Option<ConnId>, msg: &mut Msg<'_>) -> bool {
        let Some(sub) = self.index.subs.get_mut(sub_id) else {
            return false;
        };
        let cid = sub.conn;
        let now = self.now;
        let c = &mut self.clients.conns[cid];
        if c.closing.is_some() || (from == Some(cid) && !c.opts.echo) {
            return false;
        }
        if let Some(p) = &mut c.perms {
            if p.delivery_denied(msg.subject) {
                return false;
            }
        }
        sub.delivered += 1;
        let done = sub.max > 0 && sub.delivered >= sub.max;
        // A client without headers support gets the payload alone, as MSG.
        let (hdr, skip) = match msg.header_len {
            Some(h) if c.opts.headers => (Some(h), 0),
            Some(h) => (None, h),
            None => (None, 0),
        };
        let payload = &msg.data[skip..];
        if crate::log::trace_enabled() {
            trace_delivery(c, msg, &sub.sid, hdr, payload);
        }
        {
            let mut t = c.out.tail();
            let shown = msg.shown_subject();
            encode::msg_line(&mut t, shown, &sub.sid, msg.reply, hdr, payload.len());
            if payload.len() < FLATTEN_THRESHOLD {
                t.extend_from_slice(payload);
                t.extend_from_slice(b"\r\n");
            }
        }
        if payload.len() >= FLATTEN_THRESHOLD {
            let shared = msg.shared().slice(skip..);
            c.out.push_shared(shared);
            c.out.push(b"\r\n");
        }
        if let (Some(p), Some(reply)) = (&mut c.perms, msg.reply) {
            p.reply_received(reply, now);
        }
        c.out_msgs += 1;
        c.out_bytes += payload.len() as u64;
        self.stats.out_msgs += 1;
        self.stats.out_bytes += payload.len() as u64;
        let queued = c.pending_bytes();
        let over = queued > self.server.cfg.max_pending;
        if !over {
            self.check_stall_gate(cid, queued);
        }
        self.mark_dirty(cid);
        if done {
            self.unsubscribe(cid, sub_id);
        }
        if over {
            self.slow_consumer(cid);
        }
        true
    }

    fn slow_consumer(&mut self, id: ConnId) {
        log_at!(
            Info,
            "{} - Slow Consumer Detected: MaxPending of {} Exceeded",
            self.clients.conns[id].log_prefix(),
            self.server.cfg.max_pending
        );
        self.stats.slow_consumers += 1;
        self.begin_close(
            id,
            CloseReason::SlowConsumerPendingBytes,
            Closing::Now,
            true,
        );
    }

    /// The 503 reply to a request nobody received, on the requester's own subscription that
    /// matches the reply subject (`client.go` `sendNoRespondersMsg`).
    fn no_responders(&mut self, from: ConnId, subject: &[u8], reply: &[u8]) {
        let account = self.clients.conns[from].account;
        let local = self.index.account(account).local.matches(reply);
        let Some(sub) = local.plain.iter().find_map(|&t| match t {
            Target::Client(s) if self.index.subs[s].conn == from => Some(s),
            _ => None,
        }) else {
            return;
        };
        let mut hdr = Vec::new();
        encode::no_responders_header(&mut hdr, subject);
        let mut msg = Msg::local(reply, None, Some(hdr.len()), &hdr);
        self.deliver(sub, None, &mut msg);
    }

    /// Removes a subscription everywhere it is recorded.
    pub(super) fn unsubscribe(&mut self, conn: ConnId, sub_id: SubId) {
        let sid = self.index.subs[sub_id].sid.clone();
        self.clients.conns[conn].subs.remove(&sid);
        self.remove_sub(sub_id);
    }

    /// Drops a subscription from the shard's tables; the connection's own map is the caller's.
    pub(super) fn remove_sub(&mut self, sub_id: SubId) {
        let sub = self.index.subs.remove(sub_id);
        self.stats.sub_removes += 1;
        let index = self.index.account(sub.account);
        index
            .local
            .remove(&sub.subject, sub.queue.as_deref(), &Target::Client(sub_id));
        index.cache.invalidate();
        self.local_interest(sub.account, &sub.subject, &sub.queue, -1);
    }
}

/// Per destination peer: whether it gets the message for plain interest, and the queue
/// groups whose pick fell on it.
type PeerTargets = Vec<(PeerId, bool, Vec<Bytes>)>;

fn pick_remote(targets: &mut PeerTargets, peer: PeerId, queue: &[u8]) {
    let q = Bytes::copy_from_slice(queue);
    match targets.iter_mut().find(|t| t.0 == peer) {
        Some(t) => t.2.push(q),
        None => targets.push((peer, false, vec![q])),
    }
}

/// Where a publish may go: everywhere (published here), or, having come from the link
/// `origin` (a route or a leaf connection), to this server's plain subscribers, the links
/// that hear of `role` (a route's messages never go to another route: routes are one hop),
/// and the members of the queue groups the link named.
#[derive(Clone, Copy)]
pub(super) enum Scope<'q> {
    Everywhere,
    FromLink {
        queues: &'q [&'q [u8]],
        origin: PeerId,
        role: super::routes::LinkRole,
    },
}

/// Which of a queue group's remote entries a pick is among: the other shards of this
/// server, the routes, or the routes but one.
#[derive(Clone, Copy)]
enum Kind {
    Shard,
    Route,
    RouteExcept(PeerId),
}

impl Kind {
    fn has(self, p: PeerId) -> bool {
        match self {
            Kind::Shard => p.is_shard(),
            Kind::Route => !p.is_shard(),
            Kind::RouteExcept(origin) => !p.is_shard() && p != origin,
        }
    }
}

/// The total weight of `kind`'s entries.
fn weight(entries: &[RemoteEntry], kind: Kind) -> u64 {
    entries
        .iter()
        .filter(|(p, _)| kind.has(*p))
        .map(|&(_, w)| u64::from(w))
        .sum()
}

/// The peer of `kind` whose cumulative weight covers `r`.
fn pick_weighted(entries: &[RemoteEntry], kind: Kind, mut r: u64) -> PeerId {
    let mut last = PeerId::shard(0);
    for &(s, w) in entries.iter().filter(|(p, _)| kind.has(*p)) {
        if r < u64::from(w) {
            return s;
        }
        r -= u64::from(w);
        last = s;
    }
    last
}

/// Copies subject, reply and payload into one allocation, shared by every receiving shard.
fn one_buffer(subject: &[u8], reply: Option<&[u8]>, data: &[u8]) -> (Bytes, Option<Bytes>, Bytes) {
    let rlen = reply.map_or(0, <[u8]>::len);
    let mut b = BytesMut::with_capacity(subject.len() + rlen + data.len());
    b.put_slice(subject);
    if let Some(r) = reply {
        b.put_slice(r);
    }
    b.put_slice(data);
    let b = b.freeze();
    let s = b.slice(..subject.len());
    let r = reply.map(|_| b.slice(subject.len()..subject.len() + rlen));
    let d = b.slice(subject.len() + rlen..);
    (s, r, d)
}

/// `-V` trace of one delivery, as the Go server writes it: `->> [MSG subject sid [reply] size]`
/// (HMSG with the header size too), then `->> MSG_PAYLOAD: ["..."]`.
fn trace_delivery(c: &Conn, msg: &Msg<'_>, sid: &[u8], hdr: Option<usize>, payload: &[u8]) {
    let mut line = Vec::new();
    encode::msg_line(
        &mut line,
        msg.shown_subject(),
        sid,
        msg.reply,
        hdr,
        payload.len(),
    );
    let line = String::from_utf8_lossy(&line);
    let prefix = c.log_prefix();
    log_at!(Trace, "{prefix} - ->> [{}]", line.trim_end());
    log_at!(
        Trace,
        "{prefix} - ->> MSG_PAYLOAD: [{:?}]",
        String::from_utf8_lossy(payload)
    );
}

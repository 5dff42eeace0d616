//! The JetStream host on its shard: the API and the streams subscribe as internal services
//! whose interest is replicated like a client's, so requests and publishes from every shard
//! reach the host over the rings, in publisher order. A stream create's reply waits until
//! every shard applied the new stream's interest (as a PONG after SUB does); a publish's
//! ack waits until the turn's write covering it is done.

use bytes::Bytes;

use std::time::Duration;

use super::clients::Timer;
use super::delivery::Msg;
use super::index::{Service, Target};
use super::Shard;
use crate::accounts::{AccountConfig, AccountId, GLOBAL_ACCOUNT};
use crate::fanout::PeerId;
use crate::jetstream::api::Context;
use crate::jetstream::commit::FileWrite;
use crate::jetstream::pull::{Interest, Listening};
use crate::jetstream::stream::Published;
use crate::jetstream::{
    now_ns, AccountLimits, Effect, Internal, JetStream, JsAccount, Outgoing, StreamId,
};
use crate::server::Server;

/// What every JetStream-enabled account subscribes to on the host: the API, except the
/// direct gets, which only streams that allow them answer (so that a direct get on another
/// stream finds no responders, as in Go). The consumer requests are listed one by one: a
/// consumer's pull requests are its own subscription, so one for a consumer that does not
/// exist finds no responders too.
const API_SUBJECTS: &[&str] = &[
    "$JS.API.*",
    "$JS.API.STREAM.>",
    "$JS.API.CONSUMER.CREATE.*",
    "$JS.API.CONSUMER.CREATE.*.>",
    "$JS.API.CONSUMER.DURABLE.CREATE.*.*",
    "$JS.API.CONSUMER.INFO.*.*",
    "$JS.API.CONSUMER.DELETE.*.*",
    "$JS.API.CONSUMER.NAMES.*",
    "$JS.API.CONSUMER.LIST.*",
    "$JS.API.CONSUMER.PAUSE.*.*",
    "$JS.API.CONSUMER.RESET.*.*",
    "$JS.API.CONSUMER.UNPIN.*.*",
    "$JS.API.CONSUMER.LEADER.STEPDOWN.*.*",
    "$JS.API.ACCOUNT.>",
    "$JS.API.META.>",
    "$JS.API.SERVER.>",
];

/// The API subjects in an account, under the domain's prefix too when there is one
/// (`$JS.<domain>.API.…`, which Go maps to `$JS.API.…`).
fn api_subjects(domain: &str) -> Vec<String> {
    let mut out: Vec<String> = API_SUBJECTS.iter().map(|s| s.to_string()).collect();
    if !domain.is_empty() {
        out.extend(
            API_SUBJECTS
                .iter()
                .map(|s| s.replacen("$JS.API.", &format!("$JS.{domain}.API."), 1)),
        );
    }
    out
}

/// The longest the timer wheel is asked to wait for a JetStream deadline (a client may ask
/// for any ack wait or expiry, and an `Instant` cannot reach every one).
const MAX_TIMER_WAIT: Duration = Duration::from_secs(3600);

/// The accounts that may use JetStream, with their limits: `$G` when no accounts are
/// configured (Go's `globalAccountOnly`), otherwise those with `jetstream` enabled.
pub(crate) fn enabled_accounts(server: &Server) -> Vec<JsAccount> {
    let cfg = &server.cfg;
    let configs: Vec<AccountConfig> = if cfg.operator.enabled() {
        crate::accounts::operator::configs(&cfg.operator)
    } else {
        cfg.accounts.clone()
    };
    let named: Vec<(String, AccountLimits)> = if configs.is_empty() && !cfg.operator.enabled() {
        vec![(GLOBAL_ACCOUNT.to_string(), AccountLimits::default())]
    } else {
        configs
            .into_iter()
            .filter_map(|a| a.jetstream.map(|l| (a.name, l)))
            .collect()
    };
    named
        .into_iter()
        .filter_map(|(name, limits)| {
            let id = server.accounts.id(&name)?;
            Some(JsAccount { id, name, limits })
        })
        .collect()
}

/// The accounts the API answers in: every one but the system account; those without
/// JetStream get Go's "JetStream not enabled for account".
pub(crate) fn api_accounts(server: &Server) -> Vec<AccountId> {
    let system = server.accounts.system();
    server
        .accounts
        .iter()
        .map(|(id, _)| id)
        .filter(|id| Some(*id) != system)
        .collect()
}

/// The interest the host has at start: the API in every enabled account, and the recovered
/// streams' subjects. The other shards apply it before taking clients.
pub(crate) fn startup_interest(js: &JetStream, accounts: &[AccountId]) -> Vec<(AccountId, Bytes)> {
    let mut out: Vec<(AccountId, Bytes)> = Vec::new();
    for id in accounts {
        out.extend(
            api_subjects(js.domain())
                .into_iter()
                .map(|s| (*id, Bytes::from(s))),
        );
    }
    for e in js.subscriptions() {
        out.extend(e.subjects.into_iter().map(|s| (e.account, Bytes::from(s))));
    }
    out
}

/// The environment variable that makes stream writes fail, for the fault-injection tests:
/// `ERRNO@N[,N...]` reports the Nth stream write completion (counted from 1) as failed with
/// that errno, after the kernel wrote it (so the log holds bytes that must be cut back).
#[cfg(feature = "testkit")]
pub const FAULT_STREAM_WRITE_ENV: &str = "RIPTIDE_FAULT_STREAM_WRITE";

/// The JetStream host's state on its shard.
pub(crate) struct Host {
    js: JetStream,
    /// Replies held until every shard acknowledged interest up to a sequence number.
    held: Vec<(u64, AccountId, Bytes, Vec<u8>)>,
    /// Stream logs due for their periodic fsync.
    due_syncs: Vec<std::os::fd::RawFd>,
    /// The JetStream deadline the timer wheel holds a `Timer::JetStream` for, ns since the
    /// epoch.
    armed: Option<i64>,
    /// Fault injection: (errno, which write completions fail) and the completions so far.
    #[cfg(feature = "testkit")]
    fault: Option<(i32, Vec<u64>)>,
    #[cfg(feature = "testkit")]
    writes: u64,
}

#[cfg(feature = "testkit")]
fn fault_from_env() -> Option<(i32, Vec<u64>)> {
    let spec = std::env::var(FAULT_STREAM_WRITE_ENV).ok()?;
    let (errno, which) = spec.split_once('@')?;
    let which = which.split(',').filter_map(|n| n.parse().ok()).collect();
    Some((errno.parse().ok()?, which))
}

impl Shard {
    /// Makes this shard the JetStream host: the API of every enabled account and the
    /// recovered streams subscribe here.
    pub(crate) fn host_jetstream(&mut self, js: JetStream, accounts: &[AccountId]) {
        for acc in accounts {
            for s in api_subjects(js.domain()) {
                self.service_interest(*acc, &s, Service::JsApi, true);
            }
        }
        for e in js.subscriptions() {
            self.apply_effect(e);
        }
        self.js = Some(Box::new(Host {
            js,
            held: Vec::new(),
            due_syncs: Vec::new(),
            armed: None,
            #[cfg(feature = "testkit")]
            fault: fault_from_env(),
            #[cfg(feature = "testkit")]
            writes: 0,
        }));
    }

    /// On the other shards: the host's startup interest, applied before any client
    /// connects (its own interest messages, arriving later, say the same).
    pub(crate) fn expect_jetstream_host(&mut self, host: usize, interest: &[(AccountId, Bytes)]) {
        for (acc, subject) in interest {
            self.apply_remote_interest(PeerId::shard(host), (*acc, subject.clone(), None), 1);
        }
    }

    fn service_interest(&mut self, account: AccountId, subject: &str, service: Service, on: bool) {
        let target = Target::Service(service);
        let index = self.index.account(account);
        if on {
            if index
                .local
                .insert(subject.as_bytes(), None, target)
                .is_err()
            {
                return;
            }
        } else if !index.local.remove(subject.as_bytes(), None, &target) {
            return;
        }
        index.cache.invalidate();
        let subject = Bytes::copy_from_slice(subject.as_bytes());
        self.local_interest(account, &subject, &None, if on { 1 } else { -1 });
    }

    fn apply_effect(&mut self, e: Effect) {
        let service = match e.internal {
            Internal::Stream(id) => Service::Stream(id),
            Internal::Direct(id) => Service::Direct(id),
            Internal::Next(id) => Service::Next(id),
            Internal::Acks(id) => Service::Acks(id),
            Internal::FlowControl(id) => Service::FlowControl(id),
        };
        for s in &e.subjects {
            self.service_interest(e.account, s, service, e.on);
        }
    }

    /// A `$JS.API` request reached the host.
    pub(super) fn jetstream_api(&mut self, account: AccountId, msg: &Msg<'_>) {
        let server = self.server.clone();
        let Some(mut host) = self.js.take() else {
            return;
        };
        let cx = Context {
            account,
            account_name: server.accounts.name(account),
            server_name: server.name(),
        };
        let data = &msg.data[msg.header_len.unwrap_or(0)..];
        let interest: Interest<'_> = &mut |acc, subject, how| self.listens(acc, subject, how);
        let reply = host.js.api(&cx, msg.subject, data, interest);
        self.js = Some(host);
        let Some(reply) = reply else {
            return;
        };
        let subscribed = reply.effects.iter().any(|e| e.on);
        for e in reply.effects {
            self.apply_effect(e);
        }
        self.after_jetstream();
        self.publish_advisories(reply.advisories.into_iter().map(|a| (account, a)).collect());
        let Some(to) = msg.reply else {
            return;
        };
        if subscribed && self.interest.barrier_pending() {
            let seq = self.interest.interest_seq();
            if let Some(host) = self.js.as_mut() {
                host.held
                    .push((seq, account, Bytes::copy_from_slice(to), reply.body));
            }
            return;
        }
        self.publish_internal_reply(account, to, &reply.body);
    }

    fn publish_internal_reply(&mut self, account: AccountId, to: &[u8], body: &[u8]) {
        self.publish_with_headers(account, to, &[], body);
    }

    /// Publishes a message of the host's in `account`; `hdr` empty means none.
    fn publish_with_headers(&mut self, account: AccountId, to: &[u8], hdr: &[u8], body: &[u8]) {
        if hdr.is_empty() {
            let mut m = Msg::local(to, None, None, body);
            self.publish_in(account, None, &mut m);
            return;
        }
        let mut data = Vec::with_capacity(hdr.len() + body.len());
        data.extend_from_slice(hdr);
        data.extend_from_slice(body);
        let mut m = Msg::local(to, None, Some(hdr.len()), &data);
        self.publish_in(account, None, &mut m);
    }

    /// Runs `f` on the host's JetStream with a way to ask whether anyone listens on a
    /// subject, then sends what consumers sent meanwhile.
    fn with_jetstream(&mut self, f: impl FnOnce(&mut JetStream, Interest<'_>)) {
        let Some(mut host) = self.js.take() else {
            return;
        };
        f(&mut host.js, &mut |account, subject, how| {
            self.listens(account, subject, how)
        });
        self.js = Some(host);
        self.after_jetstream();
    }

    /// Whether someone listens on `subject` in `account`, as a consumer asks it.
    fn listens(&mut self, account: AccountId, subject: &[u8], how: Listening<'_>) -> bool {
        match how {
            Listening::Any => self.has_interest(account, subject),
            Listening::Exactly(queue) => {
                let index = self.index.account(account);
                index.local.has_exact(subject, queue) || index.remote.has_exact(subject, queue)
            }
        }
    }

    /// Publishes what consumers sent, and keeps a timer for JetStream's next deadline.
    fn after_jetstream(&mut self) {
        let Some(host) = self.js.as_mut() else {
            return;
        };
        let mut sends = host.js.take_sends();
        let next = host.js.next_deadline();
        if let Some(at) = next.filter(|at| host.armed.is_none_or(|armed| *at < armed)) {
            host.armed = Some(at);
            // A far deadline is looked at again after the cap, and re-armed then.
            let wait =
                Duration::from_nanos(at.saturating_sub(now_ns()).max(0) as u64).min(MAX_TIMER_WAIT);
            self.clients
                .timers
                .insert(self.now + wait, Timer::JetStream);
        }
        for p in sends.drain(..) {
            let mut m = Msg::remote(
                &p.to,
                p.reply.as_deref(),
                (p.hdr_len > 0).then_some(p.hdr_len),
                &p.data,
            );
            m.shown = p.shown.as_deref();
            self.publish_in(p.account, None, &mut m);
        }
        if let Some(host) = self.js.as_mut() {
            host.js.return_sends(sends);
        }
    }

    /// A consumer's pull request reached the host.
    pub(super) fn jetstream_pull(&mut self, account: AccountId, id: StreamId, msg: &Msg<'_>) {
        let body = &msg.data[msg.header_len.unwrap_or(0)..];
        let now = now_ns();
        self.with_jetstream(|js, interest| {
            js.pull(account, id, msg.subject, msg.reply, body, now, interest);
        });
    }

    /// An ack for one of a stream's consumers reached the host.
    pub(super) fn jetstream_ack(&mut self, account: AccountId, id: StreamId, msg: &Msg<'_>) {
        let body = &msg.data[msg.header_len.unwrap_or(0)..];
        let now = now_ns();
        self.with_jetstream(|js, interest| {
            js.ack(account, id, msg.subject, msg.reply, body, now, interest);
        });
    }

    /// A push consumer's flow-control response reached the host.
    pub(super) fn jetstream_flow_control(&mut self, id: StreamId, msg: &Msg<'_>) {
        let now = now_ns();
        self.with_jetstream(|js, interest| js.flow_control(id, msg.subject, now, interest));
    }

    /// JetStream's timer fired: expiries, heartbeats, redeliveries.
    pub(super) fn jetstream_timer(&mut self) {
        if let Some(host) = self.js.as_mut() {
            host.armed = None;
        }
        let now = now_ns();
        self.with_jetstream(|js, interest| js.fire(now, interest));
    }

    /// A direct get reached the host: its answer goes straight back.
    pub(super) fn jetstream_direct_get(&mut self, account: AccountId, id: StreamId, msg: &Msg<'_>) {
        let Some(to) = msg.reply else {
            return;
        };
        let Some(host) = self.js.as_ref() else {
            return;
        };
        let data = &msg.data[msg.header_len.unwrap_or(0)..];
        for r in host.js.direct_get(id, msg.subject, data) {
            self.publish_with_headers(account, to, &r.hdr, &r.body);
        }
    }

    /// Replies whose interest every shard has now applied.
    pub(super) fn release_held_replies(&mut self) {
        let Some(host) = self.js.as_mut() else {
            return;
        };
        if host.held.is_empty() {
            return;
        }
        let held = std::mem::take(&mut host.held);
        let (ready, wait): (Vec<_>, Vec<_>) = held
            .into_iter()
            .partition(|(seq, ..)| self.interest.acked_all(*seq));
        if let Some(host) = self.js.as_mut() {
            host.held = wait;
        }
        for (_, account, to, body) in ready {
            self.publish_internal_reply(account, &to, &body);
        }
    }

    /// A message published on a stream's subject reached the host. A file stream copies
    /// it straight into its next write; a memory stream keeps the shared buffer it crossed
    /// the rings in, or makes one.
    pub(super) fn jetstream_ingest(&mut self, account: AccountId, id: StreamId, msg: &Msg<'_>) {
        let Some(host) = self.js.as_mut() else {
            return;
        };
        let published = Published {
            raw: msg.data,
            shared: msg.shared_made(),
            hdr_len: msg.header_len.unwrap_or(0),
        };
        host.js
            .ingest(account, id, msg.subject, msg.reply, published);
    }

    /// Whether the host has consumers to serve at the end of the next turn, which must then
    /// come without waiting.
    pub(crate) fn has_jetstream_backlog(&self) -> bool {
        self.js.as_ref().is_some_and(|h| h.js.has_fresh())
    }

    /// End of turn on the host: publishes what no longer waits for a write and returns
    /// the stream writes to submit (their acks leave when `jetstream_written` says so).
    pub(crate) fn commit_jetstream(&mut self) -> Vec<FileWrite> {
        if let Some(host) = self.js.as_mut() {
            host.js.copy_upstreams();
        }
        if self.has_jetstream_backlog() {
            let now = now_ns();
            self.with_jetstream(|js, interest| js.deliver_fresh(now, interest));
        }
        let Some(host) = self.js.as_mut() else {
            return Vec::new();
        };
        let (out, writes) = host.js.commit();
        self.publish_outgoing(out);
        writes
    }

    /// Batch `batch` of a stream was written (after its fsync, when it had one).
    pub(crate) fn jetstream_written(
        &mut self,
        stream: StreamId,
        batch: u64,
        result: std::io::Result<usize>,
    ) {
        let Some(host) = self.js.as_mut() else {
            return;
        };
        #[cfg(feature = "testkit")]
        let result = {
            host.writes += 1;
            match &host.fault {
                Some((errno, which)) if which.contains(&host.writes) => {
                    Err(std::io::Error::from_raw_os_error(*errno))
                }
                _ => result,
            }
        };
        let out = host.js.written(stream, batch, result);
        self.publish_outgoing(out);
    }

    fn publish_outgoing(&mut self, out: Vec<Outgoing>) {
        for o in out {
            self.publish_with_headers(o.account, &o.subject, &o.hdr, &o.body);
        }
    }

    /// JetStream's usage for the monitor, on the host.
    pub(super) fn jetstream_usage(&self) -> Option<crate::jetstream::Usage> {
        let host = self.js.as_ref()?;
        Some(host.js.usage(&self.server))
    }

    /// Periodic JetStream work: ages, TTLs, idle consumers, the `sync_interval` fsync.
    pub(super) fn jetstream_tick(&mut self) {
        let now = now_ns();
        self.with_jetstream(|js, interest| js.poll_push(now, interest));
        let Some(host) = self.js.as_mut() else {
            return;
        };
        let tick = host.js.tick(self.now);
        host.due_syncs.extend(tick.syncs);
        for e in tick.effects {
            self.apply_effect(e);
        }
        self.publish_advisories(tick.advisories);
    }

    /// Publishes advisories where someone listens.
    fn publish_advisories(&mut self, advisories: Vec<(AccountId, (String, Vec<u8>))>) {
        for (account, (subject, body)) in advisories {
            if self.has_interest(account, subject.as_bytes()) {
                self.publish_internal_reply(account, subject.as_bytes(), &body);
            }
        }
    }

    /// The stream logs due for their periodic fsync, for the reactor to submit.
    pub(crate) fn take_jetstream_syncs(&mut self) -> Vec<std::os::fd::RawFd> {
        self.js
            .as_mut()
            .map(|h| std::mem::take(&mut h.due_syncs))
            .unwrap_or_default()
    }
}

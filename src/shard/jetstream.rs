//! The JetStream host on its shard: the API and the streams subscribe as internal services
//! whose interest is replicated like a client's, so requests and publishes from every shard
//! reach the host over the rings, in publisher order. A stream create's reply waits until
//! every shard applied the new stream's interest (as a PONG after SUB does); a publish's
//! ack waits until the turn's write covering it is done.

use bytes::Bytes;

use super::delivery::Msg;
use super::index::{Service, Target};
use super::Shard;
use crate::accounts::{AccountConfig, AccountId, GLOBAL_ACCOUNT};
use crate::fanout::PeerId;
use crate::jetstream::api::Context;
use crate::jetstream::{Effect, JetStream, StreamId};
use crate::server::Server;

/// What every JetStream-enabled account subscribes to on the host (Go's `jsAllAPI`).
const API_SUBJECT: &str = "$JS.API.>";

/// The accounts that may use JetStream, with their names: `$G` when no accounts are
/// configured (Go's `globalAccountOnly`), otherwise those with `jetstream` enabled.
pub(crate) fn enabled_accounts(server: &Server) -> Vec<(AccountId, String)> {
    let cfg = &server.cfg;
    let configs: Vec<AccountConfig> = if cfg.operator.enabled() {
        crate::accounts::operator::configs(&cfg.operator)
    } else {
        cfg.accounts.clone()
    };
    let names: Vec<String> = if configs.is_empty() && !cfg.operator.enabled() {
        vec![GLOBAL_ACCOUNT.to_string()]
    } else {
        configs
            .into_iter()
            .filter(|a| a.jetstream)
            .map(|a| a.name)
            .collect()
    };
    names
        .into_iter()
        .filter_map(|n| server.accounts.id(&n).map(|id| (id, n)))
        .collect()
}

/// The interest the host has at start: the API in every enabled account, and the recovered
/// streams' subjects. The other shards apply it before taking clients.
pub(crate) fn startup_interest(
    js: &JetStream,
    accounts: &[(AccountId, String)],
) -> Vec<(AccountId, Bytes)> {
    let mut out: Vec<(AccountId, Bytes)> = accounts
        .iter()
        .map(|(id, _)| (*id, Bytes::from_static(API_SUBJECT.as_bytes())))
        .collect();
    for e in js.subscriptions() {
        if let Effect::Subscribe(acc, _, subjects) = e {
            out.extend(subjects.into_iter().map(|s| (acc, Bytes::from(s))));
        }
    }
    out
}

/// The JetStream host's state on its shard.
pub(crate) struct Host {
    js: JetStream,
    /// Replies held until every shard acknowledged interest up to a sequence number.
    held: Vec<(u64, AccountId, Bytes, Vec<u8>)>,
}

impl Shard {
    /// Makes this shard the JetStream host: the API of every enabled account and the
    /// recovered streams subscribe here.
    pub(crate) fn host_jetstream(&mut self, js: JetStream, accounts: &[(AccountId, String)]) {
        for (acc, _) in accounts {
            self.service_interest(*acc, API_SUBJECT, Service::JsApi, true);
        }
        for e in js.subscriptions() {
            self.apply_effect(e);
        }
        self.js = Some(Box::new(Host {
            js,
            held: Vec::new(),
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
        let (account, id, subjects, on) = match e {
            Effect::Subscribe(a, id, s) => (a, id, s, true),
            Effect::Unsubscribe(a, id, s) => (a, id, s, false),
        };
        for s in subjects {
            self.service_interest(account, &s, Service::Stream(id), on);
        }
    }

    /// A `$JS.API` request reached the host.
    pub(super) fn jetstream_api(&mut self, account: AccountId, msg: &Msg<'_>) {
        let server = self.server.clone();
        let Some(host) = self.js.as_mut() else {
            return;
        };
        let cx = Context {
            account,
            account_name: server.accounts.name(account),
            server_name: server.name(),
        };
        let data = &msg.data[msg.header_len.unwrap_or(0)..];
        let Some(reply) = host.js.api(&cx, msg.subject, data) else {
            return;
        };
        let subscribed = reply
            .effects
            .iter()
            .any(|e| matches!(e, Effect::Subscribe(..)));
        for e in reply.effects {
            self.apply_effect(e);
        }
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
        let mut m = Msg::local(to, None, None, body);
        self.publish_in(account, None, &mut m);
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

    /// A message published on a stream's subject reached the host.
    pub(super) fn jetstream_ingest(&mut self, account: AccountId, id: StreamId, msg: &Msg<'_>) {
        let Some(host) = self.js.as_mut() else {
            return;
        };
        let h = msg.header_len.unwrap_or(0);
        host.js.ingest(
            account,
            id,
            msg.subject,
            msg.reply,
            &msg.data[..h],
            &msg.data[h..],
        );
    }

    /// End of turn on the host: the turn's stores are written, then their acks leave.
    pub fn commit_jetstream(&mut self) {
        let Some(host) = self.js.as_mut() else {
            return;
        };
        for ack in host.js.commit() {
            self.publish_internal_reply(ack.account, &ack.reply, &ack.body);
        }
    }

    /// Periodic JetStream work: ages, TTLs, the `sync_interval` fsync.
    pub(super) fn jetstream_tick(&mut self) {
        if let Some(host) = self.js.as_mut() {
            host.js.tick(self.now);
        }
    }
}

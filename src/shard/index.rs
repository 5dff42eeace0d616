//! The shard's subscriptions: one table of its clients' subscriptions, and per account a
//! trie of what this shard delivers to (client subscriptions and internal services), a trie
//! of the interest its peers replicated to it, and a cache of recent matches.

use std::collections::HashMap;
use std::rc::Rc;

use bytes::Bytes;
use foldhash::fast::RandomState;

use super::interest::RemoteEntry;
use super::table::Table;
use super::ConnId;
use crate::accounts::AccountId;
use crate::conn::SubId;
use crate::fanout::PeerId;
use crate::jetstream::StreamId;
use crate::subject::{Matches, Sublist};
use crate::system::request;

/// Entries in the L1 match cache before it is emptied (the Go server prunes its per-client
/// cache at `maxResultCacheSize` = 512; ours is per shard, so twice that).
const MATCH_CACHE_MAX: usize = 1024;

/// A service that runs on the shard and subscribes as a client would: it takes the messages
/// published here on its subjects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    /// The system account's request services (`$SYS.REQ.…`), answered by the service thread.
    System,
    /// The JetStream API, on the JetStream host shard only (its interest is replicated).
    JsApi,
    /// A stream's subjects, on the host shard only.
    Stream(StreamId),
    /// A stream's direct-get subjects, on the host shard only.
    Direct(StreamId),
    /// A stream's consumers' pull requests, on the host shard only.
    Next(StreamId),
    /// A stream's consumers' acks, on the host shard only.
    Acks(StreamId),
    /// A stream's push consumers' flow-control responses, on the host shard only.
    FlowControl(StreamId),
}

/// What a local subscription delivers to. (A peer's interest is a `RemoteEntry` in the
/// account's `remote` trie, the third kind of target.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// A subscription of one of this shard's connections, in `SubIndex::subs`.
    Client(SubId),
    /// A service's subscription. Every shard holds the same ones, so they are not
    /// replicated between shards: a request is answered on the shard it was published on.
    Service(Service),
}

/// Where the system services subscribe: the system account, and the server's id that its
/// direct subjects carry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct SystemServices {
    pub(super) account: Option<AccountId>,
    pub(super) server_id: String,
}

impl SystemServices {
    /// The services' subjects in `account`, none without a system account.
    fn subjects(&self, account: AccountId) -> Vec<String> {
        match self.account {
            None => Vec::new(),
            Some(system) => request::subscriptions(account == system, &self.server_id),
        }
    }
}

/// One subscription of one of this shard's connections.
#[derive(Debug)]
pub struct Sub {
    pub conn: ConnId,
    pub account: AccountId,
    pub subject: Bytes,
    pub queue: Option<Bytes>,
    pub sid: Bytes,
    /// Auto-unsubscribe after this many deliveries; 0 means never.
    pub max: u64,
    pub delivered: u64,
}

/// All subscriptions of the shard, by account.
#[derive(Debug)]
pub(super) struct SubIndex {
    pub(super) subs: Table<SubId, Sub>,
    accounts: Vec<AccountIndex>,
    /// Each account's index gets the system services' subscriptions when it is made.
    system: SystemServices,
}

impl SubIndex {
    pub(super) fn new(system: SystemServices) -> SubIndex {
        SubIndex {
            subs: Table::default(),
            accounts: Vec::new(),
            system,
        }
    }

    /// An account's index on this shard, made on first use.
    pub(super) fn account(&mut self, account: AccountId) -> &mut AccountIndex {
        let i = usize::from(account);
        while self.accounts.len() <= i {
            let mut index = AccountIndex::default();
            // Indexes are made up to a `u16` account id, so the count fits.
            let made = self.accounts.len() as AccountId;
            for s in self.system.subjects(made) {
                index.subscribe_service(&s, Service::System, true);
            }
            self.accounts.push(index);
        }
        &mut self.accounts[i]
    }

    /// A reload may name another system account: the services' subscriptions move.
    pub(super) fn set_system(&mut self, system: SystemServices) {
        if system == self.system {
            return;
        }
        for (i, index) in self.accounts.iter_mut().enumerate() {
            let account = i as AccountId;
            for s in self.system.subjects(account) {
                index.subscribe_service(&s, Service::System, false);
            }
            for s in system.subjects(account) {
                index.subscribe_service(&s, Service::System, true);
            }
        }
        self.system = system;
    }

    pub(super) fn accounts(&self) -> &[AccountIndex] {
        &self.accounts
    }

    /// Entries of the peers' interest, over all accounts.
    pub(super) fn remote_interest(&self) -> usize {
        self.accounts.iter().map(|a| a.remote.len()).sum()
    }
}

/// One account's subscriptions on this shard: its own connections', the peers' interest, and
/// the cache of recent matches.
#[derive(Debug, Default)]
pub(crate) struct AccountIndex {
    pub(super) local: Sublist<Target>,
    pub(super) remote: Sublist<RemoteEntry>,
    pub(super) cache: MatchCache,
}

impl AccountIndex {
    fn subscribe_service(&mut self, subject: &str, service: Service, on: bool) {
        let target = Target::Service(service);
        if on {
            // The subjects are the services' own, all valid.
            let _ = self.local.insert(subject.as_bytes(), None, target);
        } else {
            self.local.remove(subject.as_bytes(), None, &target);
        }
        self.cache.invalidate();
    }
}

/// What a subject matches on this shard and elsewhere.
#[derive(Debug, Default)]
pub(super) struct Destinations {
    pub(super) local: Matches<Target>,
    /// Shards with plain interest, ascending, once each.
    pub(super) remote_plain: Vec<PeerId>,
    /// Queue groups with members on other shards: (shard, weight) per group.
    pub(super) remote_queues: Vec<(Box<[u8]>, Vec<RemoteEntry>)>,
}

/// Results of recent matches, each stamped with the shard's interest generation. Any change
/// to the local subscriptions or to the replicated interest bumps the generation, which
/// retires every entry at once (O(1) per SUB/UNSUB), so cached subscription ids are live.
#[derive(Debug, Default)]
pub(super) struct MatchCache {
    map: HashMap<Box<[u8]>, (u64, Rc<Destinations>), RandomState>,
    generation: u64,
}

impl MatchCache {
    pub(super) fn invalidate(&mut self) {
        self.generation += 1;
    }

    pub(super) fn get(&self, subject: &[u8]) -> Option<Rc<Destinations>> {
        match self.map.get(subject) {
            Some((g, r)) if *g == self.generation => Some(r.clone()),
            _ => None,
        }
    }

    /// Live entries and their fan-out (local subscribers and groups, plus remote shards).
    pub(super) fn stats(&self) -> super::CacheStats {
        let mut s = super::CacheStats::default();
        for (g, r) in self.map.values() {
            if *g != self.generation {
                continue;
            }
            let fanout = r.local.plain.len()
                + r.local.queues.len()
                + r.remote_plain.len()
                + r.remote_queues.len();
            s.entries += 1;
            s.total_fanout += fanout;
            s.max_fanout = s.max_fanout.max(fanout);
        }
        s
    }

    pub(super) fn insert(&mut self, subject: &[u8], route: Rc<Destinations>) {
        if self.map.len() >= MATCH_CACHE_MAX && !self.map.contains_key(subject) {
            self.map.clear();
        }
        self.map.insert(subject.into(), (self.generation, route));
    }
}

//! Per-user publish and subscribe permissions, as the Go server enforces them (`client.go`
//! `setPermissions`, `pubAllowedFullCheck`, `canSubscribe`, `checkDenySub`, `deliverMsg`),
//! without I/O: the configured lists, their compiled form shared by every connection of a
//! user, and each connection's caches.
//!
//! A connection of a user without permissions carries no [`ConnPermissions`] at all, so the
//! message path pays one `Option` check for them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use foldhash::fast::RandomState;

use crate::subject::{Matches, Sublist};

/// Responses a user may send to one reply subject (`DEFAULT_ALLOW_RESPONSE_MAX_MSGS`).
pub const DEFAULT_RESPONSE_MAX_MSGS: u64 = 1;
/// How long a reply subject stays open to a user's response
/// (`DEFAULT_ALLOW_RESPONSE_EXPIRATION`, 2 minutes).
pub const DEFAULT_RESPONSE_EXPIRES: Duration = Duration::from_secs(120);
/// Queue group name reserved for the server's own subscriptions (`sysGroup`); clients may
/// not join it.
pub const SYSTEM_QUEUE: &[u8] = b"_sys_";

/// Publish results cached per connection before some are dropped (`maxPermCacheSize`).
const PUB_CACHE_MAX: usize = 128;
/// Delivery-deny results cached per connection before some are dropped
/// (`maxDenyPermCacheSize`).
const DENY_CACHE_MAX: usize = 256;
/// Entries dropped from a full cache at once (`pruneSize`).
const CACHE_PRUNE: usize = 32;
/// Tracked reply subjects before used-up and expired ones are dropped (`replyPermLimit`).
const REPLY_TRACK_LIMIT: usize = 4096;

/// Reply prefixes reserved for JetStream acks and gateways: a client may not publish with such
/// a reply (`isReservedReply`: `jsAckPre`, `gwReplyPrefix`, `oldGWReplyPrefix`).
const RESERVED_REPLY_PREFIXES: &[&[u8]] = &[b"$JS.ACK.", b"_GR_.", b"$GR."];
/// Reply prefix of service imports, reserved from its fourth byte on (`replyPrefix`).
const SERVICE_REPLY_PREFIX: &[u8] = b"_R_.";
/// Subject prefixes of gateway-routed replies, which clients may not publish to
/// (`hasGWRoutedReplyPrefix`).
const RESERVED_SUBJECT_PREFIXES: &[&[u8]] = &[b"_GR_.", b"$GR."];

/// Allow and deny lists for publishing or subscribing (Go's `SubjectPermission`). `allow` is
/// `None` when no allow list was given: everything not denied is allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubjectPermission {
    pub allow: Option<Vec<String>>,
    pub deny: Vec<String>,
}

/// `allow_responses`: publishing to the reply subjects of received messages
/// (Go's `ResponsePermission`). `None` means unlimited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponsePermission {
    pub max_msgs: Option<u64>,
    pub expires: Option<Duration>,
}

impl Default for ResponsePermission {
    fn default() -> Self {
        ResponsePermission {
            max_msgs: Some(DEFAULT_RESPONSE_MAX_MSGS),
            expires: Some(DEFAULT_RESPONSE_EXPIRES),
        }
    }
}

/// A user's permissions as configured (Go's `Permissions`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions {
    pub publish: Option<SubjectPermission>,
    pub subscribe: Option<SubjectPermission>,
    pub response: Option<ResponsePermission>,
}

/// A subscribe entry: a subject and, after blanks, an optional queue group (`"foo.> q"`,
/// Go's `splitSubjectQueue`).
pub fn split_subject_queue(entry: &str) -> (&str, Option<&str>) {
    let mut fields = entry.split_whitespace();
    let subject = fields.next().unwrap_or("");
    (subject, fields.next())
}

/// A user's permissions compiled into subject tries, shared by all its connections.
#[derive(Debug)]
pub struct UserPermissions {
    pub_allow: Option<Sublist<()>>,
    pub_deny: Option<Sublist<()>>,
    sub_allow: Option<Sublist<()>>,
    sub_deny: Option<Sublist<()>>,
    /// Plain subscribe-deny subjects, which wildcard subscriptions may still cover.
    sub_deny_plain: Vec<String>,
    response: Option<ResponsePermission>,
    /// The lists as configured, for `$SYS.REQ.USER.INFO`.
    configured: Permissions,
}

fn trie<'a>(entries: impl IntoIterator<Item = &'a String>) -> Sublist<()> {
    let mut list = Sublist::new();
    for e in entries {
        let (subject, queue) = split_subject_queue(e);
        // Entries were validated with the configuration; an invalid one matches nothing, as
        // the Go server ignores its insert error.
        let _ = list.insert(subject.as_bytes(), queue.map(str::as_bytes), ());
    }
    list
}

impl UserPermissions {
    pub fn new(p: &Permissions) -> UserPermissions {
        let publish = p.publish.clone().unwrap_or_default();
        let subscribe = p.subscribe.clone().unwrap_or_default();
        // `allow_responses` without a publish allow list allows no publish but responses
        // (`validateResponsePermissions`).
        let pub_allow = match (&publish.allow, &p.response) {
            (Some(allow), _) => Some(trie(allow)),
            (None, Some(_)) => Some(Sublist::new()),
            (None, None) => None,
        };
        let nonempty = |v: &Vec<String>| !v.is_empty();
        UserPermissions {
            pub_allow,
            pub_deny: Some(&publish.deny).filter(|d| nonempty(d)).map(trie),
            sub_allow: subscribe.allow.as_ref().filter(|a| nonempty(a)).map(trie),
            sub_deny: Some(&subscribe.deny).filter(|d| nonempty(d)).map(trie),
            sub_deny_plain: subscribe
                .deny
                .iter()
                .filter(|e| split_subject_queue(e).1.is_none())
                .cloned()
                .collect(),
            response: p.response.clone(),
            configured: p.clone(),
        }
    }

    /// The permissions in Go's JSON form (`Permissions`: `publish` and `subscribe` with
    /// their `allow`/`deny` lists, `responses` with `max` and `ttl` in nanoseconds).
    pub fn go_json(&self) -> serde_json::Value {
        let list = |p: &SubjectPermission| {
            let mut m = serde_json::Map::new();
            if let Some(a) = p.allow.as_ref().filter(|a| !a.is_empty()) {
                m.insert("allow".into(), serde_json::json!(a));
            }
            if !p.deny.is_empty() {
                m.insert("deny".into(), serde_json::json!(p.deny));
            }
            serde_json::Value::Object(m)
        };
        let c = &self.configured;
        let mut m = serde_json::Map::new();
        if let Some(p) = &c.publish {
            m.insert("publish".into(), list(p));
        }
        if let Some(s) = &c.subscribe {
            m.insert("subscribe".into(), list(s));
        }
        if let Some(r) = &c.response {
            m.insert(
                "responses".into(),
                serde_json::json!({
                    "max": r.max_msgs.unwrap_or(0),
                    "ttl": r.expires.map_or(0, |d| d.as_nanos() as u64),
                }),
            );
        }
        serde_json::Value::Object(m)
    }

    fn publish_listed(&self, subject: &[u8]) -> bool {
        let allowed = self
            .pub_allow
            .as_ref()
            .is_none_or(|a| !a.matches(subject).plain.is_empty());
        allowed
            && self
                .pub_deny
                .as_ref()
                .is_none_or(|d| d.matches(subject).plain.is_empty())
    }
}

/// Whether `queue` is one of the groups matched in a permission list: by name, or covered by
/// a wildcard group name (`queueMatches`).
fn queue_listed<V>(queue: &[u8], groups: &Matches<V>) -> bool {
    groups.queues.iter().any(|(name, _)| {
        **name == *queue
            || (crate::subject::has_wildcard(name) && crate::subject::is_subset_match(queue, name))
    })
}

/// Drops some entries of a full cache: which ones does not matter, as in Go's random prune.
fn prune<V>(cache: &mut HashMap<Box<[u8]>, V, RandomState>, n: usize) {
    let mut dropped = 0;
    cache.retain(|_, _| {
        dropped += 1;
        dropped > n
    });
}

/// A reply subject this connection received and may answer (Go's `resp`).
#[derive(Debug)]
struct OpenReply {
    since: Instant,
    sent: u64,
}

/// The subscribe-deny subjects checked at delivery, loaded once a wildcard subscription
/// covers one of them (Go's `msgDeny`).
#[derive(Debug)]
struct DeliveryDeny {
    deny: Sublist<()>,
    cache: HashMap<Box<[u8]>, bool, RandomState>,
}

/// One connection's view of its user's permissions, with its caches.
#[derive(Debug)]
pub struct ConnPermissions {
    user: Arc<UserPermissions>,
    pub_cache: HashMap<Box<[u8]>, bool, RandomState>,
    delivery_deny: Option<DeliveryDeny>,
    replies: HashMap<Box<[u8]>, OpenReply, RandomState>,
}

impl ConnPermissions {
    /// The user's permissions these were made from.
    pub fn user(&self) -> &UserPermissions {
        &self.user
    }

    pub fn new(user: Arc<UserPermissions>) -> ConnPermissions {
        ConnPermissions {
            user,
            pub_cache: HashMap::default(),
            delivery_deny: None,
            replies: HashMap::default(),
        }
    }

    /// Whether this connection may publish to `subject` now (`pubAllowedFullCheck`). Results
    /// are cached, except a denial that an open reply may lift.
    pub fn can_publish(&mut self, subject: &[u8], now: Instant) -> bool {
        let user = &*self.user;
        if user.pub_allow.is_none() && user.pub_deny.is_none() {
            return true;
        }
        if let Some(&allowed) = self.pub_cache.get(subject) {
            return allowed;
        }
        let allowed = user.publish_listed(subject);
        if let (false, Some(resp)) = (allowed, &user.response) {
            return self.answer_reply(subject, resp.clone(), now);
        }
        if self.pub_cache.len() >= PUB_CACHE_MAX {
            prune(&mut self.pub_cache, CACHE_PRUNE);
        }
        self.pub_cache.insert(subject.into(), allowed);
        allowed
    }

    /// Counts a response to an open reply subject; false when there is none, or it is used up
    /// or expired (then it is forgotten).
    fn answer_reply(&mut self, subject: &[u8], resp: ResponsePermission, now: Instant) -> bool {
        let Some(open) = self.replies.get_mut(subject) else {
            return false;
        };
        open.sent += 1;
        let used_up = resp.max_msgs.is_some_and(|max| open.sent > max);
        let expired = resp
            .expires
            .is_some_and(|ttl| now.saturating_duration_since(open.since) > ttl);
        if used_up || expired {
            self.replies.remove(subject);
            return false;
        }
        true
    }

    /// Whether this connection may subscribe to `subject`, in `queue` if given
    /// (`canSubscribe`). Allowing a wildcard that covers a denied subject turns on the
    /// delivery check for this connection.
    pub fn can_subscribe(&mut self, subject: &[u8], queue: Option<&[u8]>) -> bool {
        let user = &*self.user;
        let mut allowed = true;
        if let Some(allow) = &user.sub_allow {
            let m = allow.matches(subject);
            allowed = !m.plain.is_empty();
            if let (Some(q), false) = (queue, m.queues.is_empty()) {
                allowed = queue_listed(q, &m);
            }
        }
        let Some(deny) = user.sub_deny.as_ref().filter(|_| allowed) else {
            return allowed;
        };
        let m = deny.matches(subject);
        allowed = m.plain.is_empty();
        if let (Some(q), false) = (queue, m.queues.is_empty()) {
            allowed = !queue_listed(q, &m);
        }
        if allowed && self.delivery_deny.is_none() && crate::subject::has_wildcard(subject) {
            let covered = user
                .sub_deny_plain
                .iter()
                .any(|d| crate::subject::is_subset_match(d.as_bytes(), subject));
            if covered {
                self.delivery_deny = Some(DeliveryDeny {
                    deny: trie(&user.sub_deny_plain),
                    cache: HashMap::default(),
                });
            }
        }
        allowed
    }

    /// Whether a message on `subject` must not be delivered to this connection: a wildcard
    /// subscription let it through, but the subject is denied (`checkDenySub`).
    pub fn delivery_denied(&mut self, subject: &[u8]) -> bool {
        let Some(d) = &mut self.delivery_deny else {
            return false;
        };
        if let Some(&denied) = d.cache.get(subject) {
            return denied;
        }
        let denied = !d.deny.matches(subject).plain.is_empty();
        if d.cache.len() >= DENY_CACHE_MAX {
            prune(&mut d.cache, CACHE_PRUNE);
        }
        d.cache.insert(subject.into(), denied);
        denied
    }

    /// A message with `reply` was delivered to this connection: with `allow_responses` it may
    /// now publish to `reply`, afresh (`deliverMsg`).
    pub fn reply_received(&mut self, reply: &[u8], now: Instant) {
        let Some(resp) = &self.user.response else {
            return;
        };
        self.replies.insert(
            reply.into(),
            OpenReply {
                since: now,
                sent: 0,
            },
        );
        if self.replies.len() > REPLY_TRACK_LIMIT {
            let (max, ttl) = (resp.max_msgs, resp.expires);
            self.replies.retain(|_, r| {
                let used_up = max.is_some_and(|m| r.sent >= m);
                let expired = ttl.is_some_and(|t| now.saturating_duration_since(r.since) > t);
                !(used_up || expired)
            });
        }
    }
}

fn has_reserved_prefix(s: &[u8], prefixes: &[&[u8]]) -> bool {
    // Strictly longer than the prefix, as Go's `len(subj) > len(prefix)` checks.
    prefixes
        .iter()
        .any(|p| s.len() > p.len() && s.starts_with(p))
}

/// A subject clients may never publish to, permissions or not (gateway-routed replies).
pub fn is_reserved_subject(subject: &[u8]) -> bool {
    has_reserved_prefix(subject, RESERVED_SUBJECT_PREFIXES)
}

/// A reply subject clients may never publish with (`isReservedReply`).
pub fn is_reserved_reply(reply: &[u8]) -> bool {
    reply.starts_with(SERVICE_REPLY_PREFIX) || has_reserved_prefix(reply, RESERVED_REPLY_PREFIXES)
}

/// Go's `%q` of a subject: quoted, with `"`, `\` and anything unprintable escaped.
pub(crate) fn go_quote(s: &[u8]) -> String {
    let mut out = String::from("\"");
    for chunk in s.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' | '\\' => {
                    out.push('\\');
                    out.push(c);
                }
                '\x07' => out.push_str("\\a"),
                '\x08' => out.push_str("\\b"),
                '\x0c' => out.push_str("\\f"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\x0b' => out.push_str("\\v"),
                c if c.is_ascii_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
                c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out.push('"');
    out
}

/// `-ERR` text for a denied publish (`pubPermissionViolation`).
pub fn publish_violation(subject: &[u8]) -> String {
    format!("Permissions Violation for Publish to {}", go_quote(subject))
}

/// `-ERR` text for a publish with a reserved reply (`replySubjectViolation`).
pub fn reply_violation(reply: &[u8]) -> String {
    format!(
        "Permissions Violation for Publish with Reply of {}",
        go_quote(reply)
    )
}

/// What every denied-subscription `-ERR` starts with.
pub const SUBSCRIBE_VIOLATION: &str = "Permissions Violation for Subscription to ";

/// `-ERR` text for a denied subscription (`subPermissionViolation`).
pub fn subscribe_violation(subject: &[u8], queue: Option<&[u8]>) -> String {
    match queue {
        Some(q) => format!(
            "{SUBSCRIBE_VIOLATION}{} using queue {}",
            go_quote(subject),
            go_quote(q)
        ),
        None => format!("{SUBSCRIBE_VIOLATION}{}", go_quote(subject)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> Option<Vec<String>> {
        Some(entries.iter().map(|s| s.to_string()).collect())
    }

    fn conn(p: Permissions) -> ConnPermissions {
        ConnPermissions::new(Arc::new(UserPermissions::new(&p)))
    }

    fn subscribe(allow: &[&str], deny: &[&str]) -> ConnPermissions {
        conn(Permissions {
            subscribe: Some(SubjectPermission {
                allow: list(allow).filter(|a| !a.is_empty()),
                deny: list(deny).unwrap_or_default(),
            }),
            ..Permissions::default()
        })
    }

    #[test]
    fn publish_allow_then_deny_cached() {
        let mut p = conn(Permissions {
            publish: Some(SubjectPermission {
                allow: list(&["foo.*", "req"]),
                deny: vec!["foo.bad".into()],
            }),
            ..Permissions::default()
        });
        let now = Instant::now();
        assert!(p.can_publish(b"foo.ok", now));
        assert!(p.can_publish(b"req", now));
        assert!(!p.can_publish(b"foo.bad", now));
        assert!(!p.can_publish(b"bar", now));
        assert!(!p.can_publish(b"foo.a.b", now));
        assert_eq!(p.pub_cache.get(&b"foo.bad"[..]), Some(&false));
        for i in 0..1000 {
            assert!(p.can_publish(format!("foo.{i}").as_bytes(), now));
        }
        assert!(p.pub_cache.len() <= PUB_CACHE_MAX);
    }

    #[test]
    fn no_publish_lists_allow_everything() {
        let mut p = subscribe(&["x"], &[]);
        assert!(p.can_publish(b"anything", Instant::now()));
        assert!(p.pub_cache.is_empty());
    }

    #[test]
    fn subscribe_allow_deny_and_queues() {
        let mut p = subscribe(
            &["foo.>", "q.* grp", "qq.* g.*"],
            &["foo.secret", "foo.x.* qd"],
        );
        assert!(p.can_subscribe(b"foo.a", None));
        assert!(p.can_subscribe(b"foo.>", None));
        assert!(!p.can_subscribe(b"foo.secret", None));
        assert!(!p.can_subscribe(b"bar", None));
        // A subject listed only with a queue takes only that queue.
        assert!(!p.can_subscribe(b"q.a", None));
        assert!(p.can_subscribe(b"q.a", Some(b"grp")));
        assert!(!p.can_subscribe(b"q.a", Some(b"other")));
        // Wildcard queue names cover queue names.
        assert!(p.can_subscribe(b"qq.a", Some(b"g.x")));
        assert!(!p.can_subscribe(b"qq.a", Some(b"g.x.y")));
        assert!(!p.can_subscribe(b"qq.a", Some(b"g")));
        // A queue deny denies only that queue.
        assert!(!p.can_subscribe(b"foo.x.y", Some(b"qd")));
        assert!(p.can_subscribe(b"foo.x.y", Some(b"qe")));
        assert!(p.can_subscribe(b"foo.x.y", None));
    }

    #[test]
    fn wildcard_allow_matches_wildcard_subscriptions_token_by_token() {
        // As the Go server's Sublist.Match: `>` in a SUB is one token that `*` matches.
        let mut p = subscribe(&["foo.*"], &[]);
        assert!(p.can_subscribe(b"foo.*", None));
        assert!(p.can_subscribe(b"foo.>", None));
        assert!(!p.can_subscribe(b"*", None));
        assert!(!p.can_subscribe(b"foo.a.>", None));
    }

    #[test]
    fn delivery_deny_starts_with_a_covering_wildcard() {
        let mut p = subscribe(&[], &["foo.secret"]);
        assert!(!p.delivery_denied(b"foo.secret"));
        assert!(p.can_subscribe(b"bar.*", None));
        assert!(p.delivery_deny.is_none());
        assert!(p.can_subscribe(b"foo.*", None));
        assert!(p.delivery_denied(b"foo.secret"));
        assert!(!p.delivery_denied(b"foo.ok"));
        for i in 0..1000 {
            p.delivery_denied(format!("foo.{i}").as_bytes());
        }
        assert!(p.delivery_deny.as_ref().unwrap().cache.len() <= DENY_CACHE_MAX);
    }

    #[test]
    fn responses_open_reply_subjects() {
        let mut p = conn(Permissions {
            response: Some(ResponsePermission {
                max_msgs: Some(2),
                expires: Some(Duration::from_secs(60)),
            }),
            ..Permissions::default()
        });
        let t0 = Instant::now();
        // Responses alone allow no other publish.
        assert!(!p.can_publish(b"reply.1", t0));
        p.reply_received(b"reply.1", t0);
        assert!(p.can_publish(b"reply.1", t0));
        assert!(p.can_publish(b"reply.1", t0));
        assert!(!p.can_publish(b"reply.1", t0));
        p.reply_received(b"reply.2", t0);
        assert!(!p.can_publish(b"reply.2", t0 + Duration::from_secs(61)));
        assert!(!p.can_publish(b"other", t0));
    }

    #[test]
    fn answered_replies_are_dropped_past_the_limit() {
        let mut p = conn(Permissions {
            response: Some(ResponsePermission::default()),
            ..Permissions::default()
        });
        let t0 = Instant::now();
        for i in 0..REPLY_TRACK_LIMIT {
            let reply = format!("r.{i}");
            p.reply_received(reply.as_bytes(), t0);
            assert!(p.can_publish(reply.as_bytes(), t0));
        }
        assert_eq!(p.replies.len(), REPLY_TRACK_LIMIT);
        p.reply_received(b"last", t0);
        assert_eq!(p.replies.len(), 1);
    }

    #[test]
    fn responses_unlimited() {
        let mut p = conn(Permissions {
            response: Some(ResponsePermission {
                max_msgs: None,
                expires: None,
            }),
            ..Permissions::default()
        });
        let t0 = Instant::now();
        p.reply_received(b"r", t0);
        for _ in 0..10 {
            assert!(p.can_publish(b"r", t0 + Duration::from_secs(3600)));
        }
    }

    #[test]
    fn reserved_subjects_and_replies() {
        assert!(is_reserved_subject(b"_GR_.x"));
        assert!(is_reserved_subject(b"$GR.x"));
        assert!(!is_reserved_subject(b"_GR_."));
        assert!(!is_reserved_subject(b"$GNR.x"));
        for r in ["_R_.", "_R_.x", "$JS.ACK.a", "_GR_.a", "$GR.a"] {
            assert!(is_reserved_reply(r.as_bytes()), "{r}");
        }
        for r in ["_R_", "$JS.ACK.", "_GR_.", "$GR.", "$GNR.a", "_r_.a"] {
            assert!(!is_reserved_reply(r.as_bytes()), "{r}");
        }
    }

    #[test]
    fn violation_texts_quote_as_go() {
        assert_eq!(
            publish_violation(b"foo.bad"),
            "Permissions Violation for Publish to \"foo.bad\""
        );
        assert_eq!(
            subscribe_violation(b"q.a", Some(b"other")),
            "Permissions Violation for Subscription to \"q.a\" using queue \"other\""
        );
        assert_eq!(
            reply_violation(b"_R_.x"),
            "Permissions Violation for Publish with Reply of \"_R_.x\""
        );
        assert_eq!(
            go_quote(b"a\"b\\c\x01\xff\x07"),
            "\"a\\\"b\\\\c\\x01\\xff\\a\""
        );
    }

    #[test]
    fn subject_queue_entries() {
        assert_eq!(split_subject_queue("foo.> q"), ("foo.>", Some("q")));
        assert_eq!(split_subject_queue("foo  q"), ("foo", Some("q")));
        assert_eq!(split_subject_queue("foo"), ("foo", None));
    }
}

//! A consumer's configuration as the JetStream API carries it (Go's `ConsumerConfig`,
//! fields in its order, `omitempty` where Go has it), Go's defaults and checks
//! (`setConsumerConfigDefaults`, `checkConsumerCfg`, `checkNewConsumerConfig` in nats-server
//! `server/consumer.go`), and what a consumer's info shows.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::config::{cannot_unmarshal, is_false, is_zero_i64, is_zero_u64, StreamConfig};
use super::errors::ApiError;
use crate::subject;

/// Go's `JSWaitQueueDefaultMax`: pull requests a consumer holds at once by default.
const DEFAULT_MAX_WAITING: i64 = 512;
/// Go's `JsAckWaitDefault`: 30 s, in nanoseconds.
const DEFAULT_ACK_WAIT_NS: i64 = 30_000_000_000;
/// Go's `JsDefaultMaxAckPending`.
const DEFAULT_MAX_ACK_PENDING: i64 = 1000;
/// Go's `JsDeleteWaitTimeDefault`: how long an ephemeral lives unused, 5 s in nanoseconds.
pub(super) const DEFAULT_INACTIVE_THRESHOLD_NS: i64 = 5_000_000_000;
/// Go's `JsDefaultPinnedTTL`: 2 min, in nanoseconds.
const DEFAULT_PINNED_TTL_NS: i64 = 120_000_000_000;
/// The shortest push heartbeat Go accepts: 100 ms, in nanoseconds.
const MIN_HEARTBEAT_NS: i64 = 100_000_000;
/// The shortest `max_expires` Go accepts: 1 ms, in nanoseconds.
const MIN_MAX_EXPIRES_NS: i64 = 1_000_000;
/// Go's `JSMaxDescriptionLen`.
const MAX_DESCRIPTION_LEN: usize = 4 * 1024;

/// Declares a policy enum decoded from Go's lowercase names, refusing others with
/// `unknown` (the text of Go's `UnmarshalJSON` error for that type).
macro_rules! policy {
    ($(#[$doc:meta])* $name:ident, $unknown:expr, { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "&'static str")]
        pub(crate) enum $name {
            #[default]
            $($variant),+
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(v: String) -> Result<Self, String> {
                match v.as_str() {
                    $($text => Ok($name::$variant),)+
                    _ => Err($unknown(&v)),
                }
            }
        }

        impl From<$name> for &'static str {
            fn from(p: $name) -> &'static str {
                match p {
                    $($name::$variant => $text),+
                }
            }
        }
    };
}

/// Go's `validGroupName`: `^[a-zA-Z0-9/_=-]{1,16}$`.
pub(crate) fn is_valid_group_name(g: &str) -> bool {
    (1..=MAX_GROUP_NAME_LEN).contains(&g.len())
        && g.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_=-".contains(&b))
}

/// The longest priority group name Go's `validGroupName` takes.
const MAX_GROUP_NAME_LEN: usize = 16;

fn unknown_priority_policy(v: &str) -> String {
    format!("unknown priority policy: \"{v}\"")
}

policy!(
    /// Where a consumer starts.
    DeliverPolicy, cannot_unmarshal, {
        All = "all",
        Last = "last",
        New = "new",
        ByStartSequence = "by_start_sequence",
        ByStartTime = "by_start_time",
        LastPerSubject = "last_per_subject",
    }
);

policy!(
    /// How deliveries are acknowledged.
    AckPolicy, cannot_unmarshal, {
        None = "none",
        All = "all",
        Explicit = "explicit",
        FlowControl = "flow_control",
    }
);

policy!(
    /// How fast stored messages are replayed.
    ReplayPolicy, cannot_unmarshal, {
        Instant = "instant",
        Original = "original",
    }
);

policy!(
    /// How pull requests of priority groups are served.
    PriorityPolicy, unknown_priority_policy, {
        None = "none",
        Overflow = "overflow",
        PinnedClient = "pinned_client",
        Prioritized = "prioritized",
    }
);

impl PriorityPolicy {
    pub(crate) fn is_none(&self) -> bool {
        *self == PriorityPolicy::None
    }
}

impl DeliverPolicy {
    /// How Go's start-position errors name the policy.
    fn words(self) -> &'static str {
        match self {
            DeliverPolicy::All => "all",
            DeliverPolicy::Last => "last",
            DeliverPolicy::New => "new",
            DeliverPolicy::ByStartSequence => "by start sequence",
            DeliverPolicy::ByStartTime => "by start time",
            DeliverPolicy::LastPerSubject => "last per subject",
        }
    }
}

/// Go's `ConsumerConfig`. Durations are nanoseconds; times are kept as given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct ConsumerConfig {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub durable_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub deliver_policy: DeliverPolicy,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub opt_start_seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opt_start_time: Option<String>,
    pub ack_policy: AckPolicy,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub ack_wait: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_deliver: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub backoff: Vec<i64>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub filter_subject: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filter_subjects: Vec<String>,
    pub replay_policy: ReplayPolicy,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub rate_limit_bps: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sample_freq: String,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_waiting: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_ack_pending: i64,
    #[serde(skip_serializing_if = "is_false")]
    pub flow_control: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub headers_only: bool,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_batch: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_expires: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_bytes: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub deliver_subject: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub deliver_group: String,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub idle_heartbeat: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub inactive_threshold: i64,
    pub num_replicas: i64,
    #[serde(skip_serializing_if = "is_false")]
    pub mem_storage: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub direct: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub sourcing: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause_until: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub priority_groups: Vec<String>,
    #[serde(skip_serializing_if = "PriorityPolicy::is_none")]
    pub priority_policy: PriorityPolicy,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub priority_timeout: i64,
}

/// Go's `CreateConsumerRequest`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct CreateRequest {
    pub stream_name: String,
    pub config: ConsumerConfig,
    pub action: Action,
    pub pedantic: bool,
}

policy!(
    /// Whether a create may make a consumer, change one, or both.
    Action, unknown_action, {
        CreateOrUpdate = "",
        Create = "create",
        Update = "update",
    }
);

fn unknown_action(v: &str) -> String {
    format!("unknown consumer action: \"{v}\"")
}

/// Go's `isValidAssetName` for consumers: no `.`, `*`, `>`, `\` or `/`, nor whitespace.
fn is_valid_consumer_name(name: &str) -> bool {
    !name
        .chars()
        .any(|c| c.is_whitespace() || matches!(c, '.' | '*' | '>' | '\\' | '/'))
}

impl ConsumerConfig {
    /// Whether it lives on when unused (Go's `isDurableConsumer`).
    pub(crate) fn is_durable(&self) -> bool {
        !self.durable_name.is_empty()
    }

    /// Its filters, one or several.
    pub(crate) fn filters(&self) -> Vec<&str> {
        if self.filter_subject.is_empty() {
            self.filter_subjects.iter().map(String::as_str).collect()
        } else {
            vec![self.filter_subject.as_str()]
        }
    }

    /// Go's `setConsumerConfigDefaults` (outside pedantic mode) for a consumer of a stream
    /// configured as `stream`.
    pub(crate) fn with_defaults(mut self, stream: &StreamConfig) -> ConsumerConfig {
        if self.max_deliver == 0 || self.max_deliver < -1 {
            self.max_deliver = -1;
        }
        for v in [
            &mut self.max_waiting,
            &mut self.max_batch,
            &mut self.max_expires,
            &mut self.max_bytes,
            &mut self.idle_heartbeat,
            &mut self.inactive_threshold,
            &mut self.priority_timeout,
        ] {
            *v = (*v).max(0);
        }
        if self.max_ack_pending < -1 {
            self.max_ack_pending = -1;
        }
        if self.deliver_subject.is_empty() && self.max_waiting == 0 {
            self.max_waiting = DEFAULT_MAX_WAITING;
        }
        if self.ack_wait == 0 && matches!(self.ack_policy, AckPolicy::Explicit | AckPolicy::All) {
            self.ack_wait = DEFAULT_ACK_WAIT_NS;
        }
        if let Some(&first) = self.backoff.first() {
            self.ack_wait = first;
        }
        if self.max_ack_pending == 0 {
            self.max_ack_pending = stream.consumer_limits.max_ack_pending;
        }
        if self.inactive_threshold == 0 {
            self.inactive_threshold = stream.consumer_limits.inactive_threshold;
        }
        if self.max_ack_pending == 0 && self.ack_policy != AckPolicy::None {
            self.max_ack_pending = DEFAULT_MAX_ACK_PENDING;
        }
        if self.priority_policy == PriorityPolicy::PinnedClient && self.priority_timeout == 0 {
            self.priority_timeout = DEFAULT_PINNED_TTL_NS;
        }
        self
    }

    /// Go's `checkConsumerCfg` for a consumer of `stream`, as far as a single server checks.
    pub(crate) fn check(&self, stream: &StreamConfig) -> Result<(), ApiError> {
        if !self.name.is_empty() && !is_valid_consumer_name(&self.name) {
            return Err(ApiError::invalid_config(
                "consumer name can not contain '.', '*', '>', '\\', '/'",
            ));
        }
        if !self.durable_name.is_empty() && !is_valid_consumer_name(&self.durable_name) {
            return Err(ApiError::invalid_config(
                "consumer durable name can not contain '.', '*', '>', '\\', '/'",
            ));
        }
        if self.backoff.iter().any(|b| *b < 0) {
            return Err(ApiError::consumer_backoff_negative());
        }
        if self.ack_wait < 0 {
            return Err(ApiError::consumer_ack_wait_negative());
        }
        let lbo = self.backoff.len() as i64;
        if lbo > 0 && self.max_deliver != -1 && lbo > self.max_deliver {
            return Err(ApiError::consumer_max_deliver_backoff());
        }
        if self.description.len() > MAX_DESCRIPTION_LEN {
            return Err(ApiError::consumer_description_too_long(MAX_DESCRIPTION_LEN));
        }
        if self.deliver_subject.is_empty() {
            self.check_pull(stream)?;
        } else {
            self.check_push(stream)?;
        }
        let limit = stream.consumer_limits.max_ack_pending;
        if limit > 0 && self.max_ack_pending > limit {
            return Err(ApiError::consumer_max_ack_pending_excess(limit));
        }
        let limit = stream.consumer_limits.inactive_threshold;
        if limit > 0 && self.inactive_threshold > limit {
            return Err(ApiError::consumer_inactive_threshold_excess(limit));
        }
        if self.direct {
            if self.deliver_subject.is_empty() {
                return Err(ApiError::consumer_direct_requires_push());
            }
            if self.is_durable() {
                return Err(ApiError::consumer_direct_requires_ephemeral());
            }
        }
        if !self.filter_subject.is_empty() && !self.filter_subjects.is_empty() {
            return Err(ApiError::consumer_duplicate_filter_subjects());
        }
        if !self.filter_subject.is_empty()
            && !subject::is_valid_subscription(self.filter_subject.as_bytes())
        {
            return Err(ApiError::invalid_config("invalid subject"));
        }
        if self.filter_subjects.iter().any(String::is_empty) {
            return Err(ApiError::consumer_empty_filter());
        }
        let filters = self.filters();
        for (i, f) in filters.iter().enumerate() {
            if !subject::is_valid_subscription(f.as_bytes()) {
                return Err(ApiError::invalid_config("invalid subject"));
            }
            let overlaps = filters
                .iter()
                .enumerate()
                .any(|(j, g)| i != j && subject::is_subset_match(f.as_bytes(), g.as_bytes()));
            if overlaps {
                return Err(ApiError::consumer_overlapping_filters());
            }
        }
        self.check_start(&filters)?;
        if !self.sample_freq.is_empty() {
            match self.sample_percent() {
                Err(why) => return Err(ApiError::consumer_invalid_sampling(why)),
                // Go's check finds no parse error to name here.
                Ok(n) if n < 0 => return Err(ApiError::consumer_invalid_sampling("<nil>")),
                Ok(_) => {}
            }
        }
        self.check_priority()
    }

    /// `sample_freq` as Go reads it: a whole number, with or without one `%`; the error
    /// is Go's `strconv.Atoi` one.
    pub(crate) fn sample_percent(&self) -> Result<i64, String> {
        let s = self
            .sample_freq
            .strip_suffix('%')
            .unwrap_or(&self.sample_freq);
        s.parse::<i64>().map_err(|e| {
            let why = match e.kind() {
                std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                    "value out of range"
                }
                _ => "invalid syntax",
            };
            format!("strconv.Atoi: parsing {s:?}: {why}")
        })
    }

    /// Priority groups (the end of Go's `checkConsumerCfg`).
    fn check_priority(&self) -> Result<(), ApiError> {
        if self.priority_policy.is_none() {
            if !self.priority_groups.is_empty() {
                return Err(ApiError::consumer_priority_group_with_policy_none());
            }
            if self.priority_timeout > 0 {
                return Err(ApiError::consumer_pinned_ttl_without_priority_policy());
            }
            return Ok(());
        }
        if !self.deliver_subject.is_empty() {
            return Err(ApiError::consumer_push_with_priority_group());
        }
        if self.priority_groups.is_empty() {
            return Err(ApiError::consumer_priority_policy_without_group());
        }
        for g in &self.priority_groups {
            if g.is_empty() {
                return Err(ApiError::consumer_empty_group_name());
            }
            if !is_valid_group_name(g) {
                return Err(ApiError::consumer_invalid_group_name());
            }
        }
        Ok(())
    }

    fn check_push(&self, stream: &StreamConfig) -> Result<(), ApiError> {
        let to = self.deliver_subject.as_bytes();
        if subject::has_wildcard(to) {
            return Err(ApiError::consumer_deliver_to_wildcards());
        }
        if !subject::is_valid_literal(to) {
            return Err(ApiError::consumer_invalid_deliver_subject());
        }
        if stream
            .subjects
            .iter()
            .any(|s| subject::matches_literal(s.as_bytes(), to))
        {
            return Err(ApiError::consumer_deliver_cycle());
        }
        if self.max_waiting != 0 {
            return Err(ApiError::consumer_push_max_waiting());
        }
        if self.max_ack_pending > 0 && self.ack_policy == AckPolicy::None {
            return Err(ApiError::consumer_max_pending_ack_policy_required());
        }
        if self.idle_heartbeat > 0 && self.idle_heartbeat < MIN_HEARTBEAT_NS {
            return Err(ApiError::consumer_small_heartbeat());
        }
        Ok(())
    }

    fn check_pull(&self, stream: &StreamConfig) -> Result<(), ApiError> {
        if self.ack_policy == AckPolicy::None
            && stream.retention == super::config::Retention::Workqueue
        {
            return Err(ApiError::consumer_pull_requires_ack());
        }
        if self.rate_limit_bps > 0 {
            return Err(ApiError::consumer_pull_with_rate_limit());
        }
        if self.idle_heartbeat > 0 {
            return Err(ApiError::consumer_heartbeat_requires_push());
        }
        if self.flow_control {
            return Err(ApiError::consumer_flow_control_requires_push());
        }
        if self.max_expires != 0 && self.max_expires < MIN_MAX_EXPIRES_NS {
            return Err(ApiError::consumer_max_request_expires_too_small());
        }
        Ok(())
    }

    /// The start position against the deliver policy (Go's `badStart`/`notSet` errors).
    fn check_start(&self, filters: &[&str]) -> Result<(), ApiError> {
        let dp = self.deliver_policy.words();
        let also = |start: &str| {
            Err(ApiError::consumer_invalid_policy(format!(
                "consumer delivery policy is deliver {dp}, but optional start {start} is also set"
            )))
        };
        let missing = |what: &str| {
            Err(ApiError::consumer_invalid_policy(format!(
                "consumer delivery policy is deliver {dp}, but optional {what} is not set"
            )))
        };
        let (seq, time) = (self.opt_start_seq > 0, self.opt_start_time.is_some());
        match self.deliver_policy {
            DeliverPolicy::All | DeliverPolicy::Last | DeliverPolicy::New => {
                if seq {
                    return also("sequence");
                }
                if time {
                    return also("time");
                }
            }
            DeliverPolicy::LastPerSubject => {
                if seq {
                    return also("sequence");
                }
                if time {
                    return also("time");
                }
                if filters.is_empty() {
                    return missing("filter subject");
                }
            }
            DeliverPolicy::ByStartSequence => {
                if !seq {
                    return missing("start sequence");
                }
                if time {
                    return also("time");
                }
            }
            DeliverPolicy::ByStartTime => {
                if !time {
                    return missing("start time");
                }
                if seq {
                    return also("sequence");
                }
            }
        }
        Ok(())
    }

    /// Go's `checkNewConsumerConfig`: what an update may not change.
    pub(crate) fn check_update(&self, new: &ConsumerConfig) -> Result<(), ApiError> {
        let refuse = |what: &str| {
            Err(ApiError::consumer_create(format!(
                "{what} can not be updated"
            )))
        };
        if self.deliver_policy != new.deliver_policy {
            return refuse("deliver policy");
        }
        if self.opt_start_seq != new.opt_start_seq {
            return refuse("start sequence");
        }
        if self.opt_start_time != new.opt_start_time {
            return refuse("start time");
        }
        if self.ack_policy != new.ack_policy {
            return refuse("ack policy");
        }
        if self.replay_policy != new.replay_policy {
            return refuse("replay policy");
        }
        if self.idle_heartbeat != new.idle_heartbeat {
            return refuse("heart beats");
        }
        if self.flow_control != new.flow_control {
            return refuse("flow control");
        }
        match (
            self.deliver_subject.is_empty(),
            new.deliver_subject.is_empty(),
        ) {
            (true, false) => {
                return Err(ApiError::consumer_create(
                    "can not update pull consumer to push based",
                ))
            }
            (false, true) => {
                return Err(ApiError::consumer_create(
                    "can not update push consumer to pull based",
                ))
            }
            _ => {}
        }
        if self.mem_storage != new.mem_storage {
            return refuse("storage type");
        }
        Ok(())
    }

    /// `_nats.req.level` (Go's `setStaticConsumerMetadata`): 1 for pausing and priority
    /// groups, 3 for the flow-control ack policy (API levels of 2.11 and 2.14).
    fn required_level(&self) -> u32 {
        if self.ack_policy == AckPolicy::FlowControl {
            3
        } else {
            u32::from(
                self.pause_until.is_some()
                    || !self.priority_groups.is_empty()
                    || !self.priority_policy.is_none(),
            )
        }
    }

    /// The configuration as stored: the caller's metadata plus `_nats.req.level`.
    pub(crate) fn with_stored_metadata(mut self) -> ConsumerConfig {
        let level = self.required_level();
        super::config::store_metadata(&mut self.metadata, level);
        self
    }

    /// The configuration as create and info replies show it.
    pub(crate) fn with_dynamic_metadata(&self) -> ConsumerConfig {
        let mut c = self.clone();
        super::config::add_dynamic_metadata(&mut c.metadata);
        c
    }
}

/// A delivered or acknowledged position: consumer and stream sequence (Go's
/// `SequenceInfo` without its time).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SequencePair {
    pub consumer_seq: u64,
    pub stream_seq: u64,
}

/// One consumer of a stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Consumer {
    /// The configuration as stored (with `_nats.req.level`).
    pub config: ConsumerConfig,
    /// Creation time, nanoseconds since the Unix epoch.
    pub created: i64,
    pub delivered: SequencePair,
    pub ack_floor: SequencePair,
    /// When a client last used it, nanoseconds since the Unix epoch: its creation, or the
    /// server's start for a recovered one (Go restarts the count too).
    #[serde(skip, default = "super::now_ns")]
    pub last_active: i64,
    /// What it has under way: requests, unacknowledged messages, redeliveries.
    #[serde(skip)]
    pub out: Outstanding,
}

/// What a file stream keeps of a consumer's progress besides its configuration (Go's
/// `ConsumerState`): positions, the messages awaiting acks and those delivered again.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct ConsumerState {
    pub delivered: SequencePair,
    pub ack_floor: SequencePair,
    /// (stream sequence, consumer sequence, delivered at ns).
    pub pending: Vec<(u64, u64, i64)>,
    /// (stream sequence, deliveries after the first).
    pub redelivered: Vec<(u64, u64)>,
}

/// A delivered message not acknowledged yet (Go's `Pending`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pending {
    /// The consumer sequence of its first delivery (Go keeps it across redeliveries).
    pub consumer_seq: u64,
    /// When it was last delivered (or its wait restarted), ns since the epoch.
    pub ts: i64,
}

/// The client a `pinned_client` consumer serves (Go's `currentPinId`, `pinnedTS` and the
/// `priority_timeout` timer): one per consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pin {
    pub id: String,
    /// When it was pinned, and when the pin lapses unless a request with it comes first;
    /// ns since the epoch.
    pub since: i64,
    pub lapses: i64,
}

/// What a consumer has under way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Outstanding {
    /// Pull requests waiting for messages, served in turn.
    pub waiting: VecDeque<super::pull::PullRequest>,
    /// Delivered, not acknowledged: by stream sequence.
    pub pending: BTreeMap<u64, Pending>,
    /// Deliveries after the first, of messages delivered again (Go's `rdc`).
    pub redelivered: HashMap<u64, u64>,
    /// Stream sequences due for delivery again, in order (Go's `rdq`).
    pub redeliver: VecDeque<u64>,
    /// Ack deadlines: (when, stream sequence). An entry is stale once its message was
    /// acknowledged or its wait restarted; the check is made when it comes due.
    pub deadlines: BTreeSet<(i64, u64)>,
    /// The last stream sequence looked at (Go's `sseq - 1`): the last delivered, or past
    /// messages its filter skipped to the end of the stream.
    pub scanned: u64,
    /// Messages after `scanned` that it would deliver (Go's `npc`).
    pub num_pending: u64,
    /// `last_per_subject`: the sequences still to deliver first, in order.
    pub last_per_subject: VecDeque<u64>,
    /// When it last delivered, and last took an ack: ns since the epoch, 0 for never.
    pub delivered_at: i64,
    pub acked_at: i64,
    /// A push consumer: whether someone listens on its deliver subject (Go's `push_bound`),
    /// and when its next idle heartbeat is due.
    pub push_bound: bool,
    pub next_heartbeat: i64,
    /// Flow control: bytes delivered and not yet covered by a response, the window, and
    /// the request outstanding with the bytes it covers (Go's `pbytes`, `maxpb`, `fcid`,
    /// `fcsz`).
    pub fc_bytes: i64,
    pub fc_window: i64,
    pub fc_id: Option<String>,
    pub fc_size: i64,
    /// `replay_policy: original`: the time of the message sent last and when it was sent,
    /// when the next may go, and whether it has caught up with the stream (live messages
    /// then go at once, as Go's `o.replay` turns off).
    pub replay_last: (i64, i64),
    pub replay_due: Option<i64>,
    pub replay_caught_up: bool,
    /// `rate_limit_bps`: its bucket, and when the message it holds back may go, and
    /// whether that is a first delivery.
    pub rate: Option<super::rate_limit::RateLimit>,
    pub rate_held: Option<(i64, bool)>,
    /// `pinned_client`: the request id pinned, if any.
    pub pin: Option<Pin>,
    /// Its progress changed since it was last written.
    pub changed: bool,
    /// A push that stopped at the turn's share with more to send: it goes on next turn.
    pub turn_full: bool,
}

impl Consumer {
    /// Whether it has gone unused for its `inactive_threshold` by `now`: no pull request
    /// waiting, nobody on its deliver subject.
    pub(crate) fn idle(&self, now: i64) -> bool {
        let threshold = self.config.inactive_threshold;
        threshold > 0
            && self.out.waiting.is_empty()
            && !self.out.push_bound
            && now - self.last_active >= threshold
    }

    /// A new consumer whose first message will be the stream's `first` or a later one.
    pub(crate) fn new(config: ConsumerConfig, created: i64, first: u64) -> Consumer {
        let at = SequencePair {
            consumer_seq: 0,
            stream_seq: first.saturating_sub(1),
        };
        Consumer {
            config,
            created,
            delivered: at,
            ack_floor: at,
            last_active: created,
            out: Outstanding::default(),
        }
    }

    /// Its progress, to keep.
    pub(crate) fn state(&self) -> ConsumerState {
        ConsumerState {
            delivered: self.delivered,
            ack_floor: self.ack_floor,
            pending: self
                .out
                .pending
                .iter()
                .map(|(&s, p)| (s, p.consumer_seq, p.ts))
                .collect(),
            redelivered: self.out.redelivered.iter().map(|(&s, &n)| (s, n)).collect(),
        }
    }

    /// Takes up the progress kept in `state`: what was pending waits for its ack again,
    /// from when it was delivered.
    pub(crate) fn restore(&mut self, state: ConsumerState) {
        self.delivered = state.delivered;
        self.ack_floor = state.ack_floor;
        self.out.redelivered = state.redelivered.into_iter().collect();
        for (seq, consumer_seq, ts) in state.pending {
            self.out.pending.insert(seq, Pending { consumer_seq, ts });
            let deadline = ts.saturating_add(self.ack_wait(self.deliveries(seq)));
            self.out.deadlines.insert((deadline, seq));
        }
    }

    /// The ack floor once nothing is pending (Go's `dseq - 1`, `sseq - 1`).
    pub(crate) fn caught_up(&self) -> SequencePair {
        SequencePair {
            consumer_seq: self.delivered.consumer_seq,
            stream_seq: self.out.scanned,
        }
    }

    /// Whether a new message may go out at once: a pull request waits, or it pushes.
    pub(crate) fn has_takers(&self) -> bool {
        !self.out.waiting.is_empty() || !self.config.deliver_subject.is_empty()
    }

    /// Whether it delivers messages stored on `subject`.
    pub(crate) fn wants(&self, subject: &[u8]) -> bool {
        let c = &self.config;
        if c.filter_subject.is_empty() && c.filter_subjects.is_empty() {
            return true;
        }
        std::iter::once(&c.filter_subject)
            .chain(&c.filter_subjects)
            .any(|f| !f.is_empty() && subject::matches_literal(f.as_bytes(), subject))
    }

    /// How long a message delivered `deliveries` times waits for its ack: its `backoff`
    /// step, or `ack_wait`.
    pub(crate) fn ack_wait(&self, deliveries: u64) -> i64 {
        let b = &self.config.backoff;
        match b.len() {
            0 => self.config.ack_wait,
            n => b[(deliveries.max(1) as usize - 1).min(n - 1)],
        }
    }

    /// How many times message `seq` was delivered (Go's `deliveryCount`).
    pub(crate) fn deliveries(&self, seq: u64) -> u64 {
        self.out.redelivered.get(&seq).map_or(1, |n| n + 1)
    }

    /// A message on `subject` at `seq` left the stream: it is no longer to come, pending
    /// or due again.
    pub(crate) fn forget(&mut self, seq: u64, subject: &[u8]) {
        if seq > self.out.scanned && self.wants(subject) {
            self.out.num_pending = self.out.num_pending.saturating_sub(1);
        }
        if self.out.pending.remove(&seq).is_some() {
            self.out.changed = true;
        }
        self.out.redelivered.remove(&seq);
        self.out.last_per_subject.retain(|&s| s != seq);
    }

    /// The stream was purged up to `next`: nothing before it is to come or pending (Go's
    /// `consumer.purge`).
    pub(crate) fn purged(&mut self, next: u64) {
        self.out.changed = true;
        let before = next.saturating_sub(1);
        self.delivered.stream_seq = self.delivered.stream_seq.max(before);
        self.out.scanned = self.out.scanned.max(before);
        if self.ack_floor.stream_seq < before {
            self.ack_floor.stream_seq = before;
            while let Some(e) = self
                .out
                .pending
                .first_entry()
                .filter(|e| *e.key() <= before)
            {
                let (seq, p) = e.remove_entry();
                self.ack_floor.consumer_seq = self.ack_floor.consumer_seq.max(p.consumer_seq);
                self.out.redelivered.remove(&seq);
            }
        }
        if self.out.pending.is_empty() {
            self.out.redelivered.clear();
            self.ack_floor = self.caught_up();
        }
        let pending = &self.out.pending;
        self.out.redeliver.retain(|s| pending.contains_key(s));
        self.out.num_pending = 0;
        self.out.last_per_subject.clear();
    }

    /// Whether it has acknowledged message `seq` on `subject` (or never will deliver it):
    /// what interest retention asks of every consumer before a message goes.
    pub(crate) fn done_with(&self, seq: u64, subject: &[u8]) -> bool {
        !self.wants(subject)
            || seq <= self.ack_floor.stream_seq
            || (seq <= self.out.scanned
                && !self.out.pending.contains_key(&seq)
                && !self.out.last_per_subject.contains(&seq))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> ConsumerConfig {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn defaults_and_field_order_are_gos() {
        let stream = StreamConfig::default();
        let c = config(r#"{"durable_name":"D","ack_policy":"explicit","backoff":[1000,2000]}"#)
            .with_defaults(&stream)
            .with_stored_metadata();
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            concat!(
                r#"{"durable_name":"D","deliver_policy":"all","ack_policy":"explicit","#,
                r#""ack_wait":1000,"max_deliver":-1,"backoff":[1000,2000],"#,
                r#""replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"#,
                r#""num_replicas":0,"metadata":{"_nats.req.level":"0"}}"#
            )
        );
        assert_eq!(c.check(&stream), Ok(()));
    }

    #[test]
    fn start_positions_are_checked_against_the_policy() {
        let stream = StreamConfig::default();
        let err = |json: &str| config(json).check(&stream).unwrap_err().description;
        assert_eq!(
            err(r#"{"deliver_policy":"by_start_sequence"}"#),
            "consumer delivery policy is deliver by start sequence, but optional start sequence is not set"
        );
        assert_eq!(
            err(r#"{"deliver_policy":"all","opt_start_seq":3}"#),
            "consumer delivery policy is deliver all, but optional start sequence is also set"
        );
        assert_eq!(
            err(r#"{"deliver_policy":"last_per_subject"}"#),
            "consumer delivery policy is deliver last per subject, but optional filter subject is not set"
        );
        assert_eq!(
            err(r#"{"filter_subjects":["s.>","s.a"]}"#),
            "consumer subject filters cannot overlap"
        );
    }
}

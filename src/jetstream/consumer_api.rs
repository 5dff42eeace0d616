//! The consumer requests of the JetStream API: `CONSUMER.CREATE` in its three subject forms,
//! `CONSUMER.DURABLE.CREATE`, `INFO`, `DELETE`, `NAMES` and `LIST`, with nats-server 2.15's
//! checks, errors and replies. A file stream keeps each consumer's configuration in
//! `obs/<name>/meta.json` of its directory (Go's `obs` layout), so consumers survive a
//! restart.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::api::{
    decode, fields, inline, write_json, write_json_as, Context, Fields, PagedRequest, LIST_LIMIT,
    NAMES_LIMIT,
};
use super::config::is_false;
use super::config::Retention;
use super::consumer::{
    is_valid_group_name, AckPolicy, Action, Consumer, ConsumerConfig, ConsumerState, CreateRequest,
    DeliverPolicy, SequencePair,
};
use super::errors::ApiError;
use super::pull::Interest;
use super::stream::Stream;
use super::{go_time, now_ns, Effect, JetStream};
use crate::accounts::AccountId;
use crate::subject;
use crate::timefmt::parse_rfc3339_ns;

/// The length of the names Go gives unnamed consumers (`createConsumerName`).
const GENERATED_NAME_LEN: usize = 8;
/// A stream directory's folder of consumers (Go's).
pub(super) const CONSUMERS_DIR: &str = "obs";
/// A consumer's progress in its directory, beside its configuration.
const STATE_FILE: &str = "state.json";

/// The subject a create request came on.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum CreateForm<'a> {
    /// `CONSUMER.CREATE.<stream>`: the name comes from the body, or is made up.
    Unnamed,
    /// `CONSUMER.CREATE.<stream>.<consumer>[.<filter>]`.
    Named {
        consumer: &'a str,
        filter: Option<&'a str>,
    },
    /// `CONSUMER.DURABLE.CREATE.<stream>.<durable>`.
    Durable(&'a str),
}

/// Go's `SequenceInfo`: a position and when it last moved.
#[derive(Serialize)]
struct SequenceInfo {
    consumer_seq: u64,
    stream_seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_active: Option<String>,
}

impl SequenceInfo {
    fn new(at: SequencePair, when: i64) -> SequenceInfo {
        SequenceInfo {
            consumer_seq: at.consumer_seq,
            stream_seq: at.stream_seq,
            last_active: (when > 0).then(|| go_time(when)),
        }
    }
}

/// Go's `ConsumerInfo`, for one consumer.
#[derive(Serialize)]
struct ConsumerInfoJson<'a> {
    stream_name: &'a str,
    name: &'a str,
    created: String,
    config: ConsumerConfig,
    delivered: SequenceInfo,
    ack_floor: SequenceInfo,
    num_ack_pending: u64,
    num_redelivered: u64,
    num_waiting: u64,
    num_pending: u64,
    #[serde(skip_serializing_if = "is_false")]
    push_bound: bool,
    #[serde(skip_serializing_if = "is_false")]
    paused: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pause_remaining: Option<i64>,
    ts: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    priority_groups: Vec<PriorityGroupState>,
}

/// Go's `PriorityGroupState`: its time is always there (`omitempty` does not omit a
/// struct), the zero time when no client is pinned.
#[derive(Serialize)]
struct PriorityGroupState {
    group: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pinned_client_id: Option<String>,
    pinned_ts: String,
}

/// Go's `ConsumerPauseRequest`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PauseRequest {
    pause_until: Option<String>,
}

/// Go's `JSApiConsumerResetRequest`: where to start again (0: where the consumer's
/// deliver policy starts).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ResetRequest {
    seq: u64,
}

/// Go's `JSApiConsumerUnpinRequest`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct UnpinRequest {
    group: String,
}

/// Go's refusal of a request whose `field` (of Go struct `go_struct`) has a JSON type
/// that is not `go_type` (`uint64` or `string`), before the request is decoded.
fn field_type_error(data: &[u8], go_struct: &str, field: &str, go_type: &str) -> Option<ApiError> {
    let v: Value = serde_json::from_slice(data).ok()?;
    let x = v.get(field)?;
    let fits = match go_type {
        "string" => x.is_string(),
        _ => x.is_u64(),
    };
    let why = super::pull::wrong_type(x, &format!("{go_struct}.{field}"), go_type);
    (!fits).then(|| ApiError::invalid_json(why))
}

/// A request as Go's `json.Unmarshal` reads it: like `decode`, but its syntax errors name
/// no offset.
fn unmarshal<T: for<'de> Deserialize<'de> + Default>(
    data: &[u8],
    strict: bool,
) -> Result<T, ApiError> {
    decode(data, strict).map_err(|mut e| {
        if let Some(i) = e.description.rfind(" at offset ") {
            e.description.truncate(i);
        }
        e
    })
}

/// How long a consumer paused until `until` stays paused after `now`, when it is paused.
fn pause_remaining(until: Option<&str>, now: i64) -> Option<i64> {
    let until = parse_rfc3339_ns(until?)?;
    (until > now).then_some(until - now)
}

/// A consumer's directory in its stream's.
fn consumer_dir(stream: &Stream, name: &str) -> Option<PathBuf> {
    let log = stream.log.as_ref()?;
    Some(log.dir().join(CONSUMERS_DIR).join(name))
}

/// Where consumer `c` of `stream` keeps its files: none with `mem_storage` (Go's file store
/// keeps such a consumer in memory, as the clients' ordered consumers ask, so creating one
/// writes nothing).
fn files_of(stream: &Stream, c: &ConsumerConfig) -> Option<PathBuf> {
    consumer_dir(stream, &c.name).filter(|_| !c.mem_storage)
}

/// Where a new consumer configured as `c` starts in `s` (Go's `selectStartingSeqNo`): the
/// first stored message, the last, the next to come, the requested sequence, the first
/// stored at or after the requested time, or the first of the last messages on each
/// filtered subject.
fn first_to_deliver(s: &Stream, c: &ConsumerConfig) -> u64 {
    let (first, last) = (s.store.first_seq(), s.store.last_seq());
    match c.deliver_policy {
        DeliverPolicy::ByStartSequence => c.opt_start_seq,
        DeliverPolicy::New => last + 1,
        DeliverPolicy::Last => last.max(1),
        DeliverPolicy::LastPerSubject => c
            .filters()
            .iter()
            .flat_map(|f| s.store.subjects_matching(f.as_bytes()))
            .map(|(_, q)| q.last())
            .min()
            .unwrap_or(last + 1),
        DeliverPolicy::ByStartTime => {
            let Some(t) = c.opt_start_time.as_deref().and_then(parse_rfc3339_ns) else {
                return first.max(1);
            };
            s.store
                .iter()
                .find(|(_, m)| m.ts >= t)
                .map_or(last + 1, |(seq, _)| seq)
        }
        DeliverPolicy::All => first.max(1),
    }
}

/// What a work-queue stream asks of a new consumer (Go's `addConsumer`): explicit acks, and
/// beside others, a filter no other consumer's overlaps, so each message has one taker.
fn work_queue_check(s: &Stream, c: &ConsumerConfig) -> Result<(), ApiError> {
    if s.config.retention != Retention::Workqueue || c.direct {
        return Ok(());
    }
    if c.ack_policy != AckPolicy::Explicit {
        return Err(ApiError::consumer_wq_requires_explicit_ack());
    }
    if s.consumers.is_empty() {
        return Ok(());
    }
    let mine = c.filters();
    if mine.is_empty() {
        return Err(ApiError::consumer_wq_multiple_unfiltered());
    }
    let overlaps = |a: &str, b: &str| {
        subject::is_subset_match(a.as_bytes(), b.as_bytes())
            || subject::is_subset_match(b.as_bytes(), a.as_bytes())
    };
    let clash = s.consumers.values().any(|o| {
        let theirs = o.config.filters();
        theirs.is_empty() || mine.iter().any(|m| theirs.iter().any(|t| overlaps(m, t)))
    });
    if clash {
        return Err(ApiError::consumer_wq_not_unique());
    }
    Ok(())
}

/// Removes consumer `name`'s files, where its stream keeps any.
fn remove_files(s: &Stream, name: &str) -> std::io::Result<()> {
    match consumer_dir(s, name).map(std::fs::remove_dir_all) {
        Some(Err(e)) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// How many of `s`'s messages after `c`'s delivered position `c` would deliver.
fn num_pending(s: &Stream, c: &Consumer) -> u64 {
    // Go refuses overlapping filters, so their counts add up.
    let filters = c.config.filters();
    let filters = if filters.is_empty() {
        vec![""]
    } else {
        filters
    };
    if c.config.deliver_policy == DeliverPolicy::LastPerSubject && c.delivered.consumer_seq == 0 {
        return filters
            .iter()
            .map(|f| s.store.subjects_matching(f.as_bytes()).count() as u64)
            .sum();
    }
    filters
        .iter()
        .map(|f| s.store.count_after(f.as_bytes(), c.out.scanned))
        .sum()
}

/// What a consumer's info shows; `dynamic` adds the server's level and version to its
/// metadata (create and info replies do, list entries do not).
fn info(s: &Stream, c: &Consumer, dynamic: bool) -> Fields {
    let config = if dynamic {
        c.config.with_dynamic_metadata()
    } else {
        c.config.clone()
    };
    let now = now_ns();
    let remaining = pause_remaining(c.config.pause_until.as_deref(), now);
    inline(&ConsumerInfoJson {
        stream_name: &s.config.name,
        name: &c.config.name,
        created: go_time(c.created),
        config,
        delivered: SequenceInfo::new(c.delivered, c.out.delivered_at),
        ack_floor: SequenceInfo::new(c.ack_floor, c.out.acked_at),
        num_ack_pending: c.out.pending.len() as u64,
        num_redelivered: if c.config.max_deliver == 1 {
            0
        } else {
            c.out.redelivered.len() as u64
        },
        num_waiting: c.out.waiting.len() as u64,
        // A message held back by its replay time or rate limit is one Go's `getNextMsg`
        // already took.
        num_pending: c.out.num_pending.saturating_sub(u64::from(
            c.out.replay_due.is_some() || c.out.rate_held.is_some_and(|(_, fresh)| fresh),
        )),
        push_bound: c.out.push_bound,
        paused: remaining.is_some(),
        pause_remaining: remaining,
        ts: go_time(now),
        // Go shows the first group only.
        priority_groups: c
            .config
            .priority_groups
            .first()
            .map(|g| PriorityGroupState {
                group: g.clone(),
                pinned_client_id: c.out.pin.as_ref().map(|p| p.id.clone()),
                pinned_ts: go_time(c.out.pin.as_ref().map_or(0, |p| p.since)),
            })
            .into_iter()
            .collect(),
    })
}

/// Go's `isEmptyRequest`: no body, or an empty JSON object.
fn is_empty_request(data: &[u8]) -> bool {
    let trimmed = data.trim_ascii();
    trimmed.is_empty()
        || serde_json::from_slice::<Value>(trimmed)
            .is_ok_and(|v| v.as_object().is_some_and(|m| m.is_empty()))
}

/// A create's name and configuration after the subject's checks.
fn named_by_subject(
    form: &CreateForm<'_>,
    mut config: ConsumerConfig,
) -> Result<ConsumerConfig, ApiError> {
    match *form {
        CreateForm::Durable(durable) => {
            if config.durable_name.is_empty() {
                return Err(ApiError::consumer_durable_not_set());
            }
            if config.durable_name != durable {
                return Err(ApiError::consumer_durable_not_subject());
            }
        }
        CreateForm::Unnamed => {
            if config.is_durable() {
                return Err(ApiError::consumer_ephemeral_with_durable());
            }
        }
        CreateForm::Named { consumer, filter } => {
            if config.is_durable() && config.durable_name != consumer {
                return Err(ApiError::consumer_durable_not_subject());
            }
            if let Some(filter) = filter {
                if !config.filter_subjects.is_empty() {
                    return Err(ApiError::consumer_filters_with_subject_api());
                }
                if config.filter_subject != filter {
                    return Err(ApiError::consumer_filter_not_subject());
                }
            }
            config.name = consumer.to_string();
        }
    }
    if config.name.is_empty() {
        config.name = if config.is_durable() {
            config.durable_name.clone()
        } else {
            super::random_id(GENERATED_NAME_LEN)
        };
    }
    Ok(config)
}

impl JetStream {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn create_consumer(
        &mut self,
        cx: &Context<'_>,
        stream: &str,
        form: &CreateForm<'_>,
        data: &[u8],
        interest: Interest<'_>,
        effects: &mut Vec<Effect>,
        advisories: &mut Vec<(String, Vec<u8>)>,
    ) -> Result<Fields, ApiError> {
        let req: CreateRequest = decode(data, self.settings.opts.strict)?;
        let domain = self.settings.opts.domain.clone();
        if req.config.flow_control && req.config.idle_heartbeat == 0 {
            return Err(ApiError::consumer_flow_control_needs_heartbeats());
        }
        if req.stream_name != stream {
            return Err(ApiError::stream_name_mismatch());
        }
        let config = named_by_subject(form, req.config)?;
        if config.num_replicas < 0 {
            return Err(ApiError::replicas_negative());
        }
        if config.num_replicas > 1 {
            return Err(ApiError::replicas_not_supported());
        }
        let id = self.find(cx.account, stream)?;
        let s = self.stream(id).expect("found");
        let mut config = config.with_defaults(&s.config);
        config.check(&s.config)?;
        if !config.is_durable() && config.inactive_threshold == 0 {
            config.inactive_threshold = super::consumer::DEFAULT_INACTIVE_THRESHOLD_NS;
        }
        let config = config.with_stored_metadata();
        let name = config.name.clone();
        match s.consumers.get(&name) {
            Some(existing) => {
                if req.action == Action::Create && existing.config != config {
                    return Err(ApiError::consumer_exists());
                }
                existing.config.check_update(&config)?;
            }
            None => {
                if req.action == Action::Update {
                    return Err(ApiError::consumer_does_not_exist());
                }
                work_queue_check(s, &config)?;
                let max = s.config.max_consumers;
                if max > 0 && s.consumers.len() as i64 >= max {
                    return Err(ApiError::max_consumers());
                }
                let account_max = self.limits.get(&cx.account).map_or(-1, |l| l.max_consumers);
                if account_max > 0 && self.consumer_count(cx.account) as i64 >= account_max {
                    return Err(ApiError::max_consumers());
                }
            }
        }
        let s = self.stream_mut(id).expect("found");
        let mut consumer = match s.consumers.remove(&name) {
            Some(existing) => {
                let mut c = Consumer {
                    config,
                    ..*existing
                };
                // A new filter changes what is to come.
                c.out.num_pending = num_pending(s, &c);
                c
            }
            None => {
                advisories.push(super::consumer_advisory(stream, &name, "create"));
                let until = config.pause_until.as_deref();
                if let (Some(until), Some(_)) = (until, pause_remaining(until, now_ns())) {
                    advisories.push(super::consumer_pause_advisory(stream, &name, true, until));
                }
                let first = first_to_deliver(s, &config);
                let mut c = Consumer::new(config, now_ns(), first);
                started(s, &mut c);
                effects.extend(super::consumer_effects(
                    cx.account, id, stream, &c, &domain, true,
                ));
                c
            }
        };
        if let Some(dir) = files_of(s, &consumer.config) {
            write_json(&dir, &consumer).map_err(ApiError::general)?;
        }
        let pushes = !consumer.config.deliver_subject.is_empty();
        if pushes {
            consumer.out.push_bound = super::pull::push_bound(&consumer, cx.account, interest);
        }
        s.consumers.insert(name.clone(), Box::new(consumer));
        if pushes && !self.fresh.contains(&id) {
            self.fresh.push(id);
        }
        let s = self.stream(id).expect("found");
        Ok(info(s, &s.consumers[&name], true))
    }

    pub(super) fn consumer_info(
        &self,
        account: AccountId,
        stream: &str,
        name: &str,
        data: &[u8],
    ) -> Result<Fields, ApiError> {
        if !is_empty_request(data) {
            return Err(ApiError::not_empty_request());
        }
        let s = self.stream(self.find(account, stream)?).expect("found");
        let c = s
            .consumers
            .get(name)
            .ok_or_else(ApiError::consumer_not_found)?;
        Ok(info(s, c, true))
    }

    pub(super) fn delete_consumer(
        &mut self,
        account: AccountId,
        stream: &str,
        name: &str,
        data: &[u8],
        effects: &mut Vec<Effect>,
        advisories: &mut Vec<(String, Vec<u8>)>,
    ) -> Result<Fields, ApiError> {
        if !is_empty_request(data) {
            return Err(ApiError::not_empty_request());
        }
        let id = self.find(account, stream)?;
        let domain = self.settings.opts.domain.clone();
        let s = self.stream_mut(id).expect("found");
        if !s.consumers.contains_key(name) {
            return Err(ApiError::consumer_not_found());
        }
        remove_files(s, name).map_err(ApiError::general)?;
        if let Some(c) = s.consumers.remove(name) {
            release_unwanted(s);
            effects.extend(super::consumer_effects(
                account, id, stream, &c, &domain, false,
            ));
            self.consumer_gone(&c);
        }
        advisories.push(super::consumer_advisory(stream, name, "delete"));
        Ok(fields([("success", true.into())]))
    }

    /// `CONSUMER.RESET`: the consumer starts again at the request's sequence, or where its
    /// deliver policy starts, forgetting what it delivered and what waits for acks (its
    /// waiting pull requests stay). The reply is its info and `reset_seq`.
    pub(super) fn reset_consumer(
        &mut self,
        account: AccountId,
        stream: &str,
        name: &str,
        data: &[u8],
    ) -> Result<Fields, ApiError> {
        if let Some(e) = field_type_error(data, "JSApiConsumerResetRequest", "seq", "uint64") {
            return Err(e);
        }
        let r: ResetRequest = unmarshal(data, self.settings.opts.strict)?;
        let id = self.find(account, stream)?;
        let s = self.stream_mut(id).expect("found");
        let mut c = s
            .consumers
            .remove(name)
            .ok_or_else(ApiError::consumer_not_found)?;
        let seq = match r.seq {
            0 => first_to_deliver(s, &c.config),
            seq => seq,
        };
        let at = SequencePair {
            consumer_seq: 0,
            stream_seq: seq.saturating_sub(1),
        };
        c.delivered = at;
        c.ack_floor = at;
        c.out = super::consumer::Outstanding {
            waiting: std::mem::take(&mut c.out.waiting),
            pin: c.out.pin.take(),
            changed: true,
            ..Default::default()
        };
        started(s, &mut c);
        let takers = c.has_takers();
        let mut f = info(s, &c, true);
        f.insert("reset_seq".into(), seq.into());
        s.consumers.insert(name.to_string(), c);
        if takers && !self.fresh.contains(&id) {
            self.fresh.push(id);
        }
        Ok(f)
    }

    /// `CONSUMER.UNPIN`: the group's pinned client, if any, is unpinned; Go does so, and
    /// says so, whether one was pinned or not.
    pub(super) fn unpin_consumer(
        &mut self,
        account: AccountId,
        stream: &str,
        name: &str,
        data: &[u8],
        advisories: &mut Vec<(String, Vec<u8>)>,
    ) -> Result<Fields, ApiError> {
        if data.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::invalid_json("unexpected end of JSON input"));
        }
        if let Some(e) = field_type_error(data, "JSApiConsumerUnpinRequest", "group", "string") {
            return Err(e);
        }
        let r: UnpinRequest = unmarshal(data, self.settings.opts.strict)?;
        if r.group.is_empty() {
            return Err(ApiError::invalid_json("consumer group not specified"));
        }
        if !is_valid_group_name(&r.group) {
            return Err(ApiError::consumer_invalid_group_name());
        }
        let id = self.find(account, stream)?;
        let s = self.stream_mut(id).expect("found");
        let c = s
            .consumers
            .get_mut(name)
            .ok_or_else(ApiError::consumer_not_found)?;
        if !c.config.priority_groups.contains(&r.group) {
            return Err(ApiError::priority_group_not_found());
        }
        advisories.push(super::pull::unpinned(
            stream,
            &s.account_name,
            c,
            &r.group,
            "admin",
        ));
        if c.has_takers() && !self.fresh.contains(&id) {
            self.fresh.push(id);
        }
        Ok(Fields::new())
    }

    /// Whether stream `stream` of `account` has consumer `name`.
    pub(super) fn has_consumer(&self, account: AccountId, stream: &str, name: &str) -> bool {
        self.find(account, stream)
            .ok()
            .and_then(|id| self.stream(id))
            .is_some_and(|s| s.consumers.contains_key(name))
    }

    /// `CONSUMER.PAUSE`: pauses the consumer until the request's time, or resumes it when
    /// the request has none.
    pub(super) fn pause_consumer(
        &mut self,
        account: AccountId,
        stream: &str,
        name: &str,
        data: &[u8],
        advisories: &mut Vec<(String, Vec<u8>)>,
    ) -> Result<Fields, ApiError> {
        let r: PauseRequest = decode(data, self.settings.opts.strict)?;
        let id = self.find(account, stream)?;
        let s = self.stream_mut(id).expect("found");
        let c = s
            .consumers
            .get(name)
            .ok_or_else(ApiError::consumer_not_found)?;
        let mut config = c.config.clone();
        let changed = config.pause_until != r.pause_until;
        config.pause_until = r.pause_until;
        let config = config.with_stored_metadata();
        let c = Consumer {
            config,
            ..Consumer::clone(c)
        };
        if let Some(dir) = files_of(s, &c.config) {
            write_json(&dir, &c).map_err(ApiError::general)?;
        }
        let until = c.config.pause_until.clone();
        s.consumers.insert(name.to_string(), Box::new(c));
        let remaining = pause_remaining(until.as_deref(), now_ns());
        let until = until.unwrap_or_else(|| go_time(0));
        if changed {
            let paused = remaining.is_some();
            advisories.push(super::consumer_pause_advisory(stream, name, paused, &until));
        }
        let mut f = fields([
            ("paused", remaining.is_some().into()),
            ("pause_until", until.into()),
        ]);
        if let Some(r) = remaining {
            f.insert("pause_remaining".into(), r.into());
        }
        Ok(f)
    }

    /// A NAMES or LIST page: `limit` consumers from the request's offset, by name.
    fn consumer_page(
        &self,
        account: AccountId,
        stream: &str,
        data: &[u8],
        limit: usize,
        each: impl Fn(&Stream, &Consumer) -> Value,
    ) -> Result<Fields, ApiError> {
        let r: PagedRequest = decode(data, self.settings.opts.strict)?;
        let s = self.stream(self.find(account, stream)?).expect("found");
        let total = s.consumers.len();
        let offset = r.offset.min(total);
        let page: Vec<Value> = s
            .consumers
            .values()
            .skip(offset)
            .take(limit)
            .map(|c| each(s, c))
            .collect();
        Ok(fields([
            ("total", total.into()),
            ("offset", offset.into()),
            ("limit", limit.into()),
            ("consumers", Value::Array(page)),
        ]))
    }

    pub(super) fn consumer_names(
        &self,
        account: AccountId,
        stream: &str,
        data: &[u8],
    ) -> Result<Fields, ApiError> {
        self.consumer_page(account, stream, data, NAMES_LIMIT, |_, c| {
            c.config.name.clone().into()
        })
    }

    pub(super) fn consumer_list(
        &self,
        account: AccountId,
        stream: &str,
        data: &[u8],
    ) -> Result<Fields, ApiError> {
        self.consumer_page(account, stream, data, LIST_LIMIT, |s, c| {
            Value::Object(info(s, c, false))
        })
    }

    /// The consumers of `account`'s streams.
    pub(crate) fn consumer_count(&self, account: AccountId) -> usize {
        self.streams
            .iter()
            .flatten()
            .filter(|(a, _)| *a == account)
            .map(|(_, s)| s.consumers.len())
            .sum()
    }
}

/// Writes the progress of `s`'s consumers that changed since last time (a file stream's;
/// Go's consumer store flushes on its own timer too, so a `kill -9` may bring back some
/// deliveries and acks of the last moments: delivery is at least once).
pub(super) fn keep_progress(s: &mut Stream, sync: bool) {
    let Some(log) = s.log.as_ref() else {
        return;
    };
    let dir = log.dir().join(CONSUMERS_DIR);
    for (name, c) in s.consumers.iter_mut().filter(|(_, c)| c.out.changed) {
        c.out.changed = false;
        if c.config.mem_storage {
            continue;
        }
        if let Err(e) = write_json_as(&dir.join(name), STATE_FILE, &c.state(), sync) {
            crate::log_at!(Warn, "Error writing the state of consumer '{name}': {e}");
        }
    }
}

/// Removes `s`'s consumers that went unused for their `inactive_threshold` by `now`, with
/// their files; returns them.
pub(super) fn remove_idle(s: &mut Stream, now: i64) -> Vec<Consumer> {
    let idle: Vec<String> = s
        .consumers
        .iter()
        .filter(|(_, c)| c.idle(now))
        .map(|(name, _)| name.clone())
        .collect();
    let gone: Vec<Consumer> = idle
        .iter()
        .filter_map(|name| {
            if let Err(e) = remove_files(s, name) {
                crate::log_at!(Warn, "Error removing consumer '{name}': {e}");
            }
            s.consumers.remove(name).map(|c| *c)
        })
        .collect();
    if !gone.is_empty() {
        release_unwanted(s);
    }
    gone
}

/// After a consumer of an interest-retention stream went: the messages every consumer left
/// is done with go too (Go's `checkInterestState`).
fn release_unwanted(s: &mut Stream) {
    if s.config.retention != Retention::Interest {
        return;
    }
    let done: Vec<u64> = s
        .store
        .iter()
        .filter(|(seq, m)| s.consumers.values().all(|c| c.done_with(*seq, &m.subject)))
        .map(|(seq, _)| seq)
        .collect();
    for seq in done {
        s.remove(seq);
    }
}

/// A new or recovered consumer's count of messages to come, the last messages per subject
/// it starts with, its first flow-control window (Go's `pblimit / 16`) and heartbeat.
pub(super) fn started(s: &Stream, c: &mut Consumer) {
    c.out.scanned = c.delivered.stream_seq;
    c.out.num_pending = num_pending(s, c);
    c.out.fc_window = super::pull::FLOW_CONTROL_MAX_WINDOW / 16;
    c.out.next_heartbeat = now_ns().saturating_add(c.config.idle_heartbeat);
    if c.config.deliver_policy == DeliverPolicy::LastPerSubject && c.delivered.consumer_seq == 0 {
        let mut lasts: Vec<u64> = c
            .config
            .filters()
            .iter()
            .copied()
            .chain(c.config.filters().is_empty().then_some(">"))
            .flat_map(|f| s.store.subjects_matching(f.as_bytes()))
            .map(|(_, q)| q.last())
            .collect();
        lasts.sort_unstable();
        lasts.dedup();
        c.out.last_per_subject = lasts.into();
    }
}

/// The consumers kept in stream directory `dir` (those that do not read are skipped with a
/// warning, as Go skips them).
pub(super) fn recover_consumers(dir: &std::path::Path) -> Vec<Consumer> {
    let Ok(entries) = std::fs::read_dir(dir.join(CONSUMERS_DIR)) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let path = e.path().join(super::META_FILE);
            let read = std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice::<Consumer>(&b).map_err(|e| e.to_string()));
            match read {
                Ok(mut c) => {
                    let state = std::fs::read(e.path().join(STATE_FILE))
                        .ok()
                        .and_then(|b| serde_json::from_slice::<ConsumerState>(&b).ok());
                    if let Some(state) = state {
                        c.restore(state);
                    }
                    Some(c)
                }
                Err(e) => {
                    crate::log_at!(
                        Warn,
                        "  Error recovering consumer in {}: {e}",
                        path.display()
                    );
                    None
                }
            }
        })
        .collect()
}

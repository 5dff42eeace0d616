//! The `$JS.API` stream requests (Go's `server/jetstream_api.go`): what each subject asks,
//! the request bodies, and the replies in Go's field order.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::config::{is_valid_name, StreamConfig};
use super::consumer_api::CreateForm;
use super::errors::ApiError;
use super::pull::Interest;
use super::store::StreamState;
use super::stream::Stream;
use super::{go_time, now_ns, ApiReply, Effect, JetStream, Meta, StreamId, API_LEVEL};
use crate::accounts::AccountId;
use crate::subject;

/// Go's `JSApiNamesLimit` and `JSApiListLimit`: page sizes of NAMES and LIST.
pub(super) const NAMES_LIMIT: usize = 1024;
pub(super) const LIST_LIMIT: usize = 256;
/// Go's `JSMaxSubjectDetails`: subjects a stream info lists at most per page.
const SUBJECT_DETAILS_LIMIT: usize = 100_000;
const TYPE_PREFIX: &str = "io.nats.jetstream.api.v1.";

/// One request, by subject.
#[derive(Debug, PartialEq, Eq)]
enum Request<'a> {
    AccountInfo,
    Create(&'a str),
    Update(&'a str),
    Info(&'a str),
    Delete(&'a str),
    Purge(&'a str),
    Names,
    List,
    MsgGet(&'a str),
    MsgDelete(&'a str),
    /// LEADER.STEPDOWN and PEER.REMOVE: clustering only.
    Clustered(&'static str),
    ConsumerCreate(&'a str, CreateForm<'a>),
    ConsumerInfo(&'a str, &'a str),
    ConsumerDelete(&'a str, &'a str),
    ConsumerNames(&'a str),
    ConsumerList(&'a str),
    ConsumerPause(&'a str, &'a str),
    ConsumerReset(&'a str, &'a str),
    ConsumerUnpin(&'a str, &'a str),
}

impl<'a> Request<'a> {
    /// What `$JS.API.<rest>` asks; `None` for what the server does not answer (Go answers
    /// no request it has no subscription for, and a name with a dot is not one token).
    fn parse(rest: &'a str) -> Option<Request<'a>> {
        let t: Vec<&str> = rest.split('.').collect();
        Some(match t.as_slice() {
            ["CONSUMER", "CREATE", s] => Request::ConsumerCreate(s, CreateForm::Unnamed),
            ["CONSUMER", "CREATE", s, c] => Request::ConsumerCreate(
                s,
                CreateForm::Named {
                    consumer: c,
                    filter: None,
                },
            ),
            ["CONSUMER", "CREATE", s, c, ..] => Request::ConsumerCreate(
                s,
                CreateForm::Named {
                    consumer: c,
                    // The filter is everything after the consumer's token, dots and all.
                    filter: rest.splitn(5, '.').nth(4),
                },
            ),
            ["CONSUMER", "DURABLE", "CREATE", s, d] => {
                Request::ConsumerCreate(s, CreateForm::Durable(d))
            }
            ["CONSUMER", "INFO", s, c] => Request::ConsumerInfo(s, c),
            ["CONSUMER", "DELETE", s, c] => Request::ConsumerDelete(s, c),
            ["CONSUMER", "NAMES", s] => Request::ConsumerNames(s),
            ["CONSUMER", "LIST", s] => Request::ConsumerList(s),
            ["CONSUMER", "PAUSE", s, c] => Request::ConsumerPause(s, c),
            ["CONSUMER", "RESET", s, c] => Request::ConsumerReset(s, c),
            ["CONSUMER", "UNPIN", s, c] => Request::ConsumerUnpin(s, c),
            ["CONSUMER", "LEADER", "STEPDOWN", _, _] => {
                Request::Clustered("consumer_leader_stepdown_response")
            }
            ["INFO"] => Request::AccountInfo,
            ["STREAM", "CREATE", n] => Request::Create(n),
            ["STREAM", "UPDATE", n] => Request::Update(n),
            ["STREAM", "INFO", n] => Request::Info(n),
            ["STREAM", "DELETE", n] => Request::Delete(n),
            ["STREAM", "PURGE", n] => Request::Purge(n),
            ["STREAM", "NAMES"] => Request::Names,
            ["STREAM", "LIST"] => Request::List,
            ["STREAM", "MSG", "GET", n] => Request::MsgGet(n),
            ["STREAM", "MSG", "DELETE", n] => Request::MsgDelete(n),
            ["STREAM", "LEADER", "STEPDOWN", _] => {
                Request::Clustered("stream_leader_stepdown_response")
            }
            ["STREAM", "PEER", "REMOVE", _] => Request::Clustered("stream_remove_peer_response"),
            _ => return None,
        })
    }

    /// The reply's `type`.
    fn kind(&self) -> &'static str {
        match self {
            Request::AccountInfo => "account_info_response",
            Request::Create(_) => "stream_create_response",
            Request::Update(_) => "stream_update_response",
            Request::Info(_) => "stream_info_response",
            Request::Delete(_) => "stream_delete_response",
            Request::Purge(_) => "stream_purge_response",
            Request::Names => "stream_names_response",
            Request::List => "stream_list_response",
            Request::MsgGet(_) => "stream_msg_get_response",
            Request::MsgDelete(_) => "stream_msg_delete_response",
            Request::Clustered(kind) => kind,
            Request::ConsumerCreate(..) => "consumer_create_response",
            Request::ConsumerInfo(..) => "consumer_info_response",
            Request::ConsumerDelete(..) => "consumer_delete_response",
            Request::ConsumerNames(_) => "consumer_names_response",
            Request::ConsumerList(_) => "consumer_list_response",
            Request::ConsumerPause(..) => "consumer_pause_response",
            Request::ConsumerReset(..) => "consumer_reset_response",
            Request::ConsumerUnpin(..) => "consumer_unpin_response",
        }
    }

    /// Fields Go's response struct has after `type` and `error` even when it failed.
    fn error_tail(&self) -> Fields {
        match self {
            Request::Info(_) => fields([
                ("total", 0.into()),
                ("offset", 0.into()),
                ("limit", 0.into()),
            ]),
            Request::Purge(_) => fields([("purged", 0.into())]),
            Request::Names | Request::List => page_of_streams(0, 0, 0, Value::Null),
            Request::ConsumerNames(_) | Request::ConsumerList(_) => fields([
                ("total", 0.into()),
                ("offset", 0.into()),
                ("limit", 0.into()),
                ("consumers", Value::Array(Vec::new())),
            ]),
            Request::ConsumerPause(..) => {
                fields([("paused", false.into()), ("pause_until", go_time(0).into())])
            }
            Request::ConsumerReset(..) => fields([("reset_seq", 0.into())]),
            _ => Fields::new(),
        }
    }
}

/// A serde error as Go's decoder would word it, where they agree: an unknown field as
/// Go's strict decoder names it, and no position suffix.
fn json_error(e: serde_json::Error) -> ApiError {
    let text = e.to_string();
    let text = match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    let unknown = text
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next());
    match unknown {
        Some(field) => ApiError::invalid_json(format!("json: unknown field {field:?}")),
        None => ApiError::invalid_json(text),
    }
}

/// Decodes a request body as Go's `json.Unmarshal` would: an empty body is the zero
/// value, and a `null` leaves a field at its zero value (clients send `null` for options
/// they do not set). With `strict` (Go's `DisallowUnknownFields`, JetStream's `strict`
/// mode) an unknown field is refused, named as Go names it; otherwise it is ignored.
pub(crate) fn decode<T: for<'de> Deserialize<'de> + Default>(
    data: &[u8],
    strict: bool,
) -> Result<T, ApiError> {
    if data.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    if let Some(why) = super::json_syntax::error(data) {
        return Err(ApiError::invalid_json(why));
    }
    // The first value only, as Go's `json.Decoder` reads it.
    let mut v: Value = serde_json::Deserializer::from_slice(data)
        .into_iter::<Value>()
        .next()
        .unwrap_or(Ok(Value::Null))
        .map_err(json_error)?;
    drop_nulls(&mut v);
    // Go's `json.Unmarshal` of `null` leaves the request as it was (async-nats sends one).
    if v.is_null() {
        return Ok(T::default());
    }
    let mut unknown = None;
    let t = serde_ignored::deserialize(v, |path| {
        if let serde_ignored::Path::Map { key, .. } = path {
            unknown.get_or_insert_with(|| key.clone());
        }
    })
    .map_err(json_error)?;
    match unknown {
        Some(field) if strict => Err(ApiError::invalid_json(format!(
            "json: unknown field {field:?}"
        ))),
        _ => Ok(t),
    }
}

fn drop_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(drop_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

// The request bodies, with every field Go's request types have (strict mode refuses any
// other); the ones Riptide does not act on are named `_…`.

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct PagedRequest {
    pub offset: usize,
    subject: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct InfoRequest {
    subjects_filter: String,
    offset: usize,
    deleted_details: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PurgeRequest {
    filter: String,
    seq: u64,
    keep: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MsgDeleteRequest {
    seq: u64,
    #[serde(rename = "no_erase")]
    _no_erase: bool,
}

/// `message` of a MSG.GET reply (Go's `StoredMsg`).
#[derive(Serialize)]
struct StoredMsgJson {
    subject: String,
    seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    hdrs: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<String>,
    time: String,
}

/// Go's `StreamInfo`, for one stream.
#[derive(Serialize)]
struct StreamInfoJson {
    config: StreamConfig,
    created: String,
    state: StreamState,
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster: Option<ClusterJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mirror: Option<super::upstream::UpstreamInfo>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    sources: Vec<super::upstream::UpstreamInfo>,
    ts: String,
}

#[derive(Serialize)]
struct ClusterJson {
    leader: String,
}

/// A NAMES or LIST page (Go's `ApiPaged` and `streams`).
fn page_of_streams(total: usize, offset: usize, limit: usize, streams: Value) -> Fields {
    fields([
        ("total", total.into()),
        ("offset", offset.into()),
        ("limit", limit.into()),
        ("streams", streams),
    ])
}

/// A reply's fields after `type`, in order.
pub(super) type Fields = Map<String, Value>;

pub(super) fn fields<const N: usize>(list: [(&str, Value); N]) -> Fields {
    list.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// A reply: `type` first, then the fields in order.
fn reply(kind: &str, rest: Fields) -> Vec<u8> {
    let mut m = Map::new();
    m.insert("type".into(), format!("{TYPE_PREFIX}{kind}").into());
    m.extend(rest);
    crate::system::go_json(&Value::Object(m))
}

fn to_value(v: &impl Serialize) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// A struct's fields inlined in a reply object (Go embeds `*StreamInfo`).
pub(super) fn inline(v: &impl Serialize) -> Fields {
    match to_value(v) {
        Value::Object(m) => m,
        _ => Fields::new(),
    }
}

/// Who answers: the server's name for `cluster.leader`.
pub(crate) struct Context<'a> {
    pub account: AccountId,
    pub account_name: &'a str,
    pub server_name: &'a str,
}

impl JetStream {
    /// Answers one `$JS.API` request; `None` when Go would not answer at all.
    pub(crate) fn api(
        &mut self,
        cx: &Context<'_>,
        subject: &[u8],
        data: &[u8],
        interest: Interest<'_>,
    ) -> Option<ApiReply> {
        let subject = std::str::from_utf8(subject).ok()?;
        let domain = &self.settings.opts.domain;
        let rest = match subject.strip_prefix(super::API_PREFIX) {
            Some(rest) => rest,
            // `$JS.<domain>.API.…` is the same API (Go's domain mapping).
            None => subject
                .strip_prefix("$JS.")
                .and_then(|s| s.strip_prefix(domain.as_str()))
                .filter(|_| !domain.is_empty())
                .and_then(|s| s.strip_prefix(".API."))?,
        };
        let req = Request::parse(rest)?;
        // Go does not answer a reset of a consumer it does not have.
        if let Request::ConsumerReset(stream, name) = req {
            if !self.has_consumer(cx.account, stream, name) {
                return None;
            }
        }
        let (mut effects, mut advisories) = (Vec::new(), Vec::new());
        let answer = self.answer(cx, &req, data, interest, &mut effects, &mut advisories);
        // Go counts a request after answering it, a MSG.GET only when it failed, and a
        // MSG.DELETE the store could not do as no error (its reply is an ordinary response
        // there; checked against nats-server 2.15.1).
        let stats = self.api_stats.entry(cx.account).or_default();
        stats.total += u64::from(answer.is_err() || !matches!(req, Request::MsgGet(_)));
        let body_ok = answer.is_ok();
        let body = match answer {
            Ok(fields) => reply(req.kind(), fields),
            Err(e) => {
                let store_result = matches!(req, Request::MsgDelete(_))
                    && matches!(e.err_code, 10057 | 10043)
                    && e != ApiError::delete_denied();
                stats.errors += u64::from(!store_result);
                let mut f = fields([("error", to_value(&e))]);
                f.extend(req.error_tail());
                reply(req.kind(), f)
            }
        };
        let advisory = match (&req, &body_ok) {
            (Request::Create(n), true) if !effects.is_empty() => {
                Some(super::stream_advisory(n, "create"))
            }
            (Request::Update(n), true) => Some(super::stream_advisory(n, "modify")),
            (Request::Delete(n), true) => Some(super::stream_advisory(n, "delete")),
            _ => None,
        };
        advisories.extend(advisory);
        Some(ApiReply {
            body,
            effects,
            advisories,
        })
    }

    pub(super) fn find(&self, account: AccountId, name: &str) -> Result<StreamId, ApiError> {
        self.by_name
            .get(&(account, name.to_string()))
            .copied()
            .ok_or_else(ApiError::stream_not_found)
    }

    fn answer(
        &mut self,
        cx: &Context<'_>,
        req: &Request<'_>,
        data: &[u8],
        interest: Interest<'_>,
        effects: &mut Vec<Effect>,
        advisories: &mut Vec<(String, Vec<u8>)>,
    ) -> Result<Fields, ApiError> {
        let account = cx.account;
        if matches!(req, Request::ConsumerInfo(..) | Request::ConsumerList(_)) {
            self.refresh_push_bound(account, &mut *interest);
        }
        if !self.limits.contains_key(&account) {
            return Err(ApiError::not_enabled_for_account());
        }
        match *req {
            Request::AccountInfo => Ok(self.account_info(account)),
            Request::Clustered(_) => Err(ApiError::clustering_required()),
            Request::ConsumerCreate(stream, ref form) => {
                self.create_consumer(cx, stream, form, data, interest, effects, advisories)
            }
            Request::ConsumerInfo(stream, name) => self.consumer_info(account, stream, name, data),
            Request::ConsumerDelete(stream, name) => {
                self.delete_consumer(account, stream, name, data, effects, advisories)
            }
            Request::ConsumerNames(stream) => self.consumer_names(account, stream, data),
            Request::ConsumerList(stream) => self.consumer_list(account, stream, data),
            Request::ConsumerPause(stream, name) => {
                self.pause_consumer(account, stream, name, data, advisories)
            }
            Request::ConsumerReset(stream, name) => {
                self.reset_consumer(account, stream, name, data)
            }
            Request::ConsumerUnpin(stream, name) => {
                self.unpin_consumer(account, stream, name, data, advisories)
            }
            Request::Create(name) => self.create(cx, name, data, effects),
            Request::Update(name) => self.update(cx, name, data, effects),
            Request::Info(name) => {
                let id = self.find(account, name)?;
                let r: InfoRequest = decode(data, self.settings.opts.strict)?;
                let s = self.stream(id).expect("found");
                let filter =
                    (!r.subjects_filter.is_empty()).then_some(r.subjects_filter.as_bytes());
                let mut info = self.info(s, Some(cx.server_name));
                if r.deleted_details {
                    info.state.deleted = Some(s.store.deleted()).filter(|d| !d.is_empty());
                }
                let (total, limit) = match filter {
                    None => (0, 0),
                    Some(f) => {
                        let all = s.store.subject_counts(f);
                        let page: BTreeMap<String, u64> = all
                            .iter()
                            .skip(r.offset)
                            .take(SUBJECT_DETAILS_LIMIT)
                            .map(|(k, v)| (k.clone(), *v))
                            .collect();
                        info.state.subjects = (!page.is_empty()).then_some(page);
                        (all.len(), SUBJECT_DETAILS_LIMIT)
                    }
                };
                let mut f = fields([
                    ("total", total.into()),
                    ("offset", r.offset.into()),
                    ("limit", limit.into()),
                ]);
                f.extend(inline(&info));
                Ok(f)
            }
            Request::Delete(name) => {
                let id = self.find(account, name)?;
                let Some((_, s)) = self.streams[id.0 as usize].take() else {
                    return Err(ApiError::stream_not_found());
                };
                self.by_name.remove(&(account, name.to_string()));
                self.refresh_copying();
                effects.extend(super::stream_effects(account, id, &s.config, false));
                let domain = self.settings.opts.domain.clone();
                for c in s.consumers.values() {
                    effects.extend(super::consumer_effects(
                        account, id, name, c, &domain, false,
                    ));
                    self.consumer_gone(c);
                    advisories.push(super::consumer_advisory(name, &c.config.name, "delete"));
                }
                let dir = s.log.as_ref().map(|l| l.dir().to_path_buf());
                if s.pipeline.writing() {
                    self.retired.push((id, s));
                }
                if let Some(dir) = dir {
                    std::fs::remove_dir_all(&dir).map_err(ApiError::stream_delete)?;
                }
                Ok(fields([("success", true.into())]))
            }
            Request::Purge(name) => {
                let id = self.find(account, name)?;
                let r: PurgeRequest = decode(data, self.settings.opts.strict)?;
                let s = self.stream_mut(id).expect("found");
                if s.config.sealed {
                    return Err(ApiError::sealed());
                }
                if s.config.deny_purge {
                    return Err(ApiError::purge_denied());
                }
                let up_to = (r.seq > 0).then_some(r.seq);
                let purged = s.purge(r.filter.as_bytes(), up_to, r.keep);
                Ok(fields([
                    ("success", true.into()),
                    ("purged", purged.into()),
                ]))
            }
            Request::Names => {
                let r: PagedRequest = decode(data, self.settings.opts.strict)?;
                let names = self.names(account, &r.subject);
                let total = names.len();
                let page: Vec<Value> = names
                    .into_iter()
                    .skip(r.offset)
                    .take(NAMES_LIMIT)
                    .map(Value::from)
                    .collect();
                let streams = if page.is_empty() {
                    Value::Null
                } else {
                    page.into()
                };
                Ok(page_of_streams(total, r.offset, NAMES_LIMIT, streams))
            }
            Request::List => {
                let r: PagedRequest = decode(data, self.settings.opts.strict)?;
                let names = self.names(account, &r.subject);
                let total = names.len();
                let page: Vec<Value> = names
                    .iter()
                    .skip(r.offset)
                    .take(LIST_LIMIT)
                    .filter_map(|n| self.find(account, n).ok())
                    .filter_map(|id| self.stream(id))
                    .map(|s| {
                        let mut info = self.info(s, None);
                        info.config = s.config.clone();
                        to_value(&info)
                    })
                    .collect();
                Ok(page_of_streams(total, r.offset, LIST_LIMIT, page.into()))
            }
            Request::MsgGet(name) => {
                let id = self.find(account, name)?;
                if data.iter().all(u8::is_ascii_whitespace) {
                    return Err(ApiError::bad_request());
                }
                let r: super::direct::Request = decode(data, self.settings.opts.strict)?;
                let s = self.stream(id).expect("found");
                let found = if !r.last_by_subj.is_empty() {
                    s.store.last_matching(r.last_by_subj.as_bytes())
                } else if !r.next_by_subj.is_empty() {
                    s.store.next_matching(r.seq, r.next_by_subj.as_bytes())
                } else {
                    s.store.get(r.seq).map(|m| (r.seq, m))
                };
                let (seq, m) = found.ok_or_else(ApiError::no_message_found)?;
                let payload = s.payload(seq, m).map_err(ApiError::general)?;
                let b64 = |b: &[u8]| (!b.is_empty()).then(|| data_encoding::BASE64.encode(b));
                let msg = StoredMsgJson {
                    subject: String::from_utf8_lossy(&m.subject).into_owned(),
                    seq,
                    hdrs: b64(&m.hdr),
                    data: b64(&payload),
                    time: go_time(m.ts),
                };
                Ok(fields([("message", to_value(&msg))]))
            }
            Request::MsgDelete(name) => {
                let id = self.find(account, name)?;
                if data.iter().all(u8::is_ascii_whitespace) {
                    return Err(ApiError::bad_request());
                }
                let r: MsgDeleteRequest = decode(data, self.settings.opts.strict)?;
                let s = self.stream_mut(id).expect("found");
                if s.config.sealed {
                    return Err(ApiError::sealed());
                }
                if s.config.deny_delete {
                    return Err(ApiError::delete_denied());
                }
                // Below the first sequence the store has no such message at all; a gap
                // inside is a sequence not found (checked against nats-server 2.15.1).
                if r.seq < s.store.first_seq() || r.seq > s.store.last_seq() {
                    return Err(ApiError::no_message_to_delete());
                }
                if !s.remove(r.seq) {
                    return Err(ApiError::sequence_not_found(r.seq));
                }
                Ok(fields([("success", true.into())]))
            }
        }
    }

    /// The account's stream names, sorted; with `subject`, only streams that could store it.
    fn names(&self, account: AccountId, subject: &str) -> Vec<String> {
        let mut names: Vec<String> =
            self.streams
                .iter()
                .flatten()
                .filter(|(a, s)| {
                    *a == account
                        && (subject.is_empty()
                            || s.config.subjects.iter().any(|x| {
                                subject::subjects_collide(x.as_bytes(), subject.as_bytes())
                            }))
                })
                .map(|(_, s)| s.config.name.clone())
                .collect();
        names.sort();
        names
    }

    fn info(&self, s: &Stream, leader: Option<&str>) -> StreamInfoJson {
        let now = now_ns();
        StreamInfoJson {
            config: s.config.with_dynamic_metadata(),
            created: go_time(s.created),
            state: s.store.state(None, s.consumers.len() as u64),
            cluster: leader.map(|l| ClusterJson { leader: l.into() }),
            mirror: s.upstreams.iter().find(|u| u.mirror).map(|u| u.info(now)),
            sources: s
                .upstreams
                .iter()
                .filter(|u| !u.mirror)
                .map(|u| u.info(now))
                .collect(),
            ts: go_time(now),
        }
    }

    fn account_info(&self, account: AccountId) -> Fields {
        let (mut memory, mut storage, mut streams) = (0u64, 0u64, 0u64);
        // What streams reserve: their `max_bytes`.
        let (mut reserved_memory, mut reserved_storage) = (0u64, 0u64);
        for (_, s) in self.streams.iter().flatten().filter(|(a, _)| *a == account) {
            streams += 1;
            let reserve = s.config.max_bytes.max(0) as u64;
            match s.config.storage {
                super::config::Storage::Memory => {
                    memory += s.store.bytes();
                    reserved_memory += reserve;
                }
                super::config::Storage::File => {
                    storage += s.store.bytes();
                    reserved_storage += reserve;
                }
            }
        }
        let stats = self.api_stats.get(&account).copied().unwrap_or_default();
        let mut f = fields([
            ("memory", memory.into()),
            ("storage", storage.into()),
            ("reserved_memory", reserved_memory.into()),
            ("reserved_storage", reserved_storage.into()),
            ("streams", streams.into()),
            ("consumers", self.consumer_count(account).into()),
            (
                "limits",
                to_value(&self.limits.get(&account).cloned().unwrap_or_default()),
            ),
        ]);
        if !self.settings.opts.domain.is_empty() {
            f.insert("domain".into(), self.settings.opts.domain.clone().into());
        }
        f.insert(
            "api".into(),
            serde_json::json!({"level": API_LEVEL, "total": stats.total, "errors": stats.errors}),
        );
        f
    }

    /// The config a CREATE or UPDATE carries, checked as Go checks it.
    fn requested_config(&self, name: &str, data: &[u8]) -> Result<StreamConfig, ApiError> {
        if data.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::stream_name_mismatch());
        }
        let c: StreamConfig = decode(data, self.settings.opts.strict)?;
        if c.name != name {
            return Err(ApiError::stream_name_mismatch());
        }
        if name.contains(['/', '\\']) {
            return Err(ApiError::name_has_path_separators());
        }
        let c = c.checked()?;
        if c.num_replicas > 1 {
            return Err(ApiError::replicas_not_supported());
        }
        Ok(c)
    }

    /// Go's account and server checks of a new stream: the account's stream count, and
    /// room for its `max_bytes` next to what the other streams reserve, in the account and
    /// on the server.
    fn check_room(&self, account: AccountId, config: &StreamConfig) -> Result<(), ApiError> {
        let limits = self.limits.get(&account).cloned().unwrap_or_default();
        let streams = self.streams.iter().flatten().filter(|(a, _)| *a == account);
        if limits.max_streams >= 0 && streams.clone().count() as i64 >= limits.max_streams {
            return Err(ApiError::max_streams());
        }
        if config.max_bytes <= 0 {
            return Ok(());
        }
        let memory = config.storage == super::config::Storage::Memory;
        let reserved = |all: &mut dyn Iterator<Item = &StreamConfig>| -> i64 {
            all.filter(|c| (c.storage == super::config::Storage::Memory) == memory)
                .map(|c| c.max_bytes.max(0))
                .sum()
        };
        let (account_max, stream_max) = if memory {
            (limits.max_memory, limits.memory_max_stream_bytes)
        } else {
            (limits.max_storage, limits.storage_max_stream_bytes)
        };
        let in_account = reserved(&mut streams.map(|(_, s)| &s.config));
        let (server_memory, server_storage) = self.settings.limits();
        let server_max = if memory {
            server_memory
        } else {
            server_storage
        };
        let on_server = reserved(&mut self.streams.iter().flatten().map(|(_, s)| &s.config));
        let over = |limit: i64, used: i64| limit >= 0 && used + config.max_bytes > limit;
        if over(account_max, in_account)
            || (stream_max > 0 && config.max_bytes > stream_max)
            || over(server_max, on_server)
        {
            return Err(ApiError::storage_exceeded());
        }
        Ok(())
    }

    /// Whether `config`'s subjects collide with another stream of the account.
    fn overlaps(&self, account: AccountId, config: &StreamConfig) -> bool {
        self.streams
            .iter()
            .flatten()
            .filter(|(a, s)| *a == account && s.config.name != config.name)
            .any(|(_, s)| {
                s.config.subjects.iter().any(|x| {
                    config
                        .subjects
                        .iter()
                        .any(|y| subject::subjects_collide(x.as_bytes(), y.as_bytes()))
                })
            })
    }

    fn create(
        &mut self,
        cx: &Context<'_>,
        name: &str,
        data: &[u8],
        effects: &mut Vec<Effect>,
    ) -> Result<Fields, ApiError> {
        if !is_valid_name(name) {
            return Err(ApiError::stream_name_mismatch());
        }
        let config = self.requested_config(name, data)?.with_stored_metadata();
        let id = match self.by_name.get(&(cx.account, name.to_string())) {
            Some(&id) => {
                let same = self.stream(id).is_some_and(|s| s.config == config);
                if !same {
                    return Err(ApiError::stream_name_exists());
                }
                id
            }
            None => {
                if self.overlaps(cx.account, &config) {
                    return Err(ApiError::subjects_overlap());
                }
                if self.upstream_cycle(cx.account, &config) {
                    return Err(ApiError::invalid_config("detected cycle"));
                }
                self.check_room(cx.account, &config)?;
                let created = now_ns();
                let log = match config.storage {
                    super::config::Storage::Memory => None,
                    super::config::Storage::File => {
                        let dir = super::stream_dir(&self.settings, cx.account_name, name);
                        write_meta(&dir, &config, created).map_err(ApiError::general)?;
                        let (log, _) = super::file_log::FileLog::open(&dir, |_, _| {})
                            .map_err(ApiError::general)?;
                        Some(log)
                    }
                };
                let mut stream = Stream::new(config.clone(), created, log);
                stream.account_name = cx.account_name.to_string();
                let id = self.add(cx.account, stream);
                self.refresh_copying();
                effects.extend(super::stream_effects(cx.account, id, &config, true));
                id
            }
        };
        let s = self.stream(id).expect("just found or added");
        let mut f = inline(&self.info(s, None));
        f.insert("did_create".into(), true.into());
        Ok(f)
    }

    fn update(
        &mut self,
        cx: &Context<'_>,
        name: &str,
        data: &[u8],
        effects: &mut Vec<Effect>,
    ) -> Result<Fields, ApiError> {
        let id = self.find(cx.account, name)?;
        let config = self.requested_config(name, data)?.with_stored_metadata();
        let old = self.stream(id).expect("found").config.clone();
        old.check_update(&config)?;
        if self.overlaps(cx.account, &config) {
            return Err(ApiError::subjects_overlap());
        }
        if self.upstream_cycle(cx.account, &config) {
            return Err(ApiError::invalid_config("detected cycle"));
        }
        let s = self.stream_mut(id).expect("found");
        if let Some(log) = &s.log {
            write_meta(log.dir(), &config, s.created).map_err(ApiError::general)?;
        }
        if old.subjects != config.subjects || old.allow_direct != config.allow_direct {
            effects.extend(super::stream_effects(cx.account, id, &old, false));
            effects.extend(super::stream_effects(cx.account, id, &config, true));
        }
        s.reconfigure(config, now_ns());
        self.refresh_copying();
        let s = self.stream(id).expect("found");
        Ok(inline(&self.info(s, None)))
    }
}

/// Writes a stream's configuration.
fn write_meta(dir: &std::path::Path, config: &StreamConfig, created: i64) -> std::io::Result<()> {
    let meta = Meta {
        config: config.clone(),
        created,
    };
    write_json(dir, &meta)
}

/// Writes `value` as `dir`'s meta file, atomically (a new file renamed over the old one).
pub(super) fn write_json(dir: &std::path::Path, value: &impl Serialize) -> std::io::Result<()> {
    write_json_as(dir, super::META_FILE, value, true)
}

/// Replaces `dir/name` with `value`'s JSON whole (a new file renamed over the old), made
/// durable first when `sync`.
pub(super) fn write_json_as(
    dir: &std::path::Path,
    name: &str,
    value: &impl Serialize,
    sync: bool,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!("{name}.tmp"));
    std::fs::write(&tmp, serde_json::to_vec(value).unwrap_or_default())?;
    if sync {
        std::fs::File::open(&tmp)?.sync_all()?;
    }
    std::fs::rename(&tmp, dir.join(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_name_requests() {
        assert_eq!(
            Request::parse("STREAM.CREATE.S"),
            Some(Request::Create("S"))
        );
        assert_eq!(Request::parse("STREAM.CREATE.A.B"), None);
        assert_eq!(
            Request::parse("STREAM.MSG.GET.S"),
            Some(Request::MsgGet("S"))
        );
        assert_eq!(Request::parse("INFO"), Some(Request::AccountInfo));
        assert_eq!(Request::parse("FOO"), None);
    }
}

//! JetStream: streams of stored messages, their file or memory storage, their consumers,
//! the `$JS.API` requests and publish acknowledgements, as nats-server 2.15.1 answers them.
//!
//! One shard hosts JetStream (the first; `shard/jetstream.rs` wires it): every stream,
//! the API, the file logs. Its streams subscribe as internal services on that shard, and
//! the interest is replicated like a client's, so a publish on another shard reaches the
//! stream over the rings in publisher order; an API request taken on another shard is sent
//! on to the host the same way. What a turn stored is written at the end of the turn, once
//! per stream (group commit), and the acks leave only after that write.
//!
//! - `config`: `StreamConfig` in Go's field order, and Go's checks and defaults.
//! - `errors`: `ApiError` with Go's codes.
//! - `store`: a stream's messages in memory, by sequence and by subject.
//! - `file_log`: a file stream's blocks of checksummed records and their index files.
//! - `seq_map`: messages by sequence, in chunks of consecutive sequences.
//! - `subject_seqs`: one subject's sequences, one of them kept inline.
//! - `stream`: what a publish does to a stream (dedupe, expectations, limits, TTLs).
//! - `api`: the `$JS.API` requests and their replies; `direct`: direct gets; `commit`: the
//!   writes of a turn and the acks that wait for them; `json_syntax`: Go's wording of a
//!   malformed request.
//! - `consumer`: `ConsumerConfig` in Go's field order, Go's defaults, checks and update
//!   rules, a consumer's positions; `consumer_api`: the consumer requests, their files and
//!   the removal of idle consumers.
//! - `pull`: pull requests, deliveries with their ack subjects, acks and redeliveries;
//!   `rate_limit`: a push consumer's `rate_limit_bps` bucket.
//! - `upstream`: mirrors and sources, copied from their origins at the end of each turn.

pub(crate) mod api;
pub(crate) mod commit;
pub(crate) mod config;
pub(crate) mod consumer;
mod consumer_api;
pub(crate) mod direct;
pub(crate) mod errors;
pub(crate) mod file_log;
pub(crate) mod json_syntax;
pub(crate) mod pull;
mod rate_limit;
pub(crate) mod seq_map;
pub(crate) mod store;
pub(crate) mod stream;
mod subject_seqs;
pub(crate) mod upstream;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::accounts::AccountId;
use stream::{Published, Stream};

/// The JetStream API level this server speaks (Go 2.15's `JSApiLevel`).
pub const API_LEVEL: u32 = 5;
/// Go's default `sync_interval`: file streams are fsynced this often.
pub const DEFAULT_SYNC_INTERVAL: Duration = Duration::from_secs(120);
/// The prefix of every API subject.
pub(crate) const API_PREFIX: &str = "$JS.API.";

/// Nanoseconds since the Unix epoch.
pub(crate) fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// A time as Go's `time.Time` marshals it; 0 is Go's zero time.
pub(crate) fn go_time(ns: i64) -> String {
    if ns <= 0 {
        return "0001-01-01T00:00:00Z".into();
    }
    crate::timefmt::rfc3339_nano(UNIX_EPOCH + Duration::from_nanos(ns as u64))
}

/// A JSON string as Go writes it.
pub(crate) fn json_str(s: &str) -> String {
    String::from_utf8_lossy(&crate::system::go_json(&s)).into_owned()
}

/// The `jetstream {}` block's settings besides the store directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `sync_interval: always`: fsync every write before its acks leave.
    pub sync_always: bool,
    pub sync_interval: Duration,
    pub domain: String,
    /// `max_memory_store` / `max_file_store`, bytes; -1: no limit.
    pub max_memory: i64,
    pub max_store: i64,
    /// `strict` (Go's default): API requests with unknown fields are refused.
    pub strict: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            sync_always: false,
            sync_interval: DEFAULT_SYNC_INTERVAL,
            domain: String::new(),
            max_memory: -1,
            max_store: -1,
            strict: true,
        }
    }
}

/// Where JetStream keeps its files, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub store_dir: PathBuf,
    pub opts: Options,
    /// The server's `max_payload`: the burst of a consumer's rate limit when its stream
    /// sets no `max_msg_size`.
    pub max_payload: usize,
}

impl Settings {
    /// Go's default store directory is `os.TempDir()` + `nats`.
    pub fn new(store_dir: Option<PathBuf>, opts: Options) -> Settings {
        Settings {
            store_dir: store_dir.unwrap_or_else(|| std::env::temp_dir().join("nats")),
            opts,
            max_payload: crate::config::DEFAULT_MAX_PAYLOAD,
        }
    }
}

impl Settings {
    /// `max_memory_store` and `max_file_store`, or Go's defaults when unset: 75% of the
    /// machine's memory and of the store's free disk (`server/jetstream.go`).
    pub fn limits(&self) -> (i64, i64) {
        let three_quarters = |n: u64| (n / 4 * 3) as i64;
        let memory = if self.opts.max_memory >= 0 {
            self.opts.max_memory
        } else {
            three_quarters(total_memory())
        };
        let storage = if self.opts.max_store >= 0 {
            self.opts.max_store
        } else {
            three_quarters(free_disk(&self.store_dir))
        };
        (memory, storage)
    }
}

/// The machine's memory in bytes (`MemTotal` of `/proc/meminfo`).
fn total_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Bytes free for an unprivileged writer on the filesystem holding `dir`.
fn free_disk(dir: &Path) -> u64 {
    let Ok(path) = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()) else {
        return 0;
    };
    // SAFETY: `path` is a valid C string and `st` a plain struct statvfs fills in.
    unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(path.as_ptr(), &mut st) != 0 {
            return 0;
        }
        st.f_bavail as u64 * st.f_frsize as u64
    }
}

/// JetStream's usage, as the monitor shows it.
#[derive(Debug, Clone)]
pub struct Usage {
    pub store_dir: PathBuf,
    pub sync_interval: Duration,
    pub sync_always: bool,
    pub strict: bool,
    pub max_memory: i64,
    pub max_storage: i64,
    pub accounts: Vec<AccountUsage>,
}

/// One account's part of `Usage`.
#[derive(Debug, Clone, Default)]
pub struct AccountUsage {
    pub name: String,
    pub memory: u64,
    pub storage: u64,
    pub messages: u64,
    pub bytes: u64,
    pub api_total: u64,
    pub api_errors: u64,
    pub streams: Vec<StreamUsage>,
    pub consumers: u64,
}

/// One stream in `/jsz?streams=true`.
#[derive(Debug, Clone)]
pub struct StreamUsage {
    pub name: String,
    pub created: String,
    pub config: serde_json::Value,
    pub state: serde_json::Value,
}

/// A stream's number on the host shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct StreamId(pub u32);

/// An account's JetStream limits (config `jetstream {...}` in the account, or its JWT);
/// -1 means none. In Go's `JetStreamAccountLimits` order, as `$JS.API.INFO` shows them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AccountLimits {
    pub max_memory: i64,
    pub max_storage: i64,
    pub max_streams: i64,
    pub max_consumers: i64,
    pub max_ack_pending: i64,
    pub memory_max_stream_bytes: i64,
    pub storage_max_stream_bytes: i64,
    pub max_bytes_required: bool,
}

impl Default for AccountLimits {
    fn default() -> AccountLimits {
        AccountLimits {
            max_memory: -1,
            max_storage: -1,
            max_streams: -1,
            max_consumers: -1,
            max_ack_pending: -1,
            memory_max_stream_bytes: -1,
            storage_max_stream_bytes: -1,
            max_bytes_required: false,
        }
    }
}

/// An account that may use JetStream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsAccount {
    pub id: AccountId,
    pub name: String,
    pub limits: AccountLimits,
}

/// An internal subscription of the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Internal {
    /// A stream's subjects: what is published there is stored.
    Stream(StreamId),
    /// `$JS.API.DIRECT.GET.<stream>[.>]`, with `allow_direct`.
    Direct(StreamId),
    /// A consumer's pull requests, `$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`.
    Next(StreamId),
    /// A consumer's acks, `$JS.ACK.<stream>.<consumer>.*.*.*.*.*` (none with ack policy none,
    /// so such an ack finds no responders, as in Go).
    Acks(StreamId),
    /// A push consumer's flow-control responses, `$JS.FC.<stream>.<consumer>.*`.
    FlowControl(StreamId),
}

/// What the host shard must change in its subscriptions after a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Effect {
    pub account: AccountId,
    pub internal: Internal,
    pub subjects: Vec<String>,
    pub on: bool,
}

/// The subscriptions a stream with `config` has: its subjects, and its direct-get subjects
/// when it allows direct gets.
fn stream_effects(
    account: AccountId,
    id: StreamId,
    config: &config::StreamConfig,
    on: bool,
) -> Vec<Effect> {
    let mut out = vec![Effect {
        account,
        internal: Internal::Stream(id),
        subjects: config.subjects.clone(),
        on,
    }];
    if config.allow_direct {
        out.push(Effect {
            account,
            internal: Internal::Direct(id),
            subjects: vec![
                format!("{DIRECT_GET_PREFIX}{}", config.name),
                format!("{DIRECT_GET_PREFIX}{}.>", config.name),
            ],
            on,
        });
    }
    out
}

/// The subscriptions a consumer has: its pull requests (Go subscribes them for push
/// consumers too, to refuse them), its flow-control responses when it asks for them, and
/// its acks unless it takes none.
fn consumer_effects(
    account: AccountId,
    id: StreamId,
    stream: &str,
    consumer: &consumer::Consumer,
    domain: &str,
    on: bool,
) -> Vec<Effect> {
    let name = &consumer.config.name;
    let mut next = vec![format!("{API_PREFIX}CONSUMER.MSG.NEXT.{stream}.{name}")];
    if !domain.is_empty() {
        next.push(format!(
            "$JS.{domain}.API.CONSUMER.MSG.NEXT.{stream}.{name}"
        ));
    }
    let mut out = vec![Effect {
        account,
        internal: Internal::Next(id),
        subjects: next,
        on,
    }];
    if consumer.config.flow_control {
        out.push(Effect {
            account,
            internal: Internal::FlowControl(id),
            subjects: vec![format!("{}{stream}.{name}.*", pull::FLOW_CONTROL_PREFIX)],
            on,
        });
    }
    if consumer.config.ack_policy != consumer::AckPolicy::None {
        out.push(Effect {
            account,
            internal: Internal::Acks(id),
            subjects: vec![format!("{ACK_PREFIX}{stream}.{name}.*.*.*.*.*")],
            on,
        });
    }
    out
}

/// Where acks are sent (Go's `jsAckT` prefix).
pub(crate) const ACK_PREFIX: &str = "$JS.ACK.";

/// Where direct gets are asked (Go's `JSDirectMsgGet`).
pub(crate) const DIRECT_GET_PREFIX: &str = "$JS.API.DIRECT.GET.";

/// A reply to a request, with what must happen before it leaves and the advisories it
/// causes (subject, JSON), in the order Go publishes them.
#[derive(Debug, Default)]
pub(crate) struct ApiReply {
    pub body: Vec<u8>,
    pub effects: Vec<Effect>,
    pub advisories: Vec<(String, Vec<u8>)>,
}

/// A stream action advisory (`$JS.EVENT.ADVISORY.STREAM.<ACTION>.<stream>`), as Go's
/// `JSStreamActionAdvisory`: `action` is create, modify or delete.
pub(crate) fn stream_advisory(stream: &str, action: &str) -> (String, Vec<u8>) {
    let kind = match action {
        "create" => "CREATED",
        "modify" => "UPDATED",
        _ => "DELETED",
    };
    (
        format!("$JS.EVENT.ADVISORY.STREAM.{kind}.{stream}"),
        advisory_json(
            "stream_action",
            serde_json::json!({"stream": stream, "action": action}),
        ),
    )
}

/// An advisory's JSON: its `type` (after Go's `io.nats.jetstream.advisory.v1.`), a new
/// `id` and the `timestamp` (Go's `TypedEvent`), then the fields of `rest`.
fn advisory_json(kind: &str, rest: serde_json::Value) -> Vec<u8> {
    event_json(&format!("io.nats.jetstream.advisory.v1.{kind}"), rest)
}

/// An event of type `type_name` (Go's `TypedEvent`: type, id, time) with `rest`'s fields.
fn event_json(type_name: &str, rest: serde_json::Value) -> Vec<u8> {
    let mut body = serde_json::json!({
        "type": type_name,
        "id": random_id(NUID_LEN),
        "timestamp": go_time(now_ns()),
    });
    if let (Some(m), serde_json::Value::Object(rest)) = (body.as_object_mut(), rest) {
        m.extend(rest);
    }
    crate::system::go_json(&body)
}

/// What the periodic tick leaves to do: stream logs due for their fsync, advisories to
/// publish in an account (subject, JSON), subscriptions to drop.
pub(crate) struct Tick {
    pub syncs: Vec<std::os::fd::RawFd>,
    pub advisories: Vec<(AccountId, (String, Vec<u8>))>,
    /// Subscriptions of consumers that went.
    pub effects: Vec<Effect>,
}

/// A consumer action advisory (`$JS.EVENT.ADVISORY.CONSUMER.<ACTION>.<stream>.<consumer>`),
/// as Go's `JSConsumerActionAdvisory`: `action` is create or delete (an update has none).
pub(crate) fn consumer_advisory(stream: &str, consumer: &str, action: &str) -> (String, Vec<u8>) {
    let kind = if action == "create" {
        "CREATED"
    } else {
        "DELETED"
    };
    (
        format!("$JS.EVENT.ADVISORY.CONSUMER.{kind}.{stream}.{consumer}"),
        advisory_json(
            "consumer_action",
            serde_json::json!({"stream": stream, "consumer": consumer, "action": action}),
        ),
    )
}

/// A consumer pause advisory (`$JS.EVENT.ADVISORY.CONSUMER.PAUSE.<stream>.<consumer>`), as
/// Go's `JSConsumerPauseAdvisory`: whether it is paused now, and until when (Go's zero time
/// when resumed).
pub(crate) fn consumer_pause_advisory(
    stream: &str,
    consumer: &str,
    paused: bool,
    until: &str,
) -> (String, Vec<u8>) {
    (
        format!("$JS.EVENT.ADVISORY.CONSUMER.PAUSE.{stream}.{consumer}"),
        advisory_json(
            "consumer_pause",
            serde_json::json!({
                "stream": stream, "consumer": consumer, "paused": paused, "pause_until": until,
            }),
        ),
    )
}

/// The length of Go's `nuid` ids (advisory ids).
const NUID_LEN: usize = 22;

/// A random base-62 id of `len` characters, in the shape of Go's `nuid` and of the names
/// it makes from one.
fn random_id(len: usize) -> String {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut seed = vec![0u8; len];
    if getrandom::getrandom(&mut seed).is_err() {
        seed.fill(7);
    }
    seed.iter()
        .map(|b| DIGITS[usize::from(*b) % DIGITS.len()] as char)
        .collect()
}

/// A message the host publishes once the write covering it is done: an ack, or a
/// republished copy. `hdr` is empty when it has no headers.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub account: AccountId,
    pub subject: Bytes,
    pub hdr: Vec<u8>,
    pub body: Vec<u8>,
    /// An ack, which a failed write turns into an error.
    pub is_ack: bool,
}

/// A message the host sends for a consumer (a delivery, a pull request's status) or as an
/// advisory: routed by `to`, its MSG line showing `shown` when that is set (a delivery
/// shows the stored message's subject, as Go's `pa.deliver` routes it).
#[derive(Debug, Clone)]
pub(crate) struct Publication {
    pub account: AccountId,
    pub to: Bytes,
    pub shown: Option<Bytes>,
    pub reply: Option<Bytes>,
    /// Header bytes at the front of `data`; 0 when it has none.
    pub hdr_len: usize,
    pub data: Bytes,
}

impl Publication {
    /// An advisory (or any plain message) on `subject`.
    pub(crate) fn plain(account: AccountId, (subject, body): (String, Vec<u8>)) -> Publication {
        Publication {
            account,
            to: Bytes::from(subject),
            shown: None,
            reply: None,
            hdr_len: 0,
            data: Bytes::from(body),
        }
    }
}

/// Per account: its API counters.
#[derive(Debug, Default, Clone, Copy)]
struct ApiStats {
    total: u64,
    errors: u64,
}

/// The JetStream host: every stream of every account.
#[derive(Debug)]
pub(crate) struct JetStream {
    settings: Settings,
    streams: Vec<Option<(AccountId, Stream)>>,
    by_name: HashMap<(AccountId, String), StreamId>,
    api_stats: HashMap<AccountId, ApiStats>,
    /// The accounts that may use JetStream, and their limits.
    limits: HashMap<AccountId, AccountLimits>,
    /// Deleted streams whose last write is still in flight: their buffers must outlive it.
    retired: Vec<(StreamId, Stream)>,
    last_sync: std::time::Instant,
    /// What consumers sent since the host last took it, in order. Deliveries append to
    /// it directly, and its room is kept: a push window is thousands of messages.
    sends: Vec<Publication>,
    /// Streams that stored messages this turn while a consumer of theirs waits, or with a
    /// push consumer that sent its share of a turn and has more.
    fresh: Vec<StreamId>,
    /// Whether some stream mirrors or sources another.
    copying: bool,
    /// Whether a copy may have something to take (an origin stored, or a backlog is left).
    copy_due: bool,
}

/// A stream's directory: `<store_dir>/jetstream/<account>/streams/<name>` (Go's layout).
fn stream_dir(settings: &Settings, account: &str, name: &str) -> PathBuf {
    settings
        .store_dir
        .join("jetstream")
        .join(account)
        .join("streams")
        .join(name)
}

/// The file a stream's configuration is kept in.
const META_FILE: &str = "meta.json";

#[derive(serde::Serialize, serde::Deserialize)]
struct Meta {
    config: config::StreamConfig,
    created: i64,
}

impl JetStream {
    /// Opens the store and recovers the streams of `accounts` (id, name). A stream whose
    /// directory cannot be read is skipped with a warning, as Go does.
    pub(crate) fn open(settings: Settings, accounts: &[JsAccount]) -> JetStream {
        let mut js = JetStream {
            settings,
            limits: accounts.iter().map(|a| (a.id, a.limits.clone())).collect(),
            streams: Vec::new(),
            by_name: HashMap::new(),
            api_stats: HashMap::new(),
            retired: Vec::new(),
            sends: Vec::new(),
            fresh: Vec::new(),
            copying: false,
            copy_due: false,
            last_sync: std::time::Instant::now(),
        };
        for JsAccount { id, name, .. } in accounts {
            let dir = js
                .settings
                .store_dir
                .join("jetstream")
                .join(name)
                .join("streams");
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut names: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
            names.sort();
            for path in names {
                match Self::recover_stream(&path) {
                    Ok(mut stream) => {
                        stream.account_name = name.clone();
                        let n = stream.store.len();
                        crate::log_at!(
                            Info,
                            "  Restored {} messages for stream '{} > {}'",
                            n,
                            name,
                            stream.config.name
                        );
                        js.add(*id, stream);
                    }
                    Err(e) => {
                        crate::log_at!(Warn, "  Error recovering stream in {}: {e}", path.display())
                    }
                }
            }
        }
        js.refresh_copying();
        js
    }

    fn recover_stream(dir: &Path) -> std::io::Result<Stream> {
        let meta: Meta = serde_json::from_slice(&std::fs::read(dir.join(META_FILE))?)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        let mut stream = Stream::new(meta.config, meta.created, None);
        let (log, cut) = file_log::FileLog::open(dir, |block, r| stream.apply(block, r))?;
        if cut > 0 {
            crate::log_at!(
                Warn,
                "Stream '{}': cut {cut} bytes of a torn or damaged tail from its log",
                stream.config.name
            );
        }
        stream.log = Some(log);
        stream.count_live();
        stream.enforce_limits(now_ns(), None);
        upstream::resume(&mut stream);
        for mut c in consumer_api::recover_consumers(dir) {
            consumer_api::started(&stream, &mut c);
            stream.consumers.insert(c.config.name.clone(), Box::new(c));
        }
        Ok(stream)
    }

    /// Numbers are never reused: a completion may still come for a deleted stream's write.
    fn add(&mut self, account: AccountId, stream: Stream) -> StreamId {
        self.streams.push(None);
        let id = self.streams.len() - 1;
        let sid = StreamId(id as u32);
        self.by_name
            .insert((account, stream.config.name.clone()), sid);
        self.streams[id] = Some((account, stream));
        sid
    }

    /// The JetStream domain, empty when none.
    pub(crate) fn domain(&self) -> &str {
        &self.settings.opts.domain
    }

    /// Every stream's subscriptions: what the host subscribes at start.
    pub(crate) fn subscriptions(&self) -> Vec<Effect> {
        self.streams
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|(acc, st)| (i, acc, st)))
            .flat_map(|(i, acc, st)| {
                let id = StreamId(i as u32);
                let consumers = st.consumers.values().flat_map(move |c| {
                    consumer_effects(*acc, id, &st.config.name, c, self.domain(), true)
                });
                stream_effects(*acc, id, &st.config, true)
                    .into_iter()
                    .chain(consumers)
            })
            .collect()
    }

    pub(crate) fn stream(&self, id: StreamId) -> Option<&Stream> {
        self.streams
            .get(id.0 as usize)
            .and_then(Option::as_ref)
            .map(|(_, s)| s)
    }

    fn stream_mut(&mut self, id: StreamId) -> Option<&mut Stream> {
        self.streams
            .get_mut(id.0 as usize)
            .and_then(Option::as_mut)
            .map(|(_, s)| s)
    }

    /// A message published on one of stream `id`'s subjects. Its ack (when it has a
    /// reply) and republished copy wait for the write of the batch that holds it.
    pub(crate) fn ingest(
        &mut self,
        account: AccountId,
        id: StreamId,
        subject: &[u8],
        reply: Option<&[u8]>,
        msg: Published<'_>,
    ) {
        self.ingest_as(account, id, subject, reply, msg, None);
    }

    /// A mirror's or source's copy, stored as a publish without a reply is.
    pub(crate) fn ingest_copy(
        &mut self,
        account: AccountId,
        id: StreamId,
        subject: &[u8],
        msg: Published<'_>,
        copy: upstream::CopyOf,
    ) {
        self.ingest_as(account, id, subject, None, msg, Some(copy));
    }

    fn ingest_as(
        &mut self,
        account: AccountId,
        id: StreamId,
        subject: &[u8],
        reply: Option<&[u8]>,
        msg: Published<'_>,
        copy: Option<upstream::CopyOf>,
    ) {
        let now = now_ns();
        let domain = self.settings.opts.domain.clone();
        let outcome = if self.over_account_storage(account, id, subject, msg.hdr_len, msg.raw.len())
        {
            stream::Ingest::Refused(errors::ApiError::account_resources_exceeded())
        } else {
            let Some(stream) = self.stream_mut(id) else {
                return;
            };
            stream.ingest(subject, msg, now, copy)
        };
        if let stream::Ingest::Stored(_) = outcome {
            self.copy_due |= self.copying;
        }
        let Some(stream) = self.stream_mut(id) else {
            return;
        };
        let pending = !stream.pending.is_empty();
        if let stream::Ingest::Stored(_) = outcome {
            if stream.consumers.values().any(|c| c.has_takers()) && !self.fresh.contains(&id) {
                self.fresh.push(id);
            }
        }
        let Some(stream) = self.stream_mut(id) else {
            return;
        };
        if let stream::Ingest::Stored(seq) = outcome {
            if let Some((to, hdr, body)) = stream.republished(seq) {
                let o = Outgoing {
                    account,
                    subject: to,
                    hdr,
                    body,
                    is_ack: false,
                };
                stream.pipeline.wait(o, pending);
            }
        }
        if let (Some(reply), false) = (reply, stream.config.no_ack) {
            let o = Outgoing {
                account,
                subject: Bytes::copy_from_slice(reply),
                hdr: Vec::new(),
                body: stream.pub_ack(&outcome, &domain),
                is_ack: true,
            };
            stream.pipeline.wait(o, pending);
        }
    }

    /// Whether storing this message would take the account past its memory or file limit
    /// (Go refuses it, whatever the stream's discard policy).
    fn over_account_storage(
        &self,
        account: AccountId,
        id: StreamId,
        subject: &[u8],
        hdr_len: usize,
        len: usize,
    ) -> bool {
        let (Some(limits), Some(target)) = (self.limits.get(&account), self.stream(id)) else {
            return false;
        };
        let storage = target.config.storage;
        let limit = match storage {
            config::Storage::Memory => limits.max_memory,
            config::Storage::File => limits.max_storage,
        };
        if limit < 0 {
            return false;
        }
        let used: u64 = self
            .streams
            .iter()
            .flatten()
            .filter(|(a, s)| *a == account && s.config.storage == storage)
            .map(|(_, s)| s.store.bytes())
            .sum();
        let size = store::msg_size(storage, subject.len(), hdr_len, len - hdr_len);
        used + size > limit as u64
    }

    /// Reloads a stream from its log after a failed write, so that memory holds only what
    /// the log does.
    fn reload(&mut self, id: StreamId) {
        let Some(Some((_, stream))) = self.streams.get_mut(id.0 as usize) else {
            return;
        };
        let Some(dir) = stream.log.as_ref().map(|l| l.dir().to_path_buf()) else {
            return;
        };
        match Self::recover_stream(&dir) {
            Ok(mut fresh) => {
                fresh.created = stream.created;
                *stream = fresh;
            }
            Err(e) => crate::log_at!(
                Error,
                "JetStream stream '{}' could not be reloaded: {e}",
                stream.config.name
            ),
        }
    }

    /// Periodic work: ages and TTLs; every `sync_interval`, the logs to fsync (submitted on
    /// the ring by the reactor, so the shard does not wait for the disk).
    pub(crate) fn tick(&mut self, now: std::time::Instant) -> Tick {
        let ns = now_ns();
        let mut advisories = Vec::new();
        let mut effects = Vec::new();
        let domain = self.settings.opts.domain.clone();
        self.copy_due |= self.copying;
        for (i, slot) in self.streams.iter_mut().enumerate() {
            let Some((account, s)) = slot else {
                continue;
            };
            s.expire(ns);
            consumer_api::keep_progress(s, self.settings.opts.sync_always);
            for c in consumer_api::remove_idle(s, ns) {
                let (stream, name) = (&s.config.name, &c.config.name);
                let id = StreamId(i as u32);
                effects.extend(consumer_effects(*account, id, stream, &c, &domain, false));
                advisories.push((*account, consumer_advisory(stream, name, "delete")));
            }
        }
        if now.duration_since(self.last_sync) < self.settings.opts.sync_interval {
            return Tick {
                syncs: Vec::new(),
                advisories,
                effects,
            };
        }
        self.last_sync = now;
        let syncs = self
            .streams
            .iter_mut()
            .flatten()
            .filter_map(|(_, s)| s.log.as_mut().map(file_log::FileLog::sync_fds))
            .flatten()
            .collect();
        Tick {
            syncs,
            advisories,
            effects,
        }
    }

    /// What `/jsz`, `/varz` and `$SYS` JSZ show: per account, its usage and streams.
    pub(crate) fn usage(&self, server: &crate::server::Server) -> Usage {
        let mut accounts: Vec<AccountUsage> = Vec::new();
        for (acc, s) in self.streams.iter().flatten() {
            let name = server.accounts.name(*acc);
            let i = match accounts.iter().position(|a| a.name == name) {
                Some(i) => i,
                None => {
                    let stats = self.api_stats.get(acc).copied().unwrap_or_default();
                    accounts.push(AccountUsage {
                        name: name.to_string(),
                        api_total: stats.total,
                        api_errors: stats.errors,
                        ..AccountUsage::default()
                    });
                    accounts.len() - 1
                }
            };
            let a = &mut accounts[i];
            match s.config.storage {
                config::Storage::Memory => a.memory += s.store.bytes(),
                config::Storage::File => a.storage += s.store.bytes(),
            }
            a.messages += s.store.len();
            a.consumers += s.consumers.len() as u64;
            a.bytes += s.store.bytes();
            a.streams.push(StreamUsage {
                name: s.config.name.clone(),
                created: go_time(s.created),
                config: serde_json::to_value(&s.config).unwrap_or_default(),
                state: serde_json::to_value(s.store.state(None, s.consumers.len() as u64))
                    .unwrap_or_default(),
            });
        }
        for (acc, stats) in &self.api_stats {
            let name = server.accounts.name(*acc);
            if !accounts.iter().any(|a| a.name == name) {
                accounts.push(AccountUsage {
                    name: name.to_string(),
                    api_total: stats.total,
                    api_errors: stats.errors,
                    ..AccountUsage::default()
                });
            }
        }
        for a in &mut accounts {
            a.streams.sort_by(|x, y| x.name.cmp(&y.name));
        }
        accounts.sort_by(|x, y| x.name.cmp(&y.name));
        let (max_memory, max_storage) = self.settings.limits();
        Usage {
            store_dir: self.settings.store_dir.join("jetstream"),
            sync_interval: self.settings.opts.sync_interval,
            sync_always: self.settings.opts.sync_always,
            strict: self.settings.opts.strict,
            max_memory,
            max_storage,
            accounts,
        }
    }
}

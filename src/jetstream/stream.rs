//! One stream: its configuration, its messages, and what a publish to it does (Go's
//! `processJetStreamMsg`): dedupe by `Nats-Msg-Id`, the `Nats-Expected-*` checks, rollups,
//! per-message TTLs, the limits with discard old or new. Sans-IO: what must reach the disk
//! is encoded into `pending`, written by the owner at the end of its turn.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use bytes::Bytes;

use super::config::{Discard, Retention, StreamConfig};
use super::errors::ApiError;
use super::file_log::{self, FileLog, MsgRef, Record, RecordRef};
use super::store::{MsgStore, Payload, StoredMsg};
use super::upstream::CopyOf;
use crate::accounts::transform::Transform;

/// Publish headers (nats-server `server/stream.go`).
pub(crate) const MSG_ID: &str = "Nats-Msg-Id";
const EXPECTED_STREAM: &str = "Nats-Expected-Stream";
const EXPECTED_LAST_SEQ: &str = "Nats-Expected-Last-Sequence";
const EXPECTED_LAST_SUBJ_SEQ: &str = "Nats-Expected-Last-Subject-Sequence";
const EXPECTED_LAST_SUBJ_SEQ_SUBJ: &str = "Nats-Expected-Last-Subject-Sequence-Subject";
const EXPECTED_LAST_MSG_ID: &str = "Nats-Expected-Last-Msg-Id";
const ROLLUP: &str = "Nats-Rollup";
const TTL: &str = "Nats-TTL";
/// Why a delete marker was placed.
const MARKER_REASON: &str = "Nats-Marker-Reason";
/// The shortest per-message TTL Go accepts: 1 s, in nanoseconds.
const MIN_TTL_NS: i64 = 1_000_000_000;

/// The value of header `key` in a `NATS/1.0` header block (Go's `getHeader`: the first
/// line whose key matches exactly, the value trimmed).
pub(crate) fn header<'a>(hdr: &'a [u8], key: &str) -> Option<&'a [u8]> {
    hdr.split(|&b| b == b'\n').skip(1).find_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let colon = line.iter().position(|&b| b == b':')?;
        (&line[..colon] == key.as_bytes()).then(|| line[colon + 1..].trim_ascii())
    })
}

fn header_str<'a>(hdr: &'a [u8], key: &str) -> Option<&'a str> {
    header(hdr, key).and_then(|v| std::str::from_utf8(v).ok())
}

/// `Nats-TTL`: seconds, a Go duration in s/m/h, or `never` (-1). Go's `parseMessageTTL`.
fn parse_ttl(v: &str) -> Result<i64, ApiError> {
    if v == "never" {
        return Ok(-1);
    }
    let (num, unit) = match v.as_bytes().last() {
        Some(b's') if v.ends_with("ms") => (&v[..v.len() - 2], 1_000_000),
        Some(b's') => (&v[..v.len() - 1], 1_000_000_000),
        Some(b'm') => (&v[..v.len() - 1], 60_000_000_000),
        Some(b'h') => (&v[..v.len() - 1], 3_600_000_000_000),
        _ => (v, 1_000_000_000),
    };
    let n: i64 = num.parse().map_err(|_| ApiError::invalid_ttl())?;
    let ns = n.checked_mul(unit).ok_or_else(ApiError::invalid_ttl)?;
    if ns < MIN_TTL_NS {
        return Err(ApiError::invalid_ttl());
    }
    Ok(ns)
}

/// A stored message's headers with `fields` appended (how Go builds republished and
/// direct-get headers): `NATS/1.0` and the message's own headers first.
pub(crate) fn with_headers(hdr: &[u8], fields: &[(&str, String)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hdr.len() + 128);
    match hdr.strip_suffix(b"\r\n") {
        Some(head) if !head.is_empty() => out.extend_from_slice(head),
        _ => out.extend_from_slice(b"NATS/1.0\r\n"),
    }
    for (k, v) in fields {
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// A published message as the host hands it over: its headers (the first `hdr_len` bytes)
/// and payload where they were read, and the shared buffer holding them when one was made
/// (it crossed the rings in it), which a memory stream keeps instead of copying.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Published<'a> {
    pub raw: &'a [u8],
    pub shared: Option<&'a Bytes>,
    pub hdr_len: usize,
}

/// What became of one publish.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Ingest {
    Stored(u64),
    /// A `Nats-Msg-Id` seen within the duplicate window: the first copy's sequence.
    Duplicate(u64),
    Refused(ApiError),
}

#[derive(Debug)]
pub(crate) struct Stream {
    /// The configuration as stored (with `_nats.req.level`).
    pub config: StreamConfig,
    /// Creation time, nanoseconds since the Unix epoch.
    pub created: i64,
    pub store: MsgStore,
    transform: Option<Transform>,
    /// `republish`: which stored subjects, and where they go.
    republish: Option<Transform>,
    /// `Nats-Msg-Id` -> (sequence, time stored), for the duplicate window.
    dedupe: HashMap<String, (u64, i64)>,
    dedupe_order: VecDeque<(i64, String)>,
    last_msg_id: String,
    /// Messages with a TTL, by expiry time.
    expiries: BTreeSet<(i64, u64)>,
    /// The last sequence on the subject of the message stored last, before it was stored
    /// (its republished copy's `Nats-Last-Sequence`).
    pub prev_on_subject: u64,
    /// The file log, for file storage under a store directory.
    pub log: Option<FileLog>,
    /// Records not yet written to the log.
    pub pending: Vec<u8>,
    /// The messages in `pending`: sequence and where the payload starts there.
    pub pending_msgs: Vec<(u64, usize)>,
    /// The writes of `pending` and what waits for them.
    pub pipeline: super::commit::Pipeline,
    /// Its consumers, by name; boxed, as each ack takes one out while it works on both.
    pub consumers: BTreeMap<String, Box<super::consumer::Consumer>>,
    /// Its mirror or sources, and how far each copy has come.
    pub upstreams: Vec<super::upstream::Upstream>,
    /// Its account's name, for the advisories that carry it.
    pub account_name: String,
}

impl Stream {
    pub(crate) fn new(config: StreamConfig, created: i64, log: Option<FileLog>) -> Stream {
        let store = MsgStore::new(config.storage, config.first_seq);
        let (transform, republish) = transforms(&config);
        let upstreams = super::upstream::upstreams_for(&config, Vec::new());
        Stream {
            config,
            created,
            store,
            transform,
            republish,
            dedupe: HashMap::new(),
            dedupe_order: VecDeque::new(),
            last_msg_id: String::new(),
            expiries: BTreeSet::new(),
            prev_on_subject: 0,
            log,
            pending: Vec::new(),
            pending_msgs: Vec::new(),
            pipeline: super::commit::Pipeline::default(),
            consumers: BTreeMap::new(),
            upstreams,
            account_name: String::new(),
        }
    }

    /// Takes a new configuration (already checked against the old one).
    pub(crate) fn reconfigure(&mut self, config: StreamConfig, now: i64) {
        (self.transform, self.republish) = transforms(&config);
        let old = std::mem::take(&mut self.upstreams);
        self.upstreams = super::upstream::upstreams_for(&config, old);
        self.config = config;
        self.enforce_limits(now, None);
    }

    /// Applies one record read back from block `block` of the log (recovery).
    pub(crate) fn apply(&mut self, block: u32, r: RecordRef<'_>) {
        match r {
            RecordRef::Msg(r) => {
                let (seq, ts, ttl_ns) = (r.seq, r.ts, r.ttl_ns);
                let m = r.stored(self.store.intern(r.subject), block);
                if ttl_ns > 0 {
                    self.expiries.insert((ts + ttl_ns, seq));
                }
                let id = header_str(r.hdr, MSG_ID).unwrap_or_default();
                if id != self.last_msg_id {
                    self.last_msg_id = id.to_string();
                }
                if !id.is_empty() {
                    self.dedupe.insert(id.to_string(), (seq, ts));
                    self.dedupe_order.push_back((ts, id.to_string()));
                }
                self.store.insert(seq, m);
            }
            RecordRef::Delete(seq) => {
                self.store.remove(seq);
            }
            RecordRef::Purge(next) => self.store.reset(next),
            RecordRef::Assigned(last) => self.store.assigned(last),
            RecordRef::IndexOf(_) => {}
        }
    }

    /// After recovery: tells the log which of its messages are still there, a run of
    /// messages in one block at a time.
    pub(crate) fn count_live(&mut self) {
        let Some(log) = &mut self.log else {
            return;
        };
        let mut run: Option<(u32, u64, u64, u64)> = None;
        for (seq, m) in self.store.iter() {
            let Payload::Log { block, .. } = m.data else {
                continue;
            };
            let size = self.store.size_of(m);
            match &mut run {
                Some((b, _, msgs, bytes)) if *b == block => {
                    *msgs += 1;
                    *bytes += size;
                }
                _ => {
                    if let Some((b, first, msgs, bytes)) = run {
                        log.stored(b, first, msgs, bytes);
                    }
                    run = Some((block, seq, 1, size));
                }
            }
        }
        if let Some((b, first, msgs, bytes)) = run {
            log.stored(b, first, msgs, bytes);
        }
    }

    /// A write to `block` at `at` completed: the payloads of `msgs` (sequence, and where
    /// the payload starts in the write) are in the log now, and the block counts them.
    pub(crate) fn logged(&mut self, block: u32, at: u64, msgs: &[(u64, usize)]) {
        let (mut n, mut size) = (0, 0);
        for &(seq, pos) in msgs {
            if let Some(s) = self.store.in_log_at(seq, block, (at + pos as u64) as u32) {
                n += 1;
                size += s;
            }
        }
        if let (Some(log), Some(&(first, _))) = (&mut self.log, msgs.first()) {
            log.stored(block, first, n, size);
        }
    }

    /// Before a write: when the log's block is full, the write starts a new one, which
    /// opens with the last sequence given out so far.
    pub(crate) fn roll_if_full(&mut self) -> std::io::Result<()> {
        let Some(log) = &mut self.log else {
            return Ok(());
        };
        if !log.full() {
            return Ok(());
        }
        log.roll()?;
        let mut first = Vec::new();
        file_log::encode(&mut first, &Record::Assigned(self.store.last_seq()));
        let n = first.len();
        self.pending.splice(0..0, first);
        for (_, at) in &mut self.pending_msgs {
            *at += n;
        }
        Ok(())
    }

    fn log_record(&mut self, r: &Record) {
        if self.log.is_some() {
            let data_at = file_log::encode(&mut self.pending, r);
            if let (Record::Msg(seq, _), Some(at)) = (r, data_at) {
                self.pending_msgs.push((*seq, at));
            }
        }
    }

    /// The payload of message `seq`, stored as `m`: read back from the log when it is
    /// there, copied from the batch that holds it when it is not written yet.
    pub(crate) fn payload(&self, seq: u64, m: &StoredMsg) -> std::io::Result<Bytes> {
        match (&m.data, &self.log) {
            (Payload::Mem(b), _) => Ok(b.clone()),
            (Payload::Unwritten(len), _) => {
                let in_batch = |msgs: &[(u64, usize)], buf: &[u8]| {
                    let i = msgs.binary_search_by_key(&seq, |&(s, _)| s).ok()?;
                    let at = msgs[i].1;
                    Some(Bytes::copy_from_slice(buf.get(at..at + *len as usize)?))
                };
                in_batch(&self.pending_msgs, &self.pending)
                    .or_else(|| self.pipeline.find(in_batch))
                    .ok_or_else(|| std::io::Error::other("unwritten message not in a batch"))
            }
            (Payload::Log { block, offset, len }, Some(log)) => log.read_at(*block, *offset, *len),
            (Payload::Log { .. }, None) => Err(std::io::Error::other("no log")),
        }
    }

    /// Removes one message, and says so in the log.
    pub(crate) fn remove(&mut self, seq: u64) -> bool {
        let Some(m) = self.store.get(seq) else {
            return false;
        };
        if let (Payload::Log { block, .. }, Some(log)) = (&m.data, &mut self.log) {
            log.removed(*block, self.store.size_of(m), self.pipeline.filling());
        }
        let subject = m.subject.clone();
        for c in self.consumers.values_mut() {
            c.forget(seq, &subject);
        }
        self.store.remove(seq);
        self.log_record(&Record::Delete(seq));
        true
    }

    /// Removes everything; the next message gets the sequence after the last one.
    fn purge_all(&mut self) -> u64 {
        let n = self.store.len();
        let next = self.store.last_seq() + 1;
        if let Some(log) = &mut self.log {
            log.purged(self.pipeline.filling());
        }
        self.store.reset(next);
        for c in self.consumers.values_mut() {
            c.purged(next);
        }
        self.expiries.clear();
        self.log_record(&Record::Purge(next));
        n
    }

    /// Go's `PurgeEx`: returns how many messages went.
    pub(crate) fn purge(&mut self, filter: &[u8], up_to: Option<u64>, keep: u64) -> u64 {
        let whole = filter.is_empty() || filter == b">";
        if whole && up_to.is_none() && keep == 0 {
            return self.purge_all();
        }
        let set = self.store.purge_set(filter, up_to, keep);
        for &seq in &set {
            self.remove(seq);
        }
        if whole && self.store.len() == 0 {
            if let Some(up_to) = up_to {
                // Go moves the first sequence up to the purge point even past the last one.
                self.store.reset(up_to.max(self.store.first_seq()));
            }
        }
        set.len() as u64
    }

    /// Handles one message published on one of the stream's subjects.
    /// Stores a publish, or a mirror's or source's copy (`copy`), which keeps no
    /// expectations and, from a mirror, its origin's sequence and time.
    pub(crate) fn ingest(
        &mut self,
        subject: &[u8],
        msg: Published<'_>,
        now: i64,
        copy: Option<CopyOf>,
    ) -> Ingest {
        match self.try_ingest(subject, msg, now, copy) {
            Ok(i) => i,
            Err(e) => Ingest::Refused(e),
        }
    }

    fn try_ingest(
        &mut self,
        subject: &[u8],
        msg: Published<'_>,
        now: i64,
        copy: Option<CopyOf>,
    ) -> Result<Ingest, ApiError> {
        if self.config.sealed {
            return Err(ApiError::sealed());
        }
        let (hdr, data) = msg.raw.split_at(msg.hdr_len);
        let subject: Bytes = match &self.transform {
            Some(t) if crate::subject::matches_literal(t_src(&self.config), subject) => {
                self.store.intern(&t.apply(subject))
            }
            _ => self.store.intern(subject),
        };
        let msg_id = header_str(hdr, MSG_ID).filter(|s| !s.is_empty());
        if let Some(id) = msg_id {
            self.expire_dedupe(now);
            if let Some(&(seq, _)) = self.dedupe.get(id) {
                return Ok(Ingest::Duplicate(seq));
            }
        }
        if !hdr.is_empty() && copy.is_none() {
            if let Some(s) = header_str(hdr, EXPECTED_STREAM) {
                if !s.is_empty() && s != self.config.name {
                    return Err(ApiError::expected_stream_mismatch());
                }
            }
            if let Some(v) = header_str(hdr, EXPECTED_LAST_SEQ) {
                if let Ok(seq) = v.parse::<u64>() {
                    if seq != self.store.last_seq() {
                        return Err(ApiError::wrong_last_sequence(self.store.last_seq()));
                    }
                }
            }
            if let Some(v) = header_str(hdr, EXPECTED_LAST_SUBJ_SEQ) {
                if let Ok(seq) = v.parse::<u64>() {
                    let on = header(hdr, EXPECTED_LAST_SUBJ_SEQ_SUBJ).unwrap_or(&subject);
                    let last = self.store.last_of_subject(on);
                    if seq != last {
                        return Err(ApiError::wrong_last_sequence(last));
                    }
                }
            }
            if let Some(id) = header_str(hdr, EXPECTED_LAST_MSG_ID) {
                if !id.is_empty() && id != self.last_msg_id {
                    return Err(ApiError::wrong_last_msg_id(&self.last_msg_id));
                }
            }
        }
        let rollup = match header_str(hdr, ROLLUP) {
            None => None,
            // The origin applied it; a copy into a stream without roll-ups keeps the rest.
            Some(_) if copy.is_some() && !self.config.allow_rollup_hdrs => None,
            Some(_) if !self.config.allow_rollup_hdrs => {
                return Err(ApiError::rollup_failed("rollup not permitted"));
            }
            Some(v @ ("sub" | "all")) => Some(v == "all"),
            Some(v) => {
                return Err(ApiError::rollup_failed(format!(
                    "rollup value invalid: {v:?}"
                )))
            }
        };
        let ttl_ns = match header_str(hdr, TTL) {
            None => 0,
            Some(_) if !self.config.allow_msg_ttl => return Err(ApiError::ttl_disabled()),
            Some(v) => parse_ttl(v)?,
        };
        let max_size = self.config.max_msg_size;
        if max_size >= 0 && (hdr.len() + data.len()) as i64 > max_size {
            return Err(ApiError::message_too_large());
        }
        self.check_discard_new(&subject, hdr.len(), data.len())?;

        let (hdr, payload) = match (&self.log, msg.shared) {
            (Some(_), _) => (
                Bytes::copy_from_slice(hdr),
                Payload::Unwritten(data.len() as u32),
            ),
            (None, Some(raw)) => (
                raw.slice(..msg.hdr_len),
                Payload::Mem(raw.slice(msg.hdr_len..)),
            ),
            (None, None) => {
                let raw = Bytes::copy_from_slice(msg.raw);
                (
                    raw.slice(..msg.hdr_len),
                    Payload::Mem(raw.slice(msg.hdr_len..)),
                )
            }
        };
        let (seq, ts) = match copy {
            Some(CopyOf::Mirror { seq, ts }) => {
                if seq <= self.store.last_seq() {
                    return Ok(Ingest::Duplicate(seq));
                }
                (seq, ts)
            }
            _ => (self.store.last_seq() + 1, now),
        };
        let m = StoredMsg {
            subject: subject.clone(),
            hdr,
            data: payload,
            ts,
            ttl_ns,
        };
        if self.config.retention == Retention::Interest
            && !self.consumers.values().any(|c| c.wants(&subject))
        {
            // No consumer would deliver it: Go acks the message and keeps nothing.
            self.store.skip(seq, now);
            self.log_record(&Record::Purge(seq + 1));
            self.remember_id(msg_id, seq, now);
            return Ok(Ingest::Stored(seq));
        }
        self.prev_on_subject = self.store.last_of_subject(&subject);
        if self.log.is_some() {
            let at = file_log::encode_unwritten(&mut self.pending, seq, &m, data);
            self.pending_msgs.push((seq, at));
        }
        self.store.insert(seq, m);
        for c in self.consumers.values_mut().filter(|c| c.wants(&subject)) {
            c.out.num_pending += 1;
        }
        if ttl_ns > 0 {
            self.expiries.insert((now + ttl_ns, seq));
        }
        self.remember_id(msg_id, seq, now);
        match rollup {
            Some(true) => {
                self.purge(b"", Some(seq), 0);
            }
            Some(false) => {
                self.purge(&subject, Some(seq), 0);
            }
            None => {}
        }
        self.enforce_limits(now, Some(&subject));
        Ok(Ingest::Stored(seq))
    }

    /// Go keeps the last stored message's id (empty when it had none) and, within the
    /// duplicate window, every id.
    fn remember_id(&mut self, msg_id: Option<&str>, seq: u64, now: i64) {
        self.last_msg_id = msg_id.unwrap_or_default().to_string();
        if let Some(id) = msg_id {
            if self.config.duplicate_window > 0 {
                self.dedupe.insert(id.to_string(), (seq, now));
                self.dedupe_order.push_back((now, id.to_string()));
            }
        }
    }

    /// Discard new: refuse what would go over a limit (Go's `ErrMaxMsgs`, `ErrMaxBytes`,
    /// `ErrMaxMsgsPerSubject`).
    fn check_discard_new(&self, subject: &[u8], hdr: usize, data: usize) -> Result<(), ApiError> {
        let c = &self.config;
        if c.discard != Discard::New {
            return Ok(());
        }
        if c.max_msgs > 0 && self.store.len() >= c.max_msgs as u64 {
            return Err(ApiError::store_failed("maximum messages exceeded"));
        }
        let size = super::store::msg_size(c.storage, subject.len(), hdr, data);
        if c.max_bytes > 0 && self.store.bytes() + size > c.max_bytes as u64 {
            return Err(ApiError::store_failed("maximum bytes exceeded"));
        }
        if c.discard_new_per_subject
            && c.max_msgs_per_subject > 0
            && self.store.count_of_subject(subject) >= c.max_msgs_per_subject as usize
        {
            return Err(ApiError::store_failed(
                "maximum messages per subject exceeded",
            ));
        }
        Ok(())
    }

    /// Discard old: drop the oldest messages while a limit is exceeded; also what has aged
    /// out or outlived its TTL.
    pub(crate) fn enforce_limits(&mut self, now: i64, stored_on: Option<&[u8]>) {
        let (per_subject, max_msgs, max_bytes) = (
            self.config.max_msgs_per_subject,
            self.config.max_msgs,
            self.config.max_bytes,
        );
        if per_subject > 0 {
            // After a publish only its subject can be over; after a new configuration, any.
            let over: Vec<Bytes> = match stored_on {
                Some(subject) => vec![Bytes::copy_from_slice(subject)],
                None => self
                    .store
                    .subject_counts(b"")
                    .into_iter()
                    .filter(|(_, n)| *n > per_subject as u64)
                    .map(|(s, _)| Bytes::from(s))
                    .collect(),
            };
            for s in over {
                while self.store.count_of_subject(&s) > per_subject as usize {
                    let Some(seq) = self.store.first_of_subject(&s) else {
                        break;
                    };
                    self.remove(seq);
                }
            }
        }
        if max_msgs > 0 {
            while self.store.len() > max_msgs as u64 {
                let Some((seq, _)) = self.store.first() else {
                    break;
                };
                self.remove(seq);
            }
        }
        if max_bytes > 0 {
            while self.store.bytes() > max_bytes as u64 {
                let Some((seq, _)) = self.store.first() else {
                    break;
                };
                self.remove(seq);
            }
        }
        self.expire(now);
    }

    /// Removes what `max_age` or a TTL says is gone; returns when the next one will be.
    pub(crate) fn expire(&mut self, now: i64) -> Option<i64> {
        let age = self.config.max_age;
        if age > 0 {
            while let Some((seq, m)) = self.store.first() {
                if m.ts + age > now {
                    break;
                }
                let subject = m.subject.clone();
                let was_marker = header(&m.hdr, MARKER_REASON).is_some();
                self.remove(seq);
                if !was_marker && self.store.count_of_subject(&subject) == 0 {
                    self.place_delete_marker(subject, now);
                }
            }
        }
        while let Some(&(at, seq)) = self.expiries.first() {
            if at > now {
                break;
            }
            self.expiries.pop_first();
            self.remove(seq);
        }
        self.expire_dedupe(now);
        let next_age = (age > 0)
            .then(|| self.store.first().map(|(_, m)| m.ts + age))
            .flatten();
        let next_ttl = self.expiries.first().map(|&(at, _)| at);
        next_age.into_iter().chain(next_ttl).min()
    }

    /// With `subject_delete_marker_ttl`, the last message of a subject aged out leaves a
    /// marker behind (Go's `Nats-Marker-Reason: MaxAge`, a rollup of the subject), which
    /// itself goes after that TTL.
    fn place_delete_marker(&mut self, subject: Bytes, now: i64) {
        let ttl = self.config.subject_delete_marker_ttl;
        if ttl <= 0 {
            return;
        }
        let go_ttl = crate::timefmt::go_duration(std::time::Duration::from_nanos(ttl as u64));
        let hdr = format!(
            "NATS/1.0\r\n{MARKER_REASON}: MaxAge\r\n{TTL}: {go_ttl}\r\n{ROLLUP}: sub\r\n\r\n"
        );
        let m = StoredMsg {
            subject,
            hdr: Bytes::from(hdr),
            data: Payload::Mem(Bytes::new()),
            ts: now,
            ttl_ns: ttl,
        };
        let seq = self.store.last_seq() + 1;
        self.log_record(&Record::Msg(seq, m.clone()));
        self.store.append(m);
        self.expiries.insert((now + ttl, seq));
    }

    fn expire_dedupe(&mut self, now: i64) {
        let window = self.config.duplicate_window;
        while let Some((ts, _)) = self.dedupe_order.front() {
            if ts + window > now {
                break;
            }
            if let Some((_, id)) = self.dedupe_order.pop_front() {
                self.dedupe.remove(&id);
            }
        }
    }

    /// The publish acknowledgement, as Go writes it (its duplicate flag by hand, with a
    /// space).
    pub(crate) fn pub_ack(&self, outcome: &Ingest, domain: &str) -> Vec<u8> {
        let name = super::json_str(&self.config.name);
        let domain = if domain.is_empty() {
            String::new()
        } else {
            format!(",\"domain\":{}", super::json_str(domain))
        };
        match outcome {
            Ingest::Stored(seq) => format!("{{\"stream\":{name},\"seq\":{seq}{domain}}}"),
            Ingest::Duplicate(seq) => {
                format!("{{\"stream\":{name},\"seq\":{seq}{domain},\"duplicate\": true}}")
            }
            Ingest::Refused(e) => format!(
                "{{\"error\":{},\"stream\":{name},\"seq\":0}}",
                String::from_utf8_lossy(&crate::system::go_json(e))
            ),
        }
        .into_bytes()
    }

    /// The republished copy of the message just stored as `seq`, as Go sends it: subject,
    /// headers, payload.
    pub(crate) fn republished(&self, seq: u64) -> Option<(Bytes, Vec<u8>, Vec<u8>)> {
        let (t, r) = (self.republish.as_ref()?, self.config.republish.as_ref()?);
        let m = self.store.get(seq)?;
        let src = if r.src.is_empty() {
            ">"
        } else {
            r.src.as_str()
        };
        if !crate::subject::matches_literal(src.as_bytes(), &m.subject) {
            return None;
        }
        let mut fields = vec![
            ("Nats-Stream", self.config.name.clone()),
            (
                "Nats-Subject",
                String::from_utf8_lossy(&m.subject).into_owned(),
            ),
            ("Nats-Sequence", seq.to_string()),
            ("Nats-Time-Stamp", super::go_time(m.ts)),
            ("Nats-Last-Sequence", self.prev_on_subject.to_string()),
        ];
        let body = if r.headers_only {
            fields.push(("Nats-Msg-Size", m.data.len().to_string()));
            Vec::new()
        } else {
            self.payload(seq, m).ok()?.to_vec()
        };
        Some((
            Bytes::from(t.apply(&m.subject)),
            with_headers(&m.hdr, &fields),
            body,
        ))
    }

    /// After a write completed (batches up to `done` are in the log): the oldest blocks go
    /// once empty, and one sealed block that is mostly dead is rewritten with what is still
    /// worth keeping (its live messages, and tombstones that may name a message still on
    /// disk).
    pub(crate) fn reclaim(&mut self, done: u64) -> std::io::Result<()> {
        let Some(log) = &mut self.log else {
            return Ok(());
        };
        log.drop_empty_front(done);
        let Some(block) = log.compaction_due() else {
            return Ok(());
        };
        let keep_from = log.oldest_seq();
        let old = log.read_block(block)?;
        let mut kept = Vec::with_capacity(old.len() / 2);
        let mut moved = Vec::new();
        file_log::decode(&old, |r, raw| {
            let keep = match r {
                RecordRef::Msg(MsgRef {
                    seq,
                    data: (offset, _),
                    ..
                }) => {
                    let live = matches!(
                        self.store.get(seq).map(|m| &m.data),
                        Some(Payload::Log { block: b, offset: o, .. }) if *b == block && *o == offset
                    );
                    if live {
                        moved.push((seq, (offset as usize - raw.start + kept.len()) as u32));
                    }
                    live
                }
                RecordRef::Delete(seq) => seq >= keep_from,
                _ => true,
            };
            if keep {
                kept.extend_from_slice(&old[raw]);
            }
        });
        log.rewrite_block(block, &kept)?;
        for (seq, offset) in moved {
            self.store.in_log_at(seq, block, offset);
        }
        Ok(())
    }
}

/// The input transform and the republish transform of a configuration.
fn transforms(c: &StreamConfig) -> (Option<Transform>, Option<Transform>) {
    let input = c
        .subject_transform
        .as_ref()
        .and_then(|t| Transform::new(&t.src, &t.dest, false).ok());
    let republish = c.republish.as_ref().and_then(|r| {
        let src = if r.src.is_empty() { ">" } else { &r.src };
        Transform::new(src, &r.dest, false).ok()
    });
    (input, republish)
}

fn t_src(c: &StreamConfig) -> &[u8] {
    c.subject_transform
        .as_ref()
        .map_or(b">".as_slice(), |t| t.src.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A publish of `hdr` and `data` as the host hands it over.
    fn put(s: &mut Stream, subject: &[u8], hdr: &[u8], data: &[u8], now: i64) -> Ingest {
        let raw = [hdr, data].concat();
        let msg = Published {
            raw: &raw,
            shared: None,
            hdr_len: hdr.len(),
        };
        s.ingest(subject, msg, now, None)
    }

    fn stream(json: &str) -> Stream {
        let c: StreamConfig = serde_json::from_str(json).unwrap();
        Stream::new(c.checked().unwrap(), 0, None)
    }

    const ID_M1: &[u8] = b"NATS/1.0\r\nNats-Msg-Id: m1\r\n\r\n";

    #[test]
    fn header_values_are_found_and_trimmed() {
        assert_eq!(header(ID_M1, MSG_ID), Some(&b"m1"[..]));
        assert_eq!(header(ID_M1, "Nats-Msg"), None);
    }

    #[test]
    fn acks_and_refusals_read_as_go_writes_them() {
        let mut s = stream(r#"{"name":"S","subjects":["s.>"]}"#);
        let a = put(&mut s, b"s.a", ID_M1, b"x", 1);
        assert_eq!(s.pub_ack(&a, ""), br#"{"stream":"S","seq":1}"#);
        let d = put(&mut s, b"s.a", ID_M1, b"x", 2);
        assert_eq!(
            s.pub_ack(&d, ""),
            br#"{"stream":"S","seq":1,"duplicate": true}"#
        );
        let hdr = b"NATS/1.0\r\nNats-Expected-Last-Sequence: 5\r\n\r\n";
        let r = put(&mut s, b"s.a", hdr, b"x", 3);
        assert_eq!(
            String::from_utf8(s.pub_ack(&r, "")).unwrap(),
            r#"{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 1"},"stream":"S","seq":0}"#
        );
    }

    #[test]
    fn limits_discard_old_and_new() {
        let mut s = stream(r#"{"name":"S","max_msgs":2,"max_msgs_per_subject":1}"#);
        for (i, subj) in [b"S", b"S", b"S"].iter().enumerate() {
            assert_eq!(
                put(&mut s, *subj, b"", b"x", i as i64),
                Ingest::Stored(i as u64 + 1)
            );
        }
        assert_eq!((s.store.len(), s.store.first_seq()), (1, 3));
        let mut n = stream(r#"{"name":"N","max_msgs":1,"discard":"new"}"#);
        assert_eq!(put(&mut n, b"N", b"", b"x", 0), Ingest::Stored(1));
        assert_eq!(
            put(&mut n, b"N", b"", b"x", 0),
            Ingest::Refused(ApiError::store_failed("maximum messages exceeded"))
        );
    }

    #[test]
    fn rollup_and_ttl() {
        let mut s = stream(
            r#"{"name":"S","subjects":["s.*"],"allow_rollup_hdrs":true,"allow_msg_ttl":true}"#,
        );
        put(&mut s, b"s.a", b"", b"1", 0);
        put(&mut s, b"s.b", b"", b"2", 0);
        put(
            &mut s,
            b"s.a",
            b"NATS/1.0\r\nNats-Rollup: sub\r\n\r\n",
            b"3",
            0,
        );
        assert_eq!(s.store.count_of_subject(b"s.a"), 1);
        assert_eq!(s.store.len(), 2);
        put(
            &mut s,
            b"s.c",
            b"NATS/1.0\r\nNats-TTL: 1s\r\n\r\n",
            b"4",
            10,
        );
        assert_eq!(s.expire(10 + 999_999_999), Some(10 + 1_000_000_000));
        s.expire(10 + 1_000_000_000);
        assert_eq!(s.store.count_of_subject(b"s.c"), 0);
        assert_eq!(
            put(
                &mut s,
                b"s.c",
                b"NATS/1.0\r\nNats-TTL: 10ms\r\n\r\n",
                b"",
                0
            ),
            Ingest::Refused(ApiError::invalid_ttl())
        );
    }

    #[test]
    fn aged_out_subjects_leave_markers_that_expire() {
        const SEC: i64 = 1_000_000_000;
        let mut s = stream(
            r#"{"name":"M","subjects":["m.>"],"max_age":1000000000,"subject_delete_marker_ttl":1000000000}"#,
        );
        put(&mut s, b"m.a", b"", b"x", 0);
        put(&mut s, b"m.b", b"", b"y", 0);
        put(&mut s, b"m.b", b"", b"z", SEC / 2);
        s.expire(SEC);
        // m.a lost its last message and got a marker (as nats-server 2.15.1 writes it);
        // m.b still has one.
        assert_eq!((s.store.len(), s.store.last_seq()), (2, 4));
        let marker = s.store.get(4).unwrap();
        assert_eq!(&marker.subject[..], b"m.a");
        assert_eq!(
            &marker.hdr[..],
            b"NATS/1.0\r\nNats-Marker-Reason: MaxAge\r\nNats-TTL: 1s\r\nNats-Rollup: sub\r\n\r\n"
        );
        // Markers go after their TTL and leave none.
        s.expire(3 * SEC);
        assert_eq!(s.store.count_of_subject(b"m.a"), 0);
        assert_eq!(s.store.get(5).map(|m| &m.subject[..]), Some(&b"m.b"[..]));
    }
}

//! Mirrors and sources: streams that copy the messages of others, stored as Go's
//! `processInboundMirrorMsg` and `processInboundSourceMsg` store them. A mirror keeps each
//! message's sequence and time; a source appends it with a `Nats-Stream-Source` header
//! naming where it came from. Every stream lives on the host, so the copy is read straight
//! from the origin's store at the end of each turn, where Go runs an internal consumer
//! across the account.

use bytes::Bytes;
use serde::Serialize;

use super::config::{ExternalStream, StreamConfig, StreamSource, SubjectTransform};
use super::errors::ApiError;
use super::stream::{with_headers, Stream};
use super::{JetStream, StreamId};
use crate::accounts::transform::Transform;

/// Go's `JSStreamSource` header.
const STREAM_SOURCE: &str = "Nats-Stream-Source";
/// Headers of the origin that a copy drops (Go's `processInboundSourceMsg`): expectations
/// were the origin's to check.
const EXPECTED_PREFIX: &[u8] = b"nats-expected-";
/// Messages one upstream copies per pass, so a large backlog is taken over several turns
/// instead of holding the host for one.
const COPY_BATCH: usize = 16_384;
/// Passes per turn: a copy may feed a stream that others copy in turn.
const MAX_PASSES: usize = 4;
/// Length of the random identity a source puts last in its header (Go's, 8 characters).
const IDENT_LEN: usize = 8;

/// One mirror or source of a stream, and how far its copy has come.
#[derive(Debug)]
pub(crate) struct Upstream {
    pub config: StreamSource,
    pub mirror: bool,
    /// `(filter, transform)` pairs; a message is taken by the first whose filter matches.
    takes: Vec<(Vec<u8>, Option<Transform>)>,
    iname: String,
    ident: String,
    /// The next origin sequence to look at; 0 until the origin is first found.
    next: u64,
    /// The origin sequence copied last (a source's `seq`).
    last: u64,
    /// When the origin was last found, ns since the Unix epoch.
    active: Option<i64>,
    error: Option<ApiError>,
    lag: u64,
}

/// A message read from an origin, for its copy.
struct Copied {
    seq: u64,
    ts: i64,
    /// The subject stored: the origin's, transformed.
    subject: Vec<u8>,
    origin_subject: Bytes,
    hdr: Bytes,
    data: Bytes,
}

/// `mirror` and `sources[]` in a stream's info (Go's `StreamSourceInfo`).
#[derive(Debug, Serialize)]
pub(crate) struct UpstreamInfo {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    external: Option<ExternalStream>,
    lag: u64,
    #[serde(skip_serializing_if = "is_zero")]
    seq: u64,
    /// Nanoseconds since the origin was last seen; -1 for never.
    active: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ApiError>,
    #[serde(skip_serializing_if = "String::is_empty")]
    filter_subject: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subject_transforms: Vec<SubjectTransform>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Upstream {
    fn new(config: &StreamSource, mirror: bool) -> Upstream {
        let takes = if config.subject_transforms.is_empty() {
            let filter = match config.filter_subject.as_str() {
                "" => b">".to_vec(),
                f => f.as_bytes().to_vec(),
            };
            vec![(filter, None)]
        } else {
            config
                .subject_transforms
                .iter()
                .map(|t| {
                    let src = if t.src.is_empty() { ">" } else { &t.src };
                    let transform = (!t.dest.is_empty())
                        .then(|| Transform::new(src, &t.dest, false).ok())
                        .flatten();
                    (src.as_bytes().to_vec(), transform)
                })
                .collect()
        };
        Upstream {
            config: config.clone(),
            mirror,
            takes,
            iname: config.iname(),
            ident: super::random_id(IDENT_LEN),
            next: 0,
            last: 0,
            active: None,
            error: None,
            lag: 0,
        }
    }

    /// The subject a message is stored under, or `None` when this upstream does not take
    /// it.
    fn take(&self, subject: &[u8]) -> Option<Vec<u8>> {
        self.takes
            .iter()
            .find(|(f, _)| crate::subject::matches_literal(f, subject))
            .map(|(_, t)| {
                t.as_ref()
                    .map_or_else(|| subject.to_vec(), |t| t.apply(subject))
            })
    }

    /// Where the copy starts in `origin` (Go's `setStartingSequenceForSources` and the
    /// mirror's start): the requested sequence, the first message at or after the
    /// requested time, or the first stored.
    fn start(&self, origin: &Stream) -> u64 {
        if self.config.opt_start_seq > 0 {
            return self.config.opt_start_seq;
        }
        let first = origin.store.first_seq().max(1);
        match self
            .config
            .opt_start_time
            .as_deref()
            .and_then(crate::timefmt::parse_rfc3339_ns)
        {
            Some(t) => origin
                .store
                .iter()
                .find(|(_, m)| m.ts >= t)
                .map_or(origin.store.last_seq() + 1, |(seq, _)| seq),
            None => first,
        }
    }

    /// Go's new-style source header: `<name> <seq> <filters> <dests> <subject> <ident>`.
    fn source_header(&self, seq: u64, subject: &[u8]) -> String {
        let mut parts = self.iname.splitn(2, ' ');
        let name = parts.next().unwrap_or_default();
        let rest = parts.next().unwrap_or_default();
        format!(
            "{name} {seq} {rest} {} {}",
            String::from_utf8_lossy(subject),
            self.ident
        )
    }

    pub(crate) fn info(&self, now: i64) -> UpstreamInfo {
        // Go fills a mirror's filters in when its copy first starts.
        let shown = !self.mirror || self.active.is_some();
        UpstreamInfo {
            name: self.config.name.clone(),
            external: self.config.external.clone(),
            lag: self.lag,
            seq: if self.mirror { 0 } else { self.last },
            active: self.active.map_or(-1, |t| (now - t).max(0)),
            error: self.error.clone(),
            filter_subject: if shown {
                self.config.filter_subject.clone()
            } else {
                String::new()
            },
            subject_transforms: if shown {
                self.config.subject_transforms.clone()
            } else {
                Vec::new()
            },
        }
    }
}

/// A stream's upstreams for `config`, keeping the progress of those `old` already had.
pub(crate) fn upstreams_for(config: &StreamConfig, old: Vec<Upstream>) -> Vec<Upstream> {
    let mut old = old;
    let mirror = config.mirror.iter().map(|m| (m, true));
    let sources = config.sources.iter().map(|s| (s, false));
    mirror
        .chain(sources)
        .map(|(c, is_mirror)| {
            match old
                .iter()
                .position(|u| u.mirror == is_mirror && u.config == *c)
            {
                Some(i) => old.swap_remove(i),
                None => Upstream::new(c, is_mirror),
            }
        })
        .collect()
}

/// After recovery: a mirror goes on after its last message; a source after the last
/// message its header names, keeping that header's identity (Go reads them back the same
/// way when its `sources.db` is gone).
pub(crate) fn resume(stream: &mut Stream) {
    let last = stream.store.last_seq();
    let mut ups = std::mem::take(&mut stream.upstreams);
    for u in ups.iter_mut().filter(|u| u.mirror && last > 0) {
        u.next = last + 1;
    }
    if ups.iter().any(|u| !u.mirror) {
        for (_, m) in stream.store.iter().filter(|(_, m)| !m.hdr.is_empty()) {
            let Some(v) = super::stream::header(&m.hdr, STREAM_SOURCE) else {
                continue;
            };
            let v = String::from_utf8_lossy(v);
            let f: Vec<&str> = v.split(' ').collect();
            let [name, seq, filters, dests, _, ident] = f[..] else {
                continue;
            };
            let iname = format!("{name} {filters} {dests}");
            let (Some(u), Ok(seq)) = (
                ups.iter_mut().find(|u| !u.mirror && u.iname == iname),
                seq.parse::<u64>(),
            ) else {
                continue;
            };
            u.next = u.next.max(seq + 1);
            u.last = u.last.max(seq);
            u.ident = ident.to_string();
        }
    }
    stream.upstreams = ups;
}

/// `hdr` without the origin's expectations and, for a source (`sourced`), without the
/// origin's own `Nats-Stream-Source`; empty when nothing else is left.
fn without_expectations(hdr: &[u8], sourced: bool) -> Vec<u8> {
    let mut kept = Vec::with_capacity(hdr.len());
    let mut fields = 0;
    for line in hdr.split_inclusive(|&b| b == b'\n') {
        let name = line.split(|&b| b == b':').next().unwrap_or_default();
        let field = line.contains(&b':');
        let drop = field
            && (name.to_ascii_lowercase().starts_with(EXPECTED_PREFIX)
                || sourced && name.eq_ignore_ascii_case(STREAM_SOURCE.as_bytes()));
        if !drop {
            kept.extend_from_slice(line);
            fields += usize::from(field);
        }
    }
    if fields == 0 && !sourced {
        kept.clear();
    }
    kept
}

/// A mirror's or source's copy stored into its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CopyOf {
    /// At the origin's sequence and time.
    Mirror {
        seq: u64,
        ts: i64,
    },
    Source,
}

impl JetStream {
    /// Recomputes whether any stream copies another (so turns without one skip the work).
    pub(crate) fn refresh_copying(&mut self) {
        // Also on every tick: an origin created later, or gone, is noticed then.
        self.copying = self
            .streams
            .iter()
            .flatten()
            .any(|(_, s)| !s.upstreams.is_empty());
        self.copy_due = self.copying;
    }

    /// Whether `config`'s upstreams lead back to the stream itself (Go's cycle check).
    pub(crate) fn upstream_cycle(
        &self,
        account: crate::accounts::AccountId,
        config: &StreamConfig,
    ) -> bool {
        let mut seen: Vec<String> = Vec::new();
        let mut todo: Vec<String> = config.upstreams().map(|u| u.name.clone()).collect();
        while let Some(name) = todo.pop() {
            if name == config.name {
                return true;
            }
            if seen.contains(&name) {
                continue;
            }
            if let Some(s) = self
                .by_name
                .get(&(account, name.clone()))
                .and_then(|id| self.stream(*id))
            {
                todo.extend(s.config.upstreams().map(|u| u.name.clone()));
            }
            seen.push(name);
        }
        false
    }

    /// Copies what the origins stored since the last pass into their mirrors and sources.
    pub(crate) fn copy_upstreams(&mut self) {
        if !self.copy_due {
            return;
        }
        self.copy_due = false;
        for _ in 0..MAX_PASSES {
            let mut copied = false;
            for i in 0..self.streams.len() {
                copied |= self.copy_into(StreamId(i as u32));
            }
            if !copied {
                return;
            }
        }
        // Still more to copy: the next turn goes on (`next_deadline` asks for one now).
        self.copy_due = true;
    }

    /// One pass over stream `id`'s upstreams; whether anything was copied.
    fn copy_into(&mut self, id: StreamId) -> bool {
        let Some(Some((account, target))) = self.streams.get_mut(id.0 as usize) else {
            return false;
        };
        if target.upstreams.is_empty() {
            return false;
        }
        let account = *account;
        let mut ups = std::mem::take(&mut target.upstreams);
        let now = super::now_ns();
        let mut any = false;
        for u in &mut ups {
            let batch = self.read_origin(account, u, now);
            any |= !batch.is_empty();
            for c in batch {
                self.store_copy(account, id, u, c);
            }
        }
        if let Some(target) = self.stream_mut(id) {
            target.upstreams = ups;
        }
        any
    }

    /// The next messages `u` takes from its origin, advancing it past them.
    fn read_origin(
        &self,
        account: crate::accounts::AccountId,
        u: &mut Upstream,
        now: i64,
    ) -> Vec<Copied> {
        let origin = self
            .by_name
            .get(&(account, u.config.name.clone()))
            .and_then(|id| self.stream(*id))
            .filter(|_| u.config.external.is_none());
        let Some(origin) = origin else {
            if u.config.external.is_none() {
                u.error = Some(ApiError::stream_not_found());
            }
            return Vec::new();
        };
        u.error = None;
        u.active = Some(now);
        if u.next == 0 {
            u.next = u.start(origin);
        }
        let mut out = Vec::new();
        let lookup: &[u8] = match &u.takes[..] {
            [(f, _)] => f,
            _ => b">",
        };
        let mut seq = u.next.max(origin.store.first_seq());
        while out.len() < COPY_BATCH {
            let Some((s, m)) = origin.store.next_matching(seq, lookup) else {
                break;
            };
            seq = s + 1;
            let Some(subject) = u.take(&m.subject) else {
                continue;
            };
            let Ok(data) = origin.payload(s, m) else {
                continue;
            };
            out.push(Copied {
                seq: s,
                ts: m.ts,
                subject,
                origin_subject: m.subject.clone(),
                hdr: m.hdr.clone(),
                data,
            });
        }
        u.next = u.next.max(seq).max(origin.store.first_seq());
        if out.len() < COPY_BATCH {
            u.next = u.next.max(origin.store.last_seq() + 1);
        }
        u.lag = origin
            .store
            .last_seq()
            .saturating_sub(u.next.saturating_sub(1));
        out
    }

    fn store_copy(
        &mut self,
        account: crate::accounts::AccountId,
        id: StreamId,
        u: &mut Upstream,
        c: Copied,
    ) {
        let (mut raw, copy) = if u.mirror {
            let hdr = without_expectations(&c.hdr, false);
            (
                hdr,
                CopyOf::Mirror {
                    seq: c.seq,
                    ts: c.ts,
                },
            )
        } else {
            let kept = without_expectations(&c.hdr, true);
            let value = u.source_header(c.seq, &c.origin_subject);
            (
                with_headers(&kept, &[(STREAM_SOURCE, value)]),
                CopyOf::Source,
            )
        };
        let hdr_len = raw.len();
        raw.extend_from_slice(&c.data);
        u.last = c.seq;
        let msg = super::stream::Published {
            raw: &raw,
            shared: None,
            hdr_len,
        };
        self.ingest_copy(account, id, &c.subject, msg, copy);
    }
}

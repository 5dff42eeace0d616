//! `$JS.API.DIRECT.GET.<stream>[.<subject>]`: messages sent back as they are stored, with
//! the `Nats-Stream`/`Nats-Subject`/`Nats-Sequence`/`Nats-Time-Stamp` headers, singly or in
//! batches ending with `204 EOB` (Go's `processDirectGetRequest`, ADR-31).

use serde::Deserialize;

use super::stream::{with_headers, Stream};
use super::{JetStream, StreamId, DIRECT_GET_PREFIX};

/// One message of a direct-get reply: headers (always present) and payload.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Reply {
    pub hdr: Vec<u8>,
    pub body: Vec<u8>,
}

fn status(line: &str) -> Reply {
    Reply {
        hdr: format!("NATS/1.0 {line}\r\n\r\n").into_bytes(),
        body: Vec::new(),
    }
}

/// Go's `JSApiMsgGetRequest`, for MSG.GET (strict as the server is) and direct gets (which
/// Go decodes leniently, ignoring unknown fields whatever `strict` says).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Request {
    pub seq: u64,
    pub last_by_subj: String,
    pub next_by_subj: String,
    pub batch: usize,
    #[serde(rename = "max_bytes")]
    _max_bytes: i64,
    #[serde(rename = "start_time")]
    _start_time: Option<String>,
    pub multi_last: Vec<String>,
    pub up_to_seq: u64,
    #[serde(rename = "up_to_time")]
    _up_to_time: Option<String>,
    pub no_hdr: bool,
}

impl JetStream {
    /// Answers a direct get on stream `id` asked on `subject` with body `data`.
    pub(crate) fn direct_get(&self, id: StreamId, subject: &[u8], data: &[u8]) -> Vec<Reply> {
        let Some(s) = self.stream(id) else {
            return Vec::new();
        };
        let empty = data.iter().all(u8::is_ascii_whitespace);
        let prefix_len = DIRECT_GET_PREFIX.len() + s.config.name.len();
        let mut req = if subject.len() > prefix_len + 1 {
            // The subject names the wanted subject: the last message on it.
            Request {
                last_by_subj: String::from_utf8_lossy(&subject[prefix_len + 1..]).into_owned(),
                ..Request::default()
            }
        } else if empty {
            return vec![status("408 Empty Request")];
        } else {
            match super::api::decode::<Request>(data, false) {
                Ok(r) => r,
                Err(_) => return vec![status("408 Malformed Request")],
            }
        };
        if req.batch > 0 || !req.multi_last.is_empty() {
            return batch(s, &mut req);
        }
        let found = if !req.last_by_subj.is_empty() {
            s.store.last_matching(req.last_by_subj.as_bytes())
        } else if !req.next_by_subj.is_empty() {
            s.store.next_matching(req.seq, req.next_by_subj.as_bytes())
        } else {
            s.store.get(req.seq).map(|m| (req.seq, m))
        };
        match found {
            Some((seq, _)) => vec![message(s, seq, &[], req.no_hdr)],
            None => vec![status("404 Message Not Found")],
        }
    }
}

/// One stored message with the direct-get headers, and `extra` ones after them.
fn message(s: &Stream, seq: u64, extra: &[(&str, String)], no_hdr: bool) -> Reply {
    let Some((m, body)) = s
        .store
        .get(seq)
        .and_then(|m| Some((m, s.payload(seq, m).ok()?)))
    else {
        return status("404 Message Not Found");
    };
    let mut fields = vec![
        ("Nats-Stream", s.config.name.clone()),
        (
            "Nats-Subject",
            String::from_utf8_lossy(&m.subject).into_owned(),
        ),
        ("Nats-Sequence", seq.to_string()),
        ("Nats-Time-Stamp", super::go_time(m.ts)),
    ];
    fields.extend(extra.iter().map(|(k, v)| (*k, v.clone())));
    let stored = if no_hdr { &[][..] } else { &m.hdr[..] };
    Reply {
        hdr: with_headers(stored, &fields),
        body: body.to_vec(),
    }
}

/// A batch (`batch`, optionally from `seq` on `next_by_subj`) or the last message of each
/// subject of `multi_last`, each with `Nats-Num-Pending` (what matches after it) and
/// `Nats-Last-Sequence` (the previous one sent), then `204 EOB`.
fn batch(s: &Stream, req: &mut Request) -> Vec<Reply> {
    let multi = !req.multi_last.is_empty();
    let up_to = if req.up_to_seq > 0 {
        req.up_to_seq
    } else {
        s.store.last_seq()
    };
    let seqs: Vec<u64> = if multi {
        let mut last: std::collections::BTreeMap<&[u8], u64> = std::collections::BTreeMap::new();
        for (seq, m) in s.store.iter().take_while(|(seq, _)| *seq <= up_to) {
            if req
                .multi_last
                .iter()
                .any(|f| crate::subject::matches_literal(f.as_bytes(), &m.subject))
            {
                last.insert(&m.subject, seq);
            }
        }
        let mut v: Vec<u64> = last.into_values().collect();
        v.sort_unstable();
        v
    } else {
        let filter = req.next_by_subj.as_bytes();
        s.store
            .iter()
            .filter(|(seq, m)| {
                *seq >= req.seq.max(1)
                    && (filter.is_empty() || crate::subject::matches_literal(filter, &m.subject))
            })
            .map(|(seq, _)| seq)
            .collect()
    };
    if seqs.is_empty() {
        return vec![status("404 Message Not Found")];
    }
    let take = if req.batch > 0 {
        req.batch.min(seqs.len())
    } else {
        seqs.len()
    };
    let mut out = Vec::with_capacity(take + 1);
    let mut prev = 0;
    for (i, &seq) in seqs[..take].iter().enumerate() {
        let pending = seqs.len() - i - 1;
        out.push(message(
            s,
            seq,
            &[
                ("Nats-Num-Pending", pending.to_string()),
                ("Nats-Last-Sequence", prev.to_string()),
            ],
            req.no_hdr,
        ));
        prev = seq;
    }
    let pending = seqs.len() - take;
    let mut eob = format!(
        "NATS/1.0 204 EOB\r\nNats-Num-Pending: {pending}\r\nNats-Last-Sequence: {prev}\r\n"
    );
    if multi {
        eob.push_str(&format!("Nats-UpTo-Sequence: {up_to}\r\n"));
    }
    eob.push_str("\r\n");
    out.push(Reply {
        hdr: eob.into_bytes(),
        body: Vec::new(),
    });
    out
}

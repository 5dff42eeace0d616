//! Replies to service imports. A request that crosses into the exporting account gets a
//! fresh reply subject there (`_R_.xxxxxx.yyyyyy`, as Go's `newServiceReply`), so the
//! exporter never sees the importer's own subjects; an answer published on it is routed back
//! to the original reply in the importing account.
//!
//! The table is shared by all shards: the request may be forwarded on one shard and answered
//! on another. Only service-import traffic touches it, never plain publishes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{AccountId, ResponseType};

/// The first token of every service reply subject (`replyPrefix`).
pub const REPLY_PREFIX: &[u8] = b"_R_.";

/// How long a reply subject stays valid for the answers (Go's
/// `DEFAULT_SERVICE_EXPORT_RESPONSE_THRESHOLD`, 2 minutes).
const RESPONSE_THRESHOLD: Duration = Duration::from_secs(120);

/// Replies registered between two sweeps of the expired ones.
const SWEEP_EVERY: u64 = 1024;

/// Characters of the random tokens (Go's `base` 62 digits).
const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Length of each random token of a reply subject (`replyPrefixLen` less the `_R_.`).
const TOKEN_LEN: usize = 6;

#[derive(Debug)]
struct Pending {
    exporter: AccountId,
    importer: AccountId,
    reply: Bytes,
    response: ResponseType,
    expires: Instant,
}

#[derive(Debug)]
struct Table {
    /// `_R_.xxxxxx.`: random per server, as Go's per-account prefix.
    prefix: Vec<u8>,
    next: u64,
    pending: HashMap<Box<[u8]>, Pending>,
}

/// The reply subjects of requests in flight through service imports.
#[derive(Debug)]
pub struct ServiceReplies(Mutex<Table>);

impl Default for ServiceReplies {
    fn default() -> Self {
        let mut prefix = REPLY_PREFIX.to_vec();
        prefix.extend(random_token::<TOKEN_LEN>());
        prefix.push(b'.');
        ServiceReplies(Mutex::new(Table {
            prefix,
            next: 0,
            pending: HashMap::new(),
        }))
    }
}

/// `N` random base-62 characters, as Go's `nuid` and reply tokens are made of.
pub(crate) fn random_token<const N: usize>() -> [u8; N] {
    let mut raw = [0u8; N];
    getrandom::getrandom(&mut raw).expect("the OS random source works");
    raw.map(|b| DIGITS[usize::from(b) % DIGITS.len()])
}

impl ServiceReplies {
    /// A reply subject in `exporter` for a request from `importer` that wants its answers
    /// on `reply`.
    pub fn register(
        &self,
        exporter: AccountId,
        importer: AccountId,
        reply: &[u8],
        response: ResponseType,
        now: Instant,
    ) -> Vec<u8> {
        let mut t = self.0.lock().expect("reply table lock");
        t.next += 1;
        if t.next.is_multiple_of(SWEEP_EVERY) {
            t.pending.retain(|_, p| p.expires > now);
        }
        let mut subject = t.prefix.clone();
        subject.extend(random_token::<TOKEN_LEN>());
        // The counter keeps subjects unique whatever the random tokens do.
        subject.extend_from_slice(format!("{:x}", t.next).as_bytes());
        t.pending.insert(
            subject.clone().into_boxed_slice(),
            Pending {
                exporter,
                importer,
                reply: Bytes::copy_from_slice(reply),
                response,
                expires: now + RESPONSE_THRESHOLD,
            },
        );
        subject
    }

    /// Where an answer published in `exporter` on `subject` goes: the importing account and
    /// its reply subject. A singleton answer is the last one.
    pub fn answer(
        &self,
        exporter: AccountId,
        subject: &[u8],
        now: Instant,
    ) -> Option<(AccountId, Bytes)> {
        let mut t = self.0.lock().expect("reply table lock");
        let p = t.pending.get(subject)?;
        if p.exporter != exporter || p.expires <= now {
            return None;
        }
        let found = (p.importer, p.reply.clone());
        if p.response == ResponseType::Singleton {
            t.pending.remove(subject);
        }
        Some(found)
    }
}

/// The header Go adds to a request crossing into another account (`ClientInfoHdr` with
/// the unshared `ClientInfo`: the requester's account, the account it came through when
/// the request follows a chain of imports, and the RTT in nanoseconds when measured),
/// merged into the message's own header block if it has one. Returns the new header and
/// payload.
pub fn request_info_header(
    account: &str,
    through: Option<&str>,
    rtt: Option<Duration>,
    header: Option<&[u8]>,
    payload: &[u8],
) -> (usize, Vec<u8>) {
    // Written by hand to keep Go's field order (acc, svc, rtt).
    let mut info = format!("{{\"acc\":{}", serde_json::json!(account));
    if let Some(svc) = through {
        info.push_str(&format!(",\"svc\":{}", serde_json::json!(svc)));
    }
    if let Some(rtt) = rtt.filter(|r| !r.is_zero()) {
        info.push_str(&format!(",\"rtt\":{}", rtt.as_nanos()));
    }
    info.push('}');
    let line = format!("Nats-Request-Info: {info}\r\n");
    let mut out = Vec::with_capacity(line.len() + payload.len() + 16);
    match header {
        // A header block ends with an empty line; the new field goes just before it.
        Some(h) if h.ends_with(b"\r\n\r\n") => {
            out.extend_from_slice(&h[..h.len() - 2]);
        }
        _ => out.extend_from_slice(b"NATS/1.0\r\n"),
    }
    out.extend_from_slice(line.as_bytes());
    out.extend_from_slice(b"\r\n");
    let hdr_len = out.len();
    out.extend_from_slice(payload);
    (hdr_len, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn singleton_answers_once_stream_until_expiry() {
        let r = ServiceReplies::default();
        let now = Instant::now();
        let s = r.register(1, 2, b"_INBOX.a", ResponseType::Singleton, now);
        assert!(s.starts_with(b"_R_.") && s.len() > 12);
        assert_eq!(r.answer(3, &s, now), None);
        assert_eq!(
            r.answer(1, &s, now),
            Some((2, Bytes::from_static(b"_INBOX.a")))
        );
        assert_eq!(r.answer(1, &s, now), None);
        let st = r.register(1, 2, b"x", ResponseType::Stream, now);
        assert_ne!(st, s);
        assert!(r.answer(1, &st, now).is_some() && r.answer(1, &st, now).is_some());
        assert_eq!(r.answer(1, &st, now + RESPONSE_THRESHOLD), None);
    }

    #[test]
    fn request_info_joins_the_header() {
        let (n, m) =
            request_info_header("B", None, Some(Duration::from_nanos(866546)), None, b"req");
        assert_eq!(
            m,
            b"NATS/1.0\r\nNats-Request-Info: {\"acc\":\"B\",\"rtt\":866546}\r\n\r\nreq"
        );
        assert_eq!(&m[n..], b"req");
        let (n, m) = request_info_header("B", None, None, Some(b"NATS/1.0\r\nA: 1\r\n\r\n"), b"hi");
        assert_eq!(
            m,
            b"NATS/1.0\r\nA: 1\r\nNats-Request-Info: {\"acc\":\"B\"}\r\n\r\nhi"
        );
        assert_eq!(&m[n..], b"hi");
        let (_, m) = request_info_header("C", Some("B"), Some(Duration::from_nanos(5)), None, b"");
        assert_eq!(
            m,
            b"NATS/1.0\r\nNats-Request-Info: {\"acc\":\"C\",\"svc\":\"B\",\"rtt\":5}\r\n\r\n"
        );
    }
}

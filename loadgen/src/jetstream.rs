//! JetStream as the JetStream scenarios use it: the `$JS.API` requests that (re)create the
//! run's stream or key-value bucket before it starts, as `nats bench js pub` and the
//! clients' `create_key_value` do, create and delete consumers, and the pub acks (or direct
//! get replies) the stream sends back.

use std::fmt;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::proto::{
    header_status, header_value, parse_decimal, push_pub, push_sub, Conn, Frame, ProtoError,
};
use crate::server_url::ServerUrl;

/// nats-server's `JSApiStreamCreateT` and `JSApiStreamDeleteT`, with the stream name
/// appended.
pub const STREAM_CREATE: &str = "$JS.API.STREAM.CREATE.";
pub const STREAM_DELETE: &str = "$JS.API.STREAM.DELETE.";
/// `JSApiConsumerCreateT` (stream appended; then `.<name>` for a named consumer) and
/// `JSApiConsumerDeleteT` (`<stream>.<name>` appended).
pub const CONSUMER_CREATE: &str = "$JS.API.CONSUMER.CREATE.";
pub const CONSUMER_DELETE: &str = "$JS.API.CONSUMER.DELETE.";
/// `JSApiDirectMsgGetLastBySubjectT`'s prefix: `<stream>.<subject>` is appended.
pub const DIRECT_GET: &str = "$JS.API.DIRECT.GET.";
/// A bucket `B` is stream `KV_B` on subjects `$KV.B.>`, a key `k` subject `$KV.B.k`
/// (nats.go's `kvBucketNameTmpl` and `kvSubjectsTmpl`).
const KV_STREAM_PREFIX: &str = "KV_";
const KV_SUBJECT_PREFIX: &str = "$KV.";
/// The clients' duplicate window for a bucket without a TTL: 2 minutes, in nanoseconds.
const KV_DUPLICATE_WINDOW_NS: u64 = 120_000_000_000;
/// nats-server's `JSStreamNotFoundErr`: the delete before a create found no stream.
const STREAM_NOT_FOUND: u32 = 10059;
/// nats-server's `JSConsumerNotFoundErr`: the delete before a create found no consumer.
const CONSUMER_NOT_FOUND: u32 = 10014;
/// sid of the setup connection's inbox subscription.
const API_SID: u64 = 1;
/// How long an API request may take. A delete removes the stream's files before it
/// answers, which for a large file stream on a busy disk takes seconds; without JetStream
/// (`-js`) nothing answers at all (the setup connection does not ask for no-responders
/// statuses), and this is how long the run waits to say so.
const API_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a stream keeps its messages (`--js-storage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    File,
    Memory,
}

impl Storage {
    /// The API's spelling, which `--js-storage` takes too.
    pub fn name(self) -> &'static str {
        match self {
            Storage::File => "file",
            Storage::Memory => "memory",
        }
    }

    pub fn from_name(name: &str) -> Option<Storage> {
        [Storage::File, Storage::Memory]
            .into_iter()
            .find(|s| s.name() == name)
    }
}

/// The stream a run publishes into: for jspub one subject, everything else the server's
/// defaults (limits retention, no limits, one replica); for the kv scenarios a key-value
/// bucket, configured as the clients create one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSpec {
    pub name: String,
    pub subject: String,
    pub storage: Storage,
    pub key_value: bool,
}

impl StreamSpec {
    /// Bucket `bucket` with history 1, as `create_key_value` makes it in nats.go and
    /// async-nats.
    pub fn key_value(bucket: &str, storage: Storage) -> StreamSpec {
        StreamSpec {
            name: format!("{KV_STREAM_PREFIX}{bucket}"),
            subject: format!("{}.>", kv_key_prefix(bucket)),
            storage,
            key_value: true,
        }
    }

    /// The body of `$JS.API.STREAM.CREATE.<name>`.
    pub fn create_body(&self) -> String {
        let mut body = serde_json::json!({
            "name": self.name,
            "subjects": [self.subject],
            "storage": self.storage.name(),
        });
        if self.key_value {
            let kv = serde_json::json!({
                "num_replicas": 1,
                "max_msgs_per_subject": 1,
                "max_msgs": -1,
                "max_bytes": -1,
                "max_consumers": -1,
                "discard": "new",
                "duplicate_window": KV_DUPLICATE_WINDOW_NS,
                "allow_rollup_hdrs": true,
                "deny_delete": true,
                "deny_purge": false,
                "allow_direct": true,
            });
            for (key, value) in kv.as_object().into_iter().flatten() {
                body[key] = value.clone();
            }
        }
        body.to_string()
    }
}

/// `$KV.<bucket>`: a key's subject is this, a dot and the key.
pub fn kv_key_prefix(bucket: &str) -> String {
    format!("{KV_SUBJECT_PREFIX}{bucket}")
}

/// An API error as the server words it (`{"code":..,"err_code":..,"description":..}`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ApiError {
    pub code: u16,
    #[serde(default)]
    pub err_code: u32,
    #[serde(default)]
    pub description: String,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (code {}, err_code {})",
            self.description, self.code, self.err_code
        )
    }
}

/// What any API reply or pub ack may carry; the rest of the reply is not needed.
#[derive(Deserialize)]
struct Reply {
    error: Option<ApiError>,
    seq: Option<u64>,
    /// A consumer's, in the reply to its create.
    name: Option<String>,
}

/// The stream's answer to one publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PubAck {
    /// Stored under this stream sequence.
    Stored {
        seq: u64,
    },
    Refused(ApiError),
}

impl PubAck {
    /// `None` for a payload that is neither a pub ack nor an API error.
    pub fn parse(payload: &[u8]) -> Option<PubAck> {
        let reply: Reply = serde_json::from_slice(payload).ok()?;
        match (reply.error, reply.seq) {
            (Some(error), _) => Some(PubAck::Refused(error)),
            (None, Some(seq)) => Some(PubAck::Stored { seq }),
            (None, None) => None,
        }
    }

    /// A direct get's reply read as an answer of the stream: the message found (its
    /// `Nats-Sequence`) or the status it answered with (`404 Message Not Found`). `None`
    /// for a reply without headers, which no direct get sends.
    pub fn from_direct_get(headers: Option<&[u8]>) -> Option<PubAck> {
        let headers = headers?;
        if let Some(code) = header_status(headers) {
            let line = headers.split(|&b| b == b'\r').next().unwrap_or_default();
            return Some(PubAck::Refused(ApiError {
                code,
                err_code: 0,
                description: String::from_utf8_lossy(line).into_owned(),
            }));
        }
        let seq = parse_decimal(header_value(headers, DIRECT_GET_SEQUENCE)?)?;
        Some(PubAck::Stored { seq })
    }
}

/// The header of a direct get's reply that holds the message's stream sequence.
const DIRECT_GET_SEQUENCE: &[u8] = b"Nats-Sequence";

/// A connection for `$JS.API` requests, with its inbox subscribed.
pub struct Api {
    conn: Conn,
    inbox: String,
}

impl Api {
    pub fn connect(
        server: &ServerUrl,
        name: &str,
        inbox: String,
        timeout: Duration,
    ) -> Result<Api, ProtoError> {
        let mut conn = Conn::connect(server, name, timeout)?;
        push_sub(conn.out(), &inbox, None, API_SID);
        conn.ping_pong(Instant::now() + timeout)?;
        Ok(Api { conn, inbox })
    }

    /// Sends `body` to `subject` with the inbox as reply subject and returns the reply's
    /// payload.
    pub fn request(&mut self, subject: &str, body: &[u8]) -> Result<Vec<u8>, ProtoError> {
        let deadline = Instant::now() + API_TIMEOUT;
        push_pub(
            self.conn.out(),
            subject.as_bytes(),
            Some(self.inbox.as_bytes()),
            body,
        );
        self.conn.flush()?;
        loop {
            let mut reply = None;
            self.conn.drain(|frame, _| {
                if let Frame::Msg(msg) = frame {
                    if msg.sid == API_SID && reply.is_none() {
                        reply = Some(msg.payload.to_vec());
                    }
                }
            })?;
            if let Some(reply) = reply {
                return Ok(reply);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ProtoError::Timeout("a $JS.API reply"));
            }
            self.conn.set_read_timeout(left)?;
            self.conn.fill()?;
        }
    }

    /// Deletes the stream named in `spec` if there is one, then creates it, so every run
    /// starts from an empty stream with this configuration.
    pub fn recreate_stream(&mut self, spec: &StreamSpec) -> Result<(), String> {
        let delete = format!("{STREAM_DELETE}{}", spec.name);
        match self.api_call(&delete, b"")? {
            None => {}
            Some(e) if e.err_code == STREAM_NOT_FOUND => {}
            Some(e) => return Err(format!("deleting stream {}: {e}", spec.name)),
        }
        let create = format!("{STREAM_CREATE}{}", spec.name);
        match self.api_call(&create, spec.create_body().as_bytes())? {
            None => Ok(()),
            Some(e) => Err(format!("creating stream {}: {e}", spec.name)),
        }
    }

    /// Creates a consumer with `subject` (`CONSUMER_CREATE` and the stream, and for a named
    /// one its name) and `body`; returns the consumer's name, the server's choice for an
    /// ephemeral one.
    pub fn create_consumer(&mut self, subject: &str, body: &str) -> Result<String, String> {
        let reply = self.api_reply(subject, body.as_bytes())?;
        match (reply.error, reply.name) {
            (Some(e), _) => Err(format!("{subject}: {e}")),
            (None, Some(name)) => Ok(name),
            (None, None) => Err(format!("{subject}: the reply names no consumer")),
        }
    }

    /// Deletes consumer `name` of `stream`; one that is not there is no error.
    pub fn delete_consumer(&mut self, stream: &str, name: &str) -> Result<(), String> {
        match self.api_call(&format!("{CONSUMER_DELETE}{stream}.{name}"), b"")? {
            Some(e) if e.err_code != CONSUMER_NOT_FOUND => {
                Err(format!("deleting consumer {name} of {stream}: {e}"))
            }
            _ => Ok(()),
        }
    }

    /// One request whose reply is a success or an `error`.
    fn api_call(&mut self, subject: &str, body: &[u8]) -> Result<Option<ApiError>, String> {
        Ok(self.api_reply(subject, body)?.error)
    }

    /// One request whose reply is API JSON.
    fn api_reply(&mut self, subject: &str, body: &[u8]) -> Result<Reply, String> {
        let reply = self.request(subject, body).map_err(|e| match e {
            ProtoError::Timeout(_) => format!(
                "{subject}: no reply within {API_TIMEOUT:?} (is JetStream enabled on the server, -js?)"
            ),
            e => format!("{subject}: {e}"),
        })?;
        serde_json::from_slice(&reply).map_err(|e| {
            format!(
                "{subject}: reply is not API JSON ({e}): {}",
                String::from_utf8_lossy(&reply)
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_body_names_the_subject_and_storage() {
        let spec = StreamSpec {
            name: "BENCH".into(),
            subject: "bench.js".into(),
            storage: Storage::Memory,
            key_value: false,
        };
        let body: serde_json::Value = serde_json::from_str(&spec.create_body()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"name": "BENCH", "subjects": ["bench.js"], "storage": "memory"})
        );
    }

    #[test]
    fn key_value_bucket_as_the_clients_create_it() {
        let spec = StreamSpec::key_value("B", Storage::File);
        let body: serde_json::Value = serde_json::from_str(&spec.create_body()).unwrap();
        assert_eq!(body["name"], "KV_B");
        assert_eq!(body["subjects"], serde_json::json!(["$KV.B.>"]));
        assert_eq!(body["storage"], "file");
        assert_eq!(body["max_msgs_per_subject"], 1);
        assert_eq!(body["discard"], "new");
        assert_eq!(body["duplicate_window"], KV_DUPLICATE_WINDOW_NS);
        for flag in ["allow_direct", "allow_rollup_hdrs", "deny_delete"] {
            assert_eq!(body[flag], true, "{flag}");
        }
        assert_eq!(body["deny_purge"], false);
        assert_eq!(kv_key_prefix("B"), "$KV.B");
    }

    #[test]
    fn direct_get_replies() {
        assert_eq!(
            PubAck::from_direct_get(Some(
                b"NATS/1.0\r\nNats-Stream: KV_B\r\nNats-Subject: $KV.B.k\r\nNats-Sequence: 9\r\n\r\n"
            )),
            Some(PubAck::Stored { seq: 9 })
        );
        let missing = PubAck::from_direct_get(Some(b"NATS/1.0 404 Message Not Found\r\n\r\n"));
        let Some(PubAck::Refused(e)) = missing else {
            panic!("{missing:?}");
        };
        assert_eq!(
            (e.code, e.description.as_str()),
            (404, "NATS/1.0 404 Message Not Found")
        );
        assert_eq!(PubAck::from_direct_get(None), None);
        assert_eq!(PubAck::from_direct_get(Some(b"NATS/1.0\r\n\r\n")), None);
    }

    #[test]
    fn storage_names() {
        for s in [Storage::File, Storage::Memory] {
            assert_eq!(Storage::from_name(s.name()), Some(s));
        }
        assert_eq!(Storage::from_name("disk"), None);
    }

    #[test]
    fn pub_acks() {
        assert_eq!(
            PubAck::parse(br#"{"stream":"BENCH","seq":42}"#),
            Some(PubAck::Stored { seq: 42 })
        );
        assert_eq!(
            PubAck::parse(br#"{"stream":"BENCH","domain":"hub","seq":7,"duplicate":true}"#),
            Some(PubAck::Stored { seq: 7 })
        );
        let refused = PubAck::parse(
            br#"{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"},"stream":"BENCH","seq":0}"#,
        );
        let Some(PubAck::Refused(e)) = refused else {
            panic!("{refused:?}");
        };
        assert_eq!((e.code, e.err_code), (503, 10077));
        assert_eq!(
            e.to_string(),
            "maximum messages exceeded (code 503, err_code 10077)"
        );
        for garbage in [&b""[..], b"hello", b"{}", b"[1]", b"{\"seq\":-1}"] {
            assert_eq!(PubAck::parse(garbage), None, "{garbage:?}");
        }
    }
}

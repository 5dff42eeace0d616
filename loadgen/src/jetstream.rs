//! JetStream as the `jspub` scenario uses it: the `$JS.API` requests that (re)create the
//! run's stream before it starts, as `nats bench js pub` does, and the pub acks the stream
//! sends back for each publish.

use std::fmt;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::proto::{push_pub, push_sub, Conn, Frame, ProtoError};
use crate::server_url::ServerUrl;

/// nats-server's `JSApiStreamCreateT` and `JSApiStreamDeleteT`, with the stream name
/// appended.
pub const STREAM_CREATE: &str = "$JS.API.STREAM.CREATE.";
pub const STREAM_DELETE: &str = "$JS.API.STREAM.DELETE.";
/// nats-server's `JSStreamNotFoundErr`: the delete before a create found no stream.
const STREAM_NOT_FOUND: u32 = 10059;
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

/// The stream a `jspub` run publishes into: one subject, everything else the server's
/// defaults (limits retention, no limits, one replica).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSpec {
    pub name: String,
    pub subject: String,
    pub storage: Storage,
}

impl StreamSpec {
    /// The body of `$JS.API.STREAM.CREATE.<name>`.
    pub fn create_body(&self) -> String {
        serde_json::json!({
            "name": self.name,
            "subjects": [self.subject],
            "storage": self.storage.name(),
        })
        .to_string()
    }
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
}

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

    /// One request whose reply is a success or an `error`.
    fn api_call(&mut self, subject: &str, body: &[u8]) -> Result<Option<ApiError>, String> {
        let reply = self.request(subject, body).map_err(|e| match e {
            ProtoError::Timeout(_) => format!(
                "{subject}: no reply within {API_TIMEOUT:?} (is JetStream enabled on the server, -js?)"
            ),
            e => format!("{subject}: {e}"),
        })?;
        let parsed: Reply = serde_json::from_slice(&reply).map_err(|e| {
            format!(
                "{subject}: reply is not API JSON ({e}): {}",
                String::from_utf8_lossy(&reply)
            )
        })?;
        Ok(parsed.error)
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
        };
        let body: serde_json::Value = serde_json::from_str(&spec.create_body()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"name": "BENCH", "subjects": ["bench.js"], "storage": "memory"})
        );
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

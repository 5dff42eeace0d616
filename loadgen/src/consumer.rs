//! JetStream consumers as the clients create and drive them: the durable pull consumer of
//! `nats bench js fetch`, the ordered push consumer of nats.go and async-nats (which
//! `kv.watch` is too), the pull request body, and the stream sequence in an ack subject.

use std::time::Duration;

use serde_json::json;

use crate::jetstream::CONSUMER_CREATE;
use crate::proto::parse_decimal;

/// `JSApiRequestNextT`: `<stream>.<consumer>` is appended.
pub const MSG_NEXT: &str = "$JS.API.CONSUMER.MSG.NEXT.";
/// The ordered consumer's idle heartbeat: nats.go's `orderedHeartbeatsInterval` and
/// async-nats' default, 5 s.
const ORDERED_HEARTBEAT: Duration = Duration::from_secs(5);
/// Tokens of a v1 ack subject, `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.
/// <consumer seq>.<timestamp>.<pending>`, and of a v2 one, which adds the domain and the
/// account hash after `$JS.ACK` and a random token at the end (nats-server's
/// `parseAckReplyNum` and `ackReplyInfo`).
const ACK_V1_TOKENS: usize = 9;
const ACK_V2_TOKENS: usize = 12;
/// Where the stream sequence is in each.
const ACK_V1_STREAM_SEQ: usize = 5;
const ACK_V2_STREAM_SEQ: usize = 7;

/// Where an ordered consumer starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliverPolicy {
    /// From the stream's first message (`js.subscribe` with `OrderedConsumer()`).
    All,
    /// The last message of each subject the filter matches (`kv.watch`).
    LastPerSubject,
}

impl DeliverPolicy {
    fn name(self) -> &'static str {
        match self {
            DeliverPolicy::All => "all",
            DeliverPolicy::LastPerSubject => "last_per_subject",
        }
    }
}

/// `$JS.API.CONSUMER.CREATE.<stream>.<name>` and its body for a durable pull consumer with
/// explicit acks, as `nats bench js fetch` creates it.
pub fn durable_pull(stream: &str, name: &str) -> (String, String) {
    let body = json!({
        "stream_name": stream,
        "config": {
            "name": name,
            "durable_name": name,
            "deliver_policy": "all",
            "ack_policy": "explicit",
            "replay_policy": "instant",
        },
    });
    (
        format!("{CONSUMER_CREATE}{stream}.{name}"),
        body.to_string(),
    )
}

/// `$JS.API.CONSUMER.CREATE.<stream>` and its body for an ephemeral ordered push consumer
/// delivering to `deliver_subject`, configured as nats.go and async-nats configure one: no
/// acks, one delivery, flow control, heartbeats, memory storage, one replica.
pub fn ordered_push(
    stream: &str,
    deliver_subject: &str,
    filter_subject: Option<&str>,
    deliver_policy: DeliverPolicy,
) -> (String, String) {
    let mut config = json!({
        "deliver_subject": deliver_subject,
        "deliver_policy": deliver_policy.name(),
        "ack_policy": "none",
        "max_deliver": 1,
        "replay_policy": "instant",
        "flow_control": true,
        "idle_heartbeat": ORDERED_HEARTBEAT.as_nanos() as u64,
        "mem_storage": true,
        "num_replicas": 1,
    });
    if let Some(filter) = filter_subject {
        config["filter_subject"] = filter.into();
    }
    let body = json!({"stream_name": stream, "config": config});
    (format!("{CONSUMER_CREATE}{stream}"), body.to_string())
}

/// The body of a pull request (`CONSUMER.MSG.NEXT`) for `batch` messages that the server
/// holds open for `expires` at most.
pub fn pull_request(batch: usize, expires: Duration) -> String {
    json!({"batch": batch, "expires": expires.as_nanos() as u64}).to_string()
}

/// The stream sequence a delivery's ack subject names; `None` for a subject that is no
/// ack subject.
pub fn stream_seq(ack_subject: &[u8]) -> Option<u64> {
    let tokens: Vec<&[u8]> = ack_subject.split(|&b| b == b'.').collect();
    let at = match tokens.len() {
        ACK_V1_TOKENS => ACK_V1_STREAM_SEQ,
        ACK_V2_TOKENS => ACK_V2_STREAM_SEQ,
        _ => return None,
    };
    if tokens[..2] != [&b"$JS"[..], b"ACK"] {
        return None;
    }
    parse_decimal(tokens[at])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(body: &str) -> serde_json::Value {
        serde_json::from_str(body).unwrap()
    }

    #[test]
    fn durable_pull_acks_explicitly() {
        let (subject, body) = durable_pull("S", "bench");
        assert_eq!(subject, "$JS.API.CONSUMER.CREATE.S.bench");
        let body = parsed(&body);
        assert_eq!(body["stream_name"], "S");
        assert_eq!(body["config"]["durable_name"], "bench");
        assert_eq!(body["config"]["ack_policy"], "explicit");
    }

    #[test]
    fn ordered_push_as_the_clients_configure_it() {
        let (subject, body) = ordered_push("S", "_INBOX.x", None, DeliverPolicy::All);
        assert_eq!(subject, "$JS.API.CONSUMER.CREATE.S");
        let config = &parsed(&body)["config"];
        assert_eq!(config["deliver_subject"], "_INBOX.x");
        assert_eq!(config["deliver_policy"], "all");
        assert_eq!(config["ack_policy"], "none");
        assert_eq!(config["max_deliver"], 1);
        assert_eq!(config["flow_control"], true);
        assert_eq!(config["idle_heartbeat"], 5_000_000_000u64);
        assert_eq!(config["mem_storage"], true);
        assert_eq!(config["num_replicas"], 1);
        assert!(config.get("filter_subject").is_none());
        let (_, body) = ordered_push(
            "KV_B",
            "_INBOX.y",
            Some("$KV.B.k"),
            DeliverPolicy::LastPerSubject,
        );
        let config = &parsed(&body)["config"];
        assert_eq!(config["filter_subject"], "$KV.B.k");
        assert_eq!(config["deliver_policy"], "last_per_subject");
    }

    #[test]
    fn pull_request_body() {
        assert_eq!(
            parsed(&pull_request(100, Duration::from_secs(5))),
            json!({"batch": 100, "expires": 5_000_000_000u64})
        );
    }

    #[test]
    fn stream_seqs_from_ack_subjects() {
        assert_eq!(
            stream_seq(b"$JS.ACK.S.c.1.42.7.1700000000000000000.0"),
            Some(42)
        );
        assert_eq!(
            stream_seq(b"$JS.ACK.hub.ACC.S.c.1.43.7.1700000000000000000.0.tok"),
            Some(43)
        );
        for bad in [
            &b"$JS.ACK.S.c.1.x.7.1.0"[..],
            b"_INBOX.a.b.c.d.e.f.g.h",
            b"$JS.ACK",
        ] {
            assert_eq!(stream_seq(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }
}

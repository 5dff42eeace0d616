//! What each scenario means in connections and subjects: who publishes where, who
//! subscribes to what, and how many copies of each message the receivers should get.
//! connect has no messages: its clients are senders of connections, each of which
//! subscribes to `--subs` subjects. kvput publishes to a bucket's keys in turn, kvget sends
//! its direct gets to them in turn.

use crate::args::{RunArgs, RunLength, Scenario};
use crate::jetstream::{kv_key_prefix, StreamSpec, DIRECT_GET};

/// Queue group of the `queue` scenario's subscribers and of reqrep's responders.
pub const QUEUE_GROUP: &str = "loadgen";
/// Warmup traffic goes to `<subject>.warmup...`, which no measured subscription (not even
/// the subjects scenario's `<prefix>.*`) matches, so receivers can tell it apart by sid.
const WARMUP_TOKEN: &str = "warmup";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Publishers, requesters for reqrep, connectors for connect.
    pub senders: usize,
    /// Subscribers, or responders for reqrep.
    pub receivers: usize,
    pub queue_group: Option<&'static str>,
    pub request_reply: bool,
    /// A sender picks one of these per message (uniformly, from its seeded generator).
    pub publish_subjects: Vec<String>,
    /// The same, for warmup traffic.
    pub warmup_subjects: Vec<String>,
    pub subscribe_subject: String,
    pub warmup_subscribe_subject: String,
    /// connect: the subjects every connection subscribes to before its PING; empty
    /// otherwise.
    pub connection_subjects: Vec<String>,
}

impl Plan {
    pub fn new(args: &RunArgs) -> Plan {
        let base = &args.subject;
        let warm = format!("{base}.{WARMUP_TOKEN}");
        let (publish_subjects, warmup_subjects, subscribe_subject, warmup_subscribe_subject) =
            if args.scenario == Scenario::Subjects {
                (
                    spread(base, args.subjects),
                    spread(&warm, args.subjects),
                    format!("{base}.*"),
                    format!("{warm}.*"),
                )
            } else if let Some(prefix) = key_prefix(args) {
                // JetStream publishers warm up on their measured subjects.
                let keys = spread(&prefix, args.js.keys as usize);
                (keys, Vec::new(), base.clone(), warm)
            } else {
                (vec![base.clone()], vec![warm.clone()], base.clone(), warm)
            };
        let (senders, receivers) = match args.scenario {
            Scenario::ReqRep => (args.clients, args.responders),
            Scenario::Connect => (args.clients, 0),
            _ => (args.pubs, args.subs),
        };
        let connection_subjects = if args.scenario == Scenario::Connect {
            spread(base, args.subs)
        } else {
            Vec::new()
        };
        Plan {
            senders,
            receivers,
            queue_group: matches!(args.scenario, Scenario::Queue | Scenario::ReqRep)
                .then_some(QUEUE_GROUP),
            request_reply: args.scenario == Scenario::ReqRep,
            publish_subjects,
            warmup_subjects,
            subscribe_subject,
            warmup_subscribe_subject,
            connection_subjects,
        }
    }

    /// Sender `index`'s share of a message count: an even split, the remainder going to
    /// the first senders. `None` for a run bounded by time.
    pub fn quota(&self, length: RunLength, index: usize) -> Option<u64> {
        match length {
            RunLength::Msgs(total) => {
                let senders = self.senders as u64;
                let extra = u64::from((index as u64) < total % senders);
                Some(total / senders + extra)
            }
            RunLength::Duration(_) => None,
        }
    }

    /// Each sender's share of the offered rate.
    pub fn sender_rate(&self, total_rate: f64) -> f64 {
        total_rate / self.senders as f64
    }

    /// Copies of each sent message the receivers should get between them: every
    /// subscriber gets each one, a queue group gets each once.
    pub fn deliveries_per_message(&self) -> u64 {
        if self.queue_group.is_some() {
            1
        } else {
            self.receivers as u64
        }
    }
}

/// What kvput publishes to and kvget requests, a key appended: `$KV.<bucket>` and
/// `$JS.API.DIRECT.GET.KV_<bucket>.$KV.<bucket>`.
fn key_prefix(args: &RunArgs) -> Option<String> {
    let bucket = &args.js.bucket;
    match args.scenario {
        Scenario::KvPut => Some(kv_key_prefix(bucket)),
        Scenario::KvGet => {
            let stream = StreamSpec::key_value(bucket, args.js.storage).name;
            Some(format!("{DIRECT_GET}{stream}.{}", kv_key_prefix(bucket)))
        }
        _ => None,
    }
}

/// `<prefix>.0` to `<prefix>.<n - 1>`.
fn spread(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}.{i}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{parse, Command};

    fn plan(line: &str) -> (Plan, RunArgs) {
        let args: Vec<String> = line.split_whitespace().map(String::from).collect();
        match parse(&args, 1) {
            Ok(Command::Run(run)) => (Plan::new(&run), run),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn roles_per_scenario() {
        let cases = [
            ("pub --pubs 3", 3, 0, None, 0),
            ("pubsub --pubs 2 --subs 3", 2, 3, None, 3),
            ("fanout --subs 5", 1, 5, None, 5),
            ("fanin --pubs 6", 6, 1, None, 1),
            ("queue --subs 4", 1, 4, Some(QUEUE_GROUP), 1),
            (
                "reqrep --clients 3 --responders 2",
                3,
                2,
                Some(QUEUE_GROUP),
                1,
            ),
            ("subjects --pubs 2 --subs 2", 2, 2, None, 2),
            ("connect --clients 3 --subs 2", 3, 0, None, 0),
            ("jspub --pubs 2", 2, 0, None, 0),
            ("kvput --pubs 2", 2, 0, None, 0),
            ("kvget", 1, 0, None, 0),
            ("jsfetch", 1, 0, None, 0),
            ("jsordered", 1, 0, None, 0),
            ("kvwatch", 1, 0, None, 0),
        ];
        for (line, senders, receivers, queue, deliveries) in cases {
            let (p, _) = plan(line);
            assert_eq!(
                (
                    p.senders,
                    p.receivers,
                    p.queue_group,
                    p.deliveries_per_message()
                ),
                (senders, receivers, queue, deliveries),
                "{line}"
            );
        }
    }

    #[test]
    fn subjects() {
        let (p, _) = plan("pubsub --subject a.b");
        assert_eq!(p.publish_subjects, vec!["a.b"]);
        assert_eq!(p.warmup_subjects, vec!["a.b.warmup"]);
        assert_eq!(p.subscribe_subject, "a.b");
        assert_eq!(p.warmup_subscribe_subject, "a.b.warmup");
        let (p, _) = plan("subjects --subjects 3");
        assert_eq!(
            p.publish_subjects,
            vec![
                "loadgen.subjects.0",
                "loadgen.subjects.1",
                "loadgen.subjects.2"
            ]
        );
        assert_eq!(p.warmup_subjects[2], "loadgen.subjects.warmup.2");
        assert_eq!(p.subscribe_subject, "loadgen.subjects.*");
        assert_eq!(p.warmup_subscribe_subject, "loadgen.subjects.warmup.*");
        assert!(p.connection_subjects.is_empty());
        let (p, _) = plan("connect --subs 2");
        assert_eq!(
            p.connection_subjects,
            vec!["loadgen.connect.0", "loadgen.connect.1"]
        );
        assert!(plan("connect").0.connection_subjects.is_empty());
        let (p, _) = plan("kvput --kv-bucket B --kv-keys 3");
        assert_eq!(p.publish_subjects, vec!["$KV.B.0", "$KV.B.1", "$KV.B.2"]);
        let (p, _) = plan("kvget --kv-bucket B --kv-keys 2");
        assert_eq!(
            p.publish_subjects,
            vec![
                "$JS.API.DIRECT.GET.KV_B.$KV.B.0",
                "$JS.API.DIRECT.GET.KV_B.$KV.B.1"
            ]
        );
    }

    #[test]
    fn quotas_add_up() {
        let (p, run) = plan("fanin --pubs 3 --msgs 10");
        let shares: Vec<u64> = (0..3).map(|i| p.quota(run.length, i).unwrap()).collect();
        assert_eq!(shares, vec![4, 3, 3]);
        let (p, run) = plan("connect --clients 4 --msgs 10");
        let shares: Vec<u64> = (0..4).map(|i| p.quota(run.length, i).unwrap()).collect();
        assert_eq!(shares, vec![3, 3, 2, 2]);
        let (p, run) = plan("pub --duration 1s");
        assert_eq!(p.quota(run.length, 0), None);
        assert_eq!(p.sender_rate(3000.0), 3000.0);
    }
}

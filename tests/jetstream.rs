//! JetStream streams over real sockets: scripted `$JS.API` sessions and publishes compared
//! byte for byte with nats-server 2.15.1 (times and the server name masked), acked messages
//! across a `kill -9` and a torn log tail, per-publisher order from every shard, and the
//! async-nats JetStream client.

use crate::common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use common::go::{go_server, Go};
use common::process::{loopback, scratch_dir, Proc};
use common::Raw;

const SHARDS: usize = 2;

/// One step of a session: a request (`REQ subject body`) or a publish with headers
/// (`HREQ subject Key:Value|Key:Value body`), each with a reply inbox. `REQ*2` reads two
/// messages (a republished copy, then the ack); `REQ*EOB` reads a direct-get batch to its
/// end.
const SESSION: &[&str] = &[
    "REQ $JS.API.INFO",
    "REQ $JS.API.STREAM.NAMES",
    "REQ $JS.API.STREAM.LIST",
    "REQ $JS.API.STREAM.INFO.NOPE",
    r#"REQ $JS.API.STREAM.CREATE.S {"name":"S","subjects":["s.>"],"max_msgs_per_subject":2}"#,
    "REQ s.a hello",
    "HREQ s.b Nats-Msg-Id:m1 world",
    "HREQ s.b Nats-Msg-Id:m1 world",
    "HREQ s.a Nats-Expected-Last-Sequence:1 x",
    "HREQ s.a Nats-Expected-Stream:T x",
    "HREQ s.c Nats-Expected-Last-Subject-Sequence:0 x",
    "HREQ s.c Nats-Expected-Last-Msg-Id:nope x",
    "HREQ s.c Nats-Rollup:sub x",
    "HREQ s.c Nats-TTL:5s x",
    "REQ s.a third",
    "REQ s.a fourth",
    "REQ $JS.API.STREAM.INFO.S",
    r#"REQ $JS.API.STREAM.INFO.S {"subjects_filter":">"}"#,
    r#"REQ $JS.API.STREAM.MSG.GET.S {"seq":2}"#,
    r#"REQ $JS.API.STREAM.MSG.GET.S {"last_by_subj":"s.a"}"#,
    r#"REQ $JS.API.STREAM.MSG.GET.S {"next_by_subj":"s.c","seq":1}"#,
    r#"REQ $JS.API.STREAM.MSG.GET.S {"seq":99}"#,
    "REQ $JS.API.STREAM.MSG.GET.S",
    r#"REQ $JS.API.STREAM.MSG.DELETE.S {"seq":2}"#,
    r#"REQ $JS.API.STREAM.MSG.DELETE.S {"seq":2}"#,
    "REQ $JS.API.STREAM.INFO.S",
    r#"REQ $JS.API.STREAM.INFO.S {"deleted_details":true}"#,
    "REQ $JS.API.STREAM.LEADER.STEPDOWN.S",
    r#"REQ $JS.API.STREAM.PEER.REMOVE.S {"peer":"x"}"#,
    r#"REQ $JS.API.STREAM.PURGE.S {"filter":"s.a"}"#,
    r#"REQ $JS.API.STREAM.PURGE.S {"keep":1}"#,
    "REQ $JS.API.STREAM.PURGE.S",
    "REQ $JS.API.STREAM.INFO.S",
    r#"REQ $JS.API.STREAM.UPDATE.S {"name":"S","subjects":["s.>","t"],"max_msgs":2}"#,
    "REQ t one",
    "REQ t two",
    "REQ t three",
    "REQ $JS.API.STREAM.INFO.S",
    r#"REQ $JS.API.STREAM.UPDATE.S {"name":"S","subjects":["s.>"],"storage":"memory"}"#,
    r#"REQ $JS.API.STREAM.UPDATE.Z {"name":"Z","subjects":["z"]}"#,
    r#"REQ $JS.API.STREAM.CREATE.A {"name":"A","subjects":["a"],"deny_purge":true,"deny_delete":true,"storage":"memory","discard":"new","max_msgs":1}"#,
    r#"REQ $JS.API.STREAM.CREATE.A {"name":"A","subjects":["a"],"deny_purge":true,"deny_delete":true,"storage":"memory","discard":"new","max_msgs":1}"#,
    r#"REQ $JS.API.STREAM.CREATE.A {"name":"A","subjects":["a"]}"#,
    "REQ a one",
    "REQ a two",
    "REQ $JS.API.STREAM.PURGE.A",
    r#"REQ $JS.API.STREAM.MSG.DELETE.A {"seq":1}"#,
    r#"REQ $JS.API.STREAM.CREATE.B {"name":"B","subjects":["a"]}"#,
    r#"REQ $JS.API.STREAM.CREATE.B {"name":"C","subjects":["b"]}"#,
    r#"REQ $JS.API.STREAM.CREATE.C {"name":"C","subjects":["c.*","c.d"]}"#,
    r#"REQ $JS.API.STREAM.CREATE.C {"name":"C","subjects":[">"]}"#,
    r#"REQ $JS.API.STREAM.CREATE.C {"name":"C","subjects":["c"],"retention":"bogus"}"#,
    r#"REQ $JS.API.STREAM.CREATE.C {"name":"C","subjects":["c"],"max_age":-5}"#,
    r#"REQ $JS.API.STREAM.CREATE.C {"name":"C","max_age":1000}"#,
    r#"REQ $JS.API.STREAM.CREATE.C {"name":"C","num_replicas":3}"#,
    r#"REQ $JS.API.STREAM.CREATE.C {"name":"C","deny_purge":true,"allow_rollup_hdrs":true}"#,
    r#"REQ $JS.API.STREAM.CREATE.C {"name":"C","max_age":1000000000,"duplicate_window":2000000000}"#,
    r#"REQ $JS.API.STREAM.CREATE.C {"name":"C","allow_msg_ttl":true,"subject_delete_marker_ttl":1000}"#,
    r#"REQ $JS.API.STREAM.CREATE.C {"name":"C","discard_new_per_subject":true}"#,
    "REQ $JS.API.STREAM.CREATE.D",
    r#"REQ $JS.API.STREAM.NAMES {"subject":"a"}"#,
    "REQ $JS.API.STREAM.NAMES",
    "REQ $JS.API.STREAM.LIST",
    "REQ $JS.API.INFO",
    r#"REQ $JS.API.STREAM.CREATE.D {"name":"D","subjects":["d.>"],"allow_direct":true}"#,
    "REQ d.a one",
    "HREQ d.b Foo:bar two",
    "REQ d.a three",
    r#"REQ $JS.API.DIRECT.GET.D {"seq":1}"#,
    r#"REQ $JS.API.DIRECT.GET.D {"seq":2}"#,
    r#"REQ $JS.API.DIRECT.GET.D {"last_by_subj":"d.a"}"#,
    r#"REQ $JS.API.DIRECT.GET.D {"seq":9}"#,
    "REQ $JS.API.DIRECT.GET.D",
    "REQ $JS.API.DIRECT.GET.D.d.a",
    "REQ $JS.API.DIRECT.GET.D.d.zz",
    r#"REQ*EOB $JS.API.DIRECT.GET.D {"seq":1,"batch":2}"#,
    r#"REQ*EOB $JS.API.DIRECT.GET.D {"multi_last":["d.a","d.b"]}"#,
    r#"REQ $JS.API.DIRECT.GET.D {"next_by_subj":"d.a","seq":2}"#,
    "REQ $JS.API.DIRECT.GET.D bogus",
    // Go decodes direct gets leniently, strict mode or not.
    r#"REQ $JS.API.DIRECT.GET.D {"seq":1,"bogus":1}"#,
    r#"REQ $JS.API.STREAM.CREATE.R {"name":"R","subjects":["r.*"],"republish":{"src":"r.*","dest":"_INBOX.rp.{{wildcard(1)}}"}}"#,
    "HREQ*2 r.a X:y hi",
    r#"REQ $JS.API.STREAM.UPDATE.R {"name":"R","subjects":["r.*"],"republish":{"src":"r.*","dest":"_INBOX.rp.{{wildcard(1)}}","headers_only":true}}"#,
    "REQ*2 r.b hello",
    r#"REQ $JS.API.STREAM.CREATE.I {"name":"I","subjects":["i"],"retention":"interest"}"#,
    "REQ i x",
    "HREQ i Nats-Msg-Id:a y",
    "HREQ i Nats-Msg-Id:a y",
    "REQ $JS.API.STREAM.INFO.I",
    r#"REQ $JS.API.STREAM.CREATE.W {"name":"W","subjects":["w"],"retention":"workqueue"}"#,
    "REQ w x",
    r#"REQ $JS.API.STREAM.UPDATE.W {"name":"W","subjects":["w"],"retention":"limits"}"#,
    "REQ $JS.API.STREAM.INFO.W",
    r#"REQ $JS.API.STREAM.CREATE.U {"name":"U","bogus_field":1}"#,
    r#"REQ $JS.API.STREAM.MSG.GET.W {"seq":1,"foo":1}"#,
    "REQ $JS.API.STREAM.MSG.GET.W nope",
    r#"REQ $JS.API.STREAM.CREATE.C {"name":"C","#,
    r#"REQ $JS.API.STREAM.CREATE.C {"name" "C"}"#,
    r#"REQ $JS.API.STREAM.CREATE.C {"name":"C","max_msgs":01}"#,
    r#"REQ $JS.API.STREAM.CREATE.C {"name":"C"} trailing"#,
    "REQ $JS.API.STREAM.DELETE.C",
    r#"REQ $JS.API.STREAM.CREATE.P {"name":"P","persist_mode":"async","pedantic":false}"#,
    "REQ $JS.API.STREAM.DELETE.P",
    r#"REQ $JS.API.STREAM.CREATE.Q {"name":"Q","subject_delete_marker_ttl":2000000000}"#,
    "REQ $JS.API.STREAM.DELETE.Q",
    "REQ $JS.API.STREAM.DELETE.S",
    "REQ $JS.API.STREAM.DELETE.S",
    "REQ $JS.API.STREAM.DELETE.A",
    "REQ $JS.API.INFO",
];

/// Subscriptions made by `SUB` steps are numbered from here, plus the step's index.
const SUB_SID_BASE: usize = 100;

/// What a session has seen that later steps use: the ack subjects of its deliveries, and
/// the last `Nats-Pin-Id` a delivery carried.
#[derive(Default)]
struct Seen {
    acks: Vec<String>,
    pin: String,
}

/// Sends one step with reply inbox `_INBOX.r<n>`, `$PIN` in it standing for the last pin
/// id seen. `ACK <k> <body>` acks the k-th delivery seen so far (from 1), on its ack
/// subject; `SLEEP*0 <ms>` waits; `SUB*N
/// <subject> [queue]` subscribes (and reads N), `UNSUB*0 <step>` drops the subscription
/// step `<step>` made; `READ*N -` only reads.
fn send_step(c: &mut Raw, n: usize, step: &str, seen: &Seen) {
    let step = step.replace("$PIN", &seen.pin);
    let (kind, rest) = step.split_once(' ').unwrap();
    let kind = kind.split('*').next().unwrap();
    let (subject, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let inbox = format!("_INBOX.r{n}");
    match kind {
        "REQ" => c.send(format!("PUB {subject} {inbox} {}\r\n{rest}\r\n", rest.len()).as_bytes()),
        "SLEEP" => std::thread::sleep(Duration::from_millis(subject.parse().unwrap())),
        "SUB" => c.send(format!("SUB {subject} {rest} {}\r\n", n + SUB_SID_BASE).as_bytes()),
        "UNSUB" => c.send(
            format!(
                "UNSUB {}\r\n",
                subject.parse::<usize>().unwrap() + SUB_SID_BASE
            )
            .as_bytes(),
        ),
        "READ" => {}
        "ACK" => {
            let to = &seen.acks[subject.parse::<usize>().unwrap() - 1];
            c.send(format!("PUB {to} {inbox} {}\r\n{rest}\r\n", rest.len()).as_bytes())
        }
        "HREQ" => {
            let (hdrs, body) = rest.split_once(' ').unwrap_or((rest, ""));
            let mut h = String::from("NATS/1.0\r\n");
            for kv in hdrs.split('|') {
                h.push_str(kv);
                h.push_str("\r\n");
            }
            h.push_str("\r\n");
            c.send(
                format!(
                    "HPUB {subject} {inbox} {} {}\r\n{h}{body}\r\n",
                    h.len(),
                    h.len() + body.len()
                )
                .as_bytes(),
            );
        }
        _ => panic!("bad step {step}"),
    }
}

/// Reads the replies a step gets: one, `*N`, or up to a status (`*EOB`); `*Ns` reads N
/// and sorts them (their order is not the servers' to agree on). Each reads as its headers
/// (if any) then its payload, after `@<subject> <reply>` when it has a reply (a JetStream
/// delivery, whose ack subject goes to `seen`).
fn read_step_replies(c: &mut Raw, step: &str, seen: &mut Seen) -> String {
    let kind = step.split(' ').next().unwrap();
    let count = kind.split_once('*').map(|(_, n)| n);
    let sorted = count.is_some_and(|n| n.ends_with('s'));
    let want: Option<usize> = count.and_then(|n| n.trim_end_matches('s').parse().ok());
    let mut out = Vec::new();
    while want.is_none_or(|w| out.len() < w) {
        let m = read_message(c);
        let status = m.hdr.starts_with("NATS/1.0 ");
        let mut line = String::new();
        if let Some(reply) = &m.reply {
            line.push_str(&format!("@{} {reply} ", m.subject));
            seen.acks.push(reply.clone());
        }
        if let Some((_, pin)) = m.hdr.split_once("Nats-Pin-Id: ") {
            seen.pin = pin
                .lines()
                .next()
                .unwrap_or_default()
                .trim_end()
                .to_string();
        }
        line.push_str(&m.hdr);
        line.push_str(&m.body);
        line.push('\n');
        out.push(line);
        if count.is_none() || (count == Some("EOB") && status) {
            break;
        }
    }
    if sorted {
        out.sort();
    }
    out.concat()
}

/// One MSG or HMSG as a client gets it.
struct Received {
    subject: String,
    reply: Option<String>,
    /// Empty for MSG.
    hdr: String,
    body: String,
}

/// Reads the next MSG or HMSG, skipping anything else (the server's first PING comes
/// after two seconds, Go's firstClientPingInterval).
fn read_message(c: &mut Raw) -> Received {
    loop {
        let line = c.line();
        let parts: Vec<&str> = line.trim_end().split(' ').collect();
        let (hmsg, plain_len) = match parts[0] {
            "MSG" => (false, 4),
            "HMSG" => (true, 5),
            _ => continue,
        };
        let total: usize = parts.last().unwrap().parse().unwrap();
        let hdr: usize = if hmsg {
            parts[parts.len() - 2].parse().unwrap()
        } else {
            0
        };
        let data = c.read_n(total + 2);
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        return Received {
            subject: parts[1].to_string(),
            // Go answers a consumer reset with an empty reply field (`MSG <subject> <sid>
            // <len>` with two spaces), which clients read as no reply; so does this.
            reply: (parts.len() > plain_len)
                .then(|| parts[3].to_string())
                .filter(|r| !r.is_empty()),
            hdr: text(&data[..hdr]),
            body: text(&data[hdr..total]),
        };
    }
}

/// Reads the next MSG or HMSG: its payload (after the headers).
fn read_reply(c: &mut Raw) -> String {
    read_message(c).body
}

/// Times and the server's name differ by nature.
fn masked(replies: &str) -> String {
    replies
        .lines()
        .map(|l| {
            if let Some(delivery) = l.strip_prefix('@') {
                let (subject, rest) = delivery.split_once(' ').unwrap();
                let (reply, payload) = rest.split_once(' ').unwrap_or((rest, ""));
                format!("@{subject} {} {}", masked_ack(reply), masked(payload))
            } else if let Some(subject) = l.strip_prefix("Nats-Subject: ") {
                format!("Nats-Subject: {}", masked_ack(subject))
            } else if l.starts_with("Nats-Pin-Id: ") {
                "Nats-Pin-Id: *".to_string()
            } else if let Some(v) = l.strip_prefix("Nats-Stream-Source: ") {
                // Its last word is the source's random identity.
                let kept = v.rsplit_once(' ').map_or(v, |(kept, _)| kept);
                format!("Nats-Stream-Source: {kept} *")
            } else if l.starts_with("NATS/1.0")
                || l.starts_with("Nats-")
                || l.contains(": ") && !l.starts_with('{')
            {
                match l.split_once("Nats-Time-Stamp: ") {
                    Some((head, _)) => format!("{head}Nats-Time-Stamp: *"),
                    None => l.to_string(),
                }
            } else {
                masked_json(l)
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// An ack subject's sixth number is the message's time.
fn masked_ack(subject: &str) -> String {
    let mut t: Vec<&str> = subject.split('.').collect();
    if subject.starts_with("$JS.ACK.") && t.len() == 9 {
        t[7] = "*";
    }
    t.join(".")
}

fn masked_json(reply: &str) -> String {
    let mut v: serde_json::Value = match serde_json::from_str(reply) {
        Ok(v) => v,
        Err(_) => return reply.to_string(),
    };
    fn walk(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                let advisory = m.get("type").and_then(|t| t.as_str()).is_some_and(|t| {
                    t.starts_with("io.nats.jetstream.advisory.")
                        || t.starts_with("io.nats.jetstream.metric.")
                });
                if advisory {
                    // Each advisory or metric has its own random id and time.
                    m.insert("id".into(), "*".into());
                    m.insert("timestamp".into(), "*".into());
                }
                for (k, x) in m.iter_mut() {
                    match k.as_str() {
                        // A time left, in nanoseconds: it runs down between the two servers;
                        // a time between a delivery and its ack.
                        "pause_remaining" | "ack_time" => *x = "*".into(),
                        // Since a mirror or source last heard from its origin; -1 for never.
                        "active" if x.as_i64().is_some_and(|n| n >= 0) => *x = "*".into(),
                        // Go lists a stream's sources from a map, in no set order.
                        "sources" => {
                            walk(x);
                            if let Some(a) = x.as_array_mut() {
                                if a.iter().all(|e| e.get("active").is_some()) {
                                    a.sort_by_key(|e| e.to_string());
                                }
                            }
                        }
                        // A pin id is random.
                        "pinned_client_id" | "pinned_id" => *x = "*".into(),
                        "created" | "ts" | "first_ts" | "last_ts" | "time" | "leader"
                        | "last_active" | "pinned_ts" => {
                            if x.as_str().is_some_and(|s| !s.starts_with("0001-")) {
                                *x = "*".into();
                            }
                        }
                        _ => walk(x),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    // Go's raw bytes are compared separately below; here only the content.
    v.to_string()
}

/// Runs the session on the server at `addr` from one connection on `shard` (of `shards`);
/// returns each reply as sent.
fn run_session(addr: SocketAddr, shards: usize, shard: usize) -> Vec<String> {
    run_steps(addr, shards, shard, "", SESSION)
}

/// Runs `steps` from one connection on `shard` (of `shards`) logged in with the CONNECT
/// fields `login`; returns each step's replies.
fn run_steps(
    addr: SocketAddr,
    shards: usize,
    shard: usize,
    login: &str,
    steps: &[&str],
) -> Vec<String> {
    let mut c = loop {
        let c = Raw::connect(addr);
        if shards == 1 || c.shard(shards) == shard {
            break c;
        }
    };
    c.log_in(&format!(r#""headers":true{login}"#));
    c.send(b"SUB _INBOX.> 1\r\n");
    c.sync();
    steps
        .iter()
        .enumerate()
        .scan(Seen::default(), |seen, (n, step)| {
            send_step(&mut c, n, step, seen);
            Some(read_step_replies(&mut c, step, seen))
        })
        .collect()
}

fn js_config(dir: &Path) -> riptide::config::Config {
    riptide::config::Config {
        jetstream: true,
        store_dir: Some(dir.to_path_buf()),
        ..common::config(SHARDS)
    }
}

/// The Go server and Riptide side by side, each with JetStream in its own part of a fresh
/// scratch directory named `name`; `None` where the Go server is not installed.
fn go_and_riptide(name: &str) -> Option<(Go, riptide::runtime::Running)> {
    let go_bin = go_server()?;
    let dir = scratch_dir(name);
    let go = Go::spawn(std::process::Command::new(&go_bin).args([
        "-js",
        "-sd",
        dir.join("go").to_str().unwrap(),
    ]));
    Some((go, common::start_with(js_config(&dir.join("riptide")))))
}

#[test]
fn stream_api_session_matches_go() {
    let Some(go_bin) = go_server() else { return };
    let dir = scratch_dir("js-session");
    let go = Go::spawn(std::process::Command::new(&go_bin).args([
        "-js",
        "-sd",
        dir.join("go").to_str().unwrap(),
    ]));
    let expected = run_session(go.addr, 1, 0);
    // From the shard that is not the JetStream host, so every request and publish crosses
    // the rings, and from the host itself.
    for shard in [1, 0] {
        let sub = dir.join(format!("riptide{shard}"));
        let server = common::start_with(js_config(&sub));
        let got = run_session(server.addr, SHARDS, shard);
        for (i, step) in SESSION.iter().enumerate() {
            let (g, r) = (&expected[i], &got[i]);
            assert_eq!(masked(r), masked(g), "step {i} `{step}` from shard {shard}");
            // Byte for byte too, where nothing differs by nature.
            if !g.contains("\"ts\"") && !g.contains("\"time\"") && !g.contains("Time-Stamp") {
                assert_eq!(r, g, "step {i} `{step}` bytes from shard {shard}");
            }
        }
        server.shutdown();
    }
}

/// Account A has JetStream limits, B has no JetStream.
const LIMITS_CONF: &str = r#"
jetstream { store_dir: "STORE", max_file_store: 10MB, max_memory_store: 1MB }
accounts {
  A { users: [{user: a, password: a}], jetstream: { max_streams: 2, max_file: 3000, max_mem: 2000, max_consumers: 3 } }
  B { users: [{user: b, password: b}] }
}
"#;

#[test]
fn account_limits_match_go() {
    let Some(go_bin) = go_server() else { return };
    let dir = scratch_dir("js-limits");
    let conf = |who: &str| LIMITS_CONF.replace("STORE", dir.join(who).to_str().unwrap());
    let go_conf = common::process::write_file(&dir, "go.conf", &conf("go"));
    let go = Go::start(&go_bin, &go_conf);
    let server = common::start_conf(SHARDS, &conf("riptide"));
    let mut a_steps = vec![
        "REQ $JS.API.INFO",
        r#"REQ $JS.API.STREAM.CREATE.S1 {"name":"S1","max_bytes":5000}"#,
        r#"REQ $JS.API.STREAM.CREATE.S1 {"name":"S1"}"#,
        r#"REQ $JS.API.STREAM.CREATE.S2 {"name":"S2","storage":"memory","max_bytes":1000}"#,
        r#"REQ $JS.API.STREAM.CREATE.S3 {"name":"S3"}"#,
    ];
    let body = format!("REQ S1 {}", "x".repeat(100));
    a_steps.extend(std::iter::repeat_n(body.as_str(), 30));
    a_steps.extend(["REQ $JS.API.STREAM.INFO.S1", "REQ $JS.API.INFO"]);
    let b_steps = [
        "REQ $JS.API.INFO",
        "REQ $JS.API.STREAM.NAMES",
        r#"REQ $JS.API.STREAM.CREATE.X {"name":"X"}"#,
    ];
    for (login, steps) in [
        (common::user("a"), &a_steps[..]),
        (common::user("b"), &b_steps[..]),
    ] {
        let login = format!(",{login}");
        let expected = run_steps(go.addr, 1, 0, &login, steps);
        let got = run_steps(server.addr, SHARDS, 1, &login, steps);
        for (i, step) in steps.iter().enumerate() {
            assert_eq!(
                masked(&got[i]),
                masked(&expected[i]),
                "step {i} `{step}` as {login}"
            );
        }
    }
    server.shutdown();
}

/// `jetstream { strict: false }`: unknown request fields are ignored instead of refused.
#[test]
fn lenient_mode_ignores_unknown_fields_as_go_does() {
    let Some(go_bin) = go_server() else { return };
    let dir = scratch_dir("js-lenient");
    let conf = |who: &str| {
        format!(
            "jetstream {{ store_dir: \"{}\", strict: false }}\n",
            dir.join(who).display()
        )
    };
    let go_conf = common::process::write_file(&dir, "go.conf", &conf("go"));
    let go = Go::start(&go_bin, &go_conf);
    let server = common::start_conf(SHARDS, &conf("riptide"));
    let steps = [
        r#"REQ $JS.API.STREAM.CREATE.L {"name":"L","subjects":["l"],"bogus":1}"#,
        "REQ l one",
        r#"REQ $JS.API.STREAM.MSG.GET.L {"seq":1,"bogus":1}"#,
        r#"REQ $JS.API.STREAM.INFO.L {"bogus":1}"#,
        r#"REQ $JS.API.STREAM.NAMES {"bogus":1}"#,
        r#"REQ $JS.API.STREAM.PURGE.L {"keep":5,"bogus":1}"#,
        r#"REQ $JS.API.STREAM.UPDATE.L {"name":"L","subjects":["l"],"max_msgs":5,"bogus":1}"#,
        r#"REQ $JS.API.STREAM.MSG.DELETE.L {"seq":1,"bogus":1}"#,
        "REQ $JS.API.STREAM.DELETE.L",
    ];
    let expected = run_steps(go.addr, 1, 0, "", &steps);
    let got = run_steps(server.addr, SHARDS, 1, "", &steps);
    for (i, step) in steps.iter().enumerate() {
        assert_eq!(masked(&got[i]), masked(&expected[i]), "step {i} `{step}`");
    }
    assert!(!expected[0].contains("error"), "{}", expected[0]);
    server.shutdown();
}

/// Consumer management, replies compared with Go's: the three create subjects, defaults,
/// Go's checks and their errors, updates, actions, limits, names and lists, info and
/// delete. The stream holds messages, so positions and pending counts show.
const CONSUMER_SESSION: &[&str] = &[
    r#"REQ $JS.API.STREAM.CREATE.S {"name":"S","subjects":["s.>"],"max_consumers":8}"#,
    "REQ s.a one",
    "REQ s.b two",
    "REQ s.a three",
    "REQ $JS.API.CONSUMER.NAMES.S",
    "REQ $JS.API.CONSUMER.LIST.S",
    "REQ $JS.API.CONSUMER.INFO.S.NOPE",
    r#"REQ $JS.API.CONSUMER.CREATE.NOPE.C {"stream_name":"NOPE","config":{"durable_name":"C"}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.C {"stream_name":"S","config":{"durable_name":"C","ack_policy":"explicit"}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.P {"stream_name":"S","config":{"durable_name":"P","deliver_subject":"push.p","ack_policy":"explicit","max_deliver":5,"filter_subject":"s.a","idle_heartbeat":5000000000,"flow_control":true}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.F {"stream_name":"S","config":{"name":"F","filter_subjects":["s.a","s.b"],"ack_policy":"all","deliver_policy":"by_start_sequence","opt_start_seq":3,"backoff":[1000000000,2000000000],"max_deliver":4,"description":"d","metadata":{"k":"v"},"headers_only":true,"max_batch":10,"max_expires":5000000000,"max_bytes":1024}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.N {"stream_name":"S","config":{"durable_name":"N","deliver_policy":"new","replay_policy":"original"}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.L {"stream_name":"S","config":{"durable_name":"L","deliver_policy":"last_per_subject","filter_subject":"s.*"}}"#,
    r#"REQ $JS.API.CONSUMER.DURABLE.CREATE.S.D {"stream_name":"S","config":{"durable_name":"D","ack_policy":"explicit","deliver_policy":"last"}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.E.s.a {"stream_name":"S","config":{"name":"E","filter_subject":"s.a"}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.T1 {"stream_name":"S","config":{"durable_name":"T1","deliver_policy":"by_start_time","opt_start_time":"2020-01-01T00:00:00Z"}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.T2 {"stream_name":"S","config":{"durable_name":"T2","deliver_policy":"by_start_time","opt_start_time":"2100-01-01T00:00:00Z"}}"#,
    "REQ $JS.API.CONSUMER.DELETE.S.T1",
    "REQ $JS.API.CONSUMER.DELETE.S.T2",
    r#"REQ $JS.API.CONSUMER.CREATE.S.X {"stream_name":"S","config":{"durable_name":"Y"}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.X {"stream_name":"T","config":{"durable_name":"X"}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S {"stream_name":"S","config":{"durable_name":"C"}}"#,
    r#"REQ $JS.API.CONSUMER.DURABLE.CREATE.S.D {"stream_name":"S","config":{"name":"D"}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.E2.s.a {"stream_name":"S","config":{"name":"E2","filter_subject":"s.b"}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.a.b {"stream_name":"S","config":{"name":"a.b"}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.X.s.y {"stream_name":"S","config":{"durable_name":"X","filter_subjects":["s.y"]}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.X {"stream_name":"S","config":{"durable_name":"X","deliver_policy":"all","opt_start_seq":3}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.X {"stream_name":"S","config":{"durable_name":"X","deliver_policy":"by_start_sequence"}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.X {"stream_name":"S","config":{"durable_name":"X","deliver_policy":"by_start_time"}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.X {"stream_name":"S","config":{"durable_name":"X","deliver_policy":"last_per_subject"}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.X {"stream_name":"S","config":{"durable_name":"X","filter_subject":"s.a","filter_subjects":["s.b"]}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.X {"stream_name":"S","config":{"durable_name":"X","filter_subjects":["s.>","s.a"]}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.X {"stream_name":"S","config":{"durable_name":"X","filter_subjects":[""]}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.X {"stream_name":"S","config":{"durable_name":"X","filter_subject":"s..a"}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.X {"stream_name":"S","config":{"durable_name":"X","idle_heartbeat":1000000000}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.X {"stream_name":"S","config":{"durable_name":"X","deliver_subject":"a.*"}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.X {"stream_name":"S","config":{"durable_name":"X","deliver_subject":"p..q"}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.X {"stream_name":"S","config":{"durable_name":"X","deliver_subject":"s.x"}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.X {"stream_name":"S","config":{"durable_name":"X","deliver_subject":"p","max_waiting":5}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.X {"stream_name":"S","config":{"durable_name":"X","deliver_subject":"p","max_ack_pending":5}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.X {"stream_name":"S","config":{"durable_name":"X","deliver_subject":"p","idle_heartbeat":5}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.X {"stream_name":"S","config":{"durable_name":"X","deliver_subject":"p","flow_control":true}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.X {"stream_name":"S","config":{"durable_name":"X","rate_limit_bps":5}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.X {"stream_name":"S","config":{"durable_name":"X","max_expires":5}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.X {"stream_name":"S","config":{"durable_name":"X","direct":true}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.X {"stream_name":"S","config":{"durable_name":"X","ack_wait":-1}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.X {"stream_name":"S","config":{"durable_name":"X","backoff":[-1]}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.X {"stream_name":"S","config":{"durable_name":"X","backoff":[1000000000,2000000000],"max_deliver":1}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.X {"stream_name":"S","config":{"durable_name":"X","ack_policy":"bogus"}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.X {"stream_name":"S","config":{"durable_name":"X","deliver_policy":"bogus"}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.X {"stream_name":"S","config":{"durable_name":"X","priority_policy":"bogus"}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.X {"stream_name":"S","config":{"durable_name":"X"},"action":"bogus"}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.X {"stream_name":"S","config":{"durable_name":"X","bogus":1}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.X {"stream_name":"S","config":{"durable_name":"X","num_replicas":3}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.X {"stream_name":"S","config":{"durable_name":"X","num_replicas":-1}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.a*b {"stream_name":"S","config":{"durable_name":"a*b"}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.X {"stream_name":"S","config":{"durable_name":"X"},"action":"update"}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.X {"stream_name":"S","config":{"durable_name":"X","max_waiting":-1,"max_deliver":-5}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.X {"stream_name":"S","config":{"durable_name":"X"},"action":"create"}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.X {"stream_name":"S","config":{"durable_name":"X","description":"changed"},"action":"create"}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.X {"stream_name":"S","config":{"durable_name":"X","description":"changed","filter_subject":"s.b"}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.X {"stream_name":"S","config":{"durable_name":"X","deliver_policy":"new"}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.X {"stream_name":"S","config":{"durable_name":"X","ack_policy":"explicit"}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.X {"stream_name":"S","config":{"durable_name":"X","replay_policy":"original"}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.X {"stream_name":"S","config":{"durable_name":"X","deliver_subject":"p"}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.X {"stream_name":"S","config":{"durable_name":"X","mem_storage":true}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.P {"stream_name":"S","config":{"durable_name":"P","deliver_subject":"push.p"}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.Z {"stream_name":"S","config":{"durable_name":"Z"}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.S.W {"stream_name":"S","config":{"durable_name":"W"}}"#,
    "REQ $JS.API.CONSUMER.NAMES.S",
    r#"REQ $JS.API.CONSUMER.NAMES.S {"offset":6}"#,
    r#"REQ $JS.API.CONSUMER.LIST.S {"offset":5}"#,
    "REQ $JS.API.STREAM.INFO.S",
    "REQ $JS.API.INFO",
    "REQ $JS.API.CONSUMER.INFO.S.C",
    r#"REQ $JS.API.CONSUMER.PAUSE.S.C {"pause_until":"2100-01-01T00:00:00Z"}"#,
    "REQ $JS.API.CONSUMER.INFO.S.C",
    "REQ $JS.API.CONSUMER.PAUSE.S.C",
    r#"REQ $JS.API.CONSUMER.PAUSE.S.C {"pause_until":"2000-01-01T00:00:00Z"}"#,
    r#"REQ $JS.API.CONSUMER.PAUSE.S.NOPE {"pause_until":"2100-01-01T00:00:00Z"}"#,
    r#"REQ $JS.API.CONSUMER.PAUSE.NOPE.C {"pause_until":"2100-01-01T00:00:00Z"}"#,
    r#"REQ $JS.API.CONSUMER.PAUSE.S.C {"bogus":1}"#,
    "REQ $JS.API.CONSUMER.INFO.S.C",
    r#"REQ $JS.API.CONSUMER.CREATE.S.Q {"stream_name":"S","config":{"durable_name":"Q","pause_until":"2100-01-01T00:00:00Z"}}"#,
    "REQ $JS.API.CONSUMER.DELETE.S.Q",
    r#"REQ $JS.API.CONSUMER.INFO.S.C {"x":1}"#,
    r#"REQ $JS.API.CONSUMER.DELETE.S.C {"x":1}"#,
    "REQ $JS.API.CONSUMER.DELETE.S.C",
    "REQ $JS.API.CONSUMER.DELETE.S.C",
    "REQ $JS.API.CONSUMER.DELETE.NOPE.C",
    "REQ $JS.API.CONSUMER.NAMES.NOPE",
    "REQ $JS.API.CONSUMER.LIST.NOPE",
    "REQ $JS.API.STREAM.DELETE.S",
    "REQ $JS.API.INFO",
];

/// Runs `steps` against Go, then against Riptide from a shard that is not the JetStream
/// host, logged in with the CONNECT fields `login`; the replies must match step by step
/// (times and ids masked).
fn session_matches_go(name: &str, login: &str, steps: &[&str]) {
    let Some((go, server)) = go_and_riptide(name) else {
        return;
    };
    let expected = run_steps(go.addr, 1, 0, login, steps);
    let got = run_steps(server.addr, SHARDS, 1, login, steps);
    for (i, step) in steps.iter().enumerate() {
        assert_eq!(masked(&got[i]), masked(&expected[i]), "step {i} `{step}`");
    }
    server.shutdown();
}

#[test]
fn consumer_api_session_matches_go() {
    session_matches_go("js-consumers", "", CONSUMER_SESSION);
}

/// Pull consumers: requests in every form and the statuses that end them, deliveries
/// with their ack subjects, every kind of ack and its answer, a redelivery after a NAK,
/// ack policies none and all, work-queue and interest retention wired to acks,
/// `headers_only` and `last_per_subject`. `ACK <k>` acks the k-th delivery so far.
const PULL_SESSION: &[&str] = &[
    r#"REQ $JS.API.STREAM.CREATE.S {"name":"S","subjects":["s.>"]}"#,
    "REQ s.a one",
    "REQ s.b two",
    "HREQ s.c Foo:bar three",
    "REQ s.a four",
    r#"REQ $JS.API.CONSUMER.CREATE.S.D {"stream_name":"S","config":{"durable_name":"D","ack_policy":"explicit","max_batch":10,"max_expires":5000000000,"max_bytes":100000}}"#,
    "REQ $JS.API.CONSUMER.MSG.NEXT.S.D",
    "REQ*2 $JS.API.CONSUMER.MSG.NEXT.S.D 2",
    r#"REQ*2 $JS.API.CONSUMER.MSG.NEXT.S.D {"batch":5,"no_wait":true}"#,
    r#"REQ $JS.API.CONSUMER.MSG.NEXT.S.D {"no_wait":true}"#,
    r#"REQ $JS.API.CONSUMER.MSG.NEXT.S.D {"batch":20}"#,
    r#"REQ $JS.API.CONSUMER.MSG.NEXT.S.D {"expires":6000000000}"#,
    r#"REQ $JS.API.CONSUMER.MSG.NEXT.S.D {"max_bytes":200000}"#,
    r#"REQ $JS.API.CONSUMER.MSG.NEXT.S.D {"expires":1000000000,"idle_heartbeat":600000000}"#,
    r#"REQ $JS.API.CONSUMER.MSG.NEXT.S.D {"#,
    r#"REQ $JS.API.CONSUMER.MSG.NEXT.S.D {"batch":"x"}"#,
    r#"REQ $JS.API.CONSUMER.MSG.NEXT.S.D {"expires":100000000}"#,
    "REQ $JS.API.CONSUMER.INFO.S.D",
    "ACK 1 +ACK",
    "ACK 3",
    "REQ $JS.API.CONSUMER.INFO.S.D",
    "ACK 2 -NAK",
    "REQ $JS.API.CONSUMER.MSG.NEXT.S.D",
    "ACK 5 +TERM gone",
    "ACK 4 +WPI",
    "REQ $JS.API.CONSUMER.INFO.S.D",
    "ACK 4 +ACK",
    "ACK 4 +ACK",
    "REQ $JS.API.CONSUMER.INFO.S.D",
    "REQ s.d five",
    "REQ s.d six",
    "ACK 1 bogus",
    r#"REQ*2 $JS.API.CONSUMER.MSG.NEXT.S.D {"batch":3,"max_bytes":60}"#,
    r#"REQ*2 $JS.API.CONSUMER.MSG.NEXT.S.D {"batch":1,"max_bytes":1000}"#,
    "REQ $JS.API.CONSUMER.MSG.NEXT.S.nope",
    r#"REQ $JS.API.CONSUMER.CREATE.S.P {"stream_name":"S","config":{"durable_name":"P","deliver_subject":"push.p"}}"#,
    "REQ $JS.API.CONSUMER.MSG.NEXT.S.P",
    r#"REQ*0 $JS.API.CONSUMER.MSG.NEXT.S.D {"expires":5000000000}"#,
    // Go queues a pull request for the consumer's own goroutine: let it get there.
    "SLEEP*0 100",
    "REQ $JS.API.CONSUMER.INFO.S.D",
    "REQ*2s $JS.API.CONSUMER.DELETE.S.D",
    r#"REQ $JS.API.CONSUMER.CREATE.S.N {"stream_name":"S","config":{"durable_name":"N","ack_policy":"none"}}"#,
    "REQ*2 $JS.API.CONSUMER.MSG.NEXT.S.N 2",
    "ACK 8 +ACK",
    "REQ $JS.API.CONSUMER.INFO.S.N",
    r#"REQ $JS.API.CONSUMER.CREATE.S.A {"stream_name":"S","config":{"durable_name":"A","ack_policy":"all","filter_subject":"s.a"}}"#,
    r#"REQ*3 $JS.API.CONSUMER.MSG.NEXT.S.A {"batch":5,"no_wait":true}"#,
    "ACK 11 +ACK",
    "REQ $JS.API.CONSUMER.INFO.S.A",
    r#"REQ $JS.API.STREAM.CREATE.W {"name":"W","subjects":["w"],"retention":"workqueue"}"#,
    "REQ w x",
    "REQ w y",
    r#"REQ $JS.API.CONSUMER.CREATE.W.C {"stream_name":"W","config":{"durable_name":"C","ack_policy":"explicit"}}"#,
    "REQ*2 $JS.API.CONSUMER.MSG.NEXT.W.C 2",
    "ACK 12 +ACK",
    "REQ $JS.API.STREAM.INFO.W",
    r#"REQ $JS.API.CONSUMER.CREATE.W.C2 {"stream_name":"W","config":{"durable_name":"C2","ack_policy":"explicit"}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.W.C3 {"stream_name":"W","config":{"durable_name":"C3","ack_policy":"explicit","filter_subject":"w"}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.W.C4 {"stream_name":"W","config":{"durable_name":"C4","deliver_subject":"wq.push"}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.W.C5 {"stream_name":"W","config":{"durable_name":"C5","ack_policy":"none"}}"#,
    r#"REQ $JS.API.STREAM.CREATE.I {"name":"I","subjects":["i"],"retention":"interest"}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.I.C {"stream_name":"I","config":{"durable_name":"C","ack_policy":"explicit"}}"#,
    "REQ i x",
    "REQ $JS.API.CONSUMER.MSG.NEXT.I.C",
    "ACK 14 +ACK",
    "REQ $JS.API.STREAM.INFO.I",
    "REQ i y",
    r#"REQ $JS.API.CONSUMER.CREATE.I.E {"stream_name":"I","config":{"durable_name":"E","ack_policy":"explicit"}}"#,
    "REQ i z",
    "REQ $JS.API.CONSUMER.DELETE.I.C",
    "REQ $JS.API.STREAM.INFO.I",
    "REQ $JS.API.CONSUMER.DELETE.I.E",
    "REQ $JS.API.STREAM.INFO.I",
    r#"REQ $JS.API.CONSUMER.CREATE.S.H {"stream_name":"S","config":{"durable_name":"H","headers_only":true,"deliver_policy":"last_per_subject","filter_subject":"s.*"}}"#,
    r#"REQ*5 $JS.API.CONSUMER.MSG.NEXT.S.H {"batch":9,"no_wait":true}"#,
    "REQ $JS.API.CONSUMER.INFO.S.H",
    // Times at the ends of the range wait or fire, and nothing overflows.
    r#"ACK 13 -NAK {"delay":-9223372036854775808}"#,
    r#"REQ*0 $JS.API.CONSUMER.MSG.NEXT.S.A {"expires":9223372036854775807,"idle_heartbeat":4611686018427387903}"#,
    "SLEEP*0 100",
    "REQ*2s $JS.API.CONSUMER.DELETE.S.A",
    // Resets, unpins (no priority groups) and a stepdown, which needs a cluster.
    r#"REQ $JS.API.STREAM.CREATE.RS {"name":"RS","subjects":["rs.>"]}"#,
    "REQ rs.a 1",
    "REQ rs.b 2",
    "REQ rs.a 3",
    "REQ rs.b 4",
    r#"REQ $JS.API.CONSUMER.CREATE.RS.C {"stream_name":"RS","config":{"durable_name":"C","ack_policy":"explicit","filter_subject":"rs.b"}}"#,
    // Go builds a reset's reply while it applies it, so a reset after deliveries may show
    // them or not there; these come before any.
    "REQ $JS.API.CONSUMER.RESET.RS.C",
    r#"REQ $JS.API.CONSUMER.RESET.RS.C {"seq":99}"#,
    r#"REQ $JS.API.CONSUMER.RESET.RS.C {"seq":3}"#,
    "SLEEP*0 50",
    r#"REQ $JS.API.CONSUMER.MSG.NEXT.RS.C {"no_wait":true}"#,
    r#"REQ $JS.API.CONSUMER.RESET.RS.C {"seq":"x"}"#,
    "REQ $JS.API.CONSUMER.RESET.RS.C x",
    r#"REQ $JS.API.CONSUMER.UNPIN.RS.C {"group":"g"}"#,
    "REQ $JS.API.CONSUMER.UNPIN.RS.C",
    r#"REQ $JS.API.CONSUMER.UNPIN.RS.X {"group":"g"}"#,
    r#"REQ $JS.API.CONSUMER.UNPIN.ZZ.X {"group":"g"}"#,
    r#"REQ $JS.API.CONSUMER.UNPIN.RS.C {"group":1}"#,
    "REQ $JS.API.CONSUMER.LEADER.STEPDOWN.RS.C",
    "REQ $JS.API.CONSUMER.LEADER.STEPDOWN.RS.X",
];

/// Push consumers: deliveries to a deliver subject someone listens on (from the
/// consumer's creation), acks, a new message pushed at once, a queue group, a consumer
/// whose subscriber comes later, idle heartbeats, `push_bound` in the info.
const PUSH_SESSION: &[&str] = &[
    r#"REQ $JS.API.STREAM.CREATE.P {"name":"P","subjects":["p.>"]}"#,
    "REQ p.a one",
    "HREQ p.b Foo:bar two",
    "SUB*0 dlv",
    r#"REQ*3s $JS.API.CONSUMER.CREATE.P.C {"stream_name":"P","config":{"durable_name":"C","deliver_subject":"dlv","ack_policy":"explicit"}}"#,
    "ACK 2 +ACK",
    "REQ*2s p.c three",
    "REQ $JS.API.CONSUMER.INFO.P.C",
    "SUB*0 qd g",
    r#"REQ*4s $JS.API.CONSUMER.CREATE.P.Q {"stream_name":"P","config":{"durable_name":"Q","deliver_subject":"qd","deliver_group":"g"}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.P.L {"stream_name":"P","config":{"durable_name":"L","deliver_subject":"late","filter_subject":"p.a"}}"#,
    "REQ $JS.API.CONSUMER.INFO.P.L",
    "SUB*1 late",
    "REQ $JS.API.CONSUMER.INFO.P.L",
    // Replayed as stored: the second message keeps its gap after the first.
    r#"REQ $JS.API.STREAM.CREATE.RP {"name":"RP","subjects":["rp"]}"#,
    "REQ rp first",
    "SLEEP*0 800",
    "REQ rp second",
    "SUB*0 replay",
    r#"REQ*2s $JS.API.CONSUMER.CREATE.RP.R {"stream_name":"RP","config":{"durable_name":"R","deliver_subject":"replay","replay_policy":"original"}}"#,
    "REQ $JS.API.CONSUMER.INFO.RP.R",
    "READ*1 -",
    "REQ $JS.API.CONSUMER.INFO.RP.R",
    // rate_limit_bps: the burst is the stream's max_msg_size, two deliveries of 73 bytes;
    // at 1 byte a second the third waits about 20 s, taken but not delivered.
    r#"REQ $JS.API.STREAM.CREATE.RL {"name":"RL","subjects":["rl"],"max_msg_size":200}"#,
    "REQ rl 0123456789012345678901234567890",
    "REQ rl 0123456789012345678901234567891",
    "REQ rl 0123456789012345678901234567892",
    "SUB*0 rated",
    r#"REQ*3s $JS.API.CONSUMER.CREATE.RL.T {"stream_name":"RL","config":{"durable_name":"T","deliver_subject":"rated","rate_limit_bps":8}}"#,
    "SLEEP*0 300",
    "REQ $JS.API.CONSUMER.INFO.RL.T",
    "REQ $JS.API.CONSUMER.DELETE.RL.T",
    // A deliver subject only a wildcard (or a queue group the consumer does not name)
    // covers: Go's consumer waits for a subscription on exactly that subject.
    r#"REQ $JS.API.STREAM.CREATE.WD {"name":"WD","subjects":["wd"]}"#,
    "REQ wd one",
    "SUB*0 wild.*",
    r#"REQ $JS.API.CONSUMER.CREATE.WD.W {"stream_name":"WD","config":{"durable_name":"W","deliver_subject":"wild.x"}}"#,
    "SUB*0 wild.x grp",
    "REQ $JS.API.CONSUMER.INFO.WD.W",
    "SUB*3s wild.x",
    "REQ $JS.API.CONSUMER.INFO.WD.W",
    "SUB*0 hb",
    r#"REQ*2 $JS.API.CONSUMER.CREATE.P.H {"stream_name":"P","config":{"durable_name":"H","deliver_subject":"hb","filter_subject":"p.none","idle_heartbeat":200000000}}"#,
    // Last: a heartbeat may still be on its way.
    "UNSUB*0 40",
];

#[test]
fn push_consumer_session_matches_go() {
    session_matches_go("js-push", "", PUSH_SESSION);
}

#[test]
fn mirror_and_source_session_matches_go() {
    session_matches_go("js-mirrors", "", MIRROR_SESSION);
}

#[test]
fn priority_group_session_matches_go() {
    session_matches_go("js-priority", "", PRIORITY_SESSION);
}

/// Priority groups: Go's checks at create, on pull requests and on UNPIN; a pinned
/// client (`Nats-Pin-Id` on its messages, `$PIN` for the last one seen), requests held
/// while another is pinned, a stale pin's 423, the pin lapsing after `priority_timeout`,
/// the PINNED/UNPINNED advisories; overflow thresholds; prioritized requests served by
/// priority, round robin within one; the fields on a consumer without a policy.
const PRIORITY_SESSION: &[&str] = &[
    r#"REQ $JS.API.STREAM.CREATE.PG {"name":"PG","subjects":["pg.>"]}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.PG.E {"stream_name":"PG","config":{"durable_name":"E","priority_policy":"overflow"}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.PG.E {"stream_name":"PG","config":{"durable_name":"E","priority_groups":["A"]}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.PG.E {"stream_name":"PG","config":{"durable_name":"E","priority_timeout":1000000000}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.PG.E {"stream_name":"PG","config":{"durable_name":"E","deliver_subject":"pe","priority_policy":"overflow","priority_groups":["A"]}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.PG.E {"stream_name":"PG","config":{"durable_name":"E","priority_policy":"pinned_client","priority_groups":["A",""]}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.PG.E {"stream_name":"PG","config":{"durable_name":"E","priority_policy":"pinned_client","priority_groups":["seventeen-chars-x"]}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.PG.E {"stream_name":"PG","config":{"durable_name":"E","priority_policy":"pinned_client","priority_groups":["a.b"]}}"#,
    "REQ pg.a one",
    "REQ pg.b two",
    "HREQ pg.c Foo:bar three",
    "REQ pg.a four",
    "SUB*0 $JS.EVENT.ADVISORY.CONSUMER.PINNED.PG.*",
    "SUB*0 $JS.EVENT.ADVISORY.CONSUMER.UNPINNED.PG.*",
    r#"REQ $JS.API.CONSUMER.CREATE.PG.PC {"stream_name":"PG","config":{"durable_name":"PC","ack_policy":"explicit","priority_policy":"pinned_client","priority_groups":["A","B"]}}"#,
    r#"REQ $JS.API.CONSUMER.MSG.NEXT.PG.PC {"batch":1}"#,
    r#"REQ $JS.API.CONSUMER.MSG.NEXT.PG.PC {"batch":1,"group":"C"}"#,
    r#"REQ $JS.API.CONSUMER.MSG.NEXT.PG.PC {"batch":1,"group":"A","min_pending":1}"#,
    r#"REQ $JS.API.CONSUMER.MSG.NEXT.PG.PC {"batch":1,"group":"A","priority":10}"#,
    r#"REQ*2s $JS.API.CONSUMER.MSG.NEXT.PG.PC {"batch":1,"group":"A"}"#,
    r#"REQ $JS.API.CONSUMER.MSG.NEXT.PG.PC {"batch":1,"group":"A","id":"WRONG"}"#,
    r#"REQ $JS.API.CONSUMER.MSG.NEXT.PG.PC {"batch":1,"group":"A","id":"$PIN"}"#,
    r#"REQ $JS.API.CONSUMER.MSG.NEXT.PG.PC {"batch":1,"group":"B","expires":400000000}"#,
    "REQ $JS.API.CONSUMER.INFO.PG.PC",
    r#"REQ*0 $JS.API.CONSUMER.MSG.NEXT.PG.PC {"batch":1,"group":"A","expires":5000000000}"#,
    "SLEEP*0 100",
    r#"REQ*4s $JS.API.CONSUMER.UNPIN.PG.PC {"group":"A"}"#,
    r#"REQ $JS.API.CONSUMER.MSG.NEXT.PG.PC {"batch":1,"group":"A","id":"$PIN"}"#,
    r#"REQ*0 $JS.API.CONSUMER.MSG.NEXT.PG.PC {"batch":2,"group":"A","id":"$PIN","expires":5000000000}"#,
    "SLEEP*0 100",
    r#"REQ*2s $JS.API.CONSUMER.UNPIN.PG.PC {"group":"B"}"#,
    "REQ*2s pg.a five",
    r#"REQ*2s $JS.API.CONSUMER.MSG.NEXT.PG.PC {"batch":1,"group":"A"}"#,
    "REQ $JS.API.CONSUMER.UNPIN.PG.PC",
    r#"REQ $JS.API.CONSUMER.UNPIN.PG.PC {"group":""}"#,
    r#"REQ $JS.API.CONSUMER.UNPIN.PG.PC {"group":"C"}"#,
    r#"REQ $JS.API.CONSUMER.UNPIN.PG.PC {"group":"a b"}"#,
    r#"REQ $JS.API.CONSUMER.UNPIN.PG.PC {"group":1}"#,
    r#"REQ $JS.API.CONSUMER.UNPIN.NOPE.PC {"group":"A"}"#,
    // The pin lapses after priority_timeout, and the next request gets a new one.
    r#"REQ $JS.API.CONSUMER.CREATE.PG.PT {"stream_name":"PG","config":{"durable_name":"PT","priority_policy":"pinned_client","priority_groups":["A"],"priority_timeout":500000000}}"#,
    r#"REQ*2s $JS.API.CONSUMER.MSG.NEXT.PG.PT {"batch":1,"group":"A"}"#,
    "READ*1 -",
    r#"REQ*2s $JS.API.CONSUMER.MSG.NEXT.PG.PT {"batch":1,"group":"A"}"#,
    "READ*1 -",
    "REQ $JS.API.CONSUMER.DELETE.PG.PT",
    // Overflow: served once the consumer has min_pending to go or min_ack_pending unacked.
    r#"REQ $JS.API.CONSUMER.CREATE.PG.OV {"stream_name":"PG","config":{"durable_name":"OV","ack_policy":"explicit","priority_policy":"overflow","priority_groups":["A"]}}"#,
    r#"REQ $JS.API.CONSUMER.MSG.NEXT.PG.OV {"batch":1,"group":"A","id":"x"}"#,
    r#"REQ $JS.API.CONSUMER.MSG.NEXT.PG.OV {"batch":1,"group":"A","min_pending":10,"expires":300000000}"#,
    r#"REQ $JS.API.CONSUMER.MSG.NEXT.PG.OV {"batch":1,"group":"A","min_pending":5}"#,
    r#"REQ $JS.API.CONSUMER.MSG.NEXT.PG.OV {"batch":1,"group":"A","min_ack_pending":1}"#,
    r#"REQ $JS.API.CONSUMER.MSG.NEXT.PG.OV {"batch":1,"group":"A","min_ack_pending":3,"expires":300000000}"#,
    r#"REQ $JS.API.CONSUMER.MSG.NEXT.PG.OV {"batch":1,"group":"A"}"#,
    "REQ $JS.API.CONSUMER.INFO.PG.OV",
    // No policy: a group is taken and ignored, the other fields are refused.
    r#"REQ $JS.API.CONSUMER.CREATE.PG.NP {"stream_name":"PG","config":{"durable_name":"NP"}}"#,
    r#"REQ $JS.API.CONSUMER.MSG.NEXT.PG.NP {"batch":1,"group":"X"}"#,
    r#"REQ $JS.API.CONSUMER.MSG.NEXT.PG.NP {"batch":1,"id":"x"}"#,
    r#"REQ $JS.API.CONSUMER.MSG.NEXT.PG.NP {"batch":1,"min_pending":2}"#,
    r#"REQ $JS.API.CONSUMER.MSG.NEXT.PG.NP {"batch":1,"group":1}"#,
    r#"REQ $JS.API.CONSUMER.MSG.NEXT.PG.NP {"batch":1,"priority":"x"}"#,
    // Prioritized: a lower number first, round robin among equals.
    r#"REQ $JS.API.STREAM.CREATE.PQ {"name":"PQ","subjects":["pq"]}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.PQ.PR {"stream_name":"PQ","config":{"durable_name":"PR","priority_policy":"prioritized","priority_groups":["A"]}}"#,
    r#"REQ*0 $JS.API.CONSUMER.MSG.NEXT.PQ.PR {"batch":2,"group":"A","priority":5,"expires":5000000000}"#,
    r#"REQ*0 $JS.API.CONSUMER.MSG.NEXT.PQ.PR {"batch":2,"group":"A","priority":1,"expires":5000000000}"#,
    r#"REQ*0 $JS.API.CONSUMER.MSG.NEXT.PQ.PR {"batch":1,"group":"A","priority":1,"expires":5000000000}"#,
    "SLEEP*0 100",
    "REQ*2s pq one",
    "REQ*2s pq two",
    "REQ*2s pq three",
    "REQ*2s pq four",
    "REQ $JS.API.CONSUMER.INFO.PQ.PR",
    r#"REQ $JS.API.CONSUMER.MSG.NEXT.PQ.PR {"batch":1,"group":"A","priority":-1}"#,
];

#[test]
fn ack_metric_session_matches_go() {
    session_matches_go("js-ack-metrics", "", ACK_METRIC_SESSION);
}

/// `sample_freq`: Go's parse errors, and the `consumer_ack` metric of an explicit ack
/// (not of a `+TERM`) at 100%.
const ACK_METRIC_SESSION: &[&str] = &[
    r#"REQ $JS.API.STREAM.CREATE.AM {"name":"AM","subjects":["am"]}"#,
    "REQ am one",
    "REQ am two",
    r#"REQ $JS.API.CONSUMER.CREATE.AM.X {"stream_name":"AM","config":{"durable_name":"X","ack_policy":"explicit","sample_freq":"half"}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.AM.X {"stream_name":"AM","config":{"durable_name":"X","ack_policy":"explicit","sample_freq":"-5"}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.AM.X {"stream_name":"AM","config":{"durable_name":"X","ack_policy":"explicit","sample_freq":"5%%"}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.AM.X {"stream_name":"AM","config":{"durable_name":"X","ack_policy":"explicit","sample_freq":"99999999999999999999"}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.AM.X {"stream_name":"AM","config":{"durable_name":"X","ack_policy":"explicit","sample_freq":"%"}}"#,
    r#"REQ $JS.API.CONSUMER.CREATE.AM.M {"stream_name":"AM","config":{"durable_name":"M","ack_policy":"explicit","sample_freq":"100%"}}"#,
    "SUB*0 $JS.EVENT.METRIC.CONSUMER.ACK.AM.*",
    r#"REQ $JS.API.CONSUMER.MSG.NEXT.AM.M {"batch":1}"#,
    "ACK*2s 1",
    r#"REQ $JS.API.CONSUMER.MSG.NEXT.AM.M {"batch":1}"#,
    "ACK 2 +TERM",
    "REQ $JS.API.CONSUMER.INFO.AM.M",
];

#[test]
fn pull_consumer_session_matches_go() {
    session_matches_go("js-pull", r#","no_responders":true"#, PULL_SESSION);
}

/// Mirrors and sources: Go's configuration checks and cycles, copies with the origin's
/// sequences and times (a mirror) or appended with `Nats-Stream-Source` (a source, its
/// random identity masked), start positions, filters and transforms, what info shows
/// (`active` masked), updates, an origin that is not there. Go copies asynchronously, so
/// the steps wait for it.
const MIRROR_SESSION: &[&str] = &[
    r#"REQ $JS.API.STREAM.CREATE.O {"name":"O","subjects":["o.>"]}"#,
    "REQ o.a one",
    "HREQ o.b Nats-Msg-Id:x two",
    "REQ o.a three",
    "HREQ o.c Nats-Expected-Last-Sequence:3|Foo:bar four",
    r#"REQ $JS.API.STREAM.CREATE.M {"name":"M","mirror":{"name":"O"}}"#,
    r#"REQ $JS.API.STREAM.CREATE.M2 {"name":"M2","subjects":["x"],"mirror":{"name":"O"}}"#,
    r#"REQ $JS.API.STREAM.CREATE.M3 {"name":"M3","mirror":{"name":"O"},"sources":[{"name":"O"}]}"#,
    r#"REQ $JS.API.STREAM.CREATE.M4 {"name":"M4","mirror":{"name":"O"},"first_seq":5}"#,
    r#"REQ $JS.API.STREAM.CREATE.M5 {"name":"M5","mirror":{"name":""}}"#,
    r#"REQ $JS.API.STREAM.CREATE.M6 {"name":"M6","mirror":{"name":"O","filter_subject":"o.a","subject_transforms":[{"src":"o.a","dest":"x"}]}}"#,
    r#"REQ $JS.API.STREAM.CREATE.M7 {"name":"M7","mirror":{"name":"O","filter_subject":"bad..x"}}"#,
    r#"REQ $JS.API.STREAM.CREATE.MF {"name":"MF","mirror":{"name":"O","opt_start_seq":2}}"#,
    r#"REQ $JS.API.STREAM.CREATE.MS {"name":"MS","mirror":{"name":"O","filter_subject":"o.a"}}"#,
    r#"REQ $JS.API.STREAM.CREATE.MN {"name":"MN","mirror":{"name":"NOPE"}}"#,
    r#"REQ $JS.API.STREAM.CREATE.S {"name":"S","subjects":["s.>"],"allow_direct":true,"sources":[{"name":"O","filter_subject":"o.a"},{"name":"O","filter_subject":"o.c","subject_transforms":[]}]}"#,
    r#"REQ $JS.API.STREAM.CREATE.S1 {"name":"S1","subjects":["s1"],"allow_direct":true,"sources":[{"name":"O","filter_subject":"o.a"}]}"#,
    r#"REQ $JS.API.STREAM.CREATE.S2 {"name":"S2","allow_direct":true,"sources":[{"name":"O","subject_transforms":[{"src":"o.a","dest":"ta"},{"src":"o.c","dest":"tc"}]}]}"#,
    r#"REQ $JS.API.STREAM.CREATE.S9 {"name":"S9","allow_direct":true,"sources":[{"name":"O","subject_transforms":[{"src":"o.*","dest":"t.{{wildcard(1)}}"}]}]}"#,
    r#"REQ $JS.API.STREAM.CREATE.S10 {"name":"S10","sources":[{"name":"O","subject_transforms":[{"src":"o.>","dest":"y"}]}]}"#,
    r#"REQ $JS.API.STREAM.CREATE.S3 {"name":"S3","sources":[{"name":"O"},{"name":"O"}]}"#,
    r#"REQ $JS.API.STREAM.CREATE.S4 {"name":"S4","sources":[{"name":"O.x"}]}"#,
    r#"REQ $JS.API.STREAM.CREATE.S5 {"name":"S5","sources":[{"name":"O","filter_subject":"o.a","subject_transforms":[{"src":"o.a","dest":"x"}]}]}"#,
    r#"REQ $JS.API.STREAM.CREATE.S6 {"name":"S6","sources":[{"name":"O","subject_transforms":[{"src":"bad..x","dest":"x"}]}]}"#,
    r#"REQ $JS.API.STREAM.CREATE.S7 {"name":"S7","sources":[{"name":"O","subject_transforms":[{"src":"o.*","dest":"x.{{wildcard(3)}}"}]}]}"#,
    r#"REQ $JS.API.STREAM.CREATE.S8 {"name":"S8","sources":[{"name":"O","filter_subject":"bad..x"}]}"#,
    r#"REQ $JS.API.STREAM.CREATE.C1 {"name":"C1","sources":[{"name":"C2"}]}"#,
    r#"REQ $JS.API.STREAM.CREATE.C2 {"name":"C2","sources":[{"name":"C1"}]}"#,
    r#"REQ $JS.API.STREAM.CREATE.C3 {"name":"C3","mirror":{"name":"C3"}}"#,
    "SLEEP*0 800",
    "REQ $JS.API.STREAM.INFO.M",
    "REQ $JS.API.STREAM.INFO.MF",
    "REQ $JS.API.STREAM.INFO.MS",
    "REQ $JS.API.STREAM.INFO.MN",
    "REQ $JS.API.STREAM.INFO.S",
    "REQ $JS.API.STREAM.INFO.S2",
    "REQ $JS.API.STREAM.INFO.S9",
    r#"REQ $JS.API.STREAM.MSG.GET.M {"seq":2}"#,
    r#"REQ $JS.API.STREAM.MSG.GET.M {"seq":4}"#,
    r#"REQ $JS.API.STREAM.MSG.GET.MS {"seq":3}"#,
    r#"REQ $JS.API.DIRECT.GET.S1 {"seq":1}"#,
    r#"REQ $JS.API.DIRECT.GET.S1 {"seq":2}"#,
    r#"REQ $JS.API.DIRECT.GET.S2 {"seq":2}"#,
    r#"REQ $JS.API.DIRECT.GET.S9 {"seq":4}"#,
    "REQ o.a five",
    "SLEEP*0 500",
    "REQ s1 six",
    "REQ $JS.API.STREAM.INFO.S",
    "REQ $JS.API.STREAM.INFO.S1",
    r#"REQ $JS.API.DIRECT.GET.S1 {"last_by_subj":"o.a"}"#,
    r#"REQ $JS.API.DIRECT.GET.S1 {"last_by_subj":"s1"}"#,
    r#"REQ $JS.API.STREAM.MSG.GET.M {"last_by_subj":"o.a"}"#,
    r#"REQ $JS.API.STREAM.UPDATE.M {"name":"M","mirror":{"name":"O","opt_start_seq":3}}"#,
    r#"REQ $JS.API.STREAM.UPDATE.S {"name":"S","subjects":["s.>"],"allow_direct":true,"mirror":{"name":"O"}}"#,
    r#"REQ $JS.API.STREAM.UPDATE.S {"name":"S","subjects":["s.>"],"allow_direct":true,"sources":[{"name":"O","filter_subject":"o.a"},{"name":"O","filter_subject":"o.b"}]}"#,
    "SLEEP*0 500",
    "REQ $JS.API.STREAM.INFO.S",
    r#"REQ $JS.API.STREAM.UPDATE.S {"name":"S","subjects":["s.>"],"allow_direct":true}"#,
    "REQ o.a seven",
    "SLEEP*0 300",
    "REQ $JS.API.STREAM.INFO.S",
    r#"REQ $JS.API.STREAM.PURGE.O {}"#,
    "REQ $JS.API.STREAM.INFO.M",
    r#"REQ $JS.API.STREAM.DELETE.MF"#,
    "REQ $JS.API.STREAM.NAMES",
];

/// What a pull request and an advisory watcher see while a consumer with a backoff and
/// `max_deliver` 3 has one message NAKed with a delay (and then acked), one terminated and
/// one never acked: redeliveries in order, given up after the third, the request's 408
/// with what it still wanted, the NAK/TERM/MAX_DELIVERIES advisories and the final info.
fn redelivery_events(addr: SocketAddr) -> Vec<String> {
    let mut admin = logged_in(addr, "_INBOX.req");
    let mut watcher = logged_in(addr, "$JS.EVENT.ADVISORY.CONSUMER.MSG_NAKED.>");
    watcher.send(b"SUB $JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.> 2\r\n");
    watcher.send(b"SUB $JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.> 3\r\n");
    watcher.sync();
    request(
        &mut admin,
        "$JS.API.STREAM.CREATE.R",
        r#"{"name":"R","subjects":["r"]}"#,
    );
    for body in ["one", "two", "three"] {
        request(&mut admin, "r", body);
    }
    request(
        &mut admin,
        "$JS.API.CONSUMER.CREATE.R.D",
        r#"{"stream_name":"R","config":{"durable_name":"D","ack_policy":"explicit","backoff":[500000000,800000000],"max_deliver":3}}"#,
    );
    let mut puller = logged_in(addr, "_INBOX.pull");
    let next = r#"{"batch":10,"expires":3000000000}"#;
    puller.send(
        format!(
            "PUB $JS.API.CONSUMER.MSG.NEXT.R.D _INBOX.pull {}\r\n{next}\r\n",
            next.len()
        )
        .as_bytes(),
    );
    let mut events = Vec::new();
    let mut record = |m: &Received| {
        let reply = m.reply.as_deref().map_or(String::new(), masked_ack);
        events.push(format!("{} {reply} {}{}", m.subject, m.hdr, m.body));
    };
    let first: Vec<Received> = (0..3).map(|_| read_message(&mut puller)).collect();
    first.iter().for_each(&mut record);
    let ack = |c: &mut Raw, m: &Received, body: &str| {
        let to = m.reply.as_deref().unwrap();
        c.send(format!("PUB {to} {}\r\n{body}\r\n", body.len()).as_bytes());
    };
    ack(&mut puller, &first[1], "-NAK 50ms");
    ack(&mut puller, &first[2], "+TERM done");
    let again = read_message(&mut puller);
    record(&again);
    ack(&mut puller, &again, "+ACK");
    // The unacked one twice more, then the request's end.
    for _ in 0..3 {
        record(&read_message(&mut puller));
    }
    events.extend(next_advisories(&mut watcher, 3));
    let info = request(&mut admin, "$JS.API.CONSUMER.INFO.R.D", "");
    events.push(masked_json(&info.to_string()));
    events
}

#[test]
fn redeliveries_and_their_advisories_match_go() {
    let Some((go, server)) = go_and_riptide("js-redelivery") else {
        return;
    };
    let events = redelivery_events(server.addr);
    assert!(events[6].contains("408 Request Timeout"), "{events:#?}");
    assert!(events[9].contains("MAX_DELIVERIES"), "{events:#?}");
    assert_eq!(events, redelivery_events(go.addr));
    server.shutdown();
}

/// A file stream's consumers come back after a restart, as they were, but for one with
/// `mem_storage` (Go's file store keeps it in memory, and Go loses it too); an unnamed one
/// gets a made-up name of Go's shape and the ephemeral default of 5 s unused.
#[test]
fn consumers_survive_a_restart() {
    let dir = scratch_dir("js-consumers-restart");
    let config = js_config(&dir);
    let server = common::start_with(config.clone());
    let mut c = logged_in(server.addr, "_INBOX.>");
    request(
        &mut c,
        "$JS.API.STREAM.CREATE.R",
        r#"{"name":"R","subjects":["r"]}"#,
    );
    let durable = request(
        &mut c,
        "$JS.API.CONSUMER.DURABLE.CREATE.R.D",
        r#"{"stream_name":"R","config":{"durable_name":"D","ack_policy":"explicit","description":"kept"}}"#,
    );
    let unnamed = request(
        &mut c,
        "$JS.API.CONSUMER.CREATE.R",
        r#"{"stream_name":"R","config":{}}"#,
    );
    // Kept in memory (as Go's file store keeps it): gone after the restart, as in Go.
    let in_memory = request(
        &mut c,
        "$JS.API.CONSUMER.DURABLE.CREATE.R.M",
        r#"{"stream_name":"R","config":{"durable_name":"M","mem_storage":true}}"#,
    );
    assert_eq!(in_memory["config"]["mem_storage"], true, "{in_memory}");
    let name = unnamed["name"].as_str().unwrap().to_string();
    assert_eq!(name.len(), 8, "{unnamed}");
    assert!(name.chars().all(|ch| ch.is_ascii_alphanumeric()), "{name}");
    assert_eq!(unnamed["config"]["inactive_threshold"], 5_000_000_000u64);
    server.shutdown();

    let server = common::start_with(config);
    let mut c = logged_in(server.addr, "_INBOX.>");
    let info = request(&mut c, "$JS.API.CONSUMER.INFO.R.D", "");
    assert_eq!(info["config"], durable["config"]);
    assert_eq!(info["created"], durable["created"]);
    let names = request(&mut c, "$JS.API.CONSUMER.NAMES.R", "");
    let mut want = vec!["D".to_string(), name];
    want.sort();
    assert_eq!(names["consumers"], serde_json::json!(want));
    server.shutdown();
}

/// A mirror and a source go on after a restart where they were: the mirror after its last
/// sequence, the source after the last origin sequence its headers name, with the same
/// identity, and nothing is copied twice.
#[test]
fn mirrors_and_sources_resume_after_a_restart() {
    let dir = scratch_dir("js-upstreams-restart");
    let config = js_config(&dir);
    let publish = |c: &mut Raw, from: usize, to: usize| {
        for i in from..to {
            let ack = request(c, "o", &format!("m{i}"));
            assert_eq!(ack["seq"], i, "{ack}");
        }
    };
    let server = common::start_with(config.clone());
    let mut c = logged_in(server.addr, "_INBOX.>");
    request(
        &mut c,
        "$JS.API.STREAM.CREATE.O",
        r#"{"name":"O","subjects":["o"]}"#,
    );
    publish(&mut c, 1, 4);
    request(
        &mut c,
        "$JS.API.STREAM.CREATE.M",
        r#"{"name":"M","mirror":{"name":"O"}}"#,
    );
    request(
        &mut c,
        "$JS.API.STREAM.CREATE.S",
        r#"{"name":"S","subjects":["s"],"allow_direct":true,"sources":[{"name":"O"}]}"#,
    );
    let copied = |c: &mut Raw, stream: &str, n: u64| {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let info = request(c, &format!("$JS.API.STREAM.INFO.{stream}"), "");
            if info["state"]["messages"] == n {
                return info;
            }
            assert!(
                Instant::now() < deadline,
                "{stream} did not copy {n}: {info}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    copied(&mut c, "M", 3);
    copied(&mut c, "S", 3);
    server.shutdown();

    let server = common::start_with(config);
    let mut c = logged_in(server.addr, "_INBOX.>");
    publish(&mut c, 4, 6);
    let m = copied(&mut c, "M", 5);
    assert_eq!(m["state"]["last_seq"], 5, "{m}");
    copied(&mut c, "S", 5);
    let headers: Vec<String> = (1..=5)
        .map(|seq| {
            let body = format!(r#"{{"seq":{seq}}}"#);
            c.send(
                format!(
                    "PUB $JS.API.DIRECT.GET.S _INBOX.req {}\r\n{body}\r\n",
                    body.len()
                )
                .as_bytes(),
            );
            let m = read_message(&mut c);
            let source = m
                .hdr
                .lines()
                .find_map(|l| l.strip_prefix("Nats-Stream-Source: "));
            source.expect("a source header").to_string()
        })
        .collect();
    let ident = headers[0].rsplit(' ').next().unwrap().to_string();
    let want: Vec<String> = (1..=5).map(|i| format!("O {i} > > o {ident}")).collect();
    assert_eq!(headers, want);
    server.shutdown();
}

/// The next `n` advisories `watcher` gets: subject and advisory, id and time masked.
fn next_advisories(watcher: &mut Raw, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            let m = read_message(watcher);
            let mut v: serde_json::Value = serde_json::from_str(&m.body).unwrap();
            v["id"] = "*".into();
            v["timestamp"] = "*".into();
            format!("{} {v}", m.subject)
        })
        .collect()
}

/// What a client listening on `$JS.EVENT.ADVISORY.STREAM.>` sees while another creates,
/// updates and deletes a stream.
fn advisories(addr: SocketAddr) -> Vec<String> {
    let mut watcher = logged_in(addr, "$JS.EVENT.ADVISORY.STREAM.>");
    let mut admin = logged_in(addr, "_INBOX.>");
    request(&mut admin, "$JS.API.STREAM.CREATE.V", r#"{"name":"V"}"#);
    request(&mut admin, "$JS.API.STREAM.CREATE.V", r#"{"name":"V"}"#);
    request(
        &mut admin,
        "$JS.API.STREAM.UPDATE.V",
        r#"{"name":"V","max_msgs":5}"#,
    );
    request(&mut admin, "$JS.API.STREAM.DELETE.V", "");
    next_advisories(&mut watcher, 3)
}

/// What a client listening on `$JS.EVENT.ADVISORY.CONSUMER.>` and stream deletions sees
/// while another creates (one paused), re-creates, updates, pauses, resumes and deletes
/// consumers, then their stream (a create of an existing consumer, an update and a pause
/// that changes nothing have none: a stray one shifts the rest).
fn consumer_advisories(addr: SocketAddr) -> Vec<String> {
    let mut watcher = logged_in(addr, "$JS.EVENT.ADVISORY.CONSUMER.>");
    watcher.send(b"SUB $JS.EVENT.ADVISORY.STREAM.DELETED.> 2\r\n");
    watcher.sync();
    let mut admin = logged_in(addr, "_INBOX.>");
    request(&mut admin, "$JS.API.STREAM.CREATE.V", r#"{"name":"V"}"#);
    let durable = |name: &str, extra: &str| {
        format!(r#"{{"stream_name":"V","config":{{"durable_name":"{name}"{extra}}}}}"#)
    };
    request(&mut admin, "$JS.API.CONSUMER.CREATE.V.C", &durable("C", ""));
    request(&mut admin, "$JS.API.CONSUMER.CREATE.V.C", &durable("C", ""));
    let update = durable("C", r#","description":"x""#);
    request(&mut admin, "$JS.API.CONSUMER.CREATE.V.C", &update);
    let paused = durable("D", r#","pause_until":"2100-01-01T00:00:00Z""#);
    request(&mut admin, "$JS.API.CONSUMER.CREATE.V.D", &paused);
    let pause = r#"{"pause_until":"2100-01-01T00:00:00Z"}"#;
    request(&mut admin, "$JS.API.CONSUMER.PAUSE.V.C", pause);
    request(&mut admin, "$JS.API.CONSUMER.PAUSE.V.C", pause);
    request(&mut admin, "$JS.API.CONSUMER.PAUSE.V.C", "");
    request(&mut admin, "$JS.API.CONSUMER.DELETE.V.C", "");
    request(&mut admin, "$JS.API.STREAM.DELETE.V", "");
    next_advisories(&mut watcher, 8)
}

#[test]
fn stream_advisories_match_go() {
    let Some((go, server)) = go_and_riptide("js-advisories") else {
        return;
    };
    assert_eq!(advisories(server.addr), advisories(go.addr));
    server.shutdown();
}

/// Consumers left unused for their `inactive_threshold` go, with a DELETED advisory, as in
/// Go; one without a threshold stays. Returns the advisories, then the two infos' errors.
fn idle_consumers(addr: SocketAddr) -> Vec<String> {
    let mut watcher = logged_in(addr, "$JS.EVENT.ADVISORY.CONSUMER.>");
    let mut admin = logged_in(addr, "_INBOX.>");
    request(&mut admin, "$JS.API.STREAM.CREATE.I", r#"{"name":"I"}"#);
    let kept = r#"{"stream_name":"I","config":{"durable_name":"K"}}"#;
    request(&mut admin, "$JS.API.CONSUMER.CREATE.I.K", kept);
    let idle = r#"{"stream_name":"I","config":{"name":"E","inactive_threshold":300000000}}"#;
    request(&mut admin, "$JS.API.CONSUMER.CREATE.I.E", idle);
    let mut seen = next_advisories(&mut watcher, 3);
    for name in ["E", "K"] {
        let info = request(&mut admin, &format!("$JS.API.CONSUMER.INFO.I.{name}"), "");
        seen.push(info["error"].to_string());
    }
    request(&mut admin, "$JS.API.STREAM.DELETE.I", "");
    seen
}

#[test]
fn idle_consumers_are_removed_as_go_removes_them() {
    let Some((go, server)) = go_and_riptide("js-idle-consumers") else {
        return;
    };
    assert_eq!(idle_consumers(server.addr), idle_consumers(go.addr));
    server.shutdown();
}

#[test]
fn consumer_advisories_match_go() {
    let Some((go, server)) = go_and_riptide("js-consumer-advisories") else {
        return;
    };
    assert_eq!(
        consumer_advisories(server.addr),
        consumer_advisories(go.addr)
    );
    server.shutdown();
}

/// Publishes `n` messages on `subject` with acks; returns the acked sequences.
fn publish_acked(c: &mut Raw, subject: &str, n: usize, tag: &str) -> Vec<u64> {
    for i in 0..n {
        let body = format!("{tag}-{i}");
        c.send(
            format!(
                "PUB {subject} _INBOX.{tag}.{i} {}\r\n{body}\r\n",
                body.len()
            )
            .as_bytes(),
        );
    }
    (0..n)
        .map(|_| {
            let ack: serde_json::Value = serde_json::from_str(&read_reply(c)).unwrap();
            ack["seq"]
                .as_u64()
                .unwrap_or_else(|| panic!("not an ack: {ack}"))
        })
        .collect()
}

fn request(c: &mut Raw, subject: &str, body: &str) -> serde_json::Value {
    c.send(format!("PUB {subject} _INBOX.req {}\r\n{body}\r\n", body.len()).as_bytes());
    serde_json::from_str(&read_reply(c)).unwrap()
}

/// A client with headers, subscribed to its replies on `inbox`.
fn logged_in(addr: SocketAddr, inbox: &str) -> Raw {
    let mut c = Raw::connect(addr);
    c.log_in(r#""headers":true"#);
    c.send(format!("SUB {inbox} 1\r\n").as_bytes());
    c.sync();
    c
}

#[test]
fn every_shard_publishes_in_order_and_sequences_are_unique() {
    let dir = scratch_dir("js-order");
    let server = common::start_with(js_config(&dir));
    let mut admin = logged_in(server.addr, "_INBOX.req");
    let r = request(
        &mut admin,
        "$JS.API.STREAM.CREATE.O",
        r#"{"name":"O","subjects":["o.>"]}"#,
    );
    assert_eq!(r["did_create"], true, "{r}");
    let mut pubs: Vec<Raw> = common::one_per_shard(server.addr, SHARDS);
    for (i, p) in pubs.iter_mut().enumerate() {
        p.log_in(r#""headers":true"#);
        p.send(format!("SUB _INBOX.p{i}.> 1\r\n").as_bytes());
        p.sync();
    }
    const N: usize = 300;
    let mut all = Vec::new();
    for (i, p) in pubs.iter_mut().enumerate() {
        let seqs = publish_acked(p, &format!("o.{i}"), N, &format!("p{i}"));
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "publisher {i}: {seqs:?}"
        );
        all.extend(seqs);
    }
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), N * SHARDS);
    // Each publisher's messages are stored in the order it sent them.
    for i in 0..SHARDS {
        let mut seq = 0;
        for k in 0..N {
            let r = request(
                &mut admin,
                "$JS.API.STREAM.MSG.GET.O",
                &format!(r#"{{"next_by_subj":"o.{i}","seq":{}}}"#, seq + 1),
            );
            seq = r["message"]["seq"]
                .as_u64()
                .unwrap_or_else(|| panic!("{r}"));
            let data = r["message"]["data"].as_str().unwrap();
            let body = data_encoding::BASE64.decode(data.as_bytes()).unwrap();
            assert_eq!(body, format!("p{i}-{k}").as_bytes());
        }
    }
    server.shutdown();
}

#[test]
fn acked_messages_survive_kill_and_a_torn_tail() {
    for always in [false, true] {
        survive_kill(always);
    }
}

/// A pull consumer's progress survives `kill -9`: what was acked stays acked, what was
/// delivered and not acked comes again (with its delivery count), and what never went.
#[test]
fn consumer_progress_survives_kill() {
    let dir = scratch_dir("js-consumer-kill");
    let conf = common::process::write_file(
        &dir,
        "js.conf",
        &format!("jetstream {{ store_dir: \"{}\" }}\n", dir.display()),
    );
    let args = loopback(&["-c", conf.to_str().unwrap()]);
    let server = Proc::start(&args);
    let mut c = logged_in(server.addr(), "_INBOX.>");
    request(
        &mut c,
        "$JS.API.STREAM.CREATE.K",
        r#"{"name":"K","subjects":["k"]}"#,
    );
    for i in 1..=6 {
        request(&mut c, "k", &format!("m{i}"));
    }
    let create = r#"{"stream_name":"K","config":{"durable_name":"D","ack_policy":"explicit","ack_wait":500000000}}"#;
    request(&mut c, "$JS.API.CONSUMER.CREATE.K.D", create);
    let pull = |c: &mut Raw, n: usize| -> Vec<Received> {
        let body = format!("{n}");
        c.send(
            format!(
                "PUB $JS.API.CONSUMER.MSG.NEXT.K.D _INBOX.p {}\r\n{body}\r\n",
                body.len()
            )
            .as_bytes(),
        );
        (0..n).map(|_| read_message(c)).collect()
    };
    let first = pull(&mut c, 4);
    for m in &first[..2] {
        let to = m.reply.as_deref().unwrap();
        c.send(format!("PUB {to} _INBOX.ackack 0\r\n\r\n").as_bytes());
        read_message(&mut c);
    }
    // The progress is written on the host's tick: wait until it is there.
    let state = dir.join("jetstream/$G/streams/K/obs/D/state.json");
    common::process::wait_for_file(&state, |text| {
        let kept: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
        kept["ack_floor"]["stream_seq"] == 2 && kept["delivered"]["stream_seq"] == 4
    });
    // Proc's drop is a SIGKILL.
    drop(server);

    let server = Proc::start(&args);
    let mut c = logged_in(server.addr(), "_INBOX.>");
    let info = request(&mut c, "$JS.API.CONSUMER.INFO.K.D", "");
    assert_eq!(info["ack_floor"]["stream_seq"], 2, "{info}");
    assert_eq!(info["delivered"]["stream_seq"], 4, "{info}");
    assert_eq!(info["num_ack_pending"], 2, "{info}");
    assert_eq!(info["num_pending"], 2, "{info}");
    let again: Vec<(String, String)> = pull(&mut c, 4)
        .into_iter()
        .map(|m| {
            let t: Vec<String> = m.reply.unwrap().split('.').map(String::from).collect();
            (m.body, format!("{}.{}", t[4], t[5]))
        })
        .collect();
    // The pending two come again when their ack wait runs out, which may be after the
    // other two went.
    let mut again = again;
    again.sort();
    let want = [("m3", "2.3"), ("m4", "2.4"), ("m5", "1.5"), ("m6", "1.6")];
    assert_eq!(again, want.map(|(b, t)| (b.to_string(), t.to_string())));
}

/// Three rounds of: start, check every message acked so far, publish more, `kill -9`, tear
/// the log's tail; then a last check. With `always`, under `sync_interval: always`.
fn survive_kill(always: bool) {
    let dir = scratch_dir(if always {
        "js-crash-always"
    } else {
        "js-crash"
    });
    let conf = common::process::write_file(
        &dir,
        "js.conf",
        &format!(
            "jetstream {{ store_dir: \"{}\", sync_interval: {} }}\n",
            dir.display(),
            if always { "always" } else { "\"2m\"" }
        ),
    );
    let args = loopback(&["-c", conf.to_str().unwrap()]);
    let mut acked = Vec::new();
    for round in 0..3 {
        let server = Proc::start(&args);
        let mut c = logged_in(server.addr(), "_INBOX.>");
        if round == 0 {
            let r = request(&mut c, "$JS.API.STREAM.CREATE.K", r#"{"name":"K"}"#);
            assert_eq!(r["did_create"], true, "{r}");
        }
        let info = request(&mut c, "$JS.API.STREAM.INFO.K", "");
        assert_eq!(
            info["state"]["messages"],
            acked.len(),
            "round {round}: {info}"
        );
        for &seq in &acked {
            let r = request(
                &mut c,
                "$JS.API.STREAM.MSG.GET.K",
                &format!(r#"{{"seq":{seq}}}"#),
            );
            assert_eq!(r["message"]["seq"], seq, "round {round}: {r}");
        }
        let seqs = publish_acked(&mut c, "K", 200, &format!("r{round}"));
        assert!(seqs.iter().all(|s| acked.last().is_none_or(|l| s > l)));
        acked.extend(seqs);
        // Proc's drop is a SIGKILL: no shutdown path runs.
        drop(server);
        // A write torn by the crash: half a record at the end of the log's last block.
        let blocks = dir.join("jetstream/$G/streams/K/msgs");
        let log = std::fs::read_dir(&blocks)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "blk"))
            .max()
            .unwrap();
        let mut bytes = std::fs::read(&log).unwrap();
        bytes.extend_from_slice(&[42, 0, 0, 0, 1, 2, 3]);
        std::fs::write(&log, bytes).unwrap();
    }
    let server = Proc::start(&args);
    let mut c = logged_in(server.addr(), "_INBOX.>");
    let info = request(&mut c, "$JS.API.STREAM.INFO.K", "");
    assert_eq!(info["state"]["messages"], acked.len(), "{info}");
    assert_eq!(info["state"]["last_seq"], *acked.last().unwrap(), "{info}");
}

/// A stream write that fails (after the kernel wrote it, as ENOSPC or EIO may come) answers
/// its publisher with the error, leaves nothing of it in the stream or the log, and the
/// stream goes on; after a `kill -9` every acked message is there.
#[test]
fn failed_writes_are_refused_not_lost() {
    for errno in [libc::ENOSPC, libc::EIO] {
        let dir = scratch_dir(&format!("js-fault-{errno}"));
        let sd = dir.to_str().unwrap();
        let args = loopback(&["-js", "-sd", sd]);
        let fault = format!("{errno}@2,4");
        let env = [(riptide::shard::FAULT_STREAM_WRITE_ENV, fault.as_str())];
        let server = Proc::start_with_env(&args, &env);
        let mut c = logged_in(server.addr(), "_INBOX.>");
        request(&mut c, "$JS.API.STREAM.CREATE.F", r#"{"name":"F"}"#);
        // One publish per write: each waits for its ack.
        let acks: Vec<serde_json::Value> = (0..5)
            .map(|i| request(&mut c, "F", &format!("m{i}")))
            .collect();
        let text = std::io::Error::from_raw_os_error(errno).to_string();
        let ok: Vec<u64> = acks
            .iter()
            .filter_map(|a| a["seq"].as_u64().filter(|s| *s > 0))
            .collect();
        assert_eq!(ok, [1, 2, 3], "{acks:?}");
        for i in [1, 3] {
            assert_eq!(acks[i]["error"]["err_code"], 10077, "{acks:?}");
            assert!(
                acks[i]["error"]["description"]
                    .as_str()
                    .unwrap()
                    .starts_with(&text[..10]),
                "{acks:?}"
            );
        }
        let expect = |c: &mut Raw| {
            let info = request(c, "$JS.API.STREAM.INFO.F", "");
            assert_eq!(
                (
                    info["state"]["messages"].as_u64(),
                    info["state"]["last_seq"].as_u64()
                ),
                (Some(3), Some(3)),
                "{info}"
            );
            for (seq, body) in [(1, "m0"), (2, "m2"), (3, "m4")] {
                let r = request(
                    c,
                    "$JS.API.STREAM.MSG.GET.F",
                    &format!(r#"{{"seq":{seq}}}"#),
                );
                let data = data_encoding::BASE64
                    .decode(r["message"]["data"].as_str().unwrap().as_bytes())
                    .unwrap();
                assert_eq!(data, body.as_bytes(), "{r}");
            }
        };
        expect(&mut c);
        drop(server);
        let server = Proc::start(&args);
        let mut c = logged_in(server.addr(), "_INBOX.>");
        expect(&mut c);
    }
}

/// async-nats pull consumers as applications use them: a fetched batch, the endless
/// `messages()` stream (with its heartbeats and expiring requests), a NAK redelivered,
/// an empty fetch that ends, and an ordered pull consumer.
#[tokio::test]
async fn async_nats_pull_consumers_fetch_and_ack() {
    let dir = scratch_dir("js-async-nats-pull");
    let server = common::start_with(js_config(&dir));
    let flow = pull_consumer_flow(server.addr);
    tokio::time::timeout(Duration::from_secs(60), flow)
        .await
        .expect("the pull flow finishes");
    server.shutdown();
}

async fn pull_consumer_flow(addr: SocketAddr) {
    use async_nats::jetstream::{self, consumer, stream, AckKind};
    use futures::StreamExt;
    const MSGS: u64 = 250;
    const FETCH: usize = 100;
    let client = async_nats::connect(addr.to_string()).await.unwrap();
    let js = jetstream::new(client);
    let s = js
        .create_stream(stream::Config {
            name: "JOBS".into(),
            subjects: vec!["jobs.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    for i in 0..MSGS {
        js.publish(format!("jobs.{}", i % 3), format!("job {i}").into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let workers = s
        .create_consumer(consumer::pull::Config {
            durable_name: Some("workers".into()),
            ack_policy: consumer::AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut batch = workers
        .fetch()
        .max_messages(FETCH)
        .messages()
        .await
        .unwrap();
    let mut seen = Vec::new();
    while let Some(m) = batch.next().await {
        let m = m.unwrap();
        let info = m.info().unwrap();
        seen.push(info.stream_sequence);
        assert_eq!(m.payload, format!("job {}", info.stream_sequence - 1));
        assert_eq!(
            m.subject.as_str(),
            format!("jobs.{}", (info.stream_sequence - 1) % 3)
        );
        m.double_ack().await.unwrap();
    }
    assert_eq!(seen, (1..=FETCH as u64).collect::<Vec<_>>());

    let mut all = workers.messages().await.unwrap();
    let mut nacked = false;
    while let Some(m) = all.next().await {
        let m = m.unwrap();
        let info = m.info().unwrap();
        if info.stream_sequence == 120 && !nacked {
            nacked = true;
            m.ack_with(AckKind::Nak(None)).await.unwrap();
            continue;
        }
        if info.stream_sequence == 120 {
            assert_eq!(info.delivered, 2);
        }
        seen.push(info.stream_sequence);
        m.ack().await.unwrap();
        if seen.len() as u64 == MSGS {
            break;
        }
    }
    drop(all);
    seen.sort_unstable();
    assert_eq!(seen, (1..=MSGS).collect::<Vec<_>>());
    let mut workers = workers;
    let info = workers.info().await.unwrap().clone();
    assert_eq!(info.num_pending, 0);
    assert_eq!(info.delivered.stream_sequence, MSGS);
    let empty = workers
        .fetch()
        .max_messages(10)
        .expires(Duration::from_millis(200))
        .messages()
        .await
        .unwrap();
    assert_eq!(empty.count().await, 0);

    let ordered = s
        .create_consumer(consumer::pull::OrderedConfig {
            filter_subject: "jobs.1".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut ordered = ordered.messages().await.unwrap();
    let mut got = Vec::new();
    while got.len() < (MSGS / 3) as usize {
        let m = ordered.next().await.unwrap().unwrap();
        got.push(m.info().unwrap().stream_sequence);
    }
    assert_eq!(
        got,
        (0..MSGS)
            .filter(|i| i % 3 == 1)
            .map(|i| i + 1)
            .collect::<Vec<_>>()
    );
}

/// async-nats push consumers and key-value buckets as applications use them: an ordered
/// push consumer reads 4 MiB (so flow control comes into play) in order; a bucket takes
/// puts, gets, an optimistic update (and refuses a stale one), a delete, history, keys
/// and a watcher that sees later changes.
#[tokio::test]
async fn async_nats_push_consumers_and_key_value() {
    let dir = scratch_dir("js-async-nats-push");
    let server = common::start_with(js_config(&dir));
    let flow = push_and_kv_flow(server.addr);
    tokio::time::timeout(Duration::from_secs(60), flow)
        .await
        .expect("the push and KV flow finishes");
    server.shutdown();
}

async fn push_and_kv_flow(addr: SocketAddr) {
    use async_nats::jetstream::{self, consumer, kv, stream};
    use futures::StreamExt;
    /// 512 x 8 KiB: four times Go's first flow-control window.
    const MSGS: u64 = 512;
    const SIZE: usize = 8 * 1024;
    let client = async_nats::connect(addr.to_string()).await.unwrap();
    let js = jetstream::new(client.clone());
    let s = js
        .create_stream(stream::Config {
            name: "FEED".into(),
            subjects: vec!["feed".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    for i in 0..MSGS {
        let mut body = vec![b'.'; SIZE];
        body[..8].copy_from_slice(&i.to_be_bytes());
        js.publish("feed", body.into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let ordered = s
        .create_consumer(consumer::push::OrderedConfig {
            deliver_subject: client.new_inbox(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut msgs = ordered.messages().await.unwrap();
    for i in 0..MSGS {
        let m = msgs.next().await.unwrap().unwrap();
        assert_eq!(m.payload.len(), SIZE);
        assert_eq!(u64::from_be_bytes(m.payload[..8].try_into().unwrap()), i);
    }
    drop(msgs);
    let kv = js
        .create_key_value(kv::Config {
            bucket: "settings".into(),
            history: 5,
            ..Default::default()
        })
        .await
        .unwrap();
    let r1 = kv.put("color", "red".into()).await.unwrap();
    kv.put("size", "L".into()).await.unwrap();
    assert_eq!(kv.get("color").await.unwrap().unwrap(), "red");
    let r2 = kv.update("color", "blue".into(), r1).await.unwrap();
    assert!(kv.update("color", "green".into(), r1).await.is_err());
    let mut watch = kv.watch_with_history("color").await.unwrap();
    let current = watch.next().await.unwrap().unwrap();
    assert_eq!(
        (current.value.as_ref(), current.revision),
        (&b"blue"[..], r2)
    );
    kv.put("color", "green".into()).await.unwrap();
    let changed = watch.next().await.unwrap().unwrap();
    assert_eq!(changed.value, "green");
    kv.delete("size").await.unwrap();
    assert_eq!(kv.get("size").await.unwrap(), None);
    let history: Vec<_> = kv
        .history("color")
        .await
        .unwrap()
        .map(|e| e.unwrap().value)
        .collect()
        .await;
    assert_eq!(history, ["red", "blue", "green"]);
    let keys: Vec<String> = kv.keys().await.unwrap().map(|k| k.unwrap()).collect().await;
    assert_eq!(keys, ["color"]);
    // A bucket mirroring this one, as the client configures it (`KV_` name, mirror_direct).
    js.create_key_value(kv::Config {
        bucket: "replica".into(),
        mirror: Some(stream::Source {
            name: "settings".into(),
            ..Default::default()
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    let origin = js
        .get_stream("KV_settings")
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .state
        .clone();
    let mut replica = js.get_stream("KV_replica").await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let copy = replica.info().await.unwrap().state.clone();
        // The replica keeps its own history (1): the last message of each key, at the
        // origin's sequences.
        if copy.last_sequence == origin.last_sequence {
            assert_eq!((copy.messages, copy.first_sequence), (2, 4), "{copy:?}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the mirror did not copy: {copy:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn async_nats_manages_streams_and_publishes() {
    use async_nats::jetstream::{self, stream};
    let dir = scratch_dir("js-async-nats");
    let server = common::start_with(js_config(&dir));
    let client = async_nats::connect(server.addr.to_string()).await.unwrap();
    let js = jetstream::new(client);
    let mut s = js
        .create_stream(stream::Config {
            name: "EVENTS".into(),
            subjects: vec!["events.>".into()],
            max_messages_per_subject: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    for i in 0..20u64 {
        let ack = js
            .publish(format!("events.{}", i % 2), format!("e{i}").into())
            .await
            .unwrap()
            .await
            .unwrap();
        assert_eq!((ack.stream.as_str(), ack.sequence), ("EVENTS", i + 1));
    }
    let info = s.info().await.unwrap();
    assert_eq!(info.state.messages, 20);
    let m = s.get_raw_message(3).await.unwrap();
    assert_eq!(
        (m.subject.as_str(), &m.payload[..]),
        ("events.0", &b"e2"[..])
    );
    assert!(s.delete_message(3).await.unwrap());
    let last = s.get_last_raw_message_by_subject("events.1").await.unwrap();
    assert_eq!(last.sequence, 20);
    s.purge().filter("events.0").await.unwrap();
    assert_eq!(s.info().await.unwrap().state.messages, 10);
    let mut names = js.stream_names();
    use futures::StreamExt;
    assert_eq!(names.next().await.unwrap().unwrap(), "EVENTS");
    assert!(js.delete_stream("EVENTS").await.unwrap().success);
    let gone = tokio::time::timeout(Duration::from_secs(5), js.get_stream("EVENTS")).await;
    assert!(gone.unwrap().is_err());
    server.shutdown();
}

#[tokio::test]
async fn async_nats_object_store_puts_gets_links_and_watches() {
    // The same flow holds against the Go server: the assertions are its behaviour.
    if let Some((go, riptide)) = go_and_riptide("js-async-nats-obj") {
        for addr in [go.addr, riptide.addr] {
            tokio::time::timeout(Duration::from_secs(60), object_store_flow(addr))
                .await
                .expect("the object store flow finishes");
        }
        riptide.shutdown();
    }
}

async fn object_store_flow(addr: SocketAddr) {
    use async_nats::jetstream::{self, object_store};
    use futures::StreamExt;
    use tokio::io::AsyncReadExt;
    /// Several of the client's 128 KiB chunks and a partial last one.
    const BIG: usize = 300 * 1024 + 17;
    let client = async_nats::connect(addr.to_string()).await.unwrap();
    let js = jetstream::new(client);
    let mut bucket = js
        .create_object_store(object_store::Config {
            bucket: "files".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut watch = bucket.watch().await.unwrap();
    let big: Vec<u8> = (0..BIG).map(|i| (i * 7 % 251) as u8).collect();
    let info = bucket.put("big.bin", &mut big.as_slice()).await.unwrap();
    assert_eq!((info.size, info.chunks), (BIG, 3));
    let seen = watch.next().await.unwrap().unwrap();
    assert_eq!(seen.name, "big.bin");
    let mut read = Vec::new();
    let mut object = bucket.get("big.bin").await.unwrap();
    object.read_to_end(&mut read).await.unwrap();
    assert!(read == big, "the object reads back as written");
    bucket.put("small.txt", &mut &b"first"[..]).await.unwrap();
    bucket
        .put("small.txt", &mut &b"second version"[..])
        .await
        .unwrap();
    let mut read = Vec::new();
    let mut object = bucket.get("small.txt").await.unwrap();
    object.read_to_end(&mut read).await.unwrap();
    assert_eq!(read, b"second version");
    let target = bucket.get("small.txt").await.unwrap();
    bucket.add_link("alias", &target).await.unwrap();
    let mut read = Vec::new();
    bucket
        .get("alias")
        .await
        .unwrap()
        .read_to_end(&mut read)
        .await
        .unwrap();
    assert_eq!(read, b"second version");
    bucket.delete("big.bin").await.unwrap();
    assert!(bucket.get("big.bin").await.is_err());
    let mut names: Vec<String> = bucket
        .list()
        .await
        .unwrap()
        .map(|i| i.unwrap().name)
        .collect()
        .await;
    names.sort();
    assert_eq!(names, ["alias", "small.txt"]);
    bucket.seal().await.unwrap();
    assert!(bucket.put("late", &mut &b"x"[..]).await.is_err());
}

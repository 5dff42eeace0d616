//! The system account over real sockets: connection events, auth-error advisories and the
//! `$SYS.REQ` services, for a system user and through the imports every account has,
//! compared with what nats-server 2.15.1 sends for the same configuration and bytes
//! (values that differ by nature, such as ids, times and ports, masked).

use crate::common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::go::{go_server, Go};
use common::Raw;
use serde_json::Value;

const SHARDS: usize = 2;

const CONF: &str = r#"
server_name: n1
accounts {
  SYS { users: [{user: sys, password: sys}] }
  A {
    users: [{user: a, password: a,
             permissions: {publish: ["foo", "$SYS.>", "_INBOX.>"], subscribe: {deny: ["bar"]}}}]
  }
}
system_account: SYS
"#;

/// How long a test waits for the events and answers it expects.
const WAIT: Duration = Duration::from_secs(10);

/// Keys whose values differ between any two runs or servers by nature.
const VOLATILE: &[&str] = &[
    "id",
    "timestamp",
    "time",
    "seq",
    "start",
    "stop",
    "rtt",
    "now",
    "server_id",
    "mem",
    "cpu",
    "cores",
    "gomaxprocs",
    "port",
    "cid",
    "last_activity",
    "uptime",
    "idle",
    "config_load_time",
    "update_time",
    "git_commit",
    "go",
    // Message counts depend on how far each server got with the requester's own publishes
    // when it answered.
    "msgs",
    "bytes",
    "in_msgs",
    "in_bytes",
    "out_msgs",
    "out_bytes",
    "pending_bytes",
    // Go counts its internal subscriptions (the system services and every account's
    // imports); Riptide has none.
    "subscriptions",
    "num_subscriptions",
];

/// Masks the volatile values, drops Go's JetStream `feature_flags` and its per-account
/// `sublist_stats` (Riptide has no per-account sublist counters), and sorts the lists Go
/// builds from maps in random order (`imports`, `exports`, permission lists).
fn normalize(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.remove("feature_flags");
            m.remove("sublist_stats");
            for (k, x) in m.iter_mut() {
                if VOLATILE.contains(&k.as_str()) {
                    *x = Value::String("*".into());
                } else {
                    normalize(x);
                }
                if let ("imports" | "exports" | "allow" | "deny", Value::Array(a)) = (k.as_str(), x)
                {
                    a.sort_by_key(|e| e.to_string());
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(normalize),
        _ => {}
    }
}

/// Logs in as `user` (password = name) with headers, no +OK; reads the INFO that follows.
fn log_in(addr: SocketAddr, user: &str) -> Raw {
    let mut c = Raw::logged_in(
        addr,
        &format!(
            "\"protocol\":1,\"headers\":true,\"no_responders\":true,{},\"name\":\"cli-{user}\",\"lang\":\"rust\",\"version\":\"1.0\"",
            common::user(user)
        ),
    );
    // Both servers follow a login into an account with an INFO naming it.
    assert!(c.line().starts_with("INFO {"));
    c
}

/// One delivered message: subject, reply-or-sid-free payload.
fn next_msg(c: &mut Raw) -> (String, Vec<u8>) {
    let line = c.line();
    let parts: Vec<&str> = line.trim_end().split(' ').collect();
    match parts[..] {
        ["MSG", subject, _sid, len] | ["MSG", subject, _sid, _, len] => {
            let len: usize = len.parse().unwrap();
            let mut data = c.read_n(len + 2);
            data.truncate(len);
            (subject.to_string(), data)
        }
        ["HMSG", subject, _sid, _hlen, len] => {
            let len: usize = len.parse().unwrap();
            let mut data = c.read_n(len + 2);
            data.truncate(len);
            (subject.to_string(), data)
        }
        _ => panic!("unexpected {line:?}"),
    }
}

/// Reads `n` messages (bounded by the socket timeout), sorted by subject then payload, the
/// JSON ones normalized.
fn collect(c: &mut Raw, n: usize) -> Vec<(String, Value)> {
    let deadline = Instant::now() + WAIT;
    let mut out = Vec::new();
    while out.len() < n {
        assert!(Instant::now() < deadline, "only {out:?}");
        let (subject, data) = next_msg(c);
        let mut v = serde_json::from_slice(&data)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&data).into_owned()));
        normalize(&mut v);
        out.push((subject, v));
    }
    out.sort_by(|a, b| (&a.0, a.1.to_string()).cmp(&(&b.0, b.1.to_string())));
    out
}

/// A system user watches a client of A connect and leave, and a refused login; returns
/// the events of each phase.
fn events(addr: SocketAddr) -> Vec<Vec<(String, Value)>> {
    let mut sys = log_in(addr, "sys");
    // Not `$SYS.ACCOUNT.>`: the system user's own login is counted in its account too, at
    // a time that differs between the servers.
    sys.send(b"SUB $SYS.ACCOUNT.A.> 1\r\nSUB $SYS.ACCOUNT.$G.> 2\r\nSUB $SYS.SERVER.ACCOUNT.A.CONNS 3\r\nSUB $SYS.SERVER.*.CLIENT.AUTH.ERR 4\r\n");
    assert_eq!(sys.sync(), b"");
    let a = log_in(addr, "a");
    // CONNECT, and the account's connection count on Go's two subjects.
    let connected = collect(&mut sys, 3);
    drop(a);
    let left = collect(&mut sys, 3);
    let mut bad = Raw::connect(addr);
    bad.send(b"CONNECT {\"user\":\"a\",\"pass\":\"wrong\",\"verbose\":false}\r\n");
    assert_eq!(bad.line(), "-ERR 'Authorization Violation'\r\n");
    // The advisory, and the refused client leaving the global account.
    let refused = collect(&mut sys, 2);
    vec![connected, left, refused]
}

#[test]
fn connection_events_match_go() {
    let rt = start();
    let ours = events(rt.addr);
    let (connected, left, refused) = (&ours[0], &ours[1], &ours[2]);
    let subjects = |e: &[(String, Value)]| e.iter().map(|(s, _)| s.clone()).collect::<Vec<_>>();
    assert_eq!(
        subjects(connected),
        [
            "$SYS.ACCOUNT.A.CONNECT",
            "$SYS.ACCOUNT.A.SERVER.CONNS",
            "$SYS.SERVER.ACCOUNT.A.CONNS"
        ]
    );
    let connect = &connected[0].1;
    assert_eq!(connect["type"], "io.nats.server.advisory.v1.client_connect");
    assert_eq!(connect["client"]["user"], "a");
    assert_eq!(connect["client"]["name"], "cli-a");
    assert_eq!(connect["client"]["acc"], "A");
    assert_eq!(connected[1].1["conns"], 1);
    let disconnect = &left[0].1;
    assert_eq!(left[0].0, "$SYS.ACCOUNT.A.DISCONNECT");
    assert_eq!(disconnect["reason"], "Client Closed");
    assert_eq!(left[1].1["conns"], 0);
    assert_eq!(refused[0].0, "$SYS.ACCOUNT.$G.DISCONNECT");
    assert!(refused[1].0.ends_with(".CLIENT.AUTH.ERR"), "{refused:?}");
    assert_eq!(refused[1].1["reason"], "Authentication Failure");
    assert_eq!(refused[1].1["client"]["user"], "a");

    let Some(bin) = go_server() else { return };
    let go = start_go(&bin);
    let theirs = events(go.addr);
    assert_eq!(mask_server_id(ours), mask_server_id(theirs));
}

/// Requests a system user and a user of A make, with their answers (`_INBOX.<n>` replies
/// keep them apart).
fn requests(addr: SocketAddr) -> BTreeMap<String, (String, Value)> {
    let mut sys = log_in(addr, "sys");
    let mut a = log_in(addr, "a");
    let pubs = |c: &mut Raw, reqs: &[(&str, &str, &str)]| {
        let mut bytes = b"SUB _INBOX.> 1\r\n".to_vec();
        for (subject, reply, body) in reqs {
            bytes.extend(format!("PUB {subject} {reply} {}\r\n{body}\r\n", body.len()).as_bytes());
        }
        c.send(&bytes);
    };
    let sys_reqs = [
        ("$SYS.REQ.SERVER.PING.IDZ", "_INBOX.idz", ""),
        ("$SYS.REQ.SERVER.PING", "_INBOX.statsz", ""),
        ("$SYS.REQ.SERVER.PING.VARZ", "_INBOX.varz", ""),
        ("$SYS.REQ.SERVER.PING.HEALTHZ", "_INBOX.healthz", ""),
        (
            "$SYS.REQ.SERVER.PING.CONNZ",
            "_INBOX.badstate",
            r#"{"state":"x"}"#,
        ),
        (
            "$SYS.REQ.SERVER.PING.CONNZ",
            "_INBOX.badsort",
            r#"{"sort":"bogus"}"#,
        ),
        (
            "$SYS.REQ.SERVER.PING.CONNZ",
            "_INBOX.elsewhere",
            r#"{"server_name":"n2"}"#,
        ),
        (
            "$SYS.REQ.SERVER.PING.ACCOUNTZ",
            "_INBOX.accountz",
            r#"{"account":"A"}"#,
        ),
        ("$SYS.REQ.ACCOUNT.A.CONNZ", "_INBOX.aconnz", ""),
        ("$SYS.REQ.ACCOUNT.A.CONNS", "_INBOX.aconns", ""),
        ("$SYS.REQ.ACCOUNT.NOPE.STATZ", "_INBOX.nostatz", ""),
        ("$SYS.REQ.USER.INFO", "_INBOX.sysuser", ""),
    ];
    pubs(&mut sys, &sys_reqs);
    let a_reqs = [
        ("$SYS.REQ.USER.INFO", "_INBOX.auser", ""),
        ("$SYS.REQ.SERVER.PING.CONNZ", "_INBOX.aown", ""),
        ("$SYS.REQ.ACCOUNT.PING.STATZ", "_INBOX.astatz", ""),
        ("$SYS.REQ.SERVER.PING.VARZ", "_INBOX.avarz", ""),
    ];
    pubs(&mut a, &a_reqs);
    let mut answers = BTreeMap::new();
    // Requests filtered away, or about an unused account, get no answer.
    for (c, n) in [(&mut sys, sys_reqs.len() - 2), (&mut a, a_reqs.len())] {
        for (subject, v) in collect(c, n) {
            answers.insert(subject.clone(), (subject, v));
        }
    }
    answers
}

#[test]
fn services_match_go() {
    let rt = start();
    let ours = requests(rt.addr);
    let get = |k: &str| {
        &ours
            .get(k)
            .unwrap_or_else(|| panic!("no {k} in {ours:?}"))
            .1
    };
    assert_eq!(get("_INBOX.idz")["name"], "n1");
    assert!(get("_INBOX.statsz")["statsz"]["connections"].as_u64() >= Some(2));
    assert_eq!(get("_INBOX.varz")["data"]["system_account"], "SYS");
    assert_eq!(get("_INBOX.healthz")["data"]["status"], "ok");
    assert_eq!(
        get("_INBOX.badstate")["error"]["description"],
        "json: cannot unmarshal string into Go struct field ConnzEventOptions.state of type server.ConnState"
    );
    assert_eq!(get("_INBOX.badsort")["error"]["code"], 500);
    assert_eq!(get("_INBOX.aconnz")["data"]["num_connections"], 1);
    assert_eq!(get("_INBOX.aconns")["conns"], 1);
    assert_eq!(
        get("_INBOX.auser")["data"],
        serde_json::json!({"user": "a", "account": "A", "account_name": "A",
            "permissions": {"publish": {"allow": ["$SYS.>", "_INBOX.>", "foo"]},
                            "subscribe": {"deny": ["bar"]}}})
    );
    assert_eq!(get("_INBOX.aown")["data"]["num_connections"], 1);
    assert_eq!(get("_INBOX.astatz")["data"]["account_statz"][0]["acc"], "A");
    // VARZ is not among the services every account imports: no responders.
    assert!(get("_INBOX.avarz")
        .as_str()
        .is_some_and(|h| h.starts_with("NATS/1.0 503")));
    assert!(!ours.contains_key("_INBOX.elsewhere") && !ours.contains_key("_INBOX.nostatz"));

    let Some(bin) = go_server() else { return };
    let go = start_go(&bin);
    let theirs = requests(go.addr);
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>()
    );
    for (k, (_, v)) in &ours {
        let (_, g) = &theirs[k];
        match k.as_str() {
            // Server-wide counters and settings: every field Go sends (Riptide adds its own
            // `shards` and version to VARZ).
            "_INBOX.statsz" | "_INBOX.varz" => covers(&shape(v), &shape(g), k),
            _ => assert_eq!(v, g, "{k}"),
        }
    }
}

/// The keys of a JSON document, nested, without values.
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, x)| (k.clone(), shape(x))).collect()),
        Value::Array(a) => Value::Array(a.first().map(shape).into_iter().collect()),
        _ => Value::Null,
    }
}

/// Every key of `theirs` is in `ours`, at any depth.
fn covers(ours: &Value, theirs: &Value, at: &str) {
    if let (Value::Object(o), Value::Object(t)) = (ours, theirs) {
        for (k, x) in t {
            let path = format!("{at}.{k}");
            let mine = o.get(k).unwrap_or_else(|| panic!("missing {path}"));
            covers(mine, x, &path);
        }
    }
}

/// Server ids appear in subjects (`$SYS.SERVER.<id>.…`): masked for the comparison.
fn mask_server_id(phases: Vec<Vec<(String, Value)>>) -> Vec<Vec<(String, Value)>> {
    phases
        .into_iter()
        .map(|p| {
            p.into_iter()
                .map(|(s, v)| {
                    let t: Vec<&str> = s.split('.').collect();
                    let s = match t[..] {
                        ["$SYS", "SERVER", id, "CLIENT", ..] if id.len() == 56 => {
                            s.replace(id, "ID")
                        }
                        _ => s,
                    };
                    (s, v)
                })
                .collect()
        })
        .collect()
}

fn start() -> riptide::runtime::Running {
    common::start_conf(SHARDS, CONF)
}

fn start_go(bin: &std::path::Path) -> Go {
    let dir = common::process::scratch_dir("system-go");
    Go::start(bin, &common::process::write_file(&dir, "sys.conf", CONF))
}

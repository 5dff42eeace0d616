//! The monitoring port over real sockets: values after a known traffic pattern, the Go
//! server's error answers, paging, closed connections, base path and `/metrics`.

use crate::common;

use std::net::TcpStream;

use common::http::{get, monitored, request, wait_for};
use common::{one_per_shard, Raw};
use serde_json::Value;

#[test]
fn counts_after_known_traffic_across_shards() {
    let (running, http) = monitored(2, "");
    let mut c = one_per_shard(running.addr, 2);
    let (sub_cid, pub_cid) = (c[0].cid(), c[1].cid());
    c[0].send(b"CONNECT {\"verbose\":false,\"name\":\"sub\",\"lang\":\"raw\",\"version\":\"1\"}\r\nSUB orders.* 1\r\nSUB orders.new workers 2\r\n");
    c[0].sync();
    c[1].send(b"CONNECT {\"verbose\":false,\"name\":\"pub\"}\r\n");
    const N: usize = 50;
    for i in 0..N {
        c[1].send(format!("PUB orders.new 4\r\nm{i:03}\r\n").as_bytes());
    }
    c[1].sync();
    // Each message goes to both subscriptions of the one subscriber.
    let mut got = 0;
    while got < 2 * N {
        let l = c[0].line();
        assert!(l.starts_with("MSG orders.new "), "{l}");
        c[0].line();
        got += 1;
    }

    let v = get(http, "/varz").json();
    assert_eq!(v["in_msgs"], N);
    assert_eq!(v["in_bytes"], 4 * N);
    assert_eq!(v["out_msgs"], 2 * N);
    assert_eq!(v["out_bytes"], 8 * N);
    assert_eq!(v["in_client_msgs"], v["in_msgs"]);
    assert_eq!(v["subscriptions"], 2);
    assert_eq!(v["port"], running.addr.port());
    assert_eq!(v["http_port"], http.port());
    assert_eq!(v["max_payload"], 1024 * 1024);
    assert_eq!(v["ping_interval"], 120_000_000_000u64);
    assert_eq!(v["slow_consumers"], 0);
    assert!(v["start"].as_str().unwrap().ends_with('Z'));
    // Go 2.15.1's feature flags, as a server without them set reports them.
    assert_eq!(
        v["feature_flags"],
        serde_json::json!({
            "js_ack_fc_v2": false,
            "js_api_reply_v2": false,
            "js_raft_delete_range": true,
            "js_snapshot_sources": false,
        })
    );

    let z = get(http, "/connz?subs=1&sort=msgs_from").json();
    let conns = z["connections"].as_array().unwrap();
    let find = |cid: u64| {
        conns
            .iter()
            .find(|c| c["cid"] == cid)
            .unwrap_or_else(|| panic!("cid {cid} in {z}"))
    };
    assert_eq!(
        conns[0]["cid"], pub_cid,
        "the publisher sorts first by msgs_from"
    );
    let (s, p) = (find(sub_cid), find(pub_cid));
    assert_eq!(s["name"], "sub");
    assert_eq!(s["lang"], "raw");
    assert_eq!(s["subscriptions"], 2);
    assert_eq!(s["out_msgs"], 2 * N);
    assert_eq!(s["in_msgs"], 0);
    let mut list: Vec<&str> = s["subscriptions_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    list.sort();
    assert_eq!(list, ["orders.*", "orders.new"]);
    assert_eq!(p["in_msgs"], N);
    assert_eq!(p["in_bytes"], 4 * N);
    assert_eq!(p["out_msgs"], 0);
    assert_eq!(p["kind"], "Client");
    assert_eq!(p["type"], "nats");
    assert_eq!(p["ip"], "127.0.0.1");
    assert!(p.get("subscriptions_list").is_none(), "none for no subs");
    assert!(s["rtt"].as_str().is_some(), "RTT from INFO to CONNECT");

    let one = get(http, &format!("/connz?cid={sub_cid}&subs=detail")).json();
    assert_eq!(one["num_connections"], 1);
    let detail = &one["connections"][0]["subscriptions_list_detail"];
    let q = detail
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["sid"] == "2")
        .unwrap();
    assert_eq!(q["subject"], "orders.new");
    assert_eq!(q["qgroup"], "workers");
    assert_eq!(q["msgs"], N);
    assert_eq!(q["cid"], sub_cid);

    let subs = get(http, "/subsz?subs=1&test=orders.new").json();
    assert_eq!(subs["num_subscriptions"], 2);
    assert_eq!(subs["total"], 2);
    assert_eq!(subs["num_inserts"], 2);
    assert!(subs["num_matches"].as_u64().unwrap() >= N as u64);
    assert_eq!(subs["subscriptions_list"][0]["account"], "$G");
    let none = get(http, "/subsz?subs=1&test=orders").json();
    assert_eq!(none["total"], 0);
    assert!(none["subscriptions_list"].as_array().unwrap().is_empty());

    let shards = get(http, "/shardz").json();
    let per: Vec<&Value> = shards["shards"].as_array().unwrap().iter().collect();
    assert_eq!(per.len(), 2);
    let sub_shard = c[0].shard(2);
    assert_eq!(per[sub_shard]["out_msgs"], 2 * N);
    assert_eq!(per[1 - sub_shard]["in_msgs"], N);
    assert_eq!(
        per[1 - sub_shard]["cross_shard_sent"],
        N,
        "once per interested shard"
    );
    assert_eq!(per[sub_shard]["cross_shard_received"], N);
    assert!(per[0]["reactor_turns"].as_u64().unwrap() > 0);

    let acc = get(http, "/accstatz").json();
    assert_eq!(acc["account_statz"][0]["received"]["msgs"], N);
    assert_eq!(acc["account_statz"][0]["sent"]["msgs"], 2 * N);
}

#[test]
fn closed_connections_paging_and_sorting() {
    let (running, http) = monitored(1, "");
    let mut clients: Vec<Raw> = (0..5).map(|_| Raw::connect(running.addr)).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        c.send(format!("CONNECT {{\"verbose\":false,\"name\":\"c{i}\"}}\r\n").as_bytes());
        for _ in 0..i {
            c.send(b"PUB x 1\r\na\r\n");
        }
        c.sync();
    }
    let v = get(http, "/connz?limit=2&offset=1").json();
    assert_eq!(v["total"], 5);
    assert_eq!(v["num_connections"], 2);
    assert_eq!(v["limit"], 2);
    assert_eq!(v["offset"], 1);
    let cids: Vec<u64> = v["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cid"].as_u64().unwrap())
        .collect();
    assert_eq!(cids, [2, 3], "sorted by cid by default");
    let by_msgs = get(http, "/connz?sort=msgs_from&limit=1").json();
    assert_eq!(by_msgs["connections"][0]["name"], "c4");

    let gone = clients.remove(2);
    let gone_cid = gone.cid();
    drop(gone);
    let closed = wait_for(http, "/connz?state=closed", |v| v["total"] == 1);
    let c = &closed["connections"][0];
    assert_eq!(c["cid"], gone_cid);
    assert_eq!(c["reason"], "Client Closed");
    assert_eq!(c["in_msgs"], 2);
    assert!(c["stop"].as_str().is_some());
    let any = get(http, "/connz?state=any").json();
    assert_eq!(any["total"], 5);
    let open = get(http, "/connz").json();
    assert_eq!(open["total"], 4);
    let v = get(http, "/varz").json();
    assert_eq!(v["connections"], 4);
    assert_eq!(v["total_connections"], 5);
    let by_reason = get(http, "/connz?state=closed&sort=reason").json();
    assert_eq!(by_reason["total"], 1);
}

#[test]
fn bad_parameters_get_the_go_servers_answers() {
    let (_running, http) = monitored(1, "");
    let cases = [
        ("/connz?sort=bogus", "invalid sorting option: bogus"),
        (
            "/connz?sort=stop",
            "sort by stop only valid on closed connections",
        ),
        (
            "/connz?limit=abc",
            "Error decoding int for 'limit': strconv.Atoi: parsing \"abc\": invalid syntax",
        ),
        ("/connz?state=bogus", "Error decoding state for bogus"),
        (
            "/connz?subs=abc",
            "Error decoding boolean for 'subs': strconv.ParseBool: parsing \"abc\": invalid syntax",
        ),
        (
            "/connz?cid=abc",
            "Error decoding uint64 for 'cid': strconv.ParseUint: parsing \"abc\": invalid syntax",
        ),
        (
            "/subsz?test=foo.*",
            "invalid test subject, must be valid publish subject: foo.*",
        ),
    ];
    for (path, want) in cases {
        let r = get(http, path);
        assert_eq!(r.status, 400, "{path}");
        assert_eq!(r.text(), want, "{path}");
    }
    let r = get(http, "/nope");
    assert_eq!((r.status, r.text().as_str()), (404, "404 page not found\n"));
    let r = get(http, "/healthz?js-enabled-only=true");
    assert_eq!(r.text(), r#"{"status":"ok"}"#);
    assert!(r.headers.contains("Access-Control-Allow-Origin: *"));
    assert!(r.headers.contains("Content-Type: application/json"));
    let head = request(http, "HEAD", "/varz");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    for path in ["/routez", "/gatewayz", "/leafz", "/jsz", "/accountz"] {
        get(http, path).json();
    }
    assert_eq!(get(http, "/jsz").json()["disabled"], true);
    let index = get(http, "/");
    assert!(index.headers.contains("text/html"));
    assert!(index.text().contains("href=./varz"));
    let dash = get(http, "/dashboard");
    assert!(dash.text().contains("fetch(\"./varz\""));
    assert!(!dash.text().contains("http://") && !dash.text().contains("https://"));
    let v = get(http, "/varz").json();
    assert_eq!(v["http_req_stats"]["/connz"], 6);
}

#[test]
fn base_path_prefixes_every_endpoint() {
    let (_running, http) = monitored(1, "/mon");
    assert_eq!(get(http, "/mon/varz").json()["http_base_path"], "/mon");
    assert_eq!(get(http, "/mon").status, 200);
    assert_eq!(get(http, "/mon/").status, 404);
    assert_eq!(get(http, "/varz").status, 404);
}

#[test]
fn metrics_expose_server_and_shard_figures() {
    let (running, http) = monitored(2, "");
    let mut c = Raw::connect(running.addr);
    c.send(b"CONNECT {\"verbose\":false}\r\nSUB a 1\r\nPUB a 2\r\nhi\r\n");
    c.sync();
    let r = get(http, "/metrics");
    assert!(r
        .headers
        .contains("Content-Type: text/plain; version=0.0.4"));
    let text = r.text();
    let value = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{name} in {text}"))
    };
    assert_eq!(value("gnatsd_varz_in_msgs"), 1.0);
    assert_eq!(value("gnatsd_varz_out_msgs"), 1.0);
    assert_eq!(value("gnatsd_varz_subscriptions"), 1.0);
    assert_eq!(value("riptide_shards"), 2.0);
    let shard = c.shard(2);
    assert_eq!(
        value(&format!("riptide_shard_in_msgs_total{{shard=\"{shard}\"}}")),
        1.0
    );
    // Every sample belongs to a family announced by HELP and TYPE.
    let mut families = std::collections::HashSet::new();
    for l in text.lines() {
        if let Some(rest) = l.strip_prefix("# TYPE ") {
            families.insert(rest.split(' ').next().unwrap().to_string());
        } else if !l.starts_with('#') {
            let name = l.split(['{', ' ']).next().unwrap();
            assert!(families.contains(name), "{l}");
            let v = l.rsplit(' ').next().unwrap();
            assert!(v.parse::<f64>().is_ok(), "{l}");
        }
    }
}

#[test]
fn monitor_port_closes_with_the_server() {
    let (running, http) = monitored(1, "");
    get(http, "/healthz").json();
    running.shutdown();
    assert!(TcpStream::connect(http).is_err(), "monitor still listening");
}

/// Accounts as nats-server 2.15.1 shows them for the same configuration with `no_sys_acc`
/// (the system account's exports and imports are compared in `tests/system.rs`): `/connz` with `auth` names each client's account
/// (`account` only outside `$G`) and filters by `acc`, `/subsz` too, `/accountz` lists the
/// accounts and their exports and imports.
#[test]
fn accounts_in_the_monitoring_endpoints() {
    let mut cfg = common::configured(
        2,
        "accounts {\n  A: {\n    users: [{user: a, password: a}]\n    exports: [{service: \"req.>\"}, {stream: \"priv.>\", accounts: [B]}]\n  }\n  B: {\n    users: [{user: b, password: b}]\n    imports: [{stream: {account: A, subject: \"priv.>\"}, prefix: \"fromA\"}, {service: {account: A, subject: \"req.x\"}, to: \"ask\"}]\n  }\n}\nauthorization { users: [{user: g, password: g}] }\nno_sys_acc: true\n",
    );
    cfg.http_port = Some(0);
    let running = common::start_with(cfg);
    let http = running.monitor.as_ref().unwrap().addr;
    let mut cs = Vec::new();
    for (user, subject) in [("a", "a.1"), ("b", "b.1"), ("g", "g.1")] {
        let mut c = Raw::logged_in(running.addr, &common::user(user));
        c.send(format!("SUB {subject} 1\r\n").as_bytes());
        assert_eq!(c.sync(), b"");
        cs.push(c);
    }
    let z = get(http, "/connz?auth=1&subs=detail").json();
    let mut seen: Vec<(String, Value, Value)> = z["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["authorized_user"].as_str().unwrap().to_string(),
                c["account"].clone(),
                c["name_tag"].clone(),
            )
        })
        .collect();
    seen.sort_by(|x, y| x.0.cmp(&y.0));
    let s = |v: &str| Value::String(v.into());
    assert_eq!(
        seen,
        [
            ("a".into(), s("A"), s("A")),
            ("b".into(), s("B"), s("B")),
            ("g".into(), Value::Null, s("$G")),
        ]
    );
    let only_b = get(http, "/connz?acc=B&subs=1").json();
    assert_eq!(only_b["total"], 1);
    assert_eq!(only_b["connections"][0]["subscriptions_list"][0], "b.1");
    let subs = get(http, "/subsz?subs=1&acc=A").json();
    assert_eq!(subs["total"], 1);
    let detail = &subs["subscriptions_list"][0];
    assert_eq!(
        (
            &detail["subject"],
            &detail["account"],
            &detail["account_tag"]
        ),
        (&s("a.1"), &s("A"), &s("A"))
    );
    let mut names: Vec<String> = get(http, "/accountz").json()["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["$G", "A", "B"]);
    let a = get(http, "/accountz?acc=A").json();
    let d = &a["account_detail"];
    assert_eq!(d["account_name"], "A");
    assert_eq!(
        (d["client_connections"].clone(), d["subscriptions"].clone()),
        (1.into(), 1.into())
    );
    assert_eq!(
        d["exports"],
        serde_json::json!([
            {"subject": "req.>", "type": "service", "response_type": "Singleton"},
            {"subject": "priv.>", "type": "stream", "approved_accounts": ["B"]},
        ])
    );
    assert!(d.get("is_system").is_none());
    let b = get(http, "/accountz?acc=B").json();
    assert_eq!(
        b["account_detail"]["imports"],
        serde_json::json!([
            {"subject": "priv.>", "account": "A", "local_subject": "fromA.priv.>", "type": "stream", "invalid": false, "share": false, "tracking": false},
            {"subject": "req.x", "account": "A", "to": "ask", "local_subject": "ask", "type": "service", "invalid": false, "share": false, "tracking": false},
        ])
    );
    let r = get(http, "/accountz?acc=nope");
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, "Account nope does not exist")
    );
    let st = get(http, "/accstatz").json();
    let mut per: Vec<(String, u64)> = st["account_statz"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["acc"].as_str().unwrap().to_string(),
                a["conns"].as_u64().unwrap(),
            )
        })
        .collect();
    per.sort();
    assert_eq!(per, [("$G".into(), 1), ("A".into(), 1), ("B".into(), 1)]);
}

//! Riptide in NATS clusters next to the Go server (nats-server 2.15.1 from `.venv`):
//! three-node loopback clusters, Riptide+Go+Go and Riptide+Riptide+Go, with unmodified
//! clients (async-nats) publishing on every node to subscribers on every other node,
//! wildcards, queue groups picked cluster-wide, request/reply across nodes, a node killed
//! and replaced, clients failing over to the URLs the cluster gossiped, and the refusals
//! (cluster name, `--routes` without `--cluster`).

use crate::common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use async_nats::Client;
use futures::StreamExt;

use common::crossing::{await_interest, client, next, PROBE_EVERY, WAIT};
use common::go::{go_server, Go};
use common::process::{loopback, Proc};

/// Messages each node publishes to the plain subscribers, and to a queue group.
const PLAIN_MSGS: usize = 20;
const QUEUE_MSGS: usize = 200;

/// One node of a test cluster.
enum Node {
    Riptide(Proc),
    Go(Go),
}

impl Node {
    fn riptide(routes: &[SocketAddr], name: &str) -> Node {
        let routes = routes_flag(routes);
        let mut args = loopback(&["--cluster", "nats://127.0.0.1:-1", "--cluster_name", name]);
        if !routes.is_empty() {
            args.extend(["--routes", routes.as_str()]);
        }
        Node::Riptide(Proc::start(&args))
    }

    fn go(bin: &std::path::Path, routes: &[SocketAddr], name: &str) -> Node {
        let mut cmd = Command::new(bin);
        cmd.args(["--cluster", "nats://127.0.0.1:-1", "--cluster_name", name]);
        if !routes.is_empty() {
            cmd.args(["--routes", &routes_flag(routes)]);
        }
        Node::Go(Go::spawn(&mut cmd))
    }

    fn addr(&self) -> SocketAddr {
        match self {
            Node::Riptide(p) => p.addr(),
            Node::Go(g) => g.addr,
        }
    }

    fn route(&self) -> SocketAddr {
        match self {
            Node::Riptide(p) => p.route_addr(),
            Node::Go(g) => g.route_addr.expect("started with --cluster"),
        }
    }

    fn kill(self) {
        // Both kill with SIGKILL when dropped.
        drop(self);
    }
}

fn routes_flag(routes: &[SocketAddr]) -> String {
    routes
        .iter()
        .map(|a| format!("nats-route://{a}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Clients of the first node (Riptide in every topology) beyond the first: spread over its
/// shards, they show that routed messages and cross-shard delivery compose without a copy
/// too many or too few.
const EXTRA_ON_FIRST: usize = 3;

/// Every check of one running cluster, whatever its servers.
async fn check_cluster(nodes: &[Node]) {
    let clients: Vec<Client> =
        futures::future::join_all(nodes.iter().map(|n| client(n.addr()))).await;
    let extra: Vec<Client> =
        futures::future::join_all((0..EXTRA_ON_FIRST).map(|_| client(nodes[0].addr()))).await;
    let n = clients.len();
    // The node of the `j`th subscriber: one per node, then the extra ones on the first.
    let node_of = |j: usize| if j < n { j } else { 0 };

    // Publish on every node to subscribers on every node, through a wildcard.
    let mut subs = Vec::new();
    for c in clients.iter().chain(&extra) {
        subs.push(c.subscribe("x.*").await.unwrap());
        c.flush().await.unwrap();
    }
    for (j, sub) in subs.iter_mut().enumerate() {
        for (i, c) in clients.iter().enumerate() {
            if i != node_of(j) {
                await_interest(c, sub, &format!("x.probe{i}")).await;
            }
        }
    }
    for (i, c) in clients.iter().enumerate() {
        for seq in 0..PLAIN_MSGS {
            c.publish(format!("x.n{i}"), format!("{seq}").into())
                .await
                .unwrap();
        }
        c.flush().await.unwrap();
    }
    for (j, sub) in subs.iter_mut().enumerate() {
        let mut last: HashMap<String, usize> = HashMap::new();
        let mut got = 0;
        while got < n * PLAIN_MSGS {
            let m = next(sub).await;
            if m.subject.starts_with("x.probe") {
                continue;
            }
            let seq: usize = std::str::from_utf8(&m.payload).unwrap().parse().unwrap();
            // Each publisher's messages in its order.
            let want = last.get(m.subject.as_str()).map_or(0, |s| s + 1);
            assert_eq!(seq, want, "node {j} got {} out of order", m.subject);
            last.insert(m.subject.to_string(), seq);
            got += 1;
        }
        assert_eq!(last.len(), n, "node {j} heard from every node: {last:?}");
    }

    // A queue group with members on two nodes, published to from the third: each message
    // reaches exactly one member, and both members get some.
    let (members, publisher) = (&clients[..n - 1], &clients[n - 1]);
    let mut qsubs = Vec::new();
    for c in members.iter().chain(&extra) {
        qsubs.push(c.queue_subscribe("work", "g".into()).await.unwrap());
        c.flush().await.unwrap();
    }
    for q in qsubs.iter_mut() {
        // Warm-up messages until this member's interest reached the publisher's server.
        await_interest(publisher, q, "work").await;
    }
    let mut tagged = Vec::new();
    for seq in 0..QUEUE_MSGS {
        publisher
            .publish("work", format!("t{seq}").into())
            .await
            .unwrap();
    }
    publisher.flush().await.unwrap();
    let mut per_member = vec![0usize; qsubs.len()];
    let mut seen = std::collections::HashSet::new();
    while tagged.len() < QUEUE_MSGS {
        let mut progressed = false;
        for (k, q) in qsubs.iter_mut().enumerate() {
            if let Ok(Some(m)) = tokio::time::timeout(PROBE_EVERY, q.next()).await {
                progressed = true;
                let body = String::from_utf8(m.payload.to_vec()).unwrap();
                if body.starts_with('t') {
                    assert!(seen.insert(body.clone()), "{body} delivered twice");
                    per_member[k] += 1;
                    tagged.push(body);
                }
            }
        }
        if !progressed {
            assert!(
                tagged.len() == QUEUE_MSGS,
                "only {} of {QUEUE_MSGS} queue messages arrived",
                tagged.len()
            );
        }
    }
    // A member is picked by node first (each node weighs its member count): every node's
    // members together get some.
    let first_node: usize = per_member[..1].iter().chain(&per_member[n - 1..]).sum();
    assert!(
        first_node > 0 && per_member[1..n - 1].iter().all(|&c| c > 0),
        "every node got some: {per_member:?}"
    );

    // Request/reply across nodes: a responder on the first node, requesters on the others.
    let mut svc = clients[0].subscribe("svc").await.unwrap();
    clients[0].flush().await.unwrap();
    let responder = clients[0].clone();
    let serve = tokio::spawn(async move {
        while let Some(m) = svc.next().await {
            if let Some(reply) = m.reply {
                let mut answer = b"re:".to_vec();
                answer.extend_from_slice(&m.payload);
                responder.publish(reply, answer.into()).await.unwrap();
                responder.flush().await.unwrap();
            }
        }
    });
    for (i, c) in clients.iter().enumerate().skip(1) {
        let deadline = tokio::time::Instant::now() + WAIT;
        let answer = loop {
            // The first requests may find no interest yet (no responders).
            match tokio::time::timeout(WAIT, c.request("svc", format!("q{i}").into())).await {
                Ok(Ok(m)) => break m,
                _ => assert!(
                    tokio::time::Instant::now() < deadline,
                    "no answer from across the cluster"
                ),
            }
            tokio::time::sleep(PROBE_EVERY).await;
        };
        assert_eq!(&answer.payload[..], format!("re:q{i}").as_bytes());
    }
    serve.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn riptide_go_go_cluster() {
    let Some(bin) = go_server() else { return };
    let r = Node::riptide(&[], "mixed");
    let g1 = Node::go(&bin, &[r.route()], "mixed");
    // The second Go node knows only the first; the rest of the mesh comes by gossip.
    let g2 = Node::go(&bin, &[g1.route()], "mixed");
    check_cluster(&[r, g1, g2]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn riptide_riptide_go_cluster() {
    let Some(bin) = go_server() else { return };
    let r1 = Node::riptide(&[], "pair");
    let r2 = Node::riptide(&[r1.route()], "pair");
    let g = Node::go(&bin, &[r2.route()], "pair");
    check_cluster(&[r1, r2, g]).await;
}

/// A Go node killed with SIGKILL while a publisher on another node keeps publishing: the
/// others drop its interest and keep delivering; a node started in its place gets the
/// interest of the cluster and its own subscriber's messages; a client of the Riptide node
/// that is killed next fails over to a URL the cluster gossiped to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_killed_under_load_and_replaced() {
    let Some(bin) = go_server() else { return };
    let r = Node::riptide(&[], "kill");
    let g1 = Node::go(&bin, &[r.route()], "kill");
    let g2 = Node::go(&bin, &[r.route()], "kill");
    let on_r = client(r.addr()).await;
    let on_g1 = client(g1.addr()).await;
    let on_g2 = client(g2.addr()).await;
    let mut sub_r = on_r.subscribe("load").await.unwrap();
    let mut sub_g2 = on_g2.subscribe("load").await.unwrap();
    on_r.flush().await.unwrap();
    on_g2.flush().await.unwrap();
    await_interest(&on_g1, &mut sub_r, "load").await;
    await_interest(&on_g1, &mut sub_g2, "load").await;

    let publisher = on_g1.clone();
    let load = tokio::spawn(async move {
        for seq in 0u64.. {
            if publisher
                .publish("load", seq.to_string().into())
                .await
                .is_err()
            {
                return;
            }
            if seq % 100 == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    });
    next(&mut sub_r).await;
    g2.kill();
    // Riptide keeps getting the load after the kill.
    for _ in 0..1000 {
        next(&mut sub_r).await;
    }

    // A replacement joins through Riptide and its subscriber gets the load.
    let g3 = Node::go(&bin, &[r.route()], "kill");
    let on_g3 = client(g3.addr()).await;
    let mut sub_g3 = on_g3.subscribe("load").await.unwrap();
    on_g3.flush().await.unwrap();
    for _ in 0..100 {
        next(&mut sub_g3).await;
    }
    load.abort();

    // A client that knows only the Riptide node learned the others from its INFO.
    let failover = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(format!("nats://{}", r.addr()))
        .await
        .unwrap();
    let mut echo = on_g3.subscribe("after").await.unwrap();
    on_g3.flush().await.unwrap();
    await_interest(&failover, &mut echo, "after").await;
    r.kill();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let _ = failover.publish("after", "moved".into()).await;
        let _ = failover.flush().await;
        if let Ok(Some(m)) = tokio::time::timeout(PROBE_EVERY, echo.next()).await {
            if &m.payload[..] == b"moved" {
                break;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the client did not fail over"
        );
    }
    drop(g1);
}

#[test]
fn cluster_name_mismatch_is_refused() {
    let Some(bin) = go_server() else { return };
    let Node::Riptide(mut r) = Node::riptide(&[], "alpha") else {
        unreachable!()
    };
    let _g = Node::go(&bin, &[r.route_addr()], "beta");
    r.expect_log("Rejecting connection, cluster name \"beta\" does not match \"alpha\"");
}

#[test]
fn routes_need_a_cluster_port() {
    let (code, _, err) =
        common::process::run(&loopback(&["--routes", "nats-route://127.0.0.1:4248"]));
    assert_ne!(code, 0);
    assert!(
        err.contains("solicited routes require cluster capabilities, e.g. --cluster"),
        "{err}"
    );
}

/// A publisher whose messages went only to a route gets its PONG at once: a PONG waits for
/// the other shards to take what was published there (a fence), never for a route; a
/// one-shard server has no shard to wait for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pong_after_publishing_to_a_route() {
    let Some(bin) = go_server() else { return };
    let mut args = loopback(&["--cluster", "nats://127.0.0.1:-1", "--cluster_name", "pong"]);
    args.extend(["--shards", "1"]);
    let r = Node::Riptide(Proc::start(&args));
    let g = Node::go(&bin, &[r.route()], "pong");
    let on_r = client(r.addr()).await;
    let on_g = client(g.addr()).await;
    let mut sub = on_g.subscribe("far").await.unwrap();
    on_g.flush().await.unwrap();
    await_interest(&on_r, &mut sub, "far").await;
    for _ in 0..100 {
        on_r.publish("far", "x".into()).await.unwrap();
        tokio::time::timeout(WAIT, on_r.flush())
            .await
            .expect("a PONG in time")
            .unwrap();
    }
}

/// A raw client of the Riptide node `r`, once its INFO names `g` (their route is up: at
/// once, or in an async INFO); and `g`'s client URL as INFO quotes it.
fn client_seeing(r: &Node, g: &Node) -> (common::Raw, String) {
    let go_url = format!("\"{}\"", g.addr());
    let mut c = common::Raw::connect(r.addr());
    c.log_in("\"protocol\":1");
    let mut info = c.info_json().to_string();
    while !info.contains(&go_url) {
        info = c.line();
    }
    (c, go_url)
}

/// Reads `c` until an INFO that no longer names `gone`: its list must name `r` alone.
fn next_info_names_only(c: &mut common::Raw, gone: &str, r: &Node) {
    loop {
        let l = c.line();
        if l.starts_with("INFO ") && !l.contains(gone) {
            assert!(
                l.contains(&format!("\"connect_urls\":[\"{}\"]", r.addr())),
                "{l}"
            );
            return;
        }
    }
}

/// A Go node entering lame duck mode is no place for clients to go: while its route is
/// still up, Riptide's clients get an async INFO whose `connect_urls` name Riptide alone
/// (Go's `removeConnectURLs`).
#[test]
fn lame_duck_node_leaves_connect_urls() {
    let Some(bin) = go_server() else { return };
    let r = Node::riptide(&[], "ldm");
    let g = Node::go(&bin, &[r.route()], "ldm");
    let (mut c, go_url) = client_seeing(&r, &g);
    let Node::Go(go) = &g else { unreachable!() };
    // A client of its own keeps the Go node in lame duck mode for its grace period (with
    // none it shuts down at once, and its route goes instead).
    let _held = common::Raw::logged_in(g.addr(), "");
    // SAFETY: signals a child process this test started.
    unsafe { libc::kill(go.pid() as i32, libc::SIGUSR2) };
    next_info_names_only(&mut c, &go_url, &r);
}

/// When its last route goes, a server that was in a cluster still names itself in
/// `connect_urls`, as Go's does: the async INFO that drops the gone node lists this one.
#[test]
fn last_route_gone_leaves_own_url() {
    let Some(bin) = go_server() else { return };
    let r = Node::riptide(&[], "lrg");
    let g = Node::go(&bin, &[r.route()], "lrg");
    let (mut c, go_url) = client_seeing(&r, &g);
    g.kill();
    next_info_names_only(&mut c, &go_url, &r);
}

/// Route pooling with a Go node (`pool_size`, `accounts`): whatever the two pool sizes,
/// and with pooling off on Riptide's side, every account's messages cross each way in
/// order and never into another account. Riptide's `/routez` shows the connections Go's
/// rules make: the larger pool, plus one per pinned account (A, and the system account
/// that Go pins by default); a single one when Riptide does not pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pooled_routes_carry_every_account() {
    let Some(bin) = go_server() else { return };
    let d = common::process::scratch_dir("cluster-pool");
    let accounts = "accounts { A { users [{user: a, password: a}] }, B { users [{user: b, password: b}] }, C { users [{user: c, password: c}] }, G { users [{user: g, password: g}] } }\n";
    let go_conf = common::process::write_file(
        &d,
        "go.conf",
        &format!("{accounts}cluster {{ name: pool, accounts: [A] }}\n"),
    );
    // Riptide's pool size; whether Riptide dials (else Go does); the route connections
    // Riptide should list; the pinned accounts among them.
    let cases: [(&str, bool, usize, &[&str]); 3] = [
        ("3", true, 5, &["$SYS", "A"]),
        ("4", false, 6, &["$SYS", "A"]),
        ("-1", true, 1, &[]),
    ];
    for (pool, riptide_dials, conns, pinned) in cases {
        let pinned_conf = if pool == "-1" { "" } else { "accounts: [A]" };
        let conf = common::process::write_file(
            &d,
            &format!("riptide{pool}.conf"),
            &format!("{accounts}cluster {{ name: pool, pool_size: {pool}, {pinned_conf} }}\n"),
        );
        let cluster = ["--cluster", "nats://127.0.0.1:-1", "-m", "-1"];
        let (r, g);
        if riptide_dials {
            g = Go::spawn(Command::new(&bin).args([
                "-c",
                go_conf.to_str().unwrap(),
                "--cluster",
                "nats://127.0.0.1:-1",
            ]));
            let routes = routes_flag(&[g.route_addr.unwrap()]);
            let mut args = common::process::with_config(&conf, &cluster);
            args.extend(["--routes", routes.as_str()]);
            r = Proc::start(&args);
        } else {
            r = Proc::start(&common::process::with_config(&conf, &cluster));
            g = Go::spawn(Command::new(&bin).args([
                "-c",
                go_conf.to_str().unwrap(),
                "--cluster",
                "nats://127.0.0.1:-1",
                "--routes",
                &routes_flag(&[r.route_addr()]),
            ]));
        }
        let routez =
            common::http::wait_for(r.monitor_addr(), "/routez", |v| v["num_routes"] == conns);
        let mut named: Vec<&str> = routez["routes"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|rt| rt["account"].as_str())
            .collect();
        named.sort_unstable();
        assert_eq!(named, pinned, "pool_size {pool}: {routez}");

        for acct in ["a", "b", "c", "g"] {
            let on_r = common::crossing::client_as(r.addr(), acct, acct).await;
            let on_g = common::crossing::client_as(g.addr, acct, acct).await;
            for (name, from, to) in [("down", &on_r, &on_g), ("up", &on_g, &on_r)] {
                let mut sub = to.subscribe(format!("{name}.*")).await.unwrap();
                to.flush().await.unwrap();
                await_interest(from, &mut sub, &format!("{name}.probe")).await;
                if acct == "a" && name == "down" && !pinned.is_empty() {
                    // Go told A's interest on A's own connection, naming no account there.
                    common::http::wait_for(r.monitor_addr(), "/routez?subs=1", |v| {
                        v["routes"].as_array().unwrap().iter().any(|rt| {
                            rt["account"] == "A"
                                && rt["subscriptions_list"]
                                    .as_array()
                                    .unwrap()
                                    .iter()
                                    .any(|s| s == "A down.*")
                        })
                    });
                }
                for seq in 0..PLAIN_MSGS {
                    from.publish(format!("{name}.x"), format!("{acct}{seq}").into())
                        .await
                        .unwrap();
                }
                from.flush().await.unwrap();
                let got =
                    common::crossing::collect(&mut sub, &format!("{name}.x"), PLAIN_MSGS).await;
                let want: Vec<String> = (0..PLAIN_MSGS).map(|s| format!("{acct}{s}")).collect();
                assert_eq!(got, want, "pool_size {pool}, account {acct}, {name}");
            }
        }
    }
}

/// The system account across a route (pinned to a connection of its own): a client of
/// either server asking `$SYS.REQ.SERVER.PING` hears from both servers, and connection
/// events of one server reach a system subscriber of the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_account_crosses_the_route() {
    let Some(bin) = go_server() else { return };
    let d = common::process::scratch_dir("cluster-sys");
    let conf = common::process::write_file(
        &d,
        "sys.conf",
        "accounts { SYS { users [{user: sys, password: sys}] }, A { users [{user: a, password: a}] } }\nsystem_account: SYS\ncluster { name: sys }\n",
    );
    let cluster = ["--cluster", "nats://127.0.0.1:-1"];
    let r = Proc::start(&common::process::with_config(&conf, &cluster));
    let routes = routes_flag(&[r.route_addr()]);
    let g = Go::spawn(Command::new(&bin).args([
        "-c",
        conf.to_str().unwrap(),
        "--cluster",
        "nats://127.0.0.1:-1",
        "--routes",
        &routes,
    ]));
    let on_r = common::crossing::client_as(r.addr(), "sys", "sys").await;
    let on_g = common::crossing::client_as(g.addr, "sys", "sys").await;
    let ids = [on_r.server_info().server_id, on_g.server_info().server_id];

    for asker in [&on_r, &on_g] {
        let inbox = asker.new_inbox();
        let mut answers = asker.subscribe(inbox.clone()).await.unwrap();
        let mut heard = std::collections::BTreeSet::new();
        let deadline = tokio::time::Instant::now() + WAIT;
        // The first requests may go out before the other server's interest came over.
        while heard.len() < 2 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "only {heard:?} answered"
            );
            asker
                .publish_with_reply("$SYS.REQ.SERVER.PING", inbox.clone(), "".into())
                .await
                .unwrap();
            asker.flush().await.unwrap();
            while let Ok(Some(m)) = tokio::time::timeout(PROBE_EVERY * 4, answers.next()).await {
                let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
                heard.insert(v["server"]["id"].as_str().unwrap().to_string());
            }
        }
        let mut want: Vec<String> = ids.to_vec();
        want.sort();
        assert_eq!(heard.into_iter().collect::<Vec<_>>(), want);
    }

    for (listener, server, origin) in [(&on_g, r.addr(), &ids[0]), (&on_r, g.addr, &ids[1])] {
        let mut events = listener.subscribe("$SYS.ACCOUNT.*.CONNECT").await.unwrap();
        listener.flush().await.unwrap();
        let other = if std::ptr::eq(listener, &on_g) {
            &on_r
        } else {
            &on_g
        };
        await_interest(other, &mut events, "$SYS.ACCOUNT.probe.CONNECT").await;
        let _a = common::crossing::client_as(server, "a", "a").await;
        let event = loop {
            let m = next(&mut events).await;
            if m.subject.as_str() == "$SYS.ACCOUNT.A.CONNECT" {
                break m;
            }
        };
        let v: serde_json::Value = serde_json::from_slice(&event.payload).unwrap();
        assert_eq!(v["server"]["id"].as_str(), Some(origin.as_str()), "{v}");
        assert_eq!(v["client"]["acc"], "A", "{v}");
    }
}

/// Routes over TLS with a Go node (`cluster { tls {} }`), whichever server dials: TLS from
/// the first byte, each server presenting its certificate and checking the other's against
/// the CA, as Go requires on every route. All four connections (the pool's three and the
/// system account's own) come up and messages cross both ways; a Riptide node whose
/// certificate another CA signed is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_over_tls() {
    let Some(bin) = go_server() else { return };
    let pki = common::secure::Pki::new("routes");
    let d = common::process::scratch_dir("cluster-tls");
    let conf = |name: &str| {
        let text = format!(
            "cluster {{ name: tls, tls {{ cert_file: {:?}, key_file: {:?}, ca_file: {:?}, timeout: 5 }} }}\n",
            pki.dir.join(format!("{name}.pem")),
            pki.dir.join(format!("{name}-key.pem")),
            pki.ca
        );
        common::process::write_file(&d, &format!("{name}.conf"), &text)
    };
    let (ours, stranger) = (conf("server"), conf("stranger"));
    let cluster = ["--cluster", "nats://127.0.0.1:-1", "-m", "-1"];
    let go = |routes: Option<SocketAddr>| {
        let mut cmd = Command::new(&bin);
        cmd.args([
            "-c",
            ours.to_str().unwrap(),
            "--cluster",
            "nats://127.0.0.1:-1",
        ]);
        if let Some(r) = routes {
            cmd.args(["--routes", &routes_flag(&[r])]);
        }
        Go::spawn(&mut cmd)
    };
    for riptide_dials in [true, false] {
        let (r, g) = routed_pair(riptide_dials, &ours, go);
        // The pool's three connections and the system account's own.
        common::http::wait_for(r.monitor_addr(), "/routez", |v| v["num_routes"] == 4);
        let (on_r, on_g) = (client(r.addr()).await, client(g.addr).await);
        common::crossing::crosses_in_order(&on_r, &on_g, "down", PLAIN_MSGS).await;
        common::crossing::crosses_in_order(&on_g, &on_r, "up", PLAIN_MSGS).await;
    }

    let g = go(None);
    let routes = routes_flag(&[g.route_addr.unwrap()]);
    let mut args = common::process::with_config(&stranger, &cluster);
    args.extend(["--routes", routes.as_str()]);
    let mut r = Proc::start(&args);
    r.expect_log("TLS handshake error");
}

/// A Riptide node started from `conf` and a Go node (`go`, given the route it dials, if
/// it is the one that dials) routed to each other.
fn routed_pair(
    riptide_dials: bool,
    conf: &std::path::Path,
    go: impl Fn(Option<SocketAddr>) -> Go,
) -> (Proc, Go) {
    let cluster = ["--cluster", "nats://127.0.0.1:-1", "-m", "-1"];
    if riptide_dials {
        let g = go(None);
        let routes = routes_flag(&[g.route_addr.unwrap()]);
        let mut args = common::process::with_config(conf, &cluster);
        args.extend(["--routes", routes.as_str()]);
        (Proc::start(&args), g)
    } else {
        let r = Proc::start(&common::process::with_config(conf, &cluster));
        let g = go(Some(r.route_addr()));
        (r, g)
    }
}

/// Route permissions against a Go node, as Go applies them: `import` decides which of
/// Riptide's subscriptions the route is told of, `export` which of the route's it takes, so
/// messages flow only where both allow; an `export` deny inside taken wildcard interest
/// (`out.>` over `out.secret`) is checked per message. The route INFO carries both, with
/// Go's JSON escapes. Each side publishes from one connection, so what arrives first shows
/// everything the route carried before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_permissions_filter_interest() {
    let Some(bin) = go_server() else { return };
    let d = common::process::scratch_dir("cluster-perms");
    let conf = common::process::write_file(
        &d,
        "riptide.conf",
        "cluster { name: perms, permissions { import: \"in.>\", export: { allow: \"out.>\", deny: \"out.secret\" } } }\n",
    );
    let g = Go::spawn(Command::new(&bin).args([
        "--cluster",
        "nats://127.0.0.1:-1",
        "--cluster_name",
        "perms",
    ]));
    let routes = routes_flag(&[g.route_addr.unwrap()]);
    let mut args =
        common::process::with_config(&conf, &["--cluster", "nats://127.0.0.1:-1", "-m", "-1"]);
    args.extend(["--routes", routes.as_str()]);
    let r = Proc::start(&args);
    let info = common::Raw::connect(r.route_addr()).info;
    assert!(
        info.contains(r#""import":{"allow":["in.\u003e"]},"export":{"allow":["out.\u003e"],"deny":["out.secret"]}"#),
        "{info}"
    );
    common::http::wait_for(r.monitor_addr(), "/routez", |v| v["num_routes"] == 4);

    // Go's subscribers: Riptide takes `out.x` and `out.>`, not `in.x` or `other.x`.
    let mut on_g = common::Raw::logged_in(g.addr, "");
    on_g.send(b"SUB out.x 1\r\nSUB in.x 2\r\nSUB other.x 3\r\nSUB out.> 4\r\n");
    on_g.sync();
    let listed = |v: &serde_json::Value, sub: &str| {
        v["routes"].as_array().unwrap().iter().any(|rt| {
            rt["subscriptions_list"]
                .as_array()
                .is_some_and(|l| l.iter().any(|s| s == sub))
        })
    };
    let routez = common::http::wait_for(r.monitor_addr(), "/routez?subs=1", |v| {
        listed(v, "$G out.>")
    });
    assert!(listed(&routez, "$G out.x"), "{routez}");
    assert!(
        !listed(&routez, "$G in.x") && !listed(&routez, "$G other.x"),
        "{routez}"
    );
    let mut on_r = common::Raw::logged_in(r.addr(), "");
    on_r.send(b"PUB in.x 1\r\na\r\nPUB other.x 1\r\nb\r\nPUB out.secret 1\r\nc\r\nPUB out.ok 1\r\nd\r\nPUB out.x 1\r\ne\r\n");
    on_r.sync();
    let msg = |c: &mut common::Raw| format!("{}{}", c.line(), c.line());
    assert_eq!(msg(&mut on_g), "MSG out.ok 4 1\r\nd\r\n");
    let mut last = [msg(&mut on_g), msg(&mut on_g)];
    last.sort();
    assert_eq!(last, ["MSG out.x 1 1\r\ne\r\n", "MSG out.x 4 1\r\ne\r\n"]);

    // Riptide's subscribers: the route is told of `in.x` only. A probe subscribed after
    // them shows Go has heard of everything it was told.
    on_r.send(b"SUB out.x 1\r\nSUB other.x 2\r\nSUB in.x 3\r\n");
    on_r.sync();
    let probe_client = client(r.addr()).await;
    let mut probe = probe_client.subscribe("in.probe").await.unwrap();
    probe_client.flush().await.unwrap();
    await_interest(&client(g.addr).await, &mut probe, "in.probe").await;
    on_g.send(b"PUB other.x 1\r\nb\r\nPUB out.x 1\r\nc\r\nPUB in.x 1\r\na\r\n");
    on_g.sync();
    assert_eq!(msg(&mut on_r), "MSG in.x 3 1\r\na\r\n");
}

/// S2 compression with a Go node, negotiated as Go negotiates it, whichever side dials:
/// each side writes with the mode it picked, which both servers' `/routez` show, and
/// messages cross both ways intact, small ones and ones larger than a compressed block,
/// text and noise. Then two Riptide nodes, one compressing and one `s2_auto`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_routes() {
    let Some(bin) = go_server() else { return };
    let d = common::process::scratch_dir("cluster-s2");
    let conf = |name: &str, mode: &str| {
        let text = format!("cluster {{ name: s2, compression: {mode} }}\n");
        common::process::write_file(&d, &format!("{name}-{mode}.conf"), &text)
    };
    let cluster = ["--cluster", "nats://127.0.0.1:-1", "-m", "-1"];
    // Every route connection (the pool's three and the system account's) writes `mode`.
    let all_write = |v: &serde_json::Value, mode: &str| {
        v["num_routes"] == 4
            && (v["routes"].as_array().unwrap())
                .iter()
                .all(|rt| rt["compression"] == mode)
    };
    // Riptide's mode, Go's, whether Riptide dials, and what each then writes with.
    let cases = [
        ("accept", "s2_fast", true, "s2_fast", "s2_fast"),
        ("s2_best", "accept", false, "s2_best", "s2_best"),
        ("s2_auto", "s2_fast", true, "s2_uncompressed", "s2_fast"),
        ("s2_fast", "s2_auto", false, "s2_fast", "s2_uncompressed"),
        ("s2_fast", "off", true, "off", "off"),
    ];
    for (ours, theirs, riptide_dials, r_mode, g_mode) in cases {
        let (rc, gc) = (conf("r", ours), conf("g", theirs));
        let go = |routes: Option<SocketAddr>| {
            let mut cmd = Command::new(&bin);
            cmd.args(["-c", gc.to_str().unwrap(), "-m", "-1"]);
            cmd.args(["--cluster", "nats://127.0.0.1:-1"]);
            if let Some(r) = routes {
                cmd.args(["--routes", &routes_flag(&[r])]);
            }
            Go::spawn(&mut cmd)
        };
        let (r, g) = routed_pair(riptide_dials, &rc, go);
        common::http::wait_for(r.monitor_addr(), "/routez", |v| all_write(v, r_mode));
        common::http::wait_for(g.http_addr.unwrap(), "/routez", |v| all_write(v, g_mode));
        let (on_r, on_g) = (client(r.addr()).await, client(g.addr).await);
        common::crossing::crosses_in_order(&on_r, &on_g, "down", PLAIN_MSGS).await;
        common::crossing::crosses_in_order(&on_g, &on_r, "up", PLAIN_MSGS).await;
        common::crossing::large_cross_intact(&on_r, &on_g, "bigdown").await;
        common::crossing::large_cross_intact(&on_g, &on_r, "bigup").await;
    }

    let a = Proc::start(&common::process::with_config(
        &conf("a", "s2_fast"),
        &cluster,
    ));
    let routes = routes_flag(&[a.route_addr()]);
    let b_conf = conf("b", "s2_auto");
    let mut args = common::process::with_config(&b_conf, &cluster);
    args.extend(["--routes", routes.as_str()]);
    let b = Proc::start(&args);
    common::http::wait_for(a.monitor_addr(), "/routez", |v| all_write(v, "s2_fast"));
    common::http::wait_for(b.monitor_addr(), "/routez", |v| {
        all_write(v, "s2_uncompressed")
    });
    let (on_a, on_b) = (client(a.addr()).await, client(b.addr()).await);
    common::crossing::crosses_in_order(&on_a, &on_b, "down", PLAIN_MSGS).await;
    common::crossing::large_cross_intact(&on_b, &on_a, "bigup").await;
}

/// The INFO a server sends first on `port`, as JSON.
fn first_info(port: SocketAddr) -> serde_json::Value {
    use std::io::BufRead;
    let s = std::net::TcpStream::connect(port).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut line = String::new();
    std::io::BufReader::new(s).read_line(&mut line).unwrap();
    serde_json::from_str(line.strip_prefix("INFO ").expect("an INFO").trim()).unwrap()
}

/// `advertise` in `cluster {}` (`--cluster_advertise`) and in `leafnodes {}`: the route
/// INFO and the leaf INFO name the advertised address instead of the port bound (`host`,
/// `port`, `ip`; a missing port is the one bound), and leaf nodes are told it in
/// `leafnode_urls`, as nats-server 2.15.1 sends them (checked on both servers); Go's log
/// line for the leaf one, and Go's start-up error for a value that is not `host[:port]`.
#[test]
fn advertised_addresses() {
    let Some(bin) = go_server() else { return };
    let d = common::process::scratch_dir("advertise");
    let conf = common::process::write_file(
        &d,
        "adv.conf",
        "leafnodes { listen: 127.0.0.1:-1, advertise: \"leaf.example:7000\" }\n",
    );
    let cluster = [
        "--cluster",
        "nats://127.0.0.1:-1",
        "--cluster_name",
        "c",
        "--cluster_advertise",
        "10.1.2.3",
    ];
    let r = Proc::start(&common::process::with_config(&conf, &cluster));
    let told = "[INF] Advertise address for leafnode is set to leaf.example:7000";
    assert!(r.lines.iter().any(|l| l.contains(told)), "{:?}", r.lines);
    let g = Go::spawn(
        Command::new(&bin)
            .args(["-c", conf.to_str().unwrap()])
            .args(cluster),
    );
    for (route, leaf) in [
        (r.route_addr(), r.leaf_addr()),
        (g.route_addr.unwrap(), g.leaf_addr.unwrap()),
    ] {
        let info = first_info(route);
        assert_eq!(info["host"], "10.1.2.3", "{info}");
        assert_eq!(info["port"], route.port(), "{info}");
        let ip = format!("nats-route://10.1.2.3:{}/", route.port());
        assert_eq!(info["ip"], ip, "{info}");
        assert_eq!(info["leafnode_urls"][0], "leaf.example:7000", "{info}");
        let info = first_info(leaf);
        assert_eq!(info["host"], "leaf.example", "{info}");
        assert_eq!(info["port"], 7000, "{info}");
        assert_eq!(info["ip"], "leaf.example:7000", "{info}");
        assert_eq!(info["leafnode_urls"][0], "leaf.example:7000", "{info}");
    }

    let bad = common::process::write_file(
        &d,
        "bad.conf",
        "leafnodes { listen: 127.0.0.1:-1, advertise: \"x:y\" }\n",
    );
    let (code, _, err) = common::process::run(&common::process::with_config(&bad, &[]));
    assert_ne!(code, 0);
    assert!(
        err.contains(
            "Error setting leafnode INFO with LeafNode.Advertise value of x:y, err=strconv.Atoi: parsing \"y\": invalid syntax"
        ),
        "{err}"
    );
}

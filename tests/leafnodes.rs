//! Riptide as a leaf node of a Go hub, and as the hub of a Go leaf node (nats-server 2.15.1
//! from `.venv`), with unmodified clients (async-nats) on both sides: publishes each way,
//! wildcards, request/reply, queue groups with members on both sides (each message reaches
//! exactly one), a leaf bound to an account of its hub, `/leafz`, and a loop of leaf
//! connections found and refused with Go's error.

use crate::common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_nats::Client;
use futures::StreamExt;

use common::crossing::{await_interest, client, client_as, collect, next, WAIT};
use common::go::{go_server, Go};
use common::process::{with_config, Proc};

const PLAIN_MSGS: usize = 20;
const QUEUE_MSGS: usize = 200;

fn dir(test: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("riptide-leaf-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Every check across one leaf connection: `hub` clients on one side, `leaf` clients on
/// the other (several, so that a Riptide side spreads them over its shards).
async fn check_both_ways(hub: &[Client], leaf: &[Client]) {
    for (name, from, to) in [("down", hub, leaf), ("up", leaf, hub)] {
        // Plain subscribers on one side, publishers on the other, through a wildcard;
        // each subscriber gets every publisher's messages in order.
        let mut subs = Vec::new();
        for c in to {
            subs.push(c.subscribe(format!("{name}.*")).await.unwrap());
            c.flush().await.unwrap();
        }
        for sub in subs.iter_mut() {
            await_interest(&from[0], sub, &format!("{name}.probe")).await;
        }
        for i in 0..PLAIN_MSGS {
            from[0]
                .publish(format!("{name}.m"), i.to_string().into())
                .await
                .unwrap();
        }
        from[0].flush().await.unwrap();
        let want: Vec<String> = (0..PLAIN_MSGS).map(|i| i.to_string()).collect();
        for sub in subs.iter_mut() {
            assert_eq!(collect(sub, &format!("{name}.m"), PLAIN_MSGS).await, want);
        }

        // Request/reply across the connection.
        let mut service = to[0].subscribe(format!("{name}.svc")).await.unwrap();
        to[0].flush().await.unwrap();
        let responder = to[0].clone();
        let serve = tokio::spawn(async move {
            while let Some(m) = service.next().await {
                if let Some(reply) = m.reply {
                    let mut answer = b"re:".to_vec();
                    answer.extend_from_slice(&m.payload);
                    responder.publish(reply, answer.into()).await.unwrap();
                    responder.flush().await.unwrap();
                }
            }
        });
        let deadline = tokio::time::Instant::now() + WAIT;
        let answer = loop {
            match tokio::time::timeout(
                Duration::from_secs(1),
                from[0].request(format!("{name}.svc"), "ping".into()),
            )
            .await
            {
                Ok(Ok(m)) => break m,
                _ => assert!(tokio::time::Instant::now() < deadline, "no answer"),
            }
        };
        assert_eq!(&answer.payload[..], b"re:ping");
        serve.abort();
    }

    // A queue group with members on both sides, published from the leaf side (whose own
    // members are preferred, as Go prefers local ones), then with members on the hub side
    // only: every message reaches exactly one member.
    let both: Vec<&Client> = hub.iter().chain(leaf).take(4).collect();
    queue_exactly_once(&leaf[0], &both, "work.both").await;
    let far: Vec<&Client> = hub.iter().collect();
    queue_exactly_once(&leaf[0], &far, "work.far").await;
}

/// `QUEUE_MSGS` published by `from` to a queue group of one member per client of
/// `members`: each message reaches exactly one member.
async fn queue_exactly_once(from: &Client, members: &[&Client], subject: &str) {
    let mut subs = Vec::new();
    for c in members {
        subs.push(
            c.queue_subscribe(subject.to_string(), "grp".into())
                .await
                .unwrap(),
        );
        c.flush().await.unwrap();
    }
    // Every member's interest has crossed once a plain subscriber next to the last one
    // gets a probe. It stays until the end: a Go leaf that hears it go while it publishes
    // can lose the queue message it sends along with the plain one (nats-server 2.15.1
    // does so to a Go hub too).
    let last = members[members.len() - 1];
    let mut probe = last.subscribe(subject.to_string()).await.unwrap();
    last.flush().await.unwrap();
    await_interest(from, &mut probe, subject).await;
    for i in 0..QUEUE_MSGS {
        from.publish(subject.to_string(), i.to_string().into())
            .await
            .unwrap();
    }
    from.flush().await.unwrap();
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while got.len() < QUEUE_MSGS {
        for m in subs.iter_mut() {
            while let Ok(Some(msg)) =
                tokio::time::timeout(Duration::from_millis(20), m.next()).await
            {
                if msg.payload.as_ref() != b"probe" {
                    got.push(String::from_utf8_lossy(&msg.payload).into_owned());
                }
            }
        }
        if tokio::time::Instant::now() >= deadline {
            let mut g: Vec<usize> = got.iter().map(|s| s.parse().unwrap()).collect();
            g.sort();
            let missing: Vec<usize> = (0..QUEUE_MSGS).filter(|i| !g.contains(i)).collect();
            panic!(
                "{} of {QUEUE_MSGS} queue messages on {subject}: missing {missing:?}",
                got.len()
            );
        }
    }
    got.sort_by_key(|s| s.parse::<usize>().unwrap());
    let want: Vec<String> = (0..QUEUE_MSGS).map(|i| i.to_string()).collect();
    assert_eq!(got, want, "each queue message on {subject} exactly once");
    for m in subs.iter_mut() {
        assert!(
            tokio::time::timeout(Duration::from_millis(100), m.next())
                .await
                .is_err(),
            "a queue message on {subject} delivered twice"
        );
    }
    drop(probe);
}

#[tokio::test]
async fn riptide_leaf_of_a_go_hub() {
    let Some(bin) = go_server() else { return };
    let d = dir("spoke");
    // The hub offers S2 compression by default; a Riptide leaf offers none and the
    // connection runs uncompressed. Its leaf port is fixed (a free one, picked here), so
    // that a restarted hub is found again.
    let hub_leaf = common::process::free_port();
    let hub_conf = write(
        &d,
        "hub.conf",
        &format!("leafnodes {{ listen: {hub_leaf} }}\n"),
    );
    let hub = Go::start(&bin, &hub_conf);
    let leaf_conf = write(
        &d,
        "leaf.conf",
        &format!("leafnodes {{ remotes [ {{ url: \"nats-leaf://{hub_leaf}\" }} ] }}\n"),
    );
    let mut leaf = Proc::start(&with_config(&leaf_conf, &["-a", "127.0.0.1", "-p", "-1"]));
    leaf.expect_log("Leafnode connection created for account: $G");
    let hubs = vec![client(hub.addr).await];
    let mut leafs = Vec::new();
    for _ in 0..3 {
        leafs.push(client(leaf.addr()).await);
    }
    check_both_ways(&hubs, &leafs).await;

    // The hub is killed and started again: the leaf dials it again, and tells it its
    // subscribers' interest anew.
    let mut sub = leafs[1].subscribe("again.*").await.unwrap();
    leafs[1].flush().await.unwrap();
    drop(hubs);
    drop(hub);
    leaf.expect_log("Leafnode connection closed");
    let hub = Go::start(&bin, &hub_conf);
    leaf.expect_log("Leafnode connection created for account: $G");
    let h = client(hub.addr).await;
    await_interest(&h, &mut sub, "again.probe").await;
}

#[tokio::test]
async fn go_leaf_of_a_riptide_hub() {
    let Some(bin) = go_server() else { return };
    let d = dir("hub");
    let hub_conf = write(
        &d,
        "hub.conf",
        "leafnodes { listen: 127.0.0.1:-1 }\nhttp: 127.0.0.1:-1\n",
    );
    let mut hub = Proc::start(&with_config(&hub_conf, &["-a", "127.0.0.1", "-p", "-1"]));
    let leaf_conf = write(
        &d,
        "leaf.conf",
        &format!(
            "server_name: goleaf\nleafnodes {{ remotes [ {{ url: \"nats-leaf://{}\" }} ] }}\n",
            hub.leaf_addr()
        ),
    );
    let leaf = Go::start(&bin, &leaf_conf);
    hub.expect_log("Leafnode connection created");
    let mut hubs = Vec::new();
    for _ in 0..3 {
        hubs.push(client(hub.addr()).await);
    }
    let leafs = vec![client(leaf.addr).await];
    check_both_ways(&hubs, &leafs).await;

    let leafz = monitor_json(hub.monitor_addr(), "/leafz?subs=1");
    assert_eq!(leafz["leafnodes"], 1, "{leafz}");
    let l = &leafz["leafs"][0];
    assert_eq!(l["name"], "goleaf", "{leafz}");
    assert_eq!(l["account"], "$G", "{leafz}");
    assert_eq!(l["is_spoke"], false, "{leafz}");
    let subs = l["subscriptions_list"]
        .as_array()
        .expect("subs=1 lists them");
    assert!(
        subs.iter()
            .any(|s| s.as_str().unwrap().starts_with("$LDS.")),
        "{leafz}"
    );
}

/// A Go leaf of a Riptide hub that is one node of a cluster with a Go server: the leaf's
/// interest reaches the other node through the route, and that node's through the hub.
#[tokio::test]
async fn leaf_of_a_clustered_hub() {
    let Some(bin) = go_server() else { return };
    let d = dir("clustered");
    let hub_conf = write(
        &d,
        "hub.conf",
        "cluster { name: c1, listen: 127.0.0.1:-1 }\nleafnodes { listen: 127.0.0.1:-1 }\n",
    );
    let mut hub = Proc::start(&with_config(&hub_conf, &["-a", "127.0.0.1", "-p", "-1"]));
    let other = Go::spawn(std::process::Command::new(&bin).args([
        "--cluster",
        "nats://127.0.0.1:-1",
        "--cluster_name",
        "c1",
        "--routes",
        &format!("nats-route://{}", hub.route_addr()),
    ]));
    hub.expect_log("Route connection created");
    let leaf_conf = write(
        &d,
        "leaf.conf",
        &format!(
            "leafnodes {{ remotes [ {{ url: \"nats-leaf://{}\" }} ] }}\n",
            hub.leaf_addr()
        ),
    );
    let leaf = Go::start(&bin, &leaf_conf);
    hub.expect_log("Leafnode connection created");
    let hubs = vec![client(other.addr).await, client(hub.addr()).await];
    let leafs = vec![client(leaf.addr).await];
    check_both_ways(&hubs, &leafs).await;
}

/// A Go leaf whose user binds it to account A of its Riptide hub: its `$G` reaches A's
/// clients there, and only theirs.
#[tokio::test]
async fn leaf_bound_to_an_account() {
    let Some(bin) = go_server() else { return };
    let d = dir("account");
    let hub_conf = write(
        &d,
        "hub.conf",
        "accounts { A { users [ {user: a, password: a} ] }, B { users [ {user: b, password: b} ] } }\nleafnodes {\n  listen: 127.0.0.1:-1\n  authorization { users [ {user: l, password: lp, account: A} ] }\n}\n",
    );
    let mut hub = Proc::start(&with_config(&hub_conf, &["-a", "127.0.0.1", "-p", "-1"]));
    let leaf_conf = write(
        &d,
        "leaf.conf",
        &format!(
            "leafnodes {{ remotes [ {{ url: \"nats-leaf://l:lp@{}\" }} ] }}\n",
            hub.leaf_addr()
        ),
    );
    let leaf = Go::start(&bin, &leaf_conf);
    hub.expect_log("Leafnode connection created");
    let a = client_as(hub.addr(), "a", "a").await;
    let b = client_as(hub.addr(), "b", "b").await;
    let l = client(leaf.addr).await;
    let mut in_a = a.subscribe("acct.*").await.unwrap();
    let mut in_b = b.subscribe("acct.*").await.unwrap();
    a.flush().await.unwrap();
    b.flush().await.unwrap();
    await_interest(&l, &mut in_a, "acct.probe").await;
    l.publish("acct.x", "to A".into()).await.unwrap();
    l.flush().await.unwrap();
    assert_eq!(collect(&mut in_a, "acct.x", 1).await, vec!["to A"]);
    b.publish("acct.y", "from B".into()).await.unwrap();
    b.flush().await.unwrap();
    // B's own subscriber gets B's message; nothing of the leaf's ever reaches B.
    let m = next(&mut in_b).await;
    assert_eq!(m.subject.as_str(), "acct.y");

    // Wrong credentials are refused as Go refuses them.
    let bad_conf = write(
        &d,
        "bad.conf",
        &format!(
            "leafnodes {{ remotes [ {{ url: \"nats-leaf://l:nope@{}\" }} ] }}\n",
            hub.leaf_addr()
        ),
    );
    let _bad = Go::start(&bin, &bad_conf);
    hub.expect_log("authentication error - User \"l\"");
}

/// Riptide and Go each a leaf of the other: a loop, which one of them finds through the
/// `$LDS.` interest; Riptide's log has Go's words either way (as the finder, or as the
/// error the finder sent it).
#[tokio::test]
async fn leaf_loop_is_detected() {
    let Some(bin) = go_server() else { return };
    let d = dir("loop");
    // Go's leaf port must be known before either starts: a free one, picked here.
    let go_leaf = common::process::free_port();
    let r_conf = write(
        &d,
        "r.conf",
        &format!(
            "leafnodes {{ listen: 127.0.0.1:-1, remotes [ {{ url: \"nats-leaf://{go_leaf}\" }} ] }}\n"
        ),
    );
    let mut riptide = Proc::start(&with_config(&r_conf, &["-a", "127.0.0.1", "-p", "-1"]));
    let go_conf = write(
        &d,
        "go.conf",
        &format!(
            "leafnodes {{ listen: {go_leaf}, remotes [ {{ url: \"nats-leaf://{}\" }} ] }}\n",
            riptide.leaf_addr()
        ),
    );
    let _go = Go::start(&bin, &go_conf);
    riptide.expect_log("Loop detected for leafnode account=\"$G\"");
}

fn monitor_json(addr: SocketAddr, path: &str) -> serde_json::Value {
    common::http::get(addr, path).json()
}

/// An operator-mode hub's configuration (a system and an application account,
/// preloaded, and a leaf node port), and `.creds` files of two users of the application
/// account: one for a leaf node, one for a client.
fn operator_hub(d: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use riptide::jwt::testkit;
    let op = testkit::Operator::new("OP");
    let sys = testkit::Account::new("SYS");
    let app = testkit::Account::new("APP");
    let user = |name: &str| {
        let u = testkit::User::new(name);
        let creds = u.creds(&app.sign_user(&u.claims()));
        write(d, &format!("{name}.creds"), &creds.format())
    };
    let op_jwt = write(d, "op.jwt", &op.jwt());
    let conf = write(
        d,
        "hub.conf",
        &format!(
            "operator: {op_jwt:?}\nsystem_account: {sys}\nresolver: MEMORY\nresolver_preload: {{\n  {sys}: {}\n  {app_key}: {}\n}}\nleafnodes {{ listen: 127.0.0.1:-1 }}\n",
            op.sign_account(&sys.claims()),
            op.sign_account(&app.claims()),
            sys = sys.public_key(),
            app_key = app.public_key(),
        ),
    );
    (conf, user("leaf"), user("client"))
}

async fn client_with_creds(addr: SocketAddr, creds: &Path) -> Client {
    async_nats::ConnectOptions::with_credentials_file(creds)
        .await
        .unwrap()
        .connect(format!("nats://{addr}"))
        .await
        .unwrap()
}

fn creds_remote(hub: SocketAddr, creds: &Path) -> String {
    format!(
        "leafnodes {{ remotes [ {{ url: \"nats-leaf://{hub}\", credentials: {creds:?} }} ] }}\n"
    )
}

/// A leaf node logging in with a `.creds` file (its user JWT, and the hub's nonce signed
/// with its seed) to a hub in operator mode, Riptide on either side of a Go server:
/// messages cross both ways in the account the JWT names.
#[tokio::test]
async fn leaf_logs_in_with_credentials() {
    let Some(bin) = go_server() else { return };
    let d = dir("creds");
    let (hub_conf, leaf_creds, client_creds) = operator_hub(&d);

    let hub = Go::start(&bin, &hub_conf);
    let leaf_conf = write(
        &d,
        "leaf.conf",
        &creds_remote(hub.leaf_addr.unwrap(), &leaf_creds),
    );
    let mut leaf = Proc::start(&with_config(&leaf_conf, &["-a", "127.0.0.1", "-p", "-1"]));
    leaf.expect_log("Leafnode connection created");
    let on_hub = client_with_creds(hub.addr, &client_creds).await;
    let on_leaf = client(leaf.addr()).await;
    check_both_ways(&[on_hub], &[on_leaf]).await;

    let mut hub = Proc::start(&with_config(&hub_conf, &["-a", "127.0.0.1", "-p", "-1"]));
    let leaf_conf = write(
        &d,
        "go-leaf.conf",
        &creds_remote(hub.leaf_addr(), &leaf_creds),
    );
    let leaf = Go::start(&bin, &leaf_conf);
    hub.expect_log("Leafnode connection created");
    let on_hub = client_with_creds(hub.addr(), &client_creds).await;
    let on_leaf = client(leaf.addr).await;
    check_both_ways(&[on_hub], &[on_leaf]).await;

    // Without credentials the hub refuses it, as Go's does.
    let bare = write(
        &d,
        "bare.conf",
        &format!(
            "leafnodes {{ remotes [ {{ url: \"nats-leaf://{}\" }} ] }}\n",
            hub.leaf_addr()
        ),
    );
    let _bare = Go::start(&bin, &bare);
    hub.expect_log("authentication error");
}

/// Leaf nodes over TLS, both ways: the hub sends its INFO in the clear and the leaf starts
/// TLS before its CONNECT, as Go's do. The hub verifies the leaf's client certificate
/// (`verify: true`) and the leaf the hub's, both against the test CA; the leaf dials a
/// `tls://` URL. A leaf without a certificate is refused by such a hub. The leaf
/// compresses (`s2_fast`) and the hub, `s2_auto` on loopback, sends S2 frames stored as
/// they are: compression inside TLS, both ways.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaf_over_tls() {
    let Some(bin) = go_server() else { return };
    let pki = common::secure::Pki::new("leafs");
    let d = dir("tls");
    let hub_conf = write(
        &d,
        "hub.conf",
        &format!(
            "leafnodes {{ listen: 127.0.0.1:-1, tls {{ {} ca_file: {:?}, verify: true, timeout: 5 }} }}\n",
            pki.tls_lines(),
            pki.ca
        ),
    );
    let remote = |hub: SocketAddr, cert: bool| {
        let identity = if cert {
            format!(
                "cert_file: {:?}, key_file: {:?},",
                pki.dir.join("client.pem"),
                pki.dir.join("client-key.pem")
            )
        } else {
            String::new()
        };
        format!(
            "leafnodes {{ remotes [ {{ url: \"tls://{hub}\", compression: s2_fast, tls {{ {identity} ca_file: {:?}, timeout: 5 }} }} ] }}\n",
            pki.ca
        )
    };

    let hub = Go::start(&bin, &hub_conf);
    let leaf_conf = write(&d, "leaf.conf", &remote(hub.leaf_addr.unwrap(), true));
    let mut leaf = Proc::start(&with_config(&leaf_conf, &["-a", "127.0.0.1", "-p", "-1"]));
    leaf.expect_log("Leafnode connection created");
    let (on_hub, on_leaf) = (client(hub.addr).await, client(leaf.addr()).await);
    check_both_ways(&[on_hub], &[on_leaf]).await;

    let mut hub = Proc::start(&with_config(&hub_conf, &["-a", "127.0.0.1", "-p", "-1"]));
    let leaf_conf = write(&d, "go-leaf.conf", &remote(hub.leaf_addr(), true));
    let leaf = Go::start(&bin, &leaf_conf);
    hub.expect_log("Leafnode connection created");
    let (on_hub, on_leaf) = (client(hub.addr()).await, client(leaf.addr).await);
    check_both_ways(&[on_hub], &[on_leaf]).await;

    let bare = write(&d, "bare.conf", &remote(hub.leaf_addr(), false));
    let _bare = Go::start(&bin, &bare);
    hub.expect_log("TLS handshake error");
}

/// A hub whose `leafnodes {}` has no users of its own logs leaf nodes in as it logs in
/// clients (Go's `isLeafNodeAuthorized`): a user and password, or an nkey remote (`nkey`,
/// the hub's nonce signed), binds the leaf to that user's account; a leaf with neither is
/// refused, since the server requires credentials. Riptide is the leaf of a Go hub and the
/// hub of a Go leaf.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaf_logs_in_as_a_server_user() {
    let Some(bin) = go_server() else { return };
    let d = dir("server-user");
    let key = nkeys::KeyPair::new_user();
    let hub_conf = write(
        &d,
        "hub.conf",
        &format!(
            "accounts {{ A {{ users [ {{user: l, password: p}}, {{nkey: {}}} ] }} }}\nleafnodes {{ listen: 127.0.0.1:-1 }}\n",
            key.public_key()
        ),
    );
    let seed = key.seed().unwrap();
    let remote = |name: &str, hub: SocketAddr, login: &str| {
        let text = match login {
            "user" => format!("leafnodes {{ remotes [ {{ url: \"nats-leaf://l:p@{hub}\" }} ] }}\n"),
            "nkey" => format!(
                "leafnodes {{ remotes [ {{ url: \"nats-leaf://{hub}\", nkey: {seed:?} }} ] }}\n"
            ),
            _ => format!("leafnodes {{ remotes [ {{ url: \"nats-leaf://{hub}\" }} ] }}\n"),
        };
        write(&d, &format!("{name}-{login}.conf"), &text)
    };
    let loopback = ["-a", "127.0.0.1", "-p", "-1"];

    let go_hub = Go::start(&bin, &hub_conf);
    let on_hub = client_as(go_hub.addr, "l", "p").await;
    for login in ["user", "nkey"] {
        let conf = remote("riptide", go_hub.leaf_addr.unwrap(), login);
        let mut leaf = Proc::start(&with_config(&conf, &loopback));
        leaf.expect_log("Leafnode connection created");
        let on_leaf = client(leaf.addr()).await;
        common::crossing::crosses_in_order(&on_hub, &on_leaf, "down", PLAIN_MSGS).await;
        common::crossing::crosses_in_order(&on_leaf, &on_hub, "up", PLAIN_MSGS).await;
    }

    let mut hub = Proc::start(&with_config(&hub_conf, &loopback));
    let on_hub = client_as(hub.addr(), "l", "p").await;
    for login in ["user", "nkey"] {
        let leaf = Go::start(&bin, &remote("go", hub.leaf_addr(), login));
        hub.expect_log("Leafnode connection created");
        let on_leaf = client(leaf.addr).await;
        common::crossing::crosses_in_order(&on_hub, &on_leaf, "down", PLAIN_MSGS).await;
        common::crossing::crosses_in_order(&on_leaf, &on_hub, "up", PLAIN_MSGS).await;
    }
    let _bare = Go::start(&bin, &remote("go", hub.leaf_addr(), "none"));
    hub.expect_log("authentication error");
}

/// A leaf node fails over within its hub's cluster: dialed at one Go hub of two, it learns
/// the other's leaf URL from the hub's INFO (`leafnode_urls`, or over WebSocket
/// `ws_connect_urls`), and when the first hub is killed it connects to the second, where
/// messages cross again both ways.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaf_fails_over_to_a_gossiped_hub() {
    let Some(bin) = go_server() else { return };
    let d = dir("failover");
    for websocket in [false, true] {
        let hub = |name: &str| {
            let ws = common::process::free_port();
            let text = format!(
                "leafnodes {{ listen: 127.0.0.1:-1 }}\nwebsocket {{ listen: \"{ws}\", no_tls: true }}\n"
            );
            (write(&d, &format!("{name}{websocket}.conf"), &text), ws)
        };
        let ((first_conf, first_ws), (second_conf, second_ws)) = (hub("first"), hub("second"));
        let cluster = ["--cluster", "nats://127.0.0.1:-1", "--cluster_name", "hubs"];
        let first = Go::spawn(
            std::process::Command::new(&bin)
                .args(["-c", first_conf.to_str().unwrap()])
                .args(cluster),
        );
        let routes = format!("nats-route://{}", first.route_addr.unwrap());
        let second = Go::spawn(
            std::process::Command::new(&bin)
                .args(["-c", second_conf.to_str().unwrap()])
                .args(cluster)
                .args(["--routes", &routes]),
        );
        let (url, moved_to) = if websocket {
            (format!("ws://{first_ws}"), second_ws)
        } else {
            (
                format!("nats-leaf://{}", first.leaf_addr.unwrap()),
                second.leaf_addr.unwrap(),
            )
        };
        let leaf_conf = write(
            &d,
            &format!("leaf{websocket}.conf"),
            &format!("leafnodes {{ remotes [ {{ url: \"{url}\" }} ], reconnect: \"100ms\" }}\n"),
        );
        let mut leaf = Proc::start(&with_config(&leaf_conf, &["-a", "127.0.0.1", "-p", "-1"]));
        leaf.expect_log("Leafnode connection created");
        let on_leaf = client(leaf.addr()).await;
        let on_second = client(second.addr).await;
        // Through the first hub: the hubs are routed, and the leaf has had their INFOs.
        common::crossing::crosses_in_order(&on_second, &on_leaf, "before", PLAIN_MSGS).await;

        drop(first);
        let line = leaf.expect_log(&format!("{moved_to} - lid:"));
        assert!(line.contains("Leafnode connection created"), "{line}");
        common::crossing::crosses_in_order(&on_second, &on_leaf, "down", PLAIN_MSGS).await;
        common::crossing::crosses_in_order(&on_leaf, &on_second, "up", PLAIN_MSGS).await;
    }
}

/// A Riptide hub tells its leaf nodes the leaf URLs of its cluster's other servers, from
/// their route INFOs (`leafnode_urls`, which its own route INFO carries too): a Go leaf
/// dialed at the Riptide hub fails over to the Go hub routed to it when the Riptide hub is
/// killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_leaf_fails_over_from_a_riptide_hub() {
    let Some(bin) = go_server() else { return };
    let d = dir("failover-go");
    let hub_conf = write(&d, "hub.conf", "leafnodes { listen: 127.0.0.1:-1 }\n");
    let cluster = [
        "--cluster",
        "nats://127.0.0.1:-1",
        "--cluster_name",
        "hubs",
        "-m",
        "-1",
    ];
    let riptide = Proc::start(&with_config(&hub_conf, &cluster));
    let routes = format!("nats-route://{}", riptide.route_addr());
    let go = Go::spawn(
        std::process::Command::new(&bin)
            .args(["-c", hub_conf.to_str().unwrap()])
            .args(&cluster[..4])
            .args(["--routes", &routes]),
    );
    let go_leaf_url = go.leaf_addr.unwrap().to_string();
    // Riptide's leaf URLs now name the Go hub's: its INFO to a leaf will carry them.
    common::http::wait_for(riptide.monitor_addr(), "/routez", |v| {
        v["num_routes"].as_u64().is_some_and(|n| n > 0)
    });
    let info = common::Raw::connect(riptide.leaf_addr()).info;
    assert!(info.contains(&go_leaf_url), "{info}");

    let leaf_conf = write(
        &d,
        "leaf.conf",
        &format!(
            "leafnodes {{ remotes [ {{ url: \"nats-leaf://{}\" }} ] }}\n",
            riptide.leaf_addr()
        ),
    );
    let leaf = Go::start(&bin, &leaf_conf);
    let on_leaf = client(leaf.addr).await;
    let on_go = client(go.addr).await;
    common::crossing::crosses_in_order(&on_go, &on_leaf, "before", PLAIN_MSGS).await;

    drop(riptide);
    common::crossing::crosses_in_order(&on_go, &on_leaf, "down", PLAIN_MSGS).await;
    common::crossing::crosses_in_order(&on_leaf, &on_go, "up", PLAIN_MSGS).await;
}

/// S2 compression on leaf connections, negotiated as Go negotiates it, Riptide the spoke
/// of a Go hub and the hub of a Go spoke: each side writes with the mode it picked (both
/// servers' `/leafz` show it), and messages cross both ways intact, small ones and ones
/// larger than a compressed block. By default both sides are `s2_auto`, which on loopback
/// sends S2 frames stored as they are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_leaf_nodes() {
    let Some(bin) = go_server() else { return };
    let d = dir("s2");
    let setting = |mode: &str| match mode {
        "" => String::new(),
        m => format!(", compression: {m}"),
    };
    // Whether Riptide is the hub; its mode and Go's (empty for the default); what each
    // then writes with.
    let cases = [
        (false, "s2_fast", "", "s2_fast", "s2_uncompressed"),
        (true, "accept", "s2_best", "s2_best", "s2_best"),
        (false, "", "off", "off", "off"),
        (true, "", "", "s2_uncompressed", "s2_uncompressed"),
        (true, "s2_better", "accept", "s2_better", "s2_better"),
    ];
    for (i, (riptide_hub, ours, theirs, r_mode, g_mode)) in cases.into_iter().enumerate() {
        let (hub_mode, leaf_mode) = if riptide_hub {
            (ours, theirs)
        } else {
            (theirs, ours)
        };
        let hub_text = format!(
            "leafnodes {{ listen: 127.0.0.1:-1{} }}\n",
            setting(hub_mode)
        );
        let remote = |hub: SocketAddr| {
            format!(
                "leafnodes {{ remotes [ {{ url: \"nats-leaf://{hub}\"{} }} ] }}\n",
                setting(leaf_mode)
            )
        };
        let go_http = "http: 127.0.0.1:-1\n".to_string();
        let r;
        let g;
        if riptide_hub {
            let hub_conf = write(&d, &format!("hub{i}.conf"), &hub_text);
            r = Proc::start(&with_config(
                &hub_conf,
                &["-a", "127.0.0.1", "-p", "-1", "-m", "-1"],
            ));
            let text = go_http + &remote(r.leaf_addr());
            g = Go::start(&bin, &write(&d, &format!("go-leaf{i}.conf"), &text));
        } else {
            g = Go::start(
                &bin,
                &write(&d, &format!("go-hub{i}.conf"), &(go_http + &hub_text)),
            );
            let leaf_conf = write(&d, &format!("leaf{i}.conf"), &remote(g.leaf_addr.unwrap()));
            r = Proc::start(&with_config(
                &leaf_conf,
                &["-a", "127.0.0.1", "-p", "-1", "-m", "-1"],
            ));
        }
        let writes = |v: &serde_json::Value, mode: &str| {
            v["leafnodes"] == 1 && v["leafs"][0]["compression"] == mode
        };
        common::http::wait_for(r.monitor_addr(), "/leafz", |v| writes(v, r_mode));
        common::http::wait_for(g.http_addr.unwrap(), "/leafz", |v| writes(v, g_mode));
        let (on_r, on_g) = (client(r.addr()).await, client(g.addr).await);
        let (hubs, leafs) = if riptide_hub {
            ([on_r], [on_g])
        } else {
            ([on_g], [on_r])
        };
        check_both_ways(&hubs, &leafs).await;
        common::crossing::large_cross_intact(&hubs[0], &leafs[0], "bigdown").await;
        common::crossing::large_cross_intact(&leafs[0], &hubs[0], "bigup").await;
    }
}

/// A WebSocket port on a free loopback port, with the test certificate (`wss`) or without.
struct WsPort {
    /// Its `websocket {}` block.
    block: String,
    /// A leaf remote's URL for it, and the `tls {}` trusting the test CA for `wss`.
    remote: String,
}

impl WsPort {
    fn new(tls: bool, pki: &common::secure::Pki) -> WsPort {
        let addr = common::process::free_port();
        let (security, scheme, ca) = if tls {
            let ca = format!(", tls {{ ca_file: {:?} }}", pki.ca);
            (format!("tls {{ {} }}", pki.tls_lines()), "wss", ca)
        } else {
            ("no_tls: true".to_string(), "ws", String::new())
        };
        WsPort {
            block: format!("websocket {{ listen: \"{addr}\", {security} }}"),
            remote: format!("url: \"{scheme}://{addr}\"{ca}"),
        }
    }
}

/// A Riptide leaf node dials a Go hub's WebSocket port as Go's leaf nodes do
/// (`GET /leafnode`, its frames masked unless `ws_no_masking` is agreed, the leaf protocol
/// and its S2 compression inside the frames): over `ws://`, with and without masking, and
/// over `wss://` (TLS first, checked against the test CA); messages cross both ways.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaf_over_websocket() {
    let Some(bin) = go_server() else { return };
    let d = dir("ws");
    let pki = common::secure::Pki::new("leaf-ws");
    for (i, (tls, no_masking)) in [(false, false), (false, true), (true, false)]
        .into_iter()
        .enumerate()
    {
        let ws = WsPort::new(tls, &pki);
        let hub_conf = write(
            &d,
            &format!("hub{i}.conf"),
            &format!("{}\nleafnodes {{ listen: 127.0.0.1:-1 }}\n", ws.block),
        );
        let hub = Go::start(&bin, &hub_conf);
        let leaf_conf = write(
            &d,
            &format!("leaf{i}.conf"),
            &format!(
                "leafnodes {{ remotes [ {{ {}, ws_no_masking: {no_masking} }} ] }}\n",
                ws.remote
            ),
        );
        let mut leaf = Proc::start(&with_config(&leaf_conf, &["-a", "127.0.0.1", "-p", "-1"]));
        leaf.expect_log("Leafnode connection created");
        let (on_hub, on_leaf) = (client(hub.addr).await, client(leaf.addr()).await);
        check_both_ways(&[on_hub], &[on_leaf]).await;
    }
}

/// Go leaf nodes dial a Riptide hub's WebSocket port: the shard that accepted each socket
/// finds `/leafnode` in the upgrade request and hands the connection, TLS and all, to the
/// cluster shard, which answers the upgrade and serves the leaf. The hub runs three shards
/// and two leaf nodes dial it in each case, so most connections change shards: over
/// `ws://` with masked frames and S2 inside them (both sides' default `s2_auto`), with
/// `ws_no_masking` and no compression, and over `wss://`. Messages, requests and queue
/// groups cross both ways; `/leafz` lists both leaf nodes; the client port's counts are
/// not touched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_leaf_over_websocket() {
    let Some(bin) = go_server() else { return };
    let d = dir("go-ws");
    let pki = common::secure::Pki::new("go-leaf-ws");
    for (i, (tls, no_masking, compression)) in [
        (false, false, "s2_auto"),
        (false, true, "off"),
        (true, false, "s2_auto"),
    ]
    .into_iter()
    .enumerate()
    {
        let ws = WsPort::new(tls, &pki);
        let hub_conf = write(
            &d,
            &format!("hub{i}.conf"),
            &format!(
                "{}\nleafnodes {{ listen: 127.0.0.1:-1, compression: {compression} }}\nhttp: 127.0.0.1:-1\n",
                ws.block
            ),
        );
        let mut hub = Proc::start(&with_config(
            &hub_conf,
            &["-a", "127.0.0.1", "-p", "-1", "--shards", "3"],
        ));
        let mut leafs = Vec::new();
        for n in 0..2 {
            let leaf_conf = write(
                &d,
                &format!("leaf{i}-{n}.conf"),
                &format!(
                    "server_name: goleaf{n}\nleafnodes {{ remotes [ {{ {}, ws_no_masking: {no_masking}, compression: {compression} }} ] }}\n",
                    ws.remote
                ),
            );
            leafs.push(Go::start(&bin, &leaf_conf));
            hub.expect_log("Leafnode connection created");
        }
        let mut on_hub = Vec::new();
        for _ in 0..3 {
            on_hub.push(client(hub.addr()).await);
        }
        let on_leafs = vec![client(leafs[0].addr).await, client(leafs[1].addr).await];
        check_both_ways(&on_hub, &on_leafs).await;
        common::crossing::large_cross_intact(&on_hub[0], &on_leafs[0], "bigdown").await;
        common::crossing::large_cross_intact(&on_leafs[1], &on_hub[1], "bigup").await;

        let leafz = monitor_json(hub.monitor_addr(), "/leafz");
        assert_eq!(leafz["leafnodes"], 2, "{leafz}");
        let mut names: Vec<&str> = (leafz["leafs"].as_array().unwrap().iter())
            .map(|l| l["name"].as_str().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["goleaf0", "goleaf1"], "{leafz}");
        let want = if compression == "off" {
            "off"
        } else {
            "s2_uncompressed"
        };
        for l in leafz["leafs"].as_array().unwrap() {
            assert_eq!(l["compression"], want, "{leafz}");
        }
        let varz = monitor_json(hub.monitor_addr(), "/varz");
        assert_eq!(varz["leafnodes"], 2, "{varz}");
        assert_eq!(varz["connections"], 3, "only the hub's clients: {varz}");
        assert_eq!(varz["total_connections"], 3, "{varz}");
    }

    // Without a leaf node port, the request is refused as Go refuses it.
    let ws = WsPort::new(false, &pki);
    let hub_conf = write(&d, "no-leafs.conf", &ws.block);
    let mut hub = Proc::start(&with_config(&hub_conf, &["-a", "127.0.0.1", "-p", "-1"]));
    let leaf_conf = write(
        &d,
        "refused.conf",
        &format!("leafnodes {{ remotes [ {{ {} }} ] }}\n", ws.remote),
    );
    let _leaf = Go::start(&bin, &leaf_conf);
    hub.expect_log("[ERR] Not configured to accept leaf node connections");
}

/// A remote with `disabled: true` is not dialed, as in Go: of two remotes, the enabled one
/// connects and `/leafz` lists only it.
#[tokio::test]
async fn disabled_remote_is_not_dialed() {
    let Some(bin) = go_server() else { return };
    let d = dir("disabled");
    let hub = |name: &str| {
        let conf = format!("server_name: \"{name}\"\nleafnodes {{ listen: 127.0.0.1:-1 }}\n");
        Go::start(&bin, &write(&d, &format!("{name}.conf"), &conf))
    };
    let (off, on) = (hub("hub-off"), hub("hub-on"));
    let leaf_conf = write(
        &d,
        "leaf.conf",
        &format!(
            "http: 127.0.0.1:-1\nleafnodes {{ remotes [ {{ url: \"nats-leaf://{}\", disabled: true }}, {{ url: \"nats-leaf://{}\" }} ] }}\n",
            off.leaf_addr.unwrap(),
            on.leaf_addr.unwrap()
        ),
    );
    let mut leaf = Proc::start(&with_config(&leaf_conf, &["-a", "127.0.0.1", "-p", "-1"]));
    leaf.expect_log("Leafnode connection created");
    // Remotes are dialed side by side: the disabled one has had its chance by now, and
    // is looked for a while longer.
    for _ in 0..10 {
        let leafz = monitor_json(leaf.monitor_addr(), "/leafz");
        assert_eq!(leafz["leafnodes"], 1, "{leafz}");
        assert_eq!(leafz["leafs"][0]["name"], "hub-on", "{leafz}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What a hub's leaf node port answers a raw CONNECT naming `version`: every byte until it
/// closes, or until it has been quiet a while (a leaf it took).
fn leaf_answer(port: SocketAddr, version: &str) -> String {
    use std::io::{BufRead, Read, Write};
    let s = std::net::TcpStream::connect(port).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut r = std::io::BufReader::new(s.try_clone().unwrap());
    let mut info = String::new();
    r.read_line(&mut info).unwrap();
    let connect = format!(
        "CONNECT {{\"version\":\"{version}\",\"name\":\"raw\",\"server_id\":\"NRAW\",\"headers\":true}}\r\n"
    );
    (&s).write_all(connect.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = r.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// `min_version` on the hub: a leaf node older than it gets the INFO that binds its account,
/// then Go's `-ERR`, and is closed (`Minimum Version Required`, with Go's `[ERR]` line); a
/// newer one is taken. The same raw exchanges against Riptide and nats-server 2.15.1.
#[test]
fn leaf_older_than_min_version_is_refused() {
    let Some(bin) = go_server() else { return };
    let d = dir("min-version");
    let conf = write(
        &d,
        "hub.conf",
        "leafnodes { listen: 127.0.0.1:-1, min_version: \"2.99.0\" }\n",
    );
    let mut r = Proc::start(&with_config(&conf, &["-a", "127.0.0.1", "-p", "-1"]));
    let g = Go::start(&bin, &conf);
    let refusal = "-ERR 'connection rejected since minimum version required is \"2.99.0\"'\r\n";
    for port in [r.leaf_addr(), g.leaf_addr.unwrap()] {
        let old = leaf_answer(port, "2.10.0");
        let (info, rest) = old.split_once("\r\n").expect("an INFO first");
        assert!(
            info.starts_with("INFO {") && info.contains("\"connect_info\":true"),
            "{old}"
        );
        assert!(info.contains("\"remote_account\":\"$G\""), "{old}");
        assert_eq!(rest, refusal, "then the refusal and the end: {old}");
        let newer = leaf_answer(port, "2.100.1");
        assert!(newer.contains("\"connect_info\":true"), "{newer}");
        assert!(!newer.contains("-ERR"), "{newer}");
    }
    let line = r.expect_log(
        " - connection rejected since minimum version required is \"2.99.0\" - Account:$G",
    );
    assert!(line.contains("[ERR] 127.0.0.1:"), "{line}");
    let line = r.expect_log("Leafnode connection closed: Minimum Version Required");
    assert!(
        !line.contains("Remote:"),
        "not named before it is taken: {line}"
    );

    // Riptide as the spoke Go refuses: Go's lines, and the longer wait before dialing again.
    let spoke = write(
        &d,
        "spoke.conf",
        &format!(
            "leafnodes {{ remotes [ {{ url: \"nats-leaf://{}\" }} ] }}\n",
            g.leaf_addr.unwrap()
        ),
    );
    let mut s = Proc::start(&with_config(&spoke, &["-a", "127.0.0.1", "-p", "-1"]));
    s.expect_log(
        "Leafnode Error 'connection rejected since minimum version required is \"2.99.0\"'",
    );
    s.expect_log(
        "Leafnode connection dropped due to minimum version requirement. Delaying attempt to reconnect for 5s",
    );
}

/// A hub refuses a leaf node of its own cluster with Go's `-ERR`, and the spoke waits 30 s
/// before dialing again, with Go's lines: Riptide as the hub of a Go leaf and as the leaf
/// of a Go hub.
#[test]
fn leaf_of_the_hubs_own_cluster_is_refused() {
    let Some(bin) = go_server() else { return };
    let d = dir("same-cluster");
    let cluster = "cluster { name: same, listen: 127.0.0.1:-1 }\n";
    let hub_conf = write(
        &d,
        "hub.conf",
        &format!("{cluster}leafnodes {{ listen: 127.0.0.1:-1 }}\n"),
    );
    let spoke = |hub: SocketAddr| {
        let text =
            format!("{cluster}leafnodes {{ remotes [ {{ url: \"nats-leaf://{hub}\" }} ] }}\n");
        write(&d, &format!("spoke-{}.conf", hub.port()), &text)
    };
    let mut r = Proc::start(&with_config(&hub_conf, &["-a", "127.0.0.1", "-p", "-1"]));
    let _g = Go::start(&bin, &spoke(r.leaf_addr()));
    r.expect_log("Leafnode connection closed: Cluster Names Identical");

    let g = Go::start(&bin, &hub_conf);
    let mut s = Proc::start(&with_config(
        &spoke(g.leaf_addr.unwrap()),
        &["-a", "127.0.0.1", "-p", "-1"],
    ));
    s.expect_log("Leafnode Error 'remote leafnode has same cluster name'");
    s.expect_log(
        "Leafnode connection dropped with same cluster name error. Delaying attempt to reconnect for 30s",
    );
}

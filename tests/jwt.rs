//! Operator mode, Riptide and the Go server side by side: JWTs and `.creds` made by
//! `riptide::jwt::testkit` are accepted by nats-server 2.15.1 (`operator`, `resolver: MEMORY`,
//! `resolver_preload`), its refusals and configuration errors are recorded here and Riptide
//! gives the same answers to the same logins; JWT accounts, imports and limits work over
//! real sockets and with async-nats `.creds`. v1 JWTs (real ones from `tests/data/jwt-v1` and
//! ones signed here) are converted and checked as Go does it. The Go tests run only where the
//! Go binary is found (`.venv/bin/nats-server`, as `tests/oracle` installs it, or
//! `$NATS_SERVER`).

use crate::common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::go::{check_config, go_server, normalized, Go};
use common::process::{scratch_dir, write_file, BIN};
use common::Raw;
use riptide::jwt::claims::UserClaims;
use riptide::jwt::creds::Creds;
use riptide::jwt::testkit::{self, unix_now};
use serde_json::json;

const VIOLATION: &str = "-ERR 'Authorization Violation'\r\n";

/// `nats-server -t -c conf`: its exit code and stderr.
fn go_check(bin: &Path, conf: &Path) -> (i32, String) {
    check_config(&mut Command::new(bin), conf.to_str().unwrap())
}

fn nonce(c: &Raw) -> String {
    c.info_json()["nonce"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Connects and sends `CONNECT` with `creds`' JWT, signing the nonce unless `sign` is false.
fn connect_with(addr: SocketAddr, creds: &Creds, sign: bool) -> Raw {
    let mut c = Raw::connect(addr);
    let sig = if sign {
        format!(",\"sig\":\"{}\"", creds.sign_nonce(&nonce(&c)))
    } else {
        String::new()
    };
    c.send(
        format!(
            "CONNECT {{\"verbose\":false,\"pedantic\":false,\"jwt\":\"{}\"{sig}}}\r\n",
            creds.jwt
        )
        .as_bytes(),
    );
    c
}

/// Connects with `creds` (signing the nonce unless `sign` is false) and returns the reply to
/// `CONNECT` + `PING`: `PONG\r\n` or the `-ERR` line.
fn login(addr: SocketAddr, creds: &Creds, sign: bool) -> String {
    let mut c = connect_with(addr, creds, sign);
    c.send(b"PING\r\n");
    c.line()
}

/// An operator with a system account and an application account, preloaded.
struct World {
    dir: PathBuf,
    op: testkit::Operator,
    sys: testkit::Account,
    app: testkit::Account,
    /// An account signing key of `app`.
    app_signer: nkeys::KeyPair,
}

impl World {
    fn new(name: &str) -> World {
        let op = testkit::Operator::new("OP");
        let sys = testkit::Account::new("SYS");
        let mut app = testkit::Account::new("APP");
        let app_signer = app.add_signing_key();
        World {
            dir: scratch_dir(name),
            op,
            sys,
            app,
            app_signer,
        }
    }

    fn write(&self, file: &str, text: &str) -> PathBuf {
        write_file(&self.dir, file, text)
    }

    /// The configuration: the operator JWT in a file, both accounts preloaded; `extra` is
    /// appended.
    fn conf(&self, extra: &str) -> PathBuf {
        let op = self.write("op.jwt", &self.op.jwt());
        let sys_jwt = self.op.sign_account(&self.sys.claims());
        let app_jwt = self.op.sign_account(&self.app.claims());
        self.write(
            "server.conf",
            &format!(
                "operator: {op:?}\nsystem_account: {}\nresolver: MEMORY\nresolver_preload: {{\n  {}: {sys_jwt}\n  {}: {app_jwt}\n}}\n{extra}",
                self.sys.public_key(),
                self.sys.public_key(),
                self.app.public_key(),
            ),
        )
    }

    fn user(&self, edit: impl FnOnce(&mut UserClaims)) -> (testkit::User, Creds) {
        let u = testkit::User::new("alice");
        let mut c = u.claims();
        edit(&mut c);
        let jwt = self.app.sign_user(&c);
        let creds = u.creds(&jwt);
        (u, creds)
    }
}

/// What nats-server 2.15.1 answers each login of [`login_cases`] with.
const LOGIN_EXPECTED: [(&str, &str); 10] = [
    ("good", "PONG\r\n"),
    ("unsigned", VIOLATION),
    ("expired", VIOLATION),
    ("bearer", "PONG\r\n"),
    ("wrong issuer", VIOLATION),
    ("signing key", "PONG\r\n"),
    ("bad sig", VIOLATION),
    ("websocket only", VIOLATION),
    ("src", VIOLATION),
    ("unknown account", VIOLATION),
];

/// Logs in to the server at `addr` with good and bad user JWTs of `w`; the replies.
fn login_cases(addr: SocketAddr, w: &World) -> Vec<(&'static str, String)> {
    let (_, good) = w.user(|_| {});
    // The creds file round trips through its text form, as clients read it.
    let good =
        Creds::parse(&std::fs::read_to_string(w.write("alice.creds", &good.format())).unwrap())
            .unwrap();
    let mut replies = Vec::new();
    replies.push(("good", login(addr, &good, true)));
    replies.push(("unsigned", login(addr, &good, false)));
    let (_, expired) = w.user(|c| c.claims.expires = unix_now() - 60);
    replies.push(("expired", login(addr, &expired, true)));
    let (_, bearer) = w.user(|c| c.nats.limits.bearer_token = true);
    replies.push(("bearer", login(addr, &bearer, false)));
    // Signed by a key the account does not list.
    let rogue = nkeys::KeyPair::new_account();
    let u = testkit::User::new("mallory");
    let mut c = u.claims();
    c.nats.issuer_account = w.app.public_key();
    replies.push((
        "wrong issuer",
        login(addr, &u.creds(&testkit::encode(&c, &rogue)), true),
    ));
    replies.push((
        "signing key",
        login(addr, &u.creds(&testkit::encode(&c, &w.app_signer)), true),
    ));
    // Signed with another key than the user's own.
    let other = testkit::User::new("x");
    replies.push(("bad sig", login(addr, &other.creds(&good.jwt), true)));
    let (_, ws_only) =
        w.user(|c| c.nats.limits.allowed_connection_types = vec!["WEBSOCKET".into()]);
    replies.push(("websocket only", login(addr, &ws_only, true)));
    let (_, far) = w.user(|c| c.nats.limits.limits.src = vec!["10.0.0.0/8".into()]);
    replies.push(("src", login(addr, &far, true)));
    let stranger = testkit::Account::new("STRANGER");
    let s = testkit::User::new("s");
    replies.push((
        "unknown account",
        login(addr, &s.creds(&stranger.sign_user(&s.claims())), true),
    ));
    replies
}

fn assert_login_replies(got: &[(&str, String)]) {
    let got: Vec<(&str, &str)> = got.iter().map(|(w, r)| (*w, r.as_str())).collect();
    assert_eq!(got, LOGIN_EXPECTED);
}

#[test]
fn go_server_accepts_testkit_jwts_and_refuses_as_recorded() {
    let Some(bin) = go_server() else { return };
    let w = World::new("jwt-go-login");
    let go = Go::start(&bin, &w.conf(""));
    assert_login_replies(&login_cases(go.addr, &w));
}

/// Riptide on the same configuration file.
fn riptide(conf: &Path) -> riptide::runtime::Running {
    let mut cfg = common::config(2);
    riptide::config_file::load(conf, &mut cfg, false).expect("configuration loads");
    common::start_with(cfg)
}

#[test]
fn riptide_answers_the_logins_as_go_does() {
    let w = World::new("jwt-riptide-login");
    let srv = riptide(&w.conf(""));
    assert_login_replies(&login_cases(srv.addr, &w));
}

/// Logs in with `creds`, protocol 1; returns the connection and its async INFO.
fn session(addr: SocketAddr, creds: &Creds) -> (Raw, serde_json::Value) {
    let mut c = Raw::connect(addr);
    let sig = creds.sign_nonce(&nonce(&c));
    c.send(
        format!(
            "CONNECT {{\"verbose\":false,\"protocol\":1,\"jwt\":\"{}\",\"sig\":\"{sig}\"}}\r\nPING\r\n",
            creds.jwt
        )
        .as_bytes(),
    );
    assert_eq!(c.line(), "PONG\r\n");
    let v = common::info_json(&c.line());
    (c, v)
}

#[test]
fn jwt_accounts_are_isolated_and_share_what_their_claims_export() {
    let mut w = World::new("jwt-riptide-accounts");
    w.app
        .claims
        .nats
        .exports
        .push(riptide::jwt::claims::Export {
            subject: "events.>".into(),
            ..Default::default()
        });
    w.sys
        .claims
        .nats
        .imports
        .push(riptide::jwt::claims::Import {
            subject: "events.>".into(),
            account: w.app.public_key(),
            local_subject: "app.events.>".into(),
            ..Default::default()
        });
    let srv = riptide(&w.conf(""));
    let (_, alice) = w.user(|_| {});
    let bob = testkit::User::new("bob");
    let bob = bob.creds(&w.sys.sign_user(&bob.claims()));
    let (mut a, info) = session(srv.addr, &alice);
    assert_eq!(info["remote_account"], w.app.public_key().as_str());
    let (mut b, info) = session(srv.addr, &bob);
    assert_eq!(info["remote_account"], w.sys.public_key().as_str());
    // Not `>`: this is the system account, where the server's own events arrive too.
    b.send(b"SUB app.> 1\r\nSUB other 1\r\nSUB events.> 1\r\n");
    b.sync();
    a.send(b"PUB events.x 2\r\nhi\r\nPUB other 1\r\nn\r\n");
    a.sync();
    let want = b"MSG app.events.x 1 2\r\nhi\r\n";
    assert_eq!(b.read_n(want.len()), want);
    assert_eq!(b.sync(), b"", "nothing else crosses");
}

#[test]
fn jwt_limits_apply_to_the_connection() {
    let w = World::new("jwt-riptide-limits");
    let srv = riptide(&w.conf(""));
    let (_, few) = w.user(|c| {
        c.nats.limits.limits.subs = 1;
        c.nats.limits.limits.payload = 4;
    });
    let (mut c, _) = session(srv.addr, &few);
    c.send(b"SUB a 1\r\nSUB b 2\r\n");
    assert_eq!(c.sync(), b"-ERR 'maximum subscriptions exceeded'\r\n");
    c.send(b"PUB a 5\r\nhello\r\n");
    assert_eq!(c.read_to_close(), b"-ERR 'Maximum Payload Violation'\r\n");
    // A user JWT that runs out while connected is cut off as Go does it.
    let (_, soon) = w.user(|c| c.claims.expires = unix_now() + 2);
    let (mut c, _) = session(srv.addr, &soon);
    assert_eq!(c.read_to_close(), b"-ERR 'User Authentication Expired'\r\n");
}

/// A second client of an account whose JWT allows one connection: what it is told, as
/// nats-server 2.15.1 tells it; then, once the first left, a third gets in.
fn account_connection_limit(addr: SocketAddr, w: &World) {
    let (_, alice) = w.user(|_| {});
    let (first, _) = session(addr, &alice);
    assert_eq!(
        login(addr, &alice, true),
        "-ERR 'maximum account active connections exceeded'\r\n"
    );
    drop(first);
    // The server learns of the close asynchronously: bounded retries.
    for _ in 0..500 {
        if login(addr, &alice, true) == "PONG\r\n" {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("the account's slot never came free");
}

fn one_connection_world(name: &str) -> World {
    let mut w = World::new(name);
    w.app.claims.nats.limits.conn = 1;
    w
}

#[test]
fn go_limits_an_accounts_connections() {
    let Some(bin) = go_server() else { return };
    let w = one_connection_world("jwt-go-conn");
    let go = Go::start(&bin, &w.conf(""));
    account_connection_limit(go.addr, &w);
}

#[test]
fn riptide_limits_an_accounts_connections_as_go_does() {
    let w = one_connection_world("jwt-riptide-conn");
    let srv = riptide(&w.conf(""));
    account_connection_limit(srv.addr, &w);
}

/// A browser cannot set CONNECT's `jwt` from a cookie jar: with `jwt_cookie`, the WebSocket
/// upgrade's cookie is the user JWT (a bearer token here, so no nonce signature).
#[test]
fn websocket_jwt_cookie_logs_in() {
    use tungstenite::client::IntoClientRequest;
    let w = World::new("jwt-riptide-ws-cookie");
    let srv = riptide(
        &w.conf("websocket { listen: \"127.0.0.1:-1\", no_tls: true, jwt_cookie: my_jwt }\n"),
    );
    let at = srv.ws_addr.expect("websocket listener");
    let (_, bearer) = w.user(|c| c.nats.limits.bearer_token = true);
    let open = |cookie: Option<&str>| {
        let mut req = format!("ws://{at}/").into_client_request().unwrap();
        if let Some(c) = cookie {
            req.headers_mut().insert("Cookie", c.parse().unwrap());
        }
        let tcp = std::net::TcpStream::connect(at).unwrap();
        tcp.set_read_timeout(Some(common::IO_TIMEOUT)).unwrap();
        let (ws, _) = tungstenite::client(req, tcp).unwrap();
        let mut c = Raw::over(common::secure::WsStream::over(ws));
        c.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n");
        c.line()
    };
    assert_eq!(open(Some(&format!("my_jwt={}", bearer.jwt))), "PONG\r\n");
    assert_eq!(open(None), VIOLATION);
}

#[tokio::test]
async fn async_nats_logs_in_with_a_creds_file() {
    let w = World::new("jwt-riptide-async");
    let srv = riptide(&w.conf(""));
    let (_, creds) = w.user(|_| {});
    let path = w.write("user.creds", &creds.format());
    let nc = async_nats::ConnectOptions::with_credentials_file(path)
        .await
        .unwrap()
        .connect(format!("nats://{}", srv.addr))
        .await
        .unwrap();
    let mut sub = nc.subscribe("greet").await.unwrap();
    nc.publish("greet", "hi".into()).await.unwrap();
    let m = tokio::time::timeout(common::IO_TIMEOUT, futures::StreamExt::next(&mut sub))
        .await
        .expect("delivered in time")
        .unwrap();
    assert_eq!(m.payload, "hi");
}

/// Starts the Go server on `conf`: `None` once it is ready (then stopped), or its last line
/// when it exits first.
fn go_start_error(bin: &Path, conf: &Path) -> Option<String> {
    let mut child = Command::new(bin)
        .args(["-c", conf.to_str().unwrap(), "-a", "127.0.0.1", "-p", "-1"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let r = BufReader::new(child.stderr.take().unwrap());
    let mut last = None;
    for l in r.lines().map_while(Result::ok) {
        if l.contains("Server is ready") {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        last = Some(l);
    }
    let _ = child.wait();
    last
}

/// What the Go server says when it starts on operator mode settings that `-t` accepts, and
/// its refusals of accounts it cannot use and of a user JWT that expires while connected.
#[test]
fn go_start_up_and_account_refusals() {
    let Some(bin) = go_server() else { return };
    let w = World::new("jwt-go-start");
    let op = w.write("op.jwt", &w.op.jwt());
    let preload = |key: &str, jwt: &str| {
        format!("operator: {op:?}\nresolver: MEMORY\nresolver_preload: {{ {key}: {jwt} }}\n")
    };
    let unknown = testkit::Account::new("U");
    let mut sys_op = testkit::Operator::new("O2");
    sys_op.claims.nats.system_account = w.sys.public_key();
    let sys_op = w.write("op2.jwt", &sys_op.jwt());
    let mut expired = w.app.claims();
    expired.claims.expires = unix_now() - 10;
    let expired = w.op.sign_account(&expired);
    let cases = [
        ("resolver: MEMORY\n".to_string(), None),
        (format!("operator: {op:?}\n"), Some("nats-server: could not fetch <\"/accounts/\">: Get \"/accounts/\": unsupported protocol scheme \"\"")),
        (format!("operator: {op:?}\nresolver: MEMORY\nauthorization {{ users: [ {{user: a, password: b}} ] }}\n"), Some("nats-server: operators do not allow users to be configured directly")),
        (format!("operator: {op:?}\nresolver: MEMORY\naccounts {{ A {{ }} }}\n"), Some("nats-server: operators do not allow Accounts to be configured directly")),
        (format!("operator: {op:?}\nresolver: MEMORY\nno_auth_user: a\n"), Some("nats-server: no_auth_user not compatible with Trusted Operator")),
        (format!("operator: {op:?}\nresolver: MEMORY\nsystem_account: SYS\n"), Some("nats-server: error resolving system account: will only fetch valid account keys")),
        (format!("operator: {op:?}\nresolver: MEMORY\nsystem_account: {}\n", unknown.public_key()), Some("nats-server: error resolving system account: account missing")),
        (format!("operator: {sys_op:?}\nresolver: MEMORY\n"), Some("nats-server: error resolving system account: account missing")),
        (std::fs::read_to_string(w.conf("")).unwrap(), None),
        (preload(&w.app.public_key(), &expired), None),
        (preload(&w.app.public_key(), &testkit::Operator::new("X").sign_account(&w.app.claims())), None),
    ];
    for (text, want) in cases {
        let conf = w.write("case.conf", &text);
        assert_eq!(go_check(&bin, &conf).0, 0, "{text}");
        assert_eq!(go_start_error(&bin, &conf).as_deref(), want, "{text}");
    }
    // Accounts stored under another key than their own, expired, or signed by an operator
    // not trusted let no user in.
    let (_, u) = w.user(|_| {});
    let other = testkit::Operator::new("X").sign_account(&w.app.claims());
    let app_jwt = w.op.sign_account(&w.app.claims());
    for conf in [
        preload(&w.sys.public_key(), &app_jwt),
        preload(&w.app.public_key(), &expired),
        preload(&w.app.public_key(), &other),
    ] {
        let go = Go::start(&bin, &w.write("case.conf", &conf));
        assert_eq!(login(go.addr, &u, true), VIOLATION, "{conf}");
    }
    // A user JWT that expires while connected.
    let go = Go::start(&bin, &w.conf(""));
    let (_, soon) = w.user(|c| c.claims.expires = unix_now() + 2);
    let mut c = Raw::connect(go.addr);
    let sig = soon.sign_nonce(&nonce(&c));
    let connect = format!(
        "CONNECT {{\"verbose\":false,\"pedantic\":false,\"jwt\":\"{}\",\"sig\":\"{sig}\"}}\r\nPING\r\n",
        soon.jwt
    );
    c.send(connect.as_bytes());
    assert_eq!(c.line(), "PONG\r\n");
    assert_eq!(c.read_to_close(), b"-ERR 'User Authentication Expired'\r\n");
}

#[test]
fn go_configuration_errors() {
    let Some(bin) = go_server() else { return };
    let w = World::new("jwt-go-conf");
    let cases = [
        ("missing operator file", "operator: /nonexistent/op.jwt\n".to_string()),
        ("bad operator jwt", format!("operator: {:?}\n", w.write("bad.jwt", "not a jwt"))),
        ("resolver without operator", "resolver: MEMORY\n".to_string()),
        ("operator without resolver", format!("operator: {:?}\n", w.write("op2.jwt", &w.op.jwt()))),
        ("preload not a map", format!("operator: {:?}\nresolver: MEMORY\nresolver_preload: 1\n", w.write("op3.jwt", &w.op.jwt()))),
        ("preload bad jwt", format!("operator: {:?}\nresolver: MEMORY\nresolver_preload: {{ {}: abc }}\n", w.write("op4.jwt", &w.op.jwt()), w.app.public_key())),
        ("preload key mismatch", format!("operator: {:?}\nresolver: MEMORY\nresolver_preload: {{ {}: {} }}\n", w.write("op5.jwt", &w.op.jwt()), w.sys.public_key(), w.op.sign_account(&w.app.claims()))),
        ("preload user jwt", format!("operator: {:?}\nresolver: MEMORY\nresolver_preload: {{ {}: {} }}\n", w.write("op6.jwt", &w.op.jwt()), w.app.public_key(), w.app.sign_user(&testkit::User::new("u").claims()))),
        ("bad resolver", format!("operator: {:?}\nresolver: FOO\n", w.write("op7.jwt", &w.op.jwt()))),
        ("resolver number", format!("operator: {:?}\nresolver: 1\n", w.write("op8.jwt", &w.op.jwt()))),
        ("users in operator mode", format!("operator: {:?}\nresolver: MEMORY\nauthorization {{ users: [ {{user: a, password: b}} ] }}\n", w.write("op9.jwt", &w.op.jwt()))),
        ("accounts in operator mode", format!("operator: {:?}\nresolver: MEMORY\naccounts {{ A {{ users: [ {{user: a, password: b}} ] }} }}\n", w.write("op10.jwt", &w.op.jwt()))),
        ("inline operator jwt", format!("operator: {}\nresolver: MEMORY\n", w.op.jwt())),
        ("operator list", format!("operator: [{:?}]\nresolver: MEMORY\n", w.write("op11.jwt", &w.op.jwt()))),
        ("operator number", "operator: 1\nresolver: MEMORY\n".to_string()),
        ("account jwt as operator", format!("operator: {:?}\nresolver: MEMORY\n", w.write("acc.jwt", &w.op.sign_account(&w.app.claims())))),
        ("system account unknown", format!("operator: {:?}\nresolver: MEMORY\nsystem_account: {}\n", w.write("op12.jwt", &w.op.jwt()), w.app.public_key())),
        ("system account number", format!("operator: {:?}\nresolver: MEMORY\nsystem_account: 1\n", w.write("op13.jwt", &w.op.jwt()))),
        ("no_auth_user in operator mode", format!("operator: {:?}\nresolver: MEMORY\nno_auth_user: a\n", w.write("op14.jwt", &w.op.jwt()))),
        ("token in operator mode", format!("operator: {:?}\nresolver: MEMORY\nauthorization {{ token: abc }}\n", w.write("op15.jwt", &w.op.jwt()))),
    ];
    // `-t` only reads the file: operator mode's own checks wait for the start (above).
    let expected = [
        ("missing operator file", Some("1:0: error parsing operator JWT: open /nonexistent/op.jwt: no such file or directory")),
        ("bad operator jwt", Some("1:0: error parsing operator JWT: expected 3 chunks")),
        ("resolver without operator", None),
        ("operator without resolver", None),
        ("preload not a map", Some("3:1: preload should be a map of account_public_key:account_jwt")),
        ("preload bad jwt", Some("3:21: invalid account JWT")),
        ("preload key mismatch", None),
        ("preload user jwt", Some("3:21: invalid account JWT")),
        ("bad resolver", Some("2:1: error parsing account resolver, should be MEM or  URL(\"url\") or a map containing dir and type state=[FULL|CACHE])")),
        ("resolver number", Some("2:1: error parsing operator resolver, wrong type int64")),
        ("users in operator mode", None),
        ("accounts in operator mode", None),
        ("inline operator jwt", None),
        ("operator list", None),
        ("operator number", Some("1:0: error parsing operators: unsupported type int64")),
        ("account jwt as operator", Some("1:0: error parsing operator JWT: not operator claim")),
        ("system account unknown", None),
        ("system account number", Some("3:1: system account name must be a string")),
        ("no_auth_user in operator mode", None),
        ("token in operator mode", None),
    ];
    assert_eq!(cases.len(), expected.len());
    for ((what, text), (name, want)) in cases.into_iter().zip(expected) {
        assert_eq!(what, name);
        let conf = w.write("case.conf", &text);
        let (code, err) = go_check(&bin, &conf);
        match want {
            None => assert_eq!(code, 0, "{what}: {err}"),
            Some(msg) => {
                assert_eq!(code, 1, "{what}");
                assert_eq!(
                    err,
                    format!("nats-server: {}:{msg}\n\n", conf.display()),
                    "{what}"
                );
            }
        }
    }
}

/// Real v1 JWTs (`tests/data/jwt-v1/README.md`).
const V1_DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/jwt-v1");
/// The real v1 system account, as nats-server's `test/configs/resolver_preload.conf` has it.
const V1_SYSTEM: &str = "AD2VB6C25DQPEUUQ7KJBUFX2J4ZNVBPOHSCBISC7VFZXVWXZA7VASQZG";
/// The account of the real v1 `user.creds`.
const V1_ACCOUNT: &str = "ACZSWBJ4SYILK7QVDELO64VX3EFWB6CXCPMEBUKA36MJJQRPXGEEQ2WJ";

fn v1_data(file: &str) -> String {
    std::fs::read_to_string(format!("{V1_DATA}/{file}")).unwrap()
}

/// The limits `nsc` wrote into v1 account JWTs: everything unlimited.
fn v1_unlimited() -> serde_json::Value {
    json!({"subs": -1, "conn": -1, "leaf": -1, "imports": -1, "exports": -1, "data": -1,
        "payload": -1, "wildcards": true})
}

/// The real v1 operator and accounts beside a v1 operator made here (with a signing key), its
/// v1 accounts and a v2 one.
struct V1World {
    dir: PathBuf,
    op: testkit::Operator,
    op_signer: nkeys::KeyPair,
    app: testkit::Account,
    app_signer: nkeys::KeyPair,
    /// `"limits": {}`: no connection allowed.
    no_limits: testkit::Account,
    no_bearer: testkit::Account,
    v2: testkit::Account,
    revoked: testkit::User,
}

impl V1World {
    fn new(name: &str) -> V1World {
        V1World {
            dir: scratch_dir(name),
            op: testkit::Operator::new("OP1"),
            op_signer: nkeys::KeyPair::new_operator(),
            app: testkit::Account::new("APP"),
            app_signer: nkeys::KeyPair::new_account(),
            no_limits: testkit::Account::new("NOLIMITS"),
            no_bearer: testkit::Account::new("NOBEARER"),
            v2: testkit::Account::new("V2"),
            revoked: testkit::User::new("revoked"),
        }
    }

    fn write(&self, file: &str, text: &str) -> PathBuf {
        write_file(&self.dir, file, text)
    }

    fn op_jwt(&self) -> String {
        testkit::encode_v1(
            &json!({"sub": self.op.public_key(), "name": "OP1", "type": "operator",
                "nats": {"signing_keys": [self.op_signer.public_key()]}}),
            self.op.key_pair(),
        )
    }

    fn account(&self, acc: &testkit::Account, nats: serde_json::Value) -> String {
        testkit::encode_v1(
            &json!({"sub": acc.public_key(), "type": "account", "nats": nats}),
            &self.op_signer,
        )
    }

    /// Both operators, the real system account, and the accounts preloaded.
    fn conf(&self) -> PathBuf {
        let op = self.write("op1.jwt", &self.op_jwt());
        let app = self.account(
            &self.app,
            json!({"limits": v1_unlimited(), "signing_keys": [self.app_signer.public_key()],
                "revocations": {self.revoked.public_key(): unix_now()}}),
        );
        let no_limits = self.account(&self.no_limits, json!({"limits": {}}));
        let mut no_bearer = v1_unlimited();
        no_bearer["disallow_bearer"] = true.into();
        let no_bearer = self.account(&self.no_bearer, json!({ "limits": no_bearer }));
        let v2 = testkit::encode(&self.v2.claims(), &self.op_signer);
        let preload = [
            (V1_SYSTEM.to_string(), v1_data(&format!("{V1_SYSTEM}.jwt"))),
            (
                V1_ACCOUNT.to_string(),
                v1_data(&format!("{V1_ACCOUNT}.jwt")),
            ),
            (self.app.public_key(), app),
            (self.no_limits.public_key(), no_limits),
            (self.no_bearer.public_key(), no_bearer),
            (self.v2.public_key(), v2),
        ]
        .iter()
        .map(|(k, jwt)| format!("  {k}: {}\n", jwt.trim()))
        .collect::<String>();
        self.write(
            "v1.conf",
            &format!(
                "operators: [\"{V1_DATA}/op.jwt\", {op:?}]\nsystem_account: {V1_SYSTEM}\nresolver: MEMORY\nresolver_preload: {{\n{preload}}}\n"
            ),
        )
    }

    /// A v1 user JWT of `u` signed by `key`, `top` added to its top-level fields.
    fn user(
        &self,
        u: &testkit::User,
        key: &nkeys::KeyPair,
        top: serde_json::Value,
        nats: serde_json::Value,
    ) -> Creds {
        let mut claims = json!({"sub": u.public_key(), "name": "u", "type": "user", "nats": nats});
        for (k, v) in top.as_object().unwrap() {
            claims[k] = v.clone();
        }
        u.creds(&testkit::encode_v1(&claims, key))
    }
}

/// Logs in, then subscribes to `a` and `b` and publishes to `a`: all the server answers, up
/// to the PONG after that or its close.
fn v1_session(addr: SocketAddr, creds: &Creds, sign: bool) -> String {
    let mut c = connect_with(addr, creds, sign);
    let mut out = c.reply();
    if out.ends_with(b"PONG\r\n") {
        c.send(b"SUB a 1\r\nSUB b 2\r\nPUB a 2\r\nhi\r\n");
        out.extend(c.reply());
    }
    String::from_utf8(out).unwrap()
}

const V1_SERVED: &str = "PONG\r\nMSG a 1 2\r\nhi\r\nPONG\r\n";

/// What nats-server 2.15.1 answers each session of [`v1_cases`] with.
const V1_EXPECTED: [(&str, &str); 18] = [
    ("real v1 creds", V1_SERVED),
    ("real v1 creds unsigned", VIOLATION),
    ("v1 user", V1_SERVED),
    (
        "v1 subs limit",
        "PONG\r\n-ERR 'maximum subscriptions exceeded'\r\nMSG a 1 2\r\nhi\r\nPONG\r\n",
    ),
    (
        "v1 publish allow",
        "PONG\r\n-ERR 'Permissions Violation for Publish to \"a\"'\r\nPONG\r\n",
    ),
    ("v1 signing key, issuer_account at the top", V1_SERVED),
    ("v1 signing key, issuer_account in nats", VIOLATION),
    ("v1 src list as a string", V1_SERVED),
    ("v1 src elsewhere", VIOLATION),
    ("v1 max and connection types ignored", V1_SERVED),
    ("v1 signed over header and payload", VIOLATION),
    ("v1 revoked", VIOLATION),
    ("v1 expired", VIOLATION),
    ("v1 bearer", V1_SERVED),
    ("v1 bearer disallowed", VIOLATION),
    (
        "v1 account without limits",
        "-ERR 'maximum account active connections exceeded'\r\n",
    ),
    ("v2 user of a v1 account", V1_SERVED),
    ("v2 user of a v2 account of a v1 operator", V1_SERVED),
];

fn v1_cases(addr: SocketAddr, w: &V1World) -> Vec<(&'static str, String)> {
    let real = Creds::parse(&v1_data("user.creds")).unwrap();
    let u = testkit::User::new("u");
    let app = w.app.key_pair();
    let user = |top, nats| w.user(&u, app, top, nats);
    let mut out = vec![
        ("real v1 creds", v1_session(addr, &real, true)),
        ("real v1 creds unsigned", v1_session(addr, &real, false)),
    ];
    let signed = [
        ("v1 user", user(json!({}), json!({"pub": {}, "sub": {}}))),
        ("v1 subs limit", user(json!({}), json!({"subs": 1}))),
        (
            "v1 publish allow",
            user(json!({}), json!({"pub": {"allow": ["b"]}})),
        ),
        (
            "v1 signing key, issuer_account at the top",
            w.user(
                &u,
                &w.app_signer,
                json!({"issuer_account": w.app.public_key()}),
                json!({}),
            ),
        ),
        (
            "v1 signing key, issuer_account in nats",
            w.user(
                &u,
                &w.app_signer,
                json!({}),
                json!({"issuer_account": w.app.public_key()}),
            ),
        ),
        (
            "v1 src list as a string",
            user(json!({}), json!({"src": "10.0.0.0/8, 127.0.0.1/32"})),
        ),
        (
            "v1 src elsewhere",
            user(json!({}), json!({"src": "10.0.0.0/8"})),
        ),
        (
            "v1 max and connection types ignored",
            user(
                json!({}),
                json!({"max": 5, "allowed_connection_types": ["WEBSOCKET"]}),
            ),
        ),
        ("v1 signed over header and payload", {
            let token = user(json!({}), json!({})).jwt;
            let (signed, _) = token.rsplit_once('.').unwrap();
            let sig = app.sign(signed.as_bytes()).unwrap();
            u.creds(&format!(
                "{signed}.{}",
                data_encoding::BASE64URL_NOPAD.encode(&sig)
            ))
        }),
        (
            "v1 revoked",
            w.user(&w.revoked, app, json!({"iat": unix_now() - 60}), json!({})),
        ),
        (
            "v1 expired",
            user(json!({"exp": unix_now() - 60}), json!({})),
        ),
    ];
    for (name, creds) in signed {
        out.push((name, v1_session(addr, &creds, true)));
    }
    let bearer = json!({"bearer_token": true});
    out.push((
        "v1 bearer",
        v1_session(addr, &user(json!({}), bearer.clone()), false),
    ));
    let no_bearer = w.user(&u, w.no_bearer.key_pair(), json!({}), bearer);
    out.push(("v1 bearer disallowed", v1_session(addr, &no_bearer, false)));
    let none = w.user(&u, w.no_limits.key_pair(), json!({}), json!({}));
    out.push(("v1 account without limits", v1_session(addr, &none, true)));
    let of_v1 = u.creds(&w.app.sign_user(&u.claims()));
    out.push(("v2 user of a v1 account", v1_session(addr, &of_v1, true)));
    let of_v2 = u.creds(&w.v2.sign_user(&u.claims()));
    out.push((
        "v2 user of a v2 account of a v1 operator",
        v1_session(addr, &of_v2, true),
    ));
    out
}

fn assert_v1_replies(server: &str, got: &[(&str, String)]) {
    let got: Vec<(&str, &str)> = got.iter().map(|(w, r)| (*w, r.as_str())).collect();
    assert_eq!(got, V1_EXPECTED, "{server}");
}

/// v1 operator, account and user JWTs, real ones and made here, on both servers: the same
/// answers to the same sessions. Riptide is checked against Go's recorded answers even where
/// the Go binary is missing.
#[test]
fn v1_claims_are_converted_as_go_converts_them() {
    let w = V1World::new("jwt-v1-sessions");
    let conf = w.conf();
    let srv = riptide(&conf);
    assert_v1_replies("riptide", &v1_cases(srv.addr, &w));
    let Some(bin) = go_server() else {
        return;
    };
    let go = Go::start(&bin, &conf);
    assert_v1_replies("nats-server", &v1_cases(go.addr, &w));
}

/// `-t` on v1 configurations: Riptide's verdict and message are Go's.
#[test]
fn v1_configuration_checks_as_go_checks_them() {
    let w = V1World::new("jwt-v1-check");
    let good = w.conf();
    let op = w.op_jwt();
    let (signed, _) = op.rsplit_once('.').unwrap();
    // Another JWT of the same operator: another `jti`, so another signature.
    let other_sig = w.op_jwt();
    let tampered = format!("{signed}.{}", other_sig.rsplit_once('.').unwrap().1);
    let unversioned = testkit::encode_v1(
        &json!({"sub": w.op.public_key(), "nats": {"type": "operator"}}),
        w.op.key_pair(),
    );
    let scoped = w.account(
        &w.app,
        json!({"signing_keys": [{"kind": "user_template", "key": w.app_signer.public_key()}]}),
    );
    let user = w.user(
        &testkit::User::new("u"),
        w.app.key_pair(),
        json!({}),
        json!({}),
    );
    let cases = [
        ("v1 world", std::fs::read_to_string(&good).unwrap(), None),
        (
            "tampered v1 operator",
            format!("operator: {tampered}\nresolver: MEMORY\n"),
            Some("1:0: error parsing operator JWT: claim failed V1 signature verification"),
        ),
        (
            "operator without version",
            format!("operator: {unversioned}\nresolver: MEMORY\n"),
            Some(
                "1:0: error parsing operator JWT: library supports version 2 or less - received 0",
            ),
        ),
        (
            "v1 user as operator",
            format!("operator: {}\nresolver: MEMORY\n", user.jwt),
            Some("1:0: error parsing operator JWT: not operator claim"),
        ),
        (
            "v1 account with a scoped signing key",
            format!(
                "operator: {op}\nresolver: MEMORY\nresolver_preload: {{\n  {}: {scoped}\n}}\n",
                w.app.public_key()
            ),
            Some("4:3: invalid account JWT"),
        ),
    ];
    let go = go_server();
    for (what, text, want) in cases {
        let conf = w.write("case.conf", &text);
        let path = conf.display();
        let want = match want {
            None => (0, vec![format!("configuration file {path} is valid")]),
            Some(msg) => (1, vec![format!("{path}:{msg}")]),
        };
        let (code, out) = check_config(&mut Command::new(BIN), conf.to_str().unwrap());
        assert_eq!(
            (code, normalized(&out, "riptide: ")),
            want,
            "riptide: {what}"
        );
        if let Some(bin) = &go {
            let (code, out) = go_check(bin, &conf);
            assert_eq!(
                (code, normalized(&out, "nats-server: ")),
                want,
                "nats-server: {what}"
            );
        }
    }
}

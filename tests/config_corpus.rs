//! The configuration corpus (`tests/config_corpus/`): real-world nats-server configuration
//! files, each checked with `-t` by nats-server 2.15.1 and by Riptide, which must agree (both
//! valid, or both refusing with the same message, syntax errors and errors in included files
//! included). Every file both accept is then run by both servers on loopback, and
//! the same scripted clients (each user of the file, a wrong password, SUB/PUB on a set of
//! subjects, PING) must get the same bytes from both, INFO included with its per-server
//! fields masked. Runs only where the Go binary is found (`common::go`).

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use common::go::{check_config, go_server, normalized, Go};
use common::process::{scratch_dir, Proc, BIN};
use common::secure::Pki;
use common::{Raw, Stream};
use rcgen::DnType;
use rustls::ClientConfig;
use serde_json::Value;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/config_corpus");

/// Files with a `cluster {}` block: both servers get a random route port instead of the
/// file's (a fixed one would be taken by the first server started).
const CLUSTERED: &[&str] = &[
    "docker_nats_server.conf",
    "server_reload_test.conf",
    "test_srv_a_perms.conf",
];

/// The passwords `docs_authorization_variables.conf` takes from the environment.
const ENV: &[(&str, &str)] = &[
    ("ADMIN_PASS", "admin-pw"),
    ("CLIENT_PASS", "client-pw"),
    ("SERVICE_PASS", "service-pw"),
    ("OTHER_PASS", "other-pw"),
];

/// The seed published next to the public key of `docs_nkey.conf` (NKeys page of the docs).
const DOCS_NKEY_SEED: &str = "SUACSSL3UAHUDXKFSNVUZRF5UHPMWZ6BFDTJ7M6USDXIEDNPPQYYYCU3VY";

/// How a client proves who it is.
#[derive(Clone, Copy, Debug)]
enum Cred {
    None,
    User(&'static str, &'static str),
    Token(&'static str),
    /// Signs the INFO nonce with this seed.
    Nkey(&'static str),
    /// Over TLS with this client certificate (from `certs`), or none.
    Tls(Option<&'static str>),
    /// Over TLS with `Tls`'s certificate and a user and password.
    TlsUser(&'static str, &'static str),
}

/// The clients each accepted file is probed with: its users and one they do not know.
fn clients(file: &str) -> &'static [Cred] {
    use Cred::*;
    match file {
        "docs_accounts_import_export.conf" => &[User("a", "a"), User("b", "b"), User("c", "c")],
        "docs_allow_deny.conf" => &[
            User("admin", "secret"),
            User("test", "test"),
            User("x", "y"),
        ],
        "docs_allow_responses.conf" => &[User("a", "a"), User("b", "b"), User("c", "x")],
        "docs_authorization_variables.conf" => &[
            User("admin", "admin-pw"),
            User("client", "client-pw"),
            User("service", "service-pw"),
            User("other", "other-pw"),
            User("admin", "other-pw"),
        ],
        "docs_nkey.conf" => &[Nkey(DOCS_NKEY_SEED), None],
        "docs_no_auth_user.conf" => &[None, User("b", "b"), User("a", "b")],
        "docs_token_bcrypt.conf" => &[Token("dag0HTXl4RGg7dXdaJwbC8"), Token("dag0")],
        "server_authorization.conf" => &[
            User("alice", "foo"),
            User("bob", "bar"),
            User("susan", "baz"),
            User("susan", "foo"),
        ],
        "server_multiple_users.conf" | "test_multi_user.conf" => {
            &[User("alice", "foo"), User("bob", "bar"), User("bob", "foo")]
        }
        "server_new_style_authorization.conf" => {
            &[User("alice", "foo"), User("bob", "special"), None]
        }
        "server_reload_token_authentication_1.conf" => &[Token("T0pS3cr3t"), Token("t0ps3cr3t")],
        "test_multi_accounts.conf" | "server_multi_accounts_export_import.conf" => &[
            User("alice", "s3cr3t!"),
            User("john", "s3cr3t!"),
            User("peter", "s3cr3t!"),
            User("paul", "s3cr3t"),
        ],
        "test_override.conf"
        | "docker_nats_server.conf"
        | "server_reload_test.conf"
        | "test_srv_a_perms.conf" => &[None],
        "test_tls.conf" => &[TlsUser("derek", "boo"), TlsUser("derek", "bar")],
        "test_tlsverify.conf" => &[Tls(Some("client"))],
        "test_tls_cert_cn.conf" => &[Tls(Some("natsio")), Tls(Some("cncf")), Tls(Some("other"))],
        // Its CA is its own server certificate: only its INFO is compared.
        "server_reload_tls_verify_test.conf" => &[],
        other => panic!("{other}: accepted by both servers but has no clients here"),
    }
}

/// Subjects every client subscribes to and publishes on: those the corpus's permissions,
/// exports and imports name, and some nobody names.
const SUBJECTS: &[&str] = &[
    "foo",
    "bar.baz",
    "req.foo",
    "req.a",
    "PUBLIC.x",
    "SANDBOX.x",
    "_INBOX.x",
    "client.x",
    "q",
    "public.x",
    "puba.x",
    "b.x",
    "q.b",
    "Q",
    "from_a.puba.x",
    "$SYS.x",
];

/// The certificates the corpus's TLS files name, made for this run.
fn write_certs(dir: &Path) -> Pki {
    let pki = Pki::new("corpus");
    pki.issue(
        "natsio",
        &[
            (DnType::CommonName, "example.com"),
            (DnType::OrganizationalUnitName, "NATS.io"),
        ],
        &[],
        &[],
    );
    pki.issue(
        "cncf",
        &[
            (DnType::CommonName, "example.com"),
            (DnType::OrganizationalUnitName, "CNCF"),
        ],
        &[],
        &[],
    );
    pki.issue(
        "other",
        &[(DnType::CommonName, "other.example.com")],
        &[],
        &[],
    );
    let certs = dir.join("configs/certs");
    std::fs::create_dir_all(certs.join("tlsauth")).unwrap();
    for (from, to) in [
        (&pki.server_cert, "server-cert.pem"),
        (&pki.server_key, "server-key.pem"),
        (&pki.ca, "ca.pem"),
        (&pki.server_cert, "cert.new.pem"),
        (&pki.server_key, "key.new.pem"),
        (&pki.server_cert, "tlsauth/server.pem"),
        (&pki.server_key, "tlsauth/server-key.pem"),
        (&pki.ca, "tlsauth/ca.pem"),
    ] {
        std::fs::copy(from, certs.join(to)).unwrap();
    }
    pki
}

/// The corpus's files copied into a scratch directory, where both servers run.
fn corpus_dir() -> (PathBuf, Vec<String>) {
    let dir = scratch_dir("config-corpus");
    let mut confs = Vec::new();
    for e in std::fs::read_dir(CORPUS).unwrap() {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        std::fs::copy(&path, dir.join(&name)).unwrap();
        if name.ends_with(".conf") {
            confs.push(name);
        }
    }
    confs.sort();
    (dir, confs)
}

fn in_dir(bin: &Path, dir: &Path) -> Command {
    let mut cmd = Command::new(bin);
    cmd.current_dir(dir).envs(ENV.iter().copied());
    cmd
}

#[test]
fn corpus_checks_and_runs_like_the_go_server() {
    let Some(go) = go_server() else { return };
    let (dir, confs) = corpus_dir();
    let pki = write_certs(&dir);
    assert!(confs.len() >= 15, "{confs:?}");
    let mut accepted = Vec::new();
    for file in &confs {
        let (go_code, go_out) = check_config(&mut in_dir(&go, &dir), file);
        let (rt_code, rt_out) = check_config(&mut in_dir(Path::new(BIN), &dir), file);
        let (go_lines, rt_lines) = (
            normalized(&go_out, "nats-server: "),
            normalized(&rt_out, "riptide: "),
        );
        assert_eq!(
            (go_code, go_lines),
            (rt_code, rt_lines),
            "{file}: -t answers differ"
        );
        // Go ends the errors of a file's keys with an empty line; so must Riptide.
        assert_eq!(go_out.ends_with("\n\n"), rt_out.ends_with("\n\n"), "{file}");
        if go_code == 0 {
            accepted.push(file.clone());
        }
    }
    assert!(accepted.len() >= 10, "{accepted:?}");
    for file in &accepted {
        let route_port: &[&str] = if CLUSTERED.contains(&file.as_str()) {
            &["--cluster", "nats://127.0.0.1:-1"]
        } else {
            &[]
        };
        let go_server = Go::spawn(in_dir(&go, &dir).args(["-c", file]).args(route_port));
        let mut args = vec!["-c", file, "-a", "127.0.0.1", "-p", "-1", "--shards", "1"];
        args.extend(route_port);
        let riptide = Proc::start_in(&dir, &args, ENV);
        let expected = transcript(go_server.addr, file, &pki);
        let got = transcript(riptide.addr(), file, &pki);
        for (e, g) in expected.iter().zip(&got) {
            assert_eq!(g, e, "{file}: Riptide's replies differ from Go's");
        }
        assert_eq!(got.len(), expected.len(), "{file}");
    }
}

/// Broken files, some through an `include` (`main` is checked; the others lie beside it),
/// which both servers must refuse with the same words: Go's lexer errors, the included file
/// named in `file:line:col`, include errors wrapped as Go wraps them.
const BROKEN: &[(&str, &[(&str, &str)])] = &[
    (
        "unclosed_map",
        &[("main", "port: 4222\nauthorization {\n  user: a\n")],
    ),
    (
        "unclosed_quote",
        &[("main", "port: 4222\nserver_name: \"abc\n")],
    ),
    ("bad_array", &[("main", "port: 4222\nx: [1, 2\n")]),
    ("double_comma", &[("main", "x: [1,,2]\n")]),
    ("key_without_value", &[("main", "port: 4222\n@@@\n")]),
    ("stray_text", &[("main", "port: 4222 x\n")]),
    ("map_value", &[("main", "a { b: 1 x }\n")]),
    ("bad_escape", &[("main", "server_name: \"a\\qb\"\n")]),
    ("open_block", &[("main", "server_name: (\nabc\n")]),
    ("big_integer", &[("main", "port: 99999999999999999999\n")]),
    (
        "missing_variable",
        &[("main", "port: 1\nx: $RIPTIDE_GAPS_NOT_SET\n")],
    ),
    ("empty", &[("main", "# nothing\n")]),
    (
        "include_syntax",
        &[
            ("main", "port: 4222\ninclude sub/syntax.conf\n"),
            ("sub/syntax", "debug: true\nauthorization {\n  user: a\n"),
        ],
    ),
    (
        "include_unknown_key",
        &[
            ("main", "port: 4222\ninclude sub/unknown.conf\n"),
            ("sub/unknown", "debug: true\nbogus_key: 1\n"),
        ],
    ),
    (
        "include_in_map",
        &[
            ("main", "authorization {\n  include sub/auth.conf\n}\n"),
            ("sub/auth", "user: a\npassword: b\nfoo: 1\n"),
        ],
    ),
    (
        "include_bad_value",
        &[
            ("main", "include sub/tls.conf\n"),
            ("sub/tls", "tls {\n  cert_file: x.pem\n  bogus: 1\n}\n"),
        ],
    ),
    (
        "include_chain",
        &[
            ("main", "include sub/chain.conf\n"),
            ("sub/chain", "include deeper.conf\n"),
            ("sub/deeper", "debug: true\nwrong: 1\n"),
        ],
    ),
    (
        "include_chain_syntax",
        &[
            ("main", "include sub/chain.conf\n"),
            ("sub/chain", "include deeper.conf\n"),
            ("sub/deeper", "x: [1;2]\n"),
        ],
    ),
    (
        "include_sees_no_outer_variable",
        &[
            ("main", "secret: s3\ninclude sub/uses.conf\n"),
            ("sub/uses", "authorization { token: $secret }\n"),
        ],
    ),
    (
        "include_missing",
        &[("main", "port: 1\ninclude sub/missing.conf\n")],
    ),
];

#[test]
fn broken_files_are_refused_as_the_go_server_refuses_them() {
    let Some(go) = go_server() else { return };
    let root = scratch_dir("config-broken");
    for (case, files) in BROKEN {
        let dir = root.join(case);
        for (name, text) in *files {
            let path = dir.join(format!("{name}.conf"));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        // The file as given, and through a path that Go cleans when it joins includes.
        for conf in ["main.conf", "./sub/../main.conf"] {
            let (go_code, go_out) = check_config(&mut in_dir(&go, &dir), conf);
            let (rt_code, rt_out) = check_config(&mut in_dir(Path::new(BIN), &dir), conf);
            assert_eq!(go_code, 1, "{case}: {go_out}");
            let go_out = go_out.replace("nats-server: ", "");
            assert_eq!(
                (rt_code, rt_out.replace("riptide: ", "")),
                (go_code, go_out),
                "{case} ({conf})"
            );
        }
    }
}

/// What the clients of `file` see: INFO with the per-server fields masked, then, per step,
/// which client acted and the bytes it got back.
fn transcript(addr: std::net::SocketAddr, file: &str, pki: &Pki) -> Vec<String> {
    let mut out = vec![masked_info(&Raw::connect(addr).info)];
    let creds = clients(file);
    let mut admitted = Vec::new();
    // Each client alone: CONNECT, SUB on every subject, then PUB on every subject.
    for (i, cred) in creds.iter().enumerate() {
        let mut c = login(addr, *cred, pki);
        let welcome = c.reply();
        if welcome == b"PONG\r\n" {
            admitted.push(*cred);
        }
        out.push(format!("client {i} {cred:?} connects: {}", text(&welcome)));
        let subs: String = SUBJECTS
            .iter()
            .enumerate()
            .map(|(sid, s)| format!("SUB {s} {}\r\n", sid + 1))
            .collect();
        send(&mut c, subs.as_bytes());
        out.push(format!("client {i} subscribes: {}", text(&c.reply())));
        send(&mut c, publishes().as_bytes());
        out.push(format!("client {i} publishes: {}", text(&c.reply())));
    }
    // The admitted clients together: each subscribes to everything, then each publishes on
    // every subject; then each says what it received from the others (accounts, imports,
    // permissions).
    let mut all: Vec<Raw<Box<dyn Stream>>> =
        admitted.iter().map(|c| login(addr, *c, pki)).collect();
    for (i, c) in all.iter_mut().enumerate() {
        send(c, b"SUB > 100\r\n");
        out.push(format!("together {i} subscribes: {}", text(&c.reply())));
    }
    for (i, c) in all.iter_mut().enumerate() {
        send(c, publishes().as_bytes());
        out.push(format!("together {i} publishes: {}", text(&c.reply())));
    }
    for (i, c) in all.iter_mut().enumerate() {
        out.push(format!("together {i} received: {}", text(&c.reply())));
    }
    out
}

/// Sends to a client the server may have closed (a refused login): what it would have
/// said is then simply absent from both transcripts.
fn send(c: &mut Raw<Box<dyn Stream>>, bytes: &[u8]) {
    let _ = std::io::Write::write_all(&mut c.s, bytes);
}

fn publishes() -> String {
    SUBJECTS
        .iter()
        .map(|s| format!("PUB {s} 2\r\nhi\r\n"))
        .collect()
}

/// Connects and sends CONNECT with `cred` (verbose off, so only errors and PONGs come back).
fn login(addr: std::net::SocketAddr, cred: Cred, pki: &Pki) -> Raw<Box<dyn Stream>> {
    let tls = |who: Option<&str>| -> Arc<ClientConfig> { pki.client(who) };
    let (mut c, fields) = match cred {
        Cred::None => (Raw::connect(addr).boxed(), String::new()),
        Cred::User(u, p) => (
            Raw::connect(addr).boxed(),
            format!(r#","user":"{u}","pass":"{p}""#),
        ),
        Cred::Token(t) => (
            Raw::connect(addr).boxed(),
            format!(r#","auth_token":"{t}""#),
        ),
        Cred::Nkey(seed) => {
            let c = Raw::connect(addr).boxed();
            let kp = nkeys::KeyPair::from_seed(seed).unwrap();
            let info = c.info_json();
            let sig = kp.sign(info["nonce"].as_str().unwrap().as_bytes()).unwrap();
            let sig = data_encoding::BASE64URL_NOPAD.encode(&sig);
            let fields = format!(r#","nkey":"{}","sig":"{sig}""#, kp.public_key());
            (c, fields)
        }
        Cred::Tls(who) => (Raw::connect_tls(addr, tls(who)).boxed(), String::new()),
        Cred::TlsUser(u, p) => (
            Raw::connect_tls(addr, tls(None)).boxed(),
            format!(r#","user":"{u}","pass":"{p}""#),
        ),
    };
    let connect = format!("CONNECT {{\"verbose\":false,\"pedantic\":false{fields}}}\r\n");
    send(&mut c, connect.as_bytes());
    c
}

/// INFO as JSON with what differs between two servers, or two runs, masked; Riptide's own
/// `riptide_version` and Go's `xkey` (auth callout, which Riptide does not have) dropped.
fn masked_info(line: &str) -> String {
    let mut v = common::info_json(line);
    let m = v.as_object_mut().unwrap();
    m.remove("riptide_version");
    m.remove("xkey");
    for k in [
        "git_commit",
        "server_id",
        "server_name",
        "version",
        "go",
        "port",
        "nonce",
        "client_id",
        "client_ip",
        "connect_urls",
        // A cluster without a configured name gets a random one.
        "cluster",
    ] {
        if let Some(f) = m.get_mut(k) {
            *f = Value::String("*".into());
        }
    }
    serde_json::to_string(&v).unwrap()
}

/// Go's system events (`$SYS.ACCOUNT.>`, e.g. an advisory for each refused login), which a
/// wildcard subscriber may see; Riptide has no system account.
const SYSTEM_EVENTS: &str = "MSG $SYS.ACCOUNT.";

/// Bytes as text, without system events, with the reply subjects of service imports
/// (`_R_.<random>`) masked.
fn text(b: &[u8]) -> String {
    let mut t = String::from_utf8_lossy(b).into_owned();
    while let Some(at) = t.find(SYSTEM_EVENTS) {
        let head_end = at + t[at..].find("\r\n").unwrap();
        let size: usize = t[at..head_end].rsplit(' ').next().unwrap().parse().unwrap();
        t.replace_range(at..head_end + 2 + size + 2, "");
    }
    t.split(' ')
        .map(|w| if w.starts_with("_R_.") { "_R_.*" } else { w })
        .collect::<Vec<_>>()
        .join(" ")
}

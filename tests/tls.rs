//! TLS on the client port, with certificates made by the test: the Go default (INFO in the
//! clear, then TLS), TLS first and its `auto` fallback, mutual TLS, users named by their
//! certificate (`verify_and_map`), `pinned_certs`, and the refusals (plain text, unknown
//! client certificates, a stalled handshake). Raw protocol bytes and async-nats.

use crate::common;

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::go::{go_server, Go};
use common::http::wait_for;
use common::secure::{close_notify, exchange, tls_over, Pki};
use common::{config, start_with, Raw, IO_TIMEOUT};
use rcgen::DnType;
use riptide::config::{AuthConfig, Config, UserConfig};
use riptide::permissions::{Permissions, SubjectPermission};
use riptide::transport::tls::TlsSettings;

fn tls_config(pki: &Pki, f: impl FnOnce(&mut TlsSettings)) -> Config {
    let mut t = TlsSettings::new(pki.server_cert.clone(), pki.server_key.clone());
    f(&mut t);
    Config {
        tls: Some(t),
        ..config(2)
    }
}

#[test]
fn info_in_the_clear_then_tls() {
    let pki = Pki::new("plain");
    let srv = start_with(tls_config(&pki, |_| {}));
    let mut a = Raw::connect_tls(srv.addr, pki.client(None));
    let mut b = Raw::connect_tls(srv.addr, pki.client(None));
    let info = a.info_json();
    assert_eq!(info["tls_required"], true);
    assert!(info.get("tls_verify").is_none());
    exchange(&mut a, &mut b);
    // A plain-text client is dropped at its first bytes, as the TLS handshake fails.
    let mut plain = Raw::connect(srv.addr);
    plain.send(b"CONNECT {}\r\nPING\r\n");
    let rest = plain.read_to_close();
    assert!(!rest.windows(4).any(|w| w == b"PONG"), "{rest:?}");
}

#[test]
fn tls_first() {
    let pki = Pki::new("first");
    let srv = start_with(tls_config(&pki, |t| t.handshake_first = true));
    let connect = || {
        let s = TcpStream::connect(srv.addr).unwrap();
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        Raw::over(tls_over(s, pki.client(None)))
    };
    let (mut a, mut b) = (connect(), connect());
    assert_eq!(a.info_json()["tls_required"], true);
    exchange(&mut a, &mut b);
    // Nothing comes in the clear: a client waiting for a plain INFO gets none.
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 16];
    assert!(s.read(&mut buf).is_err(), "the server spoke first");
}

#[test]
fn mutual_tls() {
    let pki = Pki::new("mutual");
    let srv = start_with(tls_config(&pki, |t| {
        t.verify = true;
        t.ca_file = Some(pki.ca.clone());
    }));
    let mut a = Raw::connect_tls(srv.addr, pki.client(Some("client")));
    let mut b = Raw::connect_tls(srv.addr, pki.client(Some("client")));
    assert_eq!(a.info_json()["tls_verify"], true);
    exchange(&mut a, &mut b);
    // A certificate from another CA, or none, ends the connection in the handshake.
    for who in [Some("stranger"), None] {
        assert!(refused_in_handshake(&srv, &pki, who), "{who:?} was let in");
    }
}

/// Whether a client presenting `who`'s certificate (or none) is closed before its PING is
/// answered.
fn refused_in_handshake(srv: &riptide::runtime::Running, pki: &Pki, who: Option<&str>) -> bool {
    let mut r = Raw::connect_tls(srv.addr, pki.client(who));
    let mut buf = [0u8; 64];
    let res = std::io::Write::write_all(&mut r.s, b"CONNECT {}\r\nPING\r\n")
        .and_then(|_| r.s.read(&mut buf));
    matches!(res, Err(_) | Ok(0))
}

#[test]
fn verify_and_map_logs_in_the_user_the_certificate_names() {
    let pki = Pki::new("map");
    pki.issue(
        "alice",
        &[(DnType::CommonName, "alice")],
        &["alice.example.com"],
        &["alice@example.com"],
    );
    pki.issue(
        "bob",
        &[
            (DnType::CountryName, "US"),
            (DnType::OrganizationName, "Acme, Inc."),
            (DnType::OrganizationalUnitName, "Eng"),
            (DnType::CommonName, "bob"),
        ],
        &[],
        &[],
    );
    pki.issue("carol", &[(DnType::CommonName, "carol")], &[], &[]);
    let user = |name: &str, publish: Option<&str>| UserConfig {
        user: name.into(),
        password: String::new(),
        permissions: publish.map(|p| Permissions {
            publish: Some(SubjectPermission {
                allow: Some(vec![p.into()]),
                deny: Vec::new(),
            }),
            ..Permissions::default()
        }),
        account: None,
    };
    let mut cfg = tls_config(&pki, |t| {
        t.verify_and_map = true;
        t.ca_file = Some(pki.ca.clone());
    });
    cfg.auth = AuthConfig {
        users: vec![
            // The email SAN wins over the DNS SAN.
            user("alice.example.com", None),
            user("alice@example.com", Some("alice.>")),
            // The subject as the Go server spells it (checked against nats-server 2.15.1).
            user("CN=bob,OU=Eng,O=Acme\\, Inc.,C=US", Some("bob.>")),
        ],
        ..AuthConfig::default()
    };
    let srv = start_with(cfg);
    let mut alice = Raw::connect_tls(srv.addr, pki.client(Some("alice")));
    assert_eq!(alice.info_json()["auth_required"], true);
    alice.send(b"CONNECT {\"verbose\":false}\r\nPUB bob.x 1\r\nx\r\nPUB alice.x 1\r\nx\r\n");
    assert_eq!(
        alice.sync(),
        b"-ERR 'Permissions Violation for Publish to \"bob.x\"'\r\n"
    );
    let mut bob = Raw::connect_tls(srv.addr, pki.client(Some("bob")));
    bob.send(b"CONNECT {\"verbose\":false}\r\nPUB bob.x 1\r\nx\r\nPUB alice.x 1\r\nx\r\n");
    assert_eq!(
        bob.sync(),
        b"-ERR 'Permissions Violation for Publish to \"alice.x\"'\r\n"
    );
    // A certificate from the CA that names no user.
    let mut carol = Raw::connect_tls(srv.addr, pki.client(Some("carol")));
    carol.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n");
    assert_eq!(carol.read_to_close(), b"-ERR 'Authorization Violation'\r\n");
}

/// An application-data record that cannot decrypt.
const BAD_RECORD: [u8; 37] = {
    let mut r = [0u8; 37];
    (r[0], r[1], r[2], r[3], r[4]) = (0x17, 0x03, 0x03, 0x00, 0x20);
    r
};

/// Logs in over TLS with `who`'s certificate, sending CONNECT and PING and, in the same
/// write, a record that cannot decrypt; with `flood`, a thread then keeps writing such
/// records on the socket, under the TLS session. Returns what the server said until it
/// closed.
fn login_then_bad_records(
    addr: std::net::SocketAddr,
    pki: &Pki,
    who: &str,
    flood: bool,
) -> Vec<u8> {
    use std::io::Write;
    let mut r = Raw::connect_tls(addr, pki.client(Some(who)));
    while r.s.conn.is_handshaking() {
        r.s.conn.complete_io(&mut r.s.sock).unwrap();
    }
    r.s.conn
        .writer()
        .write_all(b"CONNECT {\"verbose\":false}\r\nPING\r\n")
        .unwrap();
    let mut wire = Vec::new();
    while r.s.conn.wants_write() {
        r.s.conn.write_tls(&mut wire).unwrap();
    }
    wire.extend_from_slice(&BAD_RECORD);
    r.s.sock.write_all(&wire).unwrap();
    if flood {
        let mut raw = r.s.sock.try_clone().unwrap();
        std::thread::spawn(move || while raw.write_all(&BAD_RECORD.repeat(100)).is_ok() {});
    }
    r.read_to_close()
}

/// A client whose certificate names no user keeps sending after its CONNECT: nats-server
/// 2.15.1 answers the CONNECT before it reads on (`-ERR 'Authorization Violation'`, then
/// close_notify), whatever follows. Riptide used to decrypt a whole read before parsing
/// it, so a bad record behind the CONNECT ended the session with a TLS alert and no
/// `-ERR`; and records decrypted after its close_notify could fail and panic rustls.
#[test]
fn refused_login_is_answered_whatever_the_client_sends_after_it() {
    let pki = Pki::new("refused");
    pki.issue("carol", &[(DnType::CommonName, "carol")], &[], &[]);
    let mut cfg = tls_config(&pki, |t| {
        t.verify_and_map = true;
        t.ca_file = Some(pki.ca.clone());
    });
    cfg.auth = AuthConfig {
        users: vec![UserConfig {
            user: "CN=alice".into(),
            password: String::new(),
            permissions: None,
            account: None,
        }],
        ..AuthConfig::default()
    };
    let srv = start_with(cfg);
    let refused = b"-ERR 'Authorization Violation'\r\n".to_vec();
    for flood in [false, true, true, true] {
        assert_eq!(
            login_then_bad_records(srv.addr, &pki, "carol", flood),
            refused,
            "flood {flood}"
        );
    }
    let c = Raw::connect(srv.addr);
    assert!(c.info.starts_with("INFO "), "still serving");
    let Some(go) = go_server() else { return };
    let conf = format!(
        "tls {{\n{}ca_file: {:?}\nverify_and_map: true\n}}\nauthorization {{\n  users = [ {{user: \"CN=alice\"}} ]\n}}\n",
        pki.tls_lines(),
        pki.ca
    );
    let go = Go::start_conf(&go, &pki.dir.join("go.conf"), &conf);
    for flood in [false, true] {
        assert_eq!(
            login_then_bad_records(go.addr, &pki, "carol", flood),
            refused,
            "Go, flood {flood}"
        );
    }
}

#[test]
fn pinned_certs_admit_only_the_listed_keys() {
    let pki = Pki::new("pinned");
    let spki = pki.issue("pinned", &[(DnType::CommonName, "pinned")], &[], &[]);
    pki.issue("other", &[(DnType::CommonName, "other")], &[], &[]);
    let key_id = data_encoding::HEXUPPER
        .encode(ring::digest::digest(&ring::digest::SHA256, &spki).as_ref())
        .to_lowercase();
    let srv = start_with(tls_config(&pki, |t| {
        t.verify = true;
        t.ca_file = Some(pki.ca.clone());
        t.pinned_certs.insert(key_id);
    }));
    let mut ok = Raw::connect_tls(srv.addr, pki.client(Some("pinned")));
    ok.log_in("");
    // Signed by the same CA, but its key is not pinned: closed once the handshake is done.
    assert!(refused_in_handshake(&srv, &pki, Some("other")));
}

#[test]
fn handshake_first_auto_serves_both_kinds_of_client() {
    let pki = Pki::new("auto");
    let srv = start_with(tls_config(&pki, |t| {
        t.handshake_first = true;
        t.handshake_first_fallback =
            Some(riptide::transport::tls::DEFAULT_HANDSHAKE_FIRST_FALLBACK);
    }));
    // This client starts TLS at once and gets the INFO inside it...
    let s = TcpStream::connect(srv.addr).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut first = Raw::over(tls_over(s, pki.client(None)));
    assert_eq!(first.info_json()["tls_required"], true);
    // ...this one waits for a plain INFO, which comes once it has said nothing for 50 ms.
    let mut classic = Raw::connect_tls(srv.addr, pki.client(None));
    assert_eq!(classic.info_json()["tls_required"], true);
    exchange(&mut first, &mut classic);
}

/// Logs in over TLS, TLS first or after a plain INFO, then closes with close_notify and
/// `after` behind it; returns what the server sent before its own close_notify.
fn login_then_close_notify(addr: SocketAddr, pki: &Pki, first: bool, after: &[u8]) -> Vec<u8> {
    let mut r = if first {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        Raw::over(tls_over(s, pki.client(None)))
    } else {
        Raw::connect_tls(addr, pki.client(None))
    };
    r.log_in("");
    close_notify(&mut r.s, after)
}

/// nats.py closes a TLS connection with close_notify and waits for the server's (asyncio's
/// TLS shutdown). nats-server 2.15.1 takes it as the client's close and answers with its own
/// close_notify, then FIN, in both TLS orders, ignoring whatever follows it; Riptide used
/// to ignore the close_notify, so nats.py's close() waited out its own timeout, and bytes
/// after it spun the shard forever (rustls takes no ciphertext after close_notify).
#[test]
fn close_notify_is_answered_with_close_notify() {
    let pki = Pki::new("close-notify");
    let cases = [(false, &[][..]), (true, &[][..]), (false, &BAD_RECORD[..])];
    for (first, after) in cases {
        let mut cfg = tls_config(&pki, |t| t.handshake_first = first);
        cfg.http_port = Some(0);
        let srv = start_with(cfg);
        assert_eq!(
            login_then_close_notify(srv.addr, &pki, first, after),
            b"",
            "first {first}, {} bytes after",
            after.len()
        );
        let http = srv.monitor.as_ref().expect("monitor started").addr;
        let closed = wait_for(http, "/connz?state=closed", |v| v["total"] == 1);
        assert_eq!(closed["connections"][0]["reason"], "Client Closed");
    }
    let Some(go) = go_server() else { return };
    for (first, after) in cases {
        let conf = format!("tls {{\n{}handshake_first: {first}\n}}\n", pki.tls_lines());
        let go = Go::start_conf(&go, &pki.dir.join("go.conf"), &conf);
        assert_eq!(
            login_then_close_notify(go.addr, &pki, first, after),
            b"",
            "Go, first {first}, {} bytes after",
            after.len()
        );
    }
}

/// A client that never starts TLS after the INFO is closed at the TLS timeout, well before
/// IO_TIMEOUT, and one that closes its side is closed at once; neither gets a TLS alert, as
/// nats-server 2.15.1 sends close_notify only once the handshake is done. Riptide used to
/// send one in the clear.
#[test]
fn stalled_handshake_times_out() {
    let pki = Pki::new("timeout");
    let srv = start_with(tls_config(&pki, |t| t.timeout = Duration::from_millis(300)));
    let closes_bare = |addr| {
        let mut r = Raw::connect(addr);
        assert_eq!(r.read_to_close(), b"", "at the timeout");
        let mut r = Raw::connect(addr);
        r.s.shutdown(std::net::Shutdown::Write).unwrap();
        assert_eq!(r.read_to_close(), b"", "at the client's close");
    };
    closes_bare(srv.addr);
    let Some(go) = go_server() else { return };
    let conf = format!("tls {{\n{}timeout: 0.3\n}}\n", pki.tls_lines());
    closes_bare(Go::start_conf(&go, &pki.dir.join("go.conf"), &conf).addr);
}

#[tokio::test]
async fn async_nats_over_tls() {
    let pki = Pki::new("client");
    for first in [false, true] {
        let srv = start_with(tls_config(&pki, |t| {
            t.handshake_first = first;
            t.verify = true;
            t.ca_file = Some(pki.ca.clone());
        }));
        let opts = || {
            let o = async_nats::ConnectOptions::new()
                .require_tls(true)
                .add_root_certificates(pki.ca.clone())
                .add_client_certificate(pki.dir.join("client.pem"), pki.dir.join("client-key.pem"));
            if first {
                o.tls_first()
            } else {
                o
            }
        };
        let url = format!("tls://localhost:{}", srv.addr.port());
        let sub_client = opts().connect(&url).await.unwrap();
        let pub_client = opts().connect(&url).await.unwrap();
        let mut sub = sub_client.subscribe("tls.events").await.unwrap();
        common::live(&sub_client, &pub_client).await;
        for i in 0..100u32 {
            pub_client
                .publish("tls.events", i.to_string().into())
                .await
                .unwrap();
        }
        pub_client.flush().await.unwrap();
        for i in 0..100u32 {
            let m = tokio::time::timeout(IO_TIMEOUT, futures::StreamExt::next(&mut sub))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(m.payload, i.to_string().as_bytes());
        }
    }
}

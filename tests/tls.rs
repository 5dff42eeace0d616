//! TLS on the client port, with certificates made by the test: the Go default (INFO in the
//! clear, then TLS), TLS first, mutual TLS, and the refusals (plain text, unknown client
//! certificates, a stalled handshake). Raw protocol bytes and async-nats.

mod common;

use std::io::Read;
use std::net::TcpStream;
use std::time::Duration;

use common::secure::{exchange, tls_over, Pki};
use common::{config, start_with, Raw, IO_TIMEOUT};
use riptide::config::Config;
use riptide::transport::tls::TlsSettings;

fn tls_config(pki: &Pki, f: impl FnOnce(&mut TlsSettings)) -> Config {
    let mut t = TlsSettings::new(pki.server_cert.clone(), pki.server_key.clone());
    f(&mut t);
    Config {
        tls: Some(t),
        ..config(2)
    }
}

fn info_json(info: &str) -> serde_json::Value {
    serde_json::from_str(info.trim_start_matches("INFO ").trim()).unwrap()
}

#[test]
fn info_in_the_clear_then_tls() {
    let pki = Pki::new("plain");
    let srv = start_with(tls_config(&pki, |_| {}));
    let mut a = Raw::connect_tls(srv.addr, pki.client(None));
    let mut b = Raw::connect_tls(srv.addr, pki.client(None));
    let info = info_json(&a.info);
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
    assert_eq!(info_json(&a.info)["tls_required"], true);
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
    assert_eq!(info_json(&a.info)["tls_verify"], true);
    exchange(&mut a, &mut b);
    // A certificate from another CA, or none, ends the connection in the handshake.
    for who in [Some("stranger"), None] {
        let mut r = Raw::connect_tls(srv.addr, pki.client(who));
        let mut buf = [0u8; 64];
        let res = std::io::Write::write_all(&mut r.s, b"CONNECT {}\r\nPING\r\n")
            .and_then(|_| r.s.read(&mut buf));
        assert!(matches!(res, Err(_) | Ok(0)), "{who:?} was let in: {res:?}");
    }
}

#[test]
fn stalled_handshake_times_out() {
    let pki = Pki::new("timeout");
    let srv = start_with(tls_config(&pki, |t| t.timeout = Duration::from_millis(300)));
    let mut r = Raw::connect(srv.addr);
    // Never starts TLS: the server gives up after its TLS timeout, well before IO_TIMEOUT.
    r.read_to_close();
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

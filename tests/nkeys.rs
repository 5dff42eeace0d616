//! NKEY users over real sockets: INFO carries a per-connection nonce, the client signs it
//! with its seed and sends the signature in CONNECT, as with nats-server 2.15.1 (raw bytes
//! signed with the nkeys crate, and async-nats's `with_nkey`).

use crate::common;

use std::time::Duration;

use common::Raw;
use futures::StreamExt;
use nkeys::KeyPair;
use riptide::config::{AuthConfig, Config, NkeyUserConfig, UserConfig};
use riptide::permissions::{Permissions, SubjectPermission};
use riptide::runtime::Running;

const SHARDS: usize = 2;
/// Bound on every await that waits for the broker.
const WAIT: Duration = Duration::from_secs(10);
const VIOLATION: &[u8] = b"-ERR 'Authorization Violation'\r\n";

/// A server with one nkey user allowed to publish only under `pub.>`, and a password user.
fn start(key: &KeyPair) -> Running {
    let publish = SubjectPermission {
        allow: Some(vec!["pub.>".into()]),
        deny: Vec::new(),
    };
    common::start_with(Config {
        auth: AuthConfig {
            nkeys: vec![NkeyUserConfig {
                nkey: key.public_key(),
                permissions: Some(Permissions {
                    publish: Some(publish),
                    ..Permissions::default()
                }),
                account: None,
            }],
            users: vec![UserConfig {
                user: "a".into(),
                password: "a".into(),
                ..UserConfig::default()
            }],
            ..AuthConfig::default()
        },
        ..common::config(SHARDS)
    })
}

fn nonce(c: &Raw) -> String {
    let info = c.info_json();
    assert_eq!(info["auth_required"], true);
    info["nonce"]
        .as_str()
        .expect("INFO has a nonce")
        .to_string()
}

/// CONNECT as `key`'s public key with `sig`.
fn connect(key: &KeyPair, sig: &str) -> Vec<u8> {
    format!(
        "CONNECT {{\"verbose\":false,\"nkey\":\"{}\",\"sig\":\"{sig}\"}}\r\nPING\r\n",
        key.public_key()
    )
    .into_bytes()
}

fn sign(key: &KeyPair, nonce: &str) -> String {
    data_encoding::BASE64URL_NOPAD.encode(&key.sign(nonce.as_bytes()).unwrap())
}

#[test]
fn a_signed_nonce_logs_in_with_the_users_permissions() {
    let key = KeyPair::new_user();
    let srv = start(&key);
    let mut c = Raw::connect(srv.addr);
    let n = nonce(&c);
    // 11 random bytes in base64url without padding, new for every connection.
    assert_eq!(n.len(), 15);
    assert_ne!(n, nonce(&Raw::connect(srv.addr)));
    c.send(&connect(&key, &sign(&key, &n)));
    assert_eq!(c.line(), "PONG\r\n");
    c.send(b"SUB > 1\r\nPUB pub.x 1\r\nx\r\nPUB x 1\r\ny\r\n");
    assert_eq!(
        String::from_utf8_lossy(&c.sync()),
        "MSG pub.x 1 1\r\nx\r\n-ERR 'Permissions Violation for Publish to \"x\"'\r\n"
    );
    // Password users still log in next to nkey users.
    Raw::logged_in(srv.addr, &common::user("a"));
}

#[test]
fn a_wrong_or_missing_signature_is_an_authorization_violation() {
    let key = KeyPair::new_user();
    let other = KeyPair::new_user();
    let srv = start(&key);
    let refused = |input: &dyn Fn(&str) -> Vec<u8>| {
        let mut c = Raw::connect(srv.addr);
        let n = nonce(&c);
        c.send(&input(&n));
        assert_eq!(c.read_to_close(), VIOLATION);
    };
    // Another key's signature, a signature of another nonce, garbage, none, an unknown key.
    refused(&|n| connect(&key, &sign(&other, n)));
    refused(&|_| connect(&key, &sign(&key, "AAAAAAAAAAAAAAA")));
    refused(&|_| connect(&key, "not base64!"));
    refused(&|_| {
        format!(
            "CONNECT {{\"verbose\":false,\"nkey\":\"{}\"}}\r\nPING\r\n",
            key.public_key()
        )
        .into_bytes()
    });
    refused(&|n| connect(&other, &sign(&other, n)));
    // A signature is good for the connection whose nonce it signed only.
    let first = Raw::connect(srv.addr);
    let stolen = sign(&key, &nonce(&first));
    refused(&|_| connect(&key, &stolen));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_nats_logs_in_with_a_seed() {
    let key = KeyPair::new_user();
    let srv = start(&key);
    let client = tokio::time::timeout(
        WAIT,
        async_nats::ConnectOptions::with_nkey(key.seed().unwrap())
            .connect(format!("nats://{}", srv.addr)),
    )
    .await
    .expect("connects in time")
    .expect("nkey login");
    let mut sub = client.subscribe("pub.>").await.unwrap();
    client.publish("pub.hello", "hi".into()).await.unwrap();
    client.flush().await.unwrap();
    let msg = tokio::time::timeout(WAIT, sub.next())
        .await
        .expect("message in time")
        .expect("subscription open");
    assert_eq!(
        (msg.subject.as_str(), &msg.payload[..]),
        ("pub.hello", &b"hi"[..])
    );
    let wrong = KeyPair::new_user();
    let refused = tokio::time::timeout(
        WAIT,
        async_nats::ConnectOptions::with_nkey(wrong.seed().unwrap())
            .connect(format!("nats://{}", srv.addr)),
    )
    .await
    .expect("answered in time");
    assert!(refused.is_err(), "an unknown nkey must not log in");
}

//! Token and user/password authentication over real sockets, with the replies and closes the
//! Go server 2.15.1 gives for the same input (recorded with the same bytes against it).

use crate::common;

use std::time::Duration;

use common::{start_with, Raw};
use riptide::config::{AuthConfig, Config, UserConfig};

const SHARDS: usize = 2;
/// A bcrypt hash (cost 4) of "s3cret", as `nats server passwd` would write it.
const S3CRET_BCRYPT: &str = "$2a$04$PcI9f7xTdNwnfriBHIMIm.hiVUQYEKHdr/1XUV83aBFoDjQxeHpOO";

fn user(user: &str, password: &str) -> UserConfig {
    UserConfig {
        user: user.into(),
        password: password.into(),
        ..UserConfig::default()
    }
}

fn with_auth(auth: AuthConfig) -> Config {
    Config {
        auth,
        ..common::config(SHARDS)
    }
}

/// Sends `input` on a fresh connection; the reply, and whether the server closed.
fn exchange(srv: &riptide::runtime::Running, input: &[u8], closes: bool) -> Vec<u8> {
    let mut c = Raw::connect(srv.addr);
    // Nothing is required of a client that a `no_auth_user` admits (nats-server 2.15.1).
    let required = srv.server().cfg.auth.no_auth_user.is_none();
    assert_eq!(
        c.info.contains("\"auth_required\":true"),
        required,
        "{}",
        c.info
    );
    c.send(input);
    if closes {
        c.read_to_close()
    } else {
        c.sync()
    }
}

const VIOLATION: &[u8] = b"-ERR 'Authorization Violation'\r\n";

#[test]
fn users_plain_and_bcrypt() {
    let srv = start_with(with_auth(AuthConfig {
        users: vec![user("a", "pa"), user("b", S3CRET_BCRYPT)],
        ..AuthConfig::default()
    }));
    // (input, reply before our PING's PONG or before the close, closes)
    let cases: &[(&[u8], &[u8], bool)] = &[
        (
            b"CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"pa\"}\r\nSUB foo 1\r\nPUB foo 1\r\nx\r\n",
            b"MSG foo 1 1\r\nx\r\n",
            false,
        ),
        (b"CONNECT {\"verbose\":false,\"user\":\"b\",\"pass\":\"s3cret\"}\r\n", b"", false),
        (b"CONNECT {\"user\":\"a\",\"pass\":\"pa\"}\r\n", b"+OK\r\n", false),
        (b"CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"no\"}\r\nPING\r\n", VIOLATION, true),
        (b"CONNECT {\"verbose\":false,\"user\":\"b\",\"pass\":\"pa\"}\r\nPING\r\n", VIOLATION, true),
        (b"CONNECT {\"verbose\":false}\r\nPING\r\n", VIOLATION, true),
        (b"SUB foo 1\r\nPING\r\n", VIOLATION, true),
        (b"PUB foo 1\r\nx\r\nPING\r\n", VIOLATION, true),
        (b"PING\r\n", VIOLATION, true),
    ];
    for (input, want, closes) in cases {
        assert_eq!(
            String::from_utf8_lossy(&exchange(&srv, input, *closes)),
            String::from_utf8_lossy(want),
            "input {}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn token() {
    let srv = start_with(with_auth(AuthConfig {
        token: Some("tok".into()),
        ..AuthConfig::default()
    }));
    let ok = exchange(
        &srv,
        b"CONNECT {\"verbose\":false,\"auth_token\":\"tok\"}\r\n",
        false,
    );
    assert_eq!(ok, b"");
    let bad = b"CONNECT {\"verbose\":false,\"auth_token\":\"x\"}\r\nPING\r\n";
    assert_eq!(exchange(&srv, bad, true), VIOLATION);
}

#[test]
fn no_auth_user_lets_a_client_skip_connect() {
    let srv = start_with(with_auth(AuthConfig {
        users: vec![user("a", "pa")],
        no_auth_user: Some("a".into()),
        ..AuthConfig::default()
    }));
    assert_eq!(
        exchange(&srv, b"CONNECT {\"verbose\":false}\r\n", false),
        b""
    );
    let got = exchange(&srv, b"SUB foo 1\r\nPUB foo 1\r\nx\r\n", false);
    assert_eq!(got, b"+OK\r\n+OK\r\nMSG foo 1 1\r\nx\r\n");
}

#[test]
fn a_client_that_never_connects_times_out() {
    let srv = start_with(with_auth(AuthConfig {
        users: vec![user("a", "pa")],
        timeout: Some(Duration::from_millis(300)),
        ..AuthConfig::default()
    }));
    let got = exchange(&srv, b"", true);
    assert_eq!(got, b"-ERR 'Authentication Timeout'\r\n");
}

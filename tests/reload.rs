//! Configuration reload on SIGHUP over real sockets: new credentials close the clients they
//! no longer admit (and only those), new limits show in new clients' INFO, settings that
//! cannot change are refused with the Go server's error while the server keeps running,
//! and command-line flags still win over the file.

use crate::common;

use std::path::{Path, PathBuf};

use common::process::{loopback, scratch_dir, with_config, write_file, Proc};
use common::Raw;

fn conf_file(dir: &Path, text: &str) -> PathBuf {
    write_file(dir, "r.conf", text)
}

/// Sends SIGHUP and waits for the reload to be logged as done.
fn reload(p: &mut Proc) {
    p.signal(libc::SIGHUP);
    p.expect_log("[INF] Reloaded server configuration");
}

/// Whether `c` can still publish to itself.
fn still_served(c: &mut Raw) -> bool {
    c.send(b"SUB alive 1\r\nPUB alive 2\r\nok\r\n");
    let got = c.sync();
    !got.windows(4).any(|w| w == b"-ERR") && got.ends_with(b"MSG alive 1 2\r\nok\r\n")
}

#[test]
fn reload_closes_clients_whose_user_no_longer_passes_and_applies_max_payload() {
    let dir = scratch_dir("reload-users");
    let conf = conf_file(
        &dir,
        "authorization { users: [ {user: a, password: pa}, {user: b, password: pb} ] }\n",
    );
    let mut p = Proc::start(&with_config(&conf, &["--shards", "2"]));
    let mut a = Raw::logged_in(p.addr(), "\"user\":\"a\",\"pass\":\"pa\"");
    let mut b = Raw::logged_in(p.addr(), "\"user\":\"b\",\"pass\":\"pb\"");

    conf_file(
        &dir,
        "authorization { users: [ {user: a, password: pa2}, {user: b, password: pb} ] }\nmax_payload: 2048\n",
    );
    reload(&mut p);
    assert_eq!(a.read_to_close(), b"-ERR 'Authorization Violation'\r\n");
    assert!(still_served(&mut b));
    let fresh = Raw::logged_in(p.addr(), "\"user\":\"a\",\"pass\":\"pa2\"");
    assert!(
        fresh.info.contains("\"max_payload\":2048"),
        "{}",
        fresh.info
    );
    let mut old_password = Raw::connect(p.addr());
    old_password.send(b"CONNECT {\"user\":\"a\",\"pass\":\"pa\"}\r\n");
    assert_eq!(
        old_password.read_to_close(),
        b"-ERR 'Authorization Violation'\r\n"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn reload_of_a_token_closes_its_old_holders() {
    let dir = scratch_dir("reload-token");
    let conf = conf_file(&dir, "authorization { token: t1 }\n");
    let mut p = Proc::start(&with_config(&conf, &[]));
    let mut holder = Raw::logged_in(p.addr(), "\"auth_token\":\"t1\"");
    conf_file(&dir, "authorization { token: t2 }\n");
    reload(&mut p);
    assert_eq!(
        holder.read_to_close(),
        b"-ERR 'Authorization Violation'\r\n"
    );
    let mut fresh = Raw::logged_in(p.addr(), "\"auth_token\":\"t2\"");
    assert!(still_served(&mut fresh));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn reload_refuses_a_new_port_and_keeps_serving_on_the_old_one() {
    let dir = scratch_dir("reload-port");
    // -1 in the file: a random port, as `-p -1`.
    let conf = conf_file(&dir, "port: -1\nmax_payload: 512\n");
    let mut p = Proc::start(&["-c", conf.to_str().unwrap(), "-a", "127.0.0.1"]);
    let port = p.addr().port();
    let other = if port == u16::MAX { port - 1 } else { port + 1 };
    conf_file(&dir, &format!("port: {other}\nmax_payload: 1024\n"));
    p.signal(libc::SIGHUP);
    assert!(p.expect_log("Failed to reload").ends_with(&format!(
        "[ERR] Failed to reload server configuration: config reload not supported for Port: old={port}, new={other}"
    )));
    let mut c = Raw::connect(p.addr());
    assert!(
        c.info.contains("\"max_payload\":512"),
        "the old settings stay"
    );
    assert_eq!(c.sync(), b"");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn reload_keeps_command_line_flags_over_the_file() {
    let dir = scratch_dir("reload-flags");
    let conf = conf_file(&dir, "port: 1\nmax_payload: 512\n");
    // -a and -p win over the file at start and again on reload.
    let mut p = Proc::start(&with_config(&conf, &[]));
    conf_file(&dir, "host: 127.0.0.2\nport: 2\nmax_payload: 1024\n");
    reload(&mut p);
    let c = Raw::connect(p.addr());
    assert!(c.info.contains("\"max_payload\":1024"), "{}", c.info);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn reload_without_a_config_file_is_refused_as_go_does() {
    let mut p = Proc::start(&loopback(&[]));
    p.signal(libc::SIGHUP);
    assert!(p.expect_log("Failed to reload").ends_with(
        "[ERR] Failed to reload server configuration: can only reload config when a file is provided using -c or --config"
    ));
    assert_eq!(Raw::connect(p.addr()).sync(), b"");
}

#[test]
fn reload_of_permissions_drops_the_subscriptions_they_now_forbid() {
    let dir = scratch_dir("reload-perms");
    let user = |allow: &str| {
        format!("authorization {{ users: [ {{user: a, password: pa, permissions: {{ subscribe: \"{allow}\", publish: \"{allow}\" }} }} ] }}\n")
    };
    let conf = conf_file(&dir, &user(">"));
    let mut p = Proc::start(&with_config(&conf, &["--shards", "2"]));
    let mut a = Raw::logged_in(p.addr(), "\"user\":\"a\",\"pass\":\"pa\"");
    a.send(b"SUB foo.x 1\r\nSUB bar.y 2\r\nSUB bar.z q 3\r\n");
    assert_eq!(a.sync(), b"");
    conf_file(&dir, &user("foo.>"));
    reload(&mut p);
    // The bytes nats-server 2.15.1 sends on the same reload.
    assert_eq!(
        a.sync(),
        b"-ERR 'Permissions Violation for Subscription to \"bar.y\" (sid \"2\")'\r\n-ERR 'Permissions Violation for Subscription to \"bar.z\" using queue \"q\" (sid \"3\")'\r\n"
    );
    a.send(b"PUB bar.y 1\r\nx\r\nPUB foo.x 1\r\nx\r\n");
    assert_eq!(
        a.sync(),
        b"-ERR 'Permissions Violation for Publish to \"bar.y\"'\r\nMSG foo.x 1 1\r\nx\r\n"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn reload_serves_new_clients_the_new_certificate() {
    use common::secure::Pki;
    use rustls::pki_types::pem::PemObject;
    let pki = Pki::new("reload-cert");
    let dir = scratch_dir("reload-cert");
    let tls = |cert: &str| {
        format!(
            "tls {{\n  cert_file: {:?}\n  key_file: {:?}\n}}\n",
            pki.dir.join(format!("{cert}.pem")),
            pki.dir.join(format!("{cert}-key.pem"))
        )
    };
    let conf = conf_file(&dir, &tls("server"));
    let mut p = Proc::start(&with_config(&conf, &["--shards", "2"]));
    let served = |c: &common::Raw<common::secure::TlsStream>| {
        c.s.conn.peer_certificates().unwrap()[0].as_ref().to_vec()
    };
    let der = |name: &str| {
        rustls::pki_types::CertificateDer::from_pem_file(pki.dir.join(format!("{name}.pem")))
            .unwrap()
            .as_ref()
            .to_vec()
    };
    let mut old = common::Raw::connect_tls(p.addr(), pki.client(None));
    old.log_in("");
    assert_eq!(served(&old), der("server"));

    pki.issue(
        "renewed",
        &[(rcgen::DnType::CommonName, "renewed")],
        &["localhost", "127.0.0.1"],
        &[],
    );
    conf_file(&dir, &tls("renewed"));
    p.signal(libc::SIGHUP);
    p.expect_log("[INF] Reloaded: tls = enabled");
    p.expect_log("[INF] Reloaded server configuration");
    let mut fresh = common::Raw::connect_tls(p.addr(), pki.client(None));
    fresh.log_in("");
    assert_eq!(served(&fresh), der("renewed"));
    // The client from before keeps its session.
    assert_eq!(old.sync(), b"");
}

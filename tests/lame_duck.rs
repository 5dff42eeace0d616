//! Lame duck mode (SIGUSR2) over real sockets: clients registered for async INFO learn of
//! it with `"ldm":true`, new clients are refused, the others are closed after the grace
//! period and the process exits 0. The duration is the 30 s minimum the Go server allows;
//! with few clients the closes are at most 1 s apart, so a run takes a few seconds.

use crate::common;

use std::net::TcpStream;

use common::process::{loopback, run, scratch_dir, with_config, write_file, Proc};
use common::Raw;

const LAME_DUCK_CONF: &str = "lame_duck_duration: \"30s\"\nlame_duck_grace_period: \"1s\"\n";

#[test]
fn lame_duck_tells_clients_refuses_new_ones_closes_them_and_exits_zero() {
    let dir = scratch_dir("lame-duck");
    let conf = write_file(&dir, "ldm.conf", LAME_DUCK_CONF);
    let mut p = Proc::start(&with_config(&conf, &["--shards", "2"]));
    // Protocol 1 and past its first PONG: it takes async INFOs.
    let mut modern = Raw::connect(p.addr());
    modern.send(b"CONNECT {\"verbose\":false,\"protocol\":1}\r\n");
    assert_eq!(modern.sync(), b"");
    assert!(modern.line().contains("\"connect_info\":true"));
    // Protocol 0: no async INFO, only the close.
    let mut legacy = Raw::connect(p.addr());
    legacy.log_in("");

    p.signal(libc::SIGUSR2);
    p.expect_log("[INF] Entering lame duck mode, stop accepting new clients");
    let info = modern.line();
    let v = common::info_json(&info);
    assert_eq!(v["ldm"], true, "{info}");
    assert_eq!(v["client_id"], modern.cid());
    assert!(v.get("connect_info").is_none(), "{info}");
    // SIGTERM is ignored while lame duck mode runs (`signal.go`).
    p.signal(libc::SIGTERM);
    p.expect_log("[INF] Closing existing clients");
    assert!(
        TcpStream::connect(p.addr()).is_err(),
        "no listener in lame duck mode"
    );
    assert_eq!(modern.read_to_close(), b"");
    assert_eq!(legacy.read_to_close(), b"");
    let (code, log) = p.wait_with_log();
    assert_eq!(code, 0, "{log:?}");
    let shutdown = log
        .iter()
        .position(|l| l.ends_with("Initiating Shutdown..."));
    let exiting = log.iter().position(|l| l.ends_with("Server Exiting.."));
    assert!(shutdown < exiting && shutdown.is_some(), "{log:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn lame_duck_without_clients_exits_at_once() {
    let p = Proc::start(&loopback(&[]));
    p.signal(libc::SIGUSR2);
    let (code, log) = p.wait_with_log();
    assert_eq!(code, 0);
    assert!(
        !log.iter().any(|l| l.contains("Closing existing clients")),
        "no grace period without clients: {log:?}"
    );
}

/// Checks `text` as a configuration file with `-t`: the error, or `None` when valid.
fn config_error(text: &str) -> Option<String> {
    let dir = scratch_dir("lame-duck-conf");
    let conf = write_file(&dir, "ldm.conf", text);
    let (code, _, err) = run(&["-c", conf.to_str().unwrap(), "-t"]);
    std::fs::remove_dir_all(&dir).unwrap();
    (code != 0).then_some(err)
}

#[test]
fn lame_duck_settings_are_checked_as_go_does() {
    let err = config_error("lame_duck_duration: \"5s\"\n").unwrap();
    assert!(
        err.contains("invalid lame_duck_duration of 5s, minimum is 30 seconds"),
        "{err}"
    );
    let err = config_error("lame_duck_grace_period: \"-1s\"\n").unwrap();
    assert!(
        err.contains("invalid lame_duck_grace_period, needs to be positive"),
        "{err}"
    );
    assert_eq!(config_error(LAME_DUCK_CONF), None);
}

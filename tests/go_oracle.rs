//! The comparisons with the Go server cannot pass silently: without its binary they fail
//! where `RIPTIDE_REQUIRE_GO` is set (`./test.sh`, CI) and say they skipped elsewhere.

use crate::common;

use std::process::Command;

use common::go::go_server;

/// What every comparison does first; the test below runs it in a child process with no
/// Go server to be found.
#[test]
fn finds_the_go_server() {
    if let Some(path) = go_server() {
        assert!(path.is_file(), "{}", path.display());
    }
}

#[test]
fn a_missing_go_server_fails_where_required_and_is_reported_elsewhere() {
    let run = |require: bool| {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args([
            "--exact",
            "go_oracle::finds_the_go_server",
            "--test-threads",
            "1",
        ])
        .env("NATS_SERVER", "/nonexistent/nats-server")
        .env_remove("RIPTIDE_REQUIRE_GO");
        if require {
            cmd.env("RIPTIDE_REQUIRE_GO", "1");
        }
        let out = cmd.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), text)
    };
    let (ok, text) = run(true);
    assert!(!ok, "passed without the Go server: {text}");
    assert!(
        text.contains(
            "RIPTIDE_REQUIRE_GO is set and there is no Go nats-server at /nonexistent/nats-server"
        ),
        "{text}"
    );
    let (ok, text) = run(false);
    assert!(ok, "{text}");
    assert!(
        text.contains("SKIPPED the Go comparison in go_oracle::finds_the_go_server: no Go nats-server at /nonexistent/nats-server"),
        "{text}"
    );
}

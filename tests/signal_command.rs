//! `riptide --signal` against a started server, named by its pid file (`=FILE` or `-P`) or
//! pid, and the pid file itself: written at start, removed on exit.

use crate::common;

use common::process::{loopback, run, scratch_dir, with_config, write_file, Proc};
use common::Raw;

#[test]
fn signals_reach_the_server_named_by_its_pid_file() {
    let dir = scratch_dir("signal-pidfile");
    let pid_file = dir.join("r.pid");
    let conf = write_file(&dir, "r.conf", "max_payload: 512\n");
    let pid_arg = pid_file.to_str().unwrap();
    let mut p = Proc::start(&with_config(&conf, &["-P", pid_arg]));
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap(),
        p.child.id().to_string()
    );

    std::fs::write(&conf, "max_payload: 1024\n").unwrap();
    assert_eq!(run(&["--signal", &format!("reload={pid_arg}")]).0, 0);
    assert!(p
        .expect_log("Trapped ")
        .ends_with("[INF] Trapped \"hangup\" signal"));
    p.expect_log("[INF] Reloaded: max_payload = 1024");
    p.expect_log("[INF] Reloaded server configuration");
    assert!(Raw::connect(p.addr()).info.contains("\"max_payload\":1024"));

    // With no pid after the command, -P names the process.
    assert_eq!(run(&["-sl", "reopen", "-P", pid_arg]).0, 0);
    p.expect_log("File log re-open ignored, not a file logger");

    assert_eq!(run(&["--signal", &format!("ldm={pid_arg}")]).0, 0);
    let (code, log) = p.wait_with_log();
    assert_eq!(code, 0, "{log:?}");
    assert!(
        log.iter()
            .any(|l| l.ends_with("[INF] Entering lame duck mode, stop accepting new clients")),
        "{log:?}"
    );
    assert!(!pid_file.exists(), "pid file removed on exit");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn stop_kills_and_quit_interrupts() {
    let p = Proc::start(&loopback(&[]));
    let pid = p.child.id().to_string();
    assert_eq!(run(&["--signal", &format!("quit={pid}")]).0, 0);
    assert_eq!(p.wait(), 0);

    let p = Proc::start(&loopback(&[]));
    let pid = p.child.id().to_string();
    assert_eq!(run(&["--signal", &format!("stop={pid}")]).0, 0);
    // SIGKILL: no exit code, as for the Go server.
    assert_eq!(p.wait(), -1);
}

#[test]
fn signal_errors_have_the_go_texts() {
    let (code, _, err) = run(&["--signal", "reload=abc"]);
    assert_eq!((code, err.as_str()), (1, "riptide: invalid pid: abc\n"));
    let (code, _, err) = run(&["--signal", "reload=1=2"]);
    assert_eq!(
        (code, err.as_str()),
        (1, "riptide: invalid signal parameters: [2]\n")
    );
    // Checked before anything is sent: this test process is not signalled.
    let me = std::process::id();
    let (code, _, err) = run(&["--signal", &format!("bogus={me}")]);
    assert_eq!(
        (code, err.as_str()),
        (1, "riptide: unknown signal \"bogus\"\n")
    );
}

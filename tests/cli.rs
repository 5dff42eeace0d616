//! The `riptide` binary as launchers use it: flags, the log lines they parse, exit codes and
//! signals.

use crate::common;

use std::process::{Command, Stdio};

use common::process::{loopback, run, wait_for_file, with_config, write_file, Proc, BIN};
use common::Raw;
use riptide::runtime::PANIC_EXIT_CODE;
use riptide::server::FAULT_PANIC_ON_CONNECT_ENV;

#[test]
fn version_help_and_bad_flags() {
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("riptide: v") && out.contains("nats-server: v2.15.1"),
        "{out}"
    );
    assert_eq!(run(&["-v"]).0, 0);
    let (code, out, _) = run(&["-h"]);
    assert_eq!(code, 0);
    assert!(out.contains("--port"));
    let (code, _, err) = run(&["--bogus"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("flag provided but not defined: -bogus"),
        "{err}"
    );
    let (code, _, err) = run(&["-p"]);
    assert_eq!(code, 1);
    assert!(err.contains("flag needs an argument: -p"), "{err}");
}

#[test]
fn go_shaped_startup_lines_random_port_and_sigterm() {
    let p = Proc::start(&loopback(&["--shards", "2"]));
    let listening = p
        .lines
        .iter()
        .position(|l| l.contains("[INF] Listening for client connections on 127.0.0.1:"));
    let ready = p
        .lines
        .iter()
        .position(|l| l.ends_with("[INF] Server is ready"));
    assert!(listening.unwrap() < ready.unwrap(), "{:?}", p.lines);
    // `[pid] yyyy/mm/dd hh:mm:ss.micros [INF] ...`
    let first = &p.lines[0];
    assert!(
        first.starts_with(&format!("[{}] ", p.child.id())),
        "{first}"
    );
    assert_eq!(first.split(' ').nth(3), Some("[INF]"), "{first}");
    assert_ne!(p.addr().port(), 0);

    let mut c = Raw::connect(p.addr());
    c.send(b"SUB foo 1\r\n");
    assert_eq!(c.sync(), b"+OK\r\n");
    p.signal(libc::SIGTERM);
    assert_eq!(c.read_to_close(), b"");
    assert_eq!(p.wait(), 0);
}

/// The panic policy (`runtime::PANIC_EXIT_CODE`): a panic in connection handling logs a
/// fatal line naming the shard and exits the process, rather than leave a dead shard that
/// silently stalls its clients and the shards waiting on it.
#[test]
fn shard_panic_exits_the_process_with_a_fatal_log() {
    let p = Proc::start_with_env(
        &loopback(&["--shards", "2"]),
        &[(FAULT_PANIC_ON_CONNECT_ENV, "boom")],
    );
    let mut fine = Raw::connect(p.addr());
    fine.send(b"CONNECT {\"name\":\"fine\"}\r\n");
    assert_eq!(fine.sync(), b"+OK\r\n", "only the armed name panics");
    let mut boom = Raw::connect(p.addr());
    boom.send(b"CONNECT {\"name\":\"boom\"}\r\n");
    let (code, log) = p.wait_with_log();
    assert_eq!(code, PANIC_EXIT_CODE, "{log:?}");
    let fatal = "panicked, exiting: fault injection: CONNECT from a client named boom";
    assert!(
        log.iter()
            .any(|l| l.contains("[FTL] Shard ") && l.ends_with(fatal)),
        "{log:?}"
    );
    assert_eq!(fine.read_to_close(), b"", "the process is gone");
}

#[test]
fn sigint_exits_zero() {
    let p = Proc::start(&loopback(&[]));
    p.signal(libc::SIGINT);
    assert_eq!(p.wait(), 0);
}

#[test]
fn port_in_use_is_fatal_and_names_the_port() {
    let p = Proc::start(&loopback(&[]));
    let port = p.addr().port().to_string();
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = held.local_addr().unwrap().port().to_string();
    let (code, _, err) = run(&["-a", "127.0.0.1", "-p", &busy]);
    assert_eq!(code, 1);
    assert!(err.contains("[FTL]") && err.contains(&busy), "{err}");
    // The running server on `port` is another process, untouched.
    let mut c = Raw::connect(p.addr());
    assert_eq!(c.sync(), b"");
    assert!(!port.is_empty());
}

/// The `[FTL]` line's text, after the pid and time.
fn fatal_line(stderr: &str) -> String {
    let line = stderr.lines().find(|l| l.contains("[FTL] ")).unwrap_or("");
    line.split("[FTL] ").nth(1).unwrap_or("").to_string()
}

/// A second server on ports a running Riptide holds fails at start as the Go server does:
/// exit 1 and Go's words, for the client, monitoring and WebSocket ports. (Each shard's
/// `SO_REUSEPORT` listener would otherwise join the first server's group.)
#[test]
fn ports_another_riptide_holds_are_refused_as_go_refuses_them() {
    let dir = common::process::scratch_dir("ports-in-use");
    let conf = write_file(&dir, "ws.conf", "websocket { port: -1, no_tls: true }\n");
    let first = Proc::start(&with_config(&conf, &["-m", "-1", "--shards", "2"]));
    let port = first.addr().port().to_string();
    let http = first.monitor_addr().port().to_string();
    let ws = first
        .lines
        .iter()
        .find_map(|l| l.split("Listening for websocket clients on ws://").nth(1))
        .and_then(|a| a.rsplit(':').next())
        .unwrap()
        .to_string();
    let ws_conf = write_file(
        &dir,
        "ws-taken.conf",
        &format!("websocket {{ port: {ws}, no_tls: true }}\n"),
    );
    let ws_conf = ws_conf.to_str().unwrap();
    let cases: [(Vec<&str>, String); 3] = [
        (
            vec!["-a", "127.0.0.1", "-p", &port],
            format!("Error listening on port: 127.0.0.1:{port}, \"listen tcp 127.0.0.1:{port}: bind: address already in use\""),
        ),
        (
            loopback(&["-m", &http]),
            format!("Can't start monitoring: can't listen to the monitor port: listen tcp 127.0.0.1:{http}: bind: address already in use"),
        ),
        (
            vec!["-c", ws_conf, "-a", "127.0.0.1", "-p", "-1"],
            format!("Unable to listen for websocket connections: listen tcp 0.0.0.0:{ws}: bind: address already in use"),
        ),
    ];
    let go = common::go::go_server();
    for (args, want) in &cases {
        let (code, _, err) = run(args);
        assert_eq!(
            (code, fatal_line(&err)),
            (1, want.clone()),
            "{args:?}: {err}"
        );
        if let Some(go) = &go {
            let out = Command::new(go).args(args).output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                (out.status.code(), fatal_line(&err)),
                (Some(1), want.clone()),
                "Go, {args:?}"
            );
        }
    }
    // The first server kept its clients' port to itself.
    let mut c = Raw::connect(first.addr());
    assert_eq!(c.sync(), b"");
}

#[test]
fn ipv6_loopback() {
    let p = Proc::start(&["-a", "::1", "-p", "-1"]);
    assert!(
        p.lines
            .iter()
            .any(|l| l.contains("Listening for client connections on [::1]:")),
        "{:?}",
        p.lines
    );
    let mut c = Raw::connect(p.addr());
    c.send(b"SUB v6 1\r\nPUB v6 2\r\nok\r\n");
    assert_eq!(c.sync(), b"+OK\r\n+OK\r\nMSG v6 1 2\r\nok\r\n");
}

#[test]
fn bad_address_fails_to_start() {
    let (code, _, err) = run(&["-a", "999.1.1.1", "-p", "-1"]);
    assert_eq!(code, 1);
    assert!(err.contains("[FTL]"), "{err}");
}

#[test]
fn log_file_pid_file_and_trace() {
    let dir = std::env::temp_dir().join(format!("riptide-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("r.log");
    let pid = dir.join("r.pid");
    let mut child = Command::new(BIN)
        .args(loopback(&[
            "-DV",
            "-l",
            log.to_str().unwrap(),
            "-P",
            pid.to_str().unwrap(),
        ]))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let text = wait_for_file(&log, |t| t.contains("Server is ready"));
    assert_eq!(
        std::fs::read_to_string(&pid).unwrap(),
        child.id().to_string()
    );
    let line = text
        .lines()
        .find(|l| l.contains("Listening for client connections on "))
        .unwrap();
    let addr: std::net::SocketAddr = line.rsplit("on ").next().unwrap().parse().unwrap();
    let mut c = Raw::connect(addr);
    c.send(b"SUB traced 1\r\nPUB traced 2\r\nhi\r\n");
    assert_eq!(c.sync(), b"+OK\r\n+OK\r\nMSG traced 1 2\r\nhi\r\n");
    wait_for_file(&log, |t| {
        t.contains("[TRC]")
            && t.contains("<<- [SUB traced 1]")
            && t.contains("<<- [PUB traced 2]")
            && t.contains("<<- MSG_PAYLOAD: [\"hi\"]")
            && t.contains("->> [MSG traced 1 2]")
            && t.contains("->> MSG_PAYLOAD: [\"hi\"]")
            && t.contains("->> [OK]")
            && t.contains("<<- [PING]")
            && t.contains("->> [PONG]")
            && t.contains("[DBG]")
            && t.contains("Client connection created")
    });
    // SAFETY: signalling the child we started.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert!(child.wait().unwrap().success());
    assert!(!pid.exists(), "pid file removed on exit");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn jetstream_flags_are_accepted_and_store_dir_checked() {
    let dir = std::env::temp_dir().join(format!("riptide-js-{}", std::process::id()));
    let store = dir.join("store");
    let p = Proc::start(&loopback(&["-js", "-sd", store.to_str().unwrap()]));
    assert!(
        p.lines
            .iter()
            .any(|l| l.ends_with("[INF] Starting JetStream")),
        "{:?}",
        p.lines
    );
    // Go names the `jetstream` directory under the store directory.
    let shown = format!("Store Directory: \"{}\"", store.join("jetstream").display());
    assert!(p.lines.iter().any(|l| l.ends_with(&shown)), "{:?}", p.lines);
    assert!(store.is_dir());
    drop(p);
    let file = dir.join("file");
    std::fs::write(&file, "x").unwrap();
    let (code, _, err) = run(&loopback(&["-js", "-sd", file.to_str().unwrap()]));
    assert_eq!(code, 1);
    assert!(
        err.contains("storage directory is not a directory"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Runs the binary with `io_uring_setup` failing with `errno`, as under a container's
/// seccomp profile, through a seccomp filter installed in the child before exec.
fn run_without_io_uring(errno: u32) -> (i32, String) {
    use std::os::unix::process::CommandExt;
    /// `io_uring_setup` has the same number on every architecture (a post-4.20 syscall).
    const SYS_IO_URING_SETUP: u32 = 425;
    const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
    const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
    let filter = [
        // A = seccomp_data.nr
        libc::sock_filter {
            code: (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16,
            jt: 0,
            jf: 0,
            k: 0,
        },
        libc::sock_filter {
            code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
            jt: 0,
            jf: 1,
            k: SYS_IO_URING_SETUP,
        },
        libc::sock_filter {
            code: (libc::BPF_RET | libc::BPF_K) as u16,
            jt: 0,
            jf: 0,
            k: SECCOMP_RET_ERRNO | errno,
        },
        libc::sock_filter {
            code: (libc::BPF_RET | libc::BPF_K) as u16,
            jt: 0,
            jf: 0,
            k: SECCOMP_RET_ALLOW,
        },
    ];
    let mut cmd = Command::new(BIN);
    cmd.args(loopback(&[]));
    // SAFETY: only async-signal-safe prctl calls between fork and exec; `filter` outlives them.
    unsafe {
        cmd.pre_exec(move || {
            let prog = libc::sock_fprog {
                len: filter.len() as u16,
                filter: filter.as_ptr() as *mut _,
            };
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::prctl(
                    libc::PR_SET_SECCOMP,
                    libc::SECCOMP_MODE_FILTER,
                    &prog as *const _,
                ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn io_uring_unavailable_exits_with_cause_and_fix() {
    let (code, err) = run_without_io_uring(libc::ENOSYS as u32);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("[FTL] io_uring setup failed"), "{err}");
    assert!(err.contains("seccomp"), "names the likely cause: {err}");
    let (code, err) = run_without_io_uring(libc::EPERM as u32);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("io_uring") && err.contains("not permitted"),
        "{err}"
    );
}

fn write_conf(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("riptide-conf-{}", std::process::id()));
    write_file(&dir, name, text)
}

#[test]
fn config_file_sets_and_flags_override() {
    let conf = write_conf(
        "a.conf",
        "listen: 127.0.0.1:1\nserver_name: from-file\nmax_payload: 512\n",
    );
    // -p given on the command line wins over the file's port.
    let p = Proc::start(&["-c", conf.to_str().unwrap(), "-p", "-1"]);
    assert_ne!(p.addr().port(), 1);
    assert_eq!(p.addr().ip().to_string(), "127.0.0.1");
    let mut c = Raw::connect(p.addr());
    assert!(
        c.info.contains("\"server_name\":\"from-file\"") && c.info.contains("\"max_payload\":512"),
        "{}",
        c.info
    );
    c.send(b"PUB x 513\r\n");
    assert_eq!(c.read_to_close(), b"-ERR 'Maximum Payload Violation'\r\n");
}

#[test]
fn config_test_flag_and_errors() {
    let ok = write_conf("ok.conf", "port: 4333\nping_interval: \"5s\"\n");
    let (code, out, _) = run(&["-c", ok.to_str().unwrap(), "-t"]);
    assert_eq!(code, 0);
    assert!(out.contains("is valid"), "{out}");
    let bad = write_conf("bad.conf", "port: 4333\nfoo: 1\n");
    let (code, _, err) = run(&["-c", bad.to_str().unwrap(), "-t"]);
    assert_eq!(code, 1);
    assert!(err.contains("bad.conf:2:1: unknown field \"foo\""), "{err}");
    let syntax = write_conf("syntax.conf", "port: 4333\nmax_payload: {\n");
    let (code, _, err) = run(&["-c", syntax.to_str().unwrap()]);
    assert_eq!(code, 1);
    // nats-server 2.15.1's lexer error, word for word, with no file and no blank line after.
    assert_eq!(
        err,
        "riptide: Parse error on line 3: 'Unexpected EOF processing map.'\n"
    );
    let (code, _, err) = run(&["-c", "/nonexistent/riptide.conf"]);
    assert_eq!(code, 1);
    assert!(err.contains("no such file or directory"), "{err}");
}

#[test]
fn stale_connection_from_config_ping_settings() {
    let conf = write_conf("ping.conf", "ping_interval: \"200ms\"\nping_max: 1\n");
    let p = Proc::start(&with_config(&conf, &[]));
    let mut c = Raw::connect(p.addr());
    // Never answers the server's PINGs.
    assert_eq!(c.read_to_close(), b"PING\r\n-ERR 'Stale Connection'\r\n");
}

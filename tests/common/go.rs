//! The Go nats-server as an oracle: found at `.venv/bin/nats-server` (as `./test.sh`
//! installs it) or `$NATS_SERVER`. Where `RIPTIDE_REQUIRE_GO` is set (`./test.sh` sets it
//! once it installed the oracle, so CI always does), a missing binary fails the test;
//! elsewhere the comparison is skipped with a line on the terminal saying so.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use super::process::START_WAIT;

pub fn go_server() -> Option<PathBuf> {
    let path = std::env::var_os("NATS_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/nats-server"));
    if path.exists() {
        return Some(path);
    }
    let why = format!(
        "no Go nats-server at {} (./test.sh installs it: scripts/server.sh ensure_go_server)",
        path.display()
    );
    assert!(
        std::env::var_os("RIPTIDE_REQUIRE_GO").is_none(),
        "RIPTIDE_REQUIRE_GO is set and there is {why}"
    );
    let test = std::thread::current().name().unwrap_or("?").to_string();
    // Straight to stderr, past the test harness's capture, so a passing test that compared
    // nothing is seen.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED the Go comparison in {test}: {why}"
    );
    None
}

/// A Go server process on a random loopback port, killed when dropped.
pub struct Go {
    child: Child,
    pub addr: SocketAddr,
    /// The WebSocket listener, when the configuration has one (its `host` on loopback).
    pub ws_addr: Option<SocketAddr>,
    /// The route listener, when started with `--cluster`.
    pub route_addr: Option<SocketAddr>,
    /// The leaf node listener, when the configuration has one.
    pub leaf_addr: Option<SocketAddr>,
    /// The monitoring port, when one is configured (`-m`, `http`; `-1` picks a free one).
    pub http_addr: Option<SocketAddr>,
}

impl Go {
    /// The server's process id, to signal it.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn start(bin: &Path, conf: &Path) -> Go {
        Go::spawn(Command::new(bin).args(["-c", conf.to_str().unwrap()]))
    }

    /// Writes `conf` to `path`, then starts `bin` on it.
    pub fn start_conf(bin: &Path, path: &Path, conf: &str) -> Go {
        std::fs::write(path, conf).unwrap();
        Go::start(bin, path)
    }

    /// Starts `cmd` (a `nats-server` command) on a random loopback port.
    pub fn spawn(cmd: &mut Command) -> Go {
        let clustered = cmd.get_args().any(|a| a == "--cluster");
        let mut child = cmd
            .args(["-a", "127.0.0.1", "-p", "-1"])
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut r = BufReader::new(child.stderr.take().unwrap());
        let deadline = Instant::now() + START_WAIT;
        let mut lines = Vec::new();
        let mut ws_addr = None;
        let mut leaf_addr = None;
        let mut http_addr = None;
        let addr = loop {
            let mut l = String::new();
            assert!(r.read_line(&mut l).unwrap() > 0, "exited early: {lines:?}");
            // Logged before the client listener's line.
            if let Some(at) = l.find("Listening for websocket clients on ") {
                let url = l[at..].trim_end().rsplit(' ').next().unwrap();
                ws_addr = Some(url.rsplit('/').next().unwrap().parse().unwrap());
            }
            leaf_addr =
                leaf_addr.or_else(|| logged_addr(&l, "Listening for leafnode connections on "));
            http_addr = http_addr.or_else(|| logged_addr(&l, "Starting http monitor on "));
            if let Some(a) = logged_addr(&l, "Listening for client connections on ") {
                break a;
            }
            lines.push(l);
            assert!(Instant::now() < deadline, "{lines:?}");
        };
        // Go logs its route listener after `Server is ready`.
        let mut route_addr = None;
        while clustered && route_addr.is_none() {
            let mut l = String::new();
            assert!(r.read_line(&mut l).unwrap() > 0, "exited early: {lines:?}");
            route_addr = logged_addr(&l, "Listening for route connections on ");
            lines.push(l);
            assert!(Instant::now() < deadline, "{lines:?}");
        }
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in r.lines().map_while(Result::ok) {});
        Go {
            child,
            addr,
            ws_addr,
            route_addr,
            leaf_addr,
            http_addr,
        }
    }
}

/// The address a log line gives after `prefix`, when it is that line.
fn logged_addr(line: &str, prefix: &str) -> Option<SocketAddr> {
    let at = line.find(prefix)?;
    Some(line[at..].trim_end().rsplit(' ').next()?.parse().unwrap())
}

impl Drop for Go {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `bin -t -c conf` (either server) run by `cmd`: its exit code and what it printed, stdout
/// then stderr.
pub fn check_config(cmd: &mut Command, conf: &str) -> (i32, String) {
    let out = cmd.args(["-t", "-c", conf]).output().unwrap();
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

/// `-t` output with the program name taken off each line and the lines sorted: Go lists a
/// block's errors in its map order, which changes from run to run. Go's "is valid" line
/// ends with a digest of its parsed configuration, which Riptide does not print.
pub fn normalized(out: &str, program: &str) -> Vec<String> {
    let mut lines: Vec<String> = out
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let l = l.strip_prefix(program).unwrap_or(l);
            match l.find(" is valid (sha256:") {
                Some(at) => l[..at + " is valid".len()].to_string(),
                None => l.to_string(),
            }
        })
        .collect();
    lines.sort();
    lines
}

//! The `riptide` binary as a child process: started with flags, its log lines read up to
//! `Server is ready`, and what it logged afterwards kept for the test.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_riptide");
/// A bound on start-up and exit, not a timing assertion.
pub const START_WAIT: Duration = Duration::from_secs(20);

/// A server process and the log lines it printed up to `Server is ready`.
pub struct Proc {
    pub child: Child,
    pub lines: Vec<String>,
    /// The lines logged after `Server is ready`, once stderr closes.
    rest: Option<JoinHandle<Vec<String>>>,
}

impl Proc {
    pub fn start(args: &[&str]) -> Proc {
        Proc::start_with_env(args, &[])
    }

    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Proc {
        let mut child = Command::new(BIN)
            .args(args)
            .envs(env.iter().copied())
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut r = BufReader::new(child.stderr.take().unwrap());
        let mut lines = Vec::new();
        let deadline = Instant::now() + START_WAIT;
        loop {
            let mut l = String::new();
            assert!(r.read_line(&mut l).unwrap() > 0, "exited early: {lines:?}");
            lines.push(l.trim_end().to_string());
            if l.contains("Server is ready") {
                break;
            }
            assert!(Instant::now() < deadline, "{lines:?}");
        }
        // Keep draining stderr so the server never blocks on a full pipe.
        let rest = std::thread::spawn(move || r.lines().map_while(Result::ok).collect());
        Proc {
            child,
            lines,
            rest: Some(rest),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.logged_addr("Listening for client connections on ")
    }

    /// The monitoring port's address, when started with `-m`.
    pub fn monitor_addr(&self) -> SocketAddr {
        self.logged_addr("Starting http monitor on ")
    }

    fn logged_addr(&self, prefix: &str) -> SocketAddr {
        let l = self
            .lines
            .iter()
            .find(|l| l.contains(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} in {:?}", self.lines));
        let hostport = l.rsplit(prefix).next().unwrap();
        hostport.parse().unwrap()
    }

    /// The process's resident set size from `/proc`, bytes.
    pub fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/PID/status");
        kib * 1024
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: signalling the child we started.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    pub fn wait(mut self) -> i32 {
        self.exit_code()
    }

    /// Waits for the exit: its code and the lines logged after `Server is ready`.
    pub fn wait_with_log(mut self) -> (i32, Vec<String>) {
        let code = self.exit_code();
        let rest = self.rest.take().expect("drained once").join().unwrap();
        (code, rest)
    }

    fn exit_code(&mut self) -> i32 {
        let deadline = Instant::now() + START_WAIT;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code().unwrap_or(-1);
            }
            assert!(Instant::now() < deadline, "did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

//! The `riptide` binary as a child process: started with flags, its log lines read up to
//! `Server is ready`, and what it logged afterwards kept for the test as it comes.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_riptide");
/// A bound on start-up and exit, not a timing assertion.
pub const START_WAIT: Duration = Duration::from_secs(20);

/// A server process and the log lines it printed up to `Server is ready`.
pub struct Proc {
    pub child: Child,
    pub lines: Vec<String>,
    /// The lines logged after `Server is ready`, as they come.
    rest: Arc<Mutex<Vec<String>>>,
    /// How many of `rest` `expect_log` has gone past.
    seen: usize,
    drain: Option<JoinHandle<()>>,
}

impl Proc {
    pub fn start(args: &[&str]) -> Proc {
        Proc::start_with_env(args, &[])
    }

    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Proc {
        Proc::start_in(Path::new("."), args, env)
    }

    /// Starts the binary in the directory `dir` (relative paths in a configuration are
    /// relative to the working directory, as in the Go server).
    pub fn start_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Proc {
        let mut child = Command::new(BIN)
            .current_dir(dir)
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
        let rest = Arc::new(Mutex::new(Vec::new()));
        let sink = rest.clone();
        let drain = std::thread::spawn(move || {
            for l in r.lines().map_while(Result::ok) {
                sink.lock().unwrap().push(l);
            }
        });
        Proc {
            child,
            lines,
            rest,
            seen: 0,
            drain: Some(drain),
        }
    }

    /// Starts the binary with `-l log`: its start-up lines are read from that file.
    pub fn start_logging_to(args: &[&str], log: &Path) -> Proc {
        let child = Command::new(BIN)
            .args(args)
            .args(["-l", log.to_str().unwrap()])
            .stderr(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let text = wait_for_file(log, |t| t.contains("Server is ready"));
        Proc {
            child,
            lines: text.lines().map(str::to_string).collect(),
            rest: Arc::default(),
            seen: 0,
            drain: None,
        }
    }

    /// Waits for the next line logged after `Server is ready` that contains `needle`, past
    /// the lines earlier calls returned, and returns it.
    pub fn expect_log(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + START_WAIT;
        loop {
            {
                let rest = self.rest.lock().unwrap();
                if let Some(i) = rest[self.seen..].iter().position(|l| l.contains(needle)) {
                    self.seen += i + 1;
                    return rest[self.seen - 1].clone();
                }
                assert!(Instant::now() < deadline, "no {needle:?} in {rest:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.logged_addr("Listening for client connections on ")
    }

    /// The route port's address, when started with `--cluster`.
    pub fn route_addr(&self) -> SocketAddr {
        self.logged_addr("Listening for route connections on ")
    }

    /// The leaf node port's address, when configured with `leafnodes { listen }`.
    pub fn leaf_addr(&self) -> SocketAddr {
        self.logged_addr("Listening for leafnode connections on ")
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
        self.status_bytes("VmRSS:")
    }

    /// The most it was ever resident, bytes.
    pub fn peak_rss(&self) -> u64 {
        self.status_bytes("VmHWM:")
    }

    /// A field of `/proc/PID/status` given in kB (`VmRSS:`, `VmHWM:`), in bytes.
    fn status_bytes(&self, key: &str) -> u64 {
        let pid = self.child.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("{key} in /proc/{pid}/status"));
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
        if let Some(d) = self.drain.take() {
            d.join().unwrap();
        }
        let rest = std::mem::take(&mut *self.rest.lock().unwrap());
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

/// A loopback port nothing listens on now (for a Go server's fixed ports).
pub fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// A fresh directory for one test's files, named after the test and this process.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("riptide-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `text` to the file `name` in `dir` (created if need be); returns its path.
pub fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Waits until the file at `path` exists and `done` holds for its text; returns the text.
pub fn wait_for_file(path: &Path, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + START_WAIT;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if done(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "{}: {text}", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs the binary to completion: exit code, stdout and stderr.
/// A binary that has not exited after `START_WAIT` (a server that should have refused to
/// start) is killed and reported with exit code -1.
pub fn run(args: &[&str]) -> (i32, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let read = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = r.read_to_string(&mut text);
            text
        })
    };
    let out = read(Box::new(child.stdout.take().unwrap()));
    let err = read(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + START_WAIT;
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code().unwrap_or(-1);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break -1;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    (code, out.join().unwrap(), err.join().unwrap())
}

/// The flags for a server on a random loopback port, then `extra`.
pub fn loopback<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["-a", "127.0.0.1", "-p", "-1"];
    args.extend_from_slice(extra);
    args
}

/// The flags for a server configured by `conf`, on a random loopback port, then `extra`.
pub fn with_config<'a>(conf: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["-c", conf.to_str().unwrap()];
    args.extend(loopback(extra));
    args
}

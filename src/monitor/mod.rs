//! The HTTP monitoring port (`-m`, `http`, `http_port`, `http_base_path`): the Go server's
//! JSON endpoints with its field names and query parameters, Prometheus `/metrics`, and a
//! live `/dashboard`. It runs on its own thread; every answer is built from snapshots the
//! shards take of themselves on request (see `mailbox`), so the message path carries no
//! shared counters.

pub(crate) mod accounts;
mod connz;
pub(crate) mod http;
mod jsz;
mod metrics;
mod pages;
mod stubs;
mod subsz;
pub(crate) mod varz;

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use crate::fanout::Mesh;
use crate::log_at;
use crate::mailbox::{Command, Mailbox};
use crate::server::{CurrentServer, Server};
use crate::shard::{Query, ShardSnapshot};
pub use http::{parse_request, Request, Response};

/// How long a monitoring client may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Requests served at once, each on its own thread; past this a client gets a 503 at
/// once, so that clients that connect and send nothing cannot pile up threads without
/// bound (the Go server's goroutines are cheap enough not to need a cap).
const MAX_CONCURRENT_REQUESTS: usize = 1024;
/// Request threads only parse a head and format JSON, bytes.
const REQUEST_THREAD_STACK: usize = 256 * 1024;

/// What every endpoint reads: the server, the way to ask shards, and the monitor's own
/// counters.
pub(crate) struct Context {
    /// The server as last reloaded.
    current: Arc<CurrentServer>,
    mesh: Arc<Mesh>,
    mailbox: Arc<Mailbox>,
    pub shards: usize,
    /// The monitoring listener's address; `None` without one, when only the system
    /// account's services read the endpoints.
    pub http_addr: Option<SocketAddr>,
    pub base_path: String,
    pub started: Clock,
    /// Requests served per endpoint (`/varz` `http_req_stats`).
    pub req_stats: Mutex<BTreeMap<&'static str, u64>>,
    /// The last CPU-time sample, for `/varz` `cpu` as a percentage over the interval.
    pub cpu_sample: Mutex<Option<(Instant, Duration)>>,
}

/// A wall-clock time and the monotonic instant it was read at, to turn the shards'
/// `Instant`s into dates.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    pub wall: SystemTime,
    pub mono: Instant,
}

impl Clock {
    pub fn now() -> Clock {
        Clock {
            wall: SystemTime::now(),
            mono: Instant::now(),
        }
    }

    pub fn wall_of(&self, t: Instant) -> SystemTime {
        match self.mono.checked_duration_since(t) {
            Some(ago) => self.wall - ago,
            None => self.wall + t.duration_since(self.mono),
        }
    }

    pub fn date(&self, t: Instant) -> String {
        crate::timefmt::rfc3339_nano(self.wall_of(t))
    }
}

impl Context {
    pub fn new(
        current: Arc<CurrentServer>,
        mesh: Arc<Mesh>,
        mailbox: Arc<Mailbox>,
        shards: usize,
        http_addr: Option<SocketAddr>,
        base_path: &str,
    ) -> Context {
        Context {
            current,
            mesh,
            mailbox,
            shards,
            http_addr,
            base_path: base_path.trim_end_matches('/').to_string(),
            started: Clock::now(),
            req_stats: Mutex::new(BTreeMap::new()),
            cpu_sample: Mutex::new(None),
        }
    }

    /// Queues `command` for `shard`.
    pub fn send(&self, shard: usize, command: Command) {
        self.mailbox.send(&self.mesh, shard, command);
    }

    /// Every shard's snapshot, ordered by shard.
    pub fn gather(&self, query: Query) -> Vec<ShardSnapshot> {
        let mut snapshots = self
            .mailbox
            .gather(&self.mesh, |reply| Command::Snapshot { query, reply });
        snapshots.sort_by_key(|s| s.shard);
        snapshots
    }

    pub fn server(&self) -> Arc<Server> {
        self.current.get()
    }

    fn count(&self, path: &'static str) {
        *self
            .req_stats
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(path)
            .or_default() += 1;
    }
}

/// Go's JSON answer: indented by two spaces (`json.MarshalIndent(v, "", "  ")`).
pub(crate) fn pretty(v: &impl Serialize) -> Response {
    Response::json(serde_json::to_vec_pretty(v).unwrap_or_default())
}

/// A float64 as Go's `encoding/json` writes it: whole numbers without a fraction (`0`, not
/// `0.0`).
pub(crate) fn go_float(x: f64) -> serde_json::Value {
    const EXACT_INT: f64 = 9_007_199_254_740_992.0; // 2^53: beyond it floats skip integers
    if x.fract() == 0.0 && x.abs() < EXACT_INT {
        serde_json::json!(x as i64)
    } else {
        serde_json::json!(x)
    }
}

/// Go's `strconv.ParseBool` on a query parameter; absent or empty is false.
pub(crate) fn param_bool(r: &Request, name: &str) -> Result<bool, Response> {
    match r.param(name) {
        "" | "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        v => Err(Response::error(
            400,
            format!(
                "Error decoding boolean for '{name}': strconv.ParseBool: parsing \"{v}\": invalid syntax"
            ),
        )),
    }
}

/// Go's `decodeSubs`: `subs=detail` (any case) or a boolean; (subs, detail).
pub(crate) fn param_subs(r: &Request) -> Result<(bool, bool), Response> {
    if r.param("subs").eq_ignore_ascii_case("detail") {
        return Ok((true, true));
    }
    Ok((param_bool(r, "subs")?, false))
}

/// Checks the parameters an endpoint decodes even where Riptide has nothing to filter
/// (routes, gateways, leaf nodes, JetStream), so that bad values get Go's 400.
pub(crate) fn check_params(
    r: &Request,
    bools: &[&str],
    ints: &[&str],
    subs: bool,
) -> Result<(), Response> {
    for name in bools {
        param_bool(r, name)?;
    }
    for name in ints {
        param_int(r, name)?;
    }
    if subs {
        param_subs(r)?;
    }
    Ok(())
}

/// Go's `strconv.Atoi` on a query parameter; absent is 0.
pub(crate) fn param_int(r: &Request, name: &str) -> Result<i64, Response> {
    match r.param(name) {
        "" => Ok(0),
        v => v.parse().map_err(|_| {
            Response::error(
                400,
                format!(
                    "Error decoding int for '{name}': strconv.Atoi: parsing \"{v}\": invalid syntax"
                ),
            )
        }),
    }
}

/// Offset and limit as the Go server applies them: limit 0 or less means the default.
pub(crate) fn page<T>(items: Vec<T>, offset: i64, limit: usize) -> Vec<T> {
    let offset = usize::try_from(offset).unwrap_or(0);
    items.into_iter().skip(offset).take(limit).collect()
}

/// List size when `limit` is not given (`DefaultConnListSize`, `DefaultSubListSize`).
pub(crate) const DEFAULT_LIST_SIZE: usize = 1024;

pub(crate) fn limit_or_default(limit: i64) -> usize {
    if limit <= 0 {
        DEFAULT_LIST_SIZE
    } else {
        limit as usize
    }
}

/// Routes one request. Paths are the Go server's (`server.go`), under `http_base_path`.
pub(crate) fn handle(ctx: &Context, req: &Request) -> Response {
    let clean = http::clean_path(&req.path);
    if clean != req.path {
        return Response::redirect(&clean, &req.raw_query);
    }
    let Some(path) = req.path.strip_prefix(ctx.base_path.as_str()) else {
        return Response::not_found();
    };
    // Under a base path the index is the base itself: `/base/` is not found, as in Go.
    let path = match path {
        "" => "/",
        "/" if !ctx.base_path.is_empty() => return Response::not_found(),
        p => p,
    };
    let Some((name, answer)) = endpoint(path) else {
        return Response::not_found();
    };
    ctx.count(name);
    answer(ctx, req)
}

type Endpoint = fn(&Context, &Request) -> Response;

/// The endpoint at `path` (the Go server's paths, `server.go`), under its name.
pub(crate) fn endpoint(path: &str) -> Option<(&'static str, Endpoint)> {
    Some(match path {
        "/" => ("/", pages::index),
        "/varz" => ("/varz", varz::varz),
        "/connz" => ("/connz", connz::connz),
        "/subsz" => ("/subsz", subsz::subsz),
        "/subscriptionsz" => ("/subscriptionsz", subsz::subsz),
        "/routez" => ("/routez", stubs::routez),
        "/gatewayz" => ("/gatewayz", stubs::gatewayz),
        "/leafz" => ("/leafz", stubs::leafz),
        "/jsz" => ("/jsz", jsz::jsz),
        "/accountz" => ("/accountz", accounts::accountz),
        "/accstatz" => ("/accstatz", accounts::accstatz),
        "/healthz" => ("/healthz", stubs::healthz),
        "/metrics" => ("/metrics", metrics::metrics),
        "/shardz" => ("/shardz", varz::shardz),
        "/dashboard" => ("/dashboard", pages::dashboard),
        _ => return None,
    })
}

/// A running monitoring listener.
pub struct Monitor {
    pub addr: SocketAddr,
    listener: Arc<TcpListener>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Monitor {
    /// Serves `listener` on a thread of its own.
    pub(crate) fn start(listener: TcpListener, ctx: Arc<Context>) -> io::Result<Monitor> {
        let listener = Arc::new(listener);
        let http_addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let (l, s) = (listener.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("riptide-monitor".into())
            .spawn(move || accept_loop(&l, &s, ctx))?;
        Ok(Monitor {
            addr: http_addr,
            listener,
            stop,
            thread: Some(thread),
        })
    }

    /// Stops accepting and waits for the accept loop to end.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // SAFETY: shutdown(2) on a socket we own; it wakes the blocked accept.
        unsafe { libc::shutdown(self.listener.as_raw_fd(), libc::SHUT_RDWR) };
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(listener: &TcpListener, stop: &AtomicBool, ctx: Arc<Context>) {
    let in_flight = Arc::new(AtomicUsize::new(0));
    loop {
        let accepted = listener.accept();
        if stop.load(Ordering::Acquire) {
            return;
        }
        match accepted {
            Ok((mut stream, _)) => {
                if in_flight.fetch_add(1, Ordering::AcqRel) >= MAX_CONCURRENT_REQUESTS {
                    in_flight.fetch_sub(1, Ordering::AcqRel);
                    // A fresh socket's send buffer takes this small answer without blocking.
                    let busy = Response::error(503, "503 Service Unavailable");
                    let _ = busy.write_to(&mut stream, false);
                    continue;
                }
                let (ctx, done) = (ctx.clone(), in_flight.clone());
                // One short-lived thread per request: a slow monitoring client must not
                // hold up the others.
                let spawned = std::thread::Builder::new()
                    .name("riptide-http".into())
                    .stack_size(REQUEST_THREAD_STACK)
                    .spawn(move || {
                        serve(stream, &ctx);
                        done.fetch_sub(1, Ordering::AcqRel);
                    });
                if let Err(e) = spawned {
                    in_flight.fetch_sub(1, Ordering::AcqRel);
                    log_at!(Error, "monitoring: could not start a request thread: {e}");
                }
            }
            Err(e) => {
                log_at!(Error, "monitoring: accept failed: {e}");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

fn serve(mut stream: TcpStream, ctx: &Context) {
    let _ = stream.set_read_timeout(Some(REQUEST_TIMEOUT));
    let _ = stream.set_write_timeout(Some(REQUEST_TIMEOUT));
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let req = loop {
        if let Some(r) = parse_request(&buf) {
            break r;
        }
        if buf.len() > http::MAX_REQUEST_HEAD {
            break Err(());
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let (resp, head_only) = match req {
        Ok(r) => (handle(ctx, &r), r.method == "HEAD"),
        Err(()) => (Response::error(400, "400 Bad Request"), false),
    };
    let _ = resp.write_to(&mut stream, head_only);
}

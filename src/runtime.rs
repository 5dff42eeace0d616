//! Starting a server: one `SO_REUSEPORT` listener per shard, one pinned thread per shard
//! with its own io_uring reactor, and a stop handle. Used by `main` and by tests.

use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener, ToSocketAddrs};
use std::os::fd::OwnedFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use socket2::{Domain, Protocol, Socket, Type};

use crate::cluster::dialer::DialTarget;
use crate::cluster::handshake::advertised;
use crate::cluster::settings::RouteSlot;
use crate::config::Config;
use crate::fanout::Mesh;
use crate::info::new_server_id;
use crate::log_at;
use crate::mailbox::{ClientRef, Command, Mailbox};
use crate::monitor::{Context, Monitor};
use crate::reactor::{new_ring, Reactor, RingMode};
use crate::server::{CurrentServer, Server};
use crate::shard::Shard;
use crate::system::service::Service;

/// Pending connections per listener; the kernel caps it at `net.core.somaxconn`.
const LISTEN_BACKLOG: i32 = 8192;
/// The shard that hosts JetStream: its streams, their files and the API.
const JETSTREAM_HOST: usize = 0;

/// Why a server could not start. Each maps to a message that names the cause and the fix.
#[derive(Debug)]
pub enum StartError {
    /// The address did not parse or resolve.
    Address(String),
    /// bind/listen failed, e.g. the port is in use.
    Listen(SocketAddr, io::Error),
    /// The monitoring port could not be bound.
    Monitor(SocketAddr, io::Error),
    /// io_uring is unavailable; the message says why and what to do.
    IoUring(String),
    Thread(io::Error),
    /// The TLS settings could not be loaded (certificate or key files).
    Tls(String),
    /// The WebSocket port could not be bound.
    WebSocket(SocketAddr, io::Error),
    /// The accounts could not be set up.
    Accounts(String),
    /// The route port could not be bound.
    Cluster(SocketAddr, io::Error),
    /// The leaf node port could not be bound.
    Leaf(SocketAddr, io::Error),
    /// Routes to solicit but no route port (Go's words).
    RoutesWithoutCluster,
    /// Options that Go refuses when it starts, not when it checks the file (`-t`).
    Options(String),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Address(a) => write!(f, "invalid listen address: {a}"),
            StartError::Listen(addr, e) => write!(
                f,
                "Error listening on port: {addr}, \"listen tcp {addr}: bind: {}\"",
                error_text(e)
            ),
            StartError::Monitor(addr, e) => {
                write!(
                    f,
                    "Can't start monitoring: can't listen to the monitor port: listen tcp {addr}: bind: {}",
                    error_text(e)
                )
            }
            StartError::IoUring(m) | StartError::Accounts(m) | StartError::Options(m) => {
                write!(f, "{m}")
            }
            StartError::Thread(e) => write!(f, "could not start shard thread: {e}"),
            StartError::Tls(m) => write!(f, "{m}"),
            StartError::Cluster(addr, e) => write!(
                f,
                "Error listening on router port: {}, \"listen tcp {addr}: bind: {}\"",
                addr.port(),
                error_text(e)
            ),
            StartError::Leaf(addr, e) => write!(
                f,
                "Error listening on leafnode port: {}, \"listen tcp {addr}: bind: {}\"",
                addr.port(),
                error_text(e)
            ),
            StartError::RoutesWithoutCluster => write!(
                f,
                "solicited routes require cluster capabilities, e.g. --cluster"
            ),
            StartError::WebSocket(addr, e) => write!(
                f,
                "Unable to listen for websocket connections: listen tcp {addr}: bind: {}",
                error_text(e)
            ),
        }
    }
}

/// The OS error text without Rust's " (os error N)" suffix, as Go prints it (lowercase).
pub(crate) fn error_text(e: &io::Error) -> String {
    let s = e.to_string();
    let s = s.split(" (os error").next().unwrap_or(&s).to_string();
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => s,
    }
}

/// Explains an io_uring setup failure: the likely cause and its fix.
pub fn explain_io_uring_error(e: &io::Error) -> String {
    let disabled = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(0);
    let cause = match e.raw_os_error() {
        Some(libc::ENOSYS) => "the kernel has no io_uring (Linux 6.0 or newer is needed) or a seccomp profile blocks io_uring_setup; run on a newer kernel, or allow io_uring_setup/io_uring_enter/io_uring_register in the container's seccomp profile (e.g. docker --security-opt seccomp=unconfined)".to_string(),
        Some(libc::EPERM) if disabled > 0 => format!("io_uring is disabled by sysctl kernel.io_uring_disabled={disabled}; set it to 0 (sysctl -w kernel.io_uring_disabled=0)"),
        Some(libc::EPERM) => "io_uring is not permitted for this process (a seccomp profile or kernel.io_uring_group); allow io_uring in the container's seccomp profile or add the user to the io_uring group".to_string(),
        Some(libc::ENOMEM) => "not enough locked memory for the io_uring rings (RLIMIT_MEMLOCK); raise it with ulimit -l or LimitMEMLOCK=infinity".to_string(),
        _ => "io_uring could not be set up".to_string(),
    };
    format!("io_uring setup failed ({}): {cause}", error_text(e))
}

/// A running server.
pub struct Running {
    pub addr: SocketAddr,
    /// The WebSocket listener's address, when one is configured.
    pub ws_addr: Option<SocketAddr>,
    /// The route listener's address, when the server is in a cluster.
    pub route_addr: Option<SocketAddr>,
    /// The leaf node listener's address, when leaf nodes may connect.
    pub leaf_addr: Option<SocketAddr>,
    /// Where leaf nodes are told that listener is, when `advertise` says.
    pub leaf_advertise: Option<(String, u16)>,
    pub shards: usize,
    pub ring_mode: RingMode,
    current: Arc<CurrentServer>,
    /// The monitoring listener, when `http_port` is set.
    pub monitor: Option<Monitor>,
    /// The system account's service thread.
    system: Option<Service>,
    mesh: Arc<Mesh>,
    mailbox: Arc<Mailbox>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Running {
    /// The server with its settings as last reloaded.
    pub fn server(&self) -> Arc<Server> {
        self.current.get()
    }

    /// Every shard stops accepting and tells its clients; returns the clients left.
    pub(crate) fn enter_lame_duck(&self) -> Vec<ClientRef> {
        self.mailbox
            .gather(&self.mesh, |reply| Command::LameDuck { reply })
            .concat()
    }

    /// Closes clients listed by `enter_lame_duck`, each on its own shard.
    pub(crate) fn close_clients(&self, clients: &[ClientRef]) {
        for shard in 0..self.shards {
            let mine: Vec<ClientRef> = clients
                .iter()
                .filter(|c| c.shard == shard)
                .copied()
                .collect();
            if !mine.is_empty() {
                self.mailbox.send(&self.mesh, shard, Command::Close(mine));
            }
        }
    }

    /// Runs every shard with `server`'s settings from now on, closing clients over its
    /// `max_connections` and those its new `pinned_certs` refuse; returns how many.
    pub(crate) fn reload(&self, server: Server) -> crate::shard::ReloadClosed {
        let excess = self
            .current
            .get()
            .connections()
            .saturating_sub(server.cfg.max_connections);
        let server = Arc::new(server);
        self.current.set(server.clone());
        let excess = Arc::new(AtomicUsize::new(excess));
        self.mailbox
            .gather(&self.mesh, |reply| Command::Reload {
                server: server.clone(),
                excess: excess.clone(),
                reply,
            })
            .into_iter()
            .fold(crate::shard::ReloadClosed::default(), |a, b| a + b)
    }

    /// Asks every shard to flush and close its connections, and waits for them.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        if let Some(mut m) = self.monitor.take() {
            m.stop();
        }
        if let Some(mut s) = self.system.take() {
            s.stop();
        }
        self.stop.store(true, Ordering::Release);
        for s in 0..self.shards {
            self.mesh.wake(s);
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

pub fn resolve(host: &str, port: u16) -> Result<SocketAddr, StartError> {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = h.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    (h, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| StartError::Address(host.to_string()))
}

/// One listener per shard at `addr` (a free port picked for port 0), all in one
/// `SO_REUSEPORT` group. That group would take in another process's listeners on the same
/// port too, splitting clients between two servers, so a given port is first bound alone:
/// in use, it fails as the Go server's `net.Listen` does.
fn bind_listeners(mut addr: SocketAddr, shards: usize) -> io::Result<(SocketAddr, Vec<Socket>)> {
    if addr.port() != 0 {
        let alone = socket_for(addr)?;
        alone.bind(&addr.into())?;
    }
    let first = listener(addr)?;
    if let Some(a) = first.local_addr().ok().and_then(|a| a.as_socket()) {
        addr.set_port(a.port());
    }
    let mut all = vec![first];
    for _ in 1..shards {
        all.push(listener(addr)?);
    }
    Ok((addr, all))
}

/// A TCP socket for `addr` with Go's listener options (`SO_REUSEADDR`, dual-stack).
fn socket_for(addr: SocketAddr) -> io::Result<Socket> {
    let s = Socket::new(
        Domain::for_address(addr),
        Type::STREAM.cloexec(),
        Some(Protocol::TCP),
    )?;
    s.set_reuse_address(true)?;
    if addr.is_ipv6() {
        s.set_only_v6(false).ok();
    }
    Ok(s)
}

fn listener(addr: SocketAddr) -> io::Result<Socket> {
    let s = socket_for(addr)?;
    s.set_reuse_port(true)?;
    s.bind(&addr.into())?;
    s.listen(LISTEN_BACKLOG)?;
    Ok(s)
}

/// Default shard count: the cores this process may run on.
pub fn default_shards() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The oldest kernel with every io_uring feature the reactor uses: multishot accept (5.19)
/// and multishot recv into a provided buffer ring (6.0).
const MIN_KERNEL: (u32, u32) = (6, 0);

/// `major.minor` of a kernel release string such as `6.1.0-18-amd64`.
fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// Refuses kernels older than `MIN_KERNEL` up front: on them the ring sets up but multishot
/// operations fail one by one, which would look like a broken server rather than an old kernel.
fn check_kernel() -> Result<(), StartError> {
    // SAFETY: uname fills the zeroed struct it is given.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut u) } != 0 {
        return Ok(());
    }
    // SAFETY: uname NUL-terminates `release`.
    let release = unsafe { std::ffi::CStr::from_ptr(u.release.as_ptr()) }.to_string_lossy();
    match kernel_version(&release) {
        Some(v) if v < MIN_KERNEL => Err(StartError::IoUring(format!(
            "io_uring setup failed: Linux {}.{} or newer is needed for multishot accept and recv with provided buffer rings, and this kernel is {release}; run riptide on a newer kernel",
            MIN_KERNEL.0, MIN_KERNEL.1
        ))),
        _ => Ok(()),
    }
}

/// Raises the open-file soft limit to the hard limit, as the Go runtime does at start, so
/// that tens of thousands of clients fit.
pub fn raise_fd_limit() {
    // SAFETY: plain get/setrlimit on a local struct.
    unsafe {
        let mut l: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) == 0 && l.rlim_cur < l.rlim_max {
            l.rlim_cur = l.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &l);
        }
    }
}

/// What the process exits with when a shard panics: what a Go program's unrecovered panic
/// exits with, so that supervisors treat both servers alike.
pub const PANIC_EXIT_CODE: i32 = 2;

/// The panic policy: crash fast, loudly. A shard's subject index, interest tables and rings
/// are shared by all its connections and by the other shards (which wait on its PONG
/// barrier and ring space); a panic halfway through an update leaves them in a state no
/// one can trust, and a dead shard would silently stall every client that needs it.
/// So the panic is logged as fatal, naming the shard (the default hook has already printed
/// where it happened), and the whole process exits for a supervisor to restart.
fn exit_on_shard_panic(shard: usize, panic: &(dyn std::any::Any + Send)) -> ! {
    let msg = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    log_at!(Fatal, "Shard {shard} panicked, exiting: {msg}");
    std::process::exit(PANIC_EXIT_CODE)
}

/// Binds, starts one pinned thread per shard and returns once all of them are running.
pub fn start(cfg: Config) -> Result<Running, StartError> {
    check_kernel()?;
    let shards = if cfg.shards == 0 {
        default_shards()
    } else {
        cfg.shards
    };
    let want_port = u16::try_from(cfg.port).unwrap_or(0);
    let addr = resolve(&cfg.host, want_port)?;
    let (addr, listeners) =
        bind_listeners(addr, shards).map_err(|e| StartError::Listen(addr, e))?;
    let (client_wrap, ws_wrap) = crate::transport::wrappings(&cfg).map_err(StartError::Tls)?;
    let links = crate::transport::LinkTls::new(&cfg).map_err(StartError::Tls)?;
    let (ws_addr, mut ws_listeners) = match &cfg.websocket {
        Some(ws) => {
            // The Go server's WebSocket host defaults to all interfaces, not the client host.
            let host = ws.host.as_deref().unwrap_or(crate::config::DEFAULT_HOST);
            let at = resolve(host, u16::try_from(ws.port).unwrap_or(0))?;
            let (at, all) = bind_listeners(at, shards).map_err(|e| StartError::WebSocket(at, e))?;
            (Some(at), all)
        }
        None => (None, Vec::new()),
    };

    let cluster = cfg
        .cluster
        .clone()
        .filter(|c| c.port != 0 || c.host.is_some());
    if cluster.is_none() && cfg.cluster.as_ref().is_some_and(|c| !c.routes.is_empty()) {
        return Err(StartError::RoutesWithoutCluster);
    }
    if let Some(c) = &cluster {
        c.check_pinned(cfg.system_account_name())
            .map_err(StartError::Options)?;
        c.compression().map_err(StartError::Options)?;
    }
    if let Some(l) = &cfg.leafnodes {
        l.compression().map_err(StartError::Options)?;
        for r in &l.remotes {
            r.check().map_err(StartError::Options)?;
        }
    }
    let mut route_listener = None;
    if let Some(c) = &cluster {
        let host = c.host.as_deref().unwrap_or(crate::config::DEFAULT_HOST);
        let at = resolve(host, u16::try_from(c.port).unwrap_or(0))?;
        let (at, mut all) = bind_listeners(at, 1).map_err(|e| StartError::Cluster(at, e))?;
        route_listener = Some((at, OwnedFd::from(all.remove(0))));
    }
    let route_addr = route_listener.as_ref().map(|(a, _)| *a);
    let leafnodes = cfg.leafnodes.clone();
    let mut leaf_listener = None;
    if let Some(l) = leafnodes.as_ref().filter(|l| l.port != 0) {
        let host = l.host.as_deref().unwrap_or(crate::config::DEFAULT_HOST);
        let at = resolve(host, u16::try_from(l.port).unwrap_or(0))?;
        let (at, mut all) = bind_listeners(at, 1).map_err(|e| StartError::Leaf(at, e))?;
        leaf_listener = Some((at, OwnedFd::from(all.remove(0))));
    }
    let leaf_addr = leaf_listener.as_ref().map(|(a, _)| *a);
    let advertise = |value: Option<&String>, bound: Option<SocketAddr>, what: &str| {
        let (Some(v), Some(at)) = (value, bound) else {
            return Ok(None);
        };
        advertised(v, at.port())
            .map(Some)
            .map_err(|e| StartError::Options(format!("Error setting {what} value of {v}, err={e}")))
    };
    let leaf_advertise = advertise(
        leafnodes.as_ref().and_then(|l| l.advertise.as_ref()),
        leaf_addr,
        "leafnode INFO with LeafNode.Advertise",
    )?;
    let route_advertise = advertise(
        cluster.as_ref().and_then(|c| c.advertise.as_ref()),
        route_addr,
        "route INFO with Cluster.Advertise",
    )?;

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id());
    let server = Arc::new(
        Server::new(
            cfg,
            new_server_id(seed),
            addr.port(),
            crate::server::Transports {
                client: client_wrap,
                ws: ws_wrap,
                ws_port: ws_addr.map_or(0, |a| a.port()),
                links,
            },
        )
        .map_err(StartError::Accounts)?,
    );
    let current = Arc::new(CurrentServer::new(server.clone()));
    let mesh = Arc::new(Mesh::new(shards).map_err(StartError::Thread)?);
    let mailbox = Arc::new(Mailbox::new(shards));
    let stop = Arc::new(AtomicBool::new(false));
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let dialer = crate::cluster::dialer::Dialer::new(mailbox.clone(), mesh.clone(), stop.clone());
    let pinned = cluster
        .as_ref()
        .map(|c| pinned_accounts(c, &server))
        .unwrap_or_default();
    let mut routes = match (&cluster, route_addr) {
        (Some(c), Some(at)) => Some(crate::shard::Routes::new(
            c.clone(),
            Some((at.ip().to_string(), at.port())),
            route_advertise,
            dialer.clone(),
            pinned.clone(),
        )),
        _ => None,
    };
    if let Some(l) = &leafnodes {
        let links = routes.get_or_insert_with(|| {
            crate::shard::Routes::new(Default::default(), None, None, dialer.clone(), Vec::new())
        });
        links.host_leafnodes(crate::shard::LeafHost::new(
            l.clone(),
            leaf_addr.map(|a| (a.ip().to_string(), a.port())),
            leaf_advertise.clone(),
        ));
    }
    let mut route_fd = route_listener.map(|(_, fd)| fd);
    let mut leaf_fd = leaf_listener.map(|(_, fd)| fd);

    // JetStream's streams are recovered before any shard runs, so that every shard knows
    // their subjects before it takes a client.
    let mut js_host = None;
    let mut js_interest = Vec::new();
    if server.cfg.jetstream {
        let enabled = crate::shard::enabled_accounts(&server);
        let accounts = crate::shard::api_accounts(&server);
        let mut settings = crate::jetstream::Settings::new(
            server.cfg.store_dir.clone(),
            server.cfg.jetstream_opts.clone(),
        );
        settings.max_payload = server.cfg.max_payload;
        let js = crate::jetstream::JetStream::open(settings, &enabled);
        js_interest = crate::shard::startup_interest(&js, &accounts);
        js_host = Some((js, accounts));
    }
    let js_interest = Arc::new(js_interest);

    let (ready_tx, ready_rx) = mpsc::channel::<Result<RingMode, String>>();
    let mut threads = Vec::with_capacity(shards);
    for (id, l) in listeners.into_iter().enumerate() {
        let host = if id == JETSTREAM_HOST {
            js_host.take()
        } else {
            None
        };
        let js_interest = js_interest.clone();
        let (server, mesh, stop, ready, mailbox) = (
            server.clone(),
            mesh.clone(),
            stop.clone(),
            ready_tx.clone(),
            mailbox.clone(),
        );
        let core = (!cores.is_empty()).then(|| cores[id % cores.len()]);
        let fd: OwnedFd = l.into();
        let ws_fd: Option<OwnedFd> =
            (!ws_listeners.is_empty()).then(|| ws_listeners.remove(0).into());
        let (routes, route_fd, leaf_fd) = if id == crate::cluster::CLUSTER_SHARD {
            (routes.take(), route_fd.take(), leaf_fd.take())
        } else {
            (None, None, None)
        };
        let t = std::thread::Builder::new()
            .name(format!("riptide-shard-{id}"))
            .spawn(move || {
                if let Some(core) = core {
                    core_affinity::set_for_current(core);
                }
                let reactor =
                    new_ring()
                        .map_err(|e| explain_io_uring_error(&e))
                        .and_then(|(ring, mode)| {
                            let mut shard =
                                Shard::new(id, server, mesh.clone(), Instant::now(), seed);
                            match host {
                                Some((js, accounts)) => shard.host_jetstream(js, &accounts),
                                None => shard.expect_jetstream_host(JETSTREAM_HOST, &js_interest),
                            }
                            if let Some(routes) = routes {
                                shard.host_routes(routes);
                            }
                            Reactor::new(
                                shard,
                                mesh,
                                [Some(fd), ws_fd, route_fd, leaf_fd],
                                ring,
                                stop,
                                mailbox,
                            )
                            .map(|r| (r, mode))
                            .map_err(|e| explain_io_uring_error(&e))
                        });
                match reactor {
                    Ok((r, mode)) => {
                        let _ = ready.send(Ok(mode));
                        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| r.run())) {
                            exit_on_shard_panic(id, panic.as_ref());
                        }
                    }
                    Err(m) => {
                        let _ = ready.send(Err(m));
                    }
                }
            })
            .map_err(StartError::Thread)?;
        threads.push(t);
    }
    drop(ready_tx);
    let mut running = Running {
        addr,
        ws_addr,
        route_addr,
        leaf_addr,
        leaf_advertise,
        shards,
        ring_mode: RingMode::Plain,
        current: current.clone(),
        monitor: None,
        system: None,
        mesh: mesh.clone(),
        mailbox: mailbox.clone(),
        stop,
        threads,
    };
    for _ in 0..shards {
        match ready_rx.recv() {
            Ok(Ok(mode)) => running.ring_mode = mode,
            Ok(Err(m)) => return Err(StartError::IoUring(m)),
            Err(_) => {
                return Err(StartError::IoUring(
                    "a shard thread died during start-up".into(),
                ))
            }
        }
    }
    let http = match server.cfg.http_port {
        Some(port) => {
            let host = server.cfg.http_host.as_deref().unwrap_or(&server.cfg.host);
            // -1 asks for a random free port, as for the client port (`RANDOM_PORT`).
            let at = resolve(host, u16::try_from(port).unwrap_or(0))?;
            let l = TcpListener::bind(at).map_err(|e| StartError::Monitor(at, e))?;
            Some((at, l))
        }
        None => None,
    };
    // The monitoring port and the system account's services read the same endpoints.
    let ctx = Arc::new(Context::new(
        current,
        mesh,
        mailbox,
        shards,
        http.as_ref().and_then(|(_, l)| l.local_addr().ok()),
        &server.cfg.http_base_path,
    ));
    if let Some((at, l)) = http {
        running.monitor =
            Some(Monitor::start(l, ctx.clone()).map_err(|e| StartError::Monitor(at, e))?);
    }
    running.system = Some(Service::start(ctx, &server.system).map_err(StartError::Thread)?);
    // Routes are dialed once every shard runs, so a route's interest finds them all.
    // Each route's pool connection 0 and the connection of each pinned account are dialed
    // at once; the rest of the pool follows connection 0 (as Go's `solicitRoutes`).
    if let (Some(c), Some(_)) = (&cluster, route_addr) {
        for url in &c.routes {
            dialer.configured(vec![url.clone()], DialTarget::Route(RouteSlot::Pool(0)));
            for &a in &pinned {
                dialer.configured(vec![url.clone()], DialTarget::Route(RouteSlot::Pinned(a)));
            }
        }
    }
    for (i, r) in leafnodes.iter().flat_map(|l| l.remotes.iter()).enumerate() {
        if !r.urls.is_empty() && !r.disabled {
            dialer.configured(r.urls.clone(), DialTarget::Leaf(i));
        }
    }
    Ok(running)
}

/// The accounts with a route connection of their own: those `accounts` names that exist,
/// and the system account, while pooling is on (Go's `setBaselineOptions`).
fn pinned_accounts(
    c: &crate::cluster::ClusterSettings,
    server: &Server,
) -> Vec<crate::accounts::AccountId> {
    if c.pool().is_none() {
        return Vec::new();
    }
    let mut pinned: Vec<_> = c
        .accounts
        .iter()
        .filter_map(|n| server.accounts.id(n))
        .collect();
    if let Some(sys) = server.accounts.system() {
        if !pinned.contains(&sys) {
            pinned.push(sys);
        }
    }
    pinned
}

#[cfg(test)]
mod tests {
    use super::kernel_version;

    #[test]
    fn kernel_versions() {
        assert_eq!(kernel_version("6.1.0-18-amd64"), Some((6, 1)));
        assert_eq!(
            kernel_version("5.15.153.1-microsoft-standard-WSL2"),
            Some((5, 15))
        );
        assert_eq!(kernel_version("6.18.44-fc-v595"), Some((6, 18)));
        assert_eq!(kernel_version("weird"), None);
        assert!(kernel_version("5.19.0").unwrap() < super::MIN_KERNEL);
    }
}

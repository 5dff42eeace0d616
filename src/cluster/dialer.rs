//! Connecting to other servers' route ports. Each route to solicit gets a thread that dials
//! (blocking, off the shards) until it connects, hands the socket to the cluster shard
//! through its mailbox, and sleeps until that shard says the route is gone; then it dials
//! again, as Go's `reConnectToRoute` does for configured routes. Routes learned by gossip
//! (implicit) are dialed `connect_retries + 1` times and not again once connected and lost,
//! as in Go, where the remote that comes back dials us. A leaf node remote's hub is dialed
//! the same way, as a configured route is.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::settings::{RouteSlot, RouteUrl, ROUTE_CONNECT_DELAY};
use crate::fanout::Mesh;
use crate::log_at;
use crate::mailbox::{Command, Mailbox};

/// How long one connection attempt may take (Go's `DEFAULT_ROUTE_DIAL`).
const ROUTE_DIAL_TIMEOUT: Duration = Duration::from_secs(1);

/// A connected route (or leaf) socket for the cluster shard.
#[derive(Debug)]
pub struct Dialed {
    pub fd: OwnedFd,
    pub peer: SocketAddr,
    pub url: RouteUrl,
    pub target: DialTarget,
    /// The dialer to wake when this route is gone, for configured routes.
    pub redial: Option<RedialHandle>,
}

/// What a dialed connection is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialTarget {
    /// A route connection in this slot of the remote's pool.
    Route(RouteSlot),
    /// The hub of leaf node remote `i` (its index in `leafnodes { remotes }`).
    Leaf(usize),
}

/// Wakes a configured route's dialer.
#[derive(Debug, Clone)]
pub struct RedialHandle(mpsc::Sender<Redial>);

/// What a dialer is told when its connection is gone.
#[derive(Debug)]
struct Redial {
    delay: Duration,
    learned: Vec<RouteUrl>,
}

impl RedialHandle {
    /// Dial again after `delay`.
    pub fn redial(&self, delay: Duration) {
        self.redial_learning(delay, Vec::new());
    }

    /// Dial again after `delay`, with `learned` (the other leaf URLs of a hub's cluster,
    /// from its INFO) among the URLs tried in turn from now on, as Go's
    /// `updateLeafNodeURLs` adds them.
    pub fn redial_learning(&self, delay: Duration, learned: Vec<RouteUrl>) {
        let _ = self.0.send(Redial { delay, learned });
    }
}

/// Starts dial threads; shared by the runtime (configured routes) and the cluster shard
/// (implicit routes).
#[derive(Debug)]
pub struct Dialer {
    mailbox: Arc<Mailbox>,
    mesh: Arc<Mesh>,
    stop: Arc<AtomicBool>,
    /// Route URLs and slots an implicit dial is under way for, so gossip repeated
    /// meanwhile does not start another.
    implicit: Mutex<Vec<(String, RouteSlot)>>,
}

impl Dialer {
    pub fn new(mailbox: Arc<Mailbox>, mesh: Arc<Mesh>, stop: Arc<AtomicBool>) -> Arc<Dialer> {
        Arc::new(Dialer {
            mailbox,
            mesh,
            stop,
            implicit: Mutex::new(Vec::new()),
        })
    }

    /// A configured route's connection, or a leaf node remote's hub: dialed for as long
    /// as the server runs, each URL in turn.
    pub fn configured(self: &Arc<Dialer>, urls: Vec<RouteUrl>, target: DialTarget) {
        let leaf = matches!(target, DialTarget::Leaf(_));
        let me = self.clone();
        let (tx, rx) = mpsc::channel();
        let _ = std::thread::Builder::new()
            .name("riptide-route-dial".into())
            .spawn(move || {
                let mut urls = urls;
                for turn in 0.. {
                    // With several URLs, each gets one attempt in turn.
                    let several = urls.len() > 1;
                    let url = urls[turn % urls.len()].clone();
                    let Some((stream, peer)) = me.connect(&url, several.then_some(1), leaf) else {
                        if me.stopped() || !several {
                            return;
                        }
                        std::thread::sleep(ROUTE_CONNECT_DELAY);
                        continue;
                    };
                    let redial = Some(RedialHandle(tx.clone()));
                    me.hand_over(stream, peer, url, redial, target);
                    let Ok(redial) = rx.recv() else {
                        return;
                    };
                    if me.stopped() {
                        return;
                    }
                    for u in redial.learned {
                        if !urls.iter().any(|k| (&k.host, k.port) == (&u.host, u.port)) {
                            urls.push(u);
                        }
                    }
                    std::thread::sleep(redial.delay);
                }
            });
    }

    /// A route connection learned by gossip (or the next of its pool): `attempts` tries,
    /// once.
    pub fn implicit(self: &Arc<Dialer>, url: RouteUrl, slot: RouteSlot, attempts: u32) {
        let busy_key = (url.text.clone(), slot);
        {
            let mut busy = self.implicit.lock().unwrap_or_else(|e| e.into_inner());
            if busy.contains(&busy_key) {
                return;
            }
            busy.push(busy_key.clone());
        }
        let me = self.clone();
        let _ = std::thread::Builder::new()
            .name("riptide-route-dial".into())
            .spawn(move || {
                if let Some((stream, peer)) = me.connect(&url, Some(attempts), false) {
                    me.hand_over(stream, peer, url, None, DialTarget::Route(slot));
                }
                me.implicit
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .retain(|k| *k != busy_key);
            });
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Dials until connected, `attempts` times at most; None once stopped or out of tries.
    fn connect(
        &self,
        url: &RouteUrl,
        attempts: Option<u32>,
        leaf: bool,
    ) -> Option<(TcpStream, SocketAddr)> {
        let mut attempt = 0u32;
        loop {
            if self.stopped() {
                return None;
            }
            attempt += 1;
            if leaf {
                log_at!(
                    Debug,
                    "Trying to connect as leafnode to remote server on {:?}",
                    format!("{}:{}", url.host, url.port)
                );
            } else {
                log_at!(
                    Debug,
                    "Trying to connect to route on {}:{} ({})",
                    url.host,
                    url.port,
                    url.text
                );
            }
            let addr = (url.host.as_str(), url.port)
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next());
            let result = match addr {
                Some(a) => TcpStream::connect_timeout(&a, ROUTE_DIAL_TIMEOUT).map(|s| (s, a)),
                None => Err(std::io::Error::other("no such host")),
            };
            match result {
                Ok(pair) => return Some(pair),
                Err(e) if leaf => log_at!(
                    Error,
                    "Error trying to connect as leafnode to remote server {:?} (attempt {attempt}): dial tcp {}:{}: {}",
                    format!("{}:{}", url.host, url.port),
                    url.host,
                    url.port,
                    crate::runtime::error_text(&e)
                ),
                Err(e) => {
                    log_at!(
                        Error,
                        "Error trying to connect to route (attempt {attempt}): dial tcp {}:{}: {}",
                        url.host,
                        url.port,
                        crate::runtime::error_text(&e)
                    );
                    if attempts.is_some_and(|n| attempt >= n) {
                        return None;
                    }
                }
            }
            std::thread::sleep(ROUTE_CONNECT_DELAY);
        }
    }

    fn hand_over(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
        url: RouteUrl,
        redial: Option<RedialHandle>,
        target: DialTarget,
    ) {
        let _ = stream.set_nodelay(true);
        let dialed = Dialed {
            fd: OwnedFd::from(stream),
            peer,
            url,
            target,
            redial,
        };
        self.mailbox.send(
            &self.mesh,
            super::CLUSTER_SHARD,
            Command::AdoptRoute(Box::new(dialed)),
        );
    }
}

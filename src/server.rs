//! State every shard shares read-only (settings, INFO) plus the few counters that must be
//! server-wide (connection count for `max_connections`). Nothing here is on the message path.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::auth::Authenticator;
use crate::config::Config;
use crate::info::InfoTemplate;

#[derive(Debug)]
pub struct Server {
    pub cfg: Config,
    pub server_id: String,
    /// The client port actually bound.
    pub port: u16,
    pub info: InfoTemplate,
    /// The configured credentials and permissions, compiled once.
    pub auth: Authenticator,
    /// Fault injection for the panic-policy test: a CONNECT with this client name panics
    /// the shard handling it. Set from [`FAULT_PANIC_ON_CONNECT_ENV`]; `None` in production.
    pub panic_on_connect_name: Option<String>,
    connections: AtomicUsize,
}

/// The environment variable that arms [`Server::panic_on_connect_name`].
pub const FAULT_PANIC_ON_CONNECT_ENV: &str = "RIPTIDE_FAULT_PANIC_ON_CONNECT";

impl Server {
    pub fn new(cfg: Config, server_id: String, port: u16) -> Server {
        let name = cfg.server_name.clone().unwrap_or_else(|| server_id.clone());
        let info = InfoTemplate::new(
            &server_id,
            &name,
            &cfg.host,
            port,
            cfg.max_payload,
            cfg.auth.required(),
        );
        let auth = Authenticator::new(&cfg.auth);
        Server {
            auth,
            cfg,
            server_id,
            port,
            info,
            panic_on_connect_name: std::env::var(FAULT_PANIC_ON_CONNECT_ENV).ok(),
            connections: AtomicUsize::new(0),
        }
    }

    /// Counts a new connection unless that would pass `max_connections`.
    pub fn try_add_connection(&self) -> bool {
        let max = self.cfg.max_connections;
        self.connections
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .is_ok()
    }

    pub fn remove_connection(&self) {
        self.connections.fetch_sub(1, Ordering::AcqRel);
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Acquire)
    }
}

//! State every shard shares read-only (settings, INFO) plus the few counters that must be
//! server-wide (connection count for `max_connections`). Nothing here is on the message path.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::config::Config;
use crate::info::{InfoTemplate, Security};
use crate::transport::Wrapping;

#[derive(Debug)]
pub struct Server {
    pub cfg: Config,
    pub server_id: String,
    /// The client port actually bound.
    pub port: u16,
    pub info: InfoTemplate,
    /// TLS for the client port, when configured.
    pub client_wrap: Option<Wrapping>,
    /// The WebSocket listener's layers, when it is configured.
    pub ws_wrap: Option<Wrapping>,
    /// Fault injection for the panic-policy test: a CONNECT with this client name panics
    /// the shard handling it. Set from [`FAULT_PANIC_ON_CONNECT_ENV`]; `None` in production.
    pub panic_on_connect_name: Option<String>,
    connections: AtomicUsize,
}

/// The environment variable that arms [`Server::panic_on_connect_name`].
pub const FAULT_PANIC_ON_CONNECT_ENV: &str = "RIPTIDE_FAULT_PANIC_ON_CONNECT";

impl Server {
    pub fn new(
        cfg: Config,
        server_id: String,
        port: u16,
        (client_wrap, ws_wrap): (Option<Wrapping>, Option<Wrapping>),
    ) -> Server {
        let name = cfg.server_name.clone().unwrap_or_else(|| server_id.clone());
        let info = InfoTemplate::new(
            &server_id,
            &name,
            &cfg.host,
            port,
            cfg.max_payload,
            Security {
                auth_required: cfg.auth.required(),
                tls_required: client_wrap.is_some(),
                tls_verify: cfg.tls.as_ref().is_some_and(|t| t.verifies_clients()),
            },
        );
        Server {
            cfg,
            server_id,
            port,
            info,
            client_wrap,
            ws_wrap,
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

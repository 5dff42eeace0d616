//! State every shard shares read-only (settings, INFO) plus the few counters that must be
//! server-wide (connection count for `max_connections`). Nothing here is on the message path.
//! A reload does not change a `Server`: it builds another with the new settings and the
//! same identity and counters, and hands it to each shard (`mailbox::Command::Reload`).

use crate::cluster::view::ClusterView;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::accounts::{AccountId, Accounts, ServiceReplies};
use crate::auth::Authenticator;
use crate::config::{AuthConfig, Config};
use crate::info::{InfoTemplate, Security};
use crate::system::SystemLink;
use crate::transport::{LinkTls, Wrapping};

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
    /// TLS of routes and leaf node connections.
    pub links: LinkTls,
    /// The INFO WebSocket clients get: the WebSocket host and port, no TLS flags (their TLS
    /// is the `wss` listener's), as the Go server sends it.
    pub ws_info: InfoTemplate,
    ws_port: u16,
    /// The configured credentials and permissions, compiled once.
    pub auth: Authenticator,
    /// The accounts and what they share; numbered the same across reloads.
    pub accounts: Accounts,
    /// Reply subjects of requests through service imports; shared with reloaded servers so
    /// answers to requests made before a reload still find their way.
    pub replies: Arc<ServiceReplies>,
    /// What WebSocket clients are checked against: the `websocket {}` block's credentials
    /// over the server's (`AuthConfig::for_websocket`).
    pub ws_auth: Authenticator,
    /// Fault injection for the panic-policy test: a CONNECT with this client name panics
    /// the shard handling it. Set from [`FAULT_PANIC_ON_CONNECT_ENV`]; not in release builds
    /// (feature `testkit`).
    #[cfg(feature = "testkit")]
    pub panic_on_connect_name: Option<String>,
    /// Shared with the servers that reloads derive from this one.
    connections: Arc<AtomicUsize>,
    /// Connections per account with a connection limit; shared like `connections`.
    account_connections: Arc<Mutex<HashMap<AccountId, usize>>>,
    /// The way to the system account's service thread, and the events' sequence.
    pub system: Arc<SystemLink>,
    /// The cluster as clients' INFOs show it; kept by the cluster shard.
    pub cluster_view: Arc<ClusterView>,
}

/// The TLS and WebSocket layers of the listeners, and the WebSocket port bound.
#[derive(Debug, Default)]
pub struct Transports {
    pub client: Option<Wrapping>,
    pub ws: Option<Wrapping>,
    pub ws_port: u16,
    pub links: LinkTls,
}

/// The accounts of `cfg`, numbered after `previous`: the configured ones, or in operator
/// mode those of the account JWTs the resolver knows.
fn accounts(cfg: &Config, previous: Option<&Accounts>) -> Result<Accounts, String> {
    let accounts = if cfg.operator.enabled() {
        Accounts::new_lenient(&crate::accounts::operator::configs(&cfg.operator), previous)
    } else {
        Accounts::new(&cfg.accounts, previous)
    }?;
    accounts.with_system(cfg.system_account_name())
}

/// What a reloaded server shares with the one it replaces.
#[derive(Debug, Default)]
struct Shared {
    connections: Arc<AtomicUsize>,
    replies: Arc<ServiceReplies>,
    account_connections: Arc<Mutex<HashMap<AccountId, usize>>>,
    system: Arc<SystemLink>,
    cluster_view: Arc<ClusterView>,
}

/// The environment variable that arms [`Server::panic_on_connect_name`].
#[cfg(feature = "testkit")]
pub const FAULT_PANIC_ON_CONNECT_ENV: &str = "RIPTIDE_FAULT_PANIC_ON_CONNECT";

impl Server {
    /// Fails only on accounts a configuration file did not check (too many of them).
    pub fn new(
        cfg: Config,
        server_id: String,
        port: u16,
        transports: Transports,
    ) -> Result<Server, String> {
        let accounts = accounts(&cfg, None)?;
        Ok(Server::with_shared(
            cfg,
            server_id,
            port,
            transports,
            accounts,
            Shared::default(),
        ))
    }

    fn with_shared(
        cfg: Config,
        server_id: String,
        port: u16,
        transports: Transports,
        accounts: Accounts,
        shared: Shared,
    ) -> Server {
        let Transports {
            client: client_wrap,
            ws: ws_wrap,
            ws_port,
            links,
        } = transports;
        let name = cfg.server_name.as_deref().unwrap_or(&server_id);
        // The client port's and the WebSocket port's credentials, each with its CONNECT
        // deadline resolved (the WebSocket block may set its own).
        let authenticator = |mut a: AuthConfig| {
            a.timeout = Some(
                a.timeout
                    .filter(|t| !t.is_zero())
                    .unwrap_or(cfg.auth_timeout()),
            );
            Authenticator::new(&a, &accounts).with_operator(
                cfg.operator.enabled().then(|| cfg.operator.trust()),
                &accounts,
            )
        };
        let auth = authenticator(cfg.auth.clone());
        let ws_auth = authenticator(match &cfg.websocket {
            Some(w) => cfg.auth.for_websocket(&w.auth),
            None => cfg.auth.clone(),
        });
        let info = InfoTemplate::new(
            &server_id,
            name,
            &cfg.host,
            port,
            cfg.max_payload,
            Security {
                // A client may log in with nothing under a `no_auth_user`, so the Go server
                // does not announce auth as required (checked against nats-server 2.15.1).
                auth_required: auth.required() && cfg.auth.no_auth_user.is_none(),
                tls_required: client_wrap.is_some(),
                tls_verify: cfg.tls.as_ref().is_some_and(|t| t.verifies_clients()),
                jetstream: cfg.jetstream,
            },
        );
        let ws_host = cfg
            .websocket
            .as_ref()
            .and_then(|w| w.host.clone())
            .unwrap_or_else(|| crate::config::DEFAULT_HOST.to_string());
        let ws_info = InfoTemplate::new(
            &server_id,
            name,
            &ws_host,
            ws_port,
            cfg.max_payload,
            Security {
                auth_required: ws_auth.required(),
                jetstream: cfg.jetstream,
                ..Security::default()
            },
        );
        Server {
            auth,
            accounts,
            replies: shared.replies,
            ws_auth,
            cfg,
            server_id,
            port,
            info,
            client_wrap,
            ws_wrap,
            links,
            ws_info,
            ws_port,
            #[cfg(feature = "testkit")]
            panic_on_connect_name: std::env::var(FAULT_PANIC_ON_CONNECT_ENV).ok(),
            connections: shared.connections,
            account_connections: shared.account_connections,
            system: shared.system,
            cluster_view: shared.cluster_view,
        }
    }

    /// The credentials a client of the client port or of the WebSocket port is checked
    /// against.
    pub fn auth_for(&self, websocket: bool) -> &Authenticator {
        if websocket {
            &self.ws_auth
        } else {
            &self.auth
        }
    }

    /// This server with reloaded settings: same id, ports, WebSocket layers, connection
    /// count, service replies, and the same number for every account it keeps; the client
    /// port's TLS is built again from the new settings, reading the certificate files again,
    /// for the connections accepted from now on (Go's `tlsOption`).
    pub fn reloaded(&self, cfg: Config) -> Result<Server, String> {
        let client = cfg.tls.as_ref().map(Wrapping::client).transpose()?;
        let accounts = accounts(&cfg, Some(&self.accounts))?;
        Ok(Server::with_shared(
            cfg,
            self.server_id.clone(),
            self.port,
            Transports {
                client,
                ws: self.ws_wrap.clone(),
                ws_port: self.ws_port,
                links: self.links.clone(),
            },
            accounts,
            Shared {
                connections: self.connections.clone(),
                replies: self.replies.clone(),
                account_connections: self.account_connections.clone(),
                system: self.system.clone(),
                cluster_view: self.cluster_view.clone(),
            },
        ))
    }

    /// Whether a client of this listener is the user its certificate names
    /// (`verify_and_map`).
    pub fn maps_cert_users(&self, websocket: bool) -> bool {
        let tls = if websocket {
            self.cfg.websocket.as_ref().and_then(|w| w.tls.as_ref())
        } else {
            self.cfg.tls.as_ref()
        };
        tls.is_some_and(|t| t.verify_and_map)
    }

    /// The INFO template of a client's listener.
    pub fn info_for(&self, websocket: bool) -> &InfoTemplate {
        if websocket {
            &self.ws_info
        } else {
            &self.info
        }
    }

    /// `server_name`, or the server id when none is set, as the Go server names itself.
    pub fn name(&self) -> &str {
        self.cfg.server_name.as_deref().unwrap_or(&self.server_id)
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

    /// Counts a connection into `account` unless that would pass `max` (a JWT account's
    /// `conn` limit). Only logins into limited accounts come here.
    pub fn try_join_account(&self, account: AccountId, max: usize) -> bool {
        let mut counts = self.account_connections.lock().expect("account count lock");
        let n = counts.entry(account).or_insert(0);
        if *n >= max {
            return false;
        }
        *n += 1;
        true
    }

    pub fn leave_account(&self, account: AccountId) {
        let mut counts = self.account_connections.lock().expect("account count lock");
        if let Some(n) = counts.get_mut(&account) {
            *n = n.saturating_sub(1);
        }
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Acquire)
    }
}

/// The server the shards run with now, for the threads that are not shards (the monitor,
/// the main thread); a reload replaces it.
#[derive(Debug)]
pub struct CurrentServer(Mutex<Arc<Server>>);

impl CurrentServer {
    pub fn new(server: Arc<Server>) -> CurrentServer {
        CurrentServer(Mutex::new(server))
    }

    pub fn get(&self) -> Arc<Server> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set(&self, server: Arc<Server>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = server;
    }
}

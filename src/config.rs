//! Server settings with the Go server's defaults (`server/const.go`, `server/opts.go`).

use std::path::PathBuf;
use std::time::Duration;

use crate::accounts::AccountConfig;
use crate::permissions::Permissions;

/// Client port (`DEFAULT_PORT`).
pub const DEFAULT_PORT: u16 = 4222;
/// Bind address (`DEFAULT_HOST`).
pub const DEFAULT_HOST: &str = "0.0.0.0";
/// Largest payload a client may publish, bytes (`MAX_PAYLOAD_SIZE`, 1 MiB).
pub const DEFAULT_MAX_PAYLOAD: usize = 1024 * 1024;
/// Longest control line, bytes (`MAX_CONTROL_LINE_SIZE`).
pub const DEFAULT_MAX_CONTROL_LINE: usize = 4096;
/// Outbound bytes a client may have queued before it is cut off as a slow consumer
/// (`MAX_PENDING_SIZE`, 64 MiB).
pub const DEFAULT_MAX_PENDING: usize = 64 * 1024 * 1024;
/// Most client connections (`DEFAULT_MAX_CONNECTIONS`).
pub const DEFAULT_MAX_CONNECTIONS: usize = 64 * 1024;
/// Interval between server PINGs (`DEFAULT_PING_INTERVAL`, 2 minutes).
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(120);
/// Unanswered PINGs before `Stale Connection` (`DEFAULT_PING_MAX_OUT`).
pub const DEFAULT_PING_MAX: u32 = 2;
/// The first PING to a client goes out this early (`firstClientPingInterval`, 2 s).
pub const FIRST_CLIENT_PING_INTERVAL: Duration = Duration::from_secs(2);
/// How long one write may stay unfinished before the client is a slow consumer
/// (`DEFAULT_FLUSH_DEADLINE`, 10 s).
pub const DEFAULT_WRITE_DEADLINE: Duration = Duration::from_secs(10);
/// How long a client has to send CONNECT when auth is required (`AUTH_TIMEOUT`, 2 s).
pub const DEFAULT_AUTH_TIMEOUT: Duration = Duration::from_secs(2);
/// With TLS, the default CONNECT deadline is the TLS timeout plus this
/// (`getDefaultAuthTimeout`, opts.go:6194).
const TLS_AUTH_TIMEOUT_MARGIN: Duration = Duration::from_secs(1);
/// Monitoring port when `-m` is given without one (`DEFAULT_HTTP_PORT`).
pub const DEFAULT_HTTP_PORT: u16 = 8222;
/// How long lame duck mode spreads the closing of clients over, grace period included
/// (`DEFAULT_LAME_DUCK_DURATION`, 2 minutes).
pub const DEFAULT_LAME_DUCK_DURATION: Duration = Duration::from_secs(120);
/// How long lame duck mode waits before it starts closing clients
/// (`DEFAULT_LAME_DUCK_GRACE_PERIOD`, 10 s).
pub const DEFAULT_LAME_DUCK_GRACE_PERIOD: Duration = Duration::from_secs(10);
/// The shortest `lame_duck_duration` a configuration file may set (`opts.go`, 30 s).
pub const MIN_LAME_DUCK_DURATION: Duration = Duration::from_secs(30);

/// A user of the `authorization` block (or `--user/--pass`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserConfig {
    pub user: String,
    /// Plain text, or a bcrypt hash (`$2a$...`).
    pub password: String,
    /// `None`: the user may publish and subscribe to anything.
    pub permissions: Option<Permissions>,
    /// The account it logs in to; `None` is the global account.
    pub account: Option<String>,
}

/// A user that proves it holds an nkey by signing the INFO nonce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NkeyUserConfig {
    /// The public user key (`U...`).
    pub nkey: String,
    pub permissions: Option<Permissions>,
    /// The account it logs in to; `None` is the global account.
    pub account: Option<String>,
}

/// Client authentication without accounts: a token or users, and the CONNECT deadline.
#[derive(Debug, Clone, Default)]
pub struct AuthConfig {
    pub token: Option<String>,
    pub users: Vec<UserConfig>,
    pub nkeys: Vec<NkeyUserConfig>,
    /// The user a client that presents no credentials is logged in as.
    pub no_auth_user: Option<String>,
    /// The CONNECT deadline as configured; `None` (or zero, as in Go) means the default,
    /// see [`Config::auth_timeout`].
    pub timeout: Option<Duration>,
    /// `users` holds the one user of `user`/`password` (Go's `Username`), not a `users`
    /// array (Go's `Users`); the WebSocket listener's own credentials replace such a user.
    pub single_user: bool,
}

/// The `websocket {}` block's own credentials (`authorization { user, password, token,
/// timeout }`, `no_auth_user`), for its clients instead of the `authorization` block's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WsAuthConfig {
    pub username: Option<String>,
    pub password: Option<String>,
    pub token: Option<String>,
    pub no_auth_user: Option<String>,
    pub timeout: Option<Duration>,
}

impl WsAuthConfig {
    /// Go replaces the server's credentials for WebSocket clients when the block names a
    /// user, a token or a `no_auth_user` (`wsConfigAuth`: `authOverride`).
    pub fn overrides(&self) -> bool {
        self.username.is_some() || self.token.is_some() || self.no_auth_user.is_some()
    }
}

impl AuthConfig {
    /// Whether clients must authenticate (INFO `auth_required`).
    pub fn required(&self) -> bool {
        self.token.is_some() || !self.users.is_empty() || !self.nkeys.is_empty()
    }

    /// Whether INFO carries a nonce for nkey users to sign (`nonceRequired`).
    pub fn nonce_required(&self) -> bool {
        !self.nkeys.is_empty()
    }

    /// The credentials WebSocket clients are checked against (`processClientOrLeafAuthentication`
    /// for a `WS` client): with an override, the block's token, user and `no_auth_user`
    /// instead of the server's token, single user and `no_auth_user`; the `users` array and
    /// nkey users stay. Its `timeout` applies either way.
    pub fn for_websocket(&self, ws: &WsAuthConfig) -> AuthConfig {
        let mut a = self.clone();
        if ws.overrides() {
            if a.single_user {
                a.users.clear();
                a.single_user = false;
            }
            if let Some(user) = &ws.username {
                a.users.push(UserConfig {
                    user: user.clone(),
                    password: ws.password.clone().unwrap_or_default(),
                    ..UserConfig::default()
                });
                a.single_user = true;
            }
            a.token.clone_from(&ws.token);
            a.no_auth_user.clone_from(&ws.no_auth_user);
        }
        if let Some(t) = ws.timeout {
            a.timeout = Some(t);
        }
        a
    }
}

/// Everything a running server needs to know, after flags (and later config files).
#[derive(Debug, Clone)]
pub struct Config {
    pub host: String,
    /// Requested port; `-1` asks for a random free one and is resolved at bind time.
    pub port: i32,
    pub server_name: Option<String>,
    pub http_port: Option<i32>,
    /// Monitoring bind address; the client `host` when unset (`http: host:port`).
    pub http_host: Option<String>,
    /// Prefix of every monitoring path (`http_base_path`).
    pub http_base_path: String,
    pub max_payload: usize,
    pub max_control_line: usize,
    pub max_pending: usize,
    pub max_connections: usize,
    /// 0 means unlimited.
    pub max_subscriptions: usize,
    pub ping_interval: Duration,
    pub ping_max: u32,
    pub write_deadline: Duration,
    /// Shards (threads); 0 means one per core this process may use.
    pub shards: usize,
    pub debug: bool,
    pub trace: bool,
    /// Timestamps on log lines (`-T`, `logtime`).
    pub logtime: bool,
    pub log_file: Option<PathBuf>,
    /// Bytes after which the log file is rotated; 0 means never (`logfile_size_limit`).
    pub log_size_limit: u64,
    /// Log files kept, the current one included, when rotating; 0 keeps them all
    /// (`logfile_max_num`).
    pub log_max_num: usize,
    pub pid_file: Option<PathBuf>,
    pub lame_duck_duration: Duration,
    pub lame_duck_grace_period: Duration,
    pub jetstream: bool,
    pub store_dir: Option<PathBuf>,
    /// The rest of the `jetstream {}` block.
    pub jetstream_opts: crate::jetstream::Options,
    pub auth: AuthConfig,
    /// Configured accounts besides the global one; their users are in `auth`.
    pub accounts: Vec<AccountConfig>,
    /// Operator mode: trusted operators and the accounts the resolver knows.
    pub operator: crate::jwt::trust::OperatorConfig,
    /// The account of the server's own events and services (`system_account`): an account
    /// name, or in operator mode an account's public key. Unset, it is `$SYS`.
    pub system_account: Option<String>,
    /// `no_system_account`: no `$SYS` unless `system_account` names one.
    pub no_system_account: bool,
    pub tls: Option<crate::transport::tls::TlsSettings>,
    pub websocket: Option<crate::transport::ws::WsSettings>,
    /// Routes to other servers of a cluster (`cluster {}`, `--cluster`, `--routes`).
    pub cluster: Option<crate::cluster::ClusterSettings>,
    /// Leaf node connections: a port hubs' leaf nodes connect to, and hubs to connect to
    /// (`leafnodes {}`).
    pub leafnodes: Option<crate::cluster::leaf::LeafSettings>,
}

impl Config {
    /// The system account's name: `system_account`, else `$SYS` unless
    /// `no_system_account`.
    pub fn system_account_name(&self) -> Option<&str> {
        match &self.system_account {
            Some(name) => Some(name.as_str()),
            None if self.no_system_account => None,
            None => Some(crate::system::SYSTEM_ACCOUNT),
        }
    }

    /// How long a client has to send CONNECT: the configured `authorization { timeout }`,
    /// else 2 s, or with TLS the TLS timeout plus 1 s, since the handshake comes first
    /// (`getDefaultAuthTimeout`, opts.go:6191).
    pub fn auth_timeout(&self) -> Duration {
        match (self.auth.timeout.filter(|t| !t.is_zero()), &self.tls) {
            (Some(t), _) => t,
            (None, Some(tls)) => tls.timeout + TLS_AUTH_TIMEOUT_MARGIN,
            (None, None) => DEFAULT_AUTH_TIMEOUT,
        }
    }

    /// Whether clients must authenticate (INFO `auth_required`): configured credentials, or
    /// operator mode, where every client presents a user JWT.
    pub fn auth_required(&self) -> bool {
        self.auth.required() || self.operator.enabled()
    }

    /// The server's PING period for a client: the `websocket {}` block's own
    /// `ping_interval` for WebSocket clients when it sets one (Go's `processPingTimer`).
    pub fn ping_interval_for(&self, websocket: bool) -> Duration {
        self.websocket
            .as_ref()
            .filter(|_| websocket)
            .and_then(|w| w.ping_interval)
            .unwrap_or(self.ping_interval)
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: DEFAULT_HOST.to_string(),
            port: i32::from(DEFAULT_PORT),
            server_name: None,
            http_port: None,
            http_host: None,
            http_base_path: String::new(),
            max_payload: DEFAULT_MAX_PAYLOAD,
            max_control_line: DEFAULT_MAX_CONTROL_LINE,
            max_pending: DEFAULT_MAX_PENDING,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_subscriptions: 0,
            ping_interval: DEFAULT_PING_INTERVAL,
            ping_max: DEFAULT_PING_MAX,
            write_deadline: DEFAULT_WRITE_DEADLINE,
            shards: 0,
            debug: false,
            trace: false,
            logtime: true,
            log_file: None,
            log_size_limit: 0,
            log_max_num: 0,
            pid_file: None,
            lame_duck_duration: DEFAULT_LAME_DUCK_DURATION,
            lame_duck_grace_period: DEFAULT_LAME_DUCK_GRACE_PERIOD,
            jetstream: false,
            store_dir: None,
            jetstream_opts: crate::jetstream::Options::default(),
            auth: AuthConfig::default(),
            accounts: Vec::new(),
            operator: Default::default(),
            system_account: None,
            no_system_account: false,
            tls: None,
            websocket: None,
            cluster: None,
            leafnodes: None,
        }
    }
}

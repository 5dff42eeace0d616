//! The cluster's settings: the `cluster {}` block and `--cluster`, `--cluster_name`,
//! `--routes`, `--no_advertise`, `--connect_retries` (`opts.go` `parseCluster`).

use std::time::Duration;

/// The Go server's delay between attempts to connect to a route (`DEFAULT_ROUTE_CONNECT`).
pub const ROUTE_CONNECT_DELAY: Duration = Duration::from_secs(1);

/// Route PINGs are at most this far apart, whatever `ping_interval` says
/// (`routeMaxPingInterval`, `route.go`).
pub const ROUTE_MAX_PING_INTERVAL: Duration = Duration::from_secs(30);

/// A route to solicit: `nats-route://[user:pass@]host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteUrl {
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub pass: Option<String>,
    /// As configured, for log lines.
    pub text: String,
}

impl RouteUrl {
    /// Parses a route URL as Go's `url.Parse` and `parseURL` take it; any scheme is
    /// accepted (Go dials host:port whatever it says).
    pub fn parse(text: &str) -> Result<RouteUrl, String> {
        let t = text.trim();
        let rest = t
            .split_once("://")
            .map(|(_, r)| r)
            .ok_or_else(|| format!("error parsing route url [{t:?}]"))?;
        let rest = rest.trim_end_matches('/');
        let (auth, hostport) = match rest.rsplit_once('@') {
            Some((a, h)) => (Some(a), h),
            None => (None, rest),
        };
        let (host, port) = hostport
            .rsplit_once(':')
            .ok_or_else(|| format!("error parsing route url [{t:?}]: missing port"))?;
        let port = port
            .parse()
            .map_err(|_| format!("error parsing route url [{t:?}]: invalid port"))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let (user, pass) = match auth.map(|a| a.split_once(':').unwrap_or((a, ""))) {
            Some((u, p)) => (Some(u.to_string()), Some(p.to_string())),
            None => (None, None),
        };
        Ok(RouteUrl {
            host,
            port,
            user,
            pass,
            text: t.to_string(),
        })
    }
}

/// What `cluster {}` and the cluster flags set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterSettings {
    /// The cluster's name; unset, it is made up and then follows the remotes' (dynamic).
    pub name: Option<String>,
    pub host: Option<String>,
    /// `-1` asks for a random free port; 0 means no route listener.
    pub port: i32,
    pub routes: Vec<RouteUrl>,
    /// Do not tell clients about the other servers' URLs.
    pub no_advertise: bool,
    /// Attempts at an implicit route before giving up; 0 means Go's default of trying
    /// configured routes forever and implicit ones once.
    pub connect_retries: u32,
    /// Parsed for Go's config files; a Riptide route is a single connection (see `cluster`).
    pub pool_size: i32,
    /// `authorization { user, password, timeout }` of route connections.
    pub user: Option<String>,
    pub pass: Option<String>,
    pub auth_timeout: Option<Duration>,
    /// The URL advertised to other servers (`cluster_advertise`).
    pub advertise: Option<String>,
}

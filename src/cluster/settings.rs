//! The cluster's settings: the `cluster {}` block and `--cluster`, `--cluster_name`,
//! `--routes`, `--no_advertise`, `--connect_retries` (`opts.go` `parseCluster`).

use std::time::Duration;

use super::compression::{Compression, CompressionConfig, Mode};
use crate::permissions::SubjectPermission;
use crate::subject::{has_wildcard, is_subset_match, matches_literal};
use crate::transport::tls::TlsSettings;

/// The Go server's delay between attempts to connect to a route (`DEFAULT_ROUTE_CONNECT`).
pub const ROUTE_CONNECT_DELAY: Duration = Duration::from_secs(1);

/// Route PINGs are at most this far apart, whatever `ping_interval` says
/// (`routeMaxPingInterval`, `route.go`).
pub const ROUTE_MAX_PING_INTERVAL: Duration = Duration::from_secs(30);

/// Route connections per remote server when `pool_size` is unset or 0
/// (`DEFAULT_ROUTE_POOL_SIZE`).
pub const DEFAULT_ROUTE_POOL_SIZE: u32 = 3;

/// Which accounts one route connection carries (Go's route pooling, `route.go` `addRoute`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteSlot {
    /// Pool connection `i`: the accounts that are not pinned and hash to `i`.
    Pool(u32),
    /// The connection dedicated to one pinned account, whose lines name no account.
    Pinned(crate::accounts::AccountId),
    /// Every account, on the one connection to a server without pooling (a peer that sends
    /// no `route_pool_size`, or either side at `pool_size: -1`).
    Whole,
}

impl RouteSlot {
    /// The slot a server holds at most one connection in: an unpooled link stands where
    /// pool connection 0 would.
    pub fn key(self) -> RouteSlot {
        match self {
            RouteSlot::Whole => RouteSlot::Pool(0),
            s => s,
        }
    }
}

/// The pool connection an account's interest goes on: FNV-1a (32 bits) of its name,
/// modulo this server's pool size (`computeRoutePoolIdx`).
pub fn pool_index(account: &str, pool_size: u32) -> u32 {
    if pool_size <= 1 {
        return 0;
    }
    let mut h: u32 = 2_166_136_261;
    for &b in account.as_bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(16_777_619);
    }
    h % pool_size
}

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
    /// A `tls://` or `wss://` URL: a leaf remote dials it with TLS even when it sets no
    /// `tls {}`.
    pub fn is_tls(&self) -> bool {
        self.scheme_is("tls") || self.scheme_is("wss")
    }

    /// A `ws://` or `wss://` URL: a leaf remote dials the hub's WebSocket port.
    pub fn is_ws(&self) -> bool {
        self.scheme_is("ws") || self.scheme_is("wss")
    }

    fn scheme_is(&self, scheme: &str) -> bool {
        self.text
            .split_once("://")
            .is_some_and(|(s, _)| s.trim().eq_ignore_ascii_case(scheme))
    }

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
        // A WebSocket URL may leave the port to its scheme, as HTTP does.
        let scheme = t
            .split_once("://")
            .map_or("", |(s, _)| s)
            .to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "ws" => Some("80"),
            "wss" => Some("443"),
            _ => None,
        };
        let (host, port) = match (hostport.rsplit_once(':'), default_port) {
            (Some((h, p)), _) if !p.contains(']') => (h, p),
            (_, Some(p)) => (hostport, p),
            _ => return Err(format!("error parsing route url [{t:?}]: missing port")),
        };
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
#[derive(Debug, Clone, Default, PartialEq)]
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
    /// Connections per remote server: 0 is Go's default of 3, -1 turns pooling off.
    pub pool_size: i32,
    /// Accounts with a route connection of their own (`accounts`); the system account is
    /// pinned too while pooling is on.
    pub accounts: Vec<String>,
    /// `authorization { user, password, timeout }` of route connections.
    pub user: Option<String>,
    pub pass: Option<String>,
    pub auth_timeout: Option<Duration>,
    /// The URL advertised to other servers (`cluster_advertise`).
    pub advertise: Option<String>,
    /// TLS on every route, both ways (`tls {}`).
    pub tls: Option<TlsSettings>,
    /// What the routes are told of and take (`permissions { import, export }`).
    pub permissions: Option<RoutePermissions>,
    /// `compression`, as written.
    pub compression: Option<CompressionConfig>,
}

/// `cluster { permissions }`, which Go keeps as a route's publish (import) and subscribe
/// (export) permissions (`setRoutePermissions`). Both only filter interest: `import` says
/// which of this server's subscriptions the routes are told of, `export` which of their
/// `RS+` this server takes; messages a route sends are never checked. A subscription's
/// wildcards are matched as plain tokens (Go's `Sublist.Match` on the subject), so
/// `out.*` lets `out.>` through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoutePermissions {
    pub import: Option<SubjectPermission>,
    pub export: Option<SubjectPermission>,
}

impl RoutePermissions {
    /// The routes are told of this server's interest in `subject` (`canImport`).
    pub fn can_import(&self, subject: &[u8]) -> bool {
        permits(self.import.as_ref(), subject)
    }

    /// A route's interest in `subject` is taken (`canExport`).
    pub fn can_export(&self, subject: &[u8]) -> bool {
        permits(self.export.as_ref(), subject)
    }

    /// A route's wildcard interest in `subject` also covers a denied export: from then on
    /// each message to that route is checked against the deny list (Go loads its
    /// `mperms` deny filter the same way, in `canSubscribe`).
    pub fn needs_deny_filter(&self, subject: &[u8]) -> bool {
        has_wildcard(subject)
            && self.export.as_ref().is_some_and(|e| {
                e.deny
                    .iter()
                    .any(|d| is_subset_match(d.as_bytes(), subject))
            })
    }

    /// A message on `subject` is not sent to a route with the deny filter on.
    pub fn export_denied(&self, subject: &[u8]) -> bool {
        self.export.as_ref().is_some_and(|e| {
            e.deny
                .iter()
                .any(|d| matches_literal(d.as_bytes(), subject))
        })
    }
}

/// An allow list (all when absent) less a deny list, matched against `subject` token by
/// token, its own wildcards as plain tokens.
fn permits(p: Option<&SubjectPermission>, subject: &[u8]) -> bool {
    let Some(p) = p else {
        return true;
    };
    let allowed = p
        .allow
        .as_ref()
        .is_none_or(|allow| allow.iter().any(|a| matches_literal(a.as_bytes(), subject)));
    allowed
        && !p
            .deny
            .iter()
            .any(|d| matches_literal(d.as_bytes(), subject))
}

impl ClusterSettings {
    /// The routes' compression: `accept` by default, `s2_fast` for `on`, as Go's routes.
    pub fn compression(&self) -> Result<Compression, String> {
        CompressionConfig::resolve(self.compression.as_ref(), Mode::Accept, Mode::Fast)
    }

    /// The pinned accounts, `system` (the system account) among them while pooling is on,
    /// are each named once and need pooling: Go's checks when it starts (`validateCluster`;
    /// `-t` passes them).
    pub fn check_pinned(&self, system: Option<&str>) -> Result<(), String> {
        if self.pool().is_none() {
            if !self.accounts.is_empty() {
                return Err("pool_size cannot be negative if pinned accounts are specified".into());
            }
            return Ok(());
        }
        let mut names = self.accounts.clone();
        if let Some(sys) = system.filter(|s| !names.iter().any(|n| n == s)) {
            names.push(sys.to_string());
        }
        for (i, n) in names.iter().enumerate() {
            if names[..i].contains(n) {
                let list: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
                return Err(format!(
                    "found duplicate account name {n:?} in pinned accounts list [{}]",
                    list.join(" ")
                ));
            }
        }
        Ok(())
    }

    /// The pool size, or none with pooling off.
    pub fn pool(&self) -> Option<u32> {
        match self.pool_size {
            n if n < 0 => None,
            0 => Some(DEFAULT_ROUTE_POOL_SIZE),
            n => Some(n as u32),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Indexes a Go 2.15.1 server was seen to put these accounts' interest on.
    #[test]
    fn pool_index_as_go_hashes_it() {
        let at3: Vec<u32> = ["A", "B", "C", "G", "$G", "$SYS"]
            .iter()
            .map(|a| pool_index(a, 3))
            .collect();
        assert_eq!(at3, [0, 0, 1, 2, 2, 0]);
        assert_eq!(pool_index("anything", 1), 0);
    }

    /// Go 2.15.1's refusals at start, word for word.
    #[test]
    fn pinned_accounts_checked_as_go_checks_them() {
        let c = |pool_size: i32, accounts: &[&str]| ClusterSettings {
            pool_size,
            accounts: accounts.iter().map(|a| a.to_string()).collect(),
            ..ClusterSettings::default()
        };
        assert_eq!(c(0, &["A", "$SYS"]).check_pinned(Some("$SYS")), Ok(()));
        assert_eq!(
            c(0, &["A", "A"]).check_pinned(Some("$SYS")),
            Err(
                "found duplicate account name \"A\" in pinned accounts list [\"A\" \"A\" \"$SYS\"]"
                    .into()
            )
        );
        assert_eq!(
            c(-1, &["A"]).check_pinned(Some("$SYS")),
            Err("pool_size cannot be negative if pinned accounts are specified".into())
        );
        assert_eq!(c(-1, &[]).check_pinned(Some("$SYS")), Ok(()));
    }
}

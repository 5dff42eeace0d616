//! The `--server` address: `nats://[user:pass@|token@]host[:port]` or plain `host:port`;
//! `tls://` for TLS (with `--tls-ca`), `ws://` and `wss://` for WebSocket.

use std::fmt;
use std::path::PathBuf;

/// The NATS client port, used when the address names none.
pub const DEFAULT_NATS_PORT: u16 = 4222;

/// Credentials sent in CONNECT. NATS URLs carry either `user:pass@` or a bare `token@`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    None,
    UserPass { user: String, pass: String },
    Token(String),
}

/// What the connections run over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Nats,
    Tls,
    Ws,
    Wss,
}

impl Scheme {
    fn name(self) -> &'static str {
        match self {
            Scheme::Nats => "nats",
            Scheme::Tls => "tls",
            Scheme::Ws => "ws",
            Scheme::Wss => "wss",
        }
    }

    /// TLS underneath (`tls://`, `wss://`): `--tls-ca` must name the CA to trust.
    pub fn uses_tls(self) -> bool {
        matches!(self, Scheme::Tls | Scheme::Wss)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl {
    pub scheme: Scheme,
    /// The CA certificates (PEM) that TLS connections trust (`--tls-ca`).
    pub tls_ca: Option<PathBuf>,
    /// Host name or IP; an IPv6 literal is kept without its brackets.
    pub host: String,
    pub port: u16,
    pub credentials: Credentials,
}

impl ServerUrl {
    pub fn parse(text: &str) -> Result<ServerUrl, String> {
        let (scheme, rest) = match text.split_once("://") {
            Some(("nats", rest)) => (Scheme::Nats, rest),
            Some(("tls", rest)) => (Scheme::Tls, rest),
            Some(("ws", rest)) => (Scheme::Ws, rest),
            Some(("wss", rest)) => (Scheme::Wss, rest),
            Some((scheme, _)) => {
                return Err(format!(
                "--server {text}: scheme {scheme}:// is not supported (use nats://, tls://, ws://, wss:// or host:port)"
            ))
            }
            None => (Scheme::Nats, text),
        };
        let rest = rest.trim_end_matches('/');
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let credentials = match userinfo {
            None => Credentials::None,
            Some(u) => match u.split_once(':') {
                Some((user, pass)) => Credentials::UserPass {
                    user: user.to_string(),
                    pass: pass.to_string(),
                },
                None => Credentials::Token(u.to_string()),
            },
        };
        let (host, port) = split_host_port(hostport)
            .ok_or_else(|| format!("--server {text}: expected nats://host:port or host:port"))?;
        if host.is_empty() {
            return Err(format!("--server {text}: no host"));
        }
        Ok(ServerUrl {
            scheme,
            tls_ca: None,
            host,
            port,
            credentials,
        })
    }

    /// The address without credentials, for reports and JSON.
    pub fn redacted(&self) -> String {
        let scheme = self.scheme.name();
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{}", self.host, self.port)
        } else {
            format!("{scheme}://{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

fn split_host_port(hostport: &str) -> Option<(String, u16)> {
    if let Some(bracketed) = hostport.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']')?;
        let port = match after {
            "" => DEFAULT_NATS_PORT,
            p => p.strip_prefix(':')?.parse().ok()?,
        };
        return Some((host.to_string(), port));
    }
    match hostport.rsplit_once(':') {
        // More than one colon without brackets is a bare IPv6 address.
        Some((host, _)) if host.contains(':') => Some((hostport.to_string(), DEFAULT_NATS_PORT)),
        Some((host, port)) => Some((host.to_string(), port.parse().ok()?)),
        None => Some((hostport.to_string(), DEFAULT_NATS_PORT)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let u = ServerUrl::parse("nats://127.0.0.1:4333").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("127.0.0.1", 4333));
        assert_eq!(u.credentials, Credentials::None);
        let u = ServerUrl::parse("localhost:5000").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("localhost", 5000));
        let u = ServerUrl::parse("nats://example").unwrap();
        assert_eq!(u.port, DEFAULT_NATS_PORT);
        let u = ServerUrl::parse("nats://[::1]:4222").unwrap();
        assert_eq!(u.host, "::1");
        assert_eq!(u.redacted(), "nats://[::1]:4222");
        let u = ServerUrl::parse("nats://bob:s3cret@10.0.0.1:4222").unwrap();
        assert_eq!(
            u.credentials,
            Credentials::UserPass {
                user: "bob".into(),
                pass: "s3cret".into()
            }
        );
        assert_eq!(u.redacted(), "nats://10.0.0.1:4222");
        let u = ServerUrl::parse("wss://h:8443").unwrap();
        assert_eq!(
            (u.scheme, u.redacted().as_str()),
            (Scheme::Wss, "wss://h:8443")
        );
        assert!(u.scheme.uses_tls());
        let u = ServerUrl::parse("nats://tok@h:1").unwrap();
        assert_eq!(u.credentials, Credentials::Token("tok".into()));
    }

    #[test]
    fn refusals() {
        assert!(ServerUrl::parse("http://h:4222").is_err());
        assert!(ServerUrl::parse("nats://h:notaport").is_err());
        assert!(ServerUrl::parse("nats://:4222").is_err());
        assert!(ServerUrl::parse("h:70000").is_err());
    }
}

//! The route INFO and CONNECT, with the fields Go servers send and read (`route.go`
//! `generateRouteInfoJSON`, `sendRouteConnect`), pool fields included. Riptide sends no
//! `lnoc`, so leaf-originated interest reaches it as plain `RS+`.

use serde::{Deserialize, Serialize};

use crate::info::GO_SERVER_VERSION;
use crate::permissions::SubjectPermission;

/// The protocol level in a route INFO, as Go 2.15.1 sends it.
pub const ROUTE_PROTO: i32 = 3;

/// A route INFO, sent and read. Unknown fields of a Go peer's INFO are ignored.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RouteInfo {
    pub server_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub server_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
    pub proto: i32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub host: String,
    pub port: u16,
    pub headers: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_verify: bool,
    pub max_payload: usize,
    /// The route URL of a server this INFO tells about (gossip), `nats-route://host:port/`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ip: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cluster_dynamic: bool,
    /// The server's client URLs, which clients of the cluster are told about.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub connect_urls: Vec<String>,
    /// The sender's compression mode (`Compression::info_name`, `answer_name`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub compression: String,
    /// Lame duck mode: the server is going away.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ldm: bool,
    /// The sender's route permissions, which `/routez` shows for its connections.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import: Option<PermissionJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export: Option<PermissionJson>,
    /// Go's gossip marker on a forwarded INFO (`gossip_mode`, 1 = default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gossip_mode: Option<u8>,
    /// The sender's configured pool size; absent from a server without pooling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route_pool_size: Option<i32>,
    /// The pool connection this is, in the first INFO of a connection its sender dialed
    /// (absent for 0).
    #[serde(skip_serializing_if = "is_zero")]
    pub route_pool_idx: u32,
    /// The pinned account this connection is dedicated to, in that same INFO.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub route_account: String,
    /// The sender's leaf node URL, which this server's leaf nodes are told of too.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub leafnode_urls: Vec<String>,
}

impl RouteInfo {
    /// This server's route INFO.
    pub fn ours(
        server_id: &str,
        server_name: &str,
        host: &str,
        port: u16,
        max_payload: usize,
        (cluster, dynamic): (&str, bool),
        connect_urls: Vec<String>,
    ) -> RouteInfo {
        RouteInfo {
            server_id: server_id.to_string(),
            server_name: server_name.to_string(),
            version: GO_SERVER_VERSION.to_string(),
            proto: ROUTE_PROTO,
            host: host.to_string(),
            port,
            headers: true,
            max_payload,
            cluster: cluster.to_string(),
            cluster_dynamic: dynamic,
            connect_urls,
            ..RouteInfo::default()
        }
    }

    /// `INFO <json>\r\n`, escaped as Go's JSON is (`>` in a permission is `\u003e`).
    pub fn line(&self) -> Vec<u8> {
        let mut out = b"INFO ".to_vec();
        out.extend_from_slice(&crate::system::go_json(self));
        out.extend_from_slice(b"\r\n");
        out
    }

    /// The route URL to reach the server this INFO describes.
    pub fn route_url(&self) -> String {
        if self.ip.is_empty() {
            format!("nats-route://{}/", host_port(&self.host, self.port))
        } else {
            self.ip.clone()
        }
    }
}

/// A `SubjectPermission` as Go's JSON has it: empty lists left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PermissionJson {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
}

impl From<&SubjectPermission> for PermissionJson {
    fn from(p: &SubjectPermission) -> PermissionJson {
        PermissionJson {
            allow: p.allow.clone().unwrap_or_default(),
            deny: p.deny.clone(),
        }
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// `host:port`, an IPv6 host in brackets.
pub fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// An `advertise` value as Go's `parseHostPort` reads it: `host[:port]` (an IPv6 host in
/// brackets), the port `default` when it is missing, 0 or -1; errors in Go's words.
pub fn advertised(value: &str, default: u16) -> Result<(String, u16), String> {
    let (host, port) = match value.strip_prefix('[') {
        Some(rest) => {
            let Some((host, after)) = rest.split_once(']') else {
                return Err(format!("address {value}: missing ']' in address"));
            };
            match after {
                "" => (host, None),
                p => match p.strip_prefix(':') {
                    Some(p) => (host, Some(p)),
                    None => return Err(format!("address {value}: missing port in address")),
                },
            }
        }
        None => match value.matches(':').count() {
            0 => (value, None),
            1 => value
                .split_once(':')
                .map(|(h, p)| (h, Some(p)))
                .unwrap_or_default(),
            _ => return Err(format!("address {value}: too many colons in address")),
        },
    };
    let port = match port.map(str::trim) {
        None => i64::from(default),
        Some(p) => p
            .parse::<i64>()
            .map_err(|_| format!("strconv.Atoi: parsing {p:?}: invalid syntax"))?,
    };
    let port = match port {
        0 | -1 => default,
        p => u16::try_from(p).map_err(|_| format!("invalid port {p}"))?,
    };
    Ok((host.trim().to_string(), port))
}

/// A route CONNECT, sent and read.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RouteConnect {
    pub echo: bool,
    pub verbose: bool,
    pub pedantic: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pass: Option<String>,
    pub tls_required: bool,
    pub headers: bool,
    /// The soliciting server's id.
    pub name: String,
    pub cluster: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cluster_dynamic: bool,
    /// Set by a client that dialed the route port by mistake; never by a server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
}

impl RouteConnect {
    /// `CONNECT <json>\r\n`.
    pub fn line(&self) -> Vec<u8> {
        let mut out = b"CONNECT ".to_vec();
        out.extend_from_slice(&serde_json::to_vec(self).expect("CONNECT serializes"));
        out.extend_from_slice(b"\r\n");
        out
    }
}

/// The client URLs a server advertises: its client host and port, or with the host
/// unspecified every non-loopback address of the machine, as Go's `getClientConnectURLs`.
pub fn client_urls(host: &str, port: u16) -> Vec<String> {
    let unspecified = host
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_unspecified());
    if !unspecified {
        return vec![host_port(host, port)];
    }
    let mut urls: Vec<String> = interface_addrs()
        .into_iter()
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
        .filter(
            |ip| !matches!(ip, std::net::IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80),
        )
        .map(|ip| host_port(&ip.to_string(), port))
        .collect();
    urls.dedup();
    urls
}

/// The machine's interface addresses.
fn interface_addrs() -> Vec<std::net::IpAddr> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free below; each entry is read only
    // while the list lives.
    unsafe {
        if libc::getifaddrs(&mut head) != 0 {
            return out;
        }
        let mut cur = head;
        while !cur.is_null() {
            let a = (*cur).ifa_addr;
            if !a.is_null() {
                match i32::from((*a).sa_family) {
                    libc::AF_INET => {
                        let sin = &*(a as *const libc::sockaddr_in);
                        out.push(std::net::IpAddr::from(
                            u32::from_be(sin.sin_addr.s_addr).to_be_bytes(),
                        ));
                    }
                    libc::AF_INET6 => {
                        let sin6 = &*(a as *const libc::sockaddr_in6);
                        out.push(std::net::IpAddr::from(sin6.sin6_addr.s6_addr));
                    }
                    _ => {}
                }
            }
            cur = (*cur).ifa_next;
        }
        libc::freeifaddrs(head);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::advertised;

    #[test]
    fn advertise_values_read_as_go_reads_them() {
        let ok = |v: &str| advertised(v, 7422).unwrap();
        assert_eq!(ok("leaf.example:7000"), ("leaf.example".into(), 7000));
        assert_eq!(ok("10.1.2.3"), ("10.1.2.3".into(), 7422));
        assert_eq!(ok("h:0"), ("h".into(), 7422));
        assert_eq!(ok("h:-1"), ("h".into(), 7422));
        assert_eq!(ok("[::1]:9"), ("::1".into(), 9));
        assert_eq!(ok("[::1]"), ("::1".into(), 7422));
        assert_eq!(
            advertised("x:y", 1).unwrap_err(),
            "strconv.Atoi: parsing \"y\": invalid syntax"
        );
        assert!(advertised("::1", 1).is_err());
    }
}

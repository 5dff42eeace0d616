//! Leaf nodes: the `leafnodes {}` block, and the INFO and CONNECT of a leaf node connection
//! as Go sends them (`leafnode.go`). A leaf connection is bound to one account on each side
//! and speaks the route protocol without accounts (`LS+`/`LS-`, `LMSG`/`HMSG`). The side
//! that accepted it is the hub, the side that dialed it (a configured remote) the spoke.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::compression::{Compression, CompressionConfig, Mode};
use super::settings::RouteUrl;
use crate::info::{API_LEVEL, GO_SERVER_VERSION};
use crate::transport::tls::TlsSettings;

/// Go's default delay before a remote is dialed again (`DEFAULT_LEAF_NODE_RECONNECT`).
pub const LEAF_RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// How long a spoke waits to dial again after its hub found a loop
/// (`leafNodeReconnectDelayAfterLoopDetected`).
pub const LEAF_LOOP_DELAY: Duration = Duration::from_secs(30);

/// How long a spoke waits to dial again after its hub refused it for having the hub's
/// cluster name (`leafNodeReconnectDelayAfterClusterNameSame`).
pub const LEAF_SAME_CLUSTER_DELAY: Duration = Duration::from_secs(30);

/// How long a spoke waits to dial again after its hub refused its version (the 5 s
/// nats-server 2.15.1 logs).
pub const LEAF_MIN_VERSION_DELAY: Duration = Duration::from_secs(5);

/// The hub's refusal of a leaf node of its own cluster (`ErrLeafNodeHasSameClusterName`).
pub const SAME_CLUSTER_NAME: &str = "remote leafnode has same cluster name";

/// How the hub's refusal of a leaf node older than `min_version` begins.
pub const MIN_VERSION_REFUSAL: &str = "connection rejected since minimum version required is";

/// How long a dialed hub has to answer: over WebSocket, the upgrade
/// (`DEFAULT_LEAFNODE_INFO_WAIT`).
pub const LEAF_INFO_WAIT: Duration = Duration::from_secs(1);

/// The subject prefix of the interest each server sends on its leaf connections to find
/// itself at the far end of a loop (`leafNodeLoopDetectionSubjectPrefix`).
pub const LOOP_DETECTION_PREFIX: &str = "$LDS.";

/// The protocol level a leaf CONNECT and INFO carry, as Go 2.15.1 sends them.
pub const LEAF_PROTO: i32 = 3;

/// A user a leaf node may authenticate as, and the account its connection binds to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeafUser {
    pub user: String,
    pub pass: String,
    pub account: Option<String>,
}

/// A hub to connect to (`leafnodes { remotes [ ... ] }`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeafRemote {
    pub urls: Vec<RouteUrl>,
    /// The local account the connection binds to; `$G` when unset.
    pub account: Option<String>,
    /// Subjects not subscribed to at the hub (`deny_imports`).
    pub deny_imports: Vec<String>,
    /// Subjects not published to the hub (`deny_exports`).
    pub deny_exports: Vec<String>,
    /// A `.creds` file: its user JWT and the hub's nonce signed with its seed go in the
    /// CONNECT. Read at each connection, as Go reads it.
    pub credentials: Option<std::path::PathBuf>,
    /// The seed of a user nkey (`nkey` or `seed`): the CONNECT carries its public key and
    /// the hub's nonce signed with it. `credentials` wins when both are set, as in Go.
    pub nkey_seed: Option<String>,
    /// TLS to the hub (`tls {}`); a `tls://` URL or a hub that asks for it also gets TLS.
    pub tls: Option<TlsSettings>,
    /// `compression`, as written.
    pub compression: Option<CompressionConfig>,
    /// Over WebSocket (`ws://`, `wss://` URLs): ask the hub to take unmasked frames.
    pub ws_no_masking: bool,
    /// Not dialed (`disabled`), and nothing logged about it, as in Go.
    pub disabled: bool,
}

impl LeafRemote {
    /// This remote's compression: `s2_auto` by default and for `on`, as Go's.
    pub fn compression(&self) -> Result<Compression, String> {
        CompressionConfig::resolve(self.compression.as_ref(), Mode::Auto, Mode::Auto)
    }

    /// Go's start-up checks of a remote: its compression, and URLs all WebSocket or none.
    pub fn check(&self) -> Result<(), String> {
        self.compression()?;
        if self.urls.iter().any(|u| u.is_ws() != self.urls[0].is_ws()) {
            let urls: Vec<String> = self.urls.iter().map(|u| format!("{:?}", u.text)).collect();
            return Err(format!(
                "remote leaf node configuration cannot have a mix of websocket and non-websocket urls: [{}]",
                urls.join(" ")
            ));
        }
        Ok(())
    }
}

/// What `leafnodes {}` sets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeafSettings {
    pub host: Option<String>,
    /// `-1` asks for a random free port; 0 means no leaf node listener.
    pub port: i32,
    /// `authorization { user, password, account }`: the one user leaf nodes log in as.
    pub user: Option<LeafUser>,
    /// `authorization { users [...] }`.
    pub users: Vec<LeafUser>,
    /// `authorization { account }`: where a leaf without credentials binds; `$G` when unset.
    pub account: Option<String>,
    pub remotes: Vec<LeafRemote>,
    /// Between attempts at a remote (`reconnect`).
    pub reconnect: Option<Duration>,
    /// Do not tell leaf nodes about the other servers' leaf URLs.
    pub no_advertise: bool,
    /// `host[:port]` leaf nodes are told to use instead of the port bound (`advertise`).
    pub advertise: Option<String>,
    /// The oldest server version whose leaf nodes are taken (`min_version`).
    pub min_version: Option<String>,
    /// TLS on the leaf node port (`tls {}`).
    pub tls: Option<TlsSettings>,
    /// `compression` of the leaf node port, as written.
    pub compression: Option<CompressionConfig>,
}

/// The oldest `min_version` Go accepts (`validateLeafNode`).
const MIN_VERSION_FLOOR: (u64, u64, u64) = (2, 8, 0);

/// A version's major, minor and patch numbers as Go's `versionComponents` reads them: a
/// semantic version (`2.10.3`, no leading zeros, a pre-release or build suffix ignored);
/// `None` when it is not one.
pub fn version_components(v: &str) -> Option<(u64, u64, u64)> {
    let end = v.find(['-', '+']).unwrap_or(v.len());
    let (core, suffix) = v.split_at(end);
    let suffix_ok = suffix.is_empty()
        || (suffix.len() > 1
            && suffix[1..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'+')));
    let number = |p: &str| {
        let digits = !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        (digits && (p == "0" || !p.starts_with('0')))
            .then(|| p.parse().ok())
            .flatten()
    };
    let mut parts = core.split('.');
    let parsed = (
        number(parts.next()?)?,
        number(parts.next()?)?,
        number(parts.next()?)?,
    );
    (parts.next().is_none() && suffix_ok).then_some(parsed)
}

/// Go's check of `min_version` at start, with its errors.
pub fn check_min_version(v: &str) -> Result<(), String> {
    match version_components(v) {
        None => Err("invalid leafnode's minimum version: invalid semver".into()),
        Some(c) if c < MIN_VERSION_FLOOR => {
            Err("the minimum version should be at least 2.8.0".into())
        }
        Some(_) => Ok(()),
    }
}

impl LeafSettings {
    /// A leaf node of `version` is older than `min_version` (Go's `versionAtLeast`: a
    /// version that does not parse is too old).
    pub fn too_old(&self, version: &str) -> bool {
        self.min_version
            .as_deref()
            .and_then(version_components)
            .is_some_and(|min| version_components(version).is_none_or(|v| v < min))
    }

    /// The leaf node port's compression: `s2_auto` by default and for `on`, as Go's.
    pub fn compression(&self) -> Result<Compression, String> {
        CompressionConfig::resolve(self.compression.as_ref(), Mode::Auto, Mode::Auto)
    }

    /// `authorization {}` names leaf users of its own; without any, a leaf logs in as a
    /// client would, against the server's users (Go's `isLeafNodeAuthorized`).
    pub fn has_users(&self) -> bool {
        self.user.is_some() || !self.users.is_empty()
    }

    /// The account a leaf's CONNECT with these credentials binds to; none when
    /// credentials are required and these are not among them.
    pub fn authenticate(&self, user: Option<&str>, pass: Option<&str>) -> Option<&str> {
        let default = self
            .account
            .as_deref()
            .unwrap_or(crate::accounts::GLOBAL_ACCOUNT);
        let users: Vec<&LeafUser> = self.user.iter().chain(&self.users).collect();
        if users.is_empty() {
            return Some(default);
        }
        users
            .into_iter()
            .find(|u| Some(u.user.as_str()) == user && Some(u.pass.as_str()) == pass)
            .map(|u| u.account.as_deref().unwrap_or(default))
    }
}

/// A leaf INFO, sent by a hub and read by a spoke. Unknown fields are ignored.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LeafInfo {
    pub server_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub server_name: String,
    pub version: String,
    pub proto: i32,
    pub host: String,
    pub port: u16,
    pub headers: bool,
    pub auth_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_verify: bool,
    pub max_payload: usize,
    /// The hub's leaf node URL, `host:port`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ip: String,
    pub client_id: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub nonce: String,
    /// The sender's compression mode (`Compression::info_name`, `answer_name`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub compression: String,
    /// The hub's cluster, when it is in one.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    /// After a CONNECT: the INFO that says the hub took it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub connect_info: bool,
    /// The account the hub bound the connection to.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub remote_account: String,
    pub api_lvl: u8,
    /// The hub answers a CONNECT with an INFO of its own (`connect_info`).
    pub info_on_connect: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub leafnode_urls: Vec<String>,
    /// The WebSocket URLs of the hub's cluster, which WebSocket remotes fail over to (a
    /// Riptide hub serves no leaf nodes over WebSocket, so it sends none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ws_connect_urls: Vec<String>,
}

impl LeafInfo {
    /// This server's INFO as a hub.
    pub fn ours(server_id: &str, server_name: &str, host: &str, port: u16) -> LeafInfo {
        LeafInfo {
            server_id: server_id.to_string(),
            server_name: server_name.to_string(),
            version: GO_SERVER_VERSION.to_string(),
            proto: LEAF_PROTO,
            host: host.to_string(),
            port,
            headers: true,
            // Go's hub always asks, so that a leaf sends what it has.
            auth_required: true,
            api_lvl: API_LEVEL,
            info_on_connect: true,
            ..LeafInfo::default()
        }
    }

    /// `INFO <json> \r\n`, with the space Go leaves before the line end.
    pub fn line(&self) -> Vec<u8> {
        let mut out = b"INFO ".to_vec();
        out.extend_from_slice(&serde_json::to_vec(self).expect("INFO serializes"));
        out.extend_from_slice(b" \r\n");
        out
    }
}

/// A leaf CONNECT (`leafConnectInfo`), sent by a spoke and read by a hub.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LeafConnect {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pass: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_token: Option<String>,
    /// A user JWT, and the hub's nonce signed with the user's key (or the nkey's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nkey: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sig: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub server_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub is_hub: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    pub headers: bool,
    /// Only a client sends it: one on the leaf port is told so.
    #[serde(skip_serializing)]
    pub lang: Option<String>,
    /// Only a gateway sends it.
    #[serde(skip_serializing)]
    pub gateway: Option<String>,
    /// The level the spoke compresses with, as Go's spoke tells it; the hub does not act
    /// on it.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub compress_mode: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub remote_account: String,
    pub protocol: i32,
}

impl LeafConnect {
    /// `CONNECT <json>\r\n`.
    pub fn line(&self) -> Vec<u8> {
        let mut out = b"CONNECT ".to_vec();
        out.extend_from_slice(&serde_json::to_vec(self).expect("CONNECT serializes"));
        out.extend_from_slice(b"\r\n");
        out
    }
}

/// Go's text when a server finds its own loop detection subject coming back
/// (`handleLeafNodeLoop`).
pub fn loop_detected(account: &str, delay: Duration) -> String {
    format!(
        "Loop detected for leafnode account={account:?}. Delaying attempt to reconnect for {}",
        crate::timefmt::go_duration(delay)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loop_text_as_go_writes_it() {
        assert_eq!(
            loop_detected("$G", LEAF_LOOP_DELAY),
            "Loop detected for leafnode account=\"$G\". Delaying attempt to reconnect for 30s"
        );
    }

    #[test]
    fn leaf_users_bind_accounts() {
        let mut s = LeafSettings::default();
        assert_eq!(s.authenticate(None, None), Some("$G"));
        s.users.push(LeafUser {
            user: "a".into(),
            pass: "p".into(),
            account: Some("A".into()),
        });
        assert_eq!(s.authenticate(Some("a"), Some("p")), Some("A"));
        assert_eq!(s.authenticate(Some("a"), Some("x")), None);
        assert_eq!(s.authenticate(None, None), None);
    }

    #[test]
    fn versions_read_and_compared_as_go_does() {
        assert_eq!(version_components("2.15.1"), Some((2, 15, 1)));
        assert_eq!(version_components("2.9.1-beta.2+b"), Some((2, 9, 1)));
        for bad in ["v2.9.1", "2.9", "2.9.1.1", "02.9.1", "abc", "", "2.9.1-"] {
            assert_eq!(version_components(bad), None, "{bad}");
        }
        let s = LeafSettings {
            min_version: Some("2.10.0".into()),
            ..LeafSettings::default()
        };
        assert!(s.too_old("2.9.99") && s.too_old("") && s.too_old("junk"));
        assert!(!s.too_old("2.10.0") && !s.too_old("2.100.1"));
        assert!(!LeafSettings::default().too_old("1.0.0"));
    }
}

//! The INFO a client gets on connect, and after its first PONG, in the Go server's field order.

use serde::Serialize;

/// The Go server release whose client-visible behaviour Riptide implements. Clients gate
/// features on INFO `version` (below 2.11 they turn some off).
pub const GO_SERVER_VERSION: &str = "2.15.1";
/// Riptide's own version, in INFO `riptide_version` and `--version`.
pub const RIPTIDE_VERSION: &str = env!("CARGO_PKG_VERSION");
/// Client protocol level: 1 means the client may receive async INFO (`ClientProtoInfo`).
pub const PROTO: u8 = 1;
/// JetStream API level the Go server reports in INFO (`JSApiLevel`, since 2.11).
pub const API_LEVEL: u8 = 5;

/// What Riptide puts where the Go server names its Go toolchain (INFO and `/varz` `go`).
pub fn go_field() -> String {
    format!("riptide {RIPTIDE_VERSION} (rust, not go)")
}

/// Server-wide INFO fields, serialized once; per-client fields are spliced in.
#[derive(Debug, Serialize)]
struct ServerInfo<'a> {
    server_id: &'a str,
    server_name: &'a str,
    version: &'a str,
    proto: u8,
    #[serde(skip_serializing_if = "str::is_empty")]
    git_commit: &'a str,
    go: String,
    host: &'a str,
    port: u16,
    headers: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    auth_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    tls_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    tls_verify: bool,
    max_payload: usize,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    jetstream: bool,
}

/// The INFO flags that depend on how a listener is configured.
#[derive(Debug, Clone, Copy, Default)]
pub struct Security {
    pub auth_required: bool,
    pub tls_required: bool,
    pub tls_verify: bool,
    /// JetStream is on (Go's `jetstream`, after `max_payload`).
    pub jetstream: bool,
}

/// Pre-rendered INFO halves around the per-client fields.
#[derive(Debug, Clone)]
pub struct InfoTemplate {
    /// `{"server_id":...,"max_payload":N` without the closing brace.
    head: String,
}

impl InfoTemplate {
    pub fn new(
        server_id: &str,
        server_name: &str,
        host: &str,
        port: u16,
        max_payload: usize,
        security: Security,
    ) -> Self {
        let info = ServerInfo {
            server_id,
            server_name,
            version: GO_SERVER_VERSION,
            proto: PROTO,
            git_commit: env!("RIPTIDE_GIT_COMMIT"),
            go: go_field(),
            host,
            port,
            headers: true,
            auth_required: security.auth_required,
            tls_required: security.tls_required,
            tls_verify: security.tls_verify,
            max_payload,
            jetstream: security.jetstream,
        };
        let mut head = serde_json::to_string(&info).expect("INFO serializes");
        head.pop();
        InfoTemplate { head }
    }

    /// The JSON for one client; `connect_info` names the client's account in the async INFO
    /// after the first PONG, `nonce` is the challenge for nkey users (first INFO only).
    pub fn render(
        &self,
        client_id: u64,
        client_ip: &str,
        connect_info: Option<&str>,
        nonce: Option<&str>,
        cluster: &str,
    ) -> Vec<u8> {
        let mut extra = String::new();
        if let Some(nonce) = nonce {
            extra.push_str(",\"nonce\":");
            extra.push_str(&serde_json::to_string(nonce).expect("string serializes"));
        }
        extra.push_str(cluster);
        if let Some(account) = connect_info {
            extra.push_str(",\"connect_info\":true,\"remote_account\":");
            extra.push_str(&serde_json::to_string(account).expect("string serializes"));
        }
        self.render_with(client_id, client_ip, &extra)
    }

    /// The async INFO that tells a client the server entered lame duck mode.
    pub fn render_lame_duck(&self, client_id: u64, client_ip: &str, cluster: &str) -> Vec<u8> {
        self.render_with(client_id, client_ip, &format!("{cluster},\"ldm\":true"))
    }

    /// The JSON with the per-client fields, then `extra` where the Go server puts its
    /// optional fields (before `api_lvl`).
    fn render_with(&self, client_id: u64, client_ip: &str, extra: &str) -> Vec<u8> {
        let mut s = String::with_capacity(self.head.len() + 128);
        s.push_str(&self.head);
        s.push_str(",\"client_id\":");
        s.push_str(&client_id.to_string());
        s.push_str(",\"client_ip\":");
        s.push_str(&serde_json::to_string(client_ip).expect("string serializes"));
        s.push_str(extra);
        s.push_str(&format!(
            ",\"api_lvl\":{API_LEVEL},\"riptide_version\":\"{RIPTIDE_VERSION}\"}}"
        ));
        s.into_bytes()
    }
}

/// A server id in the shape of an nkey public key: `N` and 55 base32 characters.
pub fn new_server_id(seed: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut x = seed | 1;
    let mut id = String::from("N");
    for _ in 0..55 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        id.push(ALPHABET[(x % 32) as usize] as char);
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_valid_json_with_go_fields() {
        let t = InfoTemplate::new("NID", "name", "0.0.0.0", 4222, 1 << 20, Security::default());
        let v: serde_json::Value =
            serde_json::from_slice(&t.render(7, "127.0.0.1", Some("$G"), None, "")).unwrap();
        assert_eq!(v["version"], GO_SERVER_VERSION);
        assert_eq!(v["client_id"], 7);
        assert_eq!(v["connect_info"], true);
        assert_eq!(v["remote_account"], "$G");
        assert_eq!(v["max_payload"], 1 << 20);
        assert_eq!(new_server_id(42).len(), 56);
        let ldm = String::from_utf8(t.render_lame_duck(7, "127.0.0.1", "")).unwrap();
        assert!(
            ldm.contains(r#""client_ip":"127.0.0.1","ldm":true,"api_lvl""#),
            "{ldm}"
        );
    }
}

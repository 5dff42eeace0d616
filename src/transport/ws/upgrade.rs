//! The HTTP upgrade, checked and answered as the Go server does (`websocket.go` `wsUpgrade`,
//! `checkOrigin`, `wsPMCExtensionSupport`, `wsReturnHTTPError`).

use std::sync::Arc;

use super::dial::LEAF_PATH;
use super::frames::Session;
use super::handshake::{CookieNames, Handshake};
use super::WsFailure;
use crate::monitor::http::{Response, MAX_REQUEST_HEAD};

/// Most headers a handshake request may carry.
const MAX_HEADERS: usize = 64;
/// The one extension Go negotiates, and its answer when the client offers it
/// (`wsPMCExtension`, `wsPMCFullResponse`): no context takeover in either direction.
const PMC_EXTENSION: &str = "permessage-deflate";
const PMC_RESPONSE: &str = "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n";
/// A client (in Go, a leaf node) may ask to send unmasked frames (`wsNoMaskingHeader`).
const NO_MASKING_HEADER: &str = "Nats-No-Masking";
const NO_MASKING_RESPONSE: &str = "Nats-No-Masking: true\r\n";

/// Headers the `101` answer writes itself or that would break the upgrade, refused in
/// `headers {}` whatever their case (Go's `wsSetHeadersOptions`).
const RESERVED_HEADERS: &[&str] = &[
    "Upgrade",
    "Connection",
    "Content-Length",
    "Host",
    NO_MASKING_HEADER,
];
/// The handshake's own headers: none of this prefix may be configured.
const HANDSHAKE_HEADER_PREFIX: &str = "Sec-WebSocket-";

/// Go's start-up check of `headers {}`: the first refused name, in file order.
pub fn check_response_headers(headers: &[(String, String)]) -> Result<(), String> {
    for (name, _) in headers {
        let lower = name.to_ascii_lowercase();
        if lower.starts_with(&HANDSHAKE_HEADER_PREFIX.to_ascii_lowercase()) {
            return Err(format!(
                "websocket: invalid header {name:?}, \"{HANDSHAKE_HEADER_PREFIX}\" prefix not allowed"
            ));
        }
        if RESERVED_HEADERS
            .iter()
            .any(|r| r.eq_ignore_ascii_case(name))
        {
            return Err(format!("websocket: invalid header {name:?} not allowed"));
        }
    }
    Ok(())
}

/// `headers {}` as the lines every `101` answer ends with, formatted once for all
/// connections. Names keep the case they were written in, as in Go.
pub fn response_headers(headers: &[(String, String)]) -> Arc<str> {
    headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect::<String>()
        .into()
}

/// An allowed origin, split as Go keeps it: lower-case host -> (scheme, port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    scheme: String,
    host: String,
    port: String,
}

impl Origin {
    /// Parses `scheme://host[:port]`; the port defaults by scheme (443 for https, else 80).
    pub fn parse(s: &str) -> Option<Origin> {
        let (scheme, rest) = s.split_once("://")?;
        let hostport = rest.split('/').next().unwrap_or(rest);
        if hostport.is_empty() {
            return None;
        }
        let (host, port) = split_host_port(hostport, scheme == "https");
        Some(Origin {
            scheme: scheme.to_string(),
            host,
            port,
        })
    }
}

fn split_host_port(hostport: &str, tls: bool) -> (String, String) {
    let default = if tls { "443" } else { "80" };
    let (host, port) = match hostport.rsplit_once(':') {
        // A bare IPv6 address: its colons are not a port separator.
        Some((h, _)) if !h.ends_with(']') && h.contains(':') => (hostport, default),
        Some((h, p)) => (h, p),
        None => (hostport, default),
    };
    (
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_lowercase(),
        port.to_string(),
    )
}

/// The origin policy of the listener.
#[derive(Debug, Clone, Default)]
pub struct OriginPolicy {
    pub same_origin: bool,
    pub allowed: Vec<Origin>,
    /// The listener is `wss`: a Host without a port means 443.
    pub tls: bool,
}

impl OriginPolicy {
    /// Go's `checkOrigin`: no policy or no Origin header passes.
    fn check(&self, origin: Option<&str>, host: &str) -> Result<(), &'static str> {
        if !self.same_origin && self.allowed.is_empty() {
            return Ok(());
        }
        let Some(origin) = origin.filter(|o| !o.is_empty()) else {
            return Ok(());
        };
        let o = Origin::parse(origin).ok_or("invalid origin")?;
        if self.same_origin {
            let (rh, rp) = split_host_port(host, self.tls);
            if o.host != rh || o.port != rp {
                return Err("not same origin");
            }
        }
        if !self.allowed.is_empty()
            && !self
                .allowed
                .iter()
                .any(|a| a.host == o.host && a.scheme == o.scheme && a.port == o.port)
        {
            return Err("not in the allowed list");
        }
        Ok(())
    }
}

/// What the listener accepts in an upgrade request.
#[derive(Debug, Clone, Default)]
pub struct UpgradePolicy {
    pub origins: OriginPolicy,
    /// `compression`: accept `permessage-deflate` when the client offers it.
    pub compression: bool,
    /// The cookies that may carry credentials.
    pub cookies: CookieNames,
    /// Lines added to every `101` answer (`response_headers`).
    pub headers: Arc<str>,
}

/// A successful upgrade: the request head's length, the framing it agreed on, and what the
/// request tells the connection.
pub(super) struct Accepted {
    pub used: usize,
    pub session: Session,
    pub handshake: Option<Handshake>,
    /// The path ends in `/leafnode`: a leaf node, not a client (Go's `wsUpgrade` kinds).
    pub leaf: bool,
}

/// Checks a request head and, when it is complete and acceptable, writes the `101` answer to
/// `wire`. `Ok(None)`: the head is not complete yet.
pub(super) fn upgrade(
    head: &[u8],
    policy: &UpgradePolicy,
    wire: &mut Vec<u8>,
) -> Result<Option<Accepted>, WsFailure> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let used = match req.parse(head) {
        Ok(httparse::Status::Partial) if head.len() <= MAX_REQUEST_HEAD => return Ok(None),
        Ok(httparse::Status::Complete(n)) => n,
        _ => return Err(http_error(400, "malformed HTTP request", wire)),
    };
    let headers = req.headers.to_vec();
    let header = |name: &'static str| {
        headers
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).into_owned())
    };
    // Go's `wsHeaderContains`: one of the comma-separated tokens, any case.
    let contains = |name: &'static str, token: &str| {
        header(name).any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    // Go 2.15 takes any path ending in `/leafnode` (its escaped path, without the query).
    let path = req.path.unwrap_or_default();
    let leaf = path
        .split('?')
        .next()
        .unwrap_or_default()
        .ends_with(LEAF_PATH);
    if req.method != Some("GET") {
        return Err(http_error(405, "request method must be GET", wire));
    }
    let host = header("Host").next().unwrap_or_default();
    if host.is_empty() {
        return Err(http_error(400, "'Host' missing in request", wire));
    }
    if !contains("Upgrade", "websocket") {
        return Err(http_error(400, "invalid value for header 'Upgrade'", wire));
    }
    if !contains("Connection", "Upgrade") {
        return Err(http_error(
            400,
            "invalid value for header 'Connection'",
            wire,
        ));
    }
    let key = header("Sec-WebSocket-Key").next().unwrap_or_default();
    if key.is_empty() {
        return Err(http_error(400, "key missing", wire));
    }
    if !contains("Sec-WebSocket-Version", "13") {
        return Err(http_error(400, "invalid version", wire));
    }
    let origin = header("Origin")
        .next()
        .or_else(|| header("Sec-WebSocket-Origin").next());
    if let Err(why) = policy.origins.check(origin.as_deref(), &host) {
        return Err(http_error(403, &format!("origin not allowed: {why}"), wire));
    }
    // Any `;`-separated part of any offered extension naming permessage-deflate will do; its
    // parameters are not looked at, as Go answers with its own.
    let compress = policy.compression
        && header("Sec-WebSocket-Extensions").any(|v| {
            v.split(',')
                .flat_map(|e| e.split(';'))
                .any(|p| p.trim().eq_ignore_ascii_case(PMC_EXTENSION))
        });
    let no_masking = header(NO_MASKING_HEADER).next().as_deref() == Some("true");
    let user_agent = header("User-Agent").next().unwrap_or_default();
    // Browsers get small frames; Safari (its agent names "Version/" and "Safari/", unlike
    // Chrome's) cannot take a compressed message split over frames.
    let browser = !leaf && user_agent.starts_with("Mozilla/");
    let safari = user_agent.contains("Version/") && user_agent.contains("Safari/");
    let accept = tungstenite::handshake::derive_accept_key(key.trim().as_bytes());
    wire.extend_from_slice(
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n"
        )
        .as_bytes(),
    );
    if compress {
        wire.extend_from_slice(PMC_RESPONSE.as_bytes());
    }
    if no_masking {
        wire.extend_from_slice(NO_MASKING_RESPONSE.as_bytes());
    }
    wire.extend_from_slice(policy.headers.as_bytes());
    wire.extend_from_slice(b"\r\n");
    let session = Session::new(
        compress,
        !no_masking,
        browser,
        browser && compress && safari,
    );
    let handshake = Handshake::from_headers(
        header("X-Forwarded-For").next().as_deref(),
        header("Cookie"),
        &policy.cookies,
    );
    Ok(Some(Accepted {
        used,
        session,
        handshake,
        leaf,
    }))
}

/// Go answers a refused upgrade with only the status text as body (`wsReturnHTTPError`)
/// and logs the reason.
fn http_error(status: u16, reason: &str, wire: &mut Vec<u8>) -> WsFailure {
    let text = match status {
        403 => "Forbidden",
        405 => "Method Not Allowed",
        _ => "Bad Request",
    };
    let _ = Response::error(status, format!("{text}\n")).write_to(wire, false);
    WsFailure {
        reason: format!("websocket handshake error: {reason}"),
        closed_by_client: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(extra: &str) -> Vec<u8> {
        format!("GET /any/path HTTP/1.1\r\nHost: localhost:8080\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n").into_bytes()
    }

    fn answer(req: &[u8], policy: &UpgradePolicy) -> (Result<Option<Accepted>, WsFailure>, String) {
        let mut wire = Vec::new();
        let r = upgrade(req, policy, &mut wire);
        (r, String::from_utf8_lossy(&wire).into_owned())
    }

    #[test]
    fn accepts_rfc_example_key_on_any_path() {
        let (r, wire) = answer(&request(""), &UpgradePolicy::default());
        assert_eq!(r.unwrap().unwrap().used, request("").len());
        assert_eq!(wire, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
    }

    #[test]
    fn negotiates_deflate_and_no_masking_like_go() {
        let on = UpgradePolicy {
            compression: true,
            ..UpgradePolicy::default()
        };
        let offer = "Sec-WebSocket-Extensions: x-foo, PerMessage-Deflate; client_max_window_bits\r\nNats-No-Masking: true\r\n";
        let (_, wire) = answer(&request(offer), &on);
        assert!(wire.ends_with(&format!("=\r\n{PMC_RESPONSE}{NO_MASKING_RESPONSE}\r\n")));
        // Not configured, or not offered: no extension in the answer.
        let (_, wire) = answer(&request(offer), &UpgradePolicy::default());
        assert!(!wire.contains("Extensions"));
        let (_, wire) = answer(&request("Sec-WebSocket-Extensions: x-foo\r\n"), &on);
        assert!(!wire.contains("Extensions"));
    }

    /// nats-server 2.15.1 at start with `headers { "<name>": "v" }`, and its `101` answer.
    #[test]
    fn configured_headers_as_go_checks_and_writes_them() {
        let h = |name: &str| check_response_headers(&[(name.to_string(), "v".to_string())]);
        for name in [
            "Upgrade",
            "upgrade",
            "Connection",
            "Content-Length",
            "Host",
            "nats-no-masking",
        ] {
            assert_eq!(
                h(name),
                Err(format!("websocket: invalid header \"{name}\" not allowed"))
            );
        }
        for name in ["Sec-WebSocket-Accept", "sec-websocket-x", "Sec-WebSocket-"] {
            assert_eq!(
                h(name),
                Err(format!(
                    "websocket: invalid header \"{name}\", \"Sec-WebSocket-\" prefix not allowed"
                ))
            );
        }
        for name in [
            "Sec-WebSocket",
            "Date",
            "Set-Cookie",
            "X-Forwarded-For",
            "Transfer-Encoding",
        ] {
            assert_eq!(h(name), Ok(()));
        }
        let policy = UpgradePolicy {
            compression: true,
            headers: response_headers(&[("Zed".into(), "1".into()), ("alpha".into(), "2".into())]),
            ..UpgradePolicy::default()
        };
        let (_, wire) = answer(
            &request("Sec-WebSocket-Extensions: permessage-deflate\r\n"),
            &policy,
        );
        assert!(
            wire.ends_with(&format!("=\r\n{PMC_RESPONSE}Zed: 1\r\nalpha: 2\r\n\r\n")),
            "{wire}"
        );
    }

    #[test]
    fn refuses_like_go() {
        let p = UpgradePolicy::default();
        let (r, wire) = answer(b"POST / HTTP/1.1\r\nHost: x\r\n\r\n", &p);
        assert!(r
            .err()
            .unwrap()
            .reason
            .ends_with("request method must be GET"));
        assert!(wire.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
        let bad = String::from_utf8(request("")).unwrap().replace("13", "12");
        let (r, wire) = answer(bad.as_bytes(), &p);
        assert!(r.err().unwrap().reason.ends_with("invalid version"));
        assert!(wire.ends_with("\r\n\r\nBad Request\n"));
        let (r, wire) = answer(&request("")[..20], &p);
        assert!(matches!(r, Ok(None)) && wire.is_empty());
    }

    #[test]
    fn origin_checks() {
        let same = OriginPolicy {
            same_origin: true,
            ..Default::default()
        };
        assert!(same
            .check(Some("http://localhost:8080"), "localhost:8080")
            .is_ok());
        assert_eq!(
            same.check(Some("http://other:8080"), "localhost:8080"),
            Err("not same origin")
        );
        assert!(same.check(None, "localhost:8080").is_ok());
        let listed = OriginPolicy {
            allowed: vec![Origin::parse("https://app.example.com").unwrap()],
            ..Default::default()
        };
        assert!(listed
            .check(Some("https://APP.example.com:443"), "x")
            .is_ok());
        assert_eq!(
            listed.check(Some("http://app.example.com"), "x"),
            Err("not in the allowed list")
        );
    }
}

//! WebSocket for client connections: the HTTP upgrade checked as the Go server checks it
//! (`websocket.go` `wsUpgrade`), then tungstenite's framing over in-memory buffers, so the
//! shard's reactor keeps the socket and the NATS protocol inside is the same as over TCP.

use std::io::{self, Read, Write};
use std::time::Duration;

use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::frame::CloseFrame;
use tungstenite::protocol::{Role, WebSocketConfig};
use tungstenite::{Message, WebSocket};

use crate::monitor::http::{Response, MAX_REQUEST_HEAD};

/// Go sends browsers frames of at most this many bytes, which they handle better
/// (`wsFrameSizeForBrowsers`, 4 KiB).
const BROWSER_FRAME_SIZE: usize = 4096;
/// Close statuses (RFC 6455 section 7.4.1) Go sends for broken frames.
const CLOSE_PROTOCOL_ERROR: u16 = 1002;
const CLOSE_MESSAGE_TOO_BIG: u16 = 1009;
/// A control frame carries at most 125 bytes, two of them the status.
const MAX_CLOSE_REASON: usize = 123;
/// tungstenite's read chunk per connection; small, as most reads are small.
const READ_BUFFER_SIZE: usize = 16 * 1024;
/// Most headers a handshake request may carry.
const MAX_HEADERS: usize = 64;
/// Default handshake deadline when `handshake_timeout` is not set: the TLS one, as a
/// client with neither would otherwise hold a slot until its auth timeout.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(2);

/// The `websocket {}` settings the upgrade needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WsSettings {
    pub host: Option<String>,
    /// `-1` asks for a random free port.
    pub port: i32,
    pub advertise: Option<String>,
    pub no_tls: bool,
    pub tls: Option<super::tls::TlsSettings>,
    /// Accept `permessage-deflate` when a client asks (Riptide does not negotiate it yet).
    pub compression: bool,
    pub same_origin: bool,
    /// `scheme://host[:port]` entries.
    pub allowed_origins: Vec<String>,
    pub handshake_timeout: Option<Duration>,
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

/// A failed upgrade or a broken stream: what to log, the HTTP answer (handshake only) and
/// whether it was the client closing normally.
#[derive(Debug)]
pub struct WsFailure {
    pub reason: String,
    pub closed_by_client: bool,
}

/// In-memory stream under tungstenite: `rd` holds received frame bytes, `wr` collects
/// frames to send. An empty `rd` reads as "would block", never as end of stream.
#[derive(Debug, Default)]
struct Buffers {
    rd: Vec<u8>,
    rd_off: usize,
    wr: Vec<u8>,
}

impl Read for Buffers {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = &self.rd[self.rd_off..];
        if left.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = left.len().min(buf.len());
        buf[..n].copy_from_slice(&left[..n]);
        self.rd_off += n;
        if self.rd_off == self.rd.len() {
            self.rd.clear();
            self.rd_off = 0;
        }
        Ok(n)
    }
}

impl Write for Buffers {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.wr.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

enum State {
    Upgrading(Vec<u8>),
    Open(Box<WebSocket<Buffers>>),
    Done,
}

/// One connection's WebSocket state.
pub struct WsLayer {
    state: State,
    /// A browser (User-Agent `Mozilla/`) gets frames of at most `BROWSER_FRAME_SIZE`.
    browser: bool,
}

impl std::fmt::Debug for WsLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsLayer")
            .field("open", &matches!(self.state, State::Open(_)))
            .finish()
    }
}

impl Default for WsLayer {
    fn default() -> Self {
        WsLayer {
            state: State::Upgrading(Vec::new()),
            browser: false,
        }
    }
}

impl WsLayer {
    pub fn upgrading(&self) -> bool {
        matches!(self.state, State::Upgrading(_))
    }

    /// Takes received bytes: the upgrade request first, then frames. Application bytes are
    /// appended to `plain`; the upgrade answer, pongs and close replies to `wire`.
    pub fn read(
        &mut self,
        data: &[u8],
        policy: &OriginPolicy,
        plain: &mut Vec<u8>,
        wire: &mut Vec<u8>,
    ) -> Result<(), WsFailure> {
        if let State::Upgrading(head) = &mut self.state {
            head.extend_from_slice(data);
            let head = std::mem::take(head);
            return match self.upgrade(&head, policy, wire) {
                Ok(None) => {
                    self.state = State::Upgrading(head);
                    Ok(())
                }
                Ok(Some(used)) => {
                    let rest = &head[used..];
                    if rest.is_empty() {
                        Ok(())
                    } else {
                        self.read(rest, policy, plain, wire)
                    }
                }
                Err(e) => {
                    self.state = State::Done;
                    Err(e)
                }
            };
        }
        let State::Open(ws) = &mut self.state else {
            return Ok(());
        };
        ws.get_mut().rd.extend_from_slice(data);
        let result = loop {
            match ws.read() {
                Ok(Message::Binary(b)) => plain.extend_from_slice(&b),
                Ok(Message::Text(t)) => plain.extend_from_slice(t.as_bytes()),
                // tungstenite has queued the pong or the close reply.
                Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => {}
                Ok(Message::Close(_)) => {}
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    break Ok(())
                }
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    break Err(WsFailure {
                        reason: "Client Closed".into(),
                        closed_by_client: true,
                    })
                }
                Err(e) => {
                    // Go tells the client why in a close frame (`wsHandleProtocolError`).
                    let code = match e {
                        tungstenite::Error::Capacity(_) => CLOSE_MESSAGE_TOO_BIG,
                        _ => CLOSE_PROTOCOL_ERROR,
                    };
                    let reason = e.to_string();
                    let _ = ws.close(Some(close_frame(code, &reason)));
                    break Err(WsFailure {
                        reason,
                        closed_by_client: false,
                    });
                }
            }
        };
        let _ = ws.flush();
        wire.append(&mut ws.get_mut().wr);
        if result.is_err() {
            self.state = State::Done;
        }
        result
    }

    /// Frames application bytes as binary messages (browser-sized for browsers).
    pub fn write(&mut self, plain: &[u8], wire: &mut Vec<u8>) {
        let State::Open(ws) = &mut self.state else {
            return;
        };
        let max = if self.browser {
            BROWSER_FRAME_SIZE
        } else {
            usize::MAX
        };
        for part in plain.chunks(max) {
            if ws.write(Message::binary(part.to_vec())).is_err() {
                break;
            }
        }
        let _ = ws.flush();
        wire.append(&mut ws.get_mut().wr);
    }

    /// Queues a close frame with Go's status for `reason` (`wsEnqueueCloseMessage`).
    pub fn close(&mut self, code: u16, reason: &str, wire: &mut Vec<u8>) {
        let State::Open(ws) = &mut self.state else {
            return;
        };
        let _ = ws.close(Some(close_frame(code, reason)));
        let _ = ws.flush();
        wire.append(&mut ws.get_mut().wr);
        self.state = State::Done;
    }

    /// Checks a complete request head and answers it. `Ok(None)`: the head is not complete
    /// yet; `Ok(Some(n))`: upgraded, the head was `n` bytes.
    fn upgrade(
        &mut self,
        head: &[u8],
        policy: &OriginPolicy,
        wire: &mut Vec<u8>,
    ) -> Result<Option<usize>, WsFailure> {
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
        let contains = |name: &'static str, token: &str| {
            header(name).any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        };
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
        if let Err(why) = policy.check(origin.as_deref(), &host) {
            return Err(http_error(403, &format!("origin not allowed: {why}"), wire));
        }
        self.browser = header("User-Agent")
            .next()
            .is_some_and(|ua| ua.starts_with("Mozilla/"));
        let accept = tungstenite::handshake::derive_accept_key(key.trim().as_bytes());
        wire.extend_from_slice(
            format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
            )
            .as_bytes(),
        );
        let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER_SIZE);
        self.state = State::Open(Box::new(WebSocket::from_raw_socket(
            Buffers::default(),
            Role::Server,
            Some(config),
        )));
        Ok(Some(used))
    }
}

/// A close frame; its reason is cut to fit a control frame as Go cuts it
/// (`wsCreateCloseMessage`: at most 123 bytes, ending in "..." when cut).
fn close_frame(code: u16, reason: &str) -> CloseFrame {
    let mut text = reason.to_string();
    if text.len() > MAX_CLOSE_REASON {
        let mut cut = MAX_CLOSE_REASON - 3;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("...");
    }
    CloseFrame {
        code: CloseCode::from(code),
        reason: text.into(),
    }
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

    fn upgrade(req: &[u8], policy: &OriginPolicy) -> (Result<(), WsFailure>, String) {
        let mut ws = WsLayer::default();
        let (mut plain, mut wire) = (Vec::new(), Vec::new());
        let r = ws.read(req, policy, &mut plain, &mut wire);
        (r, String::from_utf8_lossy(&wire).into_owned())
    }

    #[test]
    fn accepts_rfc_example_key_on_any_path() {
        let (r, wire) = upgrade(&request(""), &OriginPolicy::default());
        assert!(r.is_ok());
        assert!(wire.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
        assert!(wire.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    }

    #[test]
    fn refuses_like_go() {
        let p = OriginPolicy::default();
        let (r, wire) = upgrade(b"POST / HTTP/1.1\r\nHost: x\r\n\r\n", &p);
        assert!(r
            .unwrap_err()
            .reason
            .ends_with("request method must be GET"));
        assert!(wire.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
        let bad = String::from_utf8(request("")).unwrap().replace("13", "12");
        let (r, wire) = upgrade(bad.as_bytes(), &p);
        assert!(r.unwrap_err().reason.ends_with("invalid version"));
        assert!(wire.ends_with("\r\n\r\nBad Request\n"));
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

    #[test]
    fn waits_for_a_complete_head() {
        let mut ws = WsLayer::default();
        let req = request("");
        let (mut plain, mut wire) = (Vec::new(), Vec::new());
        let p = OriginPolicy::default();
        ws.read(&req[..10], &p, &mut plain, &mut wire).unwrap();
        assert!(ws.upgrading() && wire.is_empty());
        ws.read(&req[10..], &p, &mut plain, &mut wire).unwrap();
        assert!(!ws.upgrading());
    }
}

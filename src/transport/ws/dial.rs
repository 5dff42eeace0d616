//! A WebSocket connection this server dials: a leaf node to its hub's WebSocket port, as
//! Go's `leafnode.go` does it (`GET /leafnode` with Go's headers, the `101` answer checked
//! as Go checks it, then masked binary frames out and the hub's frames in).

use super::frames::Session;
use super::{Phase, WsFailure};

/// The path that tells a Go server's WebSocket port the connection is a leaf node
/// (`leafNodeWSPath`).
pub const LEAF_PATH: &str = "/leafnode";
/// The most an answer's head may take (Go reads it with a `MAX_CONTROL_LINE_SIZE` buffer).
const MAX_ANSWER_HEAD: usize = 4096;
const NO_MASKING_HEADER: &str = "Nats-No-Masking";

/// While upgrading: the request's key, and the answer's head so far.
type State = Phase<(String, Vec<u8>)>;

/// One dialed connection's WebSocket state.
pub struct WsDial {
    state: State,
    /// `ws_no_masking`: the request asks the server to take unmasked frames.
    no_masking: bool,
}

impl std::fmt::Debug for WsDial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsDial")
            .field("open", &matches!(self.state, State::Open(_)))
            .finish()
    }
}

impl WsDial {
    /// The upgrade request for `host:port`, appended to `wire`. (Go puts `/leafnode`
    /// after a URL's own path; remote URLs here carry none.)
    pub fn start(host_port: &str, no_masking: bool, wire: &mut Vec<u8>) -> WsDial {
        let mut raw = [0u8; 16];
        let _ = getrandom::getrandom(&mut raw);
        let key = data_encoding::BASE64.encode(&raw);
        // Go writes its headers sorted.
        let mut req = format!(
            "GET {LEAF_PATH} HTTP/1.1\r\nHost: {host_port}\r\nUser-Agent: Go-http-client/1.1\r\nConnection: Upgrade\r\n"
        );
        if no_masking {
            req.push_str(&format!("{NO_MASKING_HEADER}: true\r\n"));
        }
        req.push_str(&format!(
            "Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nUpgrade: websocket\r\n\r\n"
        ));
        wire.extend_from_slice(req.as_bytes());
        WsDial {
            state: State::Upgrading((key, Vec::new())),
            no_masking,
        }
    }

    /// The server has not answered the upgrade yet.
    pub fn upgrading(&self) -> bool {
        matches!(self.state, State::Upgrading(_))
    }

    /// Takes received bytes: the answer's head first, then frames. Application bytes are
    /// appended to `plain`; pongs to `wire`.
    pub fn read(
        &mut self,
        data: &[u8],
        plain: &mut Vec<u8>,
        wire: &mut Vec<u8>,
    ) -> Result<(), WsFailure> {
        let r = match &mut self.state {
            State::Upgrading((key, head)) => {
                head.extend_from_slice(data);
                match answer(head, key, self.no_masking) {
                    Ok(None) => Ok(()),
                    Ok(Some((used, masked))) => {
                        let rest = head.split_off(used);
                        self.state = State::Open(Box::new(Session::dialed(masked)));
                        match rest.as_slice() {
                            [] => Ok(()),
                            rest => self.read(rest, plain, wire),
                        }
                    }
                    Err(e) => Err(e),
                }
            }
            _ => return self.state.read_frames(data, plain, wire),
        };
        self.state.settle(r)
    }

    /// Frames protocol output (nothing goes out before the upgrade is answered).
    pub fn write(&mut self, plain: &[u8], wire: &mut Vec<u8>) {
        self.state.write(plain, wire);
    }
}

/// The server's answer: its head's length and whether our frames must be masked, once
/// the head is all there; Go's `invalid websocket connection` for a wrong one.
fn answer(head: &[u8], key: &str, no_masking: bool) -> Result<Option<(usize, bool)>, WsFailure> {
    let invalid = |why: &str| WsFailure {
        reason: format!("invalid websocket connection: {why}"),
        closed_by_client: false,
    };
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut resp = httparse::Response::new(&mut headers);
    let used = match resp.parse(head) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if head.len() < MAX_ANSWER_HEAD => return Ok(None),
        Ok(httparse::Status::Partial) => return Err(invalid("answer too long")),
        Err(e) => return Err(invalid(&e.to_string())),
    };
    let header = |name: &str| {
        resp.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| std::str::from_utf8(h.value).ok())
            .map(str::trim)
    };
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let ok = resp.code == Some(101)
        && header("Upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
        && header("Connection").is_some_and(|v| v.eq_ignore_ascii_case("upgrade"))
        && header("Sec-WebSocket-Accept") == Some(accept.as_str());
    if !ok {
        return Err(invalid(&format!("status {}", resp.code.unwrap_or(0))));
    }
    let unmasked = no_masking && header(NO_MASKING_HEADER).is_some_and(|v| v == "true");
    Ok(Some((used, !unmasked)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of(request: &[u8]) -> String {
        let text = String::from_utf8_lossy(request);
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
            .unwrap();
        line.to_string()
    }

    /// The request as Go's leaf node sends it, an answer split anywhere, the hub's INFO
    /// frame right behind the head, and our frames masked.
    #[test]
    fn dials_as_go_does() {
        let mut wire = Vec::new();
        let mut d = WsDial::start("127.0.0.1:8080", false, &mut wire);
        let req = String::from_utf8(wire.clone()).unwrap();
        assert!(
            req.starts_with("GET /leafnode HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"),
            "{req}"
        );
        let accept = tungstenite::handshake::derive_accept_key(key_of(&wire).as_bytes());
        let mut answer = format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n").into_bytes();
        answer.extend_from_slice(&[0x82, 5]);
        answer.extend_from_slice(b"INFO\n");
        let (mut plain, mut out) = (Vec::new(), Vec::new());
        for b in answer.chunks(7) {
            d.read(b, &mut plain, &mut out).unwrap();
        }
        assert_eq!(plain, b"INFO\n");
        d.write(b"CONNECT {}\r\n", &mut out);
        assert_eq!(out[0], 0x82);
        assert_eq!(out[1], 0x80 | 12, "masked, 12 bytes");
        let key = [out[2], out[3], out[4], out[5]];
        let unmasked: Vec<u8> = out[6..]
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ key[i & 3])
            .collect();
        assert_eq!(unmasked, b"CONNECT {}\r\n");
    }

    #[test]
    fn a_wrong_answer_is_refused() {
        let mut wire = Vec::new();
        let mut d = WsDial::start("h:1", true, &mut wire);
        assert!(String::from_utf8_lossy(&wire).contains("\r\nNats-No-Masking: true\r\n"));
        let r = d.read(
            b"HTTP/1.1 400 Bad Request\r\n\r\n",
            &mut Vec::new(),
            &mut Vec::new(),
        );
        assert!(r
            .unwrap_err()
            .reason
            .starts_with("invalid websocket connection"));
    }
}

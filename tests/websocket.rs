//! The WebSocket listener: the upgrade and its refusals as the Go server answers them, frames
//! from a raw socket (masking, fragmentation, ping/pong, close, oversized and unmasked
//! frames), WebSocket and TCP clients talking through the same shards, `wss`, and
//! async-nats over WebSocket.

use crate::common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use common::go::{go_server, Go};
use common::secure::{close_notify, exchange, tls_over, Pki, WsStream};
use common::{config, start_with, Raw, IO_TIMEOUT};
use riptide::config::{Config, UserConfig};
use riptide::runtime::Running;
use riptide::transport::tls::TlsSettings;
use riptide::transport::ws::WsSettings;

const UPGRADE: &str = "GET /some/path?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

fn ws_config(f: impl FnOnce(&mut WsSettings)) -> Config {
    let mut w = WsSettings {
        host: Some("127.0.0.1".into()),
        no_tls: true,
        ..WsSettings::default()
    };
    f(&mut w);
    Config {
        websocket: Some(w),
        ..config(2)
    }
}

fn ws_addr(srv: &Running) -> SocketAddr {
    srv.ws_addr.expect("websocket listener")
}

/// A client frame; `mask` as browsers must, `fin` false for a fragment.
fn frame(opcode: u8, fin: bool, payload: &[u8], mask: bool) -> Vec<u8> {
    let mut f = vec![opcode | if fin { 0x80 } else { 0 }];
    let m = if mask { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => f.push(m | n as u8),
        n if n < 65536 => {
            f.push(m | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(m | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    if mask {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        f.extend_from_slice(&key);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        f.extend_from_slice(payload);
    }
    f
}

/// A client frame compressed as RFC 7692 says: raw deflate, sync flushed, its empty tail
/// block dropped, RSV1 set.
fn compressed_frame(payload: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(payload).unwrap();
    z.flush().unwrap();
    let mut z = z.finish().unwrap();
    // finish() adds a final empty block after the sync flush: drop both.
    let tail = z.windows(4).rposition(|w| w == [0, 0, 0xff, 0xff]).unwrap();
    z.truncate(tail);
    let mut f = frame(2, true, &z, true);
    f[0] |= 0x40;
    f
}

/// A server message's payload inflated: the tail put back, a fresh window each time.
fn inflate(z: &[u8]) -> Vec<u8> {
    let mut d = flate2::write::DeflateDecoder::new(Vec::new());
    d.write_all(z).unwrap();
    d.write_all(&[0, 0, 0xff, 0xff]).unwrap();
    d.flush().unwrap();
    d.get_ref().clone()
}

/// A raw socket after a successful upgrade.
struct RawWs {
    s: TcpStream,
    buf: Vec<u8>,
}

impl RawWs {
    fn open(addr: SocketAddr) -> RawWs {
        RawWs::open_with(addr, "").0
    }

    /// Upgrades with `extra` request headers; returns the socket, the `101` head and the
    /// INFO.
    fn open_with(addr: SocketAddr, extra: &str) -> (RawWs, String, String) {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        s.write_all(format!("{UPGRADE}{extra}\r\n").as_bytes())
            .unwrap();
        let mut r = RawWs { s, buf: Vec::new() };
        let head = r.http_head();
        assert!(
            head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
            "{head}"
        );
        assert!(head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        let (b0, info) = r.raw_frame().expect("INFO");
        assert_eq!(b0 & 0x0f, 2, "binary frames");
        let info = if b0 & 0x40 != 0 { inflate(&info) } else { info };
        assert!(info.starts_with(b"INFO {"));
        (r, head, String::from_utf8(info).unwrap())
    }

    fn fill(&mut self) -> bool {
        let mut tmp = [0u8; 65536];
        match self.s.read(&mut tmp) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                true
            }
        }
    }

    fn http_head(&mut self) -> String {
        loop {
            if let Some(p) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let h: Vec<u8> = self.buf.drain(..p + 4).collect();
                return String::from_utf8(h).unwrap();
            }
            assert!(self.fill(), "closed before the HTTP answer");
        }
    }

    /// The next server frame: opcode and payload (servers never mask).
    fn frame(&mut self) -> (u8, Vec<u8>) {
        self.try_frame().expect("closed before a frame")
    }

    fn try_frame(&mut self) -> Option<(u8, Vec<u8>)> {
        self.raw_frame().map(|(b0, p)| (b0 & 0x0f, p))
    }

    /// The next server frame's first byte (FIN, RSV1, opcode) and payload.
    fn raw_frame(&mut self) -> Option<(u8, Vec<u8>)> {
        loop {
            if self.buf.len() >= 2 {
                assert_eq!(self.buf[1] & 0x80, 0, "server frames are not masked");
                let (len, head) = match self.buf[1] & 0x7f {
                    126 if self.buf.len() >= 4 => {
                        (u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize, 4)
                    }
                    127 if self.buf.len() >= 10 => (
                        u64::from_be_bytes(self.buf[2..10].try_into().unwrap()) as usize,
                        10,
                    ),
                    n if n < 126 => (n as usize, 2),
                    _ => (usize::MAX, 0),
                };
                if len != usize::MAX && self.buf.len() >= head + len {
                    let b0 = self.buf[0];
                    let f: Vec<u8> = self.buf.drain(..head + len).collect();
                    return Some((b0, f[head..].to_vec()));
                }
            }
            if !self.fill() {
                return None;
            }
        }
    }

    /// Protocol bytes up to the next PONG, across frames, each inflated when marked
    /// compressed; also whether any was.
    fn until_pong_inflated(&mut self) -> (Vec<u8>, bool) {
        let (mut got, mut compressed) = (Vec::new(), false);
        while !got.ends_with(b"PONG\r\n") {
            let (b0, p) = self.raw_frame().expect("closed before PONG");
            assert_eq!(b0 & 0x8f, 0x82, "final binary frames");
            if b0 & 0x40 != 0 {
                compressed = true;
                got.extend(inflate(&p));
            } else {
                got.extend(p);
            }
        }
        got.truncate(got.len() - 6);
        (got, compressed)
    }

    /// Protocol bytes up to the next PONG, across frames.
    fn until_pong(&mut self) -> Vec<u8> {
        let mut got = Vec::new();
        while !got.ends_with(b"PONG\r\n") {
            let (op, p) = self.frame();
            assert_eq!(op, 2);
            got.extend_from_slice(&p);
        }
        got.truncate(got.len() - 6);
        got
    }

    fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).unwrap();
    }
}

/// Sends a raw request to the WebSocket port and returns the whole answer.
fn refused(addr: SocketAddr, request: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn upgrade_refusals_as_go() {
    let srv = start_with(ws_config(|w| {
        w.allowed_origins = vec!["https://app.example.com".into()];
    }));
    let addr = ws_addr(&srv);
    let cases = [
        (
            "POST / HTTP/1.1\r\nHost: x\r\n\r\n".to_string(),
            "HTTP/1.1 405 Method Not Allowed\r\n",
            "Method Not Allowed\n",
        ),
        (
            format!(
                "{}\r\n",
                UPGRADE.replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "")
            ),
            "HTTP/1.1 400 Bad Request\r\n",
            "Bad Request\n",
        ),
        (
            format!("{}\r\n", UPGRADE.replace("Version: 13", "Version: 8")),
            "HTTP/1.1 400 Bad Request\r\n",
            "Bad Request\n",
        ),
        (
            format!(
                "{}\r\n",
                UPGRADE.replace("Upgrade: websocket", "Upgrade: h2c")
            ),
            "HTTP/1.1 400 Bad Request\r\n",
            "Bad Request\n",
        ),
        (
            format!("{UPGRADE}Origin: https://evil.example.com\r\n\r\n"),
            "HTTP/1.1 403 Forbidden\r\n",
            "Forbidden\n",
        ),
    ];
    for (req, status, body) in cases {
        let answer = refused(addr, &req);
        assert!(answer.starts_with(status), "{req:?} -> {answer:?}");
        assert!(answer.ends_with(&format!("\r\n\r\n{body}")), "{answer:?}");
    }
    // An allowed origin is let in.
    let answer = {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        s.write_all(format!("{UPGRADE}Origin: https://app.example.com\r\n\r\n").as_bytes())
            .unwrap();
        let mut buf = [0u8; 256];
        let n = s.read(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    assert!(answer.starts_with("HTTP/1.1 101"), "{answer}");
}

/// `headers {}` lines close every `101` answer, after Go's own (`Nats-No-Masking` here), in
/// the case they were written in; refusals do not carry them (nats-server 2.15.1).
#[test]
fn configured_headers_end_the_upgrade_answer() {
    let srv = start_with(ws_config(|w| {
        w.headers = vec![
            ("X-Frame-Options".into(), "DENY".into()),
            ("x-lower".into(), "a b, c".into()),
        ];
    }));
    let addr = ws_addr(&srv);
    let (_ws, head, _) = RawWs::open_with(addr, "Nats-No-Masking: true\r\n");
    assert!(
        head.ends_with(
            "\r\nNats-No-Masking: true\r\nX-Frame-Options: DENY\r\nx-lower: a b, c\r\n\r\n"
        ),
        "{head}"
    );
    let refusal = refused(addr, "POST / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(!refusal.contains("X-Frame-Options"), "{refusal}");
}

/// The block's `ping_interval` drives the server's PINGs to WebSocket clients: one that
/// never answers is stale after `ping_max` of them, long before the server-wide interval
/// (an hour here) would have sent the first. Go's sequence: two PINGs, the error, then a
/// close frame 1001.
#[test]
fn websocket_ping_interval_pings_websocket_clients() {
    let mut cfg = ws_config(|w| w.ping_interval = Some(std::time::Duration::from_millis(100)));
    cfg.ping_interval = std::time::Duration::from_secs(3600);
    let srv = start_with(cfg);
    let mut ws = RawWs::open(ws_addr(&srv));
    ws.send(&frame(2, true, b"CONNECT {\"verbose\":false}\r\n", true));
    let mut got = Vec::new();
    while let Some(f) = ws.try_frame() {
        got.push(f);
    }
    let close = [&1001u16.to_be_bytes()[..], b"Stale Connection"].concat();
    assert_eq!(
        got,
        [
            (2, b"PING\r\n".to_vec()),
            (2, b"PING\r\n".to_vec()),
            (2, b"-ERR 'Stale Connection'\r\n".to_vec()),
            (8, close),
        ]
    );
}

#[test]
fn frames_from_a_raw_socket() {
    let srv = start_with(ws_config(|_| {}));
    let addr = ws_addr(&srv);
    let mut ws = RawWs::open(addr);
    // A command split over a fragmented message, then a ping frame in between messages.
    ws.send(&frame(2, false, b"CONNECT {\"verbose\":false}\r\nSU", true));
    ws.send(&frame(0, true, b"B frag 1\r\n", true));
    ws.send(&frame(9, true, b"are you there", true));
    let (op, payload) = ws.frame();
    assert_eq!((op, payload.as_slice()), (10, &b"are you there"[..]));
    // Text frames carry the protocol too.
    ws.send(&frame(1, true, b"PUB frag 2\r\nhi\r\nPING\r\n", true));
    assert_eq!(ws.until_pong(), b"MSG frag 1 2\r\nhi\r\n");
    // A close frame is answered with a close frame, then the connection ends.
    ws.send(&frame(8, true, &1000u16.to_be_bytes(), true));
    let (op, _) = ws.frame();
    assert_eq!(op, 8);
    assert!(ws.try_frame().is_none());

    // An unmasked client frame is a protocol error: close frame 1002, then the end.
    let mut ws = RawWs::open(addr);
    ws.send(&frame(2, true, b"CONNECT {}\r\n", false));
    let (op, payload) = ws.frame();
    assert_eq!(op, 8);
    assert_eq!(&payload[..2], &1002u16.to_be_bytes());
    assert!(ws.try_frame().is_none());

    // A frame header announcing 1 TiB is refused without waiting for it.
    let mut ws = RawWs::open(addr);
    let mut huge = vec![0x82, 0x80 | 127];
    huge.extend_from_slice(&(1u64 << 40).to_be_bytes());
    huge.extend_from_slice(&[1, 2, 3, 4]);
    ws.send(&huge);
    let (op, _) = ws.frame();
    assert_eq!(op, 8);
    assert!(ws.try_frame().is_none());
}

#[test]
fn permessage_deflate_as_go() {
    let srv = start_with(ws_config(|w| w.compression = true));
    let addr = ws_addr(&srv);
    let offer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";
    let (mut ws, head, _) = RawWs::open_with(addr, offer);
    // nats-server 2.15.1's answer to the same request, byte for byte.
    assert_eq!(head, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n\r\n");
    ws.send(&compressed_frame(
        b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nPING\r\n",
    ));
    // A lone PONG is 6 bytes, under Go's 64-byte threshold: sent as it is.
    assert_eq!(ws.until_pong_inflated(), (Vec::new(), false));
    let body = "x".repeat(100);
    ws.send(&compressed_frame(
        format!("PUB foo 100\r\n{body}\r\nPING\r\n").as_bytes(),
    ));
    // The client may also send a message uncompressed.
    ws.send(&frame(2, true, b"PUB foo 2\r\nhi\r\nPING\r\n", true));
    let (got, compressed) = ws.until_pong_inflated();
    assert_eq!(got, format!("MSG foo 1 100\r\n{body}\r\n").as_bytes());
    assert!(compressed);
    assert_eq!(ws.until_pong_inflated().0, b"MSG foo 1 2\r\nhi\r\n");

    // A client that does not offer it gets no extension and plain frames.
    let (mut plain, head, _) = RawWs::open_with(addr, "");
    assert!(!head.contains("Extensions"), "{head}");
    let connect = b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nPING\r\n";
    plain.send(&frame(2, true, connect, true));
    assert_eq!(plain.until_pong_inflated(), (Vec::new(), false));
    let publish = format!("PUB foo 100\r\n{body}\r\nPING\r\n");
    plain.send(&frame(2, true, publish.as_bytes(), true));
    let (got, compressed) = plain.until_pong_inflated();
    assert_eq!(got, format!("MSG foo 1 100\r\n{body}\r\n").as_bytes());
    assert!(!compressed);
}

/// Logs in over a fresh upgrade with `headers`: the frames up to the PONG, or up to the
/// close frame.
fn ws_login(addr: SocketAddr, headers: &str, connect: &str) -> Vec<Vec<u8>> {
    let (mut ws, _, _) = RawWs::open_with(addr, headers);
    ws.send(&frame(
        2,
        true,
        format!("CONNECT {connect}\r\nPING\r\n").as_bytes(),
        true,
    ));
    let mut frames = Vec::new();
    while let Some((b0, p)) = ws.raw_frame() {
        let done = p.ends_with(b"PONG\r\n") || b0 & 0x0f == 8;
        frames.push(p);
        if done {
            break;
        }
    }
    frames
}

fn logged_in() -> Vec<Vec<u8>> {
    vec![b"PONG\r\n".to_vec()]
}

/// As the Go server refuses a WebSocket client: the TCP `-ERR`, then close status 1008 with
/// the close reason.
fn refused_login() -> Vec<Vec<u8>> {
    vec![
        b"-ERR 'Authorization Violation'\r\n".to_vec(),
        [&1008u16.to_be_bytes()[..], b"Authentication Failure"].concat(),
    ]
}

#[test]
fn websocket_credentials_override_the_servers() {
    // The block's user replaces the server's token for WebSocket clients only.
    let mut cfg = ws_config(|w| {
        w.auth.username = Some("a".into());
        w.auth.password = Some("b".into());
    });
    cfg.auth.token = Some("t".into());
    let srv = start_with(cfg);
    let addr = ws_addr(&srv);
    let (_, _, info) = RawWs::open_with(addr, "");
    assert!(info.contains("\"auth_required\":true"), "{info}");
    let ok = r#"{"verbose":false,"user":"a","pass":"b"}"#;
    assert_eq!(ws_login(addr, "", ok), logged_in());
    let wrong = r#"{"verbose":false,"user":"a","pass":"x"}"#;
    assert_eq!(ws_login(addr, "", wrong), refused_login());
    let token = r#"{"verbose":false,"auth_token":"t"}"#;
    assert_eq!(ws_login(addr, "", token), refused_login());
    let mut tcp = Raw::connect(srv.addr);
    tcp.send(format!("CONNECT {token}\r\nPING\r\n").as_bytes());
    assert_eq!(tcp.line(), "PONG\r\n");

    // A token on the block.
    let srv = start_with(ws_config(|w| w.auth.token = Some("s3cret".into())));
    let addr = ws_addr(&srv);
    let good = r#"{"verbose":false,"auth_token":"s3cret"}"#;
    assert_eq!(ws_login(addr, "", good), logged_in());
    assert_eq!(ws_login(addr, "", r#"{"verbose":false}"#), refused_login());
}

#[test]
fn websocket_no_auth_user() {
    let mut cfg = ws_config(|w| w.auth.no_auth_user = Some("x".into()));
    for (user, password) in [("x", "y"), ("z", "w")] {
        cfg.auth.users.push(UserConfig {
            user: user.into(),
            password: password.into(),
            ..UserConfig::default()
        });
    }
    let srv = start_with(cfg);
    let addr = ws_addr(&srv);
    assert_eq!(ws_login(addr, "", r#"{"verbose":false}"#), logged_in());
    let z = r#"{"verbose":false,"user":"z","pass":"w"}"#;
    assert_eq!(ws_login(addr, "", z), logged_in());
    let bad = r#"{"verbose":false,"user":"z","pass":"q"}"#;
    assert_eq!(ws_login(addr, "", bad), refused_login());
    // TCP clients have no no_auth_user.
    let mut tcp = Raw::connect(srv.addr);
    tcp.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n");
    assert_eq!(tcp.line(), "-ERR 'Authorization Violation'\r\n");
}

#[test]
fn credentials_from_cookies() {
    let srv = start_with(ws_config(|w| {
        w.auth.username = Some("a".into());
        w.auth.password = Some("b".into());
        w.cookies.user = Some("u".into());
        w.cookies.pass = Some("p".into());
    }));
    let addr = ws_addr(&srv);
    let quiet = r#"{"verbose":false}"#;
    assert_eq!(ws_login(addr, "Cookie: u=a; p=b\r\n", quiet), logged_in());
    // Two Cookie headers, a quoted value.
    let split = "Cookie: u=\"a\"\r\nCookie: theme=dark; p=b\r\n";
    assert_eq!(ws_login(addr, split, quiet), logged_in());
    assert_eq!(
        ws_login(addr, "Cookie: u=a; p=c\r\n", quiet),
        refused_login()
    );
    // What CONNECT carries wins over the cookie, field by field.
    let own = r#"{"verbose":false,"user":"a","pass":"b"}"#;
    assert_eq!(ws_login(addr, "Cookie: u=a; p=c\r\n", own), logged_in());
    let pass = r#"{"verbose":false,"pass":"x"}"#;
    assert_eq!(
        ws_login(addr, "Cookie: u=a; p=b\r\n", pass),
        refused_login()
    );

    // A token cookie checked against the server's token (no override).
    let mut cfg = ws_config(|w| w.cookies.token = Some("tk".into()));
    cfg.auth.token = Some("t".into());
    let srv = start_with(cfg);
    let addr = ws_addr(&srv);
    assert_eq!(ws_login(addr, "Cookie: tk=t\r\n", quiet), logged_in());
    assert_eq!(ws_login(addr, "Cookie: tk=x\r\n", quiet), refused_login());
}

#[test]
fn websocket_and_tcp_clients_share_the_broker() {
    let srv = start_with(ws_config(|_| {}));
    let wsaddr = ws_addr(&srv);
    let mut ws = Raw::over(WsStream::connect(wsaddr));
    let info = ws.info_json();
    assert_eq!(info["port"], wsaddr.port());
    // Several TCP clients land on both shards; each talks with the WebSocket client.
    let mut tcp = common::one_per_shard(srv.addr, 2);
    ws.send(b"CONNECT {\"verbose\":false}\r\nSUB from.tcp 1\r\n");
    assert_eq!(ws.sync(), b"");
    for (i, t) in tcp.iter_mut().enumerate() {
        t.send(b"CONNECT {\"verbose\":false}\r\nSUB from.ws 9\r\n");
        assert_eq!(t.sync(), b"");
        t.send(format!("PUB from.tcp {}\r\ntcp{i}\r\n", 4).as_bytes());
        assert_eq!(t.sync(), b"");
        assert_eq!(ws.line(), "MSG from.tcp 1 4\r\n");
        assert_eq!(ws.read_n(6), format!("tcp{i}\r\n").as_bytes());
    }
    // A 200 KiB message goes out in several frames and arrives whole.
    let big = vec![b'w'; 200 * 1024];
    ws.send(format!("PUB from.ws {}\r\n", big.len()).as_bytes());
    ws.send(&big);
    ws.send(b"\r\n");
    assert_eq!(ws.sync(), b"");
    for t in &mut tcp {
        assert_eq!(t.line(), format!("MSG from.ws 9 {}\r\n", big.len()));
        assert_eq!(t.read_n(big.len() + 2)[..big.len()], big[..]);
    }
}

#[test]
fn secure_websocket() {
    let pki = Pki::new("wss");
    let srv = start_with(ws_config(|w| {
        w.no_tls = false;
        w.tls = Some(TlsSettings::new(
            pki.server_cert.clone(),
            pki.server_key.clone(),
        ));
    }));
    let addr = ws_addr(&srv);
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let tls = tls_over(s, pki.client(None));
    let (ws, _) = tungstenite::client(format!("wss://localhost:{}/", addr.port()), tls).unwrap();
    let mut wss = Raw::over(WsStream::over(ws));
    let mut tcp = Raw::connect(srv.addr);
    exchange(&mut wss, &mut tcp);
}

/// Logs in over `wss`, then ends TLS with close_notify and no WebSocket close frame;
/// returns what the server sent before its own close_notify.
fn wss_login_then_close_notify(addr: SocketAddr, pki: &Pki) -> Vec<u8> {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let tls = tls_over(s, pki.client(None));
    let (ws, _) = tungstenite::client(format!("wss://localhost:{}/", addr.port()), tls).unwrap();
    let mut wss = Raw::over(WsStream::over(ws));
    wss.log_in("");
    close_notify(wss.s.ws.get_mut(), b"")
}

/// A `wss` client that ends TLS with close_notify, with no WebSocket close frame first, has
/// closed: nats-server 2.15.1 answers with its close frame (1000, `Client Closed`), its own
/// close_notify, then FIN. Riptide used to ignore the close_notify and keep the connection.
#[test]
fn secure_websocket_close_notify() {
    let pki = Pki::new("wss-close");
    let closed = frame(0x8, true, b"\x03\xe8Client Closed", false);
    if let Some(go) = go_server() {
        let conf = format!(
            "websocket {{\nhost: 127.0.0.1\nport: -1\ntls {{\n{}}}\n}}\n",
            pki.tls_lines()
        );
        let go = Go::start_conf(&go, &pki.dir.join("go.conf"), &conf);
        let addr = go.ws_addr.expect("Go's websocket listener");
        assert_eq!(wss_login_then_close_notify(addr, &pki), closed, "Go");
    }
    let srv = start_with(ws_config(|w| {
        w.no_tls = false;
        w.tls = Some(TlsSettings::new(
            pki.server_cert.clone(),
            pki.server_key.clone(),
        ));
    }));
    assert_eq!(wss_login_then_close_notify(ws_addr(&srv), &pki), closed);
}

#[tokio::test]
async fn async_nats_over_websocket() {
    let srv = start_with(ws_config(|_| {}));
    let ws_url = format!("ws://127.0.0.1:{}", ws_addr(&srv).port());
    let ws_client = async_nats::connect(&ws_url).await.unwrap();
    let tcp_client = async_nats::connect(srv.addr.to_string()).await.unwrap();
    let mut sub = ws_client.subscribe("edge.>").await.unwrap();
    let mut tcp_sub = tcp_client.subscribe("browser.>").await.unwrap();
    common::live(&ws_client, &tcp_client).await;
    common::live(&tcp_client, &ws_client).await;
    for i in 0..50u32 {
        tcp_client
            .publish(format!("edge.{i}"), i.to_string().into())
            .await
            .unwrap();
        ws_client
            .publish(format!("browser.{i}"), i.to_string().into())
            .await
            .unwrap();
    }
    for i in 0..50u32 {
        for s in [&mut sub, &mut tcp_sub] {
            let m = tokio::time::timeout(IO_TIMEOUT, futures::StreamExt::next(s))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(m.payload, i.to_string().as_bytes());
        }
    }
}

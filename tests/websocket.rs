//! The WebSocket listener: the upgrade and its refusals as the Go server answers them, frames
//! from a raw socket (masking, fragmentation, ping/pong, close, oversized and unmasked
//! frames), WebSocket and TCP clients talking through the same shards, `wss`, and
//! async-nats over WebSocket.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use common::secure::{exchange, tls_over, Pki, WsStream};
use common::{config, start_with, Raw, IO_TIMEOUT};
use riptide::config::Config;
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

/// A raw socket after a successful upgrade.
struct RawWs {
    s: TcpStream,
    buf: Vec<u8>,
}

impl RawWs {
    fn open(addr: SocketAddr) -> RawWs {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        s.write_all(format!("{UPGRADE}\r\n").as_bytes()).unwrap();
        let mut r = RawWs { s, buf: Vec::new() };
        let head = r.http_head();
        assert!(
            head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
            "{head}"
        );
        assert!(head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        let (op, info) = r.frame();
        assert_eq!(op, 2, "binary frames");
        assert!(info.starts_with(b"INFO {"));
        r
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
                    let op = self.buf[0] & 0x0f;
                    let f: Vec<u8> = self.buf.drain(..head + len).collect();
                    return Some((op, f[head..].to_vec()));
                }
            }
            if !self.fill() {
                return None;
            }
        }
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
fn websocket_and_tcp_clients_share_the_broker() {
    let srv = start_with(ws_config(|_| {}));
    let wsaddr = ws_addr(&srv);
    let mut ws = Raw::over(WsStream::connect(wsaddr));
    let info: serde_json::Value =
        serde_json::from_str(ws.info.trim_start_matches("INFO ").trim()).unwrap();
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

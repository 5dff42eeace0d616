//! The monitoring port from a test: plain HTTP/1.1 requests, and polling an endpoint until
//! the server has caught up with what the test did.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use riptide::runtime::Running;
use serde_json::Value;

use super::{config, start_with, IO_TIMEOUT};

/// How many times a test polls for something the server does asynchronously (a client's
/// close noticed), 20 ms apart: a bound on the wait, not a timing assertion.
pub const POLLS: usize = 500;

pub struct Http {
    pub status: u16,
    pub headers: String,
    pub body: Vec<u8>,
}

impl Http {
    pub fn json(&self) -> Value {
        assert_eq!(self.status, 200, "{}", String::from_utf8_lossy(&self.body));
        serde_json::from_slice(&self.body).expect("JSON body")
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One request, asking the server to close after its answer (the Go server keeps an
/// HTTP/1.1 connection open otherwise).
pub fn request(addr: SocketAddr, method: &str, path: &str) -> Http {
    let head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    raw_http(addr, head.as_bytes())
}

/// Sends `bytes` as they are and reads the answer up to the server's close. A reset after
/// the answer (the server closing with bytes of ours unread) ends it too.
pub fn raw_http(addr: SocketAddr, bytes: &[u8]) -> Http {
    let mut s = TcpStream::connect(addr).expect("connect to monitor");
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.write_all(bytes).unwrap();
    let mut raw = Vec::new();
    if let Err(e) = s.read_to_end(&mut raw) {
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}");
    }
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head[9..12].parse().unwrap();
    let mut body = raw[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = unchunk(&body);
    }
    Http {
        status,
        headers: head,
        body,
    }
}

/// A chunked body (the Go server's, for answers it did not size) put back together.
fn unchunk(mut raw: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let eol = raw
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size");
        let size = std::str::from_utf8(&raw[..eol]).unwrap();
        let size = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16).unwrap();
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&raw[eol + 2..eol + 2 + size]);
        raw = &raw[eol + 2 + size + 2..];
    }
}

pub fn get(addr: SocketAddr, path: &str) -> Http {
    request(addr, "GET", path)
}

pub fn monitored(shards: usize, base: &str) -> (Running, SocketAddr) {
    let mut cfg = config(shards);
    cfg.http_port = Some(0);
    cfg.http_base_path = base.to_string();
    let running = start_with(cfg);
    let addr = running.monitor.as_ref().expect("monitor started").addr;
    (running, addr)
}

/// Polls `path` until `done` holds for its JSON.
pub fn wait_for(addr: SocketAddr, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..POLLS {
        let v = get(addr, path).json();
        if done(&v) {
            return v;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{path} never reached the expected state");
}

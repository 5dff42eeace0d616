//! Helpers shared by the integration tests: a real server on an ephemeral loopback port and
//! a raw protocol client with bounded reads.
#![allow(dead_code)]

pub mod crossing;
pub mod go;
pub mod go_cases;
pub mod http;
pub mod process;
pub mod secure;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use riptide::config::Config;
use riptide::runtime::{self, Running};

/// Every socket read in a test gives up after this long.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

pub fn config(shards: usize) -> Config {
    Config {
        host: "127.0.0.1".into(),
        port: 0,
        shards,
        ..Config::default()
    }
}

pub fn start(shards: usize) -> Running {
    start_with(config(shards))
}

pub fn start_with(cfg: Config) -> Running {
    runtime::start(cfg).expect("server starts")
}

/// The test configuration on `shards` shards with the configuration file text `conf` applied.
pub fn configured(shards: usize, conf: &str) -> Config {
    let mut cfg = config(shards);
    riptide::config_file::load_str(conf, &mut cfg, true).expect("configuration loads");
    cfg
}

/// A server on `shards` shards configured by the configuration file text `conf`.
pub fn start_conf(shards: usize, conf: &str) -> Running {
    start_with(configured(shards, conf))
}

/// An `INFO {...}` line as JSON.
pub fn info_json(line: &str) -> serde_json::Value {
    let json = line.strip_prefix("INFO ").unwrap_or(line).trim();
    serde_json::from_str(json).unwrap_or_else(|e| panic!("INFO {json:?}: {e}"))
}

/// The CONNECT fields of `user`, whose password in the test configurations is its name.
pub fn user(name: &str) -> String {
    format!("\"user\":\"{name}\",\"pass\":\"{name}\"")
}

/// A raw protocol connection, over TCP by default (or TLS, or WebSocket).
pub struct Raw<S = TcpStream> {
    pub s: S,
    pub info: String,
    buf: Vec<u8>,
}

impl Raw {
    pub fn connect(addr: SocketAddr) -> Raw {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        s.set_nodelay(true).unwrap();
        Raw::over(s)
    }

    /// A connection logged in with the CONNECT `fields` (see `log_in`).
    pub fn logged_in(addr: SocketAddr, fields: &str) -> Raw {
        let mut c = Raw::connect(addr);
        c.log_in(fields);
        c
    }

    /// Closes with RST instead of FIN: `SO_LINGER` on with a zero timeout.
    pub fn reset(self) {
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: a valid socket and a correctly sized option value.
        let rc = unsafe {
            libc::setsockopt(
                self.s.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0, "SO_LINGER");
    }
}

impl<S: Read + Write> Raw<S> {
    /// Takes a connected stream and reads the server's INFO from it.
    pub fn over(s: S) -> Raw<S> {
        let mut r = Raw {
            s,
            info: String::new(),
            buf: Vec::new(),
        };
        r.info = r.line();
        assert!(r.info.starts_with("INFO {"), "{}", r.info);
        r
    }

    /// The INFO the server greeted with, as JSON.
    pub fn info_json(&self) -> serde_json::Value {
        info_json(&self.info)
    }

    /// The client id from INFO, which encodes the shard: `(cid - 1) % shards`.
    pub fn cid(&self) -> u64 {
        self.info_json()["client_id"].as_u64().unwrap()
    }

    /// Sends `CONNECT {fields}` and a PING; returns what the server sent before the PONG.
    pub fn connect_sync(&mut self, fields: &str) -> Vec<u8> {
        self.send(format!("CONNECT {{{fields}}}\r\n").as_bytes());
        self.sync()
    }

    /// Logs in with the CONNECT `fields`, verbose off: the server must answer the login with
    /// nothing but the PONG.
    pub fn log_in(&mut self, fields: &str) {
        let sep = if fields.is_empty() { "" } else { "," };
        let got = self.connect_sync(&format!("\"verbose\":false{sep}{fields}"));
        assert_eq!(String::from_utf8_lossy(&got), "", "login with {fields}");
    }

    pub fn shard(&self, shards: usize) -> usize {
        ((self.cid() - 1) % shards as u64) as usize
    }

    pub fn send(&mut self, data: &[u8]) {
        self.s.write_all(data).unwrap();
    }

    fn fill(&mut self) -> bool {
        let mut tmp = [0u8; 65536];
        match self.s.read(&mut tmp) {
            Ok(0) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                true
            }
            // Closed: a reset, or over TLS a close without close_notify (or after a failed
            // write of the client's).
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::BrokenPipe
                        | std::io::ErrorKind::UnexpectedEof
                ) =>
            {
                false
            }
            Err(e) => panic!("read failed: {e}"),
        }
    }

    /// Reads exactly `n` bytes.
    pub fn read_n(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            assert!(
                self.fill(),
                "closed after {:?}",
                String::from_utf8_lossy(&self.buf)
            );
        }
        self.buf.drain(..n).collect()
    }

    pub fn line(&mut self) -> String {
        loop {
            if let Some(p) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let l: Vec<u8> = self.buf.drain(..p + 2).collect();
                return String::from_utf8_lossy(&l).into_owned();
            }
            assert!(
                self.fill(),
                "closed after {:?}",
                String::from_utf8_lossy(&self.buf)
            );
        }
    }

    /// Reads until the peer closes; returns everything that came first.
    pub fn read_to_close(&mut self) -> Vec<u8> {
        let deadline = Instant::now() + IO_TIMEOUT;
        while self.fill() {
            assert!(Instant::now() < deadline, "not closed");
        }
        std::mem::take(&mut self.buf)
    }

    /// Sends PING and reads up to its PONG, or up to the server's close: everything the
    /// server sent, the PONG included.
    pub fn reply(&mut self) -> Vec<u8> {
        // A server that already closed (an auth error) may refuse the PING.
        let _ = self.s.write_all(b"PING\r\n");
        loop {
            if let Some(p) = self.buf.windows(6).position(|w| w == b"PONG\r\n") {
                return self.buf.drain(..p + 6).collect();
            }
            if !self.fill() {
                return std::mem::take(&mut self.buf);
            }
        }
    }

    /// Sends PING and reads up to its PONG: everything the server sent before it.
    pub fn sync(&mut self) -> Vec<u8> {
        self.send(b"PING\r\n");
        loop {
            if let Some(p) = self.buf.windows(6).position(|w| w == b"PONG\r\n") {
                let mut out: Vec<u8> = self.buf.drain(..p + 6).collect();
                out.truncate(p);
                return out;
            }
            assert!(
                self.fill(),
                "closed after {:?}",
                String::from_utf8_lossy(&self.buf)
            );
        }
    }
}

/// Any byte stream a `Raw` client can run over, to keep plain and TLS clients in one list.
pub trait Stream: Read + Write {}
impl<T: Read + Write> Stream for T {}

impl<S: Read + Write + 'static> Raw<S> {
    pub fn boxed(self) -> Raw<Box<dyn Stream>> {
        Raw {
            s: Box::new(self.s),
            info: self.info,
            buf: self.buf,
        }
    }
}

/// Opens connections until one lands on each of `shards` shards (the kernel's
/// SO_REUSEPORT hash decides), keeping one per shard.
pub fn one_per_shard(addr: SocketAddr, shards: usize) -> Vec<Raw> {
    let mut slots: Vec<Option<Raw>> = (0..shards).map(|_| None).collect();
    for _ in 0..1000 {
        let r = Raw::connect(addr);
        let s = r.shard(shards);
        if slots[s].is_none() {
            slots[s] = Some(r);
        }
        if slots.iter().all(Option::is_some) {
            return slots.into_iter().map(Option::unwrap).collect();
        }
    }
    panic!("could not place a connection on every shard");
}

/// One connection on each of `shards` shards, each logged in with the CONNECT `fields`.
pub fn logged_in_per_shard(addr: SocketAddr, shards: usize, fields: &str) -> Vec<Raw> {
    let mut conns = one_per_shard(addr, shards);
    for c in &mut conns {
        c.log_in(fields);
    }
    conns
}

/// Returns once every subscription `subscriber` made so far is live on `publisher`'s shard.
///
/// async-nats's `flush()` only flushes its socket (it sends no PING), so nothing else tells
/// a client that another shard applied its interest. Interest changes travel from one
/// shard to another in order, so once a fresh inbox subscription made after them is
/// visible to `publisher`, so are they.
pub async fn live(subscriber: &async_nats::Client, publisher: &async_nats::Client) {
    let inbox = subscriber.new_inbox();
    let mut ready = subscriber.subscribe(inbox.clone()).await.unwrap();
    subscriber.flush().await.unwrap();
    for _ in 0..500 {
        publisher.publish(inbox.clone(), "".into()).await.unwrap();
        publisher.flush().await.unwrap();
        if let Ok(Some(_)) = tokio::time::timeout(
            Duration::from_millis(10),
            futures::StreamExt::next(&mut ready),
        )
        .await
        {
            return;
        }
    }
    panic!("subscription never became visible on the publisher's shard");
}

//! Byte transforms between a socket and the NATS protocol for TLS and WebSocket clients,
//! sans-IO: the reactor feeds received bytes in and writes out what comes back, so both run
//! inside the shard's reactor (no extra threads, no readiness-based socket wrappers). Plain
//! TCP clients have no `Transport` and skip all of this.

pub mod cert;
pub mod tls;
pub mod ws;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::conn::CloseReason;
use cert::CertSubject;
use tls::{TlsLayer, TlsSettings};
use ws::{Handshake, OriginPolicy, UpgradePolicy, WsLayer};

/// What a listener's connections are wrapped in, shared read-only by the shards.
#[derive(Debug, Clone)]
pub struct Wrapping {
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// TLS starts at once instead of after a plain INFO (`handshake_first`, and WebSocket's
    /// `wss`, which is TLS from the first byte).
    pub tls_first: bool,
    /// With `tls_first`: how long to wait for a client's first bytes before sending it the
    /// INFO in the clear instead (`handshake_first: auto`).
    pub tls_first_fallback: Option<Duration>,
    /// Client certificate keys accepted (`pinned_certs`); empty accepts any.
    pub pinned: Arc<BTreeSet<String>>,
    pub ws: Option<UpgradePolicy>,
    /// How long the TLS handshake or the WebSocket upgrade may take.
    pub handshake_timeout: Duration,
}

impl Wrapping {
    /// TLS on the client port, as `settings` describe it (this reads the certificate files).
    pub fn client(settings: &TlsSettings) -> Result<Wrapping, String> {
        Ok(Wrapping {
            tls: Some(settings.server_config()?),
            tls_first: settings.handshake_first,
            tls_first_fallback: settings
                .handshake_first_fallback
                .filter(|_| settings.handshake_first),
            pinned: Arc::new(settings.pinned_certs.clone()),
            ws: None,
            handshake_timeout: settings.timeout,
        })
    }
}

/// The layers of the client port and of the WebSocket port, built from the settings (this
/// reads the certificate files, so it also validates them).
pub fn wrappings(cfg: &Config) -> Result<(Option<Wrapping>, Option<Wrapping>), String> {
    let client = cfg.tls.as_ref().map(Wrapping::client).transpose()?;
    let ws = match &cfg.websocket {
        Some(w) => {
            let tls = match &w.tls {
                Some(t) => Some(t.server_config()?),
                None => None,
            };
            Some(Wrapping {
                ws: Some(UpgradePolicy {
                    origins: OriginPolicy {
                        same_origin: w.same_origin,
                        allowed: w
                            .allowed_origins
                            .iter()
                            .filter_map(|o| ws::Origin::parse(o))
                            .collect(),
                        tls: tls.is_some(),
                    },
                    compression: w.compression,
                    cookies: w.cookies.clone(),
                    headers: ws::response_headers(&w.headers),
                }),
                tls,
                tls_first: true,
                tls_first_fallback: None,
                pinned: Arc::new(
                    w.tls
                        .as_ref()
                        .map(|t| t.pinned_certs.clone())
                        .unwrap_or_default(),
                ),
                handshake_timeout: w.handshake_timeout.unwrap_or(ws::DEFAULT_HANDSHAKE_TIMEOUT),
            })
        }
        None => None,
    };
    Ok((client, ws))
}

/// Why a transport gave up on a connection.
#[derive(Debug)]
pub struct Failure {
    pub reason: CloseReason,
    /// What the Go server logs (as an error unless the client simply closed).
    pub log: String,
}

/// A connection's TLS and/or WebSocket layers and the bytes they have for the socket.
#[derive(Debug)]
pub struct Transport {
    tls: Option<TlsLayer>,
    ws: Option<WsLayer>,
    policy: Option<UpgradePolicy>,
    /// The INFO still goes out in the clear before TLS starts (the Go default).
    plain_info: bool,
    /// Bytes for the socket, collected while `inflight` is being written.
    out: Vec<u8>,
    /// Bytes handed to the kernel; not touched until their write completes.
    inflight: Vec<u8>,
    inflight_off: usize,
    iov: libc::iovec,
    /// Decrypted bytes on their way to the WebSocket layer, and its frames on their way to
    /// TLS; kept to reuse their allocations.
    decrypted: Vec<u8>,
    framed: Vec<u8>,
    failed: bool,
    closed: bool,
    pub handshake_deadline: Instant,
    handshake_timeout: Duration,
    /// `handshake_first: auto`: until then, the client's first bytes decide between TLS
    /// first and the INFO in the clear; nothing is written meanwhile.
    fallback_at: Option<Instant>,
    pinned: Arc<BTreeSet<String>>,
    /// Set when a read finished the TLS handshake, until the reactor takes the news.
    secured: bool,
    /// The client's certificate, read when the handshake finished.
    peer: Option<Box<CertSubject>>,
}

/// The TLS handshake finished with a client certificate `pinned_certs` does not list.
#[derive(Debug)]
pub struct NotPinned {
    /// What the Go server logs at debug level about it.
    pub detail: String,
}

impl Transport {
    pub fn new(w: &Wrapping, now: Instant) -> Result<Transport, Failure> {
        let tls = match &w.tls {
            Some(cfg) => Some(TlsLayer::new(cfg.clone()).map_err(|e| Failure {
                reason: CloseReason::TlsHandshakeError,
                log: format!("TLS setup error: {}", e.0),
            })?),
            None => None,
        };
        let fallback_at = w
            .tls_first_fallback
            .filter(|_| tls.is_some() && w.tls_first)
            .map(|d| now + d);
        Ok(Transport {
            plain_info: tls.is_some() && !w.tls_first,
            tls,
            ws: w.ws.as_ref().map(|_| WsLayer::default()),
            policy: w.ws.clone(),
            out: Vec::new(),
            inflight: Vec::new(),
            inflight_off: 0,
            iov: libc::iovec {
                iov_base: std::ptr::null_mut(),
                iov_len: 0,
            },
            decrypted: Vec::new(),
            framed: Vec::new(),
            failed: false,
            closed: false,
            handshake_deadline: now + w.handshake_timeout,
            handshake_timeout: w.handshake_timeout,
            fallback_at,
            pinned: w.pinned.clone(),
            secured: false,
            peer: None,
        })
    }

    /// When a silent `handshake_first: auto` client gets the INFO in the clear.
    pub fn fallback_deadline(&self) -> Option<Instant> {
        self.fallback_at
    }

    /// The client stayed silent: the INFO goes out in the clear and TLS starts after it, as
    /// by default; the handshake gets its full timeout from now.
    pub fn fall_back(&mut self, now: Instant) {
        self.fallback_at = None;
        self.plain_info = true;
        self.handshake_deadline = now + self.handshake_timeout;
    }

    /// True once, after the read that finished the TLS handshake; then the client
    /// certificate's pin is checked (`matchesPinnedCert`) and the certificate handed out.
    pub fn take_secured(&mut self) -> Option<Result<Option<Box<CertSubject>>, NotPinned>> {
        if !std::mem::take(&mut self.secured) {
            return None;
        }
        let peer = self.peer.take();
        if self.pinned.is_empty() {
            return Some(Ok(peer));
        }
        let detail = match &peer {
            None => "Failed pinned cert test as client did not provide a certificate".into(),
            Some(c) if !self.pinned.contains(&c.key_id) => {
                format!("Failed pinned cert test for key id: {}", c.key_id)
            }
            Some(_) => return Some(Ok(peer)),
        };
        self.failed = true;
        Some(Err(NotPinned { detail }))
    }

    /// The TLS handshake or the WebSocket upgrade is not finished.
    pub fn handshaking(&self) -> bool {
        self.tls.as_ref().is_some_and(TlsLayer::handshaking)
            || self.ws.as_ref().is_some_and(WsLayer::upgrading)
    }

    /// The client ended TLS with close_notify: it closed, as a TCP EOF says for plain clients.
    pub fn peer_closed(&self) -> bool {
        self.tls.as_ref().is_some_and(TlsLayer::peer_closed)
    }

    /// What a WebSocket client's upgrade request carried for its connection, once.
    pub fn take_handshake(&mut self) -> Option<Handshake> {
        self.ws.as_mut().and_then(WsLayer::take_handshake)
    }

    /// Whether protocol output may be encoded now: a WebSocket client gets nothing before
    /// its upgrade is answered. (TLS holds plaintext itself until its handshake is done.)
    pub fn accepts_output(&self) -> bool {
        !self.failed
            && self.fallback_at.is_none()
            && !self.ws.as_ref().is_some_and(WsLayer::upgrading)
    }

    /// The INFO is due in the clear: the caller passes it with `write_plain`.
    pub fn wants_plain_info(&self) -> bool {
        self.plain_info
    }

    pub fn write_plain(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
        self.plain_info = false;
    }

    /// Takes bytes from the socket, over TLS up to the end of the first record that carries
    /// protocol bytes, and returns how many it took; the protocol bytes are appended to
    /// `app`. The caller handles them before passing the rest.
    pub fn read(&mut self, data: &[u8], app: &mut Vec<u8>) -> Result<usize, Failure> {
        if self.failed {
            return Ok(data.len());
        }
        // Bytes from a client that starts TLS before reading a plain INFO are ciphertext too,
        // and any first bytes settle `handshake_first: auto` for TLS first (Go does not look
        // at them either: a client that is not speaking TLS fails the handshake).
        self.plain_info = false;
        self.fallback_at = None;
        let r = self.read_layers(data, app);
        if r.is_err() {
            self.failed = true;
        }
        r
    }

    fn read_layers(&mut self, data: &[u8], app: &mut Vec<u8>) -> Result<usize, Failure> {
        let mut decrypted = std::mem::take(&mut self.decrypted);
        let mut used = data.len();
        let input: &[u8] = match &mut self.tls {
            Some(tls) => {
                let handshaking = tls.handshaking();
                used = tls
                    .read(data, &mut decrypted, &mut self.out)
                    .map_err(|e| Failure {
                        reason: if handshaking {
                            CloseReason::TlsHandshakeError
                        } else {
                            CloseReason::ReadError
                        },
                        log: format!("TLS handshake error: {}", e.0),
                    })?;
                if handshaking && !tls.handshaking() {
                    self.secured = true;
                    self.peer = tls
                        .peer_certificate()
                        .map(|der| Box::new(CertSubject::from_der(der)));
                }
                &decrypted
            }
            None => data,
        };
        let r = match (&mut self.ws, &self.policy) {
            (Some(ws), Some(policy)) => {
                let upgrading = ws.upgrading();
                let mut framed = std::mem::take(&mut self.framed);
                let r = ws.read(input, policy, app, &mut framed);
                self.emit(&framed);
                framed.clear();
                self.framed = framed;
                // Go closes a client whose frames it cannot read with `Read Error`.
                r.map_err(|e| Failure {
                    reason: if e.closed_by_client {
                        CloseReason::ClientClosed
                    } else if upgrading {
                        CloseReason::ProtocolViolation
                    } else {
                        CloseReason::ReadError
                    },
                    log: e.reason,
                })
            }
            _ => {
                app.extend_from_slice(input);
                Ok(())
            }
        };
        decrypted.clear();
        self.decrypted = decrypted;
        r.map(|()| used)
    }

    /// Encodes protocol output for the socket.
    pub fn write(&mut self, app: &[u8]) {
        if self.failed || self.closed {
            return;
        }
        match &mut self.ws {
            Some(ws) => {
                let mut framed = std::mem::take(&mut self.framed);
                ws.write(app, &mut framed);
                self.emit(&framed);
                framed.clear();
                self.framed = framed;
            }
            None => self.emit(app),
        }
    }

    /// Queues the goodbyes once: a WebSocket close frame with Go's status for `reason`,
    /// then TLS close_notify.
    pub fn close(&mut self, reason: CloseReason) {
        if self.closed || self.failed {
            return;
        }
        self.closed = true;
        if let Some(ws) = &mut self.ws {
            let mut framed = std::mem::take(&mut self.framed);
            ws.close(ws_close_status(reason), reason.as_str(), &mut framed);
            if let Some(tls) = &mut self.tls {
                tls.write(&framed, &mut self.out);
            } else {
                self.out.extend_from_slice(&framed);
            }
            framed.clear();
            self.framed = framed;
        }
        if let Some(tls) = &mut self.tls {
            tls.close(&mut self.out);
        }
    }

    /// `close` has not queued its goodbyes yet, and still can.
    pub fn owes_close(&self) -> bool {
        !self.closed && !self.failed
    }

    fn emit(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        match &mut self.tls {
            Some(tls) => tls.write(bytes, &mut self.out),
            None => self.out.extend_from_slice(bytes),
        }
    }

    /// Framed bytes not written yet.
    pub fn buffered(&self) -> usize {
        self.out.len() + self.inflight.len() - self.inflight_off
    }

    /// Nothing waits to be written.
    pub fn is_empty(&self) -> bool {
        self.out.is_empty() && self.inflight_off == self.inflight.len()
    }

    /// The next write: the collected bytes, frozen until `complete_write` has seen them all.
    pub fn start_write(&mut self) -> Option<&libc::iovec> {
        if self.inflight_off == self.inflight.len() {
            if self.out.is_empty() {
                return None;
            }
            self.inflight.clear();
            self.inflight_off = 0;
            std::mem::swap(&mut self.inflight, &mut self.out);
        }
        let rest = &self.inflight[self.inflight_off..];
        self.iov = libc::iovec {
            iov_base: rest.as_ptr() as *mut libc::c_void,
            iov_len: rest.len(),
        };
        Some(&self.iov)
    }

    /// Records `n` bytes written; true when the in-flight bytes are all out.
    pub fn complete_write(&mut self, n: usize) -> bool {
        self.inflight_off = (self.inflight_off + n).min(self.inflight.len());
        self.inflight_off == self.inflight.len()
    }
}

/// The close status Go sends a WebSocket client for each close reason
/// (`wsEnqueueCloseMessage`).
fn ws_close_status(reason: CloseReason) -> u16 {
    use CloseReason::*;
    match reason {
        ClientClosed => 1000,
        AuthenticationTimeout
        | AuthenticationViolation
        | SlowConsumerPendingBytes
        | SlowConsumerWriteDeadline
        | MaxConnections
        | MaxControlLine
        | AuthenticationExpired
        | MaxAccountConnections => 1008,
        TlsHandshakeError => 1015,
        ParseError | ProtocolViolation | BadClientProtocol => 1002,
        MaxPayload => 1009,
        // nats-server 2.15.1 closes a stale client with 1001, not the 1006 of older
        // releases, which RFC 6455 (7.4.1) keeps out of close frames; the read and write
        // errors Go groups with it follow.
        ServerShutdown | WriteError | ReadError | StaleConnection => 1001,
        _ => 1011,
    }
}

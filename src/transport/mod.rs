//! Byte transforms between a socket and the NATS protocol for TLS and WebSocket clients,
//! and for route and leaf connections with TLS and/or S2 compression,
//! sans-IO: the reactor feeds received bytes in and writes out what comes back, so both run
//! inside the shard's reactor (no extra threads, no readiness-based socket wrappers). Plain
//! TCP clients have no `Transport` and skip all of this.

pub mod cert;
pub mod s2;
pub mod tls;
pub mod ws;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::conn::CloseReason;
use cert::CertSubject;
use s2::{Level, S2Codec};
use tls::{TlsLayer, TlsSettings};
use ws::{Handshake, OriginPolicy, UpgradePolicy, WsDial, WsLayer};

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

    /// TLS on the route port: from the first byte, as Go's `createRoute` starts it, and
    /// the other server's certificate always required.
    pub fn route(settings: &TlsSettings) -> Result<Wrapping, String> {
        Ok(Wrapping {
            tls: Some(settings.route_server_config()?),
            tls_first: true,
            tls_first_fallback: None,
            pinned: Arc::new(settings.pinned_certs.clone()),
            ws: None,
            handshake_timeout: settings.timeout,
        })
    }
}

/// TLS of the cluster's and the leaf nodes' connections, built once at start from their
/// `tls {}` blocks (this reads the certificate files); reloads keep it, as they keep the
/// cluster settings.
#[derive(Debug, Clone, Default)]
pub struct LinkTls {
    /// The route port's, and the dialed routes'.
    pub route: Option<(Wrapping, Dialing)>,
    /// The leaf node port's.
    pub leaf: Option<Wrapping>,
    /// Each leaf remote's, by index: from its `tls {}`, or the defaults (system roots, no
    /// certificate) for a `tls://` URL; none for a remote dialed in the clear.
    pub remotes: Vec<Option<Dialing>>,
}

impl LinkTls {
    pub fn new(cfg: &Config) -> Result<LinkTls, String> {
        let route = match cfg.cluster.as_ref().and_then(|c| c.tls.as_ref()) {
            Some(t) => Some((Wrapping::route(t)?, Dialing::new(t)?)),
            None => None,
        };
        let leafs = cfg.leafnodes.as_ref();
        let leaf = match leafs.and_then(|l| l.tls.as_ref()) {
            Some(t) => Some(Wrapping::client(t)?),
            None => None,
        };
        let remotes = leafs
            .map_or(&[][..], |l| &l.remotes[..])
            .iter()
            .map(|r| match &r.tls {
                Some(t) => Dialing::new(t).map(Some),
                None if r.urls.iter().any(|u| u.is_tls()) => Dialing::standard().map(Some),
                None => Ok(None),
            })
            .collect::<Result<_, _>>()?;
        Ok(LinkTls {
            route,
            leaf,
            remotes,
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

/// TLS for the routes or a leaf remote this server dials.
#[derive(Debug, Clone)]
pub struct Dialing {
    pub config: Arc<rustls::ClientConfig>,
    /// How long the handshake may take (the block's `timeout`).
    pub timeout: Duration,
    /// Server certificate keys accepted (`pinned_certs`); empty accepts any.
    pub pinned: Arc<BTreeSet<String>>,
}

impl Dialing {
    pub fn new(settings: &TlsSettings) -> Result<Dialing, String> {
        Ok(Dialing {
            config: settings.client_config()?,
            timeout: settings.timeout,
            pinned: Arc::new(settings.pinned_certs.clone()),
        })
    }

    /// Go's defaults for a hub that asks for TLS when the remote set none: the system
    /// roots, no client certificate.
    pub fn standard() -> Result<Dialing, String> {
        Dialing::new(&TlsSettings::default())
    }
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
    /// A dialed leaf connection's TLS, waiting for the hub's INFO (`start_tls`); the
    /// connection is plain until then.
    dormant: Option<Box<TlsLayer>>,
    ws: Option<WsLayer>,
    policy: Option<UpgradePolicy>,
    /// S2 compression of a route or leaf connection, between the protocol and TLS (and
    /// WebSocket).
    s2: Option<Box<S2Codec>>,
    /// WebSocket as the dialing side: a leaf node on its hub's WebSocket port.
    dial: Option<Box<WsDial>>,
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
    /// Compressed output on its way to framing; kept to reuse its allocation.
    sealed: Vec<u8>,
    /// A framed connection's inflated input on its way to unframing; kept likewise.
    inflated: Vec<u8>,
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

/// A leaf node's WebSocket connection on its way from the shard that accepted it to the
/// cluster shard: its TLS session, and its upgrade request, not answered yet.
#[derive(Debug)]
pub struct WsLeafRequest {
    tls: Option<Box<TlsLayer>>,
    request: Vec<u8>,
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
            Some(cfg) => Some(TlsLayer::server(cfg.clone()).map_err(|e| setup_failure(e.0))?),
            None => None,
        };
        let mut t = Transport::bare(now, w.handshake_timeout, w.pinned.clone());
        t.fallback_at = w
            .tls_first_fallback
            .filter(|_| tls.is_some() && w.tls_first)
            .map(|d| now + d);
        t.plain_info = tls.is_some() && !w.tls_first;
        t.tls = tls;
        t.ws = w.ws.as_ref().map(|_| WsLayer::default());
        t.policy = w.ws.clone();
        Ok(t)
    }

    /// A leaf node's connection that another shard accepted on the WebSocket port and
    /// handed over, with its TLS as it was; the upgrade request it left unanswered is read
    /// again here, and answered. Protocol bytes after it go to `app`.
    pub fn ws_leaf(
        w: &Wrapping,
        handed: WsLeafRequest,
        app: &mut Vec<u8>,
        now: Instant,
    ) -> Result<Transport, Failure> {
        let mut t = Transport::bare(now, w.handshake_timeout, w.pinned.clone());
        t.tls = handed.tls.map(|b| *b);
        t.ws = Some(WsLayer::for_leaf());
        t.policy = w.ws.clone();
        t.read_decrypted(&handed.request, app)?;
        Ok(t)
    }

    /// TLS as the client, on a route or leaf connection this server dialed to `host`: from
    /// the first byte for a route, or, with `after_info`, once `start_tls` is called (a
    /// leaf node reads the hub's INFO in the clear first).
    pub fn dialed(
        d: &Dialing,
        host: &str,
        after_info: bool,
        now: Instant,
    ) -> Result<Transport, Failure> {
        let layer = TlsLayer::client(d.config.clone(), host).map_err(|e| setup_failure(e.0))?;
        let mut t = Transport::bare(now, d.timeout, d.pinned.clone());
        t.dormant = Some(Box::new(layer));
        if !after_info {
            t.start_tls(now);
        }
        Ok(t)
    }

    /// A plain route or leaf connection that starts compressing: no TLS, nothing to
    /// handshake.
    pub fn plain(now: Instant) -> Transport {
        Transport::bare(now, Duration::ZERO, Arc::default())
    }

    /// Compression starts: output from now on is compressed at `level`, and input from
    /// now on is read as an S2 stream.
    pub fn compress(&mut self, level: Level) {
        self.s2 = Some(Box::new(S2Codec::new(level)));
    }

    /// `s2_auto` picked another level for the output.
    pub fn set_level(&mut self, level: Level) {
        if let Some(s2) = &mut self.s2 {
            s2.set_level(level);
        }
    }

    /// Compressed bytes the protocol parser read past the INFO that started compression.
    pub fn inflate(&mut self, data: &[u8], app: &mut Vec<u8>) -> Result<(), Failure> {
        let r = match &mut self.s2 {
            Some(s2) => s2.decode(data, app).map_err(inflate_failure),
            None => {
                app.extend_from_slice(data);
                Ok(())
            }
        };
        self.failed |= r.is_err();
        r
    }

    /// This connection dials a WebSocket port (a leaf node's `ws://` or `wss://` remote):
    /// the upgrade request goes out first (inside TLS, for `wss`), and protocol output waits
    /// for the answer, which must come within `timeout`.
    pub fn dial_websocket(
        &mut self,
        host_port: &str,
        no_masking: bool,
        timeout: Duration,
        now: Instant,
    ) {
        let mut request = Vec::new();
        self.dial = Some(Box::new(WsDial::start(host_port, no_masking, &mut request)));
        self.emit(&request);
        self.handshake_deadline = self.handshake_deadline.max(now + timeout);
    }

    /// A leaf node's TLS starts now, after the hub's INFO: the ClientHello goes out and
    /// the handshake has its full timeout from now. Protocol output from here on is
    /// encrypted.
    pub fn start_tls(&mut self, now: Instant) {
        if let Some(mut layer) = self.dormant.take() {
            layer.greet(&mut self.out);
            self.tls = Some(*layer);
            self.handshake_deadline = now + self.handshake_timeout;
        }
    }

    fn bare(now: Instant, handshake_timeout: Duration, pinned: Arc<BTreeSet<String>>) -> Transport {
        Transport {
            plain_info: false,
            tls: None,
            dormant: None,
            ws: None,
            policy: None,
            s2: None,
            dial: None,
            sealed: Vec::new(),
            inflated: Vec::new(),
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
            handshake_deadline: now + handshake_timeout,
            handshake_timeout,
            fallback_at: None,
            pinned,
            secured: false,
            peer: None,
        }
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
            || self.dial.as_ref().is_some_and(|d| d.upgrading())
    }

    /// The client ended TLS with close_notify: it closed, as a TCP EOF says for plain clients.
    pub fn peer_closed(&self) -> bool {
        self.tls.as_ref().is_some_and(TlsLayer::peer_closed)
    }

    /// True once, after the read that found a leaf node's upgrade request on a client's
    /// WebSocket port: the connection is to be handed to the cluster shard.
    pub fn take_leaf_news(&mut self) -> bool {
        self.ws.as_mut().is_some_and(WsLayer::take_leaf_news)
    }

    /// What a handed-over leaf connection takes along: its TLS, and the request with
    /// whatever followed it.
    pub fn take_leaf_request(&mut self) -> Option<WsLeafRequest> {
        let request = self.ws.as_mut()?.take_leaf_request()?;
        Some(WsLeafRequest {
            tls: self.tls.take().map(Box::new),
            request,
        })
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
            && !self.dial.as_ref().is_some_and(|d| d.upgrading())
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
        let Some(tls) = &mut self.tls else {
            return self.read_decrypted(data, app).map(|()| data.len());
        };
        let mut decrypted = std::mem::take(&mut self.decrypted);
        let handshaking = tls.handshaking();
        let used = tls
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
        let r = self.read_decrypted(&decrypted, app);
        decrypted.clear();
        self.decrypted = decrypted;
        r.map(|()| used)
    }

    /// Bytes inside TLS: inflated when compressed, then unframed when WebSocket. Frames
    /// travel inside the S2 stream, as Go frames before it compresses.
    fn read_decrypted(&mut self, input: &[u8], app: &mut Vec<u8>) -> Result<(), Failure> {
        let mut inflated = std::mem::take(&mut self.inflated);
        let r = self.read_unframed(input, &mut inflated, app);
        inflated.clear();
        self.inflated = inflated;
        r
    }

    fn read_unframed(
        &mut self,
        input: &[u8],
        inflated: &mut Vec<u8>,
        app: &mut Vec<u8>,
    ) -> Result<(), Failure> {
        let framed = self.ws.is_some() || self.dial.is_some();
        let input = match &mut self.s2 {
            Some(s2) if framed => {
                s2.decode(input, inflated).map_err(inflate_failure)?;
                &inflated[..]
            }
            Some(s2) => return s2.decode(input, app).map_err(inflate_failure),
            None if framed => input,
            None => {
                app.extend_from_slice(input);
                return Ok(());
            }
        };
        let mut wire = std::mem::take(&mut self.framed);
        let r = match (&mut self.ws, &self.policy, &mut self.dial) {
            (Some(ws), Some(policy), _) => {
                let upgrading = ws.upgrading();
                // Go closes a client whose frames it cannot read with `Read Error`.
                ws.read(input, policy, app, &mut wire)
                    .map_err(|e| (e, upgrading))
            }
            (_, _, Some(d)) => d.read(input, app, &mut wire).map_err(|e| (e, false)),
            _ => Ok(()),
        };
        self.send_control(&wire);
        wire.clear();
        self.framed = wire;
        r.map_err(|(e, upgrading)| Failure {
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

    /// Encodes protocol output for the socket: WebSocket frames, then compression (what
    /// it collects goes out at `seal`), then TLS.
    pub fn write(&mut self, app: &[u8]) {
        if self.failed || self.closed {
            return;
        }
        let mut framed = std::mem::take(&mut self.framed);
        let bytes = match (&mut self.ws, &mut self.dial) {
            (Some(ws), _) => {
                ws.write(app, &mut framed);
                &framed[..]
            }
            (None, Some(d)) => {
                d.write(app, &mut framed);
                &framed[..]
            }
            (None, None) => app,
        };
        match &mut self.s2 {
            Some(s2) => s2.stage(bytes),
            None => self.emit(bytes),
        }
        framed.clear();
        self.framed = framed;
    }

    /// The end of one flush's output: compression writes what it collected.
    pub fn seal(&mut self) {
        let Some(s2) = &mut self.s2 else {
            return;
        };
        let mut sealed = std::mem::take(&mut self.sealed);
        s2.finish(&mut sealed);
        self.emit(&sealed);
        sealed.clear();
        self.sealed = sealed;
    }

    /// What a read answered at once (the upgrade answer, pongs, a close frame), compressed
    /// when the connection is.
    fn send_control(&mut self, wire: &[u8]) {
        match &mut self.s2 {
            Some(s2) if !wire.is_empty() => {
                let mut z = std::mem::take(&mut self.sealed);
                s2.encode(wire, &mut z);
                self.emit(&z);
                z.clear();
                self.sealed = z;
            }
            _ => self.emit(wire),
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

/// TLS could not be set up for a connection (a bad server name, unreadable roots).
pub(crate) fn setup_failure(e: impl std::fmt::Display) -> Failure {
    Failure {
        reason: CloseReason::TlsHandshakeError,
        log: format!("TLS setup error: {e}"),
    }
}

/// An S2 stream that cannot be read closes the connection as a read error.
fn inflate_failure(e: s2::S2Error) -> Failure {
    Failure {
        reason: CloseReason::ReadError,
        log: format!("Error reading compressed stream: {e}"),
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

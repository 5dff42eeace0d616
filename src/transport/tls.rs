//! TLS with rustls over in-memory buffers: the reactor hands it the ciphertext it received
//! and takes back the ciphertext to send, so TLS runs on the shard's own thread with no
//! extra socket reads or threads. The server side serves clients and accepted routes and
//! leaf nodes; the client side serves the routes and leaf remotes this server dials. Also
//! the `tls {}` settings, validated with the Go server's error texts, and the rustls
//! configurations built from them.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, ClientConnection, Connection, RootCertStore, ServerConfig};
use rustls::{ServerConnection, SupportedProtocolVersion};

/// How long a client has to finish the TLS handshake (`TLS_TIMEOUT`, 2 s in `const.go`).
pub const DEFAULT_TLS_TIMEOUT: Duration = Duration::from_secs(2);

/// How long `handshake_first: auto` waits for a client's first bytes before it sends the
/// INFO in the clear instead (`DEFAULT_TLS_HANDSHAKE_FIRST_FALLBACK_DELAY`, 50 ms in
/// `const.go`).
pub const DEFAULT_HANDSHAKE_FIRST_FALLBACK: Duration = Duration::from_millis(50);

/// Where Linux distributions keep the system's trusted roots, as Go's `crypto/x509` looks
/// for them (`root_linux.go`): used when a `tls {}` block names no `ca_file`.
const SYSTEM_ROOT_FILES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// The `tls {}` block (or `--tls*` flags), as given.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsSettings {
    /// This side's certificate and key; a leaf remote may have none (it then presents no
    /// client certificate), every listener has both.
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
    /// Require and verify a client certificate.
    pub verify: bool,
    /// Like `verify`, and log the client in as the user named by its certificate.
    pub verify_and_map: bool,
    pub timeout: Duration,
    /// TLS before INFO (`handshake_first`), instead of the INFO-then-upgrade default.
    pub handshake_first: bool,
    /// With `handshake_first`: a client silent this long gets the INFO in the clear and the
    /// default upgrade (`handshake_first: auto` or a duration), so both kinds connect.
    pub handshake_first_fallback: Option<Duration>,
    /// Lowercase hex SHA-256 of the client certificate keys (SubjectPublicKeyInfo) accepted;
    /// empty accepts any (`pinned_certs`).
    pub pinned_certs: BTreeSet<String>,
    pub min_version: Option<rustls::ProtocolVersion>,
    /// Empty means rustls' defaults.
    pub cipher_suites: Vec<rustls::SupportedCipherSuite>,
    /// Dialing side only: accept any server certificate (`insecure`).
    pub insecure: bool,
}

impl Default for TlsSettings {
    /// No certificate of its own: what a leaf remote dials with when it sets nothing.
    fn default() -> TlsSettings {
        TlsSettings {
            cert_file: None,
            key_file: None,
            ca_file: None,
            verify: false,
            verify_and_map: false,
            timeout: DEFAULT_TLS_TIMEOUT,
            handshake_first: false,
            handshake_first_fallback: None,
            pinned_certs: BTreeSet::new(),
            min_version: None,
            cipher_suites: Vec::new(),
            insecure: false,
        }
    }
}

impl TlsSettings {
    pub fn new(cert_file: PathBuf, key_file: PathBuf) -> TlsSettings {
        TlsSettings {
            cert_file: Some(cert_file),
            key_file: Some(key_file),
            ..TlsSettings::default()
        }
    }

    /// Whether clients must present a certificate (INFO `tls_verify`).
    pub fn verifies_clients(&self) -> bool {
        self.verify || self.verify_and_map
    }

    /// Builds the rustls server configuration, reading the certificate files. Errors are
    /// worded as the Go server words them.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, String> {
        self.server_config_verifying(self.verifies_clients())
    }

    /// The server configuration of a route listener: Go always requires and verifies the
    /// other server's certificate there, whatever `verify` says (`parseCluster`).
    pub fn route_server_config(&self) -> Result<Arc<ServerConfig>, String> {
        self.server_config_verifying(true)
    }

    fn server_config_verifying(&self, verify: bool) -> Result<Arc<ServerConfig>, String> {
        let (certs, key) = self
            .identity()?
            .ok_or("missing 'cert_file' in TLS configuration")?;
        let provider = self.provider();
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&self.versions())
            .map_err(|e| format!("error parsing tls config: {e}"))?;
        let builder = if verify {
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(self.roots()?), provider)
                    .build()
                    .map_err(|e| format!("error parsing tls config: {e}"))?;
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let cfg = builder
            .with_single_cert(certs, key)
            .map_err(|e| format!("error parsing X509 certificate/key pair: {e}"))?;
        Ok(Arc::new(cfg))
    }

    /// Builds the rustls configuration for dialing a route or a leaf node hub: the
    /// certificate, when one is set, goes out as the client certificate; the server's is
    /// checked against `ca_file` (the system roots without one) unless `insecure`.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, String> {
        let provider = self.provider();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&self.versions())
            .map_err(|e| format!("error parsing tls config: {e}"))?;
        let builder = if self.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyServer(provider)))
        } else {
            builder.with_root_certificates(self.roots()?)
        };
        let cfg = match self.identity()? {
            Some((certs, key)) => builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| format!("error parsing X509 certificate/key pair: {e}"))?,
            None => builder.with_no_client_auth(),
        };
        Ok(Arc::new(cfg))
    }

    /// The certificate chain and key, read from their files; none when neither is set.
    #[allow(clippy::type_complexity)]
    fn identity(
        &self,
    ) -> Result<Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>, String> {
        let (cert_file, key_file) = match (&self.cert_file, &self.key_file) {
            (None, None) => return Ok(None),
            (Some(c), Some(k)) => (c, k),
            (Some(_), None) => return Err("missing 'key_file' in TLS configuration".into()),
            (None, Some(_)) => return Err("missing 'cert_file' in TLS configuration".into()),
        };
        let certs = read_certs(cert_file)
            .map_err(|e| format!("error parsing X509 certificate/key pair: {e}"))?;
        let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| {
            format!(
                "error parsing X509 certificate/key pair: {}",
                pem_error(key_file, e)
            )
        })?;
        Ok(Some((certs, key)))
    }

    fn provider(&self) -> Arc<rustls::crypto::CryptoProvider> {
        let mut provider = rustls::crypto::ring::default_provider();
        if !self.cipher_suites.is_empty() {
            provider.cipher_suites = self.cipher_suites.clone();
        }
        Arc::new(provider)
    }

    fn versions(&self) -> Vec<&'static SupportedProtocolVersion> {
        rustls::ALL_VERSIONS
            .iter()
            .copied()
            .filter(|v| match self.min_version {
                Some(rustls::ProtocolVersion::TLSv1_3) => {
                    v.version == rustls::ProtocolVersion::TLSv1_3
                }
                _ => true,
            })
            .collect()
    }

    /// The certificates a peer's must chain to: `ca_file`, or the system's roots.
    fn roots(&self) -> Result<RootCertStore, String> {
        let certs = match &self.ca_file {
            Some(ca) => read_certs(ca)?,
            None => SYSTEM_ROOT_FILES
                .iter()
                .find_map(|f| read_certs(Path::new(f)).ok())
                .ok_or("tls: no 'ca_file' given and no system root certificates found")?,
        };
        let mut roots = RootCertStore::empty();
        for c in certs {
            roots
                .add(c)
                .map_err(|e| format!("failed to parse root ca certificate: {e}"))?;
        }
        Ok(roots)
    }
}

/// `insecure: true`: any server certificate is taken, as Go's `InsecureSkipVerify`; the
/// handshake signatures are still checked, so the peer holds the key it shows.
#[derive(Debug)]
struct AnyServer(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| pem_error(path, e))?;
    if certs.is_empty() {
        return Err(format!(
            "failed to find any PEM data in certificate input ({})",
            path.display()
        ));
    }
    Ok(certs)
}

/// Go's wording for an unreadable file (`open PATH: no such file or directory`).
fn pem_error(path: &Path, e: rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(io) => {
            let text = io.to_string();
            let text = text.split(" (os error").next().unwrap_or(&text);
            format!("open {}: {}", path.display(), text.to_lowercase())
        }
        other => format!("{}: {other:?}", path.display()),
    }
}

/// Maps a Go `min_version` string to a rustls version; rustls has nothing below 1.2.
pub fn parse_min_version(s: &str) -> Result<rustls::ProtocolVersion, String> {
    match s {
        "1.2" => Ok(rustls::ProtocolVersion::TLSv1_2),
        "1.3" => Ok(rustls::ProtocolVersion::TLSv1_3),
        "1.0" | "1.1" => Err(format!("unsupported TLS version: TLS {s}")),
        _ => Err(format!("unknown version: {s}")),
    }
}

/// Maps a Go cipher suite name (`TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`, ...) to rustls'.
pub fn parse_cipher(name: &str) -> Result<rustls::SupportedCipherSuite, String> {
    rustls::crypto::ring::ALL_CIPHER_SUITES
        .iter()
        .copied()
        .find(|s| {
            let ours = format!("{:?}", s.suite());
            ours == name || ours.replace("_CHACHA20_POLY1305", "_CHACHA20_POLY1305_SHA256") == name
        })
        .ok_or_else(|| format!("unrecognized cipher {name}"))
}

/// Why a TLS session failed.
#[derive(Debug)]
pub struct TlsFailure(pub String);

/// A TLS record's header: content type, version, length of the body.
const RECORD_HEADER_LEN: usize = 5;

/// Where the record being received ends, so that ciphertext reaches rustls one record at a
/// time.
#[derive(Debug, Default)]
struct RecordCut {
    header: [u8; RECORD_HEADER_LEN],
    header_len: usize,
    body_left: usize,
}

impl RecordCut {
    /// How many bytes of `data` the record in progress still takes: up to its end, or all
    /// of `data` when it goes on past it.
    fn take(&mut self, data: &[u8]) -> usize {
        let mut used = 0;
        if self.header_len < RECORD_HEADER_LEN {
            let n = (RECORD_HEADER_LEN - self.header_len).min(data.len());
            self.header[self.header_len..self.header_len + n].copy_from_slice(&data[..n]);
            self.header_len += n;
            used = n;
            if self.header_len < RECORD_HEADER_LEN {
                return used;
            }
            self.body_left = u16::from_be_bytes([self.header[3], self.header[4]]) as usize;
        }
        let n = self.body_left.min(data.len() - used);
        self.body_left -= n;
        if self.body_left == 0 {
            self.header_len = 0;
        }
        used + n
    }
}

/// One connection's TLS state, as the server or as the client.
pub struct TlsLayer {
    conn: Connection,
    cut: RecordCut,
    /// The peer sent close_notify: its end of the stream, as Go's `tls.Conn.Read` returns
    /// `io.EOF` for it.
    peer_closed: bool,
}

impl TlsLayer {
    pub fn server(cfg: Arc<ServerConfig>) -> Result<TlsLayer, TlsFailure> {
        let conn = ServerConnection::new(cfg).map_err(|e| TlsFailure(e.to_string()))?;
        Ok(TlsLayer::over(conn.into()))
    }

    /// The dialing side of a connection to `host`, whose ClientHello is queued at once.
    pub fn client(cfg: Arc<ClientConfig>, host: &str) -> Result<TlsLayer, TlsFailure> {
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| TlsFailure(format!("invalid server name {host:?}: {e}")))?;
        let conn = ClientConnection::new(cfg, name).map_err(|e| TlsFailure(e.to_string()))?;
        Ok(TlsLayer::over(conn.into()))
    }

    fn over(mut conn: Connection) -> TlsLayer {
        // The reactor bounds what it hands over (one batch per write in flight).
        conn.set_buffer_limit(None);
        TlsLayer {
            conn,
            cut: RecordCut::default(),
            peer_closed: false,
        }
    }

    /// What the connection has to send before any input: a client's ClientHello.
    pub fn greet(&mut self, wire: &mut Vec<u8>) {
        self.drain(wire);
    }

    pub fn handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// The peer ended its stream with close_notify.
    pub fn peer_closed(&self) -> bool {
        self.peer_closed
    }

    /// The peer's own certificate (DER), when it presented one.
    pub fn peer_certificate(&self) -> Option<&[u8]> {
        self.conn.peer_certificates()?.first().map(|c| c.as_ref())
    }

    /// Takes received ciphertext up to the end of the first record that yields plaintext,
    /// or all of it; returns how much it took. The plaintext is appended to `plain`, and
    /// handshake or alert records are queued for `wire` (on failure the alert too). Stopping
    /// there lets the caller act on a record before reading the next, as Go's reads do: a
    /// client refused at its CONNECT is answered whatever it sent after it. Everything from
    /// a close_notify on is taken and dropped: RFC 8446 (6.1) ignores data after it, and
    /// rustls takes no more ciphertext once it has seen it.
    pub fn read(
        &mut self,
        data: &[u8],
        plain: &mut Vec<u8>,
        wire: &mut Vec<u8>,
    ) -> Result<usize, TlsFailure> {
        if self.peer_closed {
            return Ok(data.len());
        }
        let had = plain.len();
        let mut used = 0;
        while used < data.len() && plain.len() == had {
            let n = self.cut.take(&data[used..]);
            let mut record = &data[used..used + n];
            used += n;
            while !record.is_empty() {
                if let Err(e) = self.conn.read_tls(&mut record) {
                    return Err(TlsFailure(e.to_string()));
                }
                let processed = self.conn.process_new_packets();
                self.drain(wire);
                let state = processed.map_err(|e| TlsFailure(e.to_string()))?;
                if state.plaintext_bytes_to_read() > 0 {
                    // Stops at "would block" with everything readable appended.
                    let _ = self.conn.reader().read_to_end(plain);
                }
                if state.peer_has_closed() {
                    self.peer_closed = true;
                    return Ok(data.len());
                }
            }
        }
        Ok(used)
    }

    /// Encrypts `plain` (held until the handshake is done) and queues the records in `wire`.
    pub fn write(&mut self, plain: &[u8], wire: &mut Vec<u8>) {
        // Writes into rustls' unbounded buffer cannot fail.
        let _ = self.conn.writer().write_all(plain);
        self.drain(wire);
    }

    /// Queues a close_notify alert once the handshake is done; before, nothing, as Go's
    /// `tls.Conn.Close` sends none (a client still in the handshake, or one that never
    /// started it, sees only the close).
    pub fn close(&mut self, wire: &mut Vec<u8>) {
        if !self.conn.is_handshaking() {
            self.conn.send_close_notify();
            self.drain(wire);
        }
    }

    fn drain(&mut self, wire: &mut Vec<u8>) {
        while self.conn.wants_write() {
            if self.conn.write_tls(wire).is_err() {
                break;
            }
        }
    }
}

impl std::fmt::Debug for TlsLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsLayer")
            .field("handshaking", &self.conn.is_handshaking())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Record ends are found however the stream is cut: headers split across reads, empty
    /// bodies, several records in one read.
    #[test]
    fn records_are_cut_at_their_ends() {
        let record = |len: u16| {
            let mut r = vec![0x17, 0x03, 0x03];
            r.extend_from_slice(&len.to_be_bytes());
            r.extend(std::iter::repeat_n(0xAB, len as usize));
            r
        };
        let stream = [record(3), record(0), record(300)].concat();
        let ends = [8, 13, stream.len()];
        for step in [1, 2, 4, 7, 64, stream.len()] {
            let mut cut = RecordCut::default();
            let mut found = Vec::new();
            let mut at = 0;
            for chunk in stream.chunks(step) {
                let mut rest = chunk;
                while !rest.is_empty() {
                    let n = cut.take(rest);
                    at += n;
                    rest = &rest[n..];
                    if cut.header_len == 0 {
                        found.push(at);
                    }
                }
            }
            assert_eq!(found, ends, "reads of {step}");
        }
    }
}

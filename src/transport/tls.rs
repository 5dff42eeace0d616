//! TLS for client connections with rustls over in-memory buffers: the reactor hands it the
//! ciphertext it received and takes back the ciphertext to send, so TLS runs on the shard's
//! own thread with no extra socket reads or threads. Also the `tls {}` settings, validated
//! with the Go server's error texts, and the rustls configuration built from them.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection};

/// How long a client has to finish the TLS handshake (`TLS_TIMEOUT`, 2 s in `const.go`).
pub const DEFAULT_TLS_TIMEOUT: Duration = Duration::from_secs(2);

/// How long `handshake_first: auto` waits for a client's first bytes before it sends the
/// INFO in the clear instead (`DEFAULT_TLS_HANDSHAKE_FIRST_FALLBACK_DELAY`, 50 ms in
/// `const.go`).
pub const DEFAULT_HANDSHAKE_FIRST_FALLBACK: Duration = Duration::from_millis(50);

/// The `tls {}` block (or `--tls*` flags), as given.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsSettings {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
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
}

impl TlsSettings {
    pub fn new(cert_file: PathBuf, key_file: PathBuf) -> TlsSettings {
        TlsSettings {
            cert_file,
            key_file,
            ca_file: None,
            verify: false,
            verify_and_map: false,
            timeout: DEFAULT_TLS_TIMEOUT,
            handshake_first: false,
            handshake_first_fallback: None,
            pinned_certs: BTreeSet::new(),
            min_version: None,
            cipher_suites: Vec::new(),
        }
    }

    /// Whether clients must present a certificate (INFO `tls_verify`).
    pub fn verifies_clients(&self) -> bool {
        self.verify || self.verify_and_map
    }

    /// Builds the rustls server configuration, reading the certificate files. Errors are
    /// worded as the Go server words them.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, String> {
        let certs = read_certs(&self.cert_file)
            .map_err(|e| format!("error parsing X509 certificate/key pair: {e}"))?;
        let key = PrivateKeyDer::from_pem_file(&self.key_file).map_err(|e| {
            format!(
                "error parsing X509 certificate/key pair: {}",
                pem_error(&self.key_file, e)
            )
        })?;
        let mut provider = rustls::crypto::ring::default_provider();
        if !self.cipher_suites.is_empty() {
            provider.cipher_suites = self.cipher_suites.clone();
        }
        let provider = Arc::new(provider);
        let versions: Vec<&'static rustls::SupportedProtocolVersion> = rustls::ALL_VERSIONS
            .iter()
            .copied()
            .filter(|v| match self.min_version {
                Some(rustls::ProtocolVersion::TLSv1_3) => {
                    v.version == rustls::ProtocolVersion::TLSv1_3
                }
                _ => true,
            })
            .collect();
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)
            .map_err(|e| format!("error parsing tls config: {e}"))?;
        let builder = match (&self.ca_file, self.verifies_clients()) {
            (Some(ca), true) => {
                let mut roots = RootCertStore::empty();
                for c in read_certs(ca)? {
                    roots
                        .add(c)
                        .map_err(|e| format!("failed to parse root ca certificate: {e}"))?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .map_err(|e| format!("error parsing tls config: {e}"))?;
                builder.with_client_cert_verifier(verifier)
            }
            (None, true) => {
                return Err(
                    "tls verify requires a 'ca_file' (riptide does not use the system roots)"
                        .into(),
                )
            }
            (_, false) => builder.with_no_client_auth(),
        };
        let cfg = builder
            .with_single_cert(certs, key)
            .map_err(|e| format!("error parsing X509 certificate/key pair: {e}"))?;
        Ok(Arc::new(cfg))
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

/// One connection's TLS state.
pub struct TlsLayer {
    conn: ServerConnection,
}

impl TlsLayer {
    pub fn new(cfg: Arc<ServerConfig>) -> Result<TlsLayer, TlsFailure> {
        let mut conn = ServerConnection::new(cfg).map_err(|e| TlsFailure(e.to_string()))?;
        // The reactor bounds what it hands over (one batch per write in flight).
        conn.set_buffer_limit(None);
        Ok(TlsLayer { conn })
    }

    pub fn handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// The client's own certificate (DER), when it presented one.
    pub fn peer_certificate(&self) -> Option<&[u8]> {
        self.conn.peer_certificates()?.first().map(|c| c.as_ref())
    }

    /// Takes received ciphertext; appends the plaintext it yields to `plain` and queues any
    /// handshake or alert records for `wire`. On failure the alert is still queued.
    pub fn read(
        &mut self,
        mut data: &[u8],
        plain: &mut Vec<u8>,
        wire: &mut Vec<u8>,
    ) -> Result<(), TlsFailure> {
        while !data.is_empty() {
            if let Err(e) = self.conn.read_tls(&mut data) {
                return Err(TlsFailure(e.to_string()));
            }
            let processed = self.conn.process_new_packets();
            self.drain(wire);
            let state = processed.map_err(|e| TlsFailure(e.to_string()))?;
            if state.plaintext_bytes_to_read() > 0 {
                // Stops at "would block" with everything readable appended.
                let _ = self.conn.reader().read_to_end(plain);
            }
        }
        Ok(())
    }

    /// Encrypts `plain` (held until the handshake is done) and queues the records in `wire`.
    pub fn write(&mut self, plain: &[u8], wire: &mut Vec<u8>) {
        // Writes into rustls' unbounded buffer cannot fail.
        let _ = self.conn.writer().write_all(plain);
        self.drain(wire);
    }

    /// Queues a close_notify alert.
    pub fn close(&mut self, wire: &mut Vec<u8>) {
        self.conn.send_close_notify();
        self.drain(wire);
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

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

/// One connection's TLS state.
pub struct TlsLayer {
    conn: ServerConnection,
    cut: RecordCut,
    /// The client sent close_notify: its end of the stream, as Go's `tls.Conn.Read` returns
    /// `io.EOF` for it.
    peer_closed: bool,
}

impl TlsLayer {
    pub fn new(cfg: Arc<ServerConfig>) -> Result<TlsLayer, TlsFailure> {
        let mut conn = ServerConnection::new(cfg).map_err(|e| TlsFailure(e.to_string()))?;
        // The reactor bounds what it hands over (one batch per write in flight).
        conn.set_buffer_limit(None);
        Ok(TlsLayer {
            conn,
            cut: RecordCut::default(),
            peer_closed: false,
        })
    }

    pub fn handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// The client ended its stream with close_notify.
    pub fn peer_closed(&self) -> bool {
        self.peer_closed
    }

    /// The client's own certificate (DER), when it presented one.
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

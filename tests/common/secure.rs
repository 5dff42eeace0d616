//! Certificates made in the test (rcgen), rustls client settings, and a WebSocket byte
//! stream, so the raw protocol client runs over TLS and WebSocket unchanged.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
    SanType,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use tungstenite::{Message, WebSocket};

use super::{Raw, IO_TIMEOUT};

/// A CA, a server certificate for localhost/127.0.0.1 and client certificates, written as
/// PEM files in a temporary directory.
pub struct Pki {
    pub dir: PathBuf,
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    authority: CertifiedIssuer<'static, KeyPair>,
}

impl Pki {
    pub fn new(name: &str) -> Pki {
        let dir = std::env::temp_dir().join(format!("riptide-pki-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let authority = ca("riptide test CA");
        std::fs::write(dir.join("ca.pem"), authority.pem()).unwrap();
        let (cert, key) = leaf(&authority, "localhost", &["localhost", "127.0.0.1"]);
        std::fs::write(dir.join("server.pem"), cert).unwrap();
        std::fs::write(dir.join("server-key.pem"), key).unwrap();
        let other = ca("some other CA");
        let (cert, key) = leaf(&other, "stranger", &[]);
        std::fs::write(dir.join("stranger.pem"), cert).unwrap();
        std::fs::write(dir.join("stranger-key.pem"), key).unwrap();
        let pki = Pki {
            ca: dir.join("ca.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server-key.pem"),
            dir,
            authority,
        };
        pki.issue("client", &[(DnType::CommonName, "client")], &[], &[]);
        pki
    }

    /// Writes `<name>.pem` and `<name>-key.pem`: a certificate signed by the CA with this
    /// subject (attributes in this order), DNS/IP names and email names; returns the DER of
    /// its SubjectPublicKeyInfo.
    pub fn issue(
        &self,
        name: &str,
        subject: &[(DnType, &str)],
        names: &[&str],
        emails: &[&str],
    ) -> Vec<u8> {
        let mut params =
            CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap();
        for (kind, value) in subject {
            params.distinguished_name.push(kind.clone(), *value);
        }
        for e in emails {
            params
                .subject_alt_names
                .push(SanType::Rfc822Name((*e).try_into().unwrap()));
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.authority).unwrap();
        std::fs::write(self.dir.join(format!("{name}.pem")), cert.pem()).unwrap();
        std::fs::write(
            self.dir.join(format!("{name}-key.pem")),
            key.serialize_pem(),
        )
        .unwrap();
        rcgen::PublicKeyData::subject_public_key_info(&key)
    }

    /// The server certificate and key as lines of a `tls {}` block.
    pub fn tls_lines(&self) -> String {
        format!(
            "cert_file: {:?}\nkey_file: {:?}\n",
            self.server_cert, self.server_key
        )
    }

    /// A client that trusts the CA, optionally presenting the client certificate `who`
    /// (`client`, signed by the CA, `stranger`, signed by another CA, or one from `issue`).
    pub fn client(&self, who: Option<&str>) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.add(read_cert(&self.ca)).unwrap();
        let builder =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots);
        let cfg = match who {
            Some(name) => builder
                .with_client_auth_cert(
                    vec![read_cert(&self.dir.join(format!("{name}.pem")))],
                    PrivateKeyDer::from_pem_file(self.dir.join(format!("{name}-key.pem"))).unwrap(),
                )
                .unwrap(),
            None => builder.with_no_client_auth(),
        };
        Arc::new(cfg)
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// A certificate (PEM) and its key (PEM) signed by `issuer`.
fn leaf(issuer: &CertifiedIssuer<'static, KeyPair>, cn: &str, sans: &[&str]) -> (String, String) {
    let mut params =
        CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn read_cert(path: &Path) -> CertificateDer<'static> {
    CertificateDer::from_pem_file(path).unwrap()
}

pub type TlsStream = StreamOwned<ClientConnection, TcpStream>;

/// Starts TLS on a connected socket (server name `localhost`).
pub fn tls_over(s: TcpStream, cfg: Arc<ClientConfig>) -> TlsStream {
    let conn = ClientConnection::new(cfg, ServerName::try_from("localhost").unwrap()).unwrap();
    StreamOwned::new(conn, s)
}

impl Raw {
    /// The Go default: INFO in the clear, then TLS.
    pub fn connect_tls(addr: SocketAddr, cfg: Arc<ClientConfig>) -> Raw<TlsStream> {
        let plain = Raw::connect(addr);
        Raw {
            s: tls_over(plain.s, cfg),
            info: plain.info,
            buf: plain.buf,
        }
    }
}

/// A WebSocket client as a byte stream: writes go out as one binary message each, reads
/// return the payloads of binary or text messages in order.
pub struct WsStream<S = TcpStream> {
    pub ws: WebSocket<S>,
    pending: Vec<u8>,
}

impl WsStream {
    pub fn connect(addr: SocketAddr) -> WsStream {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let (ws, _) = tungstenite::client(format!("ws://{addr}/any/path"), s).unwrap();
        WsStream::over(ws)
    }
}

impl<S: Read + Write> WsStream<S> {
    pub fn over(ws: WebSocket<S>) -> WsStream<S> {
        WsStream {
            ws,
            pending: Vec::new(),
        }
    }
}

impl<S: Read + Write> Read for WsStream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pending.is_empty() {
            match self.ws.read() {
                Ok(Message::Binary(b)) => self.pending.extend_from_slice(&b),
                Ok(Message::Text(t)) => self.pending.extend_from_slice(t.as_bytes()),
                Ok(_) => {}
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    return Ok(0)
                }
                Err(tungstenite::Error::Io(e)) => return Err(e),
                Err(e) => return Err(io::Error::other(e.to_string())),
            }
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(n)
    }
}

impl<S: Read + Write> Write for WsStream<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.ws
            .send(Message::binary(buf.to_vec()))
            .map_err(|e| io::Error::other(e.to_string()))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A publisher and a subscriber over `Raw` streams exchange one message.
pub fn exchange<A: std::io::Read + std::io::Write, B: std::io::Read + std::io::Write>(
    sub: &mut Raw<A>,
    publ: &mut Raw<B>,
) {
    sub.send(b"CONNECT {\"verbose\":false}\r\nSUB secure.> 1\r\n");
    assert_eq!(sub.sync(), b"");
    publ.send(b"CONNECT {\"verbose\":false}\r\nPUB secure.x 5\r\nhello\r\n");
    assert_eq!(publ.sync(), b"");
    assert_eq!(sub.line(), "MSG secure.x 1 5\r\n");
    assert_eq!(sub.read_n(7), b"hello\r\n");
}

/// Closes as nats.py does (asyncio's TLS shutdown): sends close_notify, with `after` in the
/// same write, and waits for the server's. Returns the plaintext the server sent before its
/// close_notify, and checks that the TCP connection then ends. A server that never answers
/// fails on the read timeout (`IO_TIMEOUT`), one that closes without close_notify fails at
/// once.
pub fn close_notify(s: &mut TlsStream, after: &[u8]) -> Vec<u8> {
    s.conn.send_close_notify();
    let mut wire = Vec::new();
    while s.conn.wants_write() {
        s.conn.write_tls(&mut wire).unwrap();
    }
    wire.extend_from_slice(after);
    s.sock.write_all(&wire).unwrap();
    let mut plain = Vec::new();
    loop {
        let n = s
            .conn
            .read_tls(&mut s.sock)
            .unwrap_or_else(|e| panic!("no close_notify from the server: {e}; got {plain:?}"));
        assert!(n > 0, "closed without close_notify; got {plain:?}");
        let state = s.conn.process_new_packets().unwrap();
        // Stops at "would block" or at the close_notify, with everything readable appended.
        let _ = s.conn.reader().read_to_end(&mut plain);
        if state.peer_has_closed() {
            break;
        }
    }
    let mut rest = [0u8; 64];
    match s.sock.read(&mut rest) {
        Ok(0) => plain,
        Ok(n) => panic!("bytes after close_notify: {:?}", &rest[..n]),
        Err(e) => panic!("no EOF after close_notify: {e}"),
    }
}

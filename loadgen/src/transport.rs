//! What a connection runs over: plain TCP, TLS (`tls://`, INFO in the clear then TLS, the
//! Go server's default) or WebSocket (`ws://`, `wss://`; binary messages carry the protocol).
//! rustls and tungstenite over blocking sockets; the NATS code above sees a byte stream.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use tungstenite::{Message, WebSocket};

type TlsStream = StreamOwned<ClientConnection, TcpStream>;

/// The wire under one connection.
pub enum Stream {
    Tcp(TcpStream),
    Tls(Box<TlsStream>),
    Ws(Box<Ws<TcpStream>>),
    Wss(Box<Ws<TlsStream>>),
}

/// A WebSocket as a byte stream: each write is one binary message; reads hand out the
/// payloads of the messages received, in order.
pub struct Ws<S: Read + Write> {
    ws: WebSocket<S>,
    pending: Vec<u8>,
    pending_off: usize,
}

/// rustls settings trusting the CA certificates in `ca_file` (PEM).
pub fn tls_config(ca_file: &Path) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca_file)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("--tls-ca {}: {e}", ca_file.display()))?;
    for c in certs {
        roots
            .add(c)
            .map_err(|e| format!("--tls-ca {}: {e}", ca_file.display()))?;
    }
    let cfg =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(Arc::new(cfg))
}

fn tls_over(tcp: TcpStream, host: &str, cfg: Arc<ClientConfig>) -> io::Result<TlsStream> {
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let conn = ClientConnection::new(cfg, name).map_err(io::Error::other)?;
    Ok(StreamOwned::new(conn, tcp))
}

fn ws_over<S: Read + Write>(s: S, url: &str) -> io::Result<Ws<S>> {
    let (ws, _) = tungstenite::client(url, s).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(Ws {
        ws,
        pending: Vec::new(),
        pending_off: 0,
    })
}

impl Stream {
    /// Upgrades a TCP stream after the plain INFO (`tls://`).
    pub fn start_tls(self, host: &str, cfg: Arc<ClientConfig>) -> io::Result<Stream> {
        match self {
            Stream::Tcp(tcp) => Ok(Stream::Tls(Box::new(tls_over(tcp, host, cfg)?))),
            other => Ok(other),
        }
    }

    /// A WebSocket over `tcp`, through TLS first when `tls` is given.
    pub fn websocket(
        tcp: TcpStream,
        host: &str,
        url: &str,
        tls: Option<Arc<ClientConfig>>,
    ) -> io::Result<Stream> {
        Ok(match tls {
            Some(cfg) => Stream::Wss(Box::new(ws_over(tls_over(tcp, host, cfg)?, url)?)),
            None => Stream::Ws(Box::new(ws_over(tcp, url)?)),
        })
    }

    pub fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Tcp(s) => s,
            Stream::Tls(s) => s.get_ref(),
            Stream::Ws(w) => w.ws.get_ref(),
            Stream::Wss(w) => w.ws.get_ref().get_ref(),
        }
    }

    /// Whether decoded bytes wait in a buffer above the socket, so a read will not block
    /// even if the socket has nothing.
    pub fn has_buffered(&mut self) -> bool {
        match self {
            Stream::Tcp(_) => false,
            Stream::Tls(s) => s
                .conn
                .process_new_packets()
                .is_ok_and(|st| st.plaintext_bytes_to_read() > 0),
            Stream::Ws(w) => w.pending_off < w.pending.len(),
            Stream::Wss(w) => w.pending_off < w.pending.len(),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
            Stream::Ws(w) => w.read(buf),
            Stream::Wss(w) => w.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
            Stream::Ws(w) => w.write(buf),
            Stream::Wss(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
            Stream::Ws(_) | Stream::Wss(_) => Ok(()),
        }
    }
}

/// tungstenite's errors as I/O errors, keeping timeouts recognizable to the caller.
fn io_error(e: tungstenite::Error) -> io::Error {
    match e {
        tungstenite::Error::Io(e) => e,
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
            io::ErrorKind::UnexpectedEof.into()
        }
        other => io::Error::other(other.to_string()),
    }
}

impl<S: Read + Write> Read for Ws<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pending_off == self.pending.len() {
            match self.ws.read() {
                Ok(Message::Binary(b)) => {
                    self.pending.clear();
                    self.pending.extend_from_slice(&b);
                    self.pending_off = 0;
                }
                Ok(Message::Text(t)) => {
                    self.pending.clear();
                    self.pending.extend_from_slice(t.as_bytes());
                    self.pending_off = 0;
                }
                Ok(Message::Close(_)) => return Ok(0),
                Ok(_) => {}
                Err(tungstenite::Error::ConnectionClosed) => return Ok(0),
                Err(e) => return Err(io_error(e)),
            }
        }
        let n = buf.len().min(self.pending.len() - self.pending_off);
        buf[..n].copy_from_slice(&self.pending[self.pending_off..self.pending_off + n]);
        self.pending_off += n;
        Ok(n)
    }
}

impl<S: Read + Write> Write for Ws<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.ws
            .send(Message::binary(buf.to_vec()))
            .map_err(io_error)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

//! The NATS client protocol as loadgen speaks it: the INFO / CONNECT / PING handshake,
//! encoders for PUB, SUB, UNSUB and PING, and a buffered frame reader that finds a MSG's
//! (or HMSG's) control line and then skips its payload by length instead of scanning it.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::server_url::{Credentials, Scheme, ServerUrl};
use crate::transport::{tls_config, Stream};

pub const CRLF: &[u8] = b"\r\n";
pub const PING: &[u8] = b"PING\r\n";
const PONG: &[u8] = b"PONG\r\n";

/// First size of a connection's read buffer: a subscriber under load drains thousands of
/// small frames per read() call. It grows to fit a frame larger than itself.
const READ_BUFFER_BYTES: usize = 256 * 1024;
/// When less than this is free at the end of the buffer, a partial frame is moved to the
/// front before reading, so reads stay large.
const COMPACT_BELOW_BYTES: usize = 16 * 1024;
/// The Go server's max_control_line (4 KiB): a longer line without a newline is not NATS.
const MAX_CONTROL_LINE: usize = 4096;
/// NATS caps max_payload at 64 MiB; a MSG claiming more is corrupt.
const MAX_FRAME_PAYLOAD: usize = 64 << 20;
/// The server's own write deadline is 10 s; a server that takes none of our bytes for as
/// long is stuck, and the run reports it rather than hang.
const WRITE_STALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The Go server's default max_payload, assumed when INFO does not say.
const DEFAULT_MAX_PAYLOAD: usize = 1 << 20;
/// Read timeouts below this are rounded up: zero would mean "block forever".
const MIN_READ_TIMEOUT: Duration = Duration::from_millis(1);

/// Why a connection stopped working.
#[derive(Debug)]
pub enum ProtoError {
    Io(io::Error),
    /// The server closed the connection.
    Closed,
    /// The server sent `-ERR`; the text is the server's.
    Server(String),
    Malformed(&'static str),
    /// A deadline passed while waiting for the named thing.
    Timeout(&'static str),
}

impl fmt::Display for ProtoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtoError::Io(e) if e.kind() == io::ErrorKind::WouldBlock => {
                write!(f, "the server accepted no data for {WRITE_STALL_TIMEOUT:?}")
            }
            ProtoError::Io(e) => write!(f, "{e}"),
            ProtoError::Closed => write!(f, "connection closed by the server"),
            ProtoError::Server(text) => write!(f, "server error: -ERR {text}"),
            ProtoError::Malformed(what) => write!(f, "protocol error from the server: {what}"),
            ProtoError::Timeout(what) => write!(f, "timed out waiting for {what}"),
        }
    }
}

impl From<io::Error> for ProtoError {
    fn from(e: io::Error) -> Self {
        ProtoError::Io(e)
    }
}

/// A delivered message; every slice points into the reader's buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct Msg<'a> {
    pub subject: &'a [u8],
    pub sid: u64,
    pub reply: Option<&'a [u8]>,
    /// An HMSG's header block (`NATS/1.0[ status]` and its header lines); `None` for MSG.
    pub headers: Option<&'a [u8]>,
    pub payload: &'a [u8],
}

/// The status code of a header block's first line (`NATS/1.0 100 FlowControl Request`),
/// which JetStream uses for flow control, heartbeats and its 404/408 answers; `None` for a
/// plain `NATS/1.0`.
pub fn header_status(headers: &[u8]) -> Option<u16> {
    let first = headers.split(|&b| b == b'\r').next()?;
    let code = first.strip_prefix(b"NATS/1.0 ")?.get(..3)?;
    u16::try_from(parse_decimal(code)?).ok()
}

/// The value of header `name` (matched as written, as the server writes JetStream's).
pub fn header_value<'a>(headers: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    headers.split(|&b| b == b'\n').skip(1).find_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let value = line.strip_prefix(name)?.strip_prefix(b":")?;
        Some(value.trim_ascii())
    })
}

/// What the server sent that a role may care about. PING is answered and `-ERR` turned into
/// an error by the reader itself.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    Msg(Msg<'a>),
    Pong,
    /// The JSON after `INFO `.
    Info(&'a [u8]),
    Ok,
}

enum Parsed<'a> {
    Frame(Frame<'a>),
    Ping,
    Err(&'a [u8]),
}

/// Buffered input: bytes read from the socket, parsed into frames in place.
pub struct FrameReader {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Default for FrameReader {
    fn default() -> Self {
        FrameReader {
            buf: vec![0; READ_BUFFER_BYTES],
            start: 0,
            end: 0,
        }
    }
}

impl FrameReader {
    /// One read() into the free end of the buffer; 0 means end of stream.
    pub fn read_from(&mut self, src: &mut impl Read) -> io::Result<usize> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.start > 0 && self.buf.len() - self.end < COMPACT_BELOW_BYTES {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let grown = self.buf.len() * 2;
            self.buf.resize(grown, 0);
        }
        let n = src.read(&mut self.buf[self.end..])?;
        self.end += n;
        Ok(n)
    }

    /// Hands every complete frame to `on_frame`; a partial one stays for the next read.
    /// Returns how many PINGs must be answered.
    pub fn drain(&mut self, mut on_frame: impl FnMut(Frame<'_>)) -> Result<usize, ProtoError> {
        let data = &self.buf[self.start..self.end];
        let mut offset = 0;
        let mut pings = 0;
        let result = loop {
            match parse_frame(&data[offset..]) {
                Ok(Some((parsed, used))) => {
                    offset += used;
                    match parsed {
                        Parsed::Frame(frame) => on_frame(frame),
                        Parsed::Ping => pings += 1,
                        Parsed::Err(text) => {
                            break Err(ProtoError::Server(
                                String::from_utf8_lossy(text).trim().to_string(),
                            ))
                        }
                    }
                }
                Ok(None) => break Ok(pings),
                Err(e) => break Err(e),
            }
        };
        self.start += offset;
        result
    }
}

fn parse_frame(data: &[u8]) -> Result<Option<(Parsed<'_>, usize)>, ProtoError> {
    let Some(newline) = memchr::memchr(b'\n', data) else {
        return if data.len() > MAX_CONTROL_LINE {
            Err(ProtoError::Malformed("control line too long"))
        } else {
            Ok(None)
        };
    };
    let line = data[..newline]
        .strip_suffix(b"\r")
        .unwrap_or(&data[..newline]);
    let body = newline + 1;
    let msg_args = match (line.strip_prefix(b"MSG "), line.strip_prefix(b"HMSG ")) {
        (Some(args), _) => Some((args, false)),
        (_, Some(args)) => Some((args, true)),
        _ => None,
    };
    let parsed = if let Some((args, with_headers)) = msg_args {
        let header = parse_msg_args(args, with_headers)?;
        let payload_end = body + header.len;
        if data.len() < payload_end + CRLF.len() {
            return Ok(None);
        }
        if &data[payload_end..payload_end + CRLF.len()] != CRLF {
            return Err(ProtoError::Malformed("MSG payload not followed by CRLF"));
        }
        let headers_end = body + header.headers_len;
        let msg = Msg {
            subject: header.subject,
            sid: header.sid,
            reply: header.reply,
            headers: with_headers.then(|| &data[body..headers_end]),
            payload: &data[headers_end..payload_end],
        };
        return Ok(Some((
            Parsed::Frame(Frame::Msg(msg)),
            payload_end + CRLF.len(),
        )));
    } else if line == b"PING" {
        Parsed::Ping
    } else if line == b"PONG" {
        Parsed::Frame(Frame::Pong)
    } else if line == b"+OK" {
        Parsed::Frame(Frame::Ok)
    } else if let Some(json) = line.strip_prefix(b"INFO ") {
        Parsed::Frame(Frame::Info(json))
    } else if let Some(text) = line.strip_prefix(b"-ERR") {
        Parsed::Err(text)
    } else {
        return Err(ProtoError::Malformed("unknown operation"));
    };
    Ok(Some((parsed, body)))
}

struct MsgHeader<'a> {
    subject: &'a [u8],
    sid: u64,
    reply: Option<&'a [u8]>,
    /// Of `len`, the bytes of the header block (HMSG); 0 for MSG.
    headers_len: usize,
    len: usize,
}

/// MSG: `<subject> <sid> [reply] <#bytes>`; HMSG: `<subject> <sid> [reply] <#header bytes>
/// <#total bytes>`.
fn parse_msg_args(args: &[u8], with_headers: bool) -> Result<MsgHeader<'_>, ProtoError> {
    const BAD: ProtoError = ProtoError::Malformed("bad MSG arguments");
    let mut tokens = [&b""[..]; 5];
    let mut count = 0;
    for token in args
        .split(|&b| b == b' ' || b == b'\t')
        .filter(|t| !t.is_empty())
    {
        *tokens.get_mut(count).ok_or(BAD)? = token;
        count += 1;
    }
    let sizes = 1 + usize::from(with_headers);
    let reply = match count.checked_sub(2 + sizes) {
        Some(0) => None,
        Some(1) => Some(tokens[2]),
        _ => return Err(BAD),
    };
    let size = |token: &[u8]| {
        parse_decimal(token)
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n <= MAX_FRAME_PAYLOAD)
            .ok_or(BAD)
    };
    let len = size(tokens[count - 1])?;
    let headers_len = if with_headers {
        size(tokens[count - 2])?
    } else {
        0
    };
    if headers_len > len {
        return Err(BAD);
    }
    Ok(MsgHeader {
        subject: tokens[0],
        sid: parse_decimal(tokens[1]).ok_or(BAD)?,
        reply,
        headers_len,
        len,
    })
}

pub fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        if d.is_ascii_digit() {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        } else {
            None
        }
    })
}

pub fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// `PUB <subject> [reply] <size>\r\n`; the payload and its CRLF follow.
pub fn push_pub_header(out: &mut Vec<u8>, subject: &[u8], reply: Option<&[u8]>, size: usize) {
    out.extend_from_slice(b"PUB ");
    out.extend_from_slice(subject);
    out.push(b' ');
    if let Some(reply) = reply {
        out.extend_from_slice(reply);
        out.push(b' ');
    }
    push_decimal(out, size as u64);
    out.extend_from_slice(CRLF);
}

pub fn push_pub(out: &mut Vec<u8>, subject: &[u8], reply: Option<&[u8]>, payload: &[u8]) {
    push_pub_header(out, subject, reply, payload.len());
    out.extend_from_slice(payload);
    out.extend_from_slice(CRLF);
}

pub fn push_sub(out: &mut Vec<u8>, subject: &str, queue: Option<&str>, sid: u64) {
    out.extend_from_slice(b"SUB ");
    out.extend_from_slice(subject.as_bytes());
    out.push(b' ');
    if let Some(queue) = queue {
        out.extend_from_slice(queue.as_bytes());
        out.push(b' ');
    }
    push_decimal(out, sid);
    out.extend_from_slice(CRLF);
}

pub fn push_unsub(out: &mut Vec<u8>, sid: u64) {
    out.extend_from_slice(b"UNSUB ");
    push_decimal(out, sid);
    out.extend_from_slice(CRLF);
}

#[derive(Deserialize)]
struct ServerInfo {
    max_payload: Option<usize>,
}

/// One client connection: a blocking socket, its frame reader and an output buffer that
/// callers fill with whole frames and write with one `flush`.
pub struct Conn {
    stream: Stream,
    reader: FrameReader,
    out: Vec<u8>,
    max_payload: usize,
}

impl Conn {
    /// Connects, reads INFO, sends CONNECT and waits for the PONG that proves it was accepted.
    pub fn connect(server: &ServerUrl, name: &str, timeout: Duration) -> Result<Conn, ProtoError> {
        let mut hello = Vec::new();
        push_connect(&mut hello, &server.credentials, name);
        Conn::handshake(server, FrameReader::default(), &hello, timeout)
    }

    /// Connects, reads INFO, writes `hello` (CONNECT and whatever is to precede the first
    /// PING, such as SUBs) and PING in one write, and waits for PONG, all within `timeout`.
    /// Reads go into `reader`, so that a caller opening connection after connection reuses
    /// one buffer instead of allocating and zeroing a fresh one each time.
    pub fn handshake(
        server: &ServerUrl,
        reader: FrameReader,
        hello: &[u8],
        timeout: Duration,
    ) -> Result<Conn, ProtoError> {
        let deadline = Instant::now() + timeout;
        let tcp = open_stream(server, timeout)?;
        tcp.set_nodelay(true)?;
        tcp.set_write_timeout(Some(WRITE_STALL_TIMEOUT))?;
        let tls = match &server.tls_ca {
            Some(ca) if server.scheme.uses_tls() => {
                Some(tls_config(ca).map_err(|e| ProtoError::Io(io::Error::other(e)))?)
            }
            _ => None,
        };
        let stream = match server.scheme {
            Scheme::Nats | Scheme::Tls => Stream::Tcp(tcp),
            Scheme::Ws | Scheme::Wss => {
                // The upgrade is a blocking exchange too; it shares the handshake's deadline.
                tcp.set_read_timeout(Some(timeout))?;
                let url = format!("{}/", server.redacted());
                Stream::websocket(tcp, &server.host, &url, tls.clone())?
            }
        };
        let mut conn = Conn {
            stream,
            reader,
            out: Vec::new(),
            max_payload: DEFAULT_MAX_PAYLOAD,
        };
        let mut info = None;
        conn.wait_for(deadline, "INFO", |frame| match frame {
            Frame::Info(json) => {
                info = Some(serde_json::from_slice::<ServerInfo>(json));
                true
            }
            _ => false,
        })?;
        match info {
            Some(Ok(info)) => {
                conn.max_payload = info.max_payload.unwrap_or(DEFAULT_MAX_PAYLOAD);
            }
            _ => return Err(ProtoError::Malformed("INFO is not valid JSON")),
        }
        if let (Scheme::Tls, Some(cfg)) = (server.scheme, tls) {
            // The Go default: INFO in the clear, then TLS.
            let Conn {
                stream,
                reader,
                out,
                max_payload,
            } = conn;
            conn = Conn {
                stream: stream.start_tls(&server.host, cfg)?,
                reader,
                out,
                max_payload,
            };
        }
        conn.out.extend_from_slice(hello);
        conn.ping_pong(deadline)?;
        Ok(conn)
    }

    /// Closes the socket and hands back its read buffer, emptied, for the next connection.
    /// Once everything the server sent has been read, the close is a FIN; unread input
    /// would make the kernel send a reset instead.
    pub fn close(self) -> FrameReader {
        let mut reader = self.reader;
        reader.start = 0;
        reader.end = 0;
        reader
    }

    pub fn max_payload(&self) -> usize {
        self.max_payload
    }

    /// Frames to be written by the next `flush`.
    pub fn out(&mut self) -> &mut Vec<u8> {
        &mut self.out
    }

    pub fn flush(&mut self) -> Result<(), ProtoError> {
        if !self.out.is_empty() {
            self.stream.write_all(&self.out)?;
            self.out.clear();
        }
        Ok(())
    }

    /// How long `fill` may block; subscribers use it to look at their stop flag regularly.
    pub fn set_read_timeout(&self, timeout: Duration) -> Result<(), ProtoError> {
        self.stream
            .tcp()
            .set_read_timeout(Some(timeout.max(MIN_READ_TIMEOUT)))?;
        Ok(())
    }

    /// One read from the socket; `false` when the read timeout passed with nothing to read.
    pub fn fill(&mut self) -> Result<bool, ProtoError> {
        match self.reader.read_from(&mut self.stream) {
            Ok(0) => Err(ProtoError::Closed),
            Ok(_) => Ok(true),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Passes the complete frames read so far to `on_frame`, which may append frames to the
    /// output buffer it is given; answers PINGs, then writes the output buffer.
    pub fn drain(
        &mut self,
        mut on_frame: impl FnMut(Frame<'_>, &mut Vec<u8>),
    ) -> Result<(), ProtoError> {
        let out = &mut self.out;
        let pings = self.reader.drain(|frame| on_frame(frame, out))?;
        for _ in 0..pings {
            self.out.extend_from_slice(PONG);
        }
        self.flush()
    }

    /// Waits up to `timeout` for the socket to have something to read. Uses ppoll for its
    /// nanosecond timeout: open-loop senders sleep here until their next message is due.
    pub fn wait_readable(&mut self, timeout: Duration) -> Result<bool, ProtoError> {
        if self.stream.has_buffered() {
            return Ok(true);
        }
        let mut poll = libc::pollfd {
            fd: self.stream.tcp().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let timeout = libc::timespec {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_nsec: timeout.subsec_nanos() as libc::c_long,
        };
        // SAFETY: one valid pollfd, a valid timespec, no signal mask.
        let ready = unsafe { libc::ppoll(&mut poll, 1, &timeout, std::ptr::null()) };
        match ready {
            0 => Ok(false),
            n if n > 0 => Ok(true),
            _ => {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    Ok(false)
                } else {
                    Err(e.into())
                }
            }
        }
    }

    /// Sends PING and waits for PONG. The server answers in order, so everything sent
    /// before has been processed; Riptide also holds this PONG until every shard applied a
    /// preceding SUB or UNSUB. Messages that arrive meanwhile are dropped.
    pub fn ping_pong(&mut self, deadline: Instant) -> Result<(), ProtoError> {
        self.out.extend_from_slice(PING);
        self.flush()?;
        self.wait_for(deadline, "PONG", |frame| matches!(frame, Frame::Pong))
    }

    fn wait_for(
        &mut self,
        deadline: Instant,
        what: &'static str,
        mut is_it: impl FnMut(&Frame<'_>) -> bool,
    ) -> Result<(), ProtoError> {
        let mut found = false;
        loop {
            self.drain(|frame, _| found |= is_it(&frame))?;
            if found {
                return Ok(());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ProtoError::Timeout(what));
            }
            self.set_read_timeout(left)?;
            self.fill()?;
        }
    }
}

fn open_stream(server: &ServerUrl, timeout: Duration) -> Result<TcpStream, ProtoError> {
    let mut last_error = None;
    for addr in (server.host.as_str(), server.port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => return Ok(stream),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error
        .unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address for host"))
        .into())
}

/// `CONNECT {...}\r\n` with loadgen's options and `credentials`.
pub fn push_connect(out: &mut Vec<u8>, credentials: &Credentials, name: &str) {
    out.extend_from_slice(b"CONNECT ");
    out.extend_from_slice(connect_json(credentials, name).as_bytes());
    out.extend_from_slice(CRLF);
}

/// CONNECT options: no +OK acks, protocol 1 (async INFO), and no echo since every role has
/// its own connection and none wants its own messages back. Headers on, as every client
/// library has them: JetStream speaks to consumers in header statuses (flow control,
/// heartbeats, 404/408) and a direct get answers with the message's headers.
fn connect_json(credentials: &Credentials, name: &str) -> String {
    let mut options = serde_json::json!({
        "verbose": false,
        "pedantic": false,
        "headers": true,
        "protocol": 1,
        "echo": false,
        "name": name,
    });
    match credentials {
        Credentials::None => {}
        Credentials::UserPass { user, pass } => {
            options["user"] = user.as_str().into();
            options["pass"] = pass.as_str().into();
        }
        Credentials::Token(token) => options["auth_token"] = token.as_str().into(),
    }
    options.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader fed from a byte slice `chunk` bytes at a time.
    struct Chunked<'a> {
        data: &'a [u8],
        chunk: usize,
    }

    impl Read for Chunked<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.chunk.min(self.data.len()).min(buf.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[derive(Debug, Clone, PartialEq)]
    enum Seen {
        Msg(String, u64, Option<String>, Vec<u8>),
        Pong,
        Info(String),
        Ok,
    }

    fn collect(stream: &[u8], chunk: usize) -> (Vec<Seen>, usize) {
        let mut reader = FrameReader::default();
        let mut src = Chunked {
            data: stream,
            chunk,
        };
        let mut seen = Vec::new();
        let mut pings = 0;
        while reader.read_from(&mut src).unwrap() > 0 {
            pings += reader
                .drain(|f| {
                    seen.push(match f {
                        Frame::Msg(m) => Seen::Msg(
                            String::from_utf8(m.subject.to_vec()).unwrap(),
                            m.sid,
                            m.reply.map(|r| String::from_utf8(r.to_vec()).unwrap()),
                            m.payload.to_vec(),
                        ),
                        Frame::Pong => Seen::Pong,
                        Frame::Info(j) => Seen::Info(String::from_utf8(j.to_vec()).unwrap()),
                        Frame::Ok => Seen::Ok,
                    })
                })
                .unwrap();
        }
        (seen, pings)
    }

    const STREAM: &[u8] = b"INFO {\"max_payload\":1048576}\r\nPING\r\nMSG a.b 1 5\r\nhello\r\n\
MSG _INBOX.x.7 22 reply.to 0\r\n\r\nMSG foo 3 7\r\nMSG\r\n\r\n\r\nPONG\r\n+OK\r\nMSG t\t9 2\r\nhi\r\n";

    #[test]
    fn frames_split_at_every_offset() {
        let (whole, pings) = collect(STREAM, STREAM.len());
        assert_eq!(pings, 1);
        assert_eq!(
            whole,
            vec![
                Seen::Info("{\"max_payload\":1048576}".into()),
                Seen::Msg("a.b".into(), 1, None, b"hello".to_vec()),
                Seen::Msg("_INBOX.x.7".into(), 22, Some("reply.to".into()), vec![]),
                Seen::Msg("foo".into(), 3, None, b"MSG\r\n\r\n".to_vec()),
                Seen::Pong,
                Seen::Ok,
                Seen::Msg("t".into(), 9, None, b"hi".to_vec()),
            ]
        );
        for chunk in 1..STREAM.len() {
            assert_eq!(collect(STREAM, chunk), (whole.clone(), 1), "chunk {chunk}");
        }
    }

    #[test]
    fn payload_larger_than_the_buffer_grows_it() {
        let payload = vec![7u8; READ_BUFFER_BYTES * 3];
        let mut stream = Vec::new();
        stream.extend_from_slice(format!("MSG big 1 {}\r\n", payload.len()).as_bytes());
        stream.extend_from_slice(&payload);
        stream.extend_from_slice(b"\r\nPONG\r\n");
        let (seen, _) = collect(&stream, 100_000);
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0], Seen::Msg("big".into(), 1, None, payload));
    }

    #[test]
    fn server_errors_and_garbage() {
        let mut reader = FrameReader::default();
        let mut src = Chunked {
            data: b"-ERR 'Maximum Payload Violation'\r\n",
            chunk: 100,
        };
        reader.read_from(&mut src).unwrap();
        match reader.drain(|_| {}) {
            Err(ProtoError::Server(text)) => assert_eq!(text, "'Maximum Payload Violation'"),
            other => panic!("{other:?}"),
        }
        for bad in [
            &b"BOGUS\r\n"[..],
            b"MSG a 1\r\n",
            b"MSG a x 1\r\nz\r\n",
            b"MSG a 1 2 3 4\r\n",
            b"MSG a 1 2\r\nabcd",
            b"MSG a 1 99999999999\r\n",
            b"HMSG a 1 5\r\n",
            b"HMSG a 1 r 9 4\r\n",
            b"HMSG a 1 r x 9 9\r\n",
        ] {
            let mut reader = FrameReader::default();
            reader
                .read_from(&mut Chunked {
                    data: bad,
                    chunk: 100,
                })
                .unwrap();
            assert!(
                matches!(reader.drain(|_| {}), Err(ProtoError::Malformed(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let long = vec![b'x'; MAX_CONTROL_LINE + 1];
        let mut reader = FrameReader::default();
        reader
            .read_from(&mut Chunked {
                data: &long,
                chunk: long.len(),
            })
            .unwrap();
        assert!(matches!(
            reader.drain(|_| {}),
            Err(ProtoError::Malformed(_))
        ));
    }

    #[test]
    fn hmsg_splits_headers_from_payload() {
        let stream =
            b"HMSG _INBOX.fc 4 $JS.FC.S.x.1 36 36\r\nNATS/1.0 100 FlowControl Request\r\n\r\n\r\n\
HMSG $KV.B.k 1 52 54\r\nNATS/1.0\r\nNats-Stream: KV_B\r\nNats-Sequence:  42 \r\n\r\nhi\r\n";
        let mut reader = FrameReader::default();
        reader
            .read_from(&mut Chunked {
                data: stream,
                chunk: stream.len(),
            })
            .unwrap();
        let mut seen = Vec::new();
        reader
            .drain(|f| {
                let Frame::Msg(m) = f else { panic!() };
                let headers = m.headers.unwrap();
                seen.push((
                    m.reply.map(<[u8]>::to_vec),
                    header_status(headers),
                    header_value(headers, b"Nats-Sequence").map(<[u8]>::to_vec),
                    m.payload.to_vec(),
                ));
            })
            .unwrap();
        assert_eq!(
            seen,
            vec![
                (Some(b"$JS.FC.S.x.1".to_vec()), Some(100), None, vec![]),
                (None, None, Some(b"42".to_vec()), b"hi".to_vec()),
            ]
        );
        assert_eq!(
            header_status(b"NATS/1.0 404 No Messages\r\n\r\n"),
            Some(404)
        );
        assert_eq!(header_status(b"NATS/1.0 x\r\n\r\n"), None);
        assert_eq!(header_value(b"NATS/1.0\r\nA: 1\r\n\r\n", b"B"), None);
    }

    #[test]
    fn encoders() {
        let mut out = Vec::new();
        push_pub(&mut out, b"foo", None, b"hi");
        push_pub(&mut out, b"req", Some(b"_INBOX.a.1"), b"");
        push_sub(&mut out, "foo.*", None, 1);
        push_sub(&mut out, "svc", Some("workers"), 22);
        push_unsub(&mut out, 22);
        assert_eq!(
            out,
            b"PUB foo 2\r\nhi\r\nPUB req _INBOX.a.1 0\r\n\r\nSUB foo.* 1\r\n\
SUB svc workers 22\r\nUNSUB 22\r\n"
                .to_vec()
        );
        for n in [0u64, 7, 10, 1234567890, u64::MAX] {
            let mut d = Vec::new();
            push_decimal(&mut d, n);
            assert_eq!(d, n.to_string().into_bytes());
            assert_eq!(parse_decimal(&d), Some(n));
        }
        assert_eq!(parse_decimal(b""), None);
        assert_eq!(parse_decimal(b"18446744073709551616"), None);
    }

    #[test]
    fn connect_options() {
        let j: serde_json::Value =
            serde_json::from_str(&connect_json(&Credentials::None, "loadgen-pub-0")).unwrap();
        assert_eq!(j["verbose"], false);
        assert_eq!(j["headers"], true);
        assert_eq!(j["protocol"], 1);
        assert_eq!(j["echo"], false);
        assert!(j.get("user").is_none() && j.get("auth_token").is_none());
        let creds = Credentials::UserPass {
            user: "u\"".into(),
            pass: "p".into(),
        };
        let j: serde_json::Value = serde_json::from_str(&connect_json(&creds, "n")).unwrap();
        assert_eq!(
            (j["user"].as_str(), j["pass"].as_str()),
            (Some("u\""), Some("p"))
        );
        let j: serde_json::Value =
            serde_json::from_str(&connect_json(&Credentials::Token("t".into()), "n")).unwrap();
        assert_eq!(j["auth_token"], "t");
    }
}

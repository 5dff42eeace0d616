//! Sans-IO NATS client-protocol parser.
//!
//! It walks the bytes one by one like the Go server's `parser.go` state machine, so every
//! quirk a client can observe (case-insensitive verbs, tabs, `PING<anything>\n`, LF-only line
//! ends, the exact point where a bad byte becomes `Unknown Protocol Operation`) is the same.
//! A read may end anywhere: control-line bytes are carried in `arg`, payload bytes in `msg`,
//! and "need more bytes" is simply a return with everything consumed.

use super::args::{parse_size, split_args};

/// Verbs a client may send. Route/leaf/gateway verbs are unknown operations on a client port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verb {
    Pub,
    Hpub,
    Sub,
    Unsub,
    Ping,
    Pong,
    Connect,
    Info,
    Ok,
    Err,
}

const VERBS: [(&[u8], Verb); 10] = [
    (b"PUB", Verb::Pub),
    (b"HPUB", Verb::Hpub),
    (b"SUB", Verb::Sub),
    (b"UNSUB", Verb::Unsub),
    (b"PING", Verb::Ping),
    (b"PONG", Verb::Pong),
    (b"CONNECT", Verb::Connect),
    (b"INFO", Verb::Info),
    (b"+OK", Verb::Ok),
    (b"-ERR", Verb::Err),
];

/// Longest verb, `CONNECT`.
const MAX_VERB_LEN: usize = 7;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Start,
    /// Matching a verb; `len` bytes of `verb_buf` matched so far.
    Verb,
    /// Verb complete; PUB/HPUB/SUB/UNSUB/-ERR need a blank next.
    NeedBlank(Verb),
    /// Skipping blanks before the arguments.
    Blank(Verb),
    /// In the argument text, up to `\n`.
    Arg(Verb),
    /// PING, PONG and +OK ignore everything up to `\n`.
    Line(Verb),
    /// Reading the payload and the CRLF after it.
    Payload,
}

/// Why parsing stopped for good. The caller maps each to the Go server's reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// A byte that starts no known operation, or a payload not followed by CRLF:
    /// `-ERR 'Unknown Protocol Operation'`, then close.
    UnknownOp,
    /// Control line longer than `max_control_line`: `-ERR 'maximum control line exceeded'`, close.
    ControlLine,
    /// Malformed arguments (count, size, header size): closed without `-ERR`.
    BadArgs,
    /// The handler asked to stop (it already queued whatever reply it wanted).
    Stopped,
}

/// What the handler wants after an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// Stop after this operation; unparsed bytes are left for a later `parse` call.
    Pause,
}

/// The handler refused the operation and the connection is closing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stop;

/// Arguments of a PUB or HPUB, checked before its payload is read (as `processPub` does).
#[derive(Debug, PartialEq, Eq)]
pub struct PubArgs<'a> {
    pub subject: &'a [u8],
    pub reply: Option<&'a [u8]>,
    /// Header length for HPUB; `None` for PUB.
    pub header_len: Option<usize>,
    /// Header plus payload length.
    pub total_len: usize,
}

/// A complete publish: `data` holds the header block (if any) followed by the payload.
#[derive(Debug, PartialEq, Eq)]
pub struct Publish<'a> {
    pub subject: &'a [u8],
    pub reply: Option<&'a [u8]>,
    pub header_len: Option<usize>,
    pub data: &'a [u8],
}

/// Receives parsed operations. Borrowed slices live only for the call.
pub trait Handler {
    fn connect(&mut self, json: &[u8]) -> Result<Flow, Stop>;
    /// Checks a publish's arguments before its payload arrives (max payload, headers support).
    fn pub_args(&mut self, args: &PubArgs<'_>) -> Result<(), Stop>;
    fn publish(&mut self, msg: Publish<'_>) -> Result<Flow, Stop>;
    fn sub(&mut self, subject: &[u8], queue: Option<&[u8]>, sid: &[u8]) -> Result<Flow, Stop>;
    /// `max` is the Go server's `parseSize` of the second argument (`-1` when invalid).
    fn unsub(&mut self, sid: &[u8], max: Option<i64>) -> Result<Flow, Stop>;
    fn ping(&mut self) -> Result<Flow, Stop>;
    fn pong(&mut self) -> Result<Flow, Stop>;
    /// `-ERR` from a client: the Go server closes the connection.
    fn client_err(&mut self, text: &[u8]) -> Stop;
}

/// Where the current publish's subject and reply live inside `Parser::arg`.
#[derive(Clone, Copy, Debug, Default)]
struct PendingPub {
    subject: (usize, usize),
    reply: Option<(usize, usize)>,
    header_len: Option<usize>,
    total_len: usize,
}

#[derive(Debug)]
pub struct Parser {
    state: State,
    verb_buf: [u8; MAX_VERB_LEN],
    verb_len: usize,
    /// Control-line bytes carried over from earlier reads.
    arg: Vec<u8>,
    /// Whether `arg` is in use for the line being read (it may legitimately be empty).
    arg_split: bool,
    /// Payload (plus CRLF) bytes carried over from earlier reads.
    msg: Vec<u8>,
    msg_split: bool,
    pending: PendingPub,
    max_control_line: usize,
}

impl Parser {
    pub fn new(max_control_line: usize) -> Self {
        Parser {
            state: State::Start,
            verb_buf: [0; MAX_VERB_LEN],
            verb_len: 0,
            arg: Vec::new(),
            arg_split: false,
            msg: Vec::new(),
            msg_split: false,
            pending: PendingPub::default(),
            max_control_line,
        }
    }

    /// A reload changed `max_control_line`; it applies from the next control line.
    pub fn set_max_control_line(&mut self, max_control_line: usize) {
        self.max_control_line = max_control_line;
    }

    /// Feeds `buf`. Returns how many bytes were consumed: all of them unless the handler paused.
    pub fn parse<H: Handler>(&mut self, buf: &[u8], h: &mut H) -> Result<usize, ParseError> {
        let mut i = 0;
        // Start of the current control line's arguments inside `buf`, when not split.
        let mut arg_start = 0;
        while i < buf.len() {
            let b = buf[i];
            match self.state {
                State::Start => {
                    // Fast path: the whole verb is in this read. Same outcome as the byte-wise
                    // match below, which handles verbs split across reads and bad bytes.
                    if let Some((verb, len)) = whole_verb(&buf[i..]) {
                        self.state = after_verb(verb);
                        i += len;
                        continue;
                    }
                    self.verb_len = 0;
                    self.state = State::Verb;
                    continue;
                }
                State::Verb => {
                    self.verb_buf[self.verb_len] = b.to_ascii_uppercase();
                    self.verb_len += 1;
                    let seen = &self.verb_buf[..self.verb_len];
                    let mut prefix = false;
                    let mut full = None;
                    for (name, verb) in VERBS {
                        if name.starts_with(seen) {
                            prefix = true;
                            if name.len() == seen.len() {
                                full = Some(verb);
                            }
                        }
                    }
                    if !prefix {
                        return Err(ParseError::UnknownOp);
                    }
                    if let Some(verb) = full {
                        self.state = after_verb(verb);
                    }
                }
                State::NeedBlank(verb) => {
                    if b != b' ' && b != b'\t' {
                        return Err(ParseError::UnknownOp);
                    }
                    self.state = State::Blank(verb);
                }
                State::Blank(verb) => {
                    if b != b' ' && b != b'\t' {
                        self.state = State::Arg(verb);
                        arg_start = i;
                        self.arg.clear();
                        self.arg_split = false;
                        continue;
                    }
                }
                State::Arg(verb) => {
                    // Find the end of the line in one scan rather than byte by byte.
                    match memchr::memchr(b'\n', &buf[i..]) {
                        None => {
                            self.carry_arg(&buf[arg_start..])?;
                            return Ok(buf.len());
                        }
                        Some(nl) => {
                            let end = i + nl;
                            let line: &[u8] = if self.arg_split {
                                self.arg.extend_from_slice(&buf[i..end]);
                                &self.arg
                            } else {
                                &buf[arg_start..end]
                            };
                            let line = line.strip_suffix(b"\r").unwrap_or(line);
                            if line.len() > self.max_control_line {
                                return Err(ParseError::ControlLine);
                            }
                            i = end + 1;
                            match on_line(verb, line, h)? {
                                LineOutcome::Next(flow) => {
                                    self.state = State::Start;
                                    if flow == Flow::Pause {
                                        return Ok(i);
                                    }
                                }
                                LineOutcome::Payload(pending) => {
                                    self.pending = pending;
                                    let need = pending.total_len + 2;
                                    if !self.arg_split && buf.len() - i >= need {
                                        // The whole message is in this read: no copy at all.
                                        let flow = publish_in_place(
                                            &buf[arg_start..end],
                                            &buf[i..i + need],
                                            &pending,
                                            h,
                                        )?;
                                        i += need;
                                        self.state = State::Start;
                                        if flow == Flow::Pause {
                                            return Ok(i);
                                        }
                                        continue;
                                    }
                                    // Subject and reply must outlive `buf` if the payload is split.
                                    if !self.arg_split {
                                        let line = &buf[arg_start..end];
                                        self.arg.clear();
                                        self.arg.extend_from_slice(line);
                                    }
                                    self.state = State::Payload;
                                    self.msg_split = false;
                                    arg_start = i;
                                }
                            }
                            continue;
                        }
                    }
                }
                State::Line(verb) => {
                    match memchr::memchr(b'\n', &buf[i..]) {
                        None => return Ok(buf.len()),
                        Some(nl) => i += nl,
                    }
                    self.state = State::Start;
                    let flow = match verb {
                        Verb::Ping => h.ping().map_err(|_| ParseError::Stopped)?,
                        Verb::Pong => h.pong().map_err(|_| ParseError::Stopped)?,
                        _ => Flow::Continue,
                    };
                    if flow == Flow::Pause {
                        return Ok(i + 1);
                    }
                }
                State::Payload => {
                    // The payload and its CRLF are `total_len + 2` bytes from `arg_start`.
                    let need = self.pending.total_len + 2;
                    let have = if self.msg_split { self.msg.len() } else { 0 };
                    let avail = buf.len() - i;
                    if have + avail < need {
                        if !self.msg_split {
                            self.msg.clear();
                            self.msg_split = true;
                        }
                        self.msg.extend_from_slice(&buf[i..]);
                        self.check_payload_crlf()?;
                        return Ok(buf.len());
                    }
                    let take = need - have;
                    let data: &[u8] = if self.msg_split {
                        self.msg.extend_from_slice(&buf[i..i + take]);
                        &self.msg
                    } else {
                        &buf[i..i + take]
                    };
                    if &data[need - 2..] != b"\r\n" {
                        return Err(ParseError::UnknownOp);
                    }
                    i += take;
                    let p = self.pending;
                    let publish = Publish {
                        subject: &self.arg[p.subject.0..p.subject.1],
                        reply: p.reply.map(|(s, e)| &self.arg[s..e]),
                        header_len: p.header_len,
                        data: &data[..need - 2],
                    };
                    let flow = h.publish(publish).map_err(|_| ParseError::Stopped)?;
                    self.state = State::Start;
                    self.msg_split = false;
                    if flow == Flow::Pause {
                        return Ok(i);
                    }
                    continue;
                }
            }
            i += 1;
        }
        Ok(buf.len())
    }

    /// A split read inside the payload may already show that the CRLF after it is wrong.
    fn check_payload_crlf(&self) -> Result<(), ParseError> {
        let size = self.pending.total_len;
        let got = &self.msg;
        if got.len() > size && got[size] != b'\r' {
            return Err(ParseError::UnknownOp);
        }
        Ok(())
    }

    fn carry_arg(&mut self, part: &[u8]) -> Result<(), ParseError> {
        if !self.arg_split {
            self.arg.clear();
            self.arg_split = true;
        }
        self.arg.extend_from_slice(part);
        // A CR at the end of the read may be the line's own CRLF, which does not count
        // (Go drops it too: `buf[c.as:i-c.drop]`), so the verdict does not depend on where
        // the read was cut.
        let line = self.arg.strip_suffix(b"\r").unwrap_or(&self.arg);
        if line.len() > self.max_control_line {
            return Err(ParseError::ControlLine);
        }
        Ok(())
    }
}

/// The state after a complete verb: PUB/HPUB/SUB/UNSUB/-ERR need a blank next, CONNECT and
/// INFO may run into their argument, PING/PONG/+OK ignore the rest of the line.
fn after_verb(verb: Verb) -> State {
    match verb {
        Verb::Ping | Verb::Pong | Verb::Ok => State::Line(verb),
        Verb::Connect | Verb::Info => State::Blank(verb),
        _ => State::NeedBlank(verb),
    }
}

/// The verb `input` starts with, when all of it is there.
fn whole_verb(input: &[u8]) -> Option<(Verb, usize)> {
    let first = input.first()?.to_ascii_uppercase();
    let second = input.get(1).map(u8::to_ascii_uppercase);
    let verb = match (first, second) {
        (b'P', Some(b'U')) => Verb::Pub,
        (b'P', Some(b'I')) => Verb::Ping,
        (b'P', Some(b'O')) => Verb::Pong,
        (b'H', _) => Verb::Hpub,
        (b'S', _) => Verb::Sub,
        (b'U', _) => Verb::Unsub,
        (b'C', _) => Verb::Connect,
        _ => return None,
    };
    let name = VERBS.iter().find(|(_, v)| *v == verb)?.0;
    let got = input.get(..name.len())?;
    got.eq_ignore_ascii_case(name).then_some((verb, name.len()))
}

/// Delivers a publish whose control line and payload are both in the current read.
fn publish_in_place<H: Handler>(
    line: &[u8],
    payload: &[u8],
    p: &PendingPub,
    h: &mut H,
) -> Result<Flow, ParseError> {
    if &payload[p.total_len..] != b"\r\n" {
        return Err(ParseError::UnknownOp);
    }
    h.publish(Publish {
        subject: &line[p.subject.0..p.subject.1],
        reply: p.reply.map(|(s, e)| &line[s..e]),
        header_len: p.header_len,
        data: &payload[..p.total_len],
    })
    .map_err(|_| ParseError::Stopped)
}

/// Handles one complete control line.
fn on_line<H: Handler>(verb: Verb, line: &[u8], h: &mut H) -> Result<LineOutcome, ParseError> {
    let stop = |_: Stop| ParseError::Stopped;
    match verb {
        Verb::Pub | Verb::Hpub => {
            let args = split_args(line);
            let (subject, reply, hdr, total) = match (verb, args.len()) {
                (Verb::Pub, 2) => (args[0], None, None, args[1]),
                (Verb::Pub, 3) => (args[0], Some(args[1]), None, args[2]),
                (Verb::Hpub, 3) => (args[0], None, Some(args[1]), args[2]),
                (Verb::Hpub, 4) => (args[0], Some(args[1]), Some(args[2]), args[3]),
                _ => return Err(ParseError::BadArgs),
            };
            let total_len = usize::try_from(parse_size(total)).map_err(|_| ParseError::BadArgs)?;
            let header_len = match hdr {
                Some(h) => {
                    let h = usize::try_from(parse_size(h)).map_err(|_| ParseError::BadArgs)?;
                    if h > total_len {
                        return Err(ParseError::BadArgs);
                    }
                    Some(h)
                }
                None => None,
            };
            h.pub_args(&PubArgs {
                subject,
                reply,
                header_len,
                total_len,
            })
            .map_err(stop)?;
            let off = |s: &[u8]| {
                let start = s.as_ptr() as usize - line.as_ptr() as usize;
                (start, start + s.len())
            };
            Ok(LineOutcome::Payload(PendingPub {
                subject: off(subject),
                reply: reply.map(off),
                header_len,
                total_len,
            }))
        }
        Verb::Sub => {
            let args = split_args(line);
            let flow = match args.len() {
                2 => h.sub(args[0], None, args[1]),
                3 => h.sub(args[0], Some(args[1]), args[2]),
                _ => return Err(ParseError::BadArgs),
            };
            Ok(LineOutcome::Next(flow.map_err(stop)?))
        }
        Verb::Unsub => {
            let args = split_args(line);
            let flow = match args.len() {
                1 => h.unsub(args[0], None),
                2 => h.unsub(args[0], Some(parse_size(args[1]))),
                _ => return Err(ParseError::BadArgs),
            };
            Ok(LineOutcome::Next(flow.map_err(stop)?))
        }
        Verb::Connect => Ok(LineOutcome::Next(h.connect(line).map_err(stop)?)),
        Verb::Err => Err(stop(h.client_err(line))),
        // A client's INFO is accepted and ignored, as the Go server does for clients.
        Verb::Info | Verb::Ping | Verb::Pong | Verb::Ok => Ok(LineOutcome::Next(Flow::Continue)),
    }
}

enum LineOutcome {
    Next(Flow),
    Payload(PendingPub),
}

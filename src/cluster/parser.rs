//! Sans-IO parser of the route protocol as Go servers speak it between each other
//! (`parser.go`'s route states, `processRoutedMsgArgs` and `processRemoteSub` in
//! `route.go`): INFO, CONNECT, PING, PONG, +OK, -ERR, `RS+`/`RS-` with an account and queue
//! weights, and `RMSG`/`HMSG` with an optional reply and the queue groups a message was
//! picked for. Leaf node connections speak the same protocol without the account, which
//! the connection is bound to (`LS+`/`LS-`, `LMSG`/`HMSG`, `processLeafSub` and
//! `processLeafMsgArgs` in `leafnode.go`). A read may end anywhere: an unfinished operation
//! is carried to the next one.

use crate::proto::Stop;

/// Route control lines are allowed 16 times the client limit (`parser.go`, `mcl *= 16`
/// for routes, leaf nodes and gateways).
pub const ROUTE_CONTROL_LINE_FACTOR: usize = 16;

/// Why parsing stopped for good; the connection closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteParseError {
    /// An operation this side does not know.
    UnknownOp,
    /// A control line longer than the route limit.
    ControlLine,
    /// Arguments that do not fit their operation.
    BadArgs,
    /// The handler is done with the connection.
    Stopped,
}

/// Which connection's protocol a parser reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Between the servers of a cluster: every line names its account.
    Route,
    /// A route connection dedicated to one pinned account, which no line names.
    PinnedRoute,
    /// A leaf node connection, bound to one account that no line names.
    Leaf,
}

/// Interest from `RS+`/`RS-` (`LS+`/`LS-`). `weight` is the number of queue members (1
/// without one).
#[derive(Debug, PartialEq, Eq)]
pub struct RemoteSub<'a> {
    /// Empty on a leaf or pinned connection.
    pub account: &'a [u8],
    pub subject: &'a [u8],
    pub queue: Option<&'a [u8]>,
    pub weight: u32,
}

/// A message from `RMSG`/`HMSG` (`LMSG`/`HMSG`).
#[derive(Debug, PartialEq, Eq)]
pub struct RoutedMsg<'a> {
    /// Empty on a leaf or pinned connection.
    pub account: &'a [u8],
    pub subject: &'a [u8],
    pub reply: Option<&'a [u8]>,
    /// The queue groups whose member on this server was picked; none means the message is
    /// for plain subscriptions only.
    pub queues: Vec<&'a [u8]>,
    pub header_len: Option<usize>,
    /// Header block (if any) and payload.
    pub data: &'a [u8],
}

/// What an INFO changes for the bytes after it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AfterInfo {
    /// The dialect of the lines after it (a route learns from its peer's INFO that it is
    /// pinned to an account).
    pub dialect: Option<Dialect>,
    /// The bytes after it are S2-compressed: parsing stops, and `take_compressed` has
    /// them for the decompressor.
    pub compressed: bool,
}

/// What the parser reports. Returning `Err(Stop)` stops parsing (`RouteParseError::Stopped`).
pub trait RouteHandler {
    fn info(&mut self, json: &[u8]) -> Result<AfterInfo, Stop>;
    fn connect(&mut self, json: &[u8]) -> Result<(), Stop>;
    fn ping(&mut self);
    fn pong(&mut self);
    fn err(&mut self, text: &[u8]);
    fn interest(&mut self, sub: RemoteSub<'_>, on: bool);
    fn message(&mut self, msg: RoutedMsg<'_>);
}

#[derive(Debug)]
pub struct RouteParser {
    /// An unfinished operation's bytes, from the start of its line.
    carry: Vec<u8>,
    /// Bytes `carry` must hold before it is worth parsing again.
    need: usize,
    max_line: usize,
    dialect: Dialect,
    /// The bytes after an INFO that started compression, not parsed.
    compressed: Option<Vec<u8>>,
}

enum Step {
    /// An operation of this many bytes was handled.
    Done(usize),
    /// An INFO of this many bytes was handled, and what follows it is compressed.
    Compressed(usize),
    /// The operation needs at least this many bytes.
    More(usize),
}

impl RouteParser {
    pub fn new(max_control_line: usize, dialect: Dialect) -> RouteParser {
        RouteParser {
            carry: Vec::new(),
            need: 0,
            max_line: max_control_line.saturating_mul(ROUTE_CONTROL_LINE_FACTOR),
            dialect,
            compressed: None,
        }
    }

    /// The compressed bytes read after the INFO that started compression, once.
    pub fn take_compressed(&mut self) -> Option<Vec<u8>> {
        self.compressed.take()
    }

    pub fn parse(
        &mut self,
        input: &[u8],
        h: &mut impl RouteHandler,
    ) -> Result<(), RouteParseError> {
        if !self.carry.is_empty() {
            self.carry.extend_from_slice(input);
            if self.carry.len() < self.need {
                return Ok(());
            }
            let mut carry = std::mem::take(&mut self.carry);
            let used = self.run(&carry, h)?;
            carry.drain(..used);
            match &mut self.compressed {
                Some(rest) => *rest = carry,
                None => self.carry = carry,
            }
            return Ok(());
        }
        let used = self.run(input, h)?;
        match &mut self.compressed {
            Some(rest) => rest.extend_from_slice(&input[used..]),
            None => self.carry.extend_from_slice(&input[used..]),
        }
        Ok(())
    }

    /// Handles every complete operation in `buf`; returns the bytes used.
    fn run(&mut self, buf: &[u8], h: &mut impl RouteHandler) -> Result<usize, RouteParseError> {
        let mut at = 0;
        self.need = 0;
        while at < buf.len() {
            match self.one(&buf[at..], h)? {
                Step::Done(n) => at += n,
                Step::Compressed(n) => {
                    self.compressed = Some(Vec::new());
                    return Ok(at + n);
                }
                Step::More(n) => {
                    self.need = n;
                    break;
                }
            }
        }
        Ok(at)
    }

    fn one(&mut self, buf: &[u8], h: &mut impl RouteHandler) -> Result<Step, RouteParseError> {
        let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
            if buf.len() > self.max_line {
                return Err(RouteParseError::ControlLine);
            }
            return Ok(Step::More(buf.len() + 1));
        };
        if nl > self.max_line {
            return Err(RouteParseError::ControlLine);
        }
        let line = &buf[..nl];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let (verb, args) = match line.iter().position(|&b| b == b' ' || b == b'\t') {
            Some(i) => (&line[..i], trim(&line[i + 1..])),
            None => (line, &line[line.len()..]),
        };
        let end = nl + 1;
        fn stopped<T>(r: Result<T, Stop>) -> Result<T, RouteParseError> {
            r.map_err(|Stop| RouteParseError::Stopped)
        }
        let leaf = self.dialect == Dialect::Leaf;
        let unnamed = self.dialect != Dialect::Route;
        match verb.to_ascii_uppercase().as_slice() {
            b"PING" => h.ping(),
            b"PONG" => h.pong(),
            b"+OK" => {}
            b"-ERR" => h.err(args),
            b"INFO" => {
                let after = stopped(h.info(args))?;
                if let Some(d) = after.dialect {
                    self.dialect = d;
                }
                if after.compressed {
                    return Ok(Step::Compressed(end));
                }
            }
            b"CONNECT" => stopped(h.connect(args))?,
            v @ (b"RS+" | b"RS-" | b"LS+" | b"LS-") if (v[0] == b'L') == leaf => {
                let on = verb[2] == b'+';
                h.interest(remote_sub(args, on, unnamed)?, on);
            }
            b"RMSG" if !leaf => return self.message(args, false, end, buf, h),
            b"LMSG" if leaf => return self.message(args, false, end, buf, h),
            b"HMSG" => return self.message(args, true, end, buf, h),
            _ => return Err(RouteParseError::UnknownOp),
        }
        Ok(Step::Done(end))
    }

    /// A message operation whose control line ends at `end`.
    fn message(
        &self,
        args: &[u8],
        headers: bool,
        end: usize,
        buf: &[u8],
        h: &mut impl RouteHandler,
    ) -> Result<Step, RouteParseError> {
        let (mut msg, size) = routed_args(args, headers, self.dialect != Dialect::Route)?;
        let total = end + size + 2;
        if buf.len() < total {
            return Ok(Step::More(total));
        }
        if &buf[end + size..total] != b"\r\n" {
            return Err(RouteParseError::BadArgs);
        }
        msg.data = &buf[end..end + size];
        h.message(msg);
        Ok(Step::Done(total))
    }
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &s[start..end]
}

fn fields(args: &[u8]) -> impl Iterator<Item = &[u8]> {
    args.split(|&b| b == b' ' || b == b'\t')
        .filter(|f| !f.is_empty())
}

/// `<account> <subject> [<queue> [<weight>]]` (no account on a leaf or pinned
/// connection); Go takes a missing weight as 1.
fn remote_sub(args: &[u8], on: bool, unnamed: bool) -> Result<RemoteSub<'_>, RouteParseError> {
    let mut f: Vec<&[u8]> = fields(args).collect();
    if unnamed {
        f.insert(0, b"");
    }
    let (account, subject, queue, weight) = match (f.len(), on) {
        (2, _) => (f[0], f[1], None, 1),
        (3, _) => (f[0], f[1], Some(f[2]), 1),
        (4, true) => (f[0], f[1], Some(f[2]), size(f[3])?),
        (4, false) => (f[0], f[1], Some(f[2]), 1),
        _ => return Err(RouteParseError::BadArgs),
    };
    Ok(RemoteSub {
        account,
        subject,
        queue,
        weight: u32::try_from(weight).map_err(|_| RouteParseError::BadArgs)?,
    })
}

fn size(d: &[u8]) -> Result<usize, RouteParseError> {
    usize::try_from(crate::proto::args::parse_size(d)).map_err(|_| RouteParseError::BadArgs)
}

/// `<account> <subject> [reply | + <reply> <queues...> | \| <queues...>] [<hdr>] <size>`,
/// with no account on a leaf or pinned connection.
fn routed_args(
    args: &[u8],
    headers: bool,
    unnamed: bool,
) -> Result<(RoutedMsg<'_>, usize), RouteParseError> {
    let mut f: Vec<&[u8]> = fields(args).collect();
    if unnamed {
        f.insert(0, b"");
    }
    let sizes = if headers { 2 } else { 1 };
    if f.len() < 2 + sizes {
        return Err(RouteParseError::BadArgs);
    }
    let total = size(f[f.len() - 1])?;
    let header_len = if headers {
        let h = size(f[f.len() - 2])?;
        if h > total {
            return Err(RouteParseError::BadArgs);
        }
        Some(h)
    } else {
        None
    };
    let middle = &f[2..f.len() - sizes];
    let (reply, queues) = match middle {
        [] => (None, Vec::new()),
        [b"+", reply, queues @ ..] => (Some(*reply), queues.to_vec()),
        [b"|", queues @ ..] => (None, queues.to_vec()),
        [reply] => (Some(*reply), Vec::new()),
        _ => return Err(RouteParseError::BadArgs),
    };
    Ok((
        RoutedMsg {
            account: f[0],
            subject: f[1],
            reply,
            queues,
            header_len,
            data: &[],
        },
        total,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Log(Vec<String>);

    impl RouteHandler for Log {
        fn info(&mut self, json: &[u8]) -> Result<AfterInfo, Stop> {
            let text = String::from_utf8_lossy(json);
            let pinned = text.contains("route_account");
            self.0.push(format!("INFO {text}"));
            Ok(AfterInfo {
                dialect: pinned.then_some(Dialect::PinnedRoute),
                compressed: text.contains("s2_fast"),
            })
        }
        fn connect(&mut self, json: &[u8]) -> Result<(), Stop> {
            self.0
                .push(format!("CONNECT {}", String::from_utf8_lossy(json)));
            Ok(())
        }
        fn ping(&mut self) {
            self.0.push("PING".into());
        }
        fn pong(&mut self) {
            self.0.push("PONG".into());
        }
        fn err(&mut self, text: &[u8]) {
            self.0
                .push(format!("ERR {}", String::from_utf8_lossy(text)));
        }
        fn interest(&mut self, s: RemoteSub<'_>, on: bool) {
            let t = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            self.0.push(format!(
                "{} {} {} {:?} {}",
                if on { "+" } else { "-" },
                t(s.account),
                t(s.subject),
                s.queue.map(t),
                s.weight
            ));
        }
        fn message(&mut self, m: RoutedMsg<'_>) {
            let t = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            self.0.push(format!(
                "MSG {} {} {:?} {:?} {:?} {}",
                t(m.account),
                t(m.subject),
                m.reply.map(t),
                m.queues.iter().map(|q| t(q)).collect::<Vec<_>>(),
                m.header_len,
                t(m.data)
            ));
        }
    }

    /// The bytes a Go 2.15.1 server sent a no-pool route in a recorded session.
    const GO_SESSION: &[u8] = b"INFO {\"server_id\":\"N1\",\"cluster\":\"c1\"} \r\nPING\r\nRS+ $G foo\r\nRS+ $G bar q1 2\r\nRS- $G bar q1\r\nRMSG $G rfoo 2\r\nhi\r\nRMSG $G rfoo reply.x 2\r\nhi\r\nRMSG $G rq | grp 1\r\na\r\nRMSG $G rq + rr grp 1\r\na\r\nHMSG $G rfoo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n";

    fn expected() -> Vec<String> {
        [
            "INFO {\"server_id\":\"N1\",\"cluster\":\"c1\"}",
            "PING",
            "+ $G foo None 1",
            "+ $G bar Some(\"q1\") 2",
            "- $G bar Some(\"q1\") 1",
            "MSG $G rfoo None [] None hi",
            "MSG $G rfoo Some(\"reply.x\") [] None hi",
            "MSG $G rq None [\"grp\"] None a",
            "MSG $G rq Some(\"rr\") [\"grp\"] None a",
            "MSG $G rfoo None [] Some(12) NATS/1.0\r\n\r\nhi",
        ]
        .map(String::from)
        .to_vec()
    }

    /// The INFO that starts compression is the last line parsed: whatever follows it in
    /// the same read, however the reads fall, is handed back whole for the decompressor.
    #[test]
    fn stops_after_the_info_that_starts_compression() {
        let wire =
            b"CONNECT {}\r\nINFO {\"compression\":\"s2_fast\"}\r\n\xff\x06\x00\x00S2sTwO\x01";
        let info_end = wire.iter().position(|&b| b == 0xff).unwrap();
        for cut in 1..wire.len() {
            let mut log = Log::default();
            let mut p = RouteParser::new(4096, Dialect::Route);
            let mut rest: Option<Vec<u8>> = None;
            for piece in [&wire[..cut], &wire[cut..]] {
                match &mut rest {
                    Some(r) => r.extend_from_slice(piece),
                    None => {
                        p.parse(piece, &mut log).unwrap();
                        rest = p.take_compressed();
                    }
                }
            }
            assert_eq!(log.0.len(), 2, "split at {cut}: {:?}", log.0);
            assert_eq!(rest.as_deref(), Some(&wire[info_end..]), "split at {cut}");
        }
    }

    #[test]
    fn go_session_whole_and_in_every_split() {
        let mut log = Log::default();
        RouteParser::new(4096, Dialect::Route)
            .parse(GO_SESSION, &mut log)
            .unwrap();
        assert_eq!(log.0, expected());
        for cut in 1..GO_SESSION.len() {
            let mut log = Log::default();
            let mut p = RouteParser::new(4096, Dialect::Route);
            p.parse(&GO_SESSION[..cut], &mut log).unwrap();
            p.parse(&GO_SESSION[cut..], &mut log).unwrap();
            assert_eq!(log.0, expected(), "split at {cut}");
        }
        let mut log = Log::default();
        let mut p = RouteParser::new(4096, Dialect::Route);
        for b in GO_SESSION.chunks(1) {
            p.parse(b, &mut log).unwrap();
        }
        assert_eq!(log.0, expected());
    }

    /// The bytes a Go 2.15.1 hub sent its leaf node in a recorded session.
    const GO_LEAF_SESSION: &[u8] = b"INFO {\"server_id\":\"N1\",\"connect_info\":true}\r\nLS+ $LDS.v2h6\r\nLS+ q.* grp 2\r\nLS- q.* grp\r\nLMSG q.4 r 2\r\nhi\r\nLMSG q.1 + r grp 2\r\nhi\r\nLMSG q.3 | grp 2\r\nhi\r\nHMSG q.2 | grp 12 14\r\nNATS/1.0\r\n\r\nhi\r\nHMSG foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPING\r\n";

    #[test]
    fn go_leaf_session_whole_and_in_every_split() {
        let expected: Vec<String> = [
            "INFO {\"server_id\":\"N1\",\"connect_info\":true}",
            "+  $LDS.v2h6 None 1",
            "+  q.* Some(\"grp\") 2",
            "-  q.* Some(\"grp\") 1",
            "MSG  q.4 Some(\"r\") [] None hi",
            "MSG  q.1 Some(\"r\") [\"grp\"] None hi",
            "MSG  q.3 None [\"grp\"] None hi",
            "MSG  q.2 None [\"grp\"] Some(12) NATS/1.0\r\n\r\nhi",
            "MSG  foo None [] Some(12) NATS/1.0\r\n\r\nhi",
            "PING",
        ]
        .map(String::from)
        .to_vec();
        for cut in 0..GO_LEAF_SESSION.len() {
            let mut log = Log::default();
            let mut p = RouteParser::new(4096, Dialect::Leaf);
            p.parse(&GO_LEAF_SESSION[..cut], &mut log).unwrap();
            p.parse(&GO_LEAF_SESSION[cut..], &mut log).unwrap();
            assert_eq!(log.0, expected, "split at {cut}");
        }
        let e = |s: &[u8]| {
            RouteParser::new(64, Dialect::Leaf)
                .parse(s, &mut Log::default())
                .unwrap_err()
        };
        assert_eq!(e(b"RS+ $G foo\r\n"), RouteParseError::UnknownOp);
        assert_eq!(e(b"RMSG $G foo 1\r\nx\r\n"), RouteParseError::UnknownOp);
        assert_eq!(e(b"LMSG foo\r\n"), RouteParseError::BadArgs);
    }

    /// A pinned account's connection as a Go 2.15.1 server spoke it: once the INFO names
    /// the account, no line does.
    #[test]
    fn pinned_route_lines_name_no_account() {
        let session: &[u8] = b"INFO {\"route_account\":\"A\"}\r\nRS+ foo\r\nRS+ bar q1 1\r\nRS- bar q1\r\nRMSG foo rep.1 5\r\nhello\r\nRMSG bar + rep.3 q1 2\r\nhi\r\nHMSG foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n";
        let expected: Vec<String> = [
            "INFO {\"route_account\":\"A\"}",
            "+  foo None 1",
            "+  bar Some(\"q1\") 1",
            "-  bar Some(\"q1\") 1",
            "MSG  foo Some(\"rep.1\") [] None hello",
            "MSG  bar Some(\"rep.3\") [\"q1\"] None hi",
            "MSG  foo None [] Some(12) NATS/1.0\r\n\r\nhi",
        ]
        .map(String::from)
        .to_vec();
        for cut in 0..session.len() {
            let mut log = Log::default();
            let mut p = RouteParser::new(4096, Dialect::Route);
            p.parse(&session[..cut], &mut log).unwrap();
            p.parse(&session[cut..], &mut log).unwrap();
            assert_eq!(log.0, expected, "split at {cut}");
        }
    }

    #[test]
    fn bad_input() {
        let mut log = Log::default();
        let e = |s: &[u8]| {
            RouteParser::new(64, Dialect::Route)
                .parse(s, &mut Log::default())
                .unwrap_err()
        };
        assert_eq!(e(b"PUB foo 1\r\nx\r\n"), RouteParseError::UnknownOp);
        assert_eq!(e(b"RMSG $G foo x\r\n"), RouteParseError::BadArgs);
        assert_eq!(e(b"RMSG $G foo 1\r\nxyz"), RouteParseError::BadArgs);
        assert_eq!(e(b"HMSG $G foo 5 2\r\n"), RouteParseError::BadArgs);
        assert_eq!(e(b"RS+ $G\r\n"), RouteParseError::BadArgs);
        assert_eq!(e(&[b'x'; 2000]), RouteParseError::ControlLine);
        assert!(RouteParser::new(64, Dialect::Route)
            .parse(b"RMSG $G foo 1", &mut log)
            .is_ok());
    }
}

//! The checks the fuzz targets (`fuzz/`) run on arbitrary bytes. They live in the library so
//! that `cargo test` replays every input a fuzzer ever failed on (`fuzz/regressions/`)
//! without libFuzzer, and so each target stays one line.

use crate::config::Config;
use crate::monitor::http::parse_request;
use crate::proto::record::parse_split;
use crate::subject::{is_valid_subscription, matches_literal, Sublist};
use crate::transport::ws::{UpgradePolicy, WsLayer};
use tungstenite::protocol::frame::coding::{Control, OpCode};
use tungstenite::protocol::frame::FrameHeader;

/// Small enough that a fuzzer reaches `Maximum Control Line Exceeded` quickly.
const FUZZ_MAX_CONTROL_LINE: usize = 256;

/// The protocol parser never panics, and where its input is cut makes no difference to
/// what it reports, up to and including the first error. The cut points come from a
/// generator seeded by the input, so every mutation moves them and the corpus stays plain
/// protocol text.
pub fn parser(data: &[u8]) {
    let whole = parse_split(data, &[], FUZZ_MAX_CONTROL_LINE);
    let at = cut_points(data);
    assert_eq!(
        whole,
        parse_split(data, &at, FUZZ_MAX_CONTROL_LINE),
        "cut at {at:?}"
    );
    let bytewise: Vec<usize> = (1..data.len()).collect();
    assert_eq!(
        whole,
        parse_split(data, &bytewise, FUZZ_MAX_CONTROL_LINE),
        "fed byte by byte"
    );
}

/// FNV-1a of the input seeds an xorshift64: cheap, deterministic, no dependency.
fn cut_points(data: &[u8]) -> Vec<usize> {
    let mut x = data.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    }) | 1;
    let mut at: Vec<usize> = (0..data.len() / 4)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % (data.len() as u64 + 1)) as usize
        })
        .collect();
    at.sort_unstable();
    at
}

/// Tokens from a small alphabet so that subjects collide and wildcards and invalid
/// subjects (empty tokens) come up often.
const TOKENS: [&str; 6] = ["a", "b", "c", "*", ">", ""];
const QUEUES: [Option<&[u8]>; 3] = [None, Some(b"q1"), Some(b"q2")];
/// Subjects of up to this many tokens.
const MAX_TOKENS: u8 = 5;

/// The subject index against the obviously correct model: the bytes decode to inserts,
/// removes and matches (4 bytes of opcode, queue, id and length, then one byte per token),
/// and every match is checked against a list filtered with `matches_literal`.
pub fn sublist(data: &[u8]) {
    let mut list: Sublist<u8> = Sublist::new();
    let mut model: Vec<(String, Option<&[u8]>, u8)> = Vec::new();
    let mut rest = data;
    while let [op, q, id, len, tail @ ..] = rest {
        let n = usize::from(len % (MAX_TOKENS + 1)).min(tail.len());
        let (toks, tail) = tail.split_at(n);
        rest = tail;
        let subject = toks
            .iter()
            .map(|t| TOKENS[usize::from(*t) % TOKENS.len()])
            .collect::<Vec<_>>()
            .join(".");
        let queue = QUEUES[usize::from(*q) % QUEUES.len()];
        let id = id % 8;
        match op % 3 {
            0 => {
                let ok = list.insert(subject.as_bytes(), queue, id).is_ok();
                assert_eq!(ok, is_valid_subscription(subject.as_bytes()), "{subject}");
                if ok {
                    model.push((subject, queue, id));
                }
            }
            1 => {
                let removed = list.remove(subject.as_bytes(), queue, &id);
                let at = model
                    .iter()
                    .position(|(s, mq, mid)| *s == subject && *mq == queue && *mid == id);
                assert_eq!(removed, at.is_some(), "remove {subject}");
                if let Some(i) = at {
                    model.remove(i);
                }
            }
            _ => check_matches(&list, &model, &subject),
        }
        assert_eq!(list.len(), model.len());
    }
}

fn check_matches(list: &Sublist<u8>, model: &[(String, Option<&[u8]>, u8)], subject: &str) {
    let m = list.matches(subject.as_bytes());
    let matching = model
        .iter()
        .filter(|(s, _, _)| matches_literal(s.as_bytes(), subject.as_bytes()));
    let mut want_plain: Vec<u8> = matching
        .clone()
        .filter(|(_, q, _)| q.is_none())
        .map(|(_, _, id)| *id)
        .collect();
    let mut want_queued: Vec<(&[u8], u8)> = matching
        .filter_map(|(_, q, id)| q.map(|q| (q, *id)))
        .collect();
    let mut plain = m.plain.clone();
    let mut queued: Vec<(&[u8], u8)> = m
        .queues
        .iter()
        .flat_map(|(name, ids)| ids.iter().map(move |id| (&**name, *id)))
        .collect();
    for v in [&mut plain, &mut want_plain] {
        v.sort_unstable();
    }
    for v in [&mut queued, &mut want_queued] {
        v.sort_unstable();
    }
    assert_eq!(plain, want_plain, "plain matches of {subject}");
    assert_eq!(queued, want_queued, "queue matches of {subject}");
}

/// The configuration parser and the key handling behind it: an error with a position or a
/// configuration, never a panic, strict or not.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = crate::conf::parse(text);
    for strict in [false, true] {
        let _ = crate::config_file::load_str(text, &mut Config::default(), strict);
    }
}

/// The monitoring port's request-head parser: never panics, and a head complete in the
/// input parses the same with nothing after it (the monitor reads until the blank line).
pub fn monitor_request(data: &[u8]) {
    let whole = parse_request(data);
    if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
        assert_eq!(whole, parse_request(&data[..end + 4]), "head alone");
    } else {
        assert_eq!(whole, None, "no blank line, no request");
    }
}

/// An upgrade request every WebSocket input starts from, so the fuzzer spends its time on
/// frames; the first input byte says whether it offers `permessage-deflate` and asks for
/// unmasked frames, and whether the listener compresses.
const WS_REQUEST: &str = "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

/// The WebSocket layer never panics; what it makes of a stream does not depend on how the
/// stream is cut into reads; and what it writes is a `101` answer (or an HTTP refusal)
/// followed by well-formed server frames: unmasked, control frames of at most 125 bytes,
/// nothing after a close frame.
pub fn websocket(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mut input = WS_REQUEST.as_bytes().to_vec();
    if flags & 1 != 0 {
        input.extend_from_slice(b"Sec-WebSocket-Extensions: permessage-deflate\r\n");
    }
    if flags & 2 != 0 {
        input.extend_from_slice(b"Nats-No-Masking: true\r\n");
    }
    if flags & 4 != 0 {
        // The raw bytes are the request itself.
        input.clear();
    } else {
        input.extend_from_slice(b"\r\n");
    }
    input.extend_from_slice(rest);
    let policy = UpgradePolicy {
        compression: flags & 8 != 0,
        ..UpgradePolicy::default()
    };
    let whole = ws_feed(&input, &[], &policy);
    assert_eq!(whole, ws_feed(&input, &cut_points(&input), &policy), "cut");
    let (_, failure, wire) = whole;
    if !wire.starts_with(b"HTTP/1.1 101 ") {
        assert!(
            wire.is_empty() || (wire.starts_with(b"HTTP/1.1 4") && failure.is_some()),
            "nothing, or an HTTP refusal that ends the connection"
        );
        return;
    }
    let end = wire
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a whole 101 head");
    let mut frames = std::io::Cursor::new(&wire[end + 4..]);
    let mut closed = false;
    while let Some((h, len)) = FrameHeader::parse(&mut frames).expect("a server frame") {
        assert!(!closed, "a frame after the close frame");
        assert!(h.mask.is_none(), "server frames are not masked");
        if let OpCode::Control(c) = h.opcode {
            assert!(len <= 125, "control frame of {len} bytes");
            closed = c == Control::Close;
        }
        frames.set_position(frames.position() + len);
    }
    assert_eq!(
        frames.position() as usize,
        wire.len() - end - 4,
        "a cut frame"
    );
}

/// Feeds `input` to a fresh layer in reads cut at `at`: the protocol bytes, the failure if
/// any, and the bytes for the socket.
fn ws_feed(
    input: &[u8],
    at: &[usize],
    policy: &UpgradePolicy,
) -> (Vec<u8>, Option<String>, Vec<u8>) {
    let mut ws = WsLayer::default();
    let (mut plain, mut wire) = (Vec::new(), Vec::new());
    let mut from = 0;
    for &to in at.iter().chain(std::iter::once(&input.len())) {
        if let Err(e) = ws.read(&input[from..to], policy, &mut plain, &mut wire) {
            // A refusal's `Date` header changes from run to run: its status line will do.
            if !wire.starts_with(b"HTTP/1.1 101 ") {
                if let Some(end) = wire.windows(2).position(|w| w == b"\r\n") {
                    wire.truncate(end + 2);
                }
            }
            return (plain, Some(e.reason), wire);
        }
        from = to;
    }
    (plain, None, wire)
}

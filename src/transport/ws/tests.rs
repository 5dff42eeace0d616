//! The layer end to end on bytes: an upgrade, then client frames in and server frames out,
//! with the Go server's answers.

use std::io::Cursor;

use tungstenite::protocol::frame::coding::{Control, Data, OpCode};
use tungstenite::protocol::frame::{Frame, FrameHeader};

use super::*;

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn request(extra: &str) -> Vec<u8> {
    format!("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n").into_bytes()
}

/// A masked client frame.
fn frame(opcode: OpCode, fin: bool, rsv1: bool, payload: &[u8]) -> Vec<u8> {
    let header = FrameHeader {
        is_final: fin,
        rsv1,
        opcode,
        mask: Some(KEY),
        ..FrameHeader::default()
    };
    let mut out = Vec::new();
    Frame::from_payload(header, payload.to_vec().into())
        .format(&mut out)
        .unwrap();
    out
}

fn binary(payload: &[u8]) -> Vec<u8> {
    frame(OpCode::Data(Data::Binary), true, false, payload)
}

/// The server frames in `wire`: header and payload.
fn frames(wire: &[u8]) -> Vec<(FrameHeader, Vec<u8>)> {
    let mut out = Vec::new();
    let mut c = Cursor::new(wire);
    while let Some((h, len)) = FrameHeader::parse(&mut c).unwrap() {
        let at = c.position() as usize;
        out.push((h, wire[at..at + len as usize].to_vec()));
        c.set_position((at + len as usize) as u64);
    }
    assert_eq!(c.position() as usize, wire.len());
    out
}

/// An open layer and the bytes after its `101` answer.
fn open(extra: &str, policy: &UpgradePolicy) -> WsLayer {
    let mut ws = WsLayer::default();
    let (mut plain, mut wire) = (Vec::new(), Vec::new());
    ws.read(&request(extra), policy, &mut plain, &mut wire)
        .unwrap();
    assert!(!ws.upgrading() && wire.starts_with(b"HTTP/1.1 101 "));
    ws
}

fn feed(ws: &mut WsLayer, bytes: &[u8]) -> (Result<(), WsFailure>, Vec<u8>, Vec<u8>) {
    let (mut plain, mut wire) = (Vec::new(), Vec::new());
    let r = ws.read(bytes, &UpgradePolicy::default(), &mut plain, &mut wire);
    (r, plain, wire)
}

fn deflating() -> UpgradePolicy {
    UpgradePolicy {
        compression: true,
        ..UpgradePolicy::default()
    }
}

/// `len` incompressible bytes, from an xorshift.
pub(super) fn noise(len: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn waits_for_a_complete_head_and_keeps_what_follows() {
    let mut ws = WsLayer::default();
    let mut req = request("X-Forwarded-For: 10.0.0.1\r\n");
    req.extend(binary(b"PING\r\n"));
    let (r, plain, wire) = feed(&mut ws, &req[..10]);
    assert!(r.is_ok() && plain.is_empty() && wire.is_empty() && ws.upgrading());
    let (r, plain, _) = feed(&mut ws, &req[10..]);
    assert!(r.is_ok());
    assert_eq!(plain, b"PING\r\n");
    let h = ws.take_handshake().unwrap();
    assert_eq!(h.client_ip, Some("10.0.0.1".parse().unwrap()));
    assert_eq!(ws.take_handshake(), None);
}

#[test]
fn fragments_split_reads_and_control_frames() {
    let mut ws = open("", &UpgradePolicy::default());
    let mut bytes = frame(OpCode::Data(Data::Text), false, false, b"PI");
    bytes.extend(frame(OpCode::Control(Control::Ping), true, false, b"hey"));
    bytes.extend(frame(OpCode::Data(Data::Continue), true, false, b"NG\r\n"));
    let mut plain = Vec::new();
    let mut wire = Vec::new();
    for b in bytes.chunks(3) {
        let (r, p, w) = feed(&mut ws, b);
        r.unwrap();
        plain.extend(p);
        wire.extend(w);
    }
    assert_eq!(plain, b"PING\r\n");
    let got = frames(&wire);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0.opcode, OpCode::Control(Control::Pong));
    assert_eq!(got[0].1, b"hey");
    // Close: echoed, then the client is gone.
    let (r, _, wire) = feed(
        &mut ws,
        &frame(OpCode::Control(Control::Close), true, false, b"\x03\xe8bye"),
    );
    assert!(r.unwrap_err().closed_by_client);
    assert_eq!(wire, b"\x88\x05\x03\xe8bye");
}

#[test]
fn broken_frames_get_gos_close_texts() {
    let cases: [(Vec<u8>, &str); 8] = [
        (
            {
                let mut f = binary(b"x");
                f[1] &= 0x7f;
                f.truncate(2);
                f
            },
            "mask bit missing",
        ),
        (
            frame(OpCode::Data(Data::Continue), true, false, b"x"),
            "invalid continuation frame",
        ),
        (
            frame(OpCode::Data(Data::Binary), true, true, b"x"),
            "compressed frame received without negotiated permessage-deflate",
        ),
        (
            frame(OpCode::Control(Control::Ping), false, false, b""),
            "control frame does not have final bit set",
        ),
        (
            frame(OpCode::Control(Control::Ping), true, false, &[b'x'; 126]),
            "control frame length bigger than maximum allowed of 125 bytes",
        ),
        (
            frame(OpCode::Control(Control::Close), true, false, b"\x03"),
            "close frame payload cannot be 1 byte",
        ),
        (
            {
                let mut f = binary(b"x");
                f[0] = 0x83;
                f
            },
            "unknown opcode 3",
        ),
        (
            [
                frame(OpCode::Data(Data::Binary), false, false, b"a"),
                binary(b"b"),
            ]
            .concat(),
            "new message started before final frame for previous message was received",
        ),
    ];
    for (bytes, text) in cases {
        let mut ws = open("", &UpgradePolicy::default());
        let (r, _, wire) = feed(&mut ws, &bytes);
        assert_eq!(r.unwrap_err().reason, format!("read error: {text}"));
        let got = frames(&wire);
        assert_eq!(got[0].0.opcode, OpCode::Control(Control::Close), "{text}");
        assert_eq!(
            got[0].1,
            [&1002u16.to_be_bytes()[..], text.as_bytes()].concat()
        );
        // Nothing more is read or written.
        let (r, plain, wire) = feed(&mut ws, &binary(b"PING\r\n"));
        assert!(r.is_ok() && plain.is_empty() && wire.is_empty());
    }
}

#[test]
fn close_answers() {
    let mut ws = open("", &UpgradePolicy::default());
    let (_, _, wire) = feed(
        &mut ws,
        &frame(OpCode::Control(Control::Close), true, false, b""),
    );
    assert_eq!(wire, b"\x88\x00");
    let mut ws = open("", &UpgradePolicy::default());
    let (_, _, wire) = feed(
        &mut ws,
        &frame(
            OpCode::Control(Control::Close),
            true,
            false,
            b"\x03\xe8\xff",
        ),
    );
    assert_eq!(wire, b"\x88\x22\x03\xefinvalid utf8 body in close frame");
}

#[test]
fn unmasked_frames_when_asked() {
    let mut ws = open("Nats-No-Masking: true\r\n", &UpgradePolicy::default());
    let (r, plain, _) = feed(&mut ws, b"\x82\x06PING\r\n");
    r.unwrap();
    assert_eq!(plain, b"PING\r\n");
}

#[test]
fn deflate_both_ways() {
    let offer = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
    let mut ws = open(offer, &deflating());
    // A compressed message in two frames, only the first marked.
    let text = b"PUB foo 5\r\nhello\r\n".repeat(20);
    let z = deflate::compress(&text);
    let (a, b) = z.split_at(z.len() / 2);
    let mut bytes = frame(OpCode::Data(Data::Binary), false, true, a);
    bytes.extend(frame(OpCode::Data(Data::Continue), true, false, b));
    // Then an uncompressed one: the client may choose per message.
    bytes.extend(binary(b"PING\r\n"));
    let (r, plain, _) = feed(&mut ws, &bytes);
    r.unwrap();
    assert_eq!(plain, [&text[..], b"PING\r\n"].concat());
    // Output over 64 bytes is compressed, up to 64 is not.
    let mut wire = Vec::new();
    ws.write(&text, &mut wire);
    ws.write(b"PONG\r\n", &mut wire);
    let got = frames(&wire);
    assert!(got[0].0.rsv1 && got[0].0.is_final);
    assert_eq!(deflate::inflate(&got[0].1, 1 << 20).unwrap(), text);
    assert!(!got[1].0.rsv1);
    assert_eq!(got[1].1, b"PONG\r\n");
    // A continuation marked compressed is refused.
    let mut bytes = frame(OpCode::Data(Data::Binary), false, true, a);
    bytes.extend(frame(OpCode::Data(Data::Continue), true, true, b));
    let (r, _, _) = feed(&mut ws, &bytes);
    assert_eq!(
        r.unwrap_err().reason,
        "read error: invalid continuation frame"
    );
}

#[test]
fn browsers_get_small_frames() {
    let noise = noise(20_000);
    let chrome = "User-Agent: Mozilla/5.0 Chrome/120.0 Safari/537.36\r\n";
    let mut ws = open(chrome, &UpgradePolicy::default());
    let mut wire = Vec::new();
    ws.write(&noise, &mut wire);
    let got = frames(&wire);
    assert_eq!(got.len(), 5);
    assert!(got.iter().all(|(h, p)| h.is_final && p.len() <= 4096));
    // Compressed: one message over several frames, only the first marked compressed.
    let offer = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
    let mut ws = open(&format!("{chrome}{offer}"), &deflating());
    let mut wire = Vec::new();
    ws.write(&noise, &mut wire);
    let got = frames(&wire);
    assert!(got.len() > 1);
    assert!(got[0].0.rsv1 && !got[0].0.is_final);
    assert!(got[1..]
        .iter()
        .all(|(h, _)| !h.rsv1 && h.opcode == OpCode::Data(Data::Continue)));
    assert!(got.last().unwrap().0.is_final);
    let z: Vec<u8> = got.into_iter().flat_map(|(_, p)| p).collect();
    assert_eq!(deflate::inflate(&z, 1 << 20).unwrap(), noise);
    // Safari takes it in one frame.
    let safari = "User-Agent: Mozilla/5.0 Version/17.0 Safari/605.1.15\r\n";
    let mut ws = open(&format!("{safari}{offer}"), &deflating());
    let mut wire = Vec::new();
    ws.write(&noise, &mut wire);
    assert_eq!(frames(&wire).len(), 1);
}

/// A request whose path ends in `/leafnode` (query aside) is a leaf node's: a client port's
/// layer leaves it unanswered and keeps it, with what follows, for the cluster shard,
/// whose layer answers it. Other paths, `/leafnode/x` among them, are clients'.
#[test]
fn leaf_requests_are_kept_for_the_cluster_shard() {
    let policy = UpgradePolicy::default();
    let leaf_request = |path: &str| {
        let mut r = request("");
        r.splice(4..5, path.bytes());
        r
    };
    for path in ["/leafnode", "/hub/leafnode", "/leafnode?x=1"] {
        let req = leaf_request(path);
        let mut ws = WsLayer::default();
        let (mut plain, mut wire) = (Vec::new(), Vec::new());
        // Split anywhere, and a byte after the request.
        ws.read(&req[..7], &policy, &mut plain, &mut wire).unwrap();
        assert!(!ws.take_leaf_news());
        ws.read(&req[7..], &policy, &mut plain, &mut wire).unwrap();
        assert!(ws.take_leaf_news(), "{path}");
        assert!(!ws.take_leaf_news(), "told once");
        ws.read(b"!", &policy, &mut plain, &mut wire).unwrap();
        assert!(
            wire.is_empty() && plain.is_empty() && ws.upgrading(),
            "{path}"
        );
        let kept = ws.take_leaf_request().unwrap();
        assert_eq!(kept, [&req[..], b"!"].concat());

        let mut taker = WsLayer::for_leaf();
        taker.read(&kept, &policy, &mut plain, &mut wire).unwrap();
        assert!(
            !taker.upgrading() && wire.starts_with(b"HTTP/1.1 101 "),
            "{path}"
        );
    }
    for path in ["/leafnode/x", "/leafnodes", "/"] {
        let mut ws = WsLayer::default();
        let (mut plain, mut wire) = (Vec::new(), Vec::new());
        ws.read(&leaf_request(path), &policy, &mut plain, &mut wire)
            .unwrap();
        assert!(
            !ws.take_leaf_news() && ws.take_leaf_request().is_none(),
            "{path}"
        );
        assert!(wire.starts_with(b"HTTP/1.1 101 "), "{path}");
    }
}

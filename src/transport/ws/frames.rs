//! WebSocket frames after the upgrade, with the Go server's rules (`websocket.go` `wsRead`,
//! `wsHandleControlFrame`, `wsCollapsePtoNB`): tungstenite parses and formats each frame
//! header; this reassembles messages, answers control frames, inflates compressed messages
//! and frames output as Go does. Its checks and texts are Go's; tungstenite's own
//! `WebSocket` refuses compressed (RSV1) frames, so it is not used.

use std::io::Cursor;

use tungstenite::error::ProtocolError;
use tungstenite::protocol::frame::coding::{Control, Data, OpCode};
use tungstenite::protocol::frame::FrameHeader;

use super::deflate::{self, COMPRESS_THRESHOLD};
use super::WsFailure;

/// Go sends browsers frames of at most this many bytes, which they handle better
/// (`wsFrameSizeForBrowsers`, 4 KiB).
const BROWSER_FRAME_SIZE: usize = 4096;
/// A control frame carries at most this many bytes (`wsMaxControlPayloadSize`).
const MAX_CONTROL_PAYLOAD: u64 = 125;
/// Largest frame taken, and largest message after inflating: tungstenite's defaults
/// (16 MiB, 64 MiB), which bound what one connection can make this layer hold.
const MAX_FRAME_SIZE: u64 = 16 << 20;
const MAX_MESSAGE_SIZE: usize = 64 << 20;
/// Close statuses (RFC 6455 section 7.4.1) Go sends for broken frames.
pub(super) const CLOSE_PROTOCOL_ERROR: u16 = 1002;
const CLOSE_INVALID_PAYLOAD: u16 = 1007;
const CLOSE_MESSAGE_TOO_BIG: u16 = 1009;
/// A close frame's reason fits a control frame after the 2-byte status.
const MAX_CLOSE_REASON: usize = 123;

/// Why reading stopped: a close frame from the client, or a broken stream that gets a
/// close frame with this status and text.
enum Stop {
    ClientClosed,
    Broken(u16, String),
}

fn protocol(text: &str) -> Stop {
    Stop::Broken(CLOSE_PROTOCOL_ERROR, text.to_string())
}

/// One upgraded connection's framing state.
#[derive(Debug)]
pub(super) struct Session {
    /// Received bytes that do not make a whole frame yet.
    pending: Vec<u8>,
    /// `permessage-deflate` was negotiated.
    compress: bool,
    /// Client frames must be masked (unless it asked for `Nats-No-Masking`).
    masked: bool,
    /// Output goes in frames of at most `BROWSER_FRAME_SIZE`.
    browser: bool,
    /// A compressed message goes out in one frame whatever its size (Safari).
    no_compressed_fragments: bool,
    /// A data message has started and its final frame is still to come.
    in_message: bool,
    /// The payload so far of a compressed message.
    compressed: Option<Vec<u8>>,
    /// This side dialed: its frames are masked, with keys from this generator.
    masking: Option<Masks>,
}

/// Masking keys for the frames a dialing side sends (RFC 6455 section 5.3): a xorshift
/// generator seeded from the OS, so no frame costs a system call.
#[derive(Debug)]
pub(super) struct Masks(u64);

impl Masks {
    pub(super) fn new() -> Masks {
        let mut seed = [0u8; 8];
        let _ = getrandom::getrandom(&mut seed);
        Masks(u64::from_le_bytes(seed) | 1)
    }

    fn next(&mut self) -> [u8; 4] {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 as u32).to_le_bytes()
    }
}

impl Session {
    pub fn new(compress: bool, masked: bool, browser: bool, no_compressed_fragments: bool) -> Self {
        Session {
            pending: Vec::new(),
            compress,
            masked,
            browser,
            no_compressed_fragments,
            in_message: false,
            compressed: None,
            masking: None,
        }
    }

    /// The framing of a connection this side dialed: the server's frames come unmasked,
    /// and ours go masked unless the server agreed to `Nats-No-Masking`.
    pub fn dialed(masked_output: bool) -> Self {
        let mut s = Session::new(false, false, false, false);
        s.masking = masked_output.then(Masks::new);
        s
    }

    /// Takes received bytes: message payloads are appended to `plain`, pongs and close
    /// frames to `wire`.
    pub fn read(
        &mut self,
        data: &[u8],
        plain: &mut Vec<u8>,
        wire: &mut Vec<u8>,
    ) -> Result<(), WsFailure> {
        let mut pending = std::mem::take(&mut self.pending);
        pending.extend_from_slice(data);
        let mut off = 0;
        let r = loop {
            match self.frame(&pending[off..], plain, wire) {
                Ok(0) => break Ok(()),
                Ok(n) => off += n,
                Err(e) => break Err(e),
            }
        };
        pending.drain(..off);
        self.pending = pending;
        r.map_err(|stop| match stop {
            Stop::ClientClosed => WsFailure {
                reason: "Client Closed".into(),
                closed_by_client: true,
            },
            Stop::Broken(status, text) => {
                close(status, &text, wire);
                WsFailure {
                    reason: format!("read error: {text}"),
                    closed_by_client: false,
                }
            }
        })
    }

    /// Handles the frame at the start of `buf`; returns its length, 0 when it is not all
    /// there yet.
    fn frame(
        &mut self,
        buf: &[u8],
        plain: &mut Vec<u8>,
        wire: &mut Vec<u8>,
    ) -> Result<usize, Stop> {
        // The mask bit is Go's first check, before the opcode's.
        if self.masked && buf.len() >= 2 && buf[1] & 0x80 == 0 {
            return Err(protocol("mask bit missing"));
        }
        let mut cursor = Cursor::new(buf);
        let (header, len) = match FrameHeader::parse(&mut cursor) {
            Ok(Some(h)) => h,
            Ok(None) => return Ok(0),
            Err(tungstenite::Error::Protocol(ProtocolError::InvalidOpcode(op))) => {
                return Err(protocol(&format!("unknown opcode {op}")))
            }
            Err(e) => return Err(protocol(&e.to_string())),
        };
        if len > MAX_FRAME_SIZE {
            return Err(Stop::Broken(
                CLOSE_MESSAGE_TOO_BIG,
                format!("frame of {len} bytes, more than the {MAX_FRAME_SIZE} allowed"),
            ));
        }
        // Checked on the header, before waiting for the payload, as Go does.
        self.check(&header, len)?;
        let start = cursor.position() as usize;
        let end = start + len as usize;
        if buf.len() < end {
            return Ok(0);
        }
        let payload = &buf[start..end];
        let unmask = |out: &mut Vec<u8>| {
            let at = out.len();
            out.extend_from_slice(payload);
            if let Some(key) = header.mask {
                apply_mask(&mut out[at..], key);
            }
        };
        match header.opcode {
            OpCode::Control(Control::Ping) => {
                let mut p = Vec::new();
                unmask(&mut p);
                let header = FrameHeader {
                    opcode: OpCode::Control(Control::Pong),
                    ..FrameHeader::default()
                };
                put_masked(header, &p, self.masking.as_mut(), wire);
            }
            OpCode::Control(Control::Close) => {
                let mut p = Vec::new();
                unmask(&mut p);
                return Err(self.closed(&p, wire));
            }
            OpCode::Control(_) => {}
            OpCode::Data(data) => {
                if data != Data::Continue && header.rsv1 {
                    self.compressed = Some(Vec::new());
                }
                self.in_message = !header.is_final;
                let Some(z) = &mut self.compressed else {
                    // Uncompressed fragments pass through as they come.
                    unmask(plain);
                    return Ok(end);
                };
                unmask(z);
                if z.len() > MAX_MESSAGE_SIZE {
                    return Err(Stop::Broken(
                        CLOSE_MESSAGE_TOO_BIG,
                        format!("compressed message bigger than {MAX_MESSAGE_SIZE} bytes"),
                    ));
                }
                if header.is_final {
                    let z = self.compressed.take().unwrap_or_default();
                    let inflated =
                        deflate::inflate(&z, MAX_MESSAGE_SIZE).map_err(|e| protocol(&e))?;
                    plain.extend_from_slice(&inflated);
                }
            }
        }
        Ok(end)
    }

    /// Go's checks of a frame header, in its order.
    fn check(&self, h: &FrameHeader, len: u64) -> Result<(), Stop> {
        if h.rsv1 && !self.compress {
            return Err(protocol(
                "compressed frame received without negotiated permessage-deflate",
            ));
        }
        match h.opcode {
            OpCode::Control(_) if len > MAX_CONTROL_PAYLOAD => Err(protocol(&format!(
                "control frame length bigger than maximum allowed of {MAX_CONTROL_PAYLOAD} bytes"
            ))),
            OpCode::Control(_) if !h.is_final => {
                Err(protocol("control frame does not have final bit set"))
            }
            OpCode::Control(_) if h.rsv1 => Err(protocol("control frame must not be compressed")),
            OpCode::Data(Data::Continue) if !self.in_message || h.rsv1 => {
                Err(protocol("invalid continuation frame"))
            }
            OpCode::Data(Data::Text | Data::Binary) if self.in_message => Err(protocol(
                "new message started before final frame for previous message was received",
            )),
            _ => Ok(()),
        }
    }

    /// A close frame from the client: Go echoes its status and text (an empty one with an
    /// empty one), refuses a 1-byte payload, and answers a text that is not UTF-8 with 1007.
    fn closed(&self, payload: &[u8], wire: &mut Vec<u8>) -> Stop {
        match payload {
            [] => control(Control::Close, &[], wire),
            [_] => return protocol("close frame payload cannot be 1 byte"),
            [a, b, text @ ..] => match std::str::from_utf8(text) {
                Ok(text) => close(u16::from_be_bytes([*a, *b]), text, wire),
                Err(_) => close(
                    CLOSE_INVALID_PAYLOAD,
                    "invalid utf8 body in close frame",
                    wire,
                ),
            },
        }
        Stop::ClientClosed
    }

    /// Frames protocol output as Go does: output of more than `COMPRESS_THRESHOLD` bytes is
    /// one compressed message when compression was negotiated (split into browser-sized
    /// frames, only the first marked compressed, unless Safari); otherwise binary frames,
    /// browser-sized for browsers.
    pub fn write(&mut self, plain: &[u8], wire: &mut Vec<u8>) {
        let limit = if self.browser {
            BROWSER_FRAME_SIZE
        } else {
            usize::MAX
        };
        if self.compress && plain.len() > COMPRESS_THRESHOLD {
            let z = deflate::compress(plain);
            let limit = if self.no_compressed_fragments {
                usize::MAX
            } else {
                limit
            };
            let parts = z.len().div_ceil(limit);
            for (i, part) in z.chunks(limit).enumerate() {
                let opcode = if i == 0 { Data::Binary } else { Data::Continue };
                data_frame(opcode, i == 0, i + 1 == parts, part, wire);
            }
        } else {
            for part in plain.chunks(limit) {
                let header = FrameHeader {
                    opcode: OpCode::Data(Data::Binary),
                    ..FrameHeader::default()
                };
                put_masked(header, part, self.masking.as_mut(), wire);
            }
        }
    }
}

fn data_frame(opcode: Data, rsv1: bool, is_final: bool, payload: &[u8], wire: &mut Vec<u8>) {
    let header = FrameHeader {
        is_final,
        rsv1,
        opcode: OpCode::Data(opcode),
        ..FrameHeader::default()
    };
    put(&header, payload, wire);
}

fn control(kind: Control, payload: &[u8], wire: &mut Vec<u8>) {
    let header = FrameHeader {
        opcode: OpCode::Control(kind),
        ..FrameHeader::default()
    };
    put(&header, payload, wire);
}

/// A frame with a fresh masking key when `masks` is given.
fn put_masked(
    mut header: FrameHeader,
    payload: &[u8],
    masks: Option<&mut Masks>,
    wire: &mut Vec<u8>,
) {
    let Some(key) = masks.map(Masks::next) else {
        return put(&header, payload, wire);
    };
    header.mask = Some(key);
    header
        .format(payload.len() as u64, wire)
        .expect("writing to a Vec cannot fail");
    let at = wire.len();
    wire.extend_from_slice(payload);
    apply_mask(&mut wire[at..], key);
}

/// Masks or unmasks a payload with `key` (RFC 6455 section 5.3: the same XOR both ways).
fn apply_mask(payload: &mut [u8], key: [u8; 4]) {
    for (i, b) in payload.iter_mut().enumerate() {
        *b ^= key[i & 3];
    }
}

fn put(header: &FrameHeader, payload: &[u8], wire: &mut Vec<u8>) {
    header
        .format(payload.len() as u64, wire)
        .expect("writing to a Vec cannot fail");
    wire.extend_from_slice(payload);
}

/// A close frame with `status` and `reason`, cut to fit a control frame as Go cuts it
/// (`wsCreateCloseMessage`: at most 123 bytes, ending in "..." when cut).
pub(super) fn close(status: u16, reason: &str, wire: &mut Vec<u8>) {
    let mut text = reason.to_string();
    if text.len() > MAX_CLOSE_REASON {
        let mut cut = MAX_CLOSE_REASON - 3;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("...");
    }
    let mut payload = status.to_be_bytes().to_vec();
    payload.extend_from_slice(text.as_bytes());
    control(Control::Close, &payload, wire);
}

//! S2 stream compression of route and leaf node connections, sans-IO, as Go servers frame
//! it (klauspost/compress `s2`, which `route.go` and `leafnode.go` wrap around the
//! connection once `compression` is negotiated).
//!
//! A stream is chunks of `type, 3-byte length, body`: a stream identifier (`S2sTwO`, or
//! Snappy's `sNaPpY`), then compressed (0x00) or stored (0x01) chunks, each with the
//! masked CRC-32C of its data. Go starts a new stream at each flush, so identifiers recur.
//! Blocks are written in the Snappy block format, which S2 readers take as it is; reading
//! takes S2's too, whose copies may repeat the last offset.

/// The largest block an S2 stream carries (`s2.maxBlockSize`, 4 MiB).
const MAX_BLOCK: usize = 4 << 20;
/// The largest chunk read: a block that did not compress well, its CRC and some slack
/// (`s2.obufLen` is a little over `MAX_BLOCK`).
const MAX_CHUNK: usize = MAX_BLOCK + MAX_BLOCK / 4;
/// Blocks written are at most this big: Snappy's framing limit, which keeps every chunk
/// readable by a Snappy reader too.
const WRITE_BLOCK: usize = 64 * 1024;
/// Shorter output is stored without trying to compress it (`s2`'s `minNonLiteralBlockSize`
/// is 32 bytes: below it a block cannot shrink).
const MIN_COMPRESS: usize = 32;

const CHUNK_COMPRESSED: u8 = 0x00;
const CHUNK_STORED: u8 = 0x01;
const CHUNK_PADDING: u8 = 0xfe;
const CHUNK_STREAM_ID: u8 = 0xff;
const S2_MAGIC: &[u8; 6] = b"S2sTwO";
const SNAPPY_MAGIC: &[u8; 6] = b"sNaPpY";

/// How hard the writer tries: Go's `s2_uncompressed` stores every block; the other levels
/// compress (`s2_better` and `s2_best` with the same fast encoder here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Stored,
    Compressed,
}

/// Why a stream could not be read; the connection closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum S2Error {
    /// A chunk type S2 reserves (0x02-0x7f), or data before the stream identifier.
    BadChunk,
    /// A chunk or block larger than S2 allows.
    TooLarge,
    /// A block that does not decode to its stated length.
    Corrupt,
    /// A chunk whose data does not match its CRC.
    Checksum,
}

impl std::fmt::Display for S2Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            S2Error::BadChunk => "s2: unsupported input",
            S2Error::TooLarge => "s2: unsupported input",
            S2Error::Corrupt => "s2: corrupt input",
            S2Error::Checksum => "s2: corrupt input, crc mismatch",
        })
    }
}

/// Both directions of a compressed connection.
#[derive(Debug)]
pub struct S2Codec {
    level: Level,
    encoder: snap::raw::Encoder,
    /// The stream identifier has been written.
    started: bool,
    /// Output collected over one flush, compressed as one block at its end.
    staged: Vec<u8>,
    block: Vec<u8>,
    /// Received bytes that do not make a whole chunk yet.
    partial: Vec<u8>,
    /// The peer's stream identifier has been read.
    identified: bool,
}

impl S2Codec {
    pub fn new(level: Level) -> S2Codec {
        S2Codec {
            level,
            encoder: snap::raw::Encoder::new(),
            started: false,
            staged: Vec::new(),
            block: Vec::new(),
            partial: Vec::new(),
            identified: false,
        }
    }

    /// `s2_auto` picked another level (the connection's RTT changed).
    pub fn set_level(&mut self, level: Level) {
        self.level = level;
    }

    /// Collects protocol output until `finish`.
    pub fn stage(&mut self, bytes: &[u8]) {
        self.staged.extend_from_slice(bytes);
    }

    /// Writes the collected output as chunks to `out`.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.staged.is_empty() {
            return;
        }
        let staged = std::mem::take(&mut self.staged);
        self.encode(&staged, out);
        self.staged = staged;
        self.staged.clear();
    }

    /// Writes `data` as chunks to `out`.
    pub fn encode(&mut self, data: &[u8], out: &mut Vec<u8>) {
        if !self.started {
            self.started = true;
            out.push(CHUNK_STREAM_ID);
            out.extend_from_slice(&[S2_MAGIC.len() as u8, 0, 0]);
            out.extend_from_slice(S2_MAGIC);
        }
        for block in data.chunks(WRITE_BLOCK) {
            let crc = masked_crc(block);
            let compressed = match self.level {
                Level::Compressed if block.len() >= MIN_COMPRESS => {
                    self.block
                        .resize(snap::raw::max_compress_len(block.len()), 0);
                    match self.encoder.compress(block, &mut self.block) {
                        // Worth it only if it saves an eighth, as Snappy's framing decides.
                        Ok(n) if n < block.len() - block.len() / 8 => Some(n),
                        _ => None,
                    }
                }
                _ => None,
            };
            let (kind, body) = match compressed {
                Some(n) => (CHUNK_COMPRESSED, &self.block[..n]),
                None => (CHUNK_STORED, block),
            };
            let len = (body.len() + 4) as u32;
            out.push(kind);
            out.extend_from_slice(&len.to_le_bytes()[..3]);
            out.extend_from_slice(&crc.to_le_bytes());
            out.extend_from_slice(body);
        }
    }

    /// Decodes every whole chunk of `data` (after what earlier calls left) into `app`.
    pub fn decode(&mut self, data: &[u8], app: &mut Vec<u8>) -> Result<(), S2Error> {
        if self.partial.is_empty() {
            let used = self.chunks(data, app)?;
            self.partial.extend_from_slice(&data[used..]);
            return Ok(());
        }
        self.partial.extend_from_slice(data);
        let partial = std::mem::take(&mut self.partial);
        let used = self.chunks(&partial, app);
        self.partial = partial;
        self.partial.drain(..used?);
        Ok(())
    }

    /// Decodes the whole chunks at the start of `buf`; returns the bytes used.
    fn chunks(&mut self, buf: &[u8], app: &mut Vec<u8>) -> Result<usize, S2Error> {
        let mut at = 0;
        while buf.len() - at >= 4 {
            let kind = buf[at];
            let len = u32::from_le_bytes([buf[at + 1], buf[at + 2], buf[at + 3], 0]) as usize;
            if len > MAX_CHUNK {
                return Err(S2Error::TooLarge);
            }
            let Some(body) = buf.get(at + 4..at + 4 + len) else {
                break;
            };
            at += 4 + len;
            match kind {
                CHUNK_STREAM_ID => {
                    if body != S2_MAGIC && body != SNAPPY_MAGIC {
                        return Err(S2Error::BadChunk);
                    }
                    self.identified = true;
                    continue;
                }
                _ if !self.identified => return Err(S2Error::BadChunk),
                CHUNK_COMPRESSED | CHUNK_STORED => {
                    let (crc, data) = body.split_at_checked(4).ok_or(S2Error::Corrupt)?;
                    let start = app.len();
                    if kind == CHUNK_STORED {
                        if data.len() > MAX_BLOCK {
                            return Err(S2Error::TooLarge);
                        }
                        app.extend_from_slice(data);
                    } else {
                        decode_block(data, app)?;
                    }
                    let crc = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
                    if masked_crc(&app[start..]) != crc {
                        return Err(S2Error::Checksum);
                    }
                }
                // Padding and the skippable chunks (0x80-0xfd, e.g. S2's index) carry nothing.
                CHUNK_PADDING | 0x80..=0xfd => {}
                _ => return Err(S2Error::BadChunk),
            }
        }
        Ok(at)
    }
}

/// The CRC-32C of `data`, masked as the Snappy framing format masks it.
fn masked_crc(data: &[u8]) -> u32 {
    let c = crc32c::crc32c(data);
    c.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// Appends the decoded S2 (or Snappy) block `src` to `dst` (`s2/decode_other.go`).
fn decode_block(src: &[u8], dst: &mut Vec<u8>) -> Result<(), S2Error> {
    let (n, mut s) = uvarint(src).ok_or(S2Error::Corrupt)?;
    if n > MAX_BLOCK {
        return Err(S2Error::TooLarge);
    }
    let start = dst.len();
    let end = start + n;
    dst.reserve(n);
    let byte = |i: usize| src.get(i).copied().map(usize::from).ok_or(S2Error::Corrupt);
    let le = |at: usize, n: usize| -> Result<usize, S2Error> {
        let b = src.get(at..at + n).ok_or(S2Error::Corrupt)?;
        Ok(b.iter().rev().fold(0, |v, &x| v << 8 | usize::from(x)))
    };
    let mut offset = 0;
    while s < src.len() {
        let tag = src[s];
        let length = match tag & 3 {
            0 => {
                let x = usize::from(tag >> 2);
                let (len, skip) = match x {
                    0..60 => (x + 1, 1),
                    _ => (le(s + 1, x - 59)? + 1, 1 + x - 59),
                };
                s += skip;
                let lit = src.get(s..s + len).ok_or(S2Error::Corrupt)?;
                if dst.len() + len > end {
                    return Err(S2Error::Corrupt);
                }
                dst.extend_from_slice(lit);
                s += len;
                continue;
            }
            1 => {
                let code = usize::from(tag >> 2 & 7);
                let at = ((usize::from(tag) & 0xe0) << 3) | byte(s + 1)?;
                s += 2;
                // S2's repeat: offset 0 keeps the last one, and longer lengths follow.
                let length = match (at, code) {
                    (0, 5) => {
                        s += 1;
                        byte(s - 1)? + 4
                    }
                    (0, 6) => {
                        s += 2;
                        le(s - 2, 2)? + (1 << 8)
                    }
                    (0, 7) => {
                        s += 3;
                        le(s - 3, 3)? + (1 << 16)
                    }
                    (0, c) => c,
                    (o, c) => {
                        offset = o;
                        c
                    }
                };
                length + 4
            }
            2 => {
                offset = le(s + 1, 2)?;
                s += 3;
                usize::from(tag >> 2) + 1
            }
            _ => {
                offset = le(s + 1, 4)?;
                s += 5;
                usize::from(tag >> 2) + 1
            }
        };
        let written = dst.len() - start;
        if offset == 0 || offset > written || dst.len() + length > end {
            return Err(S2Error::Corrupt);
        }
        let from = dst.len() - offset;
        if offset >= length {
            dst.extend_from_within(from..from + length);
        } else {
            // Overlapping: the copy repeats what it writes.
            for i in 0..length {
                let b = dst[from + i];
                dst.push(b);
            }
        }
    }
    if dst.len() != end {
        return Err(S2Error::Corrupt);
    }
    Ok(())
}

/// A little-endian base-128 length and the bytes it took.
fn uvarint(b: &[u8]) -> Option<(usize, usize)> {
    let mut v = 0usize;
    for (i, &x) in b.iter().enumerate().take(5) {
        v |= usize::from(x & 0x7f) << (7 * i);
        if x < 0x80 {
            return Some((v, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(level: Level, data: &[u8], pieces: usize) {
        let mut w = S2Codec::new(level);
        let mut wire = Vec::new();
        w.stage(data);
        w.finish(&mut wire);
        let mut r = S2Codec::new(level);
        let mut app = Vec::new();
        let step = wire.len().div_ceil(pieces).max(1);
        for piece in wire.chunks(step) {
            r.decode(piece, &mut app).unwrap();
        }
        assert_eq!(app, data);
    }

    #[test]
    fn streams_round_trip_in_any_pieces() {
        let text: Vec<u8> = (0..200_000u32)
            .flat_map(|i| format!("RMSG $G foo.{} {}\r\nhello\r\n", i % 17, i % 5).into_bytes())
            .collect();
        for level in [Level::Stored, Level::Compressed] {
            for pieces in [1, 3, 1000] {
                round_trip(level, &text, pieces);
                round_trip(level, b"PING\r\n", pieces);
            }
        }
    }

    /// A stream nats-server 2.15.1 wrote on a route (`s2_fast`): a compressed INFO with
    /// S2's repeat copies, the identifier again (a new stream per flush) and a stored PONG.
    #[test]
    fn reads_what_go_writes() {
        let wire = include_bytes!("../../tests/data/s2/go_route_stream.bin");
        let mut r = S2Codec::new(Level::Compressed);
        let mut app = Vec::new();
        r.decode(wire, &mut app).unwrap();
        let text = String::from_utf8(app).unwrap();
        assert!(text.starts_with("INFO {\"server_id\":\""), "{text}");
        assert!(text.ends_with("PONG\r\n"), "{text}");
    }

    #[test]
    fn damage_is_an_error_not_a_panic() {
        let mut w = S2Codec::new(Level::Compressed);
        let mut wire = Vec::new();
        w.encode(&b"abcdefgh".repeat(100), &mut wire);
        for i in 0..wire.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut bad = wire.clone();
                bad[i] ^= flip;
                let _ = S2Codec::new(Level::Compressed).decode(&bad, &mut Vec::new());
            }
        }
        // The CRC follows the identifier (10 bytes) and the chunk header (4).
        let mut crc = wire.clone();
        crc[14] ^= 1;
        assert_eq!(
            S2Codec::new(Level::Compressed).decode(&crc, &mut Vec::new()),
            Err(S2Error::Checksum)
        );
        let headless = &wire[10..];
        assert_eq!(
            S2Codec::new(Level::Compressed).decode(headless, &mut Vec::new()),
            Err(S2Error::BadChunk)
        );
    }
}

//! `permessage-deflate` (RFC 7692) as the Go server negotiates it: no context takeover either
//! way, so every message is compressed and inflated on its own (`websocket.go`
//! `wsCollapsePtoNB`, `wsReadInfo.decompress`).

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// Go does not compress output of this many bytes or fewer (`wsCompressThreshold`).
pub(super) const COMPRESS_THRESHOLD: usize = 64;
/// The empty stored block a sync flush ends with; RFC 7692 section 7.2.1 has the sender drop
/// it and section 7.2.2 the receiver put it back.
const SYNC_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];
/// Output grows by this much at a time while compressing or inflating.
const CHUNK: usize = 16 * 1024;

/// One message compressed with a fresh context at Go's `flate.BestSpeed` (level 1), sync
/// flushed, without the trailing empty block.
pub(super) fn compress(plain: &[u8]) -> Vec<u8> {
    let mut c = Compress::new(Compression::fast(), false);
    let mut out = Vec::with_capacity(plain.len() / 2 + CHUNK);
    loop {
        let consumed = c.total_in() as usize;
        // Fails only on a misuse of the stream, which this loop does not do.
        c.compress_vec(&plain[consumed..], &mut out, FlushCompress::Sync)
            .expect("deflate of an in-memory buffer");
        // Room left over means the flush is complete.
        if c.total_in() as usize == plain.len() && out.len() < out.capacity() {
            break;
        }
        out.reserve(CHUNK);
    }
    if out.ends_with(&SYNC_TAIL) {
        out.truncate(out.len() - SYNC_TAIL.len());
    }
    out
}

/// Inflates one message's payload (all its frames), at most `limit` bytes of output. The
/// client promised `client_no_context_takeover`, so each message starts a fresh window.
pub(super) fn inflate(payload: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    let mut d = Decompress::new(false);
    let mut out = Vec::with_capacity((payload.len() * 2).min(limit).max(CHUNK));
    for input in [payload, &SYNC_TAIL[..]] {
        let start = d.total_in();
        loop {
            let used = (d.total_in() - start) as usize;
            let status = d
                .decompress_vec(&input[used..], &mut out, FlushDecompress::Sync)
                .map_err(|e| format!("flate: {e}"))?;
            if out.len() > limit {
                return Err(format!("decompressed message bigger than {limit} bytes"));
            }
            let used = (d.total_in() - start) as usize;
            if status == Status::StreamEnd || (used == input.len() && out.len() < out.capacity()) {
                break;
            }
            out.reserve(CHUNK);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tail() {
        let text = b"MSG foo 1 100\r\n".repeat(50);
        let z = compress(&text);
        assert!(z.len() < text.len() / 4);
        assert!(!z.ends_with(&SYNC_TAIL));
        assert_eq!(inflate(&z, 1 << 20).unwrap(), text);
        // Bigger than one chunk either way, and incompressible.
        let noise = super::super::tests::noise(100_000);
        assert_eq!(inflate(&compress(&noise), 1 << 20).unwrap(), noise);
    }

    #[test]
    fn refuses_garbage_and_bombs() {
        assert!(inflate(b"garbage", 1 << 20)
            .unwrap_err()
            .starts_with("flate: "));
        let zeros = compress(&vec![0u8; 1 << 20]);
        assert!(inflate(&zeros, 1000)
            .unwrap_err()
            .contains("bigger than 1000"));
    }

    #[test]
    fn reads_what_zlib_writes() {
        // A raw deflate sync-flushed by Python's zlib (compressobj(wbits=-15)), tail dropped:
        // "hello hello hello".
        let z = [
            0xca, 0x48, 0xcd, 0xc9, 0xc9, 0x57, 0xc8, 0x40, 0x90, 0x00, 0x00,
        ];
        assert_eq!(inflate(&z, 100).unwrap(), b"hello hello hello");
    }
}

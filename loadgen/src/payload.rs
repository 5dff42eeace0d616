//! What a message body carries so that receivers can measure it: bytes 0..8 hold the intended
//! send time (u64 nanoseconds since the run's shared start `Instant`, little-endian), bytes
//! 8..16 the publisher id and its sequence number. Shorter payloads carry what fits; the rest
//! of the body is zero filler up to `--size`.

/// Bytes of the intended-send-time stamp; open-loop runs need at least this many.
pub const STAMP_BYTES: usize = 8;
/// Bytes of stamp plus origin; from this size on loss and duplicates are tracked per message.
pub const HEADER_BYTES: usize = 16;
/// Sequence numbers get the low 40 bits of the origin word (10^12 messages per publisher),
/// publisher ids the high 24.
const SEQ_BITS: u32 = 40;
const SEQ_MASK: u64 = (1 << SEQ_BITS) - 1;
/// Publishers (or requesters) one run can tell apart.
pub const MAX_PUBLISHERS: usize = 1 << (64 - SEQ_BITS);

/// Where a message came from: which publisher and its position in that publisher's sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    pub publisher: u32,
    pub seq: u64,
}

/// Writes what fits of the header into `payload`.
pub fn stamp(payload: &mut [u8], intended_ns: u64, publisher: u32, seq: u64) {
    if payload.len() >= STAMP_BYTES {
        payload[..STAMP_BYTES].copy_from_slice(&intended_ns.to_le_bytes());
    }
    if payload.len() >= HEADER_BYTES {
        let origin = (u64::from(publisher) << SEQ_BITS) | (seq & SEQ_MASK);
        payload[STAMP_BYTES..HEADER_BYTES].copy_from_slice(&origin.to_le_bytes());
    }
}

pub fn read_stamp(payload: &[u8]) -> Option<u64> {
    let bytes = payload.get(..STAMP_BYTES)?;
    Some(u64::from_le_bytes(bytes.try_into().ok()?))
}

pub fn read_origin(payload: &[u8]) -> Option<Origin> {
    let bytes = payload.get(STAMP_BYTES..HEADER_BYTES)?;
    let word = u64::from_le_bytes(bytes.try_into().ok()?);
    Some(Origin {
        publisher: (word >> SEQ_BITS) as u32,
        seq: word & SEQ_MASK,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut p = [0u8; 32];
        stamp(&mut p, 123_456_789, 7, 99);
        assert_eq!(read_stamp(&p), Some(123_456_789));
        assert_eq!(
            read_origin(&p),
            Some(Origin {
                publisher: 7,
                seq: 99
            })
        );
        assert_eq!(&p[..8], &123_456_789u64.to_le_bytes());
        assert!(p[16..].iter().all(|&b| b == 0));
    }

    #[test]
    fn short_payloads_carry_what_fits() {
        let mut p = [0u8; 10];
        stamp(&mut p, 5, 1, 2);
        assert_eq!(read_stamp(&p), Some(5));
        assert_eq!(read_origin(&p), None);
        let mut tiny = [0u8; 4];
        stamp(&mut tiny, 5, 1, 2);
        assert_eq!(tiny, [0; 4]);
        assert_eq!(read_stamp(&tiny), None);
    }

    #[test]
    fn largest_publisher_id_fits() {
        let mut p = [0u8; 16];
        let last = (MAX_PUBLISHERS - 1) as u32;
        stamp(&mut p, 0, last, SEQ_MASK);
        assert_eq!(
            read_origin(&p),
            Some(Origin {
                publisher: last,
                seq: SEQ_MASK
            })
        );
    }
}

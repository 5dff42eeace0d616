//! Input read while a connection is held (a PONG barrier, a stall), kept read by read and
//! parsed from the front when it flows again: a read is copied in once, never moved while
//! it waits, and dropped once parsed, however many pauses it is parsed across.

use std::collections::VecDeque;

#[derive(Debug, Default)]
pub struct Stash {
    reads: VecDeque<Vec<u8>>,
    /// Bytes of the first read already parsed.
    at: usize,
}

impl Stash {
    pub fn push(&mut self, data: &[u8]) {
        if !data.is_empty() {
            self.reads.push_back(data.to_vec());
        }
    }

    pub fn is_empty(&self) -> bool {
        self.reads.is_empty()
    }

    /// The first unparsed bytes, at most `max` of them.
    pub fn front(&self, max: usize) -> Option<&[u8]> {
        let read = &self.reads.front()?[self.at..];
        Some(&read[..read.len().min(max)])
    }

    /// `n` bytes of `front` were parsed.
    pub fn consume(&mut self, n: usize) {
        self.at += n;
        if self.reads.front().is_some_and(|r| self.at >= r.len()) {
            self.reads.pop_front();
            self.at = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_reads_in_order_across_partial_steps() {
        let mut s = Stash::default();
        s.push(b"abcdef");
        s.push(b"");
        s.push(b"gh");
        let mut out = Vec::new();
        for (max, n) in [(4, 3), (10, 1), (1, 1), (10, 1), (10, 2)] {
            let f = s.front(max).unwrap();
            out.extend_from_slice(&f[..n]);
            s.consume(n);
        }
        assert_eq!(out, b"abcdefgh");
        assert!(s.is_empty() && s.front(10).is_none());
    }
}

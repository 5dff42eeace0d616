//! Which (publisher, sequence) pairs a receiver has seen, to count unique messages and
//! duplicates exactly. Members of a queue group each see part of the stream; merging their
//! trackers finds messages delivered to two members.

const BITS_PER_WORD: u64 = u64::BITS as u64;
/// Sequence numbers past 2^32 per publisher (a 512 MiB bitset) are not from this run.
const MAX_TRACKED_SEQ: u64 = 1 << 32;

/// What recording a message found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sighting {
    First,
    Duplicate,
    /// An origin this run cannot have sent.
    Foreign,
}

#[derive(Debug, Default, Clone)]
pub struct SeqTracker {
    /// One bitset of seen sequence numbers per publisher id.
    seen: Vec<Vec<u64>>,
    unique: u64,
    duplicates: u64,
}

impl SeqTracker {
    pub fn new(publishers: usize) -> SeqTracker {
        SeqTracker {
            seen: vec![Vec::new(); publishers],
            unique: 0,
            duplicates: 0,
        }
    }

    pub fn record(&mut self, publisher: u32, seq: u64) -> Sighting {
        let Some(bits) = self.seen.get_mut(publisher as usize) else {
            return Sighting::Foreign;
        };
        if seq >= MAX_TRACKED_SEQ {
            return Sighting::Foreign;
        }
        let word = (seq / BITS_PER_WORD) as usize;
        let mask = 1u64 << (seq % BITS_PER_WORD);
        if word >= bits.len() {
            bits.resize((word + 1).next_power_of_two(), 0);
        }
        if bits[word] & mask == 0 {
            bits[word] |= mask;
            self.unique += 1;
            Sighting::First
        } else {
            self.duplicates += 1;
            Sighting::Duplicate
        }
    }

    pub fn unique(&self) -> u64 {
        self.unique
    }

    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// Adds `other`'s messages; one seen by both counts as a duplicate.
    pub fn merge(&mut self, other: &SeqTracker) {
        if self.seen.len() < other.seen.len() {
            self.seen.resize(other.seen.len(), Vec::new());
        }
        for (mine, theirs) in self.seen.iter_mut().zip(&other.seen) {
            if mine.len() < theirs.len() {
                mine.resize(theirs.len(), 0);
            }
            for (m, t) in mine.iter_mut().zip(theirs) {
                let overlap = u64::from((*m & *t).count_ones());
                self.duplicates += overlap;
                self.unique += u64::from(t.count_ones()) - overlap;
                *m |= *t;
            }
        }
        self.duplicates += other.duplicates;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_unique_and_duplicates() {
        let mut t = SeqTracker::new(2);
        let sightings: Vec<Sighting> = [0, 1, 2, 2, 64, 1000, 0]
            .into_iter()
            .map(|seq| t.record(0, seq))
            .collect();
        use Sighting::*;
        assert_eq!(
            sightings,
            vec![First, First, First, Duplicate, First, First, Duplicate]
        );
        assert_eq!(t.record(1, 0), First);
        assert_eq!(t.record(2, 0), Foreign);
        assert_eq!(t.record(0, MAX_TRACKED_SEQ), Foreign);
        assert_eq!((t.unique(), t.duplicates()), (6, 2));
    }

    #[test]
    fn merge_finds_cross_member_duplicates() {
        let mut a = SeqTracker::new(1);
        let mut b = SeqTracker::new(1);
        for seq in 0..100 {
            if seq % 2 == 0 {
                a.record(0, seq);
            } else {
                b.record(0, seq);
            }
        }
        b.record(0, 10);
        b.record(0, 3);
        a.merge(&b);
        assert_eq!((a.unique(), a.duplicates()), (100, 2));
    }
}

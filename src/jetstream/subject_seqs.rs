//! One subject's stored sequences, ascending (sans-IO). Most subjects of a key-value
//! bucket hold one message, so one is kept inline: a list is a heap allocation, and twice
//! the room in the store's subject table, per key.

use std::collections::VecDeque;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SubjectSeqs {
    One(u64),
    // Boxed, so that the common `One` is 16 bytes rather than a list's 40.
    #[allow(clippy::box_collection)]
    Many(Box<VecDeque<u64>>),
}

impl SubjectSeqs {
    fn slices(&self) -> (&[u64], &[u64]) {
        match self {
            SubjectSeqs::One(seq) => (std::slice::from_ref(seq), &[]),
            SubjectSeqs::Many(q) => q.as_slices(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            SubjectSeqs::One(_) => 1,
            SubjectSeqs::Many(q) => q.len(),
        }
    }

    pub(crate) fn first(&self) -> u64 {
        match self {
            SubjectSeqs::One(seq) => *seq,
            SubjectSeqs::Many(q) => q.front().copied().unwrap_or(0),
        }
    }

    pub(crate) fn last(&self) -> u64 {
        match self {
            SubjectSeqs::One(seq) => *seq,
            SubjectSeqs::Many(q) => q.back().copied().unwrap_or(0),
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        let (a, b) = self.slices();
        a.iter().chain(b).copied()
    }

    /// The first sequence at or after `seq`.
    pub(crate) fn first_from(&self, seq: u64) -> Option<u64> {
        self.iter().nth(self.count_below(seq))
    }

    /// How many are below `seq`.
    pub(crate) fn count_below(&self, seq: u64) -> usize {
        let (a, b) = self.slices();
        match a.partition_point(|&s| s < seq) {
            n if n < a.len() => n,
            n => n + b.partition_point(|&s| s < seq),
        }
    }

    /// Adds `seq`, the newest.
    pub(crate) fn push(&mut self, seq: u64) {
        match self {
            SubjectSeqs::One(first) => {
                *self = SubjectSeqs::Many(Box::new(VecDeque::from([*first, seq])));
            }
            SubjectSeqs::Many(q) => q.push_back(seq),
        }
    }

    /// Removes `seq` if it is there; returns whether none is left.
    pub(crate) fn remove(&mut self, seq: u64) -> bool {
        match self {
            SubjectSeqs::One(only) => *only == seq,
            SubjectSeqs::Many(q) => {
                if let Ok(i) = q.binary_search(&seq) {
                    q.remove(i);
                }
                if q.len() == 1 {
                    *self = SubjectSeqs::One(q[0]);
                    return false;
                }
                q.is_empty()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_grows_to_many_and_back() {
        let mut s = SubjectSeqs::One(3);
        assert_eq!((s.len(), s.first(), s.last()), (1, 3, 3));
        s.push(7);
        s.push(9);
        assert_eq!(s.iter().collect::<Vec<_>>(), [3, 7, 9]);
        assert_eq!(
            (s.first_from(4), s.first_from(9), s.first_from(10)),
            (Some(7), Some(9), None)
        );
        assert_eq!(
            (s.count_below(3), s.count_below(8), s.count_below(100)),
            (0, 2, 3)
        );
        assert!(!s.remove(7));
        assert!(!s.remove(5));
        assert!(!s.remove(3));
        assert_eq!(s, SubjectSeqs::One(9));
        assert!(!s.remove(8));
        assert!(s.remove(9));
    }
}

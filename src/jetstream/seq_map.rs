//! A stream's messages by sequence. Sequences are handed out in order and removed mostly
//! from the front, so they live in chunks of `CHUNK` consecutive sequences (in a map by
//! their first sequence, so a jump costs nothing): a full chunk is
//! an array of slots (no per-entry node or key, unlike a `BTreeMap`, whose in-order appends
//! leave its nodes about half full), and a chunk with few entries left is a short sorted
//! list, so holes (a KV bucket's overwritten keys) cost nothing.

use std::collections::BTreeMap;

/// Sequences per chunk.
const CHUNK: u64 = 1024;
/// A list chunk turns into slots when it holds this many entries...
const DENSE_FROM: usize = CHUNK as usize / 4;
/// ...and a slot chunk back into a list when it holds fewer than this (apart, so a chunk
/// does not flip at every insert and removal).
const SPARSE_BELOW: usize = CHUNK as usize / 8;

#[derive(Debug)]
enum Chunk<V> {
    Sparse(Vec<(u16, V)>),
    Dense {
        live: usize,
        slots: Box<[Option<V>]>,
    },
}

impl<V> Chunk<V> {
    fn len(&self) -> usize {
        match self {
            Chunk::Sparse(list) => list.len(),
            Chunk::Dense { live, .. } => *live,
        }
    }

    fn get(&self, at: u16) -> Option<&V> {
        match self {
            Chunk::Sparse(list) => list
                .binary_search_by_key(&at, |(k, _)| *k)
                .ok()
                .map(|i| &list[i].1),
            Chunk::Dense { slots, .. } => slots[usize::from(at)].as_ref(),
        }
    }

    fn get_mut(&mut self, at: u16) -> Option<&mut V> {
        match self {
            Chunk::Sparse(list) => list
                .binary_search_by_key(&at, |(k, _)| *k)
                .ok()
                .map(|i| &mut list[i].1),
            Chunk::Dense { slots, .. } => slots[usize::from(at)].as_mut(),
        }
    }

    /// Stores `v` at `at`; true when the slot was empty.
    fn insert(&mut self, at: u16, v: V) -> bool {
        let added = match self {
            Chunk::Sparse(list) => match list.binary_search_by_key(&at, |(k, _)| *k) {
                Ok(i) => {
                    list[i].1 = v;
                    false
                }
                Err(i) => {
                    list.insert(i, (at, v));
                    true
                }
            },
            Chunk::Dense { live, slots } => {
                let added = slots[usize::from(at)].replace(v).is_none();
                *live += usize::from(added);
                added
            }
        };
        if let Chunk::Sparse(list) = self {
            if list.len() >= DENSE_FROM {
                let mut slots: Box<[Option<V>]> = (0..CHUNK).map(|_| None).collect();
                let live = list.len();
                for (k, v) in list.drain(..) {
                    slots[usize::from(k)] = Some(v);
                }
                *self = Chunk::Dense { live, slots };
            }
        }
        added
    }

    fn remove(&mut self, at: u16) -> Option<V> {
        let v = match self {
            Chunk::Sparse(list) => {
                let i = list.binary_search_by_key(&at, |(k, _)| *k).ok()?;
                Some(list.remove(i).1)
            }
            Chunk::Dense { live, slots } => {
                let v = slots[usize::from(at)].take()?;
                *live -= 1;
                Some(v)
            }
        };
        if let Chunk::Dense { live, slots } = self {
            if *live < SPARSE_BELOW {
                let list = slots
                    .iter_mut()
                    .enumerate()
                    .filter_map(|(k, v)| Some((k as u16, v.take()?)))
                    .collect();
                *self = Chunk::Sparse(list);
            }
        }
        v
    }

    fn entries(&self) -> Box<dyn DoubleEndedIterator<Item = (u16, &V)> + '_> {
        self.entries_from(0)
    }

    /// The entries at `from` and after, starting there rather than at the chunk's front
    /// (a consumer reads on from where it is, one message at a time).
    fn entries_from(&self, from: u16) -> Box<dyn DoubleEndedIterator<Item = (u16, &V)> + '_> {
        match self {
            Chunk::Sparse(list) => {
                let i = list.partition_point(|(k, _)| *k < from);
                Box::new(list[i..].iter().map(|(k, v)| (*k, v)))
            }
            Chunk::Dense { slots, .. } => Box::new(
                slots[usize::from(from)..]
                    .iter()
                    .enumerate()
                    .filter_map(move |(k, v)| Some((k as u16 + from, v.as_ref()?))),
            ),
        }
    }
}

/// Values by sequence number.
#[derive(Debug)]
pub(crate) struct SeqMap<V> {
    /// By the first sequence they cover (a multiple of `CHUNK`); none is empty. A map, so
    /// a jump in sequences costs nothing.
    chunks: BTreeMap<u64, Chunk<V>>,
    len: usize,
}

impl<V> Default for SeqMap<V> {
    fn default() -> SeqMap<V> {
        SeqMap {
            chunks: BTreeMap::new(),
            len: 0,
        }
    }
}

/// The first sequence of the chunk holding `seq`, and the place of `seq` in it.
fn place(seq: u64) -> (u64, u16) {
    (seq - seq % CHUNK, (seq % CHUNK) as u16)
}

impl<V> SeqMap<V> {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn clear(&mut self) {
        *self = SeqMap::default();
    }

    pub(crate) fn get(&self, seq: u64) -> Option<&V> {
        let (start, at) = place(seq);
        self.chunks.get(&start)?.get(at)
    }

    pub(crate) fn get_mut(&mut self, seq: u64) -> Option<&mut V> {
        let (start, at) = place(seq);
        self.chunks.get_mut(&start)?.get_mut(at)
    }

    pub(crate) fn contains_key(&self, seq: u64) -> bool {
        self.get(seq).is_some()
    }

    pub(crate) fn insert(&mut self, seq: u64, v: V) {
        let (start, at) = place(seq);
        let chunk = self
            .chunks
            .entry(start)
            .or_insert_with(|| Chunk::Sparse(Vec::new()));
        if chunk.insert(at, v) {
            self.len += 1;
        }
    }

    pub(crate) fn remove(&mut self, seq: u64) -> Option<V> {
        let (start, at) = place(seq);
        let chunk = self.chunks.get_mut(&start)?;
        let v = chunk.remove(at)?;
        self.len -= 1;
        if chunk.len() == 0 {
            self.chunks.remove(&start);
        }
        Some(v)
    }

    /// Entries from `seq` up, in order.
    pub(crate) fn range_from(&self, seq: u64) -> impl Iterator<Item = (u64, &V)> {
        let (first, at) = place(seq);
        self.chunks.range(first..).flat_map(move |(&start, c)| {
            let from = if start == first { at } else { 0 };
            c.entries_from(from)
                .map(move |(k, v)| (start + u64::from(k), v))
        })
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, &V)> {
        self.range_from(0)
    }

    /// Entries from the last down.
    pub(crate) fn iter_rev(&self) -> impl Iterator<Item = (u64, &V)> {
        self.chunks.iter().rev().flat_map(|(&start, c)| {
            c.entries()
                .rev()
                .map(move |(k, v)| (start + u64::from(k), v))
        })
    }

    pub(crate) fn first(&self) -> Option<(u64, &V)> {
        self.iter().next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random inserts and removals agree with a `BTreeMap` at every step.
    #[test]
    fn behaves_as_an_ordered_map() {
        let mut rng = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut map = SeqMap::default();
        let mut model = BTreeMap::new();
        let mut last = 5000;
        for step in 0..40_000u64 {
            let r = next();
            match r % 10 {
                // Mostly appends, as a stream takes messages.
                0..=5 => {
                    last += 1 + r % 3;
                    map.insert(last, step);
                    model.insert(last, step);
                }
                // Removals from the front and anywhere.
                6 | 7 => {
                    if let Some(&k) = model.keys().next() {
                        assert_eq!(map.remove(k), model.remove(&k));
                    }
                }
                8 => {
                    let k = r % (last + 10);
                    assert_eq!(map.remove(k), model.remove(&k));
                }
                // Writes below the lowest key, and far beyond the last.
                _ if (r / 10) % 2 == 0 => {
                    let k = r % 6000;
                    map.insert(k, step);
                    model.insert(k, step);
                }
                _ => {
                    last += 1 << 40;
                    map.insert(last, step);
                    model.insert(last, step);
                }
            }
            assert_eq!(map.len(), model.len());
            if step % 997 == 0 {
                let from = r % (last + 1);
                assert!(map
                    .range_from(from)
                    .eq(model.range(from..).map(|(k, v)| (*k, v))));
                assert!(map.iter_rev().eq(model.iter().rev().map(|(k, v)| (*k, v))));
                assert_eq!(map.first(), model.iter().next().map(|(k, v)| (*k, v)));
                assert_eq!(map.get(from), model.get(&from));
            }
        }
        map.clear();
        assert!(map.is_empty() && map.first().is_none());
    }
}

//! A stream's messages in memory, by sequence, with per-subject sequence lists and the
//! sizes Go reports (sans-IO: the file log in `file_log.rs` persists what happens here).

use std::collections::BTreeMap;
use std::hash::BuildHasher;

use foldhash::fast::RandomState;
use hashbrown::HashTable;

use super::seq_map::SeqMap;
use super::subject_seqs::SubjectSeqs;

use bytes::Bytes;
use serde::Serialize;

use super::config::Storage;
use crate::subject;

/// One stored message. `ts` is nanoseconds since the Unix epoch; `ttl_ns` is the
/// `Nats-TTL` it was stored with (0: none). Headers stay in memory (markers, dedupe ids);
/// a file stream's payload is read back from its log once written there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredMsg {
    pub subject: Bytes,
    pub hdr: Bytes,
    pub data: Payload,
    pub ts: i64,
    pub ttl_ns: i64,
}

/// Where a message's payload is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Payload {
    /// In memory: a memory stream's (or a file stream's marker, which has none).
    Mem(Bytes),
    /// A file stream's, of this length, in a batch not written yet: the batch's buffer
    /// holds the only copy (a 16 KiB message is copied once on its way to the log, not
    /// twice).
    Unwritten(u32),
    /// In the stream's log: in this block, at this offset.
    Log { block: u32, offset: u32, len: u32 },
}

impl Payload {
    pub(crate) fn len(&self) -> usize {
        match self {
            Payload::Mem(b) => b.len(),
            Payload::Unwritten(len) | Payload::Log { len, .. } => *len as usize,
        }
    }
}

/// The size Go accounts a message at: its file-store record (`fileStoreMsgSizeRaw`:
/// 4 length + 8 seq + 8 ts + 2 subject length [+ 4 header length] + the bytes + 8 hash) or
/// its memory-store one (`memStoreMsgSizeRaw`: the bytes + 16).
pub(crate) fn msg_size(storage: Storage, subject: usize, hdr: usize, data: usize) -> u64 {
    let n = subject + hdr + data;
    (match storage {
        Storage::File if hdr == 0 => 22 + n + 8,
        Storage::File => 22 + 4 + n + 8,
        Storage::Memory => n + 16,
    }) as u64
}

/// What `state` in a stream's info shows (Go's `StreamState`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct StreamState {
    pub messages: u64,
    pub bytes: u64,
    pub first_seq: u64,
    pub first_ts: String,
    pub last_seq: u64,
    pub last_ts: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub num_subjects: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subjects: Option<BTreeMap<String, u64>>,
    #[serde(skip_serializing_if = "is_zero")]
    pub num_deleted: u64,
    /// The deleted sequences between first and last, with `deleted_details`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted: Option<Vec<u64>>,
    pub consumer_count: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The messages of one stream.
#[derive(Debug)]
pub(crate) struct MsgStore {
    storage: Storage,
    msgs: SeqMap<StoredMsg>,
    /// Per subject, its messages' sequences in ascending order. The table holds the lists
    /// alone, hashed by subject: an entry's subject is its first message's (a key of its
    /// own per subject would take as much room again, and a bucket of 1M keys has 1M).
    subjects: HashTable<SubjectSeqs>,
    hasher: RandomState,
    first_seq: u64,
    last_seq: u64,
    last_ts: i64,
    bytes: u64,
}

impl MsgStore {
    /// An empty store whose first message will get `first_seq` (Go's `first_seq` option;
    /// a new stream shows first and last 0 until then).
    pub(crate) fn new(storage: Storage, first_seq: u64) -> MsgStore {
        let first = first_seq.max(1);
        MsgStore {
            storage,
            msgs: SeqMap::default(),
            subjects: HashTable::new(),
            hasher: RandomState::default(),
            first_seq: if first_seq > 1 { first } else { 0 },
            last_seq: first - 1,
            last_ts: 0,
            bytes: 0,
        }
    }

    pub(crate) fn len(&self) -> u64 {
        self.msgs.len() as u64
    }

    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    pub(crate) fn first_seq(&self) -> u64 {
        self.first_seq
    }

    pub(crate) fn last_seq(&self) -> u64 {
        self.last_seq
    }

    pub(crate) fn size_of(&self, m: &StoredMsg) -> u64 {
        msg_size(self.storage, m.subject.len(), m.hdr.len(), m.data.len())
    }

    /// `subject` as a shared buffer: the one the store already holds for it, if any, so
    /// messages on one subject share one copy.
    pub(crate) fn intern(&self, subject: &[u8]) -> Bytes {
        match self.seqs_of(subject).and_then(|q| self.msgs.get(q.first())) {
            Some(m) => m.subject.clone(),
            None => Bytes::copy_from_slice(subject),
        }
    }

    /// The sequences on exactly `subject`.
    fn seqs_of(&self, subject: &[u8]) -> Option<&SubjectSeqs> {
        let msgs = &self.msgs;
        self.subjects.find(self.hasher.hash_one(subject), |q| {
            subject_of(msgs, q) == subject
        })
    }

    /// Every subject with its sequences.
    fn all_subjects(&self) -> impl Iterator<Item = (&[u8], &SubjectSeqs)> {
        self.subjects.iter().map(|q| (subject_of(&self.msgs, q), q))
    }

    /// A written message's payload now lives in `block` of the log at `offset` (or moved
    /// there, after a compaction); its headers get their own small buffer, so the one it
    /// arrived in is freed. Returns its stored size, or `None` when it is gone already.
    pub(crate) fn in_log_at(&mut self, seq: u64, block: u32, offset: u32) -> Option<u64> {
        let m = self.msgs.get_mut(seq)?;
        let len = m.data.len() as u32;
        if matches!(m.data, Payload::Mem(_)) && !m.hdr.is_empty() {
            m.hdr = Bytes::copy_from_slice(&m.hdr);
        }
        m.data = Payload::Log { block, offset, len };
        Some(msg_size(
            self.storage,
            m.subject.len(),
            m.hdr.len(),
            len as usize,
        ))
    }

    /// Sequences up to `last` were given out (a log block's first record): with nothing
    /// stored, the next message's is the first.
    pub(crate) fn assigned(&mut self, last: u64) {
        if last > self.last_seq {
            self.last_seq = last;
            if self.msgs.is_empty() {
                self.first_seq = last + 1;
            }
        }
    }

    /// Stores `m` as the next sequence, which it returns.
    pub(crate) fn append(&mut self, m: StoredMsg) -> u64 {
        let seq = self.last_seq + 1;
        self.insert(seq, m);
        seq
    }

    /// Stores `m` at `seq` (recovery replays sequences as they were given).
    pub(crate) fn insert(&mut self, seq: u64, m: StoredMsg) {
        if self.msgs.is_empty() {
            self.first_seq = seq;
        }
        self.bytes += self.size_of(&m);
        self.last_seq = self.last_seq.max(seq);
        self.last_ts = m.ts;
        // Looked up before `m` is in: its subject is not cloned (which would give it a
        // shared buffer's header), and growing the table rehashes only the entries there,
        // whose first messages are in.
        let hash = self.hasher.hash_one(&m.subject[..]);
        let (msgs, hasher) = (&self.msgs, &self.hasher);
        match self
            .subjects
            .find_mut(hash, |q| subject_of(msgs, q) == &m.subject[..])
        {
            Some(q) => q.push(seq),
            None => {
                self.subjects
                    .insert_unique(hash, SubjectSeqs::One(seq), |q| {
                        hasher.hash_one(subject_of(msgs, q))
                    });
            }
        }
        self.msgs.insert(seq, m);
    }

    /// Takes sequence `seq` at `ts` without keeping a message: an interest stream with
    /// nobody interested (Go acks it, and the stream's first sequence moves past it).
    pub(crate) fn skip(&mut self, seq: u64, ts: i64) {
        self.last_seq = self.last_seq.max(seq);
        self.last_ts = ts;
        if self.msgs.is_empty() {
            self.first_seq = seq + 1;
        }
    }

    pub(crate) fn get(&self, seq: u64) -> Option<&StoredMsg> {
        self.msgs.get(seq)
    }

    /// The first message at or after `seq` whose subject `filter` matches. A subject or a
    /// wildcard matching few subjects is looked up in the per-subject sequence lists, so the
    /// messages in between are skipped rather than scanned.
    pub(crate) fn next_matching(&self, seq: u64, filter: &[u8]) -> Option<(u64, &StoredMsg)> {
        /// A scan of the messages costs about this many times less per message than a
        /// lookup in one subject's list.
        const SCAN_PER_LOOKUP: u64 = 8;
        let first_at = |q: &SubjectSeqs| q.first_from(seq);
        let found = if filter.is_empty() || filter == b">" {
            None
        } else if !subject::has_wildcard(filter) {
            Some(self.seqs_of(filter).and_then(first_at))
        } else if (self.subjects.len() as u64) * SCAN_PER_LOOKUP < self.last_seq.saturating_sub(seq)
        {
            Some(
                self.all_subjects()
                    .filter(|(s, _)| subject::matches_literal(filter, s))
                    .filter_map(|(_, q)| first_at(q))
                    .min(),
            )
        } else {
            None
        };
        match found {
            Some(seq) => seq.and_then(|s| self.msgs.get(s).map(|m| (s, m))),
            None => self
                .msgs
                .range_from(seq)
                .find(|(_, m)| filter.is_empty() || subject::matches_literal(filter, &m.subject)),
        }
    }

    /// The last sequence stored on exactly `subject`, 0 when none.
    pub(crate) fn last_of_subject(&self, subject: &[u8]) -> u64 {
        self.seqs_of(subject).map_or(0, SubjectSeqs::last)
    }

    /// The last message on a subject `filter` matches.
    pub(crate) fn last_matching(&self, filter: &[u8]) -> Option<(u64, &StoredMsg)> {
        if !subject::has_wildcard(filter) {
            let seq = self.last_of_subject(filter);
            return self.msgs.get(seq).map(|m| (seq, m));
        }
        self.msgs
            .iter_rev()
            .find(|(_, m)| subject::matches_literal(filter, &m.subject))
    }

    /// Messages stored on exactly `subject`.
    pub(crate) fn count_of_subject(&self, subject: &[u8]) -> usize {
        self.seqs_of(subject).map_or(0, SubjectSeqs::len)
    }

    /// The oldest sequence on exactly `subject`.
    pub(crate) fn first_of_subject(&self, subject: &[u8]) -> Option<u64> {
        self.seqs_of(subject).map(SubjectSeqs::first)
    }

    /// The oldest message.
    pub(crate) fn first(&self) -> Option<(u64, &StoredMsg)> {
        self.msgs.first()
    }

    /// Removes one message; false when there is none at `seq`.
    pub(crate) fn remove(&mut self, seq: u64) -> bool {
        let Some(m) = self.msgs.get(seq) else {
            return false;
        };
        // Found while `m` is still in: it may be the first message, which names the entry.
        let msgs = &self.msgs;
        let hash = self.hasher.hash_one(&m.subject[..]);
        if let Ok(mut e) = self
            .subjects
            .find_entry(hash, |q| subject_of(msgs, q) == &m.subject[..])
        {
            if e.get_mut().remove(seq) {
                e.remove();
            }
        }
        let Some(m) = self.msgs.remove(seq) else {
            return false;
        };
        self.bytes -= self.size_of(&m);
        if seq == self.first_seq {
            self.first_seq = self.msgs.first().map_or(self.last_seq + 1, |(s, _)| s);
        }
        true
    }

    /// Sequences a purge takes (Go's `PurgeEx`): those on subjects `filter` matches (all
    /// when empty), below `up_to` when given (a `seq` purge), leaving the newest `keep`
    /// per subject (or overall, without a filter) when given.
    pub(crate) fn purge_set(&self, filter: &[u8], up_to: Option<u64>, keep: u64) -> Vec<u64> {
        let below = |s: u64| up_to.is_none_or(|u| s < u);
        if filter.is_empty() || filter == b">" {
            let n = self.msgs.len() as u64;
            return self
                .msgs
                .iter()
                .map(|(s, _)| s)
                .take(n.saturating_sub(keep) as usize)
                .filter(|&s| below(s))
                .collect();
        }
        let mut out = Vec::new();
        for (subj, q) in self.all_subjects() {
            if subject::matches_literal(filter, subj) {
                let n = q.len().saturating_sub(keep as usize);
                out.extend(q.iter().take(n).filter(|&s| below(s)));
            }
        }
        out.sort_unstable();
        out
    }

    /// Removes everything and starts again after `next - 1` (a full purge; Go moves the
    /// first sequence past the last one).
    pub(crate) fn reset(&mut self, next: u64) {
        self.msgs.clear();
        self.subjects.clear();
        self.bytes = 0;
        self.first_seq = next;
        self.last_seq = self.last_seq.max(next.saturating_sub(1));
    }

    /// Subjects `filter` matches, with their message counts.
    pub(crate) fn subject_counts(&self, filter: &[u8]) -> BTreeMap<String, u64> {
        self.subjects_matching(filter)
            .map(|(s, q)| (String::from_utf8_lossy(s).into_owned(), q.len() as u64))
            .collect()
    }

    /// The subjects `filter` matches (all when it is empty), each with its sequences. A
    /// filter without wildcards is one lookup, however many subjects the stream has.
    pub(crate) fn subjects_matching<'a>(
        &'a self,
        filter: &'a [u8],
    ) -> impl Iterator<Item = (&'a [u8], &'a SubjectSeqs)> + 'a {
        let literal = !filter.is_empty() && !subject::has_wildcard(filter);
        let found = literal
            .then(|| self.seqs_of(filter).map(|q| (filter, q)))
            .flatten();
        let scanned = if literal { 0 } else { usize::MAX };
        found.into_iter().chain(
            self.all_subjects()
                .take(scanned)
                .filter(move |(s, _)| filter.is_empty() || subject::matches_literal(filter, s)),
        )
    }

    /// Messages after sequence `after` on subjects `filter` matches (all when it is empty
    /// or `>`).
    pub(crate) fn count_after(&self, filter: &[u8], after: u64) -> u64 {
        if filter.is_empty() || filter == b">" {
            if after < self.first_seq {
                return self.len();
            }
            return self.msgs.range_from(after + 1).count() as u64;
        }
        self.subjects_matching(filter)
            .map(|(_, q)| (q.len() - q.count_below(after.saturating_add(1))) as u64)
            .sum()
    }

    /// The stream's state; `subjects` lists subject counts when asked for.
    pub(crate) fn state(&self, subjects: Option<&[u8]>, consumers: u64) -> StreamState {
        let messages = self.msgs.len() as u64;
        let first_ts = self.first().map_or(0, |(_, m)| m.ts);
        let span = if messages == 0 {
            0
        } else {
            self.last_seq - self.first_seq + 1
        };
        StreamState {
            messages,
            bytes: self.bytes,
            first_seq: self.first_seq,
            first_ts: super::go_time(first_ts),
            last_seq: self.last_seq,
            last_ts: super::go_time(self.last_ts),
            num_subjects: self.subjects.len() as u64,
            subjects: subjects.map(|f| self.subject_counts(f)),
            num_deleted: span - messages,
            deleted: None,
            consumer_count: consumers,
        }
    }

    /// The sequences between the first and the last that hold no message.
    pub(crate) fn deleted(&self) -> Vec<u64> {
        if self.msgs.is_empty() {
            return Vec::new();
        }
        (self.first_seq..=self.last_seq)
            .filter(|&s| !self.msgs.contains_key(s))
            .collect()
    }

    /// All messages in order, for a compaction to write again.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, &StoredMsg)> {
        self.msgs.iter()
    }
}

/// The subject of `q`'s messages: its first one's (empty if that is gone, which `remove`
/// keeps from happening).
fn subject_of<'a>(msgs: &'a SeqMap<StoredMsg>, q: &SubjectSeqs) -> &'a [u8] {
    msgs.get(q.first()).map_or(&[], |m| &m.subject)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(subject: &'static str, data: &'static str) -> StoredMsg {
        StoredMsg {
            subject: Bytes::from_static(subject.as_bytes()),
            hdr: Bytes::new(),
            data: Payload::Mem(Bytes::from_static(data.as_bytes())),
            ts: 1,
            ttl_ns: 0,
        }
    }

    #[test]
    fn sizes_as_go_accounts_them() {
        // The oracle's four messages: 38 + 70 + 89 + 38 bytes.
        assert_eq!(msg_size(Storage::File, 3, 0, 5), 38);
        assert_eq!(msg_size(Storage::File, 3, 28, 5), 70);
        assert_eq!(msg_size(Storage::Memory, 3, 0, 5), 24);
    }

    #[test]
    fn removal_moves_first_and_counts_gaps() {
        let mut s = MsgStore::new(Storage::File, 0);
        for d in ["1", "2", "3"] {
            s.append(msg("a", d));
        }
        assert!(s.remove(2));
        assert!(!s.remove(2));
        let st = s.state(None, 0);
        assert_eq!(
            (st.messages, st.first_seq, st.last_seq, st.num_deleted),
            (2, 1, 3, 1)
        );
        assert!(s.remove(1));
        assert_eq!(s.first_seq(), 3);
        assert!(s.remove(3));
        assert_eq!((s.first_seq(), s.last_seq()), (4, 3));
    }

    #[test]
    fn purge_sets_keep_and_filter() {
        let mut s = MsgStore::new(Storage::File, 0);
        for (subj, d) in [("a", "1"), ("b", "2"), ("a", "3"), ("a", "4")] {
            s.append(msg(subj, d));
        }
        assert_eq!(s.purge_set(b"a", None, 1), vec![1, 3]);
        assert_eq!(s.purge_set(b"", None, 2), vec![1, 2]);
        assert_eq!(s.purge_set(b"", Some(3), 0), vec![1, 2]);
        assert_eq!(s.last_matching(b"*").map(|(s, _)| s), Some(4));
    }

    #[test]
    fn next_matching_by_subject_list_or_by_scan_agree() {
        let mut s = MsgStore::new(Storage::Memory, 0);
        // Many messages on few subjects: wildcards go through the subject lists.
        for i in 0..200u64 {
            s.append(msg(["a.x", "a.y", "b.x"][(i % 3) as usize], "d"));
        }
        s.remove(5);
        for (from, filter) in [(1, "a.*"), (5, "b.x"), (5, "*.x"), (199, "a.>"), (3, ">")] {
            let scanned = s
                .iter()
                .find(|(q, m)| {
                    *q >= from && subject::matches_literal(filter.as_bytes(), &m.subject)
                })
                .map(|(q, _)| q);
            let found = s.next_matching(from, filter.as_bytes()).map(|(q, _)| q);
            assert_eq!(found, scanned, "{filter} from {from}");
        }
        assert!(s.next_matching(1, b"c.*").is_none());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Appends on a few subjects and removals in any order: what the per-subject
        /// lists say (counts, first and last, the subjects a filter matches, the next
        /// match) is what a scan of the messages says.
        #[test]
        fn subject_lists_agree_with_a_scan(
            ops in proptest::collection::vec((0..6usize, proptest::prelude::any::<bool>(), 0..64u64), 1..200),
        ) {
            const SUBJECTS: [&str; 6] = ["a", "b", "a.x", "a.y", "b.x", "kv.1"];
            let mut s = MsgStore::new(Storage::Memory, 0);
            for (subject, append, pick) in ops {
                if append || s.len() == 0 {
                    s.append(msg(SUBJECTS[subject], "d"));
                } else {
                    let live: Vec<u64> = s.msgs.iter().map(|(q, _)| q).collect();
                    s.remove(live[pick as usize % live.len()]);
                }
            }
            let scan = |subject: &str| -> Vec<u64> {
                s.msgs.iter().filter(|(_, m)| &m.subject[..] == subject.as_bytes()).map(|(q, _)| q).collect()
            };
            for subject in SUBJECTS {
                let seqs = scan(subject);
                proptest::prop_assert_eq!(s.count_of_subject(subject.as_bytes()), seqs.len());
                proptest::prop_assert_eq!(s.first_of_subject(subject.as_bytes()), seqs.first().copied());
                proptest::prop_assert_eq!(s.last_of_subject(subject.as_bytes()), seqs.last().copied().unwrap_or(0));
                if let Some(&first) = seqs.first() {
                    proptest::prop_assert_eq!(&s.intern(subject.as_bytes())[..], subject.as_bytes());
                    proptest::prop_assert_eq!(s.next_matching(first, subject.as_bytes()).map(|(q, _)| q), Some(first));
                }
            }
            for filter in ["a.*", ">", "b", "*.x", "kv.>"] {
                let mut counts = s.subject_counts(filter.as_bytes());
                counts.retain(|_, n| *n > 0);
                let mut scanned = BTreeMap::new();
                for (_, m) in s.msgs.iter() {
                    if subject::matches_literal(filter.as_bytes(), &m.subject) {
                        *scanned.entry(String::from_utf8_lossy(&m.subject).into_owned()).or_insert(0) += 1;
                    }
                }
                proptest::prop_assert_eq!(counts, scanned);
            }
            proptest::prop_assert_eq!(s.state(None, 0).num_subjects, SUBJECTS.iter().filter(|x| !scan(x).is_empty()).count() as u64);
        }
    }
}

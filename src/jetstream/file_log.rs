//! A file stream's log: append-only blocks of records, each record with its length and a
//! CRC-32 of its body, so recovery keeps every whole record and cuts a block at its first
//! torn or damaged one.
//!
//! Blocks roll at `BLOCK_BYTES`. The oldest block goes as a whole once none of its messages
//! is left (age, limits, acks: streams lose their oldest messages first), and a sealed block
//! that is mostly dead is rewritten on its own, so no reclaim touches more than one block.
//! A sealed block gets an index file, written off the shard by a helper thread: its records
//! without payloads (the stream's checkpoint), which recovery reads instead of the block
//! while it still describes the block byte for byte. The block written to has its index
//! kept in memory as its writes complete, so sealing it reads nothing back.
//!
//! The codec is sans-IO; `FileLog` owns the files.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::ops::Range;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::store::{Payload, StoredMsg};

/// The directory of a stream's blocks, in the stream's directory.
const BLOCKS_DIR: &str = "msgs";
/// The single log file of stores written before blocks; it becomes the first block.
const LEGACY_LOG: &str = "msgs.log";
const BLOCK_EXT: &str = "blk";
const INDEX_EXT: &str = "idx";
/// A block is sealed and a new one started once it holds this much (Go's
/// `defaultLargeBlockSize`, filestore.go).
pub(crate) const BLOCK_BYTES: u64 = 8 * 1024 * 1024;
/// Dead bytes a sealed block must hold (and more than half of it) before it is rewritten.
const MIN_DEAD_BYTES: u64 = 1024 * 1024;
/// Record header: body length (u32 LE) and the body's CRC-32 (u32 LE).
const RECORD_HEADER: usize = 8;

/// How much a payload read that goes on forward from the last one takes in at once:
/// consumers read a stream in order, so one read serves the next few hundred small
/// messages (Go's file store caches whole blocks for the same reason).
const READ_AHEAD_BYTES: u64 = 64 * 1024;
/// The largest body a record may claim; a larger length is damage, not a record (Go's
/// largest `max_payload` is 64 MiB; headers and subject fit in the rest).
const MAX_RECORD: usize = 80 * 1024 * 1024;
/// A message record's fixed fields: kind, seq, ts, ttl, subject and header lengths.
const MSG_FIXED: usize = 1 + 8 + 8 + 8 + 2 + 4;

const KIND_MSG: u8 = 1;
const KIND_DELETE: u8 = 2;
const KIND_PURGE: u8 = 3;
const KIND_ASSIGNED: u8 = 4;
/// An index's message: a message record whose payload stays in the block, at an offset.
const KIND_MSG_AT: u8 = 5;
/// An index's first record: the length of the block it describes.
const KIND_INDEX_OF: u8 = 6;

/// What a record says happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Record {
    /// A message; in an index its payload is `Payload::Log`, named by its place.
    Msg(u64, StoredMsg),
    /// One message removed.
    Delete(u64),
    /// Every message removed; the next one gets this sequence.
    Purge(u64),
    /// Sequences up to this one were given out: a new block starts with it, so the
    /// stream's last sequence survives the older blocks going.
    Assigned(u64),
}

/// A decoded message record, borrowing from the buffer it was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MsgRef<'a> {
    pub seq: u64,
    pub ts: i64,
    pub ttl_ns: i64,
    pub subject: &'a [u8],
    pub hdr: &'a [u8],
    /// Where the payload is in its block: offset and length.
    pub data: (u32, u32),
}

impl MsgRef<'_> {
    /// The stored message, with `subject` (its own copy, or a shared one) and its payload
    /// in `block`; the headers get their own buffer.
    pub(crate) fn stored(&self, subject: Bytes, block: u32) -> StoredMsg {
        let (offset, len) = self.data;
        StoredMsg {
            subject,
            hdr: Bytes::copy_from_slice(self.hdr),
            data: Payload::Log { block, offset, len },
            ts: self.ts,
            ttl_ns: self.ttl_ns,
        }
    }
}

/// A decoded record, borrowing from the buffer it was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecordRef<'a> {
    Msg(MsgRef<'a>),
    Delete(u64),
    Purge(u64),
    Assigned(u64),
    IndexOf(u64),
}

/// Appends one record to `out`; for a message whose payload it carries, returns where the
/// payload starts in `out`. A message with its payload in the log is written as an index
/// entry (its offset and length instead of the bytes); one whose payload is unwritten goes
/// through `encode_unwritten`, which has the bytes.
pub(crate) fn encode(out: &mut Vec<u8>, r: &Record) -> Option<usize> {
    let start = out.len();
    out.extend_from_slice(&[0; RECORD_HEADER]);
    let data_at = match r {
        Record::Msg(seq, m) => {
            debug_assert!(!matches!(m.data, Payload::Unwritten(_)));
            let inline = match &m.data {
                Payload::Mem(data) => Some(&data[..]),
                Payload::Unwritten(_) | Payload::Log { .. } => None,
            };
            msg_fields(out, *seq, m, inline)
        }
        Record::Delete(seq) => fixed(out, KIND_DELETE, *seq),
        Record::Purge(next) => fixed(out, KIND_PURGE, *next),
        Record::Assigned(last) => fixed(out, KIND_ASSIGNED, *last),
    };
    seal(out, start);
    data_at
}

/// Appends the record of message `seq` stored as `m` with its payload `data` (`m` names it
/// `Payload::Unwritten`); returns where `data` starts in `out`.
pub(crate) fn encode_unwritten(out: &mut Vec<u8>, seq: u64, m: &StoredMsg, data: &[u8]) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0; RECORD_HEADER]);
    let at = out.len() + MSG_FIXED + m.subject.len() + m.hdr.len();
    msg_fields(out, seq, m, Some(data));
    seal(out, start);
    at
}

/// A message record's body: the payload `inline`, or its place in the log.
fn msg_fields(out: &mut Vec<u8>, seq: u64, m: &StoredMsg, inline: Option<&[u8]>) -> Option<usize> {
    out.push(if inline.is_some() {
        KIND_MSG
    } else {
        KIND_MSG_AT
    });
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&m.ts.to_le_bytes());
    out.extend_from_slice(&m.ttl_ns.to_le_bytes());
    // Subjects are bounded by max_payload and a u16 covers every real one; a longer
    // subject is cut by the parser long before (Go's subject limit is far lower).
    out.extend_from_slice(&(m.subject.len() as u16).to_le_bytes());
    out.extend_from_slice(&(m.hdr.len() as u32).to_le_bytes());
    if let (None, Payload::Log { offset, len, .. }) = (inline, &m.data) {
        out.extend_from_slice(&offset.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
    }
    out.extend_from_slice(&m.subject);
    out.extend_from_slice(&m.hdr);
    let data = inline?;
    let at = out.len();
    out.extend_from_slice(data);
    Some(at)
}

fn fixed(out: &mut Vec<u8>, kind: u8, n: u64) -> Option<usize> {
    out.push(kind);
    out.extend_from_slice(&n.to_le_bytes());
    None
}

/// Fills in the header of the record that starts at `start` and runs to the end of `out`.
fn seal(out: &mut [u8], start: usize) {
    let body_len = out.len() - start - RECORD_HEADER;
    let crc = crc32fast::hash(&out[start + RECORD_HEADER..]);
    out[start..start + 4].copy_from_slice(&(body_len as u32).to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

/// One record's body; `at` is where the body starts in its file, so a message's payload
/// is named by its place in the block.
fn decode_body(b: &[u8], at: usize) -> Option<RecordRef<'_>> {
    let kind = *b.first()?;
    match kind {
        KIND_MSG | KIND_MSG_AT if b.len() >= MSG_FIXED => {
            let slen = usize::from(u16::from_le_bytes([b[25], b[26]]));
            let hlen = u32_at(b, 27) as usize;
            let (s, data) = if kind == KIND_MSG_AT {
                let s = MSG_FIXED + 8;
                if b.len() != s + slen + hlen {
                    return None;
                }
                (s, (u32_at(b, MSG_FIXED), u32_at(b, MSG_FIXED + 4)))
            } else {
                let s = MSG_FIXED;
                let data_at = s + slen + hlen;
                if b.len() < data_at {
                    return None;
                }
                (s, ((at + data_at) as u32, (b.len() - data_at) as u32))
            };
            Some(RecordRef::Msg(MsgRef {
                seq: u64_at(b, 1),
                ts: u64_at(b, 9) as i64,
                ttl_ns: u64_at(b, 17) as i64,
                subject: &b[s..s + slen],
                hdr: &b[s + slen..s + slen + hlen],
                data,
            }))
        }
        _ if b.len() != 9 => None,
        KIND_DELETE => Some(RecordRef::Delete(u64_at(b, 1))),
        KIND_PURGE => Some(RecordRef::Purge(u64_at(b, 1))),
        KIND_ASSIGNED => Some(RecordRef::Assigned(u64_at(b, 1))),
        KIND_INDEX_OF => Some(RecordRef::IndexOf(u64_at(b, 1))),
        _ => None,
    }
}

/// Hands each whole record at the start of `buf` to `f`, with the bytes it takes in `buf`;
/// returns the length they take: what follows is a torn or damaged tail.
pub(crate) fn decode<'a>(buf: &'a [u8], f: impl FnMut(RecordRef<'a>, Range<usize>)) -> usize {
    walk(buf, true, f)
}

/// `decode`, checking the CRCs only when `check`: records this process just encoded need no
/// check, and summing every payload again is most of the cost of walking them.
fn walk<'a>(buf: &'a [u8], check: bool, mut f: impl FnMut(RecordRef<'a>, Range<usize>)) -> usize {
    let mut at = 0;
    while buf.len() - at >= RECORD_HEADER {
        let len = u32_at(buf, at) as usize;
        let crc = u32_at(buf, at + 4);
        let body_at = at + RECORD_HEADER;
        if len == 0 || len > MAX_RECORD || buf.len() - body_at < len {
            break;
        }
        let body = &buf[body_at..body_at + len];
        if check && crc32fast::hash(body) != crc {
            break;
        }
        let Some(r) = decode_body(body, body_at) else {
            break;
        };
        f(r, at..body_at + len);
        at = body_at + len;
    }
    at
}

/// The index of a block: its length, then its records with payloads left out.
fn index_of(block: &[u8]) -> Vec<u8> {
    let mut entries = Vec::with_capacity(block.len() / 4);
    index_records(&mut entries, block, 0, true);
    with_length(block.len() as u64, &entries)
}

/// An index: the length of the block it describes, then `entries`.
fn with_length(len: u64, entries: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(RECORD_HEADER + 9 + entries.len());
    out.extend_from_slice(&[0; RECORD_HEADER]);
    fixed(&mut out, KIND_INDEX_OF, len);
    seal(&mut out, 0);
    out.extend_from_slice(entries);
    out
}

/// Appends the index entries of `records`, which start at `base` in their block: the
/// records themselves, messages without their payloads. `check`: see `walk`.
fn index_records(out: &mut Vec<u8>, records: &[u8], base: u64, check: bool) {
    walk(records, check, |r, raw| match r {
        RecordRef::Msg(m) => {
            let mut stored = m.stored(Bytes::copy_from_slice(m.subject), 0);
            if let Payload::Log { offset, .. } = &mut stored.data {
                *offset += base as u32;
            }
            encode(out, &Record::Msg(m.seq, stored));
        }
        _ => out.extend_from_slice(&records[raw]),
    });
}

/// Writes `bytes` to `path` through a temporary file renamed over it, so a reader finds
/// the old file or the new one, whole; `sync` makes it durable before the rename.
fn replace_file(path: &Path, bytes: &[u8], sync: bool) -> io::Result<()> {
    // Named after the file it replaces: a block and its index may be replaced at once.
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        if sync {
            f.sync_all()?;
        }
    }
    fs::rename(&tmp, path)
}

/// Writes the index of the sealed block at `path`.
fn write_index(path: &Path) -> io::Result<()> {
    let block = fs::read(path)?;
    replace_file(&path.with_extension(INDEX_EXT), &index_of(&block), false)
}

/// Writes the indexes of sealed blocks on a helper thread, off the shard: each one given,
/// or else built from the block read back. Without it a block has no index and recovery
/// reads the block itself.
fn index_in_background(blocks: Vec<(PathBuf, Option<Vec<u8>>)>) {
    if blocks.is_empty() {
        return;
    }
    let _ = std::thread::Builder::new()
        .name("riptide-js-index".into())
        .spawn(move || {
            for (path, index) in blocks {
                let written = match index {
                    Some(index) => replace_file(&path.with_extension(INDEX_EXT), &index, false),
                    None => write_index(&path),
                };
                if let Err(e) = written {
                    crate::log_at!(
                        Warn,
                        "JetStream index of {} not written: {e}",
                        path.display()
                    );
                }
            }
        });
}

/// The records of a block's index when it describes the block as it is (`len` bytes).
fn read_index(path: &Path, len: u64, buf: &mut Vec<u8>) -> Option<()> {
    buf.clear();
    File::open(path).ok()?.read_to_end(buf).ok()?;
    let mut first = None;
    let good = decode(buf, |r, _| {
        first.get_or_insert(r);
    });
    (good == buf.len() && first == Some(RecordRef::IndexOf(len))).then_some(())
}

#[derive(Debug)]
struct Block {
    index: u32,
    file: File,
    /// Bytes in the file: where the next write goes, and where a failed one is cut back to.
    len: u64,
    /// The stored size of its live messages, and how many there are.
    live: u64,
    msgs: u64,
    /// The lowest sequence of a message written to it (live or not): a tombstone for an
    /// older sequence than the oldest block's names nothing on disk any more.
    first_seq: u64,
    /// The batch whose write records its last message going: once that write completed,
    /// the block may go.
    emptied_in: u64,
}

/// The open blocks of one stream.
#[derive(Debug)]
pub(crate) struct FileLog {
    dir: PathBuf,
    /// Oldest first; the last one is written to.
    blocks: VecDeque<Block>,
    /// Sealed blocks whose periodic fsync is still due.
    unsynced: Vec<u32>,
    /// Files of removed blocks, closed at the next periodic fsync: an fsync submitted for
    /// one may not have reached the kernel yet.
    closing: Vec<File>,
    /// Some block lost messages since the last compaction check.
    maybe_compact: bool,
    /// The index entries of the block written to, kept as its writes complete so that
    /// sealing it needs no read back; `None` when it is not known whole.
    active_index: Option<Vec<u8>>,
    /// Payload reads take `&self` (a delivery reads while the stream is shared).
    read_ahead: RefCell<ReadAhead>,
}

/// What the last payload read took in beyond what it was asked for: only completed
/// writes' bytes (up to the block's length), so nothing in it changes but by a compaction
/// or a block going, which drop it.
#[derive(Debug, Default)]
struct ReadAhead {
    block: u32,
    /// Where `bytes` start in the block.
    start: u64,
    bytes: Vec<u8>,
    /// Where the last read asked for ended.
    next: u64,
}

/// Reads into all of `buf` from `offset` on, or up to the end of the file; returns how
/// many bytes came.
fn read_up_to(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], offset + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

fn block_path(dir: &Path, index: u32, ext: &str) -> PathBuf {
    dir.join(format!("{index:010}.{ext}"))
}

fn open_block(path: &Path) -> io::Result<File> {
    // Writes go at explicit offsets (the reactor's), so no O_APPEND.
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

impl FileLog {
    /// Opens (creating) the blocks of the stream in `stream_dir` and hands each record to
    /// `apply` with its block, oldest first. A block's torn or damaged tail is cut off;
    /// returns the log and how many bytes were cut.
    pub(crate) fn open(
        stream_dir: &Path,
        mut apply: impl FnMut(u32, RecordRef<'_>),
    ) -> io::Result<(FileLog, u64)> {
        let dir = stream_dir.join(BLOCKS_DIR);
        fs::create_dir_all(&dir)?;
        let legacy = stream_dir.join(LEGACY_LOG);
        if legacy.exists() {
            fs::rename(&legacy, block_path(&dir, 1, BLOCK_EXT))?;
        }
        let mut indexes = Vec::new();
        for entry in fs::read_dir(&dir)? {
            let path = entry?.path();
            let index = path
                .file_stem()
                .and_then(|s| s.to_str()?.parse::<u32>().ok());
            match (index, path.extension().and_then(|e| e.to_str())) {
                (Some(i), Some(BLOCK_EXT)) => indexes.push(i),
                // Leftovers of an index or a compaction cut short.
                (_, Some("tmp")) => fs::remove_file(&path)?,
                _ => {}
            }
        }
        indexes.sort_unstable();
        // The index of a block that went (its helper thread finished after the block did).
        for entry in fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.extension().and_then(|e| e.to_str()) == Some(INDEX_EXT)
                && !path.with_extension(BLOCK_EXT).exists()
            {
                fs::remove_file(&path)?;
            }
        }
        let mut blocks = VecDeque::new();
        let mut unindexed = Vec::new();
        let mut cut = 0;
        let mut buf = Vec::new();
        // The good length of the last block read whole (still in `buf`).
        let mut last_read = None;
        for index in indexes {
            let path = block_path(&dir, index, BLOCK_EXT);
            let mut file = open_block(&path)?;
            let len = file.metadata()?.len();
            let mut first_seq = u64::MAX;
            let mut on_record = |r: RecordRef<'_>| match r {
                RecordRef::IndexOf(_) => {}
                RecordRef::Msg(m) => {
                    first_seq = first_seq.min(m.seq);
                    apply(index, r);
                }
                _ => apply(index, r),
            };
            let index_path = block_path(&dir, index, INDEX_EXT);
            let good = if read_index(&index_path, len, &mut buf).is_some() {
                decode(&buf, |r, _| on_record(r));
                last_read = None;
                len
            } else {
                buf.clear();
                file.read_to_end(&mut buf)?;
                unindexed.push((path, None));
                let good = decode(&buf, |r, _| on_record(r));
                last_read = Some(good);
                good as u64
            };
            if good < len {
                file.set_len(good)?;
                file.sync_all()?;
                cut += len - good;
                let _ = fs::remove_file(&index_path);
            }
            blocks.push_back(Block {
                index,
                file,
                len: good,
                live: 0,
                msgs: 0,
                first_seq,
                emptied_in: 0,
            });
        }
        let mut log = FileLog {
            dir,
            blocks,
            unsynced: Vec::new(),
            closing: Vec::new(),
            maybe_compact: true,
            active_index: None,
            read_ahead: RefCell::default(),
        };
        if log.blocks.is_empty() {
            log.add_block(1)?;
        } else if let Some(good) = last_read {
            let mut entries = Vec::new();
            index_records(&mut entries, &buf[..good], 0, false);
            log.active_index = Some(entries);
        }
        // Sealed blocks whose index was not written (a crash came first) get one now; the
        // last block is still written to.
        unindexed.pop();
        index_in_background(unindexed);
        Ok((log, cut))
    }

    fn add_block(&mut self, index: u32) -> io::Result<()> {
        let file = open_block(&block_path(&self.dir, index, BLOCK_EXT))?;
        self.active_index = Some(Vec::new());
        self.blocks.push_back(Block {
            index,
            file,
            len: 0,
            live: 0,
            msgs: 0,
            first_seq: u64::MAX,
            emptied_in: 0,
        });
        Ok(())
    }

    fn active_block(&self) -> &Block {
        self.blocks.back().expect("a log has a block")
    }

    fn block(&self, index: u32) -> Option<&Block> {
        let i = self.blocks.binary_search_by_key(&index, |b| b.index).ok()?;
        self.blocks.get(i)
    }

    fn block_mut(&mut self, index: u32) -> Option<&mut Block> {
        let i = self.blocks.binary_search_by_key(&index, |b| b.index).ok()?;
        self.blocks.get_mut(i)
    }

    /// The block writes go to.
    pub(crate) fn active(&self) -> u32 {
        self.active_block().index
    }

    /// The descriptor writes are submitted on.
    pub(crate) fn fd(&self) -> RawFd {
        self.active_block().file.as_raw_fd()
    }

    /// Bytes in the block writes go to: where the next write goes.
    pub(crate) fn len(&self) -> u64 {
        self.active_block().len
    }

    /// Whether the block written to is full: the next write starts a new one.
    pub(crate) fn full(&self) -> bool {
        self.len() >= BLOCK_BYTES
    }

    /// Seals the block written to and starts the next; the sealed block's index is written
    /// by a helper thread (recovery reads the block itself until the index is there).
    pub(crate) fn roll(&mut self) -> io::Result<()> {
        let sealed = self.active_block();
        let (index, len) = (sealed.index, sealed.len);
        let entries = self.active_index.take();
        if let Err(e) = self.add_block(index + 1) {
            self.active_index = entries;
            return Err(e);
        }
        self.unsynced.push(index);
        let path = block_path(&self.dir, index, BLOCK_EXT);
        index_in_background(vec![(path, entries.map(|e| with_length(len, &e)))]);
        Ok(())
    }

    /// `records` were written at the end of the block written to.
    pub(crate) fn wrote(&mut self, records: &[u8]) {
        if let Some(b) = self.blocks.back_mut() {
            if let Some(entries) = &mut self.active_index {
                index_records(entries, records, b.len, false);
            }
            b.len += records.len() as u64;
        }
    }

    /// After a failed write: drops whatever part of it reached the file.
    pub(crate) fn cut_back(&mut self) {
        let b = self.active_block();
        if let Err(e) = b.file.set_len(b.len) {
            crate::log_at!(
                Error,
                "JetStream block {} of {} not cut back: {e}",
                b.index,
                self.dir.display()
            );
        }
    }

    /// `msgs` messages from `first_seq` on, of `size` (as stored) together, are now in
    /// `block`.
    pub(crate) fn stored(&mut self, block: u32, first_seq: u64, msgs: u64, size: u64) {
        if let Some(b) = self.block_mut(block) {
            b.live += size;
            b.msgs += msgs;
            b.first_seq = b.first_seq.min(first_seq);
        }
    }

    /// A message of `size` in `block` went; the record saying so is in batch `batch`.
    pub(crate) fn removed(&mut self, block: u32, size: u64, batch: u64) {
        if let Some(b) = self.block_mut(block) {
            b.live = b.live.saturating_sub(size);
            b.msgs = b.msgs.saturating_sub(1);
            if b.msgs == 0 {
                b.emptied_in = batch;
            }
            self.maybe_compact = true;
        }
    }

    /// Every message went; the purge record is in batch `batch`.
    pub(crate) fn purged(&mut self, batch: u64) {
        for b in &mut self.blocks {
            b.live = 0;
            b.msgs = 0;
            b.emptied_in = batch;
        }
    }

    /// `len` bytes at `offset` of `block`: a payload read back. A read that goes on
    /// forward from the last one reads ahead (and the next ones take from there); others
    /// (a KV get, a consumer that skips about) read just what they ask for.
    pub(crate) fn read_at(&self, block: u32, offset: u32, len: u32) -> io::Result<Bytes> {
        let (start, end) = (u64::from(offset), u64::from(offset) + u64::from(len));
        let mut ra = self.read_ahead.borrow_mut();
        if ra.block == block && ra.start <= start && end <= ra.start + ra.bytes.len() as u64 {
            ra.next = end;
            let at = (start - ra.start) as usize;
            return Ok(Bytes::copy_from_slice(&ra.bytes[at..at + len as usize]));
        }
        let b = self
            .block(block)
            .ok_or_else(|| io::Error::other(format!("block {block} is gone")))?;
        let forward = ra.block == block && (ra.next..ra.next + READ_AHEAD_BYTES).contains(&start);
        ra.block = block;
        ra.next = end;
        if !forward || u64::from(len) >= READ_AHEAD_BYTES {
            let mut buf = vec![0; len as usize];
            b.file.read_exact_at(&mut buf, start)?;
            return Ok(Bytes::from(buf));
        }
        let want = READ_AHEAD_BYTES
            .min(b.len.saturating_sub(start))
            .max(u64::from(len));
        ra.start = start;
        ra.bytes.resize(want as usize, 0);
        let got = read_up_to(&b.file, &mut ra.bytes, start);
        let got = got.inspect_err(|_| ra.bytes.clear())?;
        ra.bytes.truncate(got);
        if got < len as usize {
            ra.bytes.clear();
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(Bytes::copy_from_slice(&ra.bytes[..len as usize]))
    }

    /// The stream's directory.
    pub(crate) fn dir(&self) -> &Path {
        self.dir.parent().unwrap_or(Path::new("."))
    }

    /// Removes the oldest blocks while none of their messages is left and the write that
    /// said so (batch `done` or before) completed. The block written to stays.
    pub(crate) fn drop_empty_front(&mut self, done: u64) {
        while self.blocks.len() > 1 {
            let b = &self.blocks[0];
            if b.msgs > 0 || b.emptied_in > done {
                break;
            }
            let index = b.index;
            if let Some(b) = self.blocks.pop_front() {
                self.closing.push(b.file);
            }
            *self.read_ahead.get_mut() = ReadAhead::default();
            self.unsynced.retain(|&i| i != index);
            for ext in [BLOCK_EXT, INDEX_EXT] {
                let path = block_path(&self.dir, index, ext);
                if let Err(e) = fs::remove_file(&path) {
                    if e.kind() != io::ErrorKind::NotFound {
                        crate::log_at!(Warn, "JetStream {} not removed: {e}", path.display());
                    }
                }
            }
        }
    }

    /// A sealed block worth rewriting: more than half of it, and at least
    /// `MIN_DEAD_BYTES`, dead.
    pub(crate) fn compaction_due(&mut self) -> Option<u32> {
        if !std::mem::take(&mut self.maybe_compact) {
            return None;
        }
        let sealed = self.blocks.len() - 1;
        let due = self.blocks.iter().take(sealed).find(|b| {
            let dead = b.len.saturating_sub(b.live);
            dead >= MIN_DEAD_BYTES && dead > b.len / 2
        });
        // Others may be due too: look again after this one.
        self.maybe_compact = due.is_some();
        due.map(|b| b.index)
    }

    /// The lowest sequence any block may still hold.
    pub(crate) fn oldest_seq(&self) -> u64 {
        self.blocks.iter().map(|b| b.first_seq).min().unwrap_or(0)
    }

    /// The bytes of a sealed block.
    pub(crate) fn read_block(&self, index: u32) -> io::Result<Vec<u8>> {
        let b = self
            .block(index)
            .ok_or_else(|| io::Error::other(format!("block {index} is gone")))?;
        let mut buf = vec![0; b.len as usize];
        b.file.read_exact_at(&mut buf, 0)?;
        Ok(buf)
    }

    /// Replaces sealed block `index` with `records` (what is still worth keeping of it),
    /// made durable before it takes the old one's place, and its index.
    pub(crate) fn rewrite_block(&mut self, index: u32, records: &[u8]) -> io::Result<()> {
        let path = block_path(&self.dir, index, BLOCK_EXT);
        replace_file(&path, records, true)?;
        *self.read_ahead.get_mut() = ReadAhead::default();
        let file = open_block(&path)?;
        if let Some(b) = self.block_mut(index) {
            b.file = file;
            b.len = records.len() as u64;
        }
        let index_path = block_path(&self.dir, index, INDEX_EXT);
        if let Err(e) = replace_file(&index_path, &index_of(records), false) {
            crate::log_at!(Warn, "JetStream {} not written: {e}", index_path.display());
            let _ = fs::remove_file(&index_path);
        }
        Ok(())
    }

    /// The descriptors due for the periodic fsync: the block written to and the sealed
    /// ones not synced since they were sealed.
    pub(crate) fn sync_fds(&mut self) -> Vec<RawFd> {
        self.closing.clear();
        let mut fds = vec![self.fd()];
        for index in std::mem::take(&mut self.unsynced) {
            if let Some(b) = self.block(index) {
                fds.push(b.file.as_raw_fd());
            }
        }
        fds
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(seq: u64, data: &'static str) -> Record {
        Record::Msg(
            seq,
            StoredMsg {
                subject: Bytes::from_static(b"s.a"),
                hdr: Bytes::from_static(b"NATS/1.0\r\n\r\n"),
                data: Payload::Mem(Bytes::from_static(data.as_bytes())),
                ts: 42,
                ttl_ns: 0,
            },
        )
    }

    fn log() -> (Vec<Record>, Vec<u8>) {
        let records = vec![
            msg(1, "one"),
            Record::Delete(1),
            msg(2, "two"),
            Record::Purge(3),
            Record::Assigned(3),
        ];
        let mut buf = Vec::new();
        for r in &records {
            encode(&mut buf, r);
        }
        (records, buf)
    }

    /// The records of `buf` as owned ones, payloads read from `block`.
    fn owned(buf: &[u8], block: &[u8]) -> (Vec<Record>, usize) {
        let mut out = Vec::new();
        let good = decode(buf, |r, _| {
            out.push(match r {
                RecordRef::Msg(m) => {
                    let (at, len) = m.data;
                    let data = &block[at as usize..(at + len) as usize];
                    Record::Msg(
                        m.seq,
                        StoredMsg {
                            data: Payload::Mem(Bytes::copy_from_slice(data)),
                            ..m.stored(Bytes::copy_from_slice(m.subject), 0)
                        },
                    )
                }
                RecordRef::Delete(s) => Record::Delete(s),
                RecordRef::Purge(s) => Record::Purge(s),
                RecordRef::Assigned(s) => Record::Assigned(s),
                RecordRef::IndexOf(n) => Record::Assigned(n),
            })
        });
        (out, good)
    }

    #[test]
    fn an_index_kept_write_by_write_is_the_one_read_back() {
        let mut first = Vec::new();
        encode(&mut first, &msg(1, "one"));
        encode(&mut first, &Record::Delete(1));
        let mut second = Vec::new();
        encode(&mut second, &msg(2, "two"));
        encode(&mut second, &Record::Assigned(2));
        let mut kept = Vec::new();
        index_records(&mut kept, &first, 0, false);
        index_records(&mut kept, &second, first.len() as u64, false);
        let block = [first, second].concat();
        assert_eq!(with_length(block.len() as u64, &kept), index_of(&block));
    }

    #[test]
    fn records_round_trip() {
        let (records, buf) = log();
        let (back, good) = owned(&buf, &buf);
        assert_eq!(back, records);
        assert_eq!(good, buf.len());
    }

    #[test]
    fn an_index_names_every_record_and_where_each_payload_is() {
        let (records, buf) = log();
        let index = index_of(&buf);
        let (back, good) = owned(&index, &buf);
        assert_eq!(good, index.len());
        // The first record says which block length the index describes.
        assert_eq!(back[0], Record::Assigned(buf.len() as u64));
        assert_eq!(back[1..], records[..]);
    }

    #[test]
    fn a_torn_tail_is_cut_at_every_length() {
        let (records, buf) = log();
        let mut ends = Vec::new();
        let mut at = 0;
        for r in &records {
            let mut one = Vec::new();
            encode(&mut one, r);
            at += one.len();
            ends.push(at);
        }
        for cut in 0..buf.len() {
            let (back, good) = owned(&buf[..cut], &buf);
            let whole = ends.iter().filter(|&&e| e <= cut).count();
            assert_eq!(back.len(), whole, "cut at {cut}");
            assert_eq!(good, if whole == 0 { 0 } else { ends[whole - 1] });
        }
    }

    #[test]
    fn a_flipped_bit_ends_the_log_there() {
        let (_, buf) = log();
        for byte in 0..buf.len() {
            let mut bad = buf.clone();
            bad[byte] ^= 0x10;
            let (back, good) = owned(&bad, &bad);
            assert!(
                good <= byte && back.len() < 5,
                "flip at {byte} went unnoticed"
            );
        }
    }

    /// A message's sequence and where its payload is (offset, length).
    type Placed = (u64, (u32, u32));

    /// Message records for `seqs`, each payload `payload(seq)`, and where each payload is.
    fn records_of(seqs: &[u64], payload: impl Fn(u64) -> String) -> (Vec<u8>, Vec<Placed>) {
        let mut records = Vec::new();
        for &seq in seqs {
            let Record::Msg(_, m) = msg(seq, "") else {
                unreachable!()
            };
            let data = Payload::Mem(Bytes::from(payload(seq)));
            encode(&mut records, &Record::Msg(seq, StoredMsg { data, ..m }));
        }
        let mut at = Vec::new();
        decode(&records, |r, _| {
            if let RecordRef::Msg(m) = r {
                at.push((m.seq, m.data));
            }
        });
        (records, at)
    }

    #[test]
    fn payloads_read_back_in_any_order_and_after_a_compaction() {
        let dir = std::env::temp_dir().join(format!("riptide-read-ahead-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let (mut log, _) = FileLog::open(&dir, |_, _| {}).unwrap();
        let payload = |seq: u64| format!("payload {seq} ").repeat(seq as usize % 50 + 1);
        let seqs: Vec<u64> = (1..=2000).collect();
        let (records, at) = records_of(&seqs, payload);
        let block = log.active();
        let path = block_path(&log.dir, block, BLOCK_EXT);
        let file = OpenOptions::new().write(true).open(&path).unwrap();
        file.write_all_at(&records, 0).unwrap();
        log.wrote(&records);
        let check = |log: &FileLog, (seq, (offset, len)): Placed| {
            let got = log.read_at(block, offset, len).unwrap();
            assert_eq!(got, payload(seq).as_bytes(), "seq {seq}");
        };
        // In order (reading ahead), backwards, then every seventh one.
        at.iter().for_each(|&m| check(&log, m));
        at.iter().rev().for_each(|&m| check(&log, m));
        at.iter().step_by(7).for_each(|&m| check(&log, m));
        // A compaction keeps the second half, at other offsets.
        let (tail, kept) = records_of(&seqs[1000..], payload);
        log.roll().unwrap();
        log.rewrite_block(block, &tail).unwrap();
        kept.iter().for_each(|&m| check(&log, m));
        let _ = fs::remove_dir_all(&dir);
    }
}

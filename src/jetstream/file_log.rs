//! A file stream's log: append-only records, each with its length and a CRC-32 of its body,
//! so recovery keeps every whole record and truncates at the first torn or damaged one.
//! The codec is sans-IO; `FileLog` owns the file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::store::{Payload, StoredMsg};

/// The log's file name in a stream's directory.
pub(crate) const LOG_FILE: &str = "msgs.log";
/// Record header: body length (u32 LE) and the body's CRC-32 (u32 LE).
const RECORD_HEADER: usize = 8;
/// The largest body a record may claim; a larger length is damage, not a record (Go's
/// largest `max_payload` is 64 MiB; headers and subject fit in the rest).
const MAX_RECORD: usize = 80 * 1024 * 1024;

const KIND_MSG: u8 = 1;
const KIND_DELETE: u8 = 2;
const KIND_PURGE: u8 = 3;

/// What a record says happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Record {
    Msg(u64, StoredMsg),
    /// One message removed.
    Delete(u64),
    /// Every message removed; the next one gets this sequence.
    Purge(u64),
}

/// Appends one record to `out`; for a message, returns where its payload starts in `out`.
/// A message's payload must be in memory (`Payload::Mem`).
pub(crate) fn encode(out: &mut Vec<u8>, r: &Record) -> Option<usize> {
    let start = out.len();
    let mut data_at = None;
    out.extend_from_slice(&[0; RECORD_HEADER]);
    match r {
        Record::Msg(seq, m) => {
            out.push(KIND_MSG);
            out.extend_from_slice(&seq.to_le_bytes());
            out.extend_from_slice(&m.ts.to_le_bytes());
            out.extend_from_slice(&m.ttl_ns.to_le_bytes());
            // Subjects are bounded by max_payload and a u16 covers every real one; a longer
            // subject is cut by the parser long before (Go's subject limit is far lower).
            out.extend_from_slice(&(m.subject.len() as u16).to_le_bytes());
            out.extend_from_slice(&(m.hdr.len() as u32).to_le_bytes());
            out.extend_from_slice(&m.subject);
            out.extend_from_slice(&m.hdr);
            data_at = Some(out.len());
            if let Payload::Mem(data) = &m.data {
                out.extend_from_slice(data);
            }
        }
        Record::Delete(seq) => {
            out.push(KIND_DELETE);
            out.extend_from_slice(&seq.to_le_bytes());
        }
        Record::Purge(next) => {
            out.push(KIND_PURGE);
            out.extend_from_slice(&next.to_le_bytes());
        }
    }
    let body_len = out.len() - start - RECORD_HEADER;
    let crc = crc32fast::hash(&out[start + RECORD_HEADER..]);
    out[start..start + 4].copy_from_slice(&(body_len as u32).to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    data_at
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// One record's body; `at` is where the body starts in the file, so a message's payload
/// is named by its place in the log.
fn decode_body(b: &Bytes, at: u64) -> Option<Record> {
    match *b.first()? {
        KIND_MSG if b.len() >= 31 => {
            let seq = u64_at(b, 1);
            let ts = u64_at(b, 9) as i64;
            let ttl_ns = u64_at(b, 17) as i64;
            let slen = usize::from(u16::from_le_bytes([b[25], b[26]]));
            let hlen = u32::from_le_bytes(b[27..31].try_into().ok()?) as usize;
            let s = 31;
            if b.len() < s + slen + hlen {
                return None;
            }
            Some(Record::Msg(
                seq,
                StoredMsg {
                    subject: b.slice(s..s + slen),
                    hdr: b.slice(s + slen..s + slen + hlen),
                    data: Payload::Log {
                        offset: at + (s + slen + hlen) as u64,
                        len: (b.len() - s - slen - hlen) as u32,
                    },
                    ts,
                    ttl_ns,
                },
            ))
        }
        KIND_DELETE if b.len() == 9 => Some(Record::Delete(u64_at(b, 1))),
        KIND_PURGE if b.len() == 9 => Some(Record::Purge(u64_at(b, 1))),
        _ => None,
    }
}

/// The whole records at the start of `buf`, and the length they take: what follows is a
/// torn or damaged tail.
pub(crate) fn decode_all(buf: &Bytes) -> (Vec<Record>, usize) {
    let mut out = Vec::new();
    let mut at = 0;
    while buf.len() - at >= RECORD_HEADER {
        let len = u32::from_le_bytes(buf[at..at + 4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(buf[at + 4..at + 8].try_into().expect("4 bytes"));
        let body_at = at + RECORD_HEADER;
        if len == 0 || len > MAX_RECORD || buf.len() - body_at < len {
            break;
        }
        let body = buf.slice(body_at..body_at + len);
        if crc32fast::hash(&body) != crc {
            break;
        }
        let Some(r) = decode_body(&body, body_at as u64) else {
            break;
        };
        out.push(r);
        at = body_at + len;
    }
    (out, at)
}

/// The open log of one stream.
#[derive(Debug)]
pub(crate) struct FileLog {
    path: PathBuf,
    file: File,
    /// Bytes in the file: where the next write goes, and where a failed one is cut back to.
    len: u64,
    /// Bytes that no longer hold a live message (deleted, purged), for compaction.
    pub dead: u64,
}

impl FileLog {
    /// Opens (creating) the log in `dir` and reads what it holds. A torn or damaged tail is
    /// cut off; the records before it are returned with how many bytes were cut.
    pub(crate) fn open(dir: &Path) -> io::Result<(FileLog, Vec<Record>, u64)> {
        fs::create_dir_all(dir)?;
        let path = dir.join(LOG_FILE);
        // Writes go at explicit offsets (the reactor's), so no O_APPEND.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        let mut buf = Vec::new();
        file.read_to_end(&mut buf)?;
        let buf = Bytes::from(buf);
        let (records, good) = decode_all(&buf);
        let cut = (buf.len() - good) as u64;
        if cut > 0 {
            file.set_len(good as u64)?;
            file.sync_all()?;
        }
        Ok((
            FileLog {
                path,
                file,
                len: good as u64,
                dead: 0,
            },
            records,
            cut,
        ))
    }

    /// The descriptor writes are submitted on.
    pub(crate) fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    /// A write of `n` bytes at the end completed.
    pub(crate) fn wrote(&mut self, n: u64) {
        self.len += n;
    }

    /// After a failed write: drops whatever part of it reached the file.
    pub(crate) fn cut_back(&mut self) {
        if let Err(e) = self.file.set_len(self.len) {
            crate::log_at!(
                Error,
                "JetStream log {} not cut back: {e}",
                self.path.display()
            );
        }
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// `len` bytes at `offset`: a payload read back.
    pub(crate) fn read_at(&self, offset: u64, len: u32) -> io::Result<Bytes> {
        use std::os::unix::fs::FileExt;
        let mut buf = vec![0; len as usize];
        self.file.read_exact_at(&mut buf, offset)?;
        Ok(Bytes::from(buf))
    }

    /// The stream's directory.
    pub(crate) fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// Replaces the log with `records` (the live messages), written to a new file that is
    /// synced and renamed over the old one.
    pub(crate) fn rewrite(&mut self, records: &[u8]) -> io::Result<()> {
        let tmp = self.path.with_extension("compact");
        {
            let mut f = File::create(&tmp)?;
            f.write_all(records)?;
            f.sync_all()?;
        }
        fs::rename(&tmp, &self.path)?;
        self.file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&self.path)?;
        self.len = records.len() as u64;
        self.dead = 0;
        Ok(())
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
        ];
        let mut buf = Vec::new();
        for r in &records {
            encode(&mut buf, r);
        }
        (records, buf)
    }

    #[test]
    fn records_round_trip() {
        let (records, buf) = log();
        let (back, good) = decode_all(&Bytes::from(buf.clone()));
        // A decoded message names its payload's place in the file: read it from there.
        let loaded: Vec<Record> = back
            .into_iter()
            .map(|r| match r {
                Record::Msg(seq, mut m) => {
                    if let Payload::Log { offset, len } = m.data {
                        let at = offset as usize;
                        let data = Bytes::copy_from_slice(&buf[at..at + len as usize]);
                        m.data = Payload::Mem(data);
                    }
                    Record::Msg(seq, m)
                }
                other => other,
            })
            .collect();
        assert_eq!(loaded, records);
        assert_eq!(good, buf.len());
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
            let (back, good) = decode_all(&Bytes::copy_from_slice(&buf[..cut]));
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
            let (back, good) = decode_all(&Bytes::from(bad));
            assert!(
                good <= byte && back.len() < 4,
                "flip at {byte} went unnoticed"
            );
        }
    }
}

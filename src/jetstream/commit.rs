//! Group commit: what a turn stored goes to the stream's log in one write submitted on the
//! host shard's io_uring ring (linked to an fsync with `sync_interval: always`), up to
//! `MAX_WRITES_IN_FLIGHT` writes per stream at once, and the acks and republished copies of
//! those messages leave only when the writes covering them and every write before them
//! completed. Sans-IO: the reactor submits the `FileWrite`s and reports their completions.

use std::collections::VecDeque;
use std::os::fd::RawFd;

use super::errors::ApiError;
use super::file_log::BLOCK_BYTES;
use super::stream::Stream;
use super::{json_str, JetStream, Outgoing, StreamId};

/// The largest write buffer kept for reuse; a rare huge batch's is freed.
const MAX_SPARE_BYTES: usize = 16 * 1024 * 1024;

/// Writes one stream may have in flight. With a single one, the messages that arrive while
/// it runs wait for its completion and a trip through the shard before theirs starts, and
/// a publisher's ack window drains meanwhile; a few queued writes keep the disk path busy
/// (the kernel runs buffered writes to one file in order anyway).
const MAX_WRITES_IN_FLIGHT: usize = 4;

/// One write for the reactor to submit. `ptr`/`len` point into the stream's buffer for
/// batch `batch`, which stays put until `JetStream::written` is called for it.
#[derive(Debug)]
pub(crate) struct FileWrite {
    pub stream: StreamId,
    pub batch: u64,
    pub fd: RawFd,
    pub offset: u64,
    pub ptr: *const u8,
    pub len: usize,
    /// Linked to an fsync: done only when the data is on disk.
    pub sync: bool,
}

/// A batch on its way to the log.
#[derive(Debug)]
struct Batch {
    number: u64,
    buf: Vec<u8>,
    /// Its messages, and where their payloads start in `buf`.
    msgs: Vec<(u64, usize)>,
    /// The block and offset it goes to.
    at: (u32, u64),
    /// Its completion, once reported: batches are applied in order, so one that completes
    /// before an earlier one waits here.
    result: Option<std::io::Result<usize>>,
}

/// A stream's side of the pipeline. Batches are numbered: the one filling `Stream::pending`
/// is `next`, the ones being written are in `inflight`, and `done` is the last one written
/// with every one before it.
#[derive(Debug)]
pub(crate) struct Pipeline {
    inflight: VecDeque<Batch>,
    /// Written buffers, emptied, to fill next: reusing their pages spares the kernel
    /// zeroing fresh ones for every batch (most of the time of large messages otherwise).
    spare: Vec<Vec<u8>>,
    next: u64,
    done: u64,
    /// A write failed: nothing more is submitted, and the stream is cut back once the
    /// writes still in flight are back (one of them may land after the cut otherwise).
    failed: Option<String>,
    /// Messages to publish once the batch they wait for is written, in order.
    waiting: VecDeque<(u64, Outgoing)>,
}

impl Default for Pipeline {
    fn default() -> Pipeline {
        Pipeline {
            inflight: VecDeque::new(),
            spare: Vec::new(),
            next: 1,
            done: 0,
            failed: None,
            waiting: VecDeque::new(),
        }
    }
}

impl Pipeline {
    /// The number of the batch being filled: the records stored now go with it.
    pub(crate) fn filling(&self) -> u64 {
        self.next
    }

    /// What `f` finds in the batches being written (their messages, and where each
    /// payload starts, and their buffers).
    pub(crate) fn find<T>(&self, f: impl Fn(&[(u64, usize)], &[u8]) -> Option<T>) -> Option<T> {
        self.inflight.iter().find_map(|b| f(&b.msgs, &b.buf))
    }

    /// Whether a write is in flight (its buffer must outlive it).
    pub(crate) fn writing(&self) -> bool {
        !self.inflight.is_empty()
    }

    /// Where the next write goes in the block written to, whose completed length is
    /// `written`.
    fn end(&self, written: u64) -> u64 {
        self.inflight
            .back()
            .map_or(written, |b| b.at.1 + b.buf.len() as u64)
    }

    /// Queues `o` behind what is stored so far: the batch being filled when it holds
    /// records, otherwise behind the batches already on their way.
    pub(crate) fn wait(&mut self, o: Outgoing, pending: bool) {
        let after = if pending { self.next } else { self.next - 1 };
        self.waiting.push_back((after, o));
    }

    fn release(&mut self, out: &mut Vec<Outgoing>) {
        while self
            .waiting
            .front()
            .is_some_and(|(after, _)| *after <= self.done)
        {
            if let Some((_, o)) = self.waiting.pop_front() {
                out.push(o);
            }
        }
    }

    /// Records batch `number`'s completion; false when no such batch is in flight.
    fn complete(&mut self, number: u64, result: std::io::Result<usize>) -> bool {
        match self.inflight.iter_mut().find(|b| b.number == number) {
            Some(b) => {
                b.result = Some(result);
                true
            }
            None => false,
        }
    }

    /// The oldest batch in flight, once it completed: batches are applied in order.
    fn pop_completed(&mut self) -> Option<Batch> {
        if self.inflight.front()?.result.is_some() {
            self.inflight.pop_front()
        } else {
            None
        }
    }

    /// Whether completed batch `b` wrote all its bytes behind a pipeline that has not
    /// failed; a failed or short write marks the pipeline failed.
    fn accept(&mut self, b: &Batch) -> bool {
        let expected = b.buf.len();
        match &b.result {
            _ if self.failed.is_some() => false,
            Some(Ok(n)) if *n == expected => true,
            Some(Ok(n)) => {
                self.failed = Some(format!("short write: {n} of {expected} bytes"));
                false
            }
            Some(Err(e)) => {
                self.failed = Some(e.to_string());
                false
            }
            None => false,
        }
    }

    fn recycle(&mut self, mut buf: Vec<u8>) {
        if buf.capacity() <= MAX_SPARE_BYTES && self.spare.len() < MAX_WRITES_IN_FLIGHT {
            buf.clear();
            self.spare.push(buf);
        }
    }
}

impl Stream {
    /// Starts writing what is pending, when there is room for another write. A full block
    /// rolls only once its writes are all back: a completion counts its bytes and index
    /// entries into the block written to, which must still be that one.
    fn start_write(&mut self, id: StreamId, sync: bool) -> Option<FileWrite> {
        let p = &self.pipeline;
        if self.pending.is_empty() || p.failed.is_some() || p.inflight.len() >= MAX_WRITES_IN_FLIGHT
        {
            return None;
        }
        let written = self.log.as_ref()?.len();
        if p.writing() && p.end(written) >= BLOCK_BYTES {
            return None;
        }
        if let Err(e) = self.roll_if_full() {
            // The write goes to the full block, which stays open for more.
            crate::log_at!(
                Error,
                "JetStream stream '{}' could not start a new block: {e}",
                self.config.name
            );
        }
        let log = self.log.as_ref()?;
        let p = &mut self.pipeline;
        let at = (log.active(), p.end(log.len()));
        let buf = std::mem::replace(&mut self.pending, p.spare.pop().unwrap_or_default());
        let batch = Batch {
            number: p.next,
            msgs: std::mem::take(&mut self.pending_msgs),
            at,
            result: None,
            buf,
        };
        p.next += 1;
        let w = FileWrite {
            stream: id,
            batch: batch.number,
            fd: log.fd(),
            offset: at.1,
            ptr: batch.buf.as_ptr(),
            len: batch.buf.len(),
            sync,
        };
        p.inflight.push_back(batch);
        Some(w)
    }
}

impl JetStream {
    /// End of turn: every stream with records and room for another write starts one; what
    /// no longer waits for a write (memory streams, acks of refusals) is returned to
    /// publish.
    pub(crate) fn commit(&mut self) -> (Vec<Outgoing>, Vec<FileWrite>) {
        let sync = self.settings.opts.sync_always;
        let mut out = Vec::new();
        let mut writes = Vec::new();
        for (i, entry) in self.streams.iter_mut().enumerate() {
            let Some((_, s)) = entry else {
                continue;
            };
            if s.log.is_none() {
                s.pipeline.done = s.pipeline.next - 1;
            } else if let Some(w) = s.start_write(StreamId(i as u32), sync) {
                writes.push(w);
            }
            s.pipeline.release(&mut out);
        }
        (out, writes)
    }

    /// Batch `batch` of stream `id` completed: `Ok` with the bytes written (after the fsync
    /// when it had one) or the error. Returns what may now be published.
    pub(crate) fn written(
        &mut self,
        id: StreamId,
        batch: u64,
        result: std::io::Result<usize>,
    ) -> Vec<Outgoing> {
        if let Some(i) = self.retired.iter().position(|(r, _)| *r == id) {
            // Deleted while writes were in flight; their buffers could go only now.
            let p = &mut self.retired[i].1.pipeline;
            p.inflight.retain(|b| b.number != batch);
            if p.inflight.is_empty() {
                self.retired.swap_remove(i);
            }
            return Vec::new();
        }
        let mut out = Vec::new();
        let Some(s) = self.stream_mut(id) else {
            return out;
        };
        if !s.pipeline.complete(batch, result) {
            return out;
        }
        let mut wrote = false;
        while let Some(b) = s.pipeline.pop_completed() {
            if !s.pipeline.accept(&b) {
                continue;
            }
            if let Some(log) = &mut s.log {
                log.wrote(&b.buf);
            }
            // Their payloads are read back from the log from now on.
            s.logged(b.at.0, b.at.1, &b.msgs);
            s.pipeline.done = b.number;
            s.pipeline.recycle(b.buf);
            wrote = true;
        }
        s.pipeline.release(&mut out);
        if wrote {
            if let Err(e) = s.reclaim(s.pipeline.done) {
                crate::log_at!(
                    Warn,
                    "JetStream stream '{}' compaction failed: {e}",
                    s.config.name
                );
            }
        }
        if s.pipeline.inflight.is_empty() {
            if let Some(e) = s.pipeline.failed.take() {
                crate::log_at!(
                    Error,
                    "JetStream stream '{}' write failed: {e}",
                    s.config.name
                );
                out.extend(self.fail_stream(id, &e));
            }
        }
        out
    }

    /// A write failed and none is in flight any more: the log is cut back to its last good
    /// length and the stream reloaded from it, so nothing unwritten stays visible; every ack
    /// still waiting (the failed batch's and the ones behind it) reports the error, and
    /// their republished copies are dropped.
    fn fail_stream(&mut self, id: StreamId, err: &str) -> Vec<Outgoing> {
        let Some(s) = self.stream_mut(id) else {
            return Vec::new();
        };
        let e = ApiError::store_failed(err);
        let body = format!(
            "{{\"error\":{},\"stream\":{},\"seq\":0}}",
            String::from_utf8_lossy(&crate::system::go_json(&e)),
            json_str(&s.config.name)
        )
        .into_bytes();
        let out: Vec<Outgoing> = std::mem::take(&mut s.pipeline.waiting)
            .into_iter()
            .map(|(_, o)| o)
            .filter(|o| o.is_ack)
            .map(|o| Outgoing {
                body: body.clone(),
                ..o
            })
            .collect();
        s.pending.clear();
        s.pending_msgs.clear();
        if let Some(log) = &mut s.log {
            log.cut_back();
        }
        self.reload(id);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::AccountId;
    use crate::jetstream::api::Context;
    use crate::jetstream::store::Payload;
    use crate::jetstream::stream::Published;
    use crate::jetstream::{AccountLimits, JsAccount, Options, Settings};
    use bytes::Bytes;

    const ACC: AccountId = 0;

    fn host(dir: &std::path::Path) -> JetStream {
        let _ = std::fs::remove_dir_all(dir);
        let settings = Settings::new(Some(dir.to_path_buf()), Options::default());
        let account = JsAccount {
            id: ACC,
            name: "$G".into(),
            limits: AccountLimits::default(),
        };
        JetStream::open(settings, &[account])
    }

    fn create(js: &mut JetStream, body: &str) {
        let cx = Context {
            account: ACC,
            account_name: "$G",
            server_name: "n",
        };
        let name = serde_json::from_str::<serde_json::Value>(body).unwrap()["name"]
            .as_str()
            .unwrap()
            .to_string();
        let subject = format!("$JS.API.STREAM.CREATE.{name}");
        let r = js
            .api(&cx, subject.as_bytes(), body.as_bytes(), &mut |_, _, _| {
                false
            })
            .unwrap();
        assert!(String::from_utf8_lossy(&r.body).contains("did_create"));
    }

    /// What the reactor does with a write.
    fn perform(w: &FileWrite) -> usize {
        // SAFETY: `ptr`/`len` point into the stream's in-flight buffer, alive until
        // `written`; `fd` is the stream log's open descriptor.
        let n = unsafe { libc::pwrite(w.fd, w.ptr.cast(), w.len, w.offset as libc::off_t) };
        usize::try_from(n).unwrap()
    }

    /// `data` published with no headers, as the host hands it over.
    fn published(data: &[u8]) -> Published<'_> {
        Published {
            raw: data,
            shared: None,
            hdr_len: 0,
        }
    }

    fn bodies(out: &[Outgoing]) -> Vec<String> {
        out.iter()
            .map(|o| String::from_utf8_lossy(&o.body).into_owned())
            .collect()
    }

    fn ingest(js: &mut JetStream, id: StreamId, subject: &[u8], reply: &[u8], data: &'static [u8]) {
        js.ingest(ACC, id, subject, Some(reply), published(data));
    }

    #[test]
    fn acks_leave_in_order_once_every_write_before_theirs_completed() {
        let dir = std::env::temp_dir().join(format!("riptide-commit-{}", std::process::id()));
        let mut js = host(&dir);
        create(&mut js, r#"{"name":"F","subjects":["f"]}"#);
        create(
            &mut js,
            r#"{"name":"M","subjects":["m"],"storage":"memory"}"#,
        );
        let id = StreamId(0);
        ingest(&mut js, id, b"f", b"r1", b"one");
        ingest(&mut js, StreamId(1), b"m", b"r2", b"mem");
        let (out, first) = js.commit();
        // The memory stream's ack leaves at once; the file stream's waits for its write.
        assert_eq!(bodies(&out), [r#"{"stream":"M","seq":1}"#]);
        assert_eq!(first.len(), 1);
        // Stored while the first write is in flight: a second write, right behind it.
        ingest(&mut js, id, b"f", b"r3", b"two");
        let (out, second) = js.commit();
        assert!(out.is_empty());
        assert_eq!(second[0].offset, first[0].offset + first[0].len as u64);
        let n2 = perform(&second[0]);
        let n1 = perform(&first[0]);
        // The second completes first: its ack waits for the first write.
        assert!(js.written(id, second[0].batch, Ok(n2)).is_empty());
        let out = js.written(id, first[0].batch, Ok(n1));
        assert_eq!(
            bodies(&out),
            [r#"{"stream":"F","seq":1}"#, r#"{"stream":"F","seq":2}"#]
        );
        let written = (n1 + n2) as u64;

        // Two more writes; the first fails after half of it reached the file, the second
        // lands behind it.
        ingest(&mut js, id, b"f", b"r4", b"three");
        let (_, third) = js.commit();
        ingest(&mut js, id, b"f", b"r5", b"four");
        let (_, fourth) = js.commit();
        perform(&FileWrite {
            len: third[0].len / 2,
            ..third.into_iter().next().unwrap()
        });
        let n4 = perform(&fourth[0]);
        let out = js.written(id, 3, Err(std::io::Error::from_raw_os_error(libc::ENOSPC)));
        // Nothing is cut back while the fourth write is still in flight.
        assert!(out.is_empty());
        assert!(js.commit().1.is_empty());
        let out = js.written(id, fourth[0].batch, Ok(n4));
        // Both acks report the error; the file is cut back and both messages are gone.
        let b = bodies(&out);
        assert_eq!(b.len(), 2, "{b:?}");
        for body in &b {
            assert!(
                body.starts_with(
                    r#"{"error":{"code":503,"err_code":10077,"description":"No space left on device"#
                ),
                "{b:?}"
            );
        }
        assert_eq!(js.stream(id).unwrap().store.len(), 2);
        let block = dir.join("jetstream/$G/streams/F/msgs/0000000001.blk");
        assert_eq!(std::fs::metadata(&block).unwrap().len(), written);
        // The stream goes on after the failure.
        ingest(&mut js, id, b"f", b"r6", b"five");
        let (_, fifth) = js.commit();
        let n5 = perform(&fifth[0]);
        let out = js.written(id, fifth[0].batch, Ok(n5));
        assert_eq!(bodies(&out), [r#"{"stream":"F","seq":3}"#]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_payload_is_read_from_its_batch_until_written_then_from_the_log() {
        let dir = std::env::temp_dir().join(format!("riptide-unwritten-{}", std::process::id()));
        let mut js = host(&dir);
        create(&mut js, r#"{"name":"F","subjects":["f"]}"#);
        let id = StreamId(0);
        let read = |js: &JetStream, seq: u64| {
            let s = js.stream(id).unwrap();
            let m = s.store.get(seq).unwrap();
            (
                matches!(m.data, Payload::Unwritten(_)),
                s.payload(seq, m).unwrap(),
            )
        };
        ingest(&mut js, id, b"f", b"r1", b"one");
        ingest(&mut js, id, b"f", b"r2", b"two");
        assert_eq!(read(&js, 2), (true, Bytes::from_static(b"two")));
        let (_, first) = js.commit();
        ingest(&mut js, id, b"f", b"r3", b"three");
        // Seq 1 and 2 are in the write in flight, 3 in the batch filling.
        assert_eq!(read(&js, 1), (true, Bytes::from_static(b"one")));
        assert_eq!(read(&js, 3), (true, Bytes::from_static(b"three")));
        let n = perform(&first[0]);
        js.written(id, first[0].batch, Ok(n));
        assert_eq!(read(&js, 2), (false, Bytes::from_static(b"two")));
        assert_eq!(read(&js, 3), (true, Bytes::from_static(b"three")));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Stores `data` on `subject` in stream `id` as one write.
    fn put_written(js: &mut JetStream, id: StreamId, subject: &[u8], data: Bytes) {
        js.ingest(ACC, id, subject, None, published(&data));
        let (_, writes) = js.commit();
        let n = perform(&writes[0]);
        js.written(id, writes[0].batch, Ok(n));
    }

    fn blocks(dir: &std::path::Path, ext: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(ext))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn blocks_roll_empty_ones_go_and_mostly_dead_ones_are_rewritten() {
        let dir = std::env::temp_dir().join(format!("riptide-blocks-{}", std::process::id()));
        let mut js = host(&dir);
        create(
            &mut js,
            r#"{"name":"C","subjects":["c.*"],"max_msgs_per_subject":1}"#,
        );
        let id = StreamId(0);
        let msgs = dir.join("jetstream/$G/streams/C/msgs");
        let big = |i: u8| Bytes::from(vec![i; 3 * 1024 * 1024]);
        // Block 1 fills with c.a, then two c.b: 9 MiB, so the next write starts block 2.
        put_written(&mut js, id, b"c.a", big(1));
        put_written(&mut js, id, b"c.b", big(2));
        put_written(&mut js, id, b"c.b", big(3));
        assert_eq!(blocks(&msgs, ".blk"), ["0000000001.blk"]);
        // The third c.b leaves only c.a live in block 1 (a third of it): that block is
        // rewritten, keeping c.a where a reader finds it.
        put_written(&mut js, id, b"c.b", big(4));
        assert_eq!(blocks(&msgs, ".blk"), ["0000000001.blk", "0000000002.blk"]);
        let first = std::fs::metadata(msgs.join("0000000001.blk"))
            .unwrap()
            .len();
        assert!(first < 4 * 1024 * 1024, "not rewritten: {first} bytes");
        let s = js.stream(id).unwrap();
        assert_eq!(s.payload(1, s.store.get(1).unwrap()).unwrap(), big(1));
        assert!(matches!(
            s.store.get(4).unwrap().data,
            Payload::Log { block: 2, .. }
        ));
        // Once c.a goes too, block 1 holds nothing live and goes as a whole.
        put_written(&mut js, id, b"c.z", Bytes::from_static(b"z"));
        js.stream_mut(id).unwrap().purge(b"c.a", None, 0);
        put_written(&mut js, id, b"c.b", big(6));
        assert_eq!(blocks(&msgs, ".blk"), ["0000000002.blk"]);
        // Block 2 fills and is sealed; then only c.z is live in it, so it is rewritten.
        put_written(&mut js, id, b"c.b", big(7));
        put_written(&mut js, id, b"c.b", big(8));
        assert_eq!(blocks(&msgs, ".blk"), ["0000000002.blk", "0000000003.blk"]);
        let second = std::fs::metadata(msgs.join("0000000002.blk"))
            .unwrap()
            .len();
        assert!(second < 1024, "not rewritten: {second} bytes");
        // A restart recovers the same: the sealed block from its index, the last one read.
        assert!(blocks(&msgs, ".idx").contains(&"0000000002.idx".to_string()));
        js.reload(id);
        let s = js.stream(id).unwrap();
        assert_eq!(
            (s.store.len(), s.store.first_seq(), s.store.last_seq()),
            (2, 5, 8)
        );
        assert_eq!(&s.payload(5, s.store.get(5).unwrap()).unwrap()[..], b"z");
        assert_eq!(s.payload(8, s.store.get(8).unwrap()).unwrap(), big(8));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

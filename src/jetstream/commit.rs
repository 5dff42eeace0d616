//! Group commit: what a turn stored goes to the stream's log in one write submitted on the
//! host shard's io_uring ring (linked to an fsync with `sync_interval: always`), one write
//! in flight per stream, and the acks and republished copies of those messages leave only
//! when the write covering them completed. Sans-IO: the reactor submits the `FileWrite`s
//! and reports their completions.

use std::collections::VecDeque;
use std::os::fd::RawFd;

use super::errors::ApiError;
use super::{json_str, JetStream, Outgoing, StreamId};

/// The largest write buffer kept for reuse; a rare huge batch's is freed.
const MAX_SPARE_BYTES: usize = 16 * 1024 * 1024;

/// One write for the reactor to submit. `ptr`/`len` point into the stream's in-flight
/// buffer, which stays put until `JetStream::written` is called for it.
#[derive(Debug)]
pub(crate) struct FileWrite {
    pub stream: StreamId,
    pub fd: RawFd,
    pub offset: u64,
    pub ptr: *const u8,
    pub len: usize,
    /// Linked to an fsync: done only when the data is on disk.
    pub sync: bool,
}

/// A stream's side of the pipeline. Batches are numbered: the one filling `Stream::pending`
/// is `next`, the one being written `next - 1` while `inflight` holds it, and `done` is the
/// last one written.
#[derive(Debug)]
pub(crate) struct Pipeline {
    inflight: Vec<u8>,
    /// The messages in `inflight`, where their payloads start there, and where it goes in
    /// the log.
    inflight_msgs: Vec<(u64, usize)>,
    /// The block and offset `inflight` goes to.
    inflight_at: (u32, u64),
    /// The last written buffer, emptied, to fill next: reusing its pages spares the kernel
    /// zeroing fresh ones for every batch (most of the time of large messages otherwise).
    spare: Vec<u8>,
    next: u64,
    done: u64,
    /// Messages to publish once the batch they wait for is written, in order.
    waiting: VecDeque<(u64, Outgoing)>,
}

impl Default for Pipeline {
    fn default() -> Pipeline {
        Pipeline {
            inflight: Vec::new(),
            inflight_msgs: Vec::new(),
            inflight_at: (0, 0),
            spare: Vec::new(),
            next: 1,
            done: 0,
            waiting: VecDeque::new(),
        }
    }
}

impl Pipeline {
    /// The number of the batch being filled: the records stored now go with it.
    pub(crate) fn filling(&self) -> u64 {
        self.next
    }

    /// Whether a write is in flight (its buffer must outlive it).
    pub(crate) fn writing(&self) -> bool {
        !self.inflight.is_empty()
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
}

impl JetStream {
    /// End of turn: every stream with records and no write in flight starts one; what no
    /// longer waits for a write (memory streams, acks of refusals) is returned to publish.
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
            } else if !s.pipeline.writing() && !s.pending.is_empty() {
                if let Err(e) = s.roll_if_full() {
                    // The write goes to the full block, which stays open for more.
                    crate::log_at!(
                        Error,
                        "JetStream stream '{}' could not start a new block: {e}",
                        s.config.name
                    );
                }
                let log = s.log.as_ref().expect("checked above");
                let p = &mut s.pipeline;
                p.inflight = std::mem::replace(&mut s.pending, std::mem::take(&mut p.spare));
                p.inflight_msgs = std::mem::take(&mut s.pending_msgs);
                p.inflight_at = (log.active(), log.len());
                p.next += 1;
                writes.push(FileWrite {
                    stream: StreamId(i as u32),
                    fd: log.fd(),
                    offset: log.len(),
                    ptr: p.inflight.as_ptr(),
                    len: p.inflight.len(),
                    sync,
                });
            }
            let p = &mut s.pipeline;
            p.release(&mut out);
        }
        (out, writes)
    }

    /// The write of stream `id` completed: `Ok` with the bytes written (after the fsync
    /// when it had one) or the error. Returns what may now be published.
    pub(crate) fn written(
        &mut self,
        id: StreamId,
        result: std::io::Result<usize>,
    ) -> Vec<Outgoing> {
        if let Some(i) = self.retired.iter().position(|(r, _)| *r == id) {
            // Deleted while its write was in flight; the buffer could go only now.
            self.retired.swap_remove(i);
            return Vec::new();
        }
        let mut out = Vec::new();
        let Some(s) = self.stream_mut(id) else {
            return out;
        };
        let expected = s.pipeline.inflight.len();
        let result = result.and_then(|n| {
            if n == expected {
                Ok(n)
            } else {
                Err(std::io::Error::other(format!(
                    "short write: {n} of {expected} bytes"
                )))
            }
        });
        match result {
            Ok(n) => {
                if let Some(log) = &mut s.log {
                    log.wrote(n as u64);
                }
                // Their payloads are read back from the log from now on.
                let (block, at) = s.pipeline.inflight_at;
                let msgs = std::mem::take(&mut s.pipeline.inflight_msgs);
                s.logged(block, at, &msgs);
                let mut spare = std::mem::take(&mut s.pipeline.inflight);
                if spare.capacity() <= MAX_SPARE_BYTES {
                    spare.clear();
                    s.pipeline.spare = spare;
                }
                s.pipeline.done = s.pipeline.next - 1;
                s.pipeline.release(&mut out);
                if let Err(e) = s.reclaim(s.pipeline.done) {
                    crate::log_at!(
                        Warn,
                        "JetStream stream '{}' compaction failed: {e}",
                        s.config.name
                    );
                }
            }
            Err(e) => {
                crate::log_at!(
                    Error,
                    "JetStream stream '{}' write failed: {e}",
                    s.config.name
                );
                out = self.fail_stream(id, &e.to_string());
            }
        }
        out
    }

    /// A write failed: the log is cut back to its last good length and the stream reloaded
    /// from it, so nothing unwritten stays visible; every ack still waiting (this batch and
    /// the ones behind it) reports the error, and their republished copies are dropped.
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
        s.pipeline.inflight = Vec::new();
        s.pipeline.inflight_msgs.clear();
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
        let r = js.api(&cx, subject.as_bytes(), body.as_bytes()).unwrap();
        assert!(String::from_utf8_lossy(&r.body).contains("did_create"));
    }

    /// What the reactor does with a write.
    fn perform(w: &FileWrite) -> usize {
        // SAFETY: `ptr`/`len` point into the stream's in-flight buffer, alive until
        // `written`; `fd` is the stream log's open descriptor.
        let n = unsafe { libc::pwrite(w.fd, w.ptr.cast(), w.len, w.offset as libc::off_t) };
        usize::try_from(n).unwrap()
    }

    fn bodies(out: &[Outgoing]) -> Vec<String> {
        out.iter()
            .map(|o| String::from_utf8_lossy(&o.body).into_owned())
            .collect()
    }

    #[test]
    fn acks_wait_for_their_write_and_writes_do_not_overlap() {
        let dir = std::env::temp_dir().join(format!("riptide-commit-{}", std::process::id()));
        let mut js = host(&dir);
        create(&mut js, r#"{"name":"F","subjects":["f"]}"#);
        create(
            &mut js,
            r#"{"name":"M","subjects":["m"],"storage":"memory"}"#,
        );
        let id = StreamId(0);
        js.ingest(ACC, id, b"f", Some(b"r1"), &Bytes::from_static(b"one"), 0);
        js.ingest(
            ACC,
            StreamId(1),
            b"m",
            Some(b"r2"),
            &Bytes::from_static(b"mem"),
            0,
        );
        let (out, writes) = js.commit();
        // The memory stream's ack leaves at once; the file stream's waits for its write.
        assert_eq!(bodies(&out), [r#"{"stream":"M","seq":1}"#]);
        assert_eq!(writes.len(), 1);
        let first = perform(&writes[0]);
        // Stored while the first write is in flight: held for the next batch.
        js.ingest(ACC, id, b"f", Some(b"r3"), &Bytes::from_static(b"two"), 0);
        let (out, writes) = js.commit();
        assert!(out.is_empty() && writes.is_empty());
        let out = js.written(id, Ok(first));
        assert_eq!(bodies(&out), [r#"{"stream":"F","seq":1}"#]);
        let (out, writes) = js.commit();
        assert!(out.is_empty());
        assert_eq!(writes[0].offset, first as u64);
        // Half of it reaches the file before the error.
        let half = FileWrite {
            len: writes[0].len / 2,
            ..writes.into_iter().next().unwrap()
        };
        perform(&half);
        // The second write fails: its ack reports the error and the message is gone.
        let out = js.written(id, Err(std::io::Error::from_raw_os_error(libc::ENOSPC)));
        let b = bodies(&out);
        assert!(
            b[0].starts_with(
                r#"{"error":{"code":503,"err_code":10077,"description":"No space left on device"#
            ),
            "{b:?}"
        );
        assert_eq!(js.stream(id).unwrap().store.len(), 1);
        let block = dir.join("jetstream/$G/streams/F/msgs/0000000001.blk");
        assert_eq!(std::fs::metadata(block).unwrap().len(), first as u64);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Stores `data` on `subject` in stream `id` as one write.
    fn put_written(js: &mut JetStream, id: StreamId, subject: &[u8], data: Bytes) {
        js.ingest(ACC, id, subject, None, &data, 0);
        let (_, writes) = js.commit();
        let n = perform(&writes[0]);
        js.written(id, Ok(n));
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
        assert_eq!(s.payload(s.store.get(1).unwrap()).unwrap(), big(1));
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
        assert_eq!(&s.payload(s.store.get(5).unwrap()).unwrap()[..], b"z");
        assert_eq!(s.payload(s.store.get(8).unwrap()).unwrap(), big(8));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

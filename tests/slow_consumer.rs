//! A client that never reads is cut off as a slow consumer, while a well-behaved subscriber on
//! the same shard and one on another shard keep receiving everything.

use crate::common;

use std::io::{BufRead, BufReader, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{one_per_shard, Raw, IO_TIMEOUT};

const SHARDS: usize = 2;
/// Small enough that the stalled reader passes it quickly, bytes.
const MAX_PENDING: usize = 2 * 1024 * 1024;
/// 40 MiB in all: more than the kernel's socket buffers and `MAX_PENDING` can hold.
const MESSAGES: usize = 40_000;
const PAYLOAD: usize = 1024;
/// Messages per publisher batch; a healthy reader is never more than two batches (about
/// 1 MiB) behind, well under `MAX_PENDING`, however slowly the busy machine runs it.
const BATCH: usize = 500;

#[test]
fn slow_consumer_is_dropped_and_nobody_else_stalls() {
    let mut cfg = common::config(SHARDS);
    cfg.max_pending = MAX_PENDING;
    let srv = common::start_with(cfg);

    // One stalled reader and one healthy reader on each shard.
    let mut stalled = Vec::new();
    let mut readers = Vec::new();
    let mut progress = Vec::new();
    for _ in 0..2 {
        for (i, mut c) in one_per_shard(srv.addr, SHARDS).into_iter().enumerate() {
            c.send(b"CONNECT {\"verbose\":false}\r\nSUB flood 1\r\n");
            assert_eq!(c.sync(), b"");
            if stalled.len() < SHARDS && i == stalled.len() {
                stalled.push(c);
            } else {
                let stream = c.s.try_clone().unwrap();
                stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
                let received = Arc::new(AtomicUsize::new(0));
                progress.push(received.clone());
                readers.push(thread::spawn(move || {
                    let mut r = BufReader::new(stream);
                    let mut line = Vec::new();
                    for _ in 0..MESSAGES {
                        line.clear();
                        r.read_until(b'\n', &mut line).unwrap();
                        assert!(line.starts_with(b"MSG flood 1 "));
                        line.clear();
                        r.read_until(b'\n', &mut line).unwrap();
                        assert_eq!(line.len(), PAYLOAD + 2);
                        received.fetch_add(1, Ordering::Relaxed);
                    }
                }));
            }
        }
    }
    assert_eq!(stalled.len(), SHARDS);

    let mut publ = Raw::connect(srv.addr);
    publ.send(b"CONNECT {\"verbose\":false}\r\n");
    let payload = vec![b'p'; PAYLOAD];
    let mut batch = Vec::new();
    for i in 0..MESSAGES {
        write!(batch, "PUB flood {PAYLOAD}\r\n").unwrap();
        batch.extend_from_slice(&payload);
        batch.extend_from_slice(b"\r\n");
        if i % BATCH == BATCH - 1 {
            publ.send(&batch);
            batch.clear();
            assert_eq!(publ.sync(), b"");
            wait_for_readers(&progress, i + 1 - BATCH);
        }
    }
    publ.send(&batch);
    assert_eq!(publ.sync(), b"");
    for r in readers {
        r.join().unwrap();
    }
    // The stalled clients were disconnected (no -ERR, as the Go server does).
    for mut s in stalled {
        let got = s.read_to_close();
        assert!(
            !got.windows(4).any(|w| w == b"-ERR"),
            "slow consumers get no -ERR"
        );
    }
}

/// Waits until every healthy reader has received `n` messages, so the publisher cannot push
/// them past `MAX_PENDING` (only the stalled readers may get there).
fn wait_for_readers(progress: &[Arc<AtomicUsize>], n: usize) {
    let deadline = Instant::now() + IO_TIMEOUT;
    while progress.iter().any(|p| p.load(Ordering::Relaxed) < n) {
        assert!(
            Instant::now() < deadline,
            "a healthy reader stopped at {n} messages"
        );
        thread::sleep(Duration::from_millis(1));
    }
}

/// Fast publishers on the consumer's shard are paced to it, as the Go server's stall gate
/// does (the loadgen `fanin` scenario at 16 KiB): a consumer that keeps reading gets every
/// message and is never cut off, though the publishers offer far more than `max_pending`.
#[test]
fn fast_publishers_are_paced_to_a_reading_consumer() {
    const PUBLISHERS: usize = 4;
    const EACH: usize = 1024;
    const SIZE: usize = 16 * 1024;
    let mut cfg = common::config(1);
    cfg.max_pending = MAX_PENDING;
    let srv = common::start_with(cfg);

    let mut sub = Raw::connect(srv.addr);
    sub.send(b"CONNECT {\"verbose\":false}\r\nSUB fanin 1\r\n");
    assert_eq!(sub.sync(), b"");
    let stream = sub.s.try_clone().unwrap();
    let reader = thread::spawn(move || {
        let mut r = BufReader::new(stream);
        let mut line = Vec::new();
        for _ in 0..PUBLISHERS * EACH {
            line.clear();
            r.read_until(b'\n', &mut line).unwrap();
            assert_eq!(line, format!("MSG fanin 1 {SIZE}\r\n").as_bytes());
            line.clear();
            r.read_until(b'\n', &mut line).unwrap();
            assert_eq!(line.len(), SIZE + 2);
        }
    });
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|_| {
            let addr = srv.addr;
            thread::spawn(move || {
                let mut p = Raw::connect(addr);
                p.send(b"CONNECT {\"verbose\":false}\r\n");
                let mut all = Vec::with_capacity(EACH * (SIZE + 32));
                for _ in 0..EACH {
                    write!(all, "PUB fanin {SIZE}\r\n").unwrap();
                    all.resize(all.len() + SIZE, b'f');
                    all.extend_from_slice(b"\r\n");
                }
                p.send(&all);
                assert_eq!(p.sync(), b"");
            })
        })
        .collect();
    for p in publishers {
        p.join().unwrap();
    }
    reader.join().unwrap();
    // Still connected: the consumer was never cut off.
    assert_eq!(sub.sync(), b"");
}

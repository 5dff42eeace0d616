//! Cross-shard stress: publishers and subscribers spread over 4 shards. Nothing lost, nothing
//! duplicated, each publisher's order kept at every subscriber, and a queue group spread
//! over the shards gets every message exactly once.

use crate::common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::thread;

use common::{one_per_shard, Raw, IO_TIMEOUT};

const SHARDS: usize = 4;
const PUBLISHERS: usize = 8;
const SUBSCRIBERS: usize = 8;
const QUEUE_MEMBERS: usize = 4;
/// 1M messages in release builds (the README's test command); fewer in debug builds.
const TOTAL: usize = if cfg!(debug_assertions) {
    80_000
} else {
    1_000_000
};
const PER_PUBLISHER: usize = TOTAL / PUBLISHERS;
/// Publishers sync with a PING after this many messages, bounding what is in flight.
const WINDOW: usize = 5_000;

/// Connects `n` raw clients spread round-robin over the shards.
fn spread(addr: std::net::SocketAddr, n: usize) -> Vec<Raw> {
    let mut out = Vec::new();
    while out.len() < n {
        out.extend(one_per_shard(addr, SHARDS));
    }
    out.truncate(n);
    out
}

/// Reads MSG frames until `expect` arrived; returns (publisher, seq) pairs in arrival order.
fn receive(stream: TcpStream, expect: usize) -> Vec<(u8, u32)> {
    let mut r = BufReader::with_capacity(1 << 20, stream);
    let mut got = Vec::with_capacity(expect);
    let mut line = Vec::new();
    while got.len() < expect {
        line.clear();
        r.read_until(b'\n', &mut line).unwrap();
        assert!(
            line.starts_with(b"MSG "),
            "{}",
            String::from_utf8_lossy(&line)
        );
        line.clear();
        r.read_until(b'\n', &mut line).unwrap();
        // Payload: "<publisher>:<seq>"
        let body = std::str::from_utf8(&line[..line.len() - 2]).unwrap();
        let (p, s) = body.split_once(':').unwrap();
        got.push((p.parse().unwrap(), s.parse().unwrap()));
    }
    got
}

#[test]
fn cross_shard_order_no_loss_no_dup_and_queue_exactly_once() {
    let mut cfg = common::config(SHARDS);
    // The test's own readers share 2 cores with the server; let them lag without being
    // cut off as slow consumers.
    cfg.max_pending = 1 << 30;
    let srv = common::start_with(cfg);

    let mut readers = Vec::new();
    for mut s in spread(srv.addr, SUBSCRIBERS) {
        s.send(b"CONNECT {\"verbose\":false}\r\nSUB stress.> 1\r\n");
        assert_eq!(s.sync(), b"");
        let stream = s.s.try_clone().unwrap();
        stream.set_read_timeout(Some(IO_TIMEOUT * 6)).unwrap();
        readers.push(thread::spawn(move || receive(stream, TOTAL)));
    }
    let queue_seen = Arc::new(Mutex::new(Vec::new()));
    let mut queue_conns = Vec::new();
    for mut q in spread(srv.addr, QUEUE_MEMBERS) {
        q.send(b"CONNECT {\"verbose\":false}\r\nSUB stress.* grp 1\r\n");
        assert_eq!(q.sync(), b"");
        queue_conns.push(q);
    }

    let mut publishers = Vec::new();
    for (p, mut c) in spread(srv.addr, PUBLISHERS).into_iter().enumerate() {
        publishers.push(thread::spawn(move || {
            c.send(b"CONNECT {\"verbose\":false}\r\n");
            let mut buf = Vec::with_capacity(WINDOW * 32);
            for seq in 0..PER_PUBLISHER {
                let body = format!("{p}:{seq}");
                write!(buf, "PUB stress.{p} {}\r\n{body}\r\n", body.len()).unwrap();
                if (seq + 1) % WINDOW == 0 || seq + 1 == PER_PUBLISHER {
                    c.send(&buf);
                    buf.clear();
                    assert_eq!(c.sync(), b"");
                }
            }
        }));
    }
    for p in publishers {
        p.join().unwrap();
    }

    // The queue members: everything they got, until the group total is reached.
    let mut total = 0;
    let mut per_member = Vec::new();
    let mut tail = Vec::new();
    for q in &mut queue_conns {
        let stream = q.s.try_clone().unwrap();
        tail.push(stream);
    }
    // Members read concurrently, each until the whole group has TOTAL messages.
    let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut handles = Vec::new();
    for stream in tail {
        let (seen, counter) = (queue_seen.clone(), counter.clone());
        handles.push(thread::spawn(move || {
            stream
                .set_read_timeout(Some(std::time::Duration::from_millis(2000)))
                .unwrap();
            let mut r = BufReader::new(stream);
            let mut line = Vec::new();
            let mut mine = Vec::new();
            while counter.load(std::sync::atomic::Ordering::SeqCst) < TOTAL {
                line.clear();
                match r.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                line.clear();
                r.read_until(b'\n', &mut line).unwrap();
                let body = String::from_utf8(line[..line.len() - 2].to_vec()).unwrap();
                mine.push(body);
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            let n = mine.len();
            seen.lock().unwrap().extend(mine);
            n
        }));
    }
    for h in handles {
        let n = h.join().unwrap();
        total += n;
        per_member.push(n);
    }
    assert_eq!(total, TOTAL, "queue group total {per_member:?}");
    let mut all = queue_seen.lock().unwrap().clone();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), TOTAL, "no message twice in the queue group");
    assert!(per_member.iter().all(|&n| n > 0), "{per_member:?}");

    for r in readers {
        let got = r.join().unwrap();
        let mut next = [0u32; PUBLISHERS];
        for (p, seq) in got {
            assert_eq!(
                seq, next[p as usize],
                "publisher {p}: gap, duplicate or reorder"
            );
            next[p as usize] += 1;
        }
        assert!(next.iter().all(|&n| n as usize == PER_PUBLISHER));
    }
}

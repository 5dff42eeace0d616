//! Micro-benchmarks of the message path's sans-IO parts: parser, sublist, encoders, the
//! cross-shard ring, outbound assembly, and one shard end to end (parse, match, fan-out,
//! encode) without sockets. Sizes follow the Go server's `PubXb_Payload` table.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use riptide::config::Config;
use riptide::conn::Outbound;
use riptide::fanout::{Mesh, ShardMsg};
use riptide::proto::{encode, Flow, Handler, Parser, PubArgs, Publish, Stop};
use riptide::server::Server;
use riptide::shard::Shard;
use riptide::shard::{ConnId, SlotId};
use riptide::subject::Sublist;
use riptide::timer_wheel::TimerWheel;

const SIZES: [usize; 4] = [0, 128, 1024, 32 * 1024];

/// Counts operations and otherwise does nothing, so only the parser is measured.
struct Count(usize);

impl Handler for Count {
    fn connect(&mut self, _: &[u8]) -> Result<Flow, Stop> {
        Ok(Flow::Continue)
    }
    fn pub_args(&mut self, _: &PubArgs<'_>) -> Result<(), Stop> {
        Ok(())
    }
    fn publish(&mut self, m: Publish<'_>) -> Result<Flow, Stop> {
        self.0 += m.data.len();
        Ok(Flow::Continue)
    }
    fn sub(&mut self, _: &[u8], _: Option<&[u8]>, _: &[u8]) -> Result<Flow, Stop> {
        Ok(Flow::Continue)
    }
    fn unsub(&mut self, _: &[u8], _: Option<i64>) -> Result<Flow, Stop> {
        Ok(Flow::Continue)
    }
    fn ping(&mut self) -> Result<Flow, Stop> {
        Ok(Flow::Continue)
    }
    fn pong(&mut self) -> Result<Flow, Stop> {
        Ok(Flow::Continue)
    }
    fn client_err(&mut self, _: &[u8]) -> Stop {
        Stop
    }
}

fn stream(op: &str, size: usize, count: usize) -> Vec<u8> {
    let mut one = if op == "HPUB" {
        let hdr = b"NATS/1.0\r\nA: b\r\n\r\n";
        let mut v =
            format!("HPUB bench.subject {} {}\r\n", hdr.len(), hdr.len() + size).into_bytes();
        v.extend_from_slice(hdr);
        v
    } else {
        format!("PUB bench.subject {size}\r\n").into_bytes()
    };
    one.extend(std::iter::repeat_n(b'x', size));
    one.extend_from_slice(b"\r\n");
    one.repeat(count)
}

fn parser(c: &mut Criterion) {
    let mut g = c.benchmark_group("parser");
    for op in ["PUB", "HPUB"] {
        for size in SIZES {
            let count = (256 * 1024 / (size + 32)).max(4);
            let input = stream(op, size, count);
            g.throughput(Throughput::Bytes(input.len() as u64));
            g.bench_with_input(
                BenchmarkId::new(format!("{op}/unsplit"), size),
                &input,
                |b, input| {
                    b.iter(|| {
                        let mut p = Parser::new(4096);
                        let mut h = Count(0);
                        p.parse(black_box(input), &mut h).unwrap();
                        h.0
                    })
                },
            );
            // Reads of 4 KiB, as from a small socket buffer: every op may straddle a read.
            g.bench_with_input(
                BenchmarkId::new(format!("{op}/split4k"), size),
                &input,
                |b, input| {
                    b.iter(|| {
                        let mut p = Parser::new(4096);
                        let mut h = Count(0);
                        for chunk in input.chunks(4096) {
                            p.parse(black_box(chunk), &mut h).unwrap();
                        }
                        h.0
                    })
                },
            );
        }
    }
    g.finish();
}

/// 10k subscriptions: literal subjects of 1-5 tokens, or wildcard-heavy ones.
fn sublist_with(wild: bool) -> (Sublist<usize>, Vec<String>) {
    let mut s = Sublist::new();
    let mut probes = Vec::new();
    for i in 0..10_000usize {
        let depth = 1 + i % 5;
        let toks: Vec<String> = (0..depth)
            .map(|d| format!("t{}", (i >> (d * 2)) % 16))
            .collect();
        let subject = toks.join(".");
        let pattern = if wild && i % 2 == 0 {
            let mut t = toks.clone();
            t[depth / 2] = "*".into();
            if i % 4 == 0 {
                t.truncate(depth / 2 + 1);
                t.push(">".into());
            }
            t.join(".")
        } else {
            subject.clone()
        };
        s.insert(pattern.as_bytes(), None, i).unwrap();
        probes.push(subject);
    }
    (s, probes)
}

fn sublist(c: &mut Criterion) {
    let mut g = c.benchmark_group("sublist");
    for (name, wild) in [("literal", false), ("wildcard", true)] {
        let (s, probes) = sublist_with(wild);
        g.throughput(Throughput::Elements(probes.len() as u64));
        g.bench_function(BenchmarkId::new("match", name), |b| {
            b.iter(|| {
                probes
                    .iter()
                    .map(|p| s.matches(black_box(p.as_bytes())).plain.len())
                    .sum::<usize>()
            })
        });
    }
    let (_, probes) = sublist_with(false);
    g.throughput(Throughput::Elements(probes.len() as u64));
    g.bench_function("insert_remove", |b| {
        b.iter(|| {
            let mut s = Sublist::new();
            for (i, p) in probes.iter().enumerate() {
                s.insert(p.as_bytes(), None, i).unwrap();
            }
            for (i, p) in probes.iter().enumerate() {
                s.remove(p.as_bytes(), None, &i);
            }
            s.len()
        })
    });
    g.finish();
}

fn encoders(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode");
    g.throughput(Throughput::Elements(1000));
    let mut out = Vec::with_capacity(64 * 1024);
    g.bench_function("MSG", |b| {
        b.iter(|| {
            out.clear();
            for i in 0..1000 {
                encode::msg_line(&mut out, b"bench.subject", b"17", None, None, black_box(i));
            }
            out.len()
        })
    });
    g.bench_function("HMSG_reply", |b| {
        b.iter(|| {
            out.clear();
            for i in 0..1000 {
                encode::msg_line(
                    &mut out,
                    b"bench.subject",
                    b"17",
                    Some(b"_INBOX.abc.1"),
                    Some(22),
                    black_box(i),
                );
            }
            out.len()
        })
    });
    g.finish();
}

fn ring(c: &mut Criterion) {
    let mut g = c.benchmark_group("ring");
    let mesh = Mesh::new(2).unwrap();
    let payload = Bytes::from(vec![b'x'; 128]);
    const BATCH: usize = 64;
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("push_pop_batch64", |b| {
        b.iter(|| {
            let batch: Vec<ShardMsg> = (0..BATCH)
                .map(|_| ShardMsg::Deliver {
                    account: 0,
                    subject: Bytes::from_static(b"bench.subject"),
                    shown: None,
                    reply: None,
                    header_len: None,
                    data: payload.clone(),
                    plain: true,
                    queues: Vec::new(),
                    publisher: Some(ConnId::from_slot(0)),
                    to_routes: None,
                })
                .collect();
            mesh.push(0, 1, batch).unwrap();
            mesh.pop(0, 1).unwrap().len()
        })
    });
    g.finish();
}

fn outbound(c: &mut Criterion) {
    let mut g = c.benchmark_group("outbound");
    for size in [128usize, 16 * 1024] {
        g.throughput(Throughput::Elements(1000));
        let small = vec![b'x'; size];
        let large = Bytes::from(small.clone());
        g.bench_with_input(BenchmarkId::new("queue_and_iovecs", size), &size, |b, _| {
            let mut o = Outbound::default();
            let now = Instant::now();
            b.iter(|| {
                for _ in 0..1000 {
                    o.push(b"MSG bench.subject 1 128\r\n");
                    if size < 4096 {
                        o.push(&small);
                    } else {
                        o.push_shared(large.clone());
                    }
                    o.push(b"\r\n");
                }
                let mut written = 0;
                while let Some(iovs) = o.start_write(now) {
                    let n: usize = iovs.iter().map(|v| v.iov_len).sum();
                    written += n;
                    o.complete_write(n);
                }
                written
            })
        });
    }
    g.finish();
}

/// One shard, no sockets: a publisher's bytes parsed, matched (through the L1 cache) and
/// encoded for `subs` local subscribers.
fn shard_fanout(c: &mut Criterion) {
    let mut g = c.benchmark_group("shard");
    for subs in [1usize, 10] {
        let server = Arc::new(
            Server::new(Config::default(), "NBENCH".into(), 4222, Default::default()).unwrap(),
        );
        let mesh = Arc::new(Mesh::new(1).unwrap());
        let mut shard = Shard::new(0, server, mesh, Instant::now(), 1);
        let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let mut sinks = Vec::new();
        for i in 0..subs {
            let id = shard.accept(peer, false);
            shard.on_read(
                id,
                format!("CONNECT {{\"verbose\":false}}\r\nSUB bench.subject {i}\r\n").as_bytes(),
            );
            sinks.push(id);
        }
        let publ = shard.accept(peer, false);
        shard.on_read(publ, b"CONNECT {\"verbose\":false}\r\n");
        let input = stream("PUB", 128, 1000);
        g.throughput(Throughput::Elements(1000));
        g.bench_function(BenchmarkId::new("pub128_to_subs", subs), |b| {
            b.iter(|| {
                shard.on_read(publ, black_box(&input));
                let mut n = 0;
                for &s in &sinks {
                    n += shard.clients.conns[s].out.take_all().len();
                }
                n
            })
        });
    }
    g.finish();
}

/// 10k timers spread evenly over 1 s, then expired a millisecond at a time, as a reactor
/// waking once per tick would.
fn timer_wheel(c: &mut Criterion) {
    const TIMERS: u32 = 10_000;
    const SPREAD_MS: u64 = 1000;
    let mut g = c.benchmark_group("timer_wheel");
    g.throughput(Throughput::Elements(u64::from(TIMERS)));
    let origin = Instant::now();
    let step = Duration::from_millis(SPREAD_MS) / TIMERS;
    let mut fired = Vec::with_capacity(TIMERS as usize);
    g.bench_function("insert_expire_10k_over_1s", |b| {
        b.iter(|| {
            let mut w = TimerWheel::new(origin);
            for i in 0..TIMERS {
                w.insert(origin + step * i, black_box(i));
            }
            fired.clear();
            for ms in 0..=SPREAD_MS {
                w.expire(origin + Duration::from_millis(ms), &mut fired);
            }
            fired.len()
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    parser,
    sublist,
    encoders,
    ring,
    outbound,
    shard_fanout,
    timer_wheel
);
criterion_main!(benches);

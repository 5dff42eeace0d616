//! Waiting on unmodified clients (async-nats) across servers: a message in bounded time,
//! and interest that has crossed from one server to another.

use std::net::SocketAddr;
use std::time::Duration;

use async_nats::{Client, Subscriber};
use futures::StreamExt;

/// A bound on every wait for a message, not a timing assertion.
pub const WAIT: Duration = Duration::from_secs(10);
/// How often a probe is published while waiting for interest to cross.
pub const PROBE_EVERY: Duration = Duration::from_millis(50);

pub async fn client(addr: SocketAddr) -> Client {
    async_nats::connect(format!("nats://{addr}")).await.unwrap()
}

pub async fn next(sub: &mut Subscriber) -> async_nats::Message {
    tokio::time::timeout(WAIT, sub.next())
        .await
        .expect("a message in time")
        .expect("subscription open")
}

/// Publishes `subject` from `from` until `sub` (on another server) gets it: the
/// subscription's interest has crossed to `from`'s server. Probes that arrive later are
/// told apart by their subject.
pub async fn await_interest(from: &Client, sub: &mut Subscriber, subject: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        from.publish(subject.to_string(), "probe".into())
            .await
            .unwrap();
        from.flush().await.unwrap();
        if let Ok(Some(m)) = tokio::time::timeout(PROBE_EVERY, sub.next()).await {
            if m.subject.as_str() == subject {
                return;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no interest in {subject} crossed"
        );
    }
}

pub async fn client_as(addr: SocketAddr, user: &str, pass: &str) -> Client {
    async_nats::ConnectOptions::with_user_and_password(user.into(), pass.into())
        .connect(format!("nats://{addr}"))
        .await
        .unwrap()
}

/// Messages of `sub` on `subject` (probes skipped) until `n` came.
pub async fn collect(sub: &mut Subscriber, subject_prefix: &str, n: usize) -> Vec<String> {
    let mut got = Vec::new();
    while got.len() < n {
        let m = next(sub).await;
        if m.subject.starts_with(subject_prefix) {
            got.push(String::from_utf8_lossy(&m.payload).into_owned());
        }
    }
    got
}

/// `n` messages published by `from` on `<name>.x` reach a subscriber of `to` (on another
/// server) on `<name>.*`, in order, once its interest has crossed.
pub async fn crosses_in_order(from: &Client, to: &Client, name: &str, n: usize) {
    let mut sub = to.subscribe(format!("{name}.*")).await.unwrap();
    to.flush().await.unwrap();
    await_interest(from, &mut sub, &format!("{name}.probe")).await;
    for seq in 0..n {
        from.publish(format!("{name}.x"), seq.to_string().into())
            .await
            .unwrap();
    }
    from.flush().await.unwrap();
    let want: Vec<String> = (0..n).map(|s| s.to_string()).collect();
    assert_eq!(
        collect(&mut sub, &format!("{name}.x"), n).await,
        want,
        "{name}"
    );
}

/// Messages larger than a compressed block (64 KiB) published by `from` on `<name>.x`
/// reach a subscriber of `to` on `<name>.*` intact: one of text that compresses well,
/// one of bytes that do not compress at all.
pub async fn large_cross_intact(from: &Client, to: &Client, name: &str) {
    const SIZE: usize = 200_000;
    let mut sub = to.subscribe(format!("{name}.*")).await.unwrap();
    to.flush().await.unwrap();
    await_interest(from, &mut sub, &format!("{name}.probe")).await;
    let text: Vec<u8> = b"RMSG compressible text "
        .iter()
        .copied()
        .cycle()
        .take(SIZE)
        .collect();
    // A linear congruential sequence: no repeats a compressor could use.
    let mut x: u32 = 12345;
    let noise: Vec<u8> = (0..SIZE)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (x >> 16) as u8
        })
        .collect();
    for p in [&text, &noise] {
        from.publish(format!("{name}.x"), p.clone().into())
            .await
            .unwrap();
    }
    from.flush().await.unwrap();
    for (i, want) in [&text, &noise].into_iter().enumerate() {
        let m = loop {
            let m = next(&mut sub).await;
            if m.subject.as_str() == format!("{name}.x") {
                break m;
            }
        };
        assert!(
            m.payload.as_ref() == &want[..],
            "{name}: message {i} changed"
        );
    }
}

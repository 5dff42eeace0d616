//! An unmodified real client (async-nats) against Riptide running several shards, with the
//! clients placed on different shards.

use crate::common;

use std::collections::HashSet;
use std::time::Duration;

use async_nats::client::RequestErrorKind;
use async_nats::{Client, HeaderMap};
use futures::StreamExt;
use tokio::time::timeout;

/// Bound on every await that waits for the broker.
const WAIT: Duration = Duration::from_secs(10);

const SHARDS: usize = 3;

/// Connects until the client lands on `shard` (the kernel's SO_REUSEPORT hash decides).
async fn client_on(addr: std::net::SocketAddr, shard: usize) -> Client {
    for _ in 0..500 {
        let c = async_nats::connect(format!("nats://{addr}"))
            .await
            .expect("connect");
        if (c.server_info().client_id - 1) % SHARDS as u64 == shard as u64 {
            return c;
        }
    }
    panic!("no connection landed on shard {shard}");
}

async fn next(sub: &mut async_nats::Subscriber) -> async_nats::Message {
    timeout(WAIT, sub.next())
        .await
        .expect("message in time")
        .expect("subscription open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pub_sub_and_wildcards_across_shards() {
    let srv = common::start(SHARDS);
    let a = client_on(srv.addr, 0).await;
    let b = client_on(srv.addr, 1).await;
    let c = client_on(srv.addr, 2).await;
    let mut exact = a.subscribe("orders.eu.new").await.unwrap();
    let mut star = b.subscribe("orders.*.new").await.unwrap();
    let mut tail = c.subscribe("orders.>").await.unwrap();
    common::live(&a, &b).await;
    common::live(&c, &b).await;
    b.publish("orders.eu.new", "1".into()).await.unwrap();
    b.publish("orders.us.new", "2".into()).await.unwrap();
    b.publish("orders.us.new.late", "3".into()).await.unwrap();
    b.flush().await.unwrap();
    assert_eq!(next(&mut exact).await.payload, "1");
    assert_eq!(next(&mut star).await.payload, "1");
    assert_eq!(next(&mut star).await.payload, "2");
    let got: Vec<String> = vec![
        String::from_utf8(next(&mut tail).await.payload.to_vec()).unwrap(),
        String::from_utf8(next(&mut tail).await.payload.to_vec()).unwrap(),
        String::from_utf8(next(&mut tail).await.payload.to_vec()).unwrap(),
    ];
    assert_eq!(got, ["1", "2", "3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_group_over_shards_delivers_each_once() {
    let srv = common::start(SHARDS);
    let mut members = Vec::new();
    for shard in 0..SHARDS {
        let c = client_on(srv.addr, shard).await;
        let s = c.queue_subscribe("jobs", "workers".into()).await.unwrap();
        c.flush().await.unwrap();
        members.push((c, s));
    }
    let publ = client_on(srv.addr, 1).await;
    for (c, _) in &members {
        common::live(c, &publ).await;
    }
    const N: usize = 600;
    for i in 0..N {
        publ.publish("jobs", i.to_string().into()).await.unwrap();
    }
    publ.flush().await.unwrap();
    let mut seen = HashSet::new();
    let mut per_member = Vec::new();
    let mut total = 0;
    for (_, s) in members.iter_mut() {
        let mut n = 0;
        // Each member drains what it got; the group as a whole must get exactly N.
        while let Ok(Some(m)) = timeout(Duration::from_millis(300), s.next()).await {
            assert!(seen.insert(m.payload.to_vec()), "duplicate {:?}", m.payload);
            n += 1;
        }
        total += n;
        per_member.push(n);
    }
    assert_eq!(total, N, "{per_member:?}");
    assert!(per_member.iter().all(|&n| n > 0), "{per_member:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_reply_across_shards() {
    let srv = common::start(SHARDS);
    let server = client_on(srv.addr, 0).await;
    let mut svc = server.subscribe("math.double").await.unwrap();
    let responder = server.clone();
    tokio::spawn(async move {
        while let Some(m) = svc.next().await {
            let n: u64 = std::str::from_utf8(&m.payload).unwrap().parse().unwrap();
            responder
                .publish(m.reply.unwrap(), (n * 2).to_string().into())
                .await
                .unwrap();
        }
    });
    let requester = client_on(srv.addr, 2).await;
    common::live(&server, &requester).await;
    for n in 0..50u64 {
        let r = timeout(WAIT, requester.request("math.double", n.to_string().into()))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.payload, (n * 2).to_string());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_round_trip() {
    let srv = common::start(SHARDS);
    let a = client_on(srv.addr, 0).await;
    let b = client_on(srv.addr, 1).await;
    let mut sub = a.subscribe("h").await.unwrap();
    common::live(&a, &b).await;
    let mut h = HeaderMap::new();
    h.insert("Trace-Id", "abc-123");
    h.append("Multi", "one");
    h.append("Multi", "two");
    b.publish_with_headers("h", h, "body".into()).await.unwrap();
    b.flush().await.unwrap();
    let m = next(&mut sub).await;
    let got = m.headers.expect("headers arrive");
    assert_eq!(got.get("Trace-Id").unwrap().as_str(), "abc-123");
    let multi: Vec<&str> = got.get_all("Multi").map(|v| v.as_str()).collect();
    assert_eq!(multi, ["one", "two"]);
    assert_eq!(m.payload, "body");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_responders_is_reported() {
    let srv = common::start(SHARDS);
    let c = client_on(srv.addr, 1).await;
    let err = timeout(WAIT, c.request("nobody.home", "?".into()))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), RequestErrorKind::NoResponders);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsubscribe_after_n_and_drain() {
    let srv = common::start(SHARDS);
    let a = client_on(srv.addr, 0).await;
    let b = client_on(srv.addr, 2).await;
    let mut sub = a.subscribe("limited").await.unwrap();
    sub.unsubscribe_after(3).await.unwrap();
    common::live(&a, &b).await;
    for i in 0..10 {
        b.publish("limited", i.to_string().into()).await.unwrap();
    }
    b.flush().await.unwrap();
    for want in ["0", "1", "2"] {
        assert_eq!(next(&mut sub).await.payload, want);
    }
    assert!(
        timeout(WAIT, sub.next()).await.unwrap().is_none(),
        "ends after 3"
    );

    let mut drained = a.subscribe("drain.me").await.unwrap();
    common::live(&a, &b).await;
    for i in 0..5 {
        b.publish("drain.me", i.to_string().into()).await.unwrap();
    }
    b.flush().await.unwrap();
    // Wait for the first message so the rest are already on their way, then drain.
    assert_eq!(next(&mut drained).await.payload, "0");
    timeout(WAIT, a.drain()).await.unwrap().unwrap();
    for want in ["1", "2", "3", "4"] {
        assert_eq!(
            next(&mut drained).await.payload,
            want,
            "drain delivers what was in flight"
        );
    }
    // async-nats closes the drained stream only when its connection task next wakes up
    // (as with the Go server, which sends nothing back for an UNSUB), so the end of the
    // stream is not awaited here.
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_subjects() {
    let srv = common::start(SHARDS);
    let a = client_on(srv.addr, 0).await;
    let b = client_on(srv.addr, 1).await;
    const N: usize = 2000;
    let mut subs = Vec::new();
    for i in 0..N {
        subs.push(a.subscribe(format!("many.{i}")).await.unwrap());
    }
    common::live(&a, &b).await;
    for i in 0..N {
        b.publish(format!("many.{i}"), i.to_string().into())
            .await
            .unwrap();
    }
    b.flush().await.unwrap();
    for (i, s) in subs.iter_mut().enumerate() {
        let m = next(s).await;
        assert_eq!(m.subject.as_str(), format!("many.{i}"));
        assert_eq!(m.payload, i.to_string());
    }
}

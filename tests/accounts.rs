//! Accounts over real sockets, checked byte for byte against what nats-server 2.15.1 sends
//! for the same configuration and bytes: isolation, stream imports (prefix and `to`
//! transforms), service imports (reply subjects, `Nats-Request-Info`, one answer), queue
//! groups per account, all across shards.

use crate::common;

use common::Raw;
use riptide::runtime::Running;

const SHARDS: usize = 2;

const CONF: &str = r#"
accounts {
  A: {
    users: [{user: a, password: a}, {user: a2, password: a2}]
    exports: [
      {stream: "foo.>"}
      {stream: "s.*.*"}
      {service: "req.*"}
      {service: "svc.>", response_type: stream}
      {stream: "priv.>", accounts: [C]}
    ]
  }
  B: {
    users: [{user: b, password: b}]
    imports: [
      {stream: {account: A, subject: "foo.>"}, prefix: "fromA"}
      {stream: {account: A, subject: "s.*.*"}, to: "t.$2.$1"}
      {service: {account: A, subject: "req.*"}, to: "ask.*"}
      {service: {account: A, subject: "svc.>"}}
    ]
  }
  C: {
    users: [{user: c, password: c}]
    imports: [{stream: {account: A, subject: "priv.>"}}]
  }
}
authorization { users: [{user: g, password: g}] }
"#;

fn start() -> Running {
    common::start_conf(SHARDS, CONF)
}

/// The CONNECT fields of `user`, protocol 1 (so an INFO naming its account follows the login).
fn login_fields(user: &str, headers: bool) -> String {
    format!(
        "\"protocol\":1,\"headers\":{headers},{}",
        common::user(user)
    )
}

/// Reads exactly `want` from `c`.
fn expect(c: &mut Raw, want: &[u8]) {
    assert_eq!(
        String::from_utf8_lossy(&c.read_n(want.len())),
        String::from_utf8_lossy(want)
    );
}

/// One logged-in client of `user` on each shard.
fn on_each_shard(srv: &Running, user: &str, headers: bool) -> Vec<Raw> {
    let mut cs = common::logged_in_per_shard(srv.addr, SHARDS, &login_fields(user, headers));
    for c in &mut cs {
        assert!(c.line().starts_with("INFO {"), "the account's INFO");
    }
    cs
}

#[test]
fn each_client_is_told_its_account() {
    let srv = start();
    for (user, account) in [("a", "A"), ("b", "B"), ("g", "$G")] {
        let mut c = Raw::logged_in(srv.addr, &login_fields(user, false));
        let info = c.line();
        let v = common::info_json(&info);
        assert_eq!(v["connect_info"], true);
        assert_eq!(v["remote_account"], account, "{info}");
    }
}

#[test]
fn accounts_do_not_see_each_others_subjects() {
    let srv = start();
    let mut a = on_each_shard(&srv, "a", false);
    let mut g = on_each_shard(&srv, "g", false);
    for c in a.iter_mut().chain(g.iter_mut()) {
        c.send(b"SUB x.* 1\r\n");
        assert_eq!(c.sync(), b"");
    }
    // The same subject published in each account, from each shard, reaches only that
    // account's subscribers, on both shards.
    for i in 0..SHARDS {
        // The publishers subscribe too, so they read their own message like the others.
        a[i].send(b"PUB x.a 1\r\na\r\n");
        g[i].send(b"PUB x.g 1\r\ng\r\n");
        for s in 0..SHARDS {
            expect(&mut a[s], b"MSG x.a 1 1\r\na\r\n");
            expect(&mut g[s], b"MSG x.g 1 1\r\ng\r\n");
        }
    }
    for c in a.iter_mut().chain(g.iter_mut()) {
        assert_eq!(c.sync(), b"", "nothing from the other account");
    }
}

#[test]
fn stream_imports_map_subjects_into_the_importer() {
    let srv = start();
    let mut a = on_each_shard(&srv, "a", false);
    let mut b = on_each_shard(&srv, "b", false);
    let mut c = on_each_shard(&srv, "c", false);
    for s in b.iter_mut().chain(c.iter_mut()) {
        s.send(b"SUB > 1\r\n");
        assert_eq!(s.sync(), b"");
    }
    for p in a.iter_mut() {
        p.send(
            b"PUB foo.bar 2\r\nhi\r\nPUB s.p.q 1\r\n3\r\nPUB priv.z 1\r\nz\r\nPUB other 1\r\nn\r\n",
        );
        p.sync();
        for s in b.iter_mut() {
            expect(s, b"MSG fromA.foo.bar 1 2\r\nhi\r\nMSG t.q.p 1 1\r\n3\r\n");
        }
        for s in c.iter_mut() {
            expect(s, b"MSG priv.z 1 1\r\nz\r\n");
        }
    }
    // B publishing the exporter's subject stays in B.
    a[0].send(b"SUB foo.> 9\r\n");
    a[0].sync();
    b[1].send(b"PUB foo.bar 1\r\nb\r\n");
    for s in b.iter_mut() {
        expect(s, b"MSG foo.bar 1 1\r\nb\r\n");
    }
    assert_eq!(a[0].sync(), b"");
    for s in b.iter_mut().chain(c.iter_mut()) {
        assert_eq!(s.sync(), b"");
    }
}

/// Reads one HMSG to the responder and returns (subject, sid, reply, header, payload).
fn read_hmsg(c: &mut Raw) -> (String, String, String, String, Vec<u8>) {
    let line = c.line();
    let parts: Vec<&str> = line.trim_end().split(' ').collect();
    assert_eq!(parts.len(), 6, "{line}");
    assert_eq!(parts[0], "HMSG", "{line}");
    let hdr: usize = parts[4].parse().unwrap();
    let total: usize = parts[5].parse().unwrap();
    let body = c.read_n(total + 2);
    (
        parts[1].into(),
        parts[2].into(),
        parts[3].into(),
        String::from_utf8(body[..hdr].to_vec()).unwrap(),
        body[hdr..total].to_vec(),
    )
}

#[test]
fn service_imports_get_one_answer_through_a_private_reply() {
    let srv = start();
    let mut a = on_each_shard(&srv, "a", true);
    let mut b = on_each_shard(&srv, "b", false);
    a[1].send(b"SUB req.* 9\r\n");
    assert_eq!(a[1].sync(), b"");
    b[0].send(b"SUB _INBOX.r 5\r\nPUB ask.x _INBOX.r 3\r\nreq\r\n");
    assert_eq!(b[0].sync(), b"");
    let (subject, sid, reply, header, payload) = read_hmsg(&mut a[1]);
    assert_eq!((subject.as_str(), sid.as_str()), ("req.x", "9"));
    // Go's form: `_R_.` and two random tokens; nothing of the requester's own subjects.
    let tokens: Vec<&str> = reply.split('.').collect();
    assert_eq!(tokens.len(), 3, "{reply}");
    assert_eq!(tokens[0], "_R_");
    assert!(
        header.starts_with("NATS/1.0\r\nNats-Request-Info: {\"acc\":\"B\""),
        "{header}"
    );
    assert!(header.ends_with("}\r\n\r\n"), "{header}");
    assert_eq!(payload, b"req");
    // The first answer goes back to B's reply subject; a singleton's second one nowhere.
    a[1].send(format!("PUB {reply} 4\r\nresp\r\nPUB {reply} 5\r\nresp2\r\n").as_bytes());
    a[1].sync();
    expect(&mut b[0], b"MSG _INBOX.r 5 4\r\nresp\r\n");
    // A reply subject is no way into B's subjects for anyone else.
    a[0].send(b"PUB _INBOX.r 1\r\nx\r\n");
    a[0].sync();
    assert_eq!(b[0].sync(), b"");
    // B's own subject `req.x` is B's, not the service.
    b[1].send(b"PUB req.x 1\r\nx\r\n");
    b[1].sync();
    assert_eq!(a[1].sync(), b"");
}

#[test]
fn stream_response_services_answer_many_times() {
    let srv = start();
    let mut a = on_each_shard(&srv, "a", false);
    let mut b = on_each_shard(&srv, "b", false);
    a[0].send(b"SUB svc.> 2\r\n");
    a[0].sync();
    b[1].send(b"SUB r2 1\r\nPUB svc.a.b r2 1\r\n5\r\n");
    b[1].sync();
    let line = a[0].line();
    let reply = line.split(' ').nth(3).unwrap().to_string();
    assert_eq!(line, format!("MSG svc.a.b 2 {reply} 1\r\n"));
    // Without headers the responder gets the payload alone, as MSG.
    expect(&mut a[0], b"5\r\n");
    a[0].send(format!("PUB {reply} 1\r\nx\r\nPUB {reply} 1\r\ny\r\n").as_bytes());
    a[0].sync();
    expect(&mut b[1], b"MSG r2 1 1\r\nx\r\nMSG r2 1 1\r\ny\r\n");
}

#[test]
fn queue_groups_pick_one_member_per_account() {
    let srv = start();
    let mut a = on_each_shard(&srv, "a", false);
    let mut a2 = on_each_shard(&srv, "a2", false);
    let mut g = on_each_shard(&srv, "g", false);
    for c in a.iter_mut().chain(a2.iter_mut()).chain(g.iter_mut()) {
        c.send(b"SUB work q 1\r\nSUB done 2\r\n");
        assert_eq!(c.sync(), b"");
    }
    const N: usize = 200;
    for i in 0..N {
        a[i % SHARDS].send(b"PUB work 1\r\nw\r\n");
    }
    // Each publisher's `done` comes after its work messages at every member.
    for c in a.iter_mut() {
        c.send(b"PUB done 0\r\n\r\n");
    }
    let mut got = 0;
    for c in a.iter_mut().chain(a2.iter_mut()) {
        let mut done = 0;
        while done < SHARDS {
            match c.line().as_str() {
                "MSG work 1 1\r\n" => {
                    expect(c, b"w\r\n");
                    got += 1;
                }
                "MSG done 2 0\r\n" => {
                    expect(c, b"\r\n");
                    done += 1;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert_eq!(got, N, "each message to exactly one member of A's group");
    for c in g.iter_mut() {
        assert_eq!(c.sync(), b"", "the same group name in $G is another group");
    }
}

#[tokio::test]
async fn async_nats_requests_a_service_of_another_account() {
    let srv = start();
    let url = format!("nats://{}", srv.addr);
    let responder = async_nats::ConnectOptions::with_user_and_password("a".into(), "a".into())
        .connect(&url)
        .await
        .unwrap();
    let requester = async_nats::ConnectOptions::with_user_and_password("b".into(), "b".into())
        .connect(&url)
        .await
        .unwrap();
    let mut sub = responder.subscribe("req.*").await.unwrap();
    responder.flush().await.unwrap();
    let serve = tokio::spawn(async move {
        use futures::StreamExt;
        for _ in 0..10 {
            let m = sub.next().await.unwrap();
            let info = m.headers.as_ref().and_then(|h| h.get("Nats-Request-Info"));
            let acc = info.map(|v| v.as_str().to_string()).unwrap_or_default();
            let answer = format!("{}:{}", m.subject, acc.contains("\"acc\":\"B\""));
            responder
                .publish(m.reply.unwrap(), answer.into())
                .await
                .unwrap();
        }
        responder.flush().await.unwrap();
    });
    for i in 0..10 {
        // Until the responder's interest reached the requester's shard, a request gets
        // no responders (and the responder never sees it); bounded retries cover that.
        let mut answer = None;
        for _ in 0..500 {
            let r = tokio::time::timeout(
                common::IO_TIMEOUT,
                requester.request(format!("ask.{i}"), "q".into()),
            )
            .await
            .expect("answered in time");
            match r {
                Ok(m) => {
                    answer = Some(m);
                    break;
                }
                Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders => {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
                Err(e) => panic!("request failed: {e}"),
            }
        }
        let r = answer.expect("the service answered");
        assert_eq!(r.payload, format!("req.{i}:true").as_bytes());
    }
    serve.await.unwrap();
}

/// A imports a service and a stream from B, which imports them from C (the configuration
/// of `CHAIN`). As nats-server 2.15.1 does it (recorded with raw sockets): the request
/// follows the chain to C with `Nats-Request-Info` naming the requester's account and the
/// one it came through, the answer comes back along it, and the stream stops at B.
#[test]
fn service_imports_chain_and_stream_imports_do_not() {
    const CHAIN: &str = r#"
accounts {
  C { users: [{user: c, password: c}], exports: [{stream: "foo.>"}, {service: "svc.>"}] }
  B { users: [{user: b, password: b}],
      imports: [{stream: {account: C, subject: "foo.>"}}, {service: {account: C, subject: "svc.>"}}],
      exports: [{stream: "foo.>"}, {service: "svc.>"}] }
  A { users: [{user: a, password: a}],
      imports: [{stream: {account: B, subject: "foo.>"}, prefix: "a"}, {service: {account: B, subject: "svc.>"}, to: "ask.>"}] }
}
"#;
    let srv = common::start_conf(SHARDS, CHAIN);
    // Every pair of shards: requester and service on the same one and on different ones.
    for (i, j) in [(0, 0), (0, 1), (1, 0)] {
        let mut c = on_each_shard(&srv, "c", true).remove(j);
        let mut b = on_each_shard(&srv, "b", false).remove(i);
        let mut a = on_each_shard(&srv, "a", true).remove(i);
        c.send(b"SUB svc.> 1\r\n");
        b.send(b"SUB foo.> 1\r\n");
        a.send(b"SUB a.foo.> 1\r\nSUB r.> 2\r\n");
        for x in [&mut a, &mut b, &mut c] {
            assert_eq!(x.sync(), b"");
        }
        c.send(b"PUB foo.x 2\r\nhi\r\n");
        expect(&mut b, b"MSG foo.x 1 2\r\nhi\r\n");
        a.send(b"PUB ask.q r.1 1\r\nq\r\n");
        let line = c.line();
        let t: Vec<&str> = line.trim_end().split(' ').collect();
        assert_eq!((t[0], t[1]), ("HMSG", "svc.q"), "{line}");
        assert!(t[3].starts_with("_R_."), "{line}");
        let hdr = String::from_utf8(c.read_n(t[5].parse::<usize>().unwrap() + 2)).unwrap();
        assert!(
            hdr.starts_with("NATS/1.0\r\nNats-Request-Info: {\"acc\":\"A\",\"svc\":\"B\",\"rtt\":"),
            "{hdr}"
        );
        assert!(hdr.ends_with("}\r\n\r\nq\r\n"), "{hdr}");
        c.send(format!("PUB {} 3\r\nans\r\n", t[3]).as_bytes());
        expect(&mut a, b"MSG r.1 2 3\r\nans\r\n");
        assert_eq!(a.sync(), b"", "the stream stops at B");
    }
}

//! Raw protocol bytes against a real server, with the Go server's exact replies.

use crate::common;

use common::go_cases::{self, CASES};
use common::{one_per_shard, start, Raw};

/// Every case the Go server answered in `tests/common/go_cases.rs`, on a 2-shard server:
/// the same bytes, and the connection closed exactly when the Go server closed it.
#[test]
fn same_bytes_as_the_go_server() {
    let srv = start(2);
    for case in CASES {
        go_cases::check(srv.addr, case);
    }
}

#[test]
fn info_has_the_go_fields() {
    let srv = start(1);
    let c = Raw::connect(srv.addr);
    let v = c.info_json();
    for key in [
        "server_id",
        "server_name",
        "version",
        "proto",
        "go",
        "host",
        "port",
        "headers",
        "max_payload",
        "client_id",
        "client_ip",
    ] {
        assert!(v.get(key).is_some(), "INFO lacks {key}: {}", c.info);
    }
    assert_eq!(v["version"], "2.15.1");
    assert_eq!(v["proto"], 1);
    assert_eq!(v["headers"], true);
    assert_eq!(v["max_payload"], 1048576);
    assert_eq!(v["port"], srv.addr.port());
    assert_eq!(v["client_ip"], "127.0.0.1");
    assert!(c.info.ends_with("} \r\n"), "Go's blank before CRLF");
}

#[test]
fn async_info_after_first_pong_for_protocol_1() {
    let srv = start(1);
    let mut c = Raw::connect(srv.addr);
    c.send(b"CONNECT {\"verbose\":false,\"protocol\":1}\r\nPING\r\n");
    assert_eq!(c.line(), "PONG\r\n");
    let info = c.line();
    assert!(
        info.starts_with("INFO {") && info.contains("\"connect_info\":true"),
        "{info}"
    );
    assert_eq!(c.sync(), b"", "only the first PONG is followed by INFO");
    let mut old = Raw::connect(srv.addr);
    old.send(b"CONNECT {\"verbose\":false,\"protocol\":0}\r\n");
    assert_eq!(old.sync(), b"", "protocol 0 gets no async INFO");
}

#[test]
fn whiteprompt_seed_example_crosses_shards() {
    let srv = start(2);
    let mut conns = one_per_shard(srv.addr, 2);
    let mut publ = conns.pop().unwrap();
    let mut sub = conns.pop().unwrap();
    sub.send(b"SUB whiteprompt.> 1\r\n");
    assert_eq!(sub.sync(), b"+OK\r\n");
    publ.send(b"PUB whiteprompt.research.nats 7\r\nMINT 42\r\n");
    assert_eq!(publ.sync(), b"+OK\r\n");
    assert_eq!(sub.line(), "MSG whiteprompt.research.nats 1 7\r\n");
    assert_eq!(sub.line(), "MINT 42\r\n");
}

/// A subscriber that did not ask for headers gets HPUB messages as MSG with the headers
/// stripped, on its own shard and on the other (bytes as the Go server sends them).
#[test]
fn headers_are_stripped_for_clients_without_headers() {
    let srv = start(2);
    let mut subs = one_per_shard(srv.addr, 2);
    for s in &mut subs {
        s.send(b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\n");
        assert_eq!(s.sync(), b"");
    }
    let mut publ = Raw::connect(srv.addr);
    publ.send(b"CONNECT {\"verbose\":false,\"headers\":true}\r\n");
    publ.send(
        b"HPUB foo r 18 20\r\nNATS/1.0\r\nA: b\r\n\r\nhi\r\nHPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\n",
    );
    assert_eq!(publ.sync(), b"");
    for s in &mut subs {
        assert_eq!(s.sync(), b"MSG foo 1 r 2\r\nhi\r\nMSG foo 1 0\r\n\r\n");
    }
}

#[test]
fn split_writes_at_every_offset() {
    let srv = start(2);
    let mut sub = Raw::connect(srv.addr);
    sub.send(b"CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB t.> 9\r\n");
    assert_eq!(sub.sync(), b"");
    let stream: &[u8] = b"PUB t.a r 5\r\nhello\r\nHPUB t.b 12 14\r\nNATS/1.0\r\n\r\nhi\r\n";
    let mut publ = Raw::connect(srv.addr);
    publ.send(b"CONNECT {\"verbose\":false,\"headers\":true}\r\n");
    for cut in 0..=stream.len() {
        publ.send(&stream[..cut]);
        std::thread::sleep(std::time::Duration::from_millis(1));
        publ.send(&stream[cut..]);
        assert_eq!(publ.sync(), b"");
        assert_eq!(sub.line(), "MSG t.a 9 r 5\r\n");
        assert_eq!(sub.line(), "hello\r\n");
        assert_eq!(sub.line(), "HMSG t.b 9 12 14\r\n");
        assert_eq!(sub.read_n(16), b"NATS/1.0\r\n\r\nhi\r\n");
    }
}

#[test]
fn many_commands_in_one_write() {
    let srv = start(1);
    let mut c = Raw::connect(srv.addr);
    let mut batch = b"CONNECT {\"verbose\":false}\r\nSUB n 1\r\n".to_vec();
    for i in 0..1000 {
        let body = format!("{i:04}");
        batch.extend_from_slice(format!("PUB n 4\r\n{body}\r\n").as_bytes());
    }
    c.send(&batch);
    for i in 0..1000 {
        assert_eq!(c.line(), "MSG n 1 4\r\n");
        assert_eq!(c.line(), format!("{i:04}\r\n"));
    }
}

#[test]
fn max_connections_refused_with_go_error() {
    let mut cfg = common::config(2);
    cfg.max_connections = 1;
    let srv = common::start_with(cfg);
    let mut a = Raw::connect(srv.addr);
    let mut b = Raw::connect(srv.addr);
    assert_eq!(
        b.read_to_close(),
        b"-ERR 'maximum connections exceeded'\r\n"
    );
    assert_eq!(a.sync(), b"", "the first connection is unaffected");
}

#[test]
fn max_subscriptions_keeps_the_connection() {
    let mut cfg = common::config(1);
    cfg.max_subscriptions = 1;
    let srv = common::start_with(cfg);
    let mut c = Raw::connect(srv.addr);
    c.send(b"CONNECT {\"verbose\":false}\r\nSUB a 1\r\nSUB b 2\r\nSUB a 1\r\n");
    assert_eq!(
        c.sync(),
        b"-ERR 'maximum subscriptions exceeded'\r\n-ERR 'maximum subscriptions exceeded'\r\n"
    );
}

#[test]
fn large_payloads_round_trip() {
    let srv = start(2);
    let mut conns = one_per_shard(srv.addr, 2);
    let mut publ = conns.pop().unwrap();
    let mut sub = conns.pop().unwrap();
    sub.send(b"CONNECT {\"verbose\":false}\r\nSUB big 1\r\n");
    assert_eq!(sub.sync(), b"");
    publ.send(b"CONNECT {\"verbose\":false}\r\n");
    for size in [0usize, 1, 4095, 4096, 100_000, 1024 * 1024] {
        let payload: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        publ.send(format!("PUB big {size}\r\n").as_bytes());
        publ.send(&payload);
        publ.send(b"\r\n");
        assert_eq!(sub.line(), format!("MSG big 1 {size}\r\n"));
        assert_eq!(sub.read_n(size + 2)[..size], payload[..]);
    }
}

#[test]
fn half_closed_client_still_gets_its_replies() {
    let srv = start(2);
    let mut c = Raw::connect(srv.addr);
    c.send(b"SUB foo 1\r\nPUB foo 2\r\nhi\r\nPING\r\n");
    c.s.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(
        c.read_to_close(),
        b"+OK\r\n+OK\r\nMSG foo 1 2\r\nhi\r\nPONG\r\n"
    );
}

//! Short real runs against an in-process Riptide: counts must be exact and latency
//! percentiles present and ordered. No timing thresholds: the machine may be busy.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use loadgen::args::{parse, Command, RunArgs};
use loadgen::jetstream::Api;
use loadgen::latency::LatencySummary;
use loadgen::run::{run, RunOutcome};
use riptide::config::{AuthConfig, Config};
use riptide::runtime::Running;
use serde_json::Value;

/// How long the broker may take to record the last client's close after loadgen returns.
const CLOSE_RECORDED_WITHIN: Duration = Duration::from_secs(10);

fn run_args(line: &str, server: &str) -> RunArgs {
    let mut argv: Vec<String> = line.split_whitespace().map(String::from).collect();
    argv.extend([
        "--server".to_string(),
        server.to_string(),
        "--quiet".to_string(),
    ]);
    match parse(&argv, 7) {
        Ok(Command::Run(args)) => args,
        other => panic!("{line}: {other:?}"),
    }
}

fn run_line(line: &str, server: &str) -> RunOutcome {
    let outcome = run(&run_args(line, server), false).unwrap_or_else(|e| panic!("{line}: {e}"));
    assert!(!outcome.failed, "{line}: {:?}", outcome.warnings);
    outcome
}

fn assert_ordered(latency: &LatencySummary) {
    assert!(latency.count > 0);
    assert!(latency.p50 > 0.0);
    assert!(latency.p50 <= latency.p90, "{latency:?}");
    assert!(latency.p90 <= latency.p99, "{latency:?}");
    assert!(latency.p99 <= latency.p99_9, "{latency:?}");
    assert!(latency.p99_9 <= latency.p99_99, "{latency:?}");
    assert!(latency.p99_99 <= latency.max, "{latency:?}");
}

#[test]
fn pubsub_closed_loop_delivers_everything() {
    let broker = common::start_broker();
    let server = common::server_flag(&broker);
    let outcome = run_line("pubsub --pubs 2 --subs 2 --msgs 20000", &server);
    let f = &outcome.figures;
    assert_eq!(f.msgs_sent, 20_000);
    assert_eq!(f.msgs_received, 40_000);
    assert_eq!((f.lost, f.duplicates), (0, 0));
    assert!(f.pub_msgs_per_s > 0.0 && f.sub_msgs_per_s > 0.0);
    assert!(f.loadgen_cpu_cores >= 0.0);
    assert!(f.latency_us.is_none() && f.offered_rate.is_none());
    assert_eq!(outcome.sender_rates.len(), 2);
    assert_eq!(outcome.receiver_rates.len(), 2);
}

#[test]
fn reqrep_open_loop_answers_every_request() {
    let broker = common::start_broker();
    let server = common::server_flag(&broker);
    let outcome = run_line(
        "reqrep --rate 2000 --duration 1s --clients 2 --responders 2",
        &server,
    );
    let f = &outcome.figures;
    // Two requesters at 1000/s each for exactly 1 s of schedule.
    assert_eq!(f.msgs_sent, 2_000);
    assert_eq!(f.msgs_received, 2_000);
    assert_eq!((f.lost, f.duplicates), (0, 0));
    let latency = f.latency_us.expect("latency measured");
    assert_eq!(latency.count, 2_000);
    assert_ordered(&latency);
    assert_eq!(f.offered_rate, Some(2_000.0));
    assert!(f.achieved_rate.unwrap() > 0.0);
    assert_eq!(outcome.histogram.unwrap().len(), 2_000);
}

#[test]
fn every_scenario_counts_exactly() {
    let broker = common::start_broker();
    let server = common::server_flag(&broker);
    // (command, messages sent, messages the receivers get between them)
    let cases = [
        ("pub --pubs 2 --msgs 5000", 5_000, 0),
        ("fanout --subs 3 --msgs 5000", 5_000, 15_000),
        ("fanin --pubs 3 --msgs 5000", 5_000, 5_000),
        ("queue --subs 3 --msgs 5000", 5_000, 5_000),
        (
            "subjects --subjects 8 --pubs 2 --subs 2 --msgs 5000",
            5_000,
            10_000,
        ),
        (
            "reqrep --clients 2 --responders 2 --inflight 4 --msgs 2000",
            2_000,
            2_000,
        ),
        // Payloads too small for an origin: counts are still exact.
        ("pubsub --size 0 --msgs 5000", 5_000, 5_000),
        ("queue --size 8 --msgs 5000", 5_000, 5_000),
    ];
    for (line, sent, received) in cases {
        let f = run_line(line, &server).figures;
        assert_eq!(
            (f.msgs_sent, f.msgs_received, f.lost, f.duplicates),
            (sent, received, 0, 0),
            "{line}"
        );
    }
}

#[test]
fn open_loop_warmup_is_not_counted() {
    let broker = common::start_broker();
    let server = common::server_flag(&broker);
    let outcome = run_line(
        "pubsub --subs 2 --rate 2000 --warmup 200ms --duration 500ms",
        &server,
    );
    let f = &outcome.figures;
    // 2000/s for the 500 ms after warmup.
    assert_eq!(f.msgs_sent, 1_000);
    assert_eq!(f.msgs_received, 2_000);
    assert_eq!((f.lost, f.duplicates), (0, 0));
    let latency = f.latency_us.expect("open loop measures latency");
    assert_eq!(latency.count, 2_000);
    assert_ordered(&latency);
}

#[test]
fn oversized_payload_is_refused_before_sending() {
    let broker = common::start_broker();
    let server = common::server_flag(&broker);
    let args = run_args("pub --size 2000000 --msgs 10", &server);
    let error = run(&args, false).err().expect("max_payload is 1 MiB");
    assert!(error.contains("max_payload"), "{error}");
}

#[test]
fn unreachable_server_fails_cleanly() {
    // Bind and drop a listener to get a loopback port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let args = run_args("pubsub --msgs 10", &format!("127.0.0.1:{port}"));
    let error = run(&args, false).err().expect("nothing listens there");
    assert!(error.contains("connecting"), "{error}");
}

/// One request to the broker's monitoring port, which answers and closes.
fn monitor_json(broker: &Running, path: &str) -> Value {
    let addr = broker.monitor.as_ref().expect("monitoring is on").addr;
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (_, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    serde_json::from_str(body).unwrap()
}

#[test]
fn connect_completes_every_handshake_and_closes_with_fin() {
    let broker = common::start_broker_with(Config {
        // -1: a random free port.
        http_port: Some(-1),
        ..Default::default()
    });
    let server = common::server_flag(&broker);
    let outcome = run_line("connect --clients 4 --subs 3 --msgs 2000", &server);
    let f = &outcome.figures;
    let connections = f.connections.as_ref().expect("connect reports connections");
    assert_eq!((connections.completed, connections.failed), (2_000, 0));
    assert!(connections.per_s > 0.0);
    let latency = f.latency_us.expect("handshakes are timed");
    assert_eq!(latency.count, 2_000);
    assert_ordered(&latency);
    assert_eq!(outcome.histogram.unwrap().len(), 2_000);
    assert_eq!(outcome.sender_rates.len(), 4);
    assert_eq!((f.msgs_sent, f.msgs_received, f.lost), (0, 0, 0));

    // A close after reading everything is a FIN, which the server records as the client
    // closing; a reset would be a read error.
    let deadline = Instant::now() + CLOSE_RECORDED_WITHIN;
    let closed = loop {
        let closed = monitor_json(&broker, "/connz?state=closed&limit=2000");
        if closed["total"] == 2_000 || Instant::now() >= deadline {
            break closed;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(closed["total"], 2_000);
    let closed = closed["connections"].as_array().unwrap();
    assert_eq!(closed.len(), 2_000);
    for c in closed {
        assert_eq!(c["reason"], "Client Closed", "{c}");
        assert!(
            c["name"].as_str().unwrap().starts_with("loadgen-conn-"),
            "{c}"
        );
    }
    assert_eq!(broker.server().connections(), 0);
}

#[test]
fn connect_for_a_duration_counts_what_it_timed() {
    let broker = common::start_broker();
    let server = common::server_flag(&broker);
    let outcome = run_line("connect --clients 2 --duration 300ms", &server);
    let connections = outcome
        .figures
        .connections
        .expect("connect reports connections");
    assert_eq!(connections.failed, 0);
    assert_eq!(outcome.histogram.unwrap().len(), connections.completed);
}

#[test]
fn connect_sends_credentials_and_counts_refusals() {
    let broker = common::start_broker_with(Config {
        auth: AuthConfig {
            token: Some("s3cret".into()),
            ..Default::default()
        },
        ..Default::default()
    });
    let server = common::server_flag(&broker);
    let accepted = run_line("connect --clients 2 --msgs 200 --token s3cret", &server);
    let connections = accepted.figures.connections.unwrap();
    assert_eq!((connections.completed, connections.failed), (200, 0));

    let refused = run(
        &run_args("connect --clients 2 --msgs 200 --token wrong", &server),
        false,
    )
    .expect("refusals are counted, not fatal");
    assert!(refused.failed);
    let connections = refused.figures.connections.unwrap();
    assert_eq!((connections.completed, connections.failed), (0, 200));
    assert!(refused.figures.latency_us.is_none());
    assert!(
        refused.warnings[0].contains("200 of 200"),
        "{:?}",
        refused.warnings
    );
    assert!(
        refused.warnings[1].contains("Authorization Violation"),
        "{:?}",
        refused.warnings
    );
}

/// A broker with JetStream on, storing under a fresh directory that `JsBroker` removes.
struct JsBroker {
    broker: Running,
    store: std::path::PathBuf,
}

impl JsBroker {
    fn start(name: &str) -> JsBroker {
        let store =
            std::env::temp_dir().join(format!("loadgen-live-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&store);
        let broker = common::start_broker_with(Config {
            jetstream: true,
            store_dir: Some(store.clone()),
            ..Default::default()
        });
        JsBroker { broker, store }
    }

    /// `$JS.API.STREAM.INFO.<stream>`'s reply.
    fn stream_info(&self, stream: &str) -> Value {
        let server = common::server_flag(&self.broker);
        let args = run_args("pub", &server);
        let mut api = Api::connect(
            &args.server,
            "live-test",
            "_INBOX.live".into(),
            Duration::from_secs(5),
        )
        .unwrap();
        let reply = api
            .request(&format!("$JS.API.STREAM.INFO.{stream}"), b"")
            .unwrap();
        serde_json::from_slice(&reply).unwrap()
    }
}

impl Drop for JsBroker {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.store);
    }
}

#[test]
fn jspub_counts_acks_into_a_fresh_stream_each_run() {
    let js = JsBroker::start("jspub");
    let server = common::server_flag(&js.broker);
    for (line, storage) in [
        ("jspub --pubs 2 --msgs 3000 --js-window 64", "file"),
        // The same stream again, recreated empty, in memory this time.
        ("jspub --pubs 2 --msgs 3000 --js-storage memory", "memory"),
    ] {
        let outcome = run_line(line, &server);
        let f = &outcome.figures;
        assert_eq!(
            (f.msgs_sent, f.msgs_received, f.lost, f.duplicates),
            (3_000, 3_000, 0, 0),
            "{line}"
        );
        let stream = f.jetstream.as_ref().expect("jspub reports its stream");
        assert_eq!(
            (stream.acked, stream.refused, stream.unacked),
            (3_000, 0, 0)
        );
        assert_eq!(stream.storage, storage);
        let latency = f.latency_us.expect("publish to ack is timed");
        assert_eq!(latency.count, 3_000);
        assert_ordered(&latency);
        assert_eq!(outcome.sender_rates.len(), 2);

        let info = js.stream_info("LOADGEN");
        assert_eq!(info["state"]["messages"], 3_000, "{line}: {info}");
        assert_eq!(info["config"]["storage"], storage, "{info}");
        assert_eq!(info["config"]["subjects"][0], "loadgen.jspub", "{info}");
    }
}

#[test]
fn jspub_warmup_is_stored_but_not_counted() {
    let js = JsBroker::start("jspub-warmup");
    let server = common::server_flag(&js.broker);
    let outcome = run_line(
        "jspub --warmup 200ms --duration 300ms --js-stream WARM --subject warm.up",
        &server,
    );
    let f = &outcome.figures;
    assert!(f.msgs_sent > 0);
    assert_eq!((f.msgs_received, f.lost), (f.msgs_sent, 0));
    let info = js.stream_info("WARM");
    let stored = info["state"]["messages"].as_u64().unwrap();
    assert!(
        stored > f.msgs_sent,
        "{stored} stored, {} measured",
        f.msgs_sent
    );
}

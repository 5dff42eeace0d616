//! The `loadgen` binary: exit codes, and the JSON, .hgrm and SVG files it writes.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_loadgen");

fn loadgen(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("loadgen runs")
}

/// Runs loadgen, expects it to succeed (showing its stderr if not) and returns its stdout.
fn loadgen_ok(args: &[&str]) -> String {
    let out = loadgen(args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("loadgen-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn read_json(path: &PathBuf) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    keys.sort_unstable();
    keys
}

/// The report's contract with the scripts that read it, sorted.
const TOP_LEVEL_KEYS: [&str; 19] = [
    "achieved_rate",
    "connections",
    "duplicates",
    "elapsed_s",
    "jetstream",
    "latency_us",
    "loadgen_cpu_cores",
    "lost",
    "max_rate_meeting_slo",
    "msgs_received",
    "msgs_sent",
    "offered_rate",
    "params",
    "pub_mb_per_s",
    "pub_msgs_per_s",
    "scenario",
    "steps",
    "sub_mb_per_s",
    "sub_msgs_per_s",
];

fn top_level_keys() -> Vec<&'static str> {
    TOP_LEVEL_KEYS.to_vec()
}

#[test]
fn bad_command_lines_exit_2() {
    for args in [
        &["pubsub", "--bogus"][..],
        &["nosuchscenario"],
        &[],
        &["pubsub", "--msgs", "10", "--duration", "1s"],
        &["pubsub", "--msgs", "lots"],
        &["pubsub", "--rate", "100", "--size", "4"],
        &["ramp", "--scenario", "pubsub", "--slo", "p99"],
    ] {
        let out = loadgen(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with("loadgen: "), "{args:?}: {stderr}");
        assert!(stderr.contains("--help"), "{args:?}: {stderr}");
    }
    let help = loadgen(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("SCENARIOS"));
    let version = loadgen(&["--version"]);
    assert_eq!(version.status.code(), Some(0));
}

#[test]
fn unreachable_server_exits_1() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = loadgen(&[
        "pub",
        "--msgs",
        "10",
        "--server",
        &format!("127.0.0.1:{port}"),
    ]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn json_and_hgrm_reports() {
    let broker = common::start_broker();
    let server = common::server_flag(&broker);
    let json = scratch("open.json");
    let hgrm = scratch("open.hgrm");
    let stdout = loadgen_ok(&[
        "pubsub",
        "--server",
        &server,
        "--rate",
        "1000",
        "--duration",
        "500ms",
        "--subs",
        "2",
        "--json",
        json.to_str().unwrap(),
        "--hgrm",
        hgrm.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(stdout.contains("loadgen cpu: "), "{stdout}");
    assert!(stdout.contains("p99.9"), "{stdout}");

    let report = read_json(&json);
    assert_eq!(keys(&report), top_level_keys());
    assert_eq!(report["scenario"], "pubsub");
    assert_eq!(report["msgs_sent"], 500);
    assert_eq!(report["msgs_received"], 1000);
    assert_eq!(report["lost"], 0);
    assert_eq!(report["offered_rate"], 1000.0);
    assert_eq!(report["steps"], Value::Array(vec![]));
    assert_eq!(report["max_rate_meeting_slo"], Value::Null);
    let latency = &report["latency_us"];
    assert_eq!(
        keys(latency),
        vec!["count", "max", "p50", "p90", "p99", "p99_9", "p99_99"]
    );
    assert_eq!(latency["count"], 1000);
    let params = &report["params"];
    for key in [
        "scenario",
        "server",
        "size",
        "msgs",
        "duration_s",
        "pubs",
        "subs",
        "rate",
        "seed",
        "loadgen_version",
        "start_timestamp",
    ] {
        assert!(params.get(key).is_some(), "params.{key} missing");
    }
    assert_eq!(params["server"], server.as_str());
    assert_eq!(params["size"], 128);
    assert_eq!(params["duration_s"], 0.5);
    assert_eq!(params["subs"], 2);

    let hgrm = std::fs::read_to_string(&hgrm).unwrap();
    assert!(hgrm.starts_with("       Value     Percentile TotalCount 1/(1-Percentile)\n\n"));
    assert!(hgrm.contains("#[Max     = "));
    assert!(hgrm.contains("Total count    =         1000]"));
}

#[test]
fn closed_loop_json_has_null_latency() {
    let broker = common::start_broker();
    let server = common::server_flag(&broker);
    let json = scratch("closed.json");
    loadgen_ok(&[
        "fanout",
        "--server",
        &server,
        "--msgs",
        "3000",
        "--json",
        json.to_str().unwrap(),
    ]);
    let report = read_json(&json);
    assert_eq!(keys(&report), top_level_keys());
    assert_eq!(report["latency_us"], Value::Null);
    assert_eq!(report["offered_rate"], Value::Null);
    assert_eq!(report["achieved_rate"], Value::Null);
    assert_eq!(report["connections"], Value::Null);
    assert_eq!(report["jetstream"], Value::Null);
    assert_eq!(report["params"]["jetstream"], Value::Null);
    assert_eq!(report["msgs_received"], 12_000);
}

#[test]
fn connect_reports_connections_and_handshake_latency() {
    let broker = common::start_broker();
    let server = common::server_flag(&broker);
    let json = scratch("connect.json");
    let hgrm = scratch("connect.hgrm");
    let stdout = loadgen_ok(&[
        "connect",
        "--server",
        &server,
        "--clients",
        "3",
        "--subs",
        "2",
        "--msgs",
        "1k",
        "--json",
        json.to_str().unwrap(),
        "--hgrm",
        hgrm.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(stdout.contains("connections/s"), "{stdout}");
    assert!(stdout.contains("connect() to PONG"), "{stdout}");

    let report = read_json(&json);
    assert_eq!(keys(&report), top_level_keys());
    assert_eq!(report["scenario"], "connect");
    let connections = &report["connections"];
    assert_eq!(keys(connections), vec!["completed", "failed", "per_s"]);
    assert_eq!(connections["completed"], 1000);
    assert_eq!(connections["failed"], 0);
    assert_eq!(report["latency_us"]["count"], 1000);
    let params = &report["params"];
    assert_eq!(params["msgs"], 1000);
    assert_eq!(params["clients"], 3);
    assert_eq!(params["subs"], 2);
    assert_eq!(params["pubs"], Value::Null);
    assert_eq!(params["size"], 0);
    let hgrm = std::fs::read_to_string(&hgrm).unwrap();
    assert!(hgrm.contains("Total count    =         1000]"), "{hgrm}");
}

#[test]
fn jspub_reports_acks_and_publish_to_ack_latency() {
    let store = scratch("jspub-store");
    let broker = common::start_broker_with(riptide::config::Config {
        jetstream: true,
        store_dir: Some(store.clone()),
        ..Default::default()
    });
    let server = common::server_flag(&broker);
    let json = scratch("jspub.json");
    let hgrm = scratch("jspub.hgrm");
    let stdout = loadgen_ok(&[
        "jspub",
        "--server",
        &server,
        "--msgs",
        "2000",
        "--js-window",
        "32",
        "--json",
        json.to_str().unwrap(),
        "--hgrm",
        hgrm.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(stdout.contains("acked"), "{stdout}");
    assert!(stdout.contains("publish to ack"), "{stdout}");

    let report = read_json(&json);
    assert_eq!(keys(&report), top_level_keys());
    assert_eq!(report["scenario"], "jspub");
    let js = &report["jetstream"];
    assert_eq!(
        keys(js),
        vec!["acked", "consumer", "refused", "storage", "stream", "unacked", "window"]
    );
    assert_eq!(js["consumer"], Value::Null);
    assert_eq!(
        (js["acked"].as_u64(), js["unacked"].as_u64()),
        (Some(2000), Some(0))
    );
    assert_eq!(report["msgs_received"], 2000);
    assert_eq!(report["latency_us"]["count"], 2000);
    let params = &report["params"];
    assert_eq!(params["jetstream"]["window"], 32);
    assert_eq!(params["jetstream"]["storage"], "file");
    assert_eq!(params["jetstream"]["stream"], "LOADGEN");
    assert_eq!(params["subs"], Value::Null);
    let hgrm = std::fs::read_to_string(&hgrm).unwrap();
    assert!(hgrm.contains("Total count    =         2000]"), "{hgrm}");
    drop(broker);
    let _ = std::fs::remove_dir_all(&store);
}

#[test]
fn failed_connects_exit_1_and_are_counted() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let json = scratch("refused.json");
    let out = loadgen(&[
        "connect",
        "--server",
        &format!("127.0.0.1:{port}"),
        "--clients",
        "2",
        "--msgs",
        "20",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("20 of 20 connection attempts failed"),
        "{stderr}"
    );
    let report = read_json(&json);
    assert_eq!(report["connections"]["completed"], 0);
    assert_eq!(report["connections"]["failed"], 20);
    assert_eq!(report["latency_us"], Value::Null);
}

#[test]
fn ramp_reports_steps_and_plot() {
    let broker = common::start_broker();
    let server = common::server_flag(&broker);
    let json = scratch("ramp.json");
    let svg = scratch("ramp.svg");
    let out = loadgen(&[
        "ramp",
        "--scenario",
        "pubsub",
        "--server",
        &server,
        "--start",
        "500",
        "--step",
        "500",
        "--max",
        "1000",
        "--step-duration",
        "400ms",
        "--slo",
        "p99=10s",
        "--json",
        json.to_str().unwrap(),
        "--plot",
        svg.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("max rate meeting objectives"), "{stdout}");
    let report = read_json(&json);
    assert_eq!(keys(&report), top_level_keys());
    let steps = report["steps"].as_array().unwrap();
    assert!(!steps.is_empty() && steps.len() <= 2);
    assert_eq!(steps[0]["offered_rate"], 500.0);
    for step in steps {
        for key in ["offered_rate", "achieved_rate", "latency_us", "met_slo"] {
            assert!(step.get(key).is_some(), "step.{key} missing");
        }
    }
    // The answer is the last step that met the objectives, or null if the first missed.
    let met: Vec<f64> = steps
        .iter()
        .filter(|s| s["met_slo"] == true)
        .map(|s| s["offered_rate"].as_f64().unwrap())
        .collect();
    assert_eq!(report["max_rate_meeting_slo"].as_f64(), met.last().copied());
    assert_eq!(report["params"]["ramp"]["slos"][0], "p99<=10000000us");
    let svg = std::fs::read_to_string(&svg).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("<polyline"));
}

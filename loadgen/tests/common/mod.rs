//! A real Riptide broker in this test process, on an ephemeral loopback port.

use riptide::config::Config;
use riptide::runtime::{start, Running};

/// Two shards, so traffic crosses shards the way it does in production.
const SHARDS: usize = 2;

/// The broker stops when the returned value is dropped.
pub fn start_broker() -> Running {
    start_broker_with(Config::default())
}

/// `config` on an ephemeral loopback port with two shards; the broker stops when the
/// returned value is dropped.
pub fn start_broker_with(config: Config) -> Running {
    start(Config {
        host: "127.0.0.1".into(),
        port: 0,
        shards: SHARDS,
        ..config
    })
    .expect("riptide starts on loopback")
}

pub fn server_flag(broker: &Running) -> String {
    format!("nats://127.0.0.1:{}", broker.addr.port())
}

//! The integration tests, one module per area, built as one test binary: each test crate
//! would link the server, tokio and async-nats again, and with ~30 of them the build, not
//! the tests, took most of CI's half hour. Every test still starts its own server on an
//! ephemeral loopback port; `cargo test --test integration <module>::` runs one area.

mod common;

mod accounts;
mod auth;
mod cli;
mod client;
mod cluster;
mod config_corpus;
mod cross_shard;
mod fuzz_regressions;
mod go_oracle;
mod hostile;
mod jetstream;
mod jwt;
mod lame_duck;
mod leafnodes;
mod logging;
mod monitor;
mod nkeys;
mod permissions;
mod raw_protocol;
mod reload;
mod shutdown;
mod signal_command;
mod slow_consumer;
mod storm;
mod stress;
mod system;
mod tls;
mod websocket;

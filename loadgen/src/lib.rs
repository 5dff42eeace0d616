//! loadgen: Riptide's capacity-planning and latency harness, a NATS load generator that
//! speaks the client protocol itself over blocking sockets, one thread per connection.
//!
//! Scenarios follow the Go server's benchmarks (pub, pubsub, fanout, fanin, queue, reqrep,
//! subjects), plus connect, a connection storm that measures how fast a server accepts and
//! handshakes new clients, and JetStream: jspub, publishers into a stream that count what
//! the stream acked; jsfetch and jsordered, a pull and an ordered push consumer reading a
//! filled stream; kvput, kvget and kvwatch on a key-value bucket. Closed loop measures
//! throughput; open loop (`--rate`) sends on a fixed schedule and measures latency from
//! each message's *intended* send time, so a stall counts against every message that was
//! due during it (wrk2's correction for coordinated omission). `ramp` raises the offered rate until a latency objective is missed.
//!
//! # Layout
//! - [`args`]: the command line; [`server_url`]: `--server`; [`slo`]: `--slo`.
//! - [`proto`]: NATS wire protocol, connection and frame reader.
//! - [`payload`]: the send-time stamp and origin carried in each message.
//! - [`schedule`]: open-loop send times; [`rng`]: seeded choices.
//! - [`scenario`]: connections and subjects per scenario.
//! - [`role`]: publisher, subscriber, requester, responder, connector, JetStream
//!   publisher, consumer and key watcher threads; [`jetstream`]: the stream or bucket a
//!   run creates, and pub acks; [`consumer`]: consumer configurations and pull requests.
//! - [`run`]: one run, from connecting to figures; [`ramp`]: rising rates.
//! - [`latency`], [`seqtrack`], [`cpu`]: what is measured.
//! - [`output`], [`hgrm`], [`plot`], [`progress`]: what is shown and written.
//! - [`transport`]: TCP, TLS (rustls) or WebSocket (tungstenite) under a connection.

pub mod args;
pub mod consumer;
pub mod cpu;
pub mod hgrm;
pub mod jetstream;
pub mod latency;
pub mod output;
pub mod payload;
pub mod plot;
pub mod progress;
pub mod proto;
pub mod ramp;
pub mod rng;
pub mod role;
pub mod run;
pub mod scenario;
pub mod schedule;
pub mod seqtrack;
pub mod server_url;
pub mod slo;
pub mod transport;

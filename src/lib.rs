//! Riptide: a NATS-compatible message broker, thread-per-core.
//!
//! One shard per core, pinned, each with its own io_uring reactor and its own `SO_REUSEPORT`
//! listener, so the kernel spreads connections over shards and a connection lives on one
//! shard for good. A shard is the broker for its connections; its peers (the other shards,
//! and on the cluster shard the routes and leaf node connections to other servers) learn
//! its interest only on 0->1 / 1->0 edges (queue groups with their member counts as
//! weights), and a publish reaches each interested peer once, over lock-free SPSC rings
//! carrying batches of refcounted payloads (or, to a route, as one `RMSG`; to a leaf
//! connection, one `LMSG`).
//!
//! # A message's walk
//! 1. **Socket.** The [`reactor`] is a pure driver: a multishot recv lands bytes in a
//!    provided buffer and hands them to `Shard::on_received`.
//! 2. **Transport.** A TLS or WebSocket connection's [`transport`] layer, owned by the
//!    connection, decodes them (`shard/wire.rs`); plain TCP bytes go straight on.
//! 3. **Parse.** The sans-IO [`proto`] parser calls the shard back per operation
//!    (`shard/protocol.rs`): CONNECT, SUB, PUB, PING...
//! 4. **Match.** A publish is matched in its account's index (`shard/index.rs`): the
//!    `Sublist` of local targets, the `Sublist` of peers' interest, and a match cache.
//! 5. **Deliver to a target** (`shard/delivery.rs`): a client subscription gets MSG/HMSG in
//!    its connection's `Outbound`; an internal service (the `$SYS.REQ` services, and on
//!    the JetStream host shard the API and the streams) takes the message on the shard; each
//!    interested peer gets one copy, staged in the shard's `PeerPort` (`shard/peers.rs`) and
//!    re-matched on arrival.
//! 6. **Flush.** At the end of the turn the reactor asks each touched connection for its next
//!    write (`conn/wire.rs`: protocol output, framed by the transport when there is one) and
//!    submits one `writev` per connection; then the staged batches leave for the peers.
//!
//! Timers (auth, ping, handshake deadlines; JetStream's ack waits next) live on a per-shard
//! millisecond [`timer_wheel`]; the reactor wakes for the earliest one.
//!
//! # Layout
//! - [`proto`]: sans-IO protocol parser (Go `parser.go` state machine) and wire encoders.
//! - [`subject`]: subject rules and the `Sublist` trie (tokens, `*`, `>`, queue groups).
//! - [`conn`]: one connection's protocol state, its `Outbound` queue and what it writes next.
//! - [`shard`]: a shard's broker logic without I/O, in owned parts: clients and their
//!   timers, the subscription index, interest with its PONG barrier, the peer port; plus
//!   delivery, the producer stall, the system account's events and services.
//! - [`fanout`]: peers, the messages shards exchange, and the `Mesh` of rings and doorbells.
//! - [`cluster`]: routes and leaf node connections to other servers: settings, the route
//!   (and leaf) protocol parser, the handshakes, the dialer, and the cluster as clients see
//!   it (every such link lives on shard 0).
//! - [`timer_wheel`]: per-shard millisecond timer wheel (ack waits, heartbeats, connection timers).
//! - [`reactor`]: the io_uring event loop that drives one shard's sockets.
//! - [`transport`]: TLS (rustls) and WebSocket (tungstenite) layers over in-memory buffers.
//! - [`runtime`]: binds listeners, starts and pins the shard threads, stops them.
//! - [`mailbox`]: commands to the shards from other threads (snapshots, lame duck, reload).
//! - [`control`]: the main thread's signal loop: stop, reload, reopen the log, lame duck.
//! - `reload`: SIGHUP: the configuration file read again and applied to running shards.
//! - `lame_duck`: SIGUSR2: stop accepting, then move clients off gradually and exit.
//! - [`accounts`]: accounts, their exports and imports, and replies to service imports.
//! - [`jetstream`]: streams, their file and memory stores, consumers and their deliveries and
//!   acks, the `$JS.API` requests.
//! - [`system`]: the system account: connection events and the server's services over NATS.
//! - [`auth`]: client authentication (token, users, bcrypt, nkeys, `no_auth_user`).
//! - [`jwt`]: operator mode: JWT decoding and verification, the trust chain, `.creds` files.
//! - [`permissions`]: per-user publish/subscribe permissions and `allow_responses` (sans-IO).
//! - [`config`]: settings and the Go server's defaults.
//! - [`conf`]: the NATS configuration file format (sans-IO parser).
//! - [`config_file`]: applies a configuration file to `Config`, with the Go key names.
//! - [`cli`]: Go-`flag`-style command line.
//! - [`info`]: the INFO JSON.
//! - [`server`]: state shared read-only by all shards, replaced whole by a reload.
//! - [`log`]: Go-server-shaped log lines; `logfile`: the log file and its rotation.
//! - [`monitor`]: the HTTP monitoring port: Go's JSON endpoints, `/metrics`, `/dashboard`.
//! - [`timefmt`]: the Go server's date and duration formats.
//! - [`signals`]: the signals the main thread takes synchronously.
//! - [`signal_command`]: `--signal`: send a running server one of those signals.
//! - `fuzzing` (feature `testkit`): the fuzz targets' checks, replayed by `cargo test` on
//!   past failures.

pub mod accounts;
pub mod auth;
pub mod cli;
pub mod cluster;
pub mod conf;
pub mod config;
pub mod config_file;
pub mod conn;
pub mod control;
pub mod fanout;
#[cfg(feature = "testkit")]
#[doc(hidden)]
pub mod fuzzing;
pub mod info;
pub mod jetstream;
pub mod jwt;
mod lame_duck;
pub mod log;
mod logfile;
pub mod mailbox;
pub mod monitor;
pub mod permissions;
pub mod proto;
pub mod reactor;
mod reload;
pub mod runtime;
pub mod server;
pub mod shard;
pub mod signal_command;
pub mod signals;
pub mod subject;
pub mod system;
pub mod timefmt;
pub mod timer_wheel;
pub mod transport;

//! Routes: this server as one node of a NATS cluster, next to Go nats-server nodes.
//!
//! Riptide speaks the Go server's route protocol with Go's route pooling: `pool_size`
//! connections per remote server, each carrying the accounts whose names hash to it, and
//! one more per pinned account (the system account by default); a peer without pooling
//! gets one connection for every account. `RS+`/`RS-` name the account (except on a
//! pinned account's connection), `RMSG`/`HMSG` carry the queue groups a message was picked
//! for.
//!
//! Every route connection lives on one shard, the cluster shard (shard 0). That shard
//! already learns every other shard's interest (0->1 / 1->0 edges, queue weights), so it
//! alone can tell the server-wide edges that routes are told about, and it picks the route
//! of a queue group's remote member with every route's weight at hand; other shards reach
//! the cluster with one hop over the ring they already use to reach it. What the routes
//! want is replicated from the cluster shard to the others as the interest of one more
//! peer, `PeerId::ROUTES`.
//!
//! - `settings`: the `cluster {}` block and the cluster flags.
//! - `parser`: the sans-IO route protocol parser.
//! - `handshake`: the route INFO and CONNECT as Go sends them.
//! - `dialer`: threads that connect to the configured routes, and again when they drop.
//! - `view`: the cluster's name and client URLs, as clients' INFOs carry them.
//! - `leaf`: the `leafnodes {}` block, and the leaf INFO and CONNECT.
//! - `compression`: the `compression` setting and its negotiation, as Go's.
//!
//! Leaf node connections live on the cluster shard too, next to the routes, for the same
//! reasons: what a leaf is told is the server's interest (and the routes'), and what it
//! says is replicated to the other shards within the same `PeerId::ROUTES`.
//!
//! TLS on routes and leaf connections is the clients' sans-IO layer (`transport`), as the
//! server or as the client: a route is TLS from its first byte, a leaf connection after the
//! hub's INFO, so both run on the cluster shard's reactor like any TLS client.
//!
//! S2 compression, when the two INFOs agree on it, is one more layer of that transport
//! (`transport::s2`) under the protocol and over TLS. The INFO that settles it is the last
//! thing read and written in the clear: the parser stops after it and hands the bytes that
//! follow to the decompressor, and output queued before it is written as it was.

pub mod compression;
pub mod dialer;
pub mod handshake;
pub mod leaf;
pub mod parser;
pub mod settings;
pub mod view;

pub use settings::ClusterSettings;

/// The shard that owns every route connection (see the module docs).
pub const CLUSTER_SHARD: usize = 0;

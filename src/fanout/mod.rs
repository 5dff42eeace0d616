//! Fan-out to peers: who a shard's peers are, the messages shards exchange and the rings
//! that carry them.

pub mod mesh;

pub use mesh::{Batch, Mesh, ShardMsg, ToRoutes};

/// A peer of a shard, as interest replication and fan-out address it: another shard,
/// numbered as the shards are; on the cluster shard, a route connection (ids from
/// `ROUTE_BASE` on); on the other shards, `ROUTES`, all routes together as the cluster
/// shard reports their interest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(u16);

/// The first route's id; shards are one per core, far below it.
const ROUTE_BASE: u16 = 1 << 12;

impl PeerId {
    /// Every route of the server, reached through the cluster shard.
    pub const ROUTES: PeerId = PeerId(u16::MAX);

    /// The `n`th route connection of the cluster shard.
    pub fn route(n: u16) -> PeerId {
        PeerId(ROUTE_BASE + n)
    }

    /// Which route of the cluster shard it is.
    pub fn route_number(self) -> u16 {
        self.0 - ROUTE_BASE
    }

    /// Another shard, as opposed to a route or the routes.
    pub fn is_shard(self) -> bool {
        self.0 < ROUTE_BASE
    }

    /// The peer that is shard `index`. Shards are one per core, far below `u16::MAX`.
    pub fn shard(index: usize) -> PeerId {
        PeerId(index as u16)
    }

    /// Its place in per-peer tables.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

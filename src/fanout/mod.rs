//! Fan-out to peers: who a shard's peers are, the messages shards exchange and the rings
//! that carry them.

pub mod mesh;

pub use mesh::{Batch, Mesh, ShardMsg};

/// A peer of a shard, as interest replication and fan-out address it: another shard today,
/// numbered as the shards are, so that route and leaf connections can later join the same
/// edge, weight and acknowledgement machinery under ids after the shards'.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(u16);

impl PeerId {
    /// The peer that is shard `index`. Shards are one per core, far below `u16::MAX`.
    pub fn shard(index: usize) -> PeerId {
        PeerId(index as u16)
    }

    /// Its place in per-peer tables.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

//! Cross-shard fan-out: the messages shards exchange and the rings that carry them.

pub mod mesh;

pub use mesh::{Batch, Mesh, ShardMsg};

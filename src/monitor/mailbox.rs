//! Snapshot requests from the monitor thread to the shards. A request is queued in the
//! shard's mailbox and its doorbell rung; the reactor answers when the doorbell completes,
//! so a shard reads its mailbox only when woken for it, never per message.

use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;

use crate::fanout::Mesh;
use crate::shard::{Query, ShardSnapshot};

/// How long the monitor waits for a shard's answer before reporting without it. A shard
/// answers within one reactor turn; this only bounds a request to a stuck shard.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug)]
pub struct Request {
    pub query: Query,
    pub reply: mpsc::Sender<ShardSnapshot>,
}

/// One queue of requests per shard.
#[derive(Debug)]
pub struct Mailbox {
    queues: Vec<Mutex<Vec<Request>>>,
}

impl Mailbox {
    pub fn new(shards: usize) -> Mailbox {
        Mailbox {
            queues: (0..shards).map(|_| Mutex::new(Vec::new())).collect(),
        }
    }

    /// Requests waiting for `shard`, taken by its reactor.
    pub fn take(&self, shard: usize) -> Vec<Request> {
        let mut q = self.queues[shard].lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut *q)
    }

    /// Asks every shard for a snapshot and waits for the answers, ordered by shard. A shard
    /// that does not answer in time (or has stopped) is left out.
    pub fn gather(&self, mesh: &Mesh, query: Query) -> Vec<ShardSnapshot> {
        let (tx, rx) = mpsc::channel();
        for (shard, q) in self.queues.iter().enumerate() {
            q.lock().unwrap_or_else(|e| e.into_inner()).push(Request {
                query,
                reply: tx.clone(),
            });
            mesh.wake(shard);
        }
        drop(tx);
        let deadline = std::time::Instant::now() + ANSWER_TIMEOUT;
        let mut out = Vec::with_capacity(self.queues.len());
        while out.len() < self.queues.len() {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(s) => out.push(s),
                Err(_) => break,
            }
        }
        out.sort_by_key(|s| s.shard);
        out
    }
}

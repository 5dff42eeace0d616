//! Commands to the shards from other threads: the monitor's snapshot requests, the main
//! thread's lame duck mode and reloads, and the system account's answers to publish. A
//! command is queued in the shard's mailbox and its doorbell rung; the reactor takes the mailbox when the doorbell completes, so a shard
//! reads its mailbox only when woken for it, never per message.

use std::sync::atomic::AtomicUsize;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::accounts::AccountId;
use crate::fanout::Mesh;
use crate::server::Server;
use crate::shard::{ConnId, Query, ShardSnapshot};

/// How long a sender waits for every shard's answer before going on without the missing
/// ones. A shard answers within one reactor turn; this only bounds a request to a stuck
/// shard.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(2);

/// A client connection named across threads: its shard, its slot there, and its client id,
/// since the slot may have been reused by the time a command reaches the shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientRef {
    pub shard: usize,
    pub id: ConnId,
    pub cid: u64,
}

#[derive(Debug)]
pub enum Command {
    /// The monitor asks for a snapshot of the shard's counters, connections, subscriptions.
    Snapshot {
        query: Query,
        reply: mpsc::Sender<ShardSnapshot>,
    },
    /// Lame duck mode: stop accepting, tell clients with an INFO `"ldm":true`, and answer
    /// with the clients to close later.
    LameDuck { reply: mpsc::Sender<Vec<ClientRef>> },
    /// Close these clients, lame duck mode moving them off the server.
    Close(Vec<ClientRef>),
    /// A reload: run with `server`'s settings from now on, close the clients they no longer
    /// authorize and, while `excess` is above zero, clients over `max_connections`. The
    /// answer is how many were closed for `max_connections`.
    Reload {
        server: Arc<Server>,
        excess: Arc<AtomicUsize>,
        reply: mpsc::Sender<crate::shard::ReloadClosed>,
    },
    /// A route the dialer connected, for the cluster shard.
    AdoptRoute(Box<crate::cluster::dialer::Dialed>),
    /// A leaf node that came in on another shard's WebSocket port, for the cluster shard.
    AdoptWsLeaf(Box<crate::shard::WsLeaf>),
    /// The system account's service publishes an answer or event from this shard.
    Publish {
        account: AccountId,
        subject: Bytes,
        payload: Bytes,
    },
}

/// One queue of commands per shard.
#[derive(Debug)]
pub struct Mailbox {
    queues: Vec<Mutex<Vec<Command>>>,
}

impl Mailbox {
    pub fn new(shards: usize) -> Mailbox {
        Mailbox {
            queues: (0..shards).map(|_| Mutex::new(Vec::new())).collect(),
        }
    }

    /// Commands waiting for `shard`, taken by its reactor.
    pub fn take(&self, shard: usize) -> Vec<Command> {
        let mut q = self.queues[shard].lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut *q)
    }

    /// Queues `command` for `shard` and rings its doorbell.
    pub fn send(&self, mesh: &Mesh, shard: usize, command: Command) {
        self.queues[shard]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(command);
        mesh.wake(shard);
    }

    /// Sends every shard the command `make` builds around a reply channel and waits for the
    /// answers, in the order they come. A shard that does not answer in time (or has
    /// stopped) is left out.
    pub fn gather<T>(&self, mesh: &Mesh, make: impl Fn(mpsc::Sender<T>) -> Command) -> Vec<T> {
        let (tx, rx) = mpsc::channel();
        for shard in 0..self.queues.len() {
            self.send(mesh, shard, make(tx.clone()));
        }
        drop(tx);
        let deadline = Instant::now() + ANSWER_TIMEOUT;
        let mut out = Vec::with_capacity(self.queues.len());
        while out.len() < self.queues.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(answer) => out.push(answer),
                Err(_) => break,
            }
        }
        out
    }
}

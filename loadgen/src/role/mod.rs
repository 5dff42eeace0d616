//! The connections of a run, one thread each (a connector's connections one after another
//! on its thread), and what they share with the coordinator: a start gate, a stop flag and
//! progress counters.

pub mod connector;
pub mod js_consumer;
pub mod js_publisher;
pub mod kv_watcher;
pub mod publisher;
pub mod requester;
pub mod responder;
pub mod subscriber;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::args::RunArgs;
use crate::proto::{push_sub, push_unsub, Conn, ProtoError};
use crate::scenario::Plan;
use crate::server_url::ServerUrl;

/// TCP connect plus INFO/CONNECT/PONG.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Subscribing, up to the PONG that proves the interest is live on the whole server.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connected role waits for the coordinator to start the run; the coordinator
/// gives up on setup well before.
const GO_TIMEOUT: Duration = Duration::from_secs(60);
/// A sender's PING (its last, or each `--flush`): the server has everything sent before it
/// once PONG arrives.
const FINAL_FLUSH_TIMEOUT: Duration = Duration::from_secs(30);
/// UNSUB and PING at the end, so that no interest outlives the run (ramp steps reuse
/// subjects).
const TEARDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// Receivers block in read() at most this long before looking at the stop flag.
const STOP_POLL_INTERVAL: Duration = Duration::from_millis(20);
/// A sender builds this much output before one write: hundreds of small PUBs per syscall.
const BATCH_BYTES: usize = 64 * 1024;

/// sid of a receiver's measured subscription.
const MEASURED_SID: u64 = 1;
/// sid of its warmup subscription, whose messages are read and not counted.
const WARMUP_SID: u64 = 2;

enum Gate {
    Closed,
    Open(Instant),
    Aborted,
}

/// What the coordinator and the role threads share.
pub struct Control {
    gate: Mutex<Gate>,
    gate_changed: Condvar,
    /// Tells receivers to stop reading.
    stop: AtomicBool,
    /// Measured messages (or requests, or connection attempts) sent so far, for the
    /// progress bar.
    sent: AtomicU64,
    /// Measured messages each receiver has got so far, to know when all arrived.
    received: Vec<AtomicU64>,
}

impl Control {
    pub fn new(receivers: usize) -> Control {
        Control {
            gate: Mutex::new(Gate::Closed),
            gate_changed: Condvar::new(),
            stop: AtomicBool::new(false),
            sent: AtomicU64::new(0),
            received: (0..receivers).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Starts every role; `base` is the shared origin of all send-time stamps.
    pub fn open(&self, base: Instant) {
        self.set_gate(Gate::Open(base));
    }

    /// Releases roles still waiting for the start, so they can close and exit.
    pub fn abort(&self) {
        self.set_gate(Gate::Aborted);
        self.stop.store(true, Ordering::Release);
    }

    fn set_gate(&self, state: Gate) {
        *self.gate.lock().unwrap_or_else(|e| e.into_inner()) = state;
        self.gate_changed.notify_all();
    }

    fn wait_for_start(&self) -> Option<Instant> {
        let deadline = Instant::now() + GO_TIMEOUT;
        let mut gate = self.gate.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            match *gate {
                Gate::Open(base) => return Some(base),
                Gate::Aborted => return None,
                Gate::Closed => {}
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            gate = self
                .gate_changed
                .wait_timeout(gate, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    pub fn stop_receivers(&self) {
        self.stop.store(true, Ordering::Release);
    }

    fn should_stop(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    fn add_sent(&self, n: u64) {
        self.sent.fetch_add(n, Ordering::Relaxed);
    }

    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    fn set_received(&self, receiver: usize, n: u64) {
        self.received[receiver].store(n, Ordering::Relaxed);
    }

    pub fn received(&self) -> Vec<u64> {
        self.received
            .iter()
            .map(|r| r.load(Ordering::Relaxed))
            .collect()
    }
}

/// What every role thread gets.
pub struct RoleContext<'a> {
    pub args: &'a RunArgs,
    pub plan: &'a Plan,
    pub control: &'a Control,
}

/// A role's answer to "are you connected and subscribed?": `Err` carries the message.
pub type Ready = Result<(), String>;

impl RoleContext<'_> {
    /// Connects, checks the payload fits, runs `subscribe` (SUBs and the PING/PONG barrier),
    /// reports readiness and waits for the start. `None` if any of it failed or the run
    /// was aborted; the failure has then been reported on `ready`.
    fn connect_and_wait(
        &self,
        role: &str,
        ready: &Sender<Ready>,
        subscribe: impl FnOnce(&mut Conn) -> Result<(), ProtoError>,
    ) -> Option<(Conn, Instant)> {
        self.connect_to_and_wait(&self.args.server, role, ready, subscribe)
    }

    /// `connect_and_wait` to `server`.
    fn connect_to_and_wait(
        &self,
        server: &ServerUrl,
        role: &str,
        ready: &Sender<Ready>,
        subscribe: impl FnOnce(&mut Conn) -> Result<(), ProtoError>,
    ) -> Option<(Conn, Instant)> {
        let setup = Conn::connect(server, role, CONNECT_TIMEOUT)
            .map_err(|e| format!("{role}: connecting to {server}: {e}"))
            .and_then(|mut conn| {
                if self.args.size > conn.max_payload() {
                    return Err(format!(
                        "--size {} exceeds the server's max_payload {}",
                        self.args.size,
                        conn.max_payload()
                    ));
                }
                subscribe(&mut conn).map_err(|e| format!("{role}: subscribing: {e}"))?;
                Ok(conn)
            });
        match setup {
            Ok(conn) => {
                // The coordinator stops listening only after aborting, which the wait sees.
                let _ = ready.send(Ok(()));
                let base = self.control.wait_for_start()?;
                Some((conn, base))
            }
            Err(message) => {
                let _ = ready.send(Err(message));
                None
            }
        }
    }
}

/// SUBs to the measured subject and, with warmup, to the warmup subject, then waits for
/// the PONG that makes the interest live.
fn subscribe(conn: &mut Conn, plan: &Plan, warmup: bool) -> Result<(), ProtoError> {
    push_sub(
        conn.out(),
        &plan.subscribe_subject,
        plan.queue_group,
        MEASURED_SID,
    );
    if warmup {
        push_sub(
            conn.out(),
            &plan.warmup_subscribe_subject,
            plan.queue_group,
            WARMUP_SID,
        );
    }
    conn.ping_pong(Instant::now() + SUBSCRIBE_TIMEOUT)
}

/// UNSUBs and waits for the PONG, so that the server has dropped the interest everywhere
/// before the next run (or ramp step) subscribes again.
fn unsubscribe(conn: &mut Conn, sids: &[u64]) -> Result<(), ProtoError> {
    for &sid in sids {
        push_unsub(conn.out(), sid);
    }
    conn.ping_pong(Instant::now() + TEARDOWN_TIMEOUT)
}

/// Nanoseconds from `base` to now; zero before it.
fn since(base: Instant) -> u64 {
    Instant::now().saturating_duration_since(base).as_nanos() as u64
}

/// Sleeps until `at` (senders start at the shared base instant).
fn sleep_until(at: Instant) {
    let left = at.saturating_duration_since(Instant::now());
    if !left.is_zero() {
        std::thread::sleep(left);
    }
}

/// Reads and handles whatever the server sent a sender (PING, `-ERR`) without blocking.
fn poll_server(conn: &mut Conn) -> Result<(), ProtoError> {
    if conn.wait_readable(Duration::ZERO)? {
        conn.fill()?;
        conn.drain(|_, _| {})?;
    }
    Ok(())
}

/// A client's own reply inbox prefix, `_INBOX.<32 hex digits>` drawn from the run's seed
/// and `stream` (replies come on `<inbox>.<n>`).
fn reply_inbox(seed: u64, stream: u64) -> String {
    let mut token = crate::rng::SplitMix64::new(seed, stream);
    format!("_INBOX.{:016x}{:016x}", token.next_u64(), token.next_u64())
}

/// Subscribes `conn` to the replies on `inbox` and waits for the server to confirm it.
fn subscribe_inbox(conn: &mut Conn, inbox: &str) -> Result<(), ProtoError> {
    subscribe_measured(conn, &format!("{inbox}.*"))
}

/// Subscribes `conn` to `subject` with the measured sid and waits for the server to
/// confirm it. A push consumer's deliver subject is subscribed to as it is, as the clients
/// do: nats-server delivers only while a subscription matches it literally, not to a
/// wildcard one over it.
fn subscribe_measured(conn: &mut Conn, subject: &str) -> Result<(), ProtoError> {
    push_sub(conn.out(), subject, None, MEASURED_SID);
    conn.ping_pong(Instant::now() + SUBSCRIBE_TIMEOUT)
}

//! A connector: opens a connection, reads INFO, writes CONNECT, its `--subs` SUBs and PING
//! in one write, waits for PONG and closes; then the next, as fast as the server takes
//! them. Each handshake is timed from connect() to PONG. A failed attempt is counted and the
//! connector goes on, so a server that turns away part of a storm shows as failures rather
//! than as a run that stopped.

use std::sync::mpsc::Sender;
use std::time::Instant;

use super::{since, sleep_until, Ready, RoleContext, CONNECT_TIMEOUT};
use crate::args::RunLength;
use crate::latency::{self, LatencyHistogram};
use crate::proto::{push_connect, push_sub, Conn, FrameReader};

/// sids of a connection's SUBs count up from here, as client libraries number them.
const FIRST_SID: u64 = 1;

pub struct ConnectorReport {
    /// Handshakes that ended in PONG.
    pub completed: u64,
    /// Attempts refused, timed out, or closed or answered with `-ERR` before PONG.
    pub failed: u64,
    /// When the last attempt ended, in ns since base.
    pub finished_ns: u64,
    /// From connect() to PONG, one entry per completed handshake.
    pub latency: LatencyHistogram,
    /// The first failure.
    pub error: Option<String>,
}

/// Runs connector `index`: its share of `--msgs` attempts, or attempts until `--duration`
/// is up.
pub fn run(ctx: &RoleContext<'_>, index: usize, ready: Sender<Ready>) -> ConnectorReport {
    let role = format!("loadgen-conn-{index}");
    let mut report = ConnectorReport {
        completed: 0,
        failed: 0,
        finished_ns: 0,
        latency: latency::new_histogram(),
        error: None,
    };
    // Nothing to set up: every connection belongs to the measurement.
    let _ = ready.send(Ok(()));
    let Some(base) = ctx.control.wait_for_start() else {
        return report;
    };
    let args = ctx.args;
    let attempts = ctx.plan.quota(args.length, index).unwrap_or(u64::MAX);
    let stop_at = match args.length {
        RunLength::Msgs(_) => None,
        RunLength::Duration(d) => Some(base + d),
    };
    let hello = hello(ctx, &role);
    let mut spare = Some(FrameReader::default());
    sleep_until(base);
    for attempt in 0..attempts {
        if stop_at.is_some_and(|t| Instant::now() >= t) {
            break;
        }
        let started_ns = since(base);
        let reader = spare.take().unwrap_or_default();
        match Conn::handshake(&args.server, reader, &hello, CONNECT_TIMEOUT) {
            Ok(conn) => {
                latency::record(&mut report.latency, since(base), started_ns);
                report.completed += 1;
                // Everything up to PONG has been read, so this close is a FIN.
                spare = Some(conn.close());
            }
            Err(e) => {
                report.failed += 1;
                report.error.get_or_insert_with(|| {
                    format!("{role}: connection {attempt} to {}: {e}", args.server)
                });
            }
        }
        ctx.control.add_sent(1);
    }
    report.finished_ns = since(base);
    report
}

/// CONNECT and one SUB per connection subject, the same bytes for every connection.
fn hello(ctx: &RoleContext<'_>, role: &str) -> Vec<u8> {
    let mut hello = Vec::new();
    push_connect(&mut hello, &ctx.args.server.credentials, role);
    for (sid, subject) in (FIRST_SID..).zip(&ctx.plan.connection_subjects) {
        push_sub(&mut hello, subject, None, sid);
    }
    hello
}

//! A subscriber: counts what arrives, tracks origins for loss and duplicates, and in open
//! loop records each message's latency from its intended send time.

use std::sync::mpsc::Sender;
use std::time::Instant;

use super::{
    since, subscribe, unsubscribe, Ready, RoleContext, MEASURED_SID, STOP_POLL_INTERVAL, WARMUP_SID,
};
use crate::latency::{self, LatencyHistogram};
use crate::payload::{self, HEADER_BYTES};
use crate::proto::{Conn, Frame, ProtoError};
use crate::seqtrack::{SeqTracker, Sighting};

pub struct SubscriberReport {
    /// Measured messages received, duplicates included.
    pub received: u64,
    /// Messages on our subjects that this run did not send (wrong size or origin).
    pub foreign: u64,
    /// When the last measured message arrived, in ns since base.
    pub last_receive_ns: u64,
    /// Present when payloads are large enough to carry their origin.
    pub tracker: Option<SeqTracker>,
    /// Present in open loop.
    pub latency: Option<LatencyHistogram>,
    pub error: Option<String>,
}

impl SubscriberReport {
    fn accept(&mut self, payload: &[u8], now_ns: u64, size: usize) {
        if payload.len() != size {
            self.foreign += 1;
            return;
        }
        if let (Some(tracker), Some(origin)) = (&mut self.tracker, payload::read_origin(payload)) {
            if tracker.record(origin.publisher, origin.seq) == Sighting::Foreign {
                self.foreign += 1;
                return;
            }
        }
        self.received += 1;
        self.last_receive_ns = now_ns;
        if let (Some(histogram), Some(intended_ns)) =
            (&mut self.latency, payload::read_stamp(payload))
        {
            latency::record(histogram, now_ns, intended_ns);
        }
    }
}

/// Runs subscriber `index` until the coordinator says stop.
pub fn run(ctx: &RoleContext<'_>, index: usize, ready: Sender<Ready>) -> SubscriberReport {
    let role = format!("loadgen-sub-{index}");
    let args = ctx.args;
    let mut report = SubscriberReport {
        received: 0,
        foreign: 0,
        last_receive_ns: 0,
        tracker: (args.size >= HEADER_BYTES).then(|| SeqTracker::new(ctx.plan.senders)),
        latency: args.rate.map(|_| latency::new_histogram()),
        error: None,
    };
    let warmup = !args.warmup.is_zero();
    let subscribed = |conn: &mut Conn| subscribe(conn, ctx.plan, warmup);
    let server = args.sub_server.as_ref().unwrap_or(&args.server);
    let Some((mut conn, base)) = ctx.connect_to_and_wait(server, &role, &ready, subscribed) else {
        return report;
    };
    let sids: &[u64] = if warmup {
        &[MEASURED_SID, WARMUP_SID]
    } else {
        &[MEASURED_SID]
    };
    let result = receive(ctx, index, &mut conn, base, &mut report)
        .and_then(|()| unsubscribe(&mut conn, sids));
    report.error = result.err().map(|e| format!("{role}: {e}"));
    report
}

fn receive(
    ctx: &RoleContext<'_>,
    index: usize,
    conn: &mut Conn,
    base: Instant,
    report: &mut SubscriberReport,
) -> Result<(), ProtoError> {
    let size = ctx.args.size;
    conn.set_read_timeout(STOP_POLL_INTERVAL)?;
    while !ctx.control.should_stop() {
        if !conn.fill()? {
            continue;
        }
        // One clock read per read(): everything in it arrived together.
        let now_ns = since(base);
        conn.drain(|frame, _| {
            if let Frame::Msg(msg) = frame {
                if msg.sid == MEASURED_SID {
                    report.accept(msg.payload, now_ns, size);
                }
            }
        })?;
        ctx.control.set_received(index, report.received);
    }
    Ok(())
}

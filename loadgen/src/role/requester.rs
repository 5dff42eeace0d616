//! A requester: sends requests with reply subject `<inbox>.<n>` on its own connection and
//! measures each reply against the request's intended send time. Closed loop keeps up to
//! `--inflight` requests outstanding; open loop sends on its schedule whatever is
//! outstanding. One thread does both, sleeping in ppoll until the next request is due or
//! a reply arrives.

use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use super::{
    reply_inbox, since, subscribe_inbox, unsubscribe, Ready, RoleContext, BATCH_BYTES, MEASURED_SID,
};
use crate::args::RunLength;
use crate::latency::{self, LatencyHistogram};
use crate::payload;
use crate::proto::{parse_decimal, push_decimal, push_pub_header, Conn, Frame, ProtoError, CRLF};
use crate::schedule::{tighten_timer_slack, Schedule};
use crate::seqtrack::{SeqTracker, Sighting};

/// A request without a reply for this long, with nothing else happening, is lost.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// The tracker follows one sender: this requester.
const SELF_ORIGIN: u32 = 0;
/// A request's bytes besides subject, reply prefix and payload: `PUB`, spaces, the request
/// number, the size and two CRLFs, rounded up. Only sizes a batch.
const REQUEST_FRAMING_BYTES: usize = 48;

pub struct RequesterReport {
    /// Measured requests sent (warmup excluded).
    pub sent: u64,
    /// Replies to measured requests, duplicates included.
    pub replies: u64,
    /// Measured requests that got a reply.
    pub answered: u64,
    pub duplicates: u64,
    /// Replies that do not belong to any request sent.
    pub foreign: u64,
    /// When the last measured request was written, in ns since base.
    pub last_send_ns: u64,
    /// When the last reply to a measured request arrived, in ns since base.
    pub last_reply_ns: u64,
    pub latency: LatencyHistogram,
    pub error: Option<String>,
}

/// Runs requester `index`. A setup failure is reported on `ready`, not in the report.
pub fn run(ctx: &RoleContext<'_>, index: usize, ready: Sender<Ready>) -> RequesterReport {
    let role = format!("loadgen-req-{index}");
    let inbox = reply_inbox(ctx.args.seed, (ctx.plan.senders + index) as u64);
    let subscribed = |conn: &mut Conn| subscribe_inbox(conn, &inbox);
    let mut requester = Requester::new(ctx, index, &inbox);
    let Some((mut conn, base)) = ctx.connect_and_wait(&role, &ready, subscribed) else {
        return requester.report;
    };
    requester.base = base;
    let result = requester
        .run(&mut conn)
        .and_then(|()| unsubscribe(&mut conn, &[MEASURED_SID]));
    requester.report.error = result.err().map(|e| format!("{role}: {e}"));
    requester.report
}

/// When a requester stops sending: after its share of `--msgs`, or at the end of
/// `--duration` (ns since base, warmup included).
#[derive(Clone, Copy)]
enum Limit {
    Count(u64),
    UntilNs(u64),
}

/// When requests may go out.
enum Pacing {
    /// Keep this many outstanding.
    Closed { inflight: u64 },
    /// Request k at `schedule.intended_ns(k)`, until `end`.
    Open { schedule: Schedule, end: u64 },
}

struct Requester<'a> {
    ctx: &'a RoleContext<'a>,
    index: usize,
    base: Instant,
    subject: Vec<u8>,
    /// `<inbox>.`, to which each request appends its number.
    reply_prefix: Vec<u8>,
    reply: Vec<u8>,
    body: Vec<u8>,
    /// Which request numbers have been answered.
    answered: SeqTracker,
    /// Requests sent, warmup included; the next request's number.
    sent_total: u64,
    answered_total: u64,
    /// Number of the first measured request; `u64::MAX` until warmup ends in closed loop.
    first_measured: u64,
    last_progress: Instant,
    report: RequesterReport,
}

impl<'a> Requester<'a> {
    fn new(ctx: &'a RoleContext<'a>, index: usize, inbox: &str) -> Requester<'a> {
        let reply_prefix = format!("{inbox}.").into_bytes();
        Requester {
            ctx,
            index,
            base: Instant::now(),
            subject: ctx.plan.publish_subjects[0].clone().into_bytes(),
            reply: reply_prefix.clone(),
            reply_prefix,
            body: vec![0; ctx.args.size],
            answered: SeqTracker::new(1),
            sent_total: 0,
            answered_total: 0,
            first_measured: 0,
            last_progress: Instant::now(),
            report: RequesterReport {
                sent: 0,
                replies: 0,
                answered: 0,
                duplicates: 0,
                foreign: 0,
                last_send_ns: 0,
                last_reply_ns: 0,
                latency: latency::new_histogram(),
                error: None,
            },
        }
    }

    fn outstanding(&self) -> u64 {
        self.sent_total - self.answered_total
    }

    fn run(&mut self, conn: &mut Conn) -> Result<(), ProtoError> {
        let args = self.ctx.args;
        let warmup_ns = args.warmup.as_nanos() as u64;
        let limit = match args.length {
            RunLength::Msgs(_) => {
                Limit::Count(self.ctx.plan.quota(args.length, self.index).unwrap_or(0))
            }
            RunLength::Duration(d) => Limit::UntilNs(warmup_ns + d.as_nanos() as u64),
        };
        let pacing = match args.rate {
            None => {
                self.first_measured = if warmup_ns == 0 { 0 } else { u64::MAX };
                Pacing::Closed {
                    inflight: args.inflight as u64,
                }
            }
            Some(rate) => {
                let schedule = Schedule::new(
                    self.ctx.plan.sender_rate(rate),
                    self.index as f64 / self.ctx.plan.senders as f64,
                );
                self.first_measured = schedule.count_before(warmup_ns);
                let end = match limit {
                    Limit::Count(quota) => self.first_measured + quota,
                    Limit::UntilNs(stop_ns) => schedule.count_before(stop_ns),
                };
                tighten_timer_slack();
                Pacing::Open { schedule, end }
            }
        };
        let frame_bytes =
            self.subject.len() + self.reply_prefix.len() + args.size + REQUEST_FRAMING_BYTES;
        let max_batch = (BATCH_BYTES / frame_bytes).max(1) as u64;
        super::sleep_until(self.base);
        self.last_progress = Instant::now();
        loop {
            let now_ns = since(self.base);
            let done_sending = match (&pacing, limit) {
                (Pacing::Open { end, .. }, _) => self.sent_total >= *end,
                (Pacing::Closed { .. }, Limit::Count(quota)) => self.measured_sent() >= quota,
                (Pacing::Closed { .. }, Limit::UntilNs(stop_ns)) => now_ns >= stop_ns,
            };
            let sendable = match (&pacing, limit) {
                _ if done_sending => 0,
                (Pacing::Open { schedule, end }, _) => {
                    schedule.due_by(now_ns).min(*end) - self.sent_total
                }
                (Pacing::Closed { inflight }, limit) => {
                    let room = inflight.saturating_sub(self.outstanding());
                    match limit {
                        Limit::Count(quota) if self.first_measured != u64::MAX => {
                            room.min(quota - self.measured_sent())
                        }
                        _ => room,
                    }
                }
            };
            if sendable > 0 {
                self.send(conn, sendable.min(max_batch), now_ns, warmup_ns, &pacing)?;
                continue;
            }
            if done_sending && self.outstanding() == 0 {
                return Ok(());
            }
            let mut wait =
                (self.last_progress + REPLY_TIMEOUT).saturating_duration_since(Instant::now());
            if wait.is_zero() {
                // Whatever is still outstanding is lost; the report counts it.
                return Ok(());
            }
            if let (false, Pacing::Open { schedule, .. }) = (done_sending, &pacing) {
                let until_due = schedule.intended_ns(self.sent_total).saturating_sub(now_ns);
                wait = wait.min(Duration::from_nanos(until_due));
            }
            if conn.wait_readable(wait)? {
                conn.fill()?;
                let now_ns = since(self.base);
                conn.drain(|frame, _| {
                    if let Frame::Msg(msg) = frame {
                        self.on_reply(reply_of(msg.subject, msg.payload), now_ns);
                    }
                })?;
            }
        }
    }

    fn measured_sent(&self) -> u64 {
        self.sent_total.saturating_sub(self.first_measured)
    }

    fn send(
        &mut self,
        conn: &mut Conn,
        count: u64,
        now_ns: u64,
        warmup_ns: u64,
        pacing: &Pacing,
    ) -> Result<(), ProtoError> {
        if self.first_measured == u64::MAX && now_ns >= warmup_ns {
            self.first_measured = self.sent_total;
        }
        let size = self.body.len();
        for _ in 0..count {
            let n = self.sent_total;
            let intended_ns = match pacing {
                Pacing::Open { schedule, .. } => schedule.intended_ns(n),
                Pacing::Closed { .. } => now_ns,
            };
            self.reply.truncate(self.reply_prefix.len());
            push_decimal(&mut self.reply, n);
            let out = conn.out();
            push_pub_header(out, &self.subject, Some(&self.reply), size);
            let at = out.len();
            out.extend_from_slice(&self.body);
            payload::stamp(&mut out[at..], intended_ns, self.index as u32, n);
            out.extend_from_slice(CRLF);
            self.sent_total += 1;
        }
        conn.flush()?;
        let batch_start = self.sent_total - count;
        let measured = self.sent_total - self.first_measured.clamp(batch_start, self.sent_total);
        if measured > 0 {
            self.report.sent += measured;
            self.report.last_send_ns = since(self.base);
            self.ctx.control.add_sent(measured);
        }
        self.last_progress = Instant::now();
        Ok(())
    }

    fn on_reply(&mut self, reply: Option<Reply>, now_ns: u64) {
        let Some(reply) = reply.filter(|r| r.number < self.sent_total) else {
            self.report.foreign += 1;
            return;
        };
        let measured = reply.number >= self.first_measured;
        match self.answered.record(SELF_ORIGIN, reply.number) {
            Sighting::First => {
                self.answered_total += 1;
                self.last_progress = Instant::now();
                if measured {
                    self.report.answered += 1;
                    self.report.last_reply_ns = now_ns;
                    latency::record(&mut self.report.latency, now_ns, reply.intended_ns);
                }
            }
            Sighting::Duplicate if measured => self.report.duplicates += 1,
            Sighting::Duplicate => {}
            Sighting::Foreign => {
                self.report.foreign += 1;
                return;
            }
        }
        if measured {
            self.report.replies += 1;
        }
    }
}

struct Reply {
    number: u64,
    intended_ns: u64,
}

/// The request number is the last token of the reply subject; the echoed payload carries
/// the intended send time.
fn reply_of(subject: &[u8], payload: &[u8]) -> Option<Reply> {
    let number = parse_decimal(subject.rsplit(|&b| b == b'.').next()?)?;
    let intended_ns = payload::read_stamp(payload)?;
    Some(Reply {
        number,
        intended_ns,
    })
}

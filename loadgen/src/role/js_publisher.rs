//! A JetStream publisher (`jspub`, `kvput`): publishes into the run's stream with reply
//! subject `<inbox>.<n>`, as a client's async publish does, and keeps at most `--js-window`
//! publishes waiting for their ack, like a client's limit on pending acks. A message
//! counts once the stream acked it; an ack with an error is a refusal. Latency runs from
//! the write that carried a publish to its ack. kvget's direct gets are the same exchange
//! with an empty body, answered by the value or a 404 status. Publish `n` goes to the
//! plan's subject `n` modulo their number: jspub has one, kvput and kvget a key each.

use std::collections::VecDeque;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use super::{
    reply_inbox, since, subscribe_inbox, unsubscribe, Ready, RoleContext, BATCH_BYTES, MEASURED_SID,
};
use crate::args::{RunLength, Scenario};
use crate::jetstream::PubAck;
use crate::latency::{self, LatencyHistogram};
use crate::payload;
use crate::proto::{parse_decimal, push_decimal, push_pub_header, Conn, Frame, ProtoError, CRLF};

/// Publishes still without an ack this long after the last progress (an ack or a write)
/// are given up on and reported as unacked. An fsync per write (`sync_interval: always`)
/// on a slow disk takes milliseconds, not seconds.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(10);
/// A publish's bytes besides subject, reply prefix and payload: `PUB`, spaces, the
/// publish number, the size and two CRLFs, rounded up. Only sizes a batch.
const PUBLISH_FRAMING_BYTES: usize = 48;

pub struct JsPublisherReport {
    /// Measured publishes written (warmup excluded).
    pub sent: u64,
    /// Measured publishes the stream stored.
    pub acked: u64,
    /// Measured publishes the stream answered with an error.
    pub refused: u64,
    /// Second answers to one publish.
    pub duplicates: u64,
    /// Answers to no publish of this run, or not pub acks at all.
    pub foreign: u64,
    /// When the last measured publish was written, in ns since base.
    pub last_send_ns: u64,
    /// When the last measured publish was answered, in ns since base.
    pub last_ack_ns: u64,
    /// Publish to ack, stored messages only.
    pub latency: LatencyHistogram,
    /// The first refusal, as the server worded it.
    pub first_refusal: Option<String>,
    pub error: Option<String>,
}

/// Runs publisher `index`. A setup failure is reported on `ready`, not in the report.
pub fn run(ctx: &RoleContext<'_>, index: usize, ready: Sender<Ready>) -> JsPublisherReport {
    let role = format!("loadgen-jspub-{index}");
    let inbox = reply_inbox(ctx.args.seed, index as u64);
    let subscribed = |conn: &mut Conn| subscribe_inbox(conn, &inbox);
    let mut publisher = JsPublisher::new(ctx, index, &inbox);
    let Some((mut conn, base)) = ctx.connect_and_wait(&role, &ready, subscribed) else {
        return publisher.report;
    };
    publisher.base = base;
    let result = publisher
        .run(&mut conn)
        .and_then(|()| unsubscribe(&mut conn, &[MEASURED_SID]));
    publisher.report.error = result.err().map(|e| format!("{role}: {e}"));
    publisher.report
}

/// The publishes that have not been answered yet, and when each was written.
#[derive(Debug, Default)]
struct Pending {
    /// Number of the publish at the front of `sent_ns`.
    first: u64,
    /// Write time (ns since base) of publishes `first..`, `None` once answered; the front
    /// is always unanswered.
    sent_ns: VecDeque<Option<u64>>,
    outstanding: u64,
}

/// What an answer to publish `n` found.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    /// The first answer; the publish was written at this time.
    First {
        sent_ns: u64,
    },
    Duplicate,
    /// A number never published.
    Unknown,
}

impl Pending {
    /// Publishes written so far; the next one's number.
    fn next(&self) -> u64 {
        self.first + self.sent_ns.len() as u64
    }

    fn push(&mut self, sent_ns: u64) {
        self.sent_ns.push_back(Some(sent_ns));
        self.outstanding += 1;
    }

    fn answer(&mut self, n: u64) -> Answer {
        if n >= self.next() {
            return Answer::Unknown;
        }
        let Some(slot) = n
            .checked_sub(self.first)
            .and_then(|at| self.sent_ns.get_mut(at as usize))
        else {
            return Answer::Duplicate;
        };
        let Some(sent_ns) = slot.take() else {
            return Answer::Duplicate;
        };
        self.outstanding -= 1;
        while self.sent_ns.front() == Some(&None) {
            self.sent_ns.pop_front();
            self.first += 1;
        }
        Answer::First { sent_ns }
    }
}

struct JsPublisher<'a> {
    ctx: &'a RoleContext<'a>,
    index: usize,
    base: Instant,
    subjects: &'a [String],
    /// kvget: answers are direct get replies, not pub acks.
    direct_get: bool,
    /// `<inbox>.`, to which each publish appends its number.
    reply_prefix: Vec<u8>,
    reply: Vec<u8>,
    body: Vec<u8>,
    pending: Pending,
    /// Number of the first measured publish; `u64::MAX` until warmup ends.
    first_measured: u64,
    last_progress: Instant,
    report: JsPublisherReport,
}

impl<'a> JsPublisher<'a> {
    fn new(ctx: &'a RoleContext<'a>, index: usize, inbox: &str) -> JsPublisher<'a> {
        let reply_prefix = format!("{inbox}.").into_bytes();
        let direct_get = ctx.args.scenario == Scenario::KvGet;
        JsPublisher {
            ctx,
            index,
            base: Instant::now(),
            subjects: &ctx.plan.publish_subjects,
            direct_get,
            reply: reply_prefix.clone(),
            reply_prefix,
            // A get asks with an empty body; --size is the value's.
            body: if direct_get {
                Vec::new()
            } else {
                vec![0; ctx.args.size]
            },
            pending: Pending::default(),
            first_measured: 0,
            last_progress: Instant::now(),
            report: JsPublisherReport {
                sent: 0,
                acked: 0,
                refused: 0,
                duplicates: 0,
                foreign: 0,
                last_send_ns: 0,
                last_ack_ns: 0,
                latency: latency::new_histogram(),
                first_refusal: None,
                error: None,
            },
        }
    }

    fn measured_sent(&self) -> u64 {
        self.pending.next().saturating_sub(self.first_measured)
    }

    fn run(&mut self, conn: &mut Conn) -> Result<(), ProtoError> {
        let args = self.ctx.args;
        let warmup_ns = args.warmup.as_nanos() as u64;
        self.first_measured = if warmup_ns == 0 { 0 } else { u64::MAX };
        // Count: this publisher's share of --msgs; otherwise until --duration is up.
        let (quota, stop_ns) = match args.length {
            RunLength::Msgs(_) => (
                self.ctx.plan.quota(args.length, self.index).unwrap_or(0),
                u64::MAX,
            ),
            RunLength::Duration(d) => (u64::MAX, warmup_ns + d.as_nanos() as u64),
        };
        let window = args.js.window as u64;
        let longest_subject = self.subjects.iter().map(String::len).max().unwrap_or(0);
        let frame_bytes =
            longest_subject + self.reply_prefix.len() + self.body.len() + PUBLISH_FRAMING_BYTES;
        let max_batch = (BATCH_BYTES / frame_bytes).max(1) as u64;
        super::sleep_until(self.base);
        self.last_progress = Instant::now();
        loop {
            let now_ns = since(self.base);
            if self.first_measured == u64::MAX && now_ns >= warmup_ns {
                self.first_measured = self.pending.next();
            }
            let done_sending = self.measured_sent() >= quota || now_ns >= stop_ns;
            let sendable = if done_sending {
                0
            } else {
                let room = window.saturating_sub(self.pending.outstanding);
                if self.first_measured == u64::MAX {
                    room
                } else {
                    room.min(quota - self.measured_sent())
                }
            };
            if sendable > 0 {
                self.send(conn, sendable.min(max_batch))?;
                // Take the acks that are already in without waiting for them.
                if conn.wait_readable(Duration::ZERO)? {
                    self.receive(conn)?;
                }
                continue;
            }
            if done_sending && self.pending.outstanding == 0 {
                return Ok(());
            }
            let wait = (self.last_progress + ACK_TIMEOUT).saturating_duration_since(Instant::now());
            if wait.is_zero() {
                // What is still outstanding is unacked; the summary counts it.
                return Ok(());
            }
            let wait = if done_sending {
                wait
            } else {
                // With --duration the end comes even while the window is full.
                wait.min(Duration::from_nanos(stop_ns.saturating_sub(now_ns)))
            };
            if conn.wait_readable(wait)? {
                self.receive(conn)?;
            }
        }
    }

    fn send(&mut self, conn: &mut Conn, count: u64) -> Result<(), ProtoError> {
        let size = self.body.len();
        let first = self.pending.next();
        let stamp_ns = since(self.base);
        for n in first..first + count {
            self.reply.truncate(self.reply_prefix.len());
            push_decimal(&mut self.reply, n);
            let subject = &self.subjects[(n % self.subjects.len() as u64) as usize];
            let out = conn.out();
            push_pub_header(out, subject.as_bytes(), Some(&self.reply), size);
            let at = out.len();
            out.extend_from_slice(&self.body);
            payload::stamp(&mut out[at..], stamp_ns, self.index as u32, n);
            out.extend_from_slice(CRLF);
        }
        conn.flush()?;
        // The write has returned: that is when these publishes left.
        let sent_ns = since(self.base);
        for _ in 0..count {
            self.pending.push(sent_ns);
        }
        let measured = (first + count).saturating_sub(self.first_measured.max(first));
        if measured > 0 {
            self.report.sent += measured;
            self.report.last_send_ns = sent_ns;
            self.ctx.control.add_sent(measured);
        }
        self.last_progress = Instant::now();
        Ok(())
    }

    fn receive(&mut self, conn: &mut Conn) -> Result<(), ProtoError> {
        conn.fill()?;
        let now_ns = since(self.base);
        conn.drain(|frame, _| {
            if let Frame::Msg(msg) = frame {
                let ack = if self.direct_get {
                    PubAck::from_direct_get(msg.headers)
                } else {
                    PubAck::parse(msg.payload)
                };
                self.on_ack(msg.subject, ack, now_ns);
            }
        })
    }

    fn on_ack(&mut self, subject: &[u8], ack: Option<PubAck>, now_ns: u64) {
        let number = subject
            .rsplit(|&b| b == b'.')
            .next()
            .and_then(parse_decimal);
        let (Some(number), Some(ack)) = (number, ack) else {
            self.report.foreign += 1;
            return;
        };
        let measured = number >= self.first_measured;
        match self.pending.answer(number) {
            Answer::First { sent_ns } => {
                self.last_progress = Instant::now();
                if !measured {
                    return;
                }
                self.report.last_ack_ns = now_ns;
                match ack {
                    PubAck::Stored { .. } => {
                        self.report.acked += 1;
                        latency::record(&mut self.report.latency, now_ns, sent_ns);
                    }
                    PubAck::Refused(e) => {
                        self.report.refused += 1;
                        self.report
                            .first_refusal
                            .get_or_insert_with(|| format!("publish {number}: {e}"));
                    }
                }
            }
            Answer::Duplicate if measured => self.report.duplicates += 1,
            Answer::Duplicate => {}
            Answer::Unknown => self.report.foreign += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_in_any_order_free_the_window() {
        let mut p = Pending::default();
        for t in 10..15 {
            p.push(t);
        }
        assert_eq!((p.next(), p.outstanding), (5, 5));
        assert_eq!(p.answer(2), Answer::First { sent_ns: 12 });
        assert_eq!(p.answer(2), Answer::Duplicate);
        // The front is still unanswered, so nothing is dropped yet.
        assert_eq!((p.first, p.sent_ns.len()), (0, 5));
        assert_eq!(p.answer(0), Answer::First { sent_ns: 10 });
        assert_eq!(p.answer(1), Answer::First { sent_ns: 11 });
        // 0, 1 and 2 answered: the front moves past all three.
        assert_eq!((p.first, p.sent_ns.len(), p.outstanding), (3, 2, 2));
        assert_eq!(p.answer(0), Answer::Duplicate);
        assert_eq!(p.answer(5), Answer::Unknown);
        assert_eq!(p.answer(u64::MAX), Answer::Unknown);
        assert_eq!(p.answer(4), Answer::First { sent_ns: 14 });
        assert_eq!(p.answer(3), Answer::First { sent_ns: 13 });
        assert_eq!((p.first, p.sent_ns.len(), p.outstanding), (5, 0, 0));
        p.push(20);
        assert_eq!(p.answer(5), Answer::First { sent_ns: 20 });
    }
}

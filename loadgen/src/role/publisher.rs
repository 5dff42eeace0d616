//! A publisher: sends its share of the messages as fast as the server takes them (closed
//! loop) or each at its scheduled time (open loop), many PUBs per write.

use std::sync::mpsc::Sender;
use std::time::Instant;

use super::{
    poll_server, since, sleep_until, Ready, RoleContext, BATCH_BYTES, FINAL_FLUSH_TIMEOUT,
};
use crate::args::RunLength;
use crate::payload;
use crate::proto::{push_pub_header, Conn, ProtoError, CRLF};
use crate::rng::SplitMix64;
use crate::schedule::{tighten_timer_slack, Schedule};

pub struct PublisherReport {
    /// Measured messages sent (warmup excluded).
    pub sent: u64,
    /// When the server had taken all of them (the PONG after the last), in ns since base.
    pub finished_ns: u64,
    pub error: Option<String>,
}

/// Runs publisher `index`. A setup failure is reported on `ready`, not in the report.
pub fn run(ctx: &RoleContext<'_>, index: usize, ready: Sender<Ready>) -> PublisherReport {
    let role = format!("loadgen-pub-{index}");
    let mut report = PublisherReport {
        sent: 0,
        finished_ns: 0,
        error: None,
    };
    let Some((mut conn, base)) = ctx.connect_and_wait(&role, &ready, |_| Ok(())) else {
        return report;
    };
    let mut publisher = Publisher::new(ctx, index, base);
    let result = match ctx.args.rate {
        None => publisher.closed_loop(&mut conn),
        Some(rate) => publisher.open_loop(&mut conn, rate),
    }
    .and_then(|()| conn.ping_pong(Instant::now() + FINAL_FLUSH_TIMEOUT));
    report.sent = publisher.sent;
    report.finished_ns = since(base);
    report.error = result.err().map(|e| format!("{role}: {e}"));
    report
}

struct Publisher<'a> {
    ctx: &'a RoleContext<'a>,
    index: usize,
    base: Instant,
    /// `PUB <subject> <size>\r\n` for each subject, built once.
    measured_headers: Vec<Vec<u8>>,
    warmup_headers: Vec<Vec<u8>>,
    /// The zero-filled body every message starts from before it is stamped.
    body: Vec<u8>,
    subject_choice: SplitMix64,
    frames_per_batch: u64,
    sent: u64,
}

impl<'a> Publisher<'a> {
    fn new(ctx: &'a RoleContext<'a>, index: usize, base: Instant) -> Publisher<'a> {
        let size = ctx.args.size;
        let headers = |subjects: &[String]| -> Vec<Vec<u8>> {
            subjects
                .iter()
                .map(|s| {
                    let mut h = Vec::new();
                    push_pub_header(&mut h, s.as_bytes(), None, size);
                    h
                })
                .collect()
        };
        let measured_headers = headers(&ctx.plan.publish_subjects);
        let frame_bytes = measured_headers[0].len() + size + CRLF.len();
        Publisher {
            ctx,
            index,
            base,
            warmup_headers: headers(&ctx.plan.warmup_subjects),
            measured_headers,
            body: vec![0; size],
            subject_choice: SplitMix64::new(ctx.args.seed, index as u64),
            frames_per_batch: (BATCH_BYTES / frame_bytes).max(1) as u64,
            sent: 0,
        }
    }

    fn push_message(&mut self, out: &mut Vec<u8>, warmup: bool, intended_ns: u64, seq: u64) {
        let subjects = self.measured_headers.len();
        let pick = if subjects == 1 {
            0
        } else {
            self.subject_choice.below(subjects)
        };
        let headers = if warmup {
            &self.warmup_headers
        } else {
            &self.measured_headers
        };
        out.extend_from_slice(&headers[pick]);
        let at = out.len();
        out.extend_from_slice(&self.body);
        payload::stamp(&mut out[at..], intended_ns, self.index as u32, seq);
        out.extend_from_slice(CRLF);
    }

    fn count_sent(&mut self, measured: u64) {
        self.sent += measured;
        self.ctx.control.add_sent(measured);
    }

    /// As fast as the server takes them. Stamps carry the batch's send time.
    fn closed_loop(&mut self, conn: &mut Conn) -> Result<(), ProtoError> {
        let measured_from = self.base + self.ctx.args.warmup;
        let (quota, stop_at) = match self.ctx.args.length {
            RunLength::Msgs(_) => (
                self.ctx
                    .plan
                    .quota(self.ctx.args.length, self.index)
                    .unwrap_or(0),
                None,
            ),
            RunLength::Duration(d) => (u64::MAX, Some(measured_from + d)),
        };
        let mut warmup_sent = 0;
        sleep_until(self.base);
        loop {
            let now = Instant::now();
            let warmup = now < measured_from;
            let batch = if warmup {
                self.frames_per_batch
            } else if self.sent >= quota || stop_at.is_some_and(|t| now >= t) {
                return Ok(());
            } else {
                let to_flush = self.ctx.args.flush.map_or(u64::MAX, |n| n - self.sent % n);
                self.frames_per_batch.min(quota - self.sent).min(to_flush)
            };
            let stamp_ns = now.saturating_duration_since(self.base).as_nanos() as u64;
            let first_seq = if warmup { warmup_sent } else { self.sent };
            for seq in first_seq..first_seq + batch {
                self.push_message(conn.out(), warmup, stamp_ns, seq);
            }
            conn.flush()?;
            if warmup {
                warmup_sent += batch;
            } else {
                self.count_sent(batch);
                if self
                    .ctx
                    .args
                    .flush
                    .is_some_and(|n| self.sent.is_multiple_of(n))
                {
                    conn.ping_pong(Instant::now() + FINAL_FLUSH_TIMEOUT)?;
                    continue;
                }
            }
            poll_server(conn)?;
        }
    }

    /// Message k at its scheduled time; whatever fell due while the thread was busy or
    /// the socket full goes out at once, still stamped with its scheduled time.
    fn open_loop(&mut self, conn: &mut Conn, rate: f64) -> Result<(), ProtoError> {
        let plan = self.ctx.plan;
        let schedule = Schedule::new(
            plan.sender_rate(rate),
            self.index as f64 / plan.senders as f64,
        );
        let warmup_ns = self.ctx.args.warmup.as_nanos() as u64;
        let first_measured = schedule.count_before(warmup_ns);
        let end = match self.ctx.args.length {
            RunLength::Msgs(_) => {
                first_measured + plan.quota(self.ctx.args.length, self.index).unwrap_or(0)
            }
            RunLength::Duration(d) => schedule.count_before(warmup_ns + d.as_nanos() as u64),
        };
        tighten_timer_slack();
        sleep_until(self.base);
        let mut next = 0;
        while next < end {
            let now_ns = since(self.base);
            let due = schedule.due_by(now_ns).min(end);
            if due > next {
                let batch_end = due.min(next + self.frames_per_batch);
                for k in next..batch_end {
                    let warmup = k < first_measured;
                    let seq = if warmup { k } else { k - first_measured };
                    self.push_message(conn.out(), warmup, schedule.intended_ns(k), seq);
                }
                conn.flush()?;
                self.count_sent(batch_end - next.max(first_measured).min(batch_end));
                next = batch_end;
                poll_server(conn)?;
            } else {
                let wait = schedule.intended_ns(next).saturating_sub(now_ns);
                if conn.wait_readable(std::time::Duration::from_nanos(wait))? {
                    conn.fill()?;
                    conn.drain(|_, _| {})?;
                }
            }
        }
        Ok(())
    }
}

//! A JetStream consumer (`jsfetch`, `jsordered`) reading the stream the run filled, from
//! its first message to its last, as the clients read one.
//!
//! jsfetch: a durable pull consumer with explicit acks, created before the start; one pull
//! request (`CONSUMER.MSG.NEXT`) for min(`--js-batch`, what is left) at a time, the next
//! sent once the batch is in, and a `+ACK` published to each delivery's reply subject, as
//! `nats bench js fetch` does. jsordered: an ordered push consumer created at the start on
//! the connection's inbox, whose flow control requests are answered (an empty message to
//! their reply subject) or delivery stops at the server's window.
//!
//! Both check that each delivery's stream sequence (from its ack subject) is the one after
//! the last: the stream holds exactly the run's messages, so anything else is a gap or a
//! repeat.

use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use super::{
    reply_inbox, since, sleep_until, subscribe_inbox, subscribe_measured, unsubscribe, Ready,
    RoleContext, CONNECT_TIMEOUT, MEASURED_SID,
};
use crate::args::Scenario;
use crate::consumer::{self, DeliverPolicy, MSG_NEXT};
use crate::jetstream::Api;
use crate::proto::{header_status, push_decimal, push_pub, Conn, Frame, Msg};

/// A consumer that gets nothing for this long has stalled: delivery from a filled stream
/// is continuous, and the ordered consumer's heartbeat (5 s) would have come by then.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the server holds a pull request open: nats.go's default `Fetch` wait (5 s).
/// Each request asks for no more than is left, so it is filled long before.
const PULL_EXPIRES: Duration = Duration::from_secs(5);
/// jsfetch's durable consumer, deleted before the run if a previous one is left.
const DURABLE_NAME: &str = "loadgen";
/// The token after the inbox that the ordered consumer delivers to; pull replies come on
/// `<inbox>.<request number>`.
const DELIVER_TOKEN: &str = "deliver";
/// `+ACK`, the explicit ack a client publishes to a delivery's reply subject.
const ACK: &[u8] = b"+ACK";
/// The statuses a consumer sends besides messages: flow control requests and idle
/// heartbeats (100), and a pull request that expired before it was filled (408).
const STATUS_CONTROL: u16 = 100;
const STATUS_REQUEST_TIMEOUT: u16 = 408;

pub struct ConsumerReport {
    /// Deliveries in stream order.
    pub received: u64,
    /// Deliveries whose stream sequence was not the one after the last.
    pub out_of_order: u64,
    /// jsfetch: pull requests sent; jsordered: flow control requests answered.
    pub requests: u64,
    /// jsordered: idle heartbeats; jsfetch: pull requests that expired unfilled.
    pub idle: u64,
    /// When the last delivery arrived, in ns since base.
    pub last_receive_ns: u64,
    pub error: Option<String>,
}

/// Runs the consumer. A setup failure is reported on `ready`, not in the report.
pub fn run(ctx: &RoleContext<'_>, index: usize, ready: Sender<Ready>) -> ConsumerReport {
    let args = ctx.args;
    let role = format!("loadgen-{}-{index}", args.scenario.name());
    let inbox = reply_inbox(args.seed, index as u64);
    let mut report = ConsumerReport {
        received: 0,
        out_of_order: 0,
        requests: 0,
        idle: 0,
        last_receive_ns: 0,
        error: None,
    };
    let pull = args.scenario == Scenario::JsFetch;
    // The API has a connection of its own, so that no reply waits behind deliveries.
    let api_inbox = reply_inbox(args.seed, (index + 1) as u64);
    let setup = Api::connect(
        &args.server,
        &format!("{role}-api"),
        api_inbox,
        CONNECT_TIMEOUT,
    )
    .map_err(|e| format!("{role}: connecting to {}: {e}", args.server))
    .and_then(|mut api| {
        if pull {
            let (subject, body) = consumer::durable_pull(&args.js.stream, DURABLE_NAME);
            api.delete_consumer(&args.js.stream, DURABLE_NAME)?;
            api.create_consumer(&subject, &body)?;
        }
        Ok(api)
    });
    let mut api = match setup {
        Ok(api) => api,
        Err(e) => {
            let _ = ready.send(Err(e));
            return report;
        }
    };
    let deliver = format!("{inbox}.{DELIVER_TOKEN}");
    let subscribed = |conn: &mut Conn| {
        if pull {
            subscribe_inbox(conn, &inbox)
        } else {
            subscribe_measured(conn, &deliver)
        }
    };
    let Some((mut conn, base)) = ctx.connect_and_wait(&role, &ready, subscribed) else {
        return report;
    };
    let mut reader = Reader {
        ctx,
        base,
        inbox: &inbox,
        deliver: &deliver,
        pull,
        next_seq: 1,
        batch_left: 0,
        report: &mut report,
        failure: None,
    };
    let result = reader.consume(&mut conn, &mut api);
    let result = result.and_then(|name| {
        unsubscribe(&mut conn, &[MEASURED_SID]).map_err(|e| e.to_string())?;
        api.delete_consumer(&args.js.stream, &name)
    });
    report.error = result.err().map(|e| format!("{role}: {e}"));
    report
}

struct Reader<'a> {
    ctx: &'a RoleContext<'a>,
    base: Instant,
    inbox: &'a str,
    /// The ordered consumer's deliver subject.
    deliver: &'a str,
    pull: bool,
    /// The stream sequence the next delivery should have.
    next_seq: u64,
    /// Messages the open pull request may still deliver.
    batch_left: u64,
    report: &'a mut ConsumerReport,
    /// Why consuming cannot go on, found while draining.
    failure: Option<String>,
}

impl Reader<'_> {
    /// Reads every message of the stream; returns the consumer's name.
    fn consume(&mut self, conn: &mut Conn, api: &mut Api) -> Result<String, String> {
        let args = self.ctx.args;
        let total = self.ctx.plan.quota(args.length, 0).unwrap_or(0);
        sleep_until(self.base);
        let name = if self.pull {
            DURABLE_NAME.to_string()
        } else {
            let (subject, body) =
                consumer::ordered_push(&args.js.stream, self.deliver, None, DeliverPolicy::All);
            api.create_consumer(&subject, &body)?
        };
        let io = |e: crate::proto::ProtoError| e.to_string();
        let mut last_progress = Instant::now();
        while self.report.received < total {
            if self.pull && self.batch_left == 0 {
                self.request(conn, total - self.report.received);
                conn.flush().map_err(io)?;
            }
            let wait = (last_progress + STALL_TIMEOUT).saturating_duration_since(Instant::now());
            if wait.is_zero() || !conn.wait_readable(wait).map_err(io)? {
                return Err(format!(
                    "stalled: nothing for {STALL_TIMEOUT:?} after {} of {total} messages",
                    self.report.received
                ));
            }
            conn.fill().map_err(io)?;
            let now_ns = since(self.base);
            let before = self.report.received;
            conn.drain(|frame, out| {
                if let Frame::Msg(msg) = frame {
                    self.on_msg(&msg, out, now_ns);
                }
            })
            .map_err(io)?;
            if let Some(failure) = self.failure.take() {
                return Err(failure);
            }
            if self.report.received > before {
                self.ctx.control.add_sent(self.report.received - before);
                last_progress = Instant::now();
            }
        }
        Ok(name)
    }

    /// Queues a pull request for min(batch, `left`) messages.
    fn request(&mut self, conn: &mut Conn, left: u64) {
        let args = self.ctx.args;
        let batch = left.min(args.js.batch as u64);
        let subject = format!("{MSG_NEXT}{}.{DURABLE_NAME}", args.js.stream);
        let mut reply = format!("{}.", self.inbox).into_bytes();
        push_decimal(&mut reply, self.report.requests);
        let body = consumer::pull_request(batch as usize, PULL_EXPIRES);
        push_pub(
            conn.out(),
            subject.as_bytes(),
            Some(&reply),
            body.as_bytes(),
        );
        self.report.requests += 1;
        self.batch_left = batch;
    }

    fn on_msg(&mut self, msg: &Msg<'_>, out: &mut Vec<u8>, now_ns: u64) {
        if let Some(status) = msg.headers.and_then(header_status) {
            self.on_status(status, msg, out);
            return;
        }
        let Some(seq) = msg.reply.and_then(consumer::stream_seq) else {
            self.fail("a delivery without an ack subject", msg);
            return;
        };
        if self.pull {
            push_pub(out, msg.reply.unwrap_or_default(), None, ACK);
            self.batch_left = self.batch_left.saturating_sub(1);
        }
        if seq == self.next_seq {
            self.report.received += 1;
            self.report.last_receive_ns = now_ns;
            self.next_seq += 1;
        } else {
            self.report.out_of_order += 1;
            self.fail(
                &format!(
                    "stream sequence {seq} delivered where {} was next",
                    self.next_seq
                ),
                msg,
            );
        }
    }

    fn on_status(&mut self, status: u16, msg: &Msg<'_>, out: &mut Vec<u8>) {
        match (status, msg.reply, self.pull) {
            // A flow control request: answered with an empty message.
            (STATUS_CONTROL, Some(reply), false) => {
                push_pub(out, reply, None, b"");
                self.report.requests += 1;
            }
            (STATUS_CONTROL, None, false) => self.report.idle += 1,
            // The request expired unfilled; the loop sends the next one.
            (STATUS_REQUEST_TIMEOUT, _, true) => {
                self.report.idle += 1;
                self.batch_left = 0;
            }
            _ => self.fail("an unexpected status", msg),
        }
    }

    /// Records the first reason to stop, with what the server sent.
    fn fail(&mut self, what: &str, msg: &Msg<'_>) {
        let text =
            |bytes: Option<&[u8]>| String::from_utf8_lossy(bytes.unwrap_or_default()).into_owned();
        self.failure.get_or_insert_with(|| {
            format!(
                "{what} after {} messages: subject {:?}, reply {:?}, headers {:?}, {} payload bytes",
                self.report.received,
                text(Some(msg.subject)),
                text(msg.reply),
                text(msg.headers),
                msg.payload.len()
            )
        });
    }
}

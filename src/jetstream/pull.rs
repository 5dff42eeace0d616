//! Consumers at work, as nats-server 2.15's pull consumers: `CONSUMER.MSG.NEXT` requests
//! wait in a consumer's queue and are served in turn; each message goes out showing its
//! stored subject, with the ack subject
//! `$JS.ACK.<stream>.<consumer>.<deliveries>.<stream seq>.<consumer seq>.<stored ns>.<pending>`,
//! and stays pending until acknowledged, or until its ack wait (or backoff step) runs out
//! and it is delivered again, up to `max_deliver`. A request ends as Go ends it: its batch
//! done (silently, or `409 Batch Completed` with bytes left), `409 Message Size Exceeds
//! MaxBytes`, `404 No Messages` for `no_wait`, `408 Request Timeout` when it expires,
//! `409 Consumer Deleted`. Statuses and ack handling follow `server/consumer.go`
//! (`processNextMsgRequest`, `processAckMsg`, `processNak`, `processTerm`, `checkPending`),
//! checked against the 2.15.1 binary.

use bytes::{BufMut, Bytes, BytesMut};
use serde_json::Value;

use super::config::Retention;
use super::consumer::{AckPolicy, Consumer, Pending, Pin, PriorityPolicy, ReplayPolicy};
use super::rate_limit::RateLimit;
use super::stream::{with_headers, Stream};
use super::{json_syntax, JetStream, Publication, StreamId, ACK_PREFIX};
use crate::accounts::AccountId;
use crate::proto::encode::push_usize;
use crate::timefmt::go_duration;

/// Where flow-control responses are sent (Go's `jsFlowControlPre`).
pub(crate) const FLOW_CONTROL_PREFIX: &str = "$JS.FC.";
/// The random part of a flow-control subject (Go's `fcReply`).
const FLOW_CONTROL_ID_LEN: usize = 4;
/// Go's `JsFlowControlMaxPending`: the widest flow-control window, bytes.
pub(crate) const FLOW_CONTROL_MAX_WINDOW: i64 = 32 * 1024 * 1024;

/// What one push consumer sends in one reactor turn (subjects, replies and payloads): the
/// turn's writes then go out while the next share is prepared, as Go's consumer goroutine
/// and its client's write loop overlap. A window of 128 B messages is a thousand writes'
/// worth otherwise, sent only once all of it is made.
const PUSH_TURN_BYTES: i64 = 256 * 1024;

/// Whether anyone in an account subscribes to a subject: a request whose reply nobody
/// listens on any more is dropped (Go's `nextWaiting` checks its interest).
pub(crate) type Interest<'a> = &'a mut dyn FnMut(AccountId, &[u8], Listening<'_>) -> bool;

/// What counts as someone listening.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Listening<'a> {
    /// Any subscription that matches.
    Any,
    /// A push consumer's deliver subject (Go's `RegisterNotification`): a subscription on
    /// exactly that subject, in exactly its `deliver_group` when it has one; a wildcard
    /// that covers it does not make the consumer deliver.
    Exactly(Option<&'a [u8]>),
}

/// Whether someone listens on push consumer `c`'s deliver subject, as Go's `push_bound`.
pub(super) fn push_bound(c: &Consumer, account: AccountId, interest: Interest<'_>) -> bool {
    let group = Some(c.config.deliver_group.as_bytes()).filter(|g| !g.is_empty());
    interest(
        account,
        c.config.deliver_subject.as_bytes(),
        Listening::Exactly(group),
    )
}

/// A pull request waiting for messages (Go's `waitingRequest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PullRequest {
    account: AccountId,
    reply: Bytes,
    /// Messages still to send (Go's `n`): a batch of 0 or less still gets one.
    left: i64,
    /// Bytes still allowed when the request set `max_bytes` (Go's `b`), else 0.
    bytes_left: i64,
    no_wait: bool,
    /// When it expires, ns since the epoch.
    expires_at: Option<i64>,
    /// `idle_heartbeat` in ns (0: none), and when the next is due.
    heartbeat: i64,
    next_heartbeat: i64,
    /// Messages sent to it so far (Go's `d`).
    sent: u64,
    /// What a JSON request said of priority groups; `None` for a bare batch size.
    group: Option<PriorityGroup>,
}

/// A pull request's priority-group fields (Go's `PriorityGroup`, embedded in
/// `JSApiConsumerGetNextRequest`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PriorityGroup {
    group: String,
    min_pending: i64,
    min_ack_pending: i64,
    /// The pin id it claims, or was given when it got the pin.
    id: String,
    /// `prioritized`: 0 is served first.
    priority: i64,
}

/// Where a request without priority-group fields stands under `prioritized`: last (Go's
/// `math.MaxInt32`).
const LOWEST_PRIORITY: i64 = i32::MAX as i64;

/// The highest `priority` a pull request may ask for (Go's check: 0 to 9).
const MAX_PRIORITY: i64 = 9;

impl PullRequest {
    /// The `Nats-Pending-*` headers of a status that ends it.
    fn end_status(&self, code: u16, text: &str) -> Vec<u8> {
        status(code, text, Some((self.left, self.bytes_left)))
    }
}

/// Go's `JSApiConsumerGetNextRequest`.
#[derive(Debug, Default)]
struct NextRequest {
    expires: i64,
    batch: i64,
    max_bytes: i64,
    no_wait: bool,
    idle_heartbeat: i64,
    group: Option<PriorityGroup>,
}

/// A status message's header block: `NATS/1.0 <code> <text>`, with the request's remaining
/// messages and bytes when given.
fn status(code: u16, text: &str, pending: Option<(i64, i64)>) -> Vec<u8> {
    let mut h = format!("NATS/1.0 {code} {text}\r\n");
    if let Some((msgs, bytes)) = pending {
        h.push_str(&format!(
            "Nats-Pending-Messages: {msgs}\r\nNats-Pending-Bytes: {bytes}\r\n"
        ));
    }
    h.push_str("\r\n");
    h.into_bytes()
}

/// A pull request's body as Go reads it (`nextReqFromMsg`): nothing is a batch of one, a
/// JSON object the full request, anything else a batch size (one when it is no number).
fn parse_next(body: &[u8]) -> Result<NextRequest, String> {
    let body = body.trim_ascii();
    if body.is_empty() {
        return Ok(NextRequest {
            batch: 1,
            ..NextRequest::default()
        });
    }
    if body[0] != b'{' {
        let batch = std::str::from_utf8(body)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(1);
        return Ok(NextRequest {
            batch,
            ..NextRequest::default()
        });
    }
    if let Some(why) = json_syntax::error(body) {
        // `json.Unmarshal` words a truncated body its own way, and names no offset.
        return Err(match why.as_str() {
            "unexpected EOF" => "unexpected end of JSON input".into(),
            _ => why
                .rsplit_once(" at offset ")
                .map_or(why.clone(), |(w, _)| w.into()),
        });
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut r = NextRequest::default();
    // Any JSON request carries priority-group fields, if only empty ones.
    let g = r.group.insert(PriorityGroup::default());
    for (key, value) in v.as_object().into_iter().flatten() {
        let (go_type, slot) = match key.as_str() {
            "expires" => ("time.Duration", &mut r.expires),
            "idle_heartbeat" => ("time.Duration", &mut r.idle_heartbeat),
            "batch" => ("int", &mut r.batch),
            "max_bytes" => ("int", &mut r.max_bytes),
            "min_pending" => ("int64", &mut g.min_pending),
            "min_ack_pending" => ("int64", &mut g.min_ack_pending),
            "priority" => ("int", &mut g.priority),
            "group" | "id" => {
                let text = match value {
                    Value::String(t) => t.clone(),
                    Value::Null => String::new(),
                    other => return Err(wrong_type(other, &format!(".{key}"), "string")),
                };
                if key == "group" {
                    g.group = text;
                } else {
                    g.id = text;
                }
                continue;
            }
            "no_wait" => {
                r.no_wait = match value {
                    Value::Bool(b) => *b,
                    Value::Null => false,
                    other => return Err(wrong_type(other, &format!(".{key}"), "bool")),
                };
                continue;
            }
            _ => continue,
        };
        *slot = match value {
            Value::Null => 0,
            Value::Number(n) => n
                .as_i64()
                .ok_or_else(|| wrong_type(value, &format!(".{key}"), go_type))?,
            other => return Err(wrong_type(other, &format!(".{key}"), go_type)),
        };
    }
    Ok(r)
}

/// Go's `UnmarshalTypeError` for a field of the pull request.
pub(super) fn wrong_type(v: &Value, field: &str, go_type: &str) -> String {
    let kind = match v {
        // Go names the number only when the field is a number it does not fit.
        Value::Number(_) if go_type == "string" => "number".into(),
        Value::Number(n) => format!("number {n}"),
        Value::String(_) => "string".into(),
        Value::Bool(_) => "bool".into(),
        Value::Array(_) => "array".into(),
        Value::Object(_) => "object".into(),
        Value::Null => "null".into(),
    };
    format!("json: cannot unmarshal {kind} into Go struct field {field} of type {go_type}")
}

/// One parsed ack subject: `$JS.ACK.<stream>.<consumer>.<dc>.<sseq>.<dseq>.<ts>.<pending>`.
struct AckSubject<'a> {
    consumer: &'a str,
    deliveries: u64,
    stream_seq: u64,
    consumer_seq: u64,
}

fn parse_ack_subject(subject: &[u8]) -> Option<AckSubject<'_>> {
    // One per ack: read as bytes, without `str` parsing.
    let mut t = subject
        .strip_prefix(ACK_PREFIX.as_bytes())?
        .split(|&b| b == b'.');
    let mut token = || t.next();
    let (_, consumer, dc, sseq, dseq) = (token()?, token()?, token()?, token()?, token()?);
    // The timestamp and the pending count end it.
    if !matches!((token(), token(), token()), (Some(_), Some(_), None)) {
        return None;
    }
    let number = |d: &[u8]| {
        let digits = !d.is_empty() && d.iter().all(u8::is_ascii_digit);
        digits.then(|| {
            d.iter().try_fold(0u64, |n, &b| {
                n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
            })
        })?
    };
    Some(AckSubject {
        consumer: std::str::from_utf8(consumer).ok()?,
        deliveries: number(dc)?,
        stream_seq: number(sseq)?,
        consumer_seq: number(dseq)?,
    })
}

/// The message a consumer delivers next: a redelivery first, then the last messages per
/// subject it starts with, then the next new one (Go's `getNextMsg`). `None` when there is
/// none to send now.
fn next_message(c: &mut Consumer, s: &Stream) -> Option<(u64, bool)> {
    while let Some(&seq) = c.out.redeliver.front() {
        if c.out.pending.contains_key(&seq) && s.store.get(seq).is_some() {
            return Some((seq, true));
        }
        c.out.redeliver.pop_front();
        c.out.pending.remove(&seq);
    }
    let max = c.config.max_ack_pending;
    if c.config.ack_policy != AckPolicy::None && max > 0 && c.out.pending.len() as i64 >= max {
        return None;
    }
    while let Some(&seq) = c.out.last_per_subject.front() {
        if s.store.get(seq).is_some() {
            return Some((seq, false));
        }
        c.out.last_per_subject.pop_front();
    }
    let from = c.out.scanned + 1;
    let filters = c.config.filters();
    let next = if filters.is_empty() {
        s.store.next_matching(from, b"").map(|(seq, _)| seq)
    } else {
        filters
            .iter()
            .filter_map(|f| s.store.next_matching(from, f.as_bytes()).map(|(q, _)| q))
            .min()
    };
    if next.is_none() {
        // Go's `getNextMsg` moves past what its filter skipped, to the end.
        c.out.scanned = c.out.scanned.max(s.store.last_seq());
        c.out.replay_caught_up = true;
    }
    next.map(|seq| (seq, false))
}

/// Go's replay waits only for gaps longer than this between stored messages.
const REPLAY_MIN_GAP_NS: i64 = 1_000_000;

/// `replay_policy: original`: whether the message at `seq` must wait, to keep the gap
/// after the one sent before it that it had when stored (Go's `loopAndGatherMsgs`);
/// the time it may go is kept in `replay_due`. Redeliveries go at once.
fn replay_held(c: &mut Consumer, s: &Stream, seq: u64, again: bool, now: i64) -> bool {
    c.out.replay_due = None;
    if c.config.replay_policy != ReplayPolicy::Original || again || c.out.replay_caught_up {
        return false;
    }
    let (last_ts, sent_at) = c.out.replay_last;
    let Some(m) = s.store.get(seq) else {
        return false;
    };
    let gap = m.ts - last_ts;
    if last_ts == 0 || gap <= REPLAY_MIN_GAP_NS || now >= sent_at.saturating_add(gap) {
        return false;
    }
    c.out.replay_due = Some(sent_at.saturating_add(gap));
    true
}

/// What a replaying consumer remembers of a message it sent.
fn replay_sent(c: &mut Consumer, s: &Stream, seq: u64, now: i64) {
    if c.config.replay_policy == ReplayPolicy::Original {
        if let Some(m) = s.store.get(seq) {
            c.out.replay_last = (m.ts, now);
        }
    }
}

/// Whether `c` is paused at `now`.
fn paused(c: &Consumer, now: i64) -> bool {
    c.config
        .pause_until
        .as_deref()
        .and_then(crate::timefmt::parse_rfc3339_ns)
        .is_some_and(|until| until > now)
}

/// Whether push consumer `c` waits for a flow-control response: its window is out.
fn stalled(c: &Consumer) -> bool {
    c.config.flow_control && c.out.fc_bytes > c.out.fc_window
}

/// A message's delivery: its headers (`headers_only` keeps them and says the size) and
/// payload, in one buffer.
fn delivery_data(c: &Consumer, hdr: &[u8], payload: Bytes) -> (usize, Bytes) {
    if c.config.headers_only {
        let h = with_headers(hdr, &[("Nats-Msg-Size", payload.len().to_string())]);
        return (h.len(), Bytes::from(h));
    }
    if hdr.is_empty() {
        return (0, payload);
    }
    let mut b = BytesMut::with_capacity(hdr.len() + payload.len());
    b.put_slice(hdr);
    b.put_slice(&payload);
    (hdr.len(), b.freeze())
}

/// A message ready to go out, not yet counted as delivered.
struct Prepared {
    seq: u64,
    again: bool,
    deliveries: u64,
    dseq: u64,
    pending_after: u64,
    subject: Bytes,
    reply: Bytes,
    hdr_len: usize,
    data: Bytes,
}

/// A delivery's ack subject, `$JS.ACK.<stream>.<consumer>.<deliveries>.<stream seq>.
/// <consumer seq>.<timestamp>.<pending>` (Go's), written without `fmt`: one per message.
fn ack_subject(stream: &str, consumer: &str, counts: [u64; 3], ts: i64, pending: u64) -> Bytes {
    let digits = |n: u64| n.checked_ilog10().map_or(1, |d| d as usize + 1);
    let numbers: usize = counts.iter().map(|&n| digits(n) + 1).sum::<usize>()
        + usize::from(ts < 0)
        + digits(ts.unsigned_abs())
        + 1
        + digits(pending)
        + 1;
    // Exactly as long as it gets, so that the buffer becomes the `Bytes` as it is.
    let mut out =
        Vec::with_capacity(ACK_PREFIX.len() + stream.len() + 1 + consumer.len() + numbers);
    out.extend_from_slice(ACK_PREFIX.as_bytes());
    out.extend_from_slice(stream.as_bytes());
    out.push(b'.');
    out.extend_from_slice(consumer.as_bytes());
    for n in counts {
        out.push(b'.');
        push_usize(&mut out, n as usize);
    }
    out.push(b'.');
    if ts < 0 {
        out.push(b'-');
    }
    push_usize(&mut out, ts.unsigned_abs() as usize);
    out.push(b'.');
    push_usize(&mut out, pending as usize);
    Bytes::from(out)
}

impl Prepared {
    /// What Go counts against a request's `max_bytes`.
    fn size(&self) -> i64 {
        (self.subject.len() + self.reply.len() + self.data.len()) as i64
    }

    fn to(self, account: AccountId, to: Bytes) -> Publication {
        Publication {
            account,
            to,
            shown: Some(self.subject),
            reply: Some(self.reply),
            hdr_len: self.hdr_len,
            data: self.data,
        }
    }
}

/// Message `seq` of `s` as `c` would deliver it next; `None` when it cannot be read.
fn prepare(s: &Stream, c: &Consumer, seq: u64, again: bool) -> Option<Prepared> {
    let m = s.store.get(seq)?;
    let payload = match s.payload(seq, m) {
        Ok(p) => p,
        Err(e) => {
            crate::log_at!(
                Warn,
                "JetStream consumer '{}' cannot read message {seq}: {e}",
                c.config.name
            );
            return None;
        }
    };
    let deliveries = c.deliveries(seq) + u64::from(again);
    let dseq = c.delivered.consumer_seq + 1;
    let pending_after = c.out.num_pending - u64::from(!again && c.out.num_pending > 0);
    let reply = ack_subject(
        &s.config.name,
        &c.config.name,
        [deliveries, seq, dseq],
        m.ts,
        pending_after,
    );
    let (hdr_len, data) = delivery_data(c, &m.hdr, payload);
    Some(Prepared {
        seq,
        again,
        deliveries,
        dseq,
        pending_after,
        subject: m.subject.clone(),
        reply,
        hdr_len,
        data,
    })
}

/// Counts `p` as delivered by `c` at `now`. True when that acknowledges it (ack policy
/// none).
fn commit(c: &mut Consumer, p: &Prepared, now: i64) -> bool {
    let seq = p.seq;
    if p.again {
        c.out.redeliver.pop_front();
        *c.out.redelivered.entry(seq).or_insert(0) += 1;
    } else if c.out.last_per_subject.front() == Some(&seq) {
        c.out.last_per_subject.pop_front();
    }
    c.delivered.consumer_seq = p.dseq;
    if !p.again {
        c.delivered.stream_seq = c.delivered.stream_seq.max(seq);
        c.out.scanned = c.out.scanned.max(seq);
        c.out.num_pending = p.pending_after;
    }
    c.out.delivered_at = now;
    if c.config.ack_policy == AckPolicy::None {
        c.ack_floor = c.delivered;
        return true;
    }
    let pending = c.out.pending.entry(seq).or_insert(Pending {
        consumer_seq: p.dseq,
        ts: now,
    });
    pending.ts = now;
    c.out
        .deadlines
        .insert((now.saturating_add(c.ack_wait(p.deliveries)), seq));
    false
}

/// Sends what `c` has to send: to its waiting pull requests, or to its deliver subject.
/// Returns what it delivered with ack policy none, which counts as acknowledged.
fn deliver(
    s: &mut Stream,
    c: &mut Consumer,
    h: &mut Host<'_>,
    now: i64,
    interest: Interest<'_>,
) -> Vec<u64> {
    // What held a message back is looked at again: a stale time would keep firing.
    c.out.replay_due = None;
    c.out.rate_held = None;
    if c.config.deliver_subject.is_empty() {
        deliver_pulled(s, c, h.owner, now, interest, h.out)
    } else {
        deliver_pushed(s, c, h, now, interest)
    }
}

/// Whether push consumer `c`'s `rate_limit_bps` holds back `p` at `now`; when it does,
/// the time it may go is kept in `rate_held`. The burst is the largest message the stream
/// takes, as Go's `setRateLimit` (the account's payload limit aside).
fn rate_held(c: &mut Consumer, s: &Stream, p: &Prepared, now: i64, max_payload: usize) -> bool {
    let bps = c.config.rate_limit_bps;
    if bps == 0 {
        return false;
    }
    if c.out.rate.as_ref().is_none_or(|r| r.bps() != bps) {
        let burst = usize::try_from(s.config.max_msg_size)
            .ok()
            .filter(|&n| n > 0)
            .unwrap_or(max_payload);
        c.out.rate = Some(RateLimit::new(bps, burst, now));
    }
    let rate = c.out.rate.as_mut().expect("set above");
    c.out.rate_held = rate.take(p.size() as usize, now).map(|due| (due, !p.again));
    c.out.rate_held.is_some()
}

/// Sends `c` what it can to its waiting requests from `s` (Go's `loopAndGatherMsgs`), and
/// ends the `no_wait` ones that have all there is.
fn deliver_pulled(
    s: &mut Stream,
    c: &mut Consumer,
    account: AccountId,
    now: i64,
    interest: Interest<'_>,
    out: &mut Vec<Publication>,
) -> Vec<u64> {
    let mut ran_dry = false;
    let mut acked = Vec::new();
    while !c.out.waiting.is_empty() && !paused(c, now) {
        let Some((seq, again)) = next_message(c, s) else {
            ran_dry = true;
            break;
        };
        if replay_held(c, s, seq, again, now) {
            break;
        }
        let Some(mut p) = prepare(s, c, seq, again) else {
            break;
        };
        let size = p.size();
        let Some(mut req) = next_request(c, s, account, &p, interest, now, out) else {
            break;
        };
        if let Some(pin) = &c.out.pin {
            // Go adds the pin after counting the size against `max_bytes`.
            let hdr = with_headers(&p.data[..p.hdr_len], &[("Nats-Pin-Id", pin.id.clone())]);
            let mut data = BytesMut::with_capacity(hdr.len() + p.data.len() - p.hdr_len);
            data.put_slice(&hdr);
            data.put_slice(&p.data[p.hdr_len..]);
            p.hdr_len = hdr.len();
            p.data = data.freeze();
        }
        if commit(c, &p, now) {
            acked.push(seq);
        }
        replay_sent(c, s, seq, now);
        out.push(p.to(req.account, req.reply.clone()));
        req.left -= 1;
        req.sent += 1;
        req.next_heartbeat = now.saturating_add(req.heartbeat);
        if req.bytes_left > 0 {
            req.bytes_left -= size;
            if req.bytes_left == 0 {
                continue;
            }
        }
        if req.left <= 0 {
            if req.bytes_left > 0 {
                out.push(status_to(&req, req.end_status(409, "Batch Completed")));
            }
            continue;
        }
        enqueue(c, req);
    }
    if ran_dry {
        c.out.waiting.retain(|r| {
            let done = r.no_wait && (r.expires_at.is_none() || r.sent > 0);
            if done {
                out.push(status_to(r, status(404, "No Messages", None)));
            }
            !done
        });
    }
    acked
}

/// The waiting request that gets `p` (Go's `nextWaiting`), taken off `c`'s queue; `None`
/// leaves the message for later. Requests nobody listens to any more go, and one whose
/// `max_bytes` it exceeds ends with a 409. Under `pinned_client` the first request
/// without a pin id gets the pin when there is none, one with another id ends with a
/// 423, and while a client is pinned the others wait; under `overflow` a request waits
/// until the consumer has `min_pending` messages to go or `min_ack_pending` unacked.
fn next_request(
    c: &mut Consumer,
    s: &Stream,
    account: AccountId,
    p: &Prepared,
    interest: Interest<'_>,
    now: i64,
    out: &mut Vec<Publication>,
) -> Option<PullRequest> {
    let policy = c.config.priority_policy;
    // What Go's `npc + 1` is: the messages to go, this one included.
    let to_go = c.out.num_pending + u64::from(p.again);
    let mut waited = 0;
    while let Some(mut req) = c.out.waiting.pop_front() {
        let mut pinned_now = false;
        let mut wait = false;
        if policy == PriorityPolicy::PinnedClient {
            let claimed = req.group.as_ref().map_or("", |g| g.id.as_str());
            match &c.out.pin {
                Some(pin) if pin.id == claimed => {}
                Some(_) if claimed.is_empty() => wait = true,
                None if claimed.is_empty() => {
                    if let Some(g) = req.group.as_mut().filter(|g| !g.group.is_empty()) {
                        let id = super::random_id(super::NUID_LEN);
                        g.id = id.clone();
                        let f = serde_json::json!({"group": g.group, "pinned_id": id});
                        let adv = delivery_advisory(
                            "PINNED",
                            "consumer_group_pinned",
                            Some(&s.account_name),
                            &s.config.name,
                            &c.config.name,
                            f,
                        );
                        out.push(Publication::plain(account, adv));
                        c.out.pin = Some(Pin {
                            id,
                            since: now,
                            lapses: now.saturating_add(c.config.priority_timeout),
                        });
                        pinned_now = true;
                    }
                }
                _ => {
                    out.push(status_to(&req, req.end_status(423, "Nats-Wrong-Pin-Id")));
                    continue;
                }
            }
        }
        if policy == PriorityPolicy::Overflow {
            if let Some(g) = &req.group {
                let (min_p, min_a) = (g.min_pending, g.min_ack_pending);
                let enough = (min_p > 0 && min_p as u64 <= to_go)
                    || (min_a > 0 && min_a as u64 <= c.out.pending.len() as u64);
                wait = (min_p > 0 || min_a > 0) && !enough;
            }
        }
        if wait {
            c.out.waiting.push_back(req);
            waited += 1;
            if waited >= c.out.waiting.len() {
                return None;
            }
            continue;
        }
        if !interest(req.account, &req.reply, Listening::Any) {
            continue;
        }
        if req.bytes_left > 0 && p.size() > req.bytes_left {
            let h = req.end_status(409, "Message Size Exceeds MaxBytes");
            out.push(status_to(&req, h));
            if pinned_now {
                c.out.pin = None;
            }
            continue;
        }
        return Some(req);
    }
    None
}

/// Sends push consumer `c`'s messages to its deliver subject while someone listens there
/// and flow control lets it, asking for flow control when half the window is out (Go's
/// `needFlowControl`).
fn deliver_pushed(
    s: &mut Stream,
    c: &mut Consumer,
    h: &mut Host<'_>,
    now: i64,
    interest: Interest<'_>,
) -> Vec<u64> {
    let (account, out) = (h.owner, &mut *h.out);
    c.out.push_bound = push_bound(c, account, interest);
    let mut acked = Vec::new();
    if !c.out.push_bound {
        return acked;
    }
    let to = Bytes::from(c.config.deliver_subject.clone());
    c.last_active = now;
    let mut this_turn = 0;
    while !paused(c, now) && !stalled(c) {
        if this_turn >= PUSH_TURN_BYTES {
            c.out.turn_full = true;
            break;
        }
        let Some((seq, again)) = next_message(c, s) else {
            break;
        };
        if replay_held(c, s, seq, again, now) {
            break;
        }
        let Some(p) = prepare(s, c, seq, again) else {
            break;
        };
        if rate_held(c, s, &p, now, h.settings.max_payload) {
            break;
        }
        if commit(c, &p, now) {
            acked.push(seq);
        }
        replay_sent(c, s, seq, now);
        let size = p.data.len() as i64;
        this_turn += p.size();
        out.push(p.to(account, to.clone()));
        c.out.next_heartbeat = now.saturating_add(c.config.idle_heartbeat);
        if c.config.flow_control {
            c.out.fc_bytes += size;
            if c.out.fc_id.is_none() && c.out.fc_bytes > c.out.fc_window / 2 {
                let id = format!(
                    "{FLOW_CONTROL_PREFIX}{}.{}.{}",
                    s.config.name,
                    c.config.name,
                    super::random_id(FLOW_CONTROL_ID_LEN)
                );
                let hdr = b"NATS/1.0 100 FlowControl Request\r\n\r\n";
                out.push(Publication {
                    account,
                    to: to.clone(),
                    shown: None,
                    reply: Some(Bytes::from(id.clone())),
                    hdr_len: hdr.len(),
                    data: Bytes::from_static(hdr),
                });
                c.out.fc_size = c.out.fc_bytes;
                c.out.fc_id = Some(id);
            }
        }
    }
    acked
}

/// A header-only status message to a request's reply subject.
fn status_to(req: &PullRequest, hdr: Vec<u8>) -> Publication {
    Publication {
        account: req.account,
        to: req.reply.clone(),
        shown: None,
        reply: None,
        hdr_len: hdr.len(),
        data: Bytes::from(hdr),
    }
}

/// An empty message to `to`: the answer to an ack that asked for one (Go's AckAck).
fn ack_ack(account: AccountId, to: &[u8]) -> Publication {
    Publication {
        account,
        to: Bytes::copy_from_slice(to),
        shown: None,
        reply: None,
        hdr_len: 0,
        data: Bytes::new(),
    }
}

/// Unpins `c`'s client: Go's `unassignPinId` and its `UNPINNED` advisory, for `group` and
/// `reason`.
pub(super) fn unpinned(
    stream: &str,
    account: &str,
    c: &mut Consumer,
    group: &str,
    reason: &str,
) -> (String, Vec<u8>) {
    c.out.pin = None;
    let f = serde_json::json!({"group": group, "reason": reason});
    delivery_advisory(
        "UNPINNED",
        "consumer_group_unpinned",
        Some(account),
        stream,
        &c.config.name,
        f,
    )
}

/// A delivery advisory (`MSG_NAKED`, `MSG_TERMINATED`, `MAX_DELIVERIES`) as Go's
/// `JSConsumerDelivery*Advisory`, or a pinned-client one (`PINNED`, `UNPINNED`).
/// The pinned-client ones name the `account` first, as Go's do.
fn delivery_advisory(
    kind: &str,
    type_name: &str,
    account: Option<&str>,
    stream: &str,
    consumer: &str,
    fields: Value,
) -> (String, Vec<u8>) {
    let mut rest = serde_json::Map::new();
    if let Some(account) = account {
        rest.insert("account".into(), account.into());
    }
    rest.insert("stream".into(), stream.into());
    rest.insert("consumer".into(), consumer.into());
    if let Value::Object(f) = fields {
        rest.extend(f);
    }
    (
        format!("$JS.EVENT.ADVISORY.CONSUMER.{kind}.{stream}.{consumer}"),
        super::advisory_json(type_name, Value::Object(rest)),
    )
}

/// What work on a consumer sees of the host besides the consumer and its stream.
struct Host<'a> {
    /// The stream's account.
    owner: AccountId,
    settings: &'a super::Settings,
    /// What the host sends, appended to (a push window is thousands of messages).
    out: &'a mut Vec<Publication>,
}

impl JetStream {
    /// Runs `f` on consumer `name` of stream `id` (taken out of its stream meanwhile),
    /// then lets go the messages `f` says the consumer is done with.
    fn with_consumer(
        &mut self,
        id: StreamId,
        name: &str,
        f: impl FnOnce(&mut Host<'_>, &mut Stream, &mut Consumer) -> Vec<u64>,
    ) {
        let Some((account, s)) = self.streams.get_mut(id.0 as usize).and_then(Option::as_mut)
        else {
            return;
        };
        let Some((name, mut c)) = s.consumers.remove_entry(name) else {
            return;
        };
        let mut host = Host {
            owner: *account,
            settings: &self.settings,
            out: &mut self.sends,
        };
        let acked = f(&mut host, s, &mut c);
        c.out.changed = true;
        let more = std::mem::take(&mut c.out.turn_full);
        s.consumers.insert(name, c);
        if more && !self.fresh.contains(&id) {
            self.fresh.push(id);
        }
        self.retire_acked(id, &acked);
    }

    /// A `CONSUMER.MSG.NEXT` request for a consumer of stream `id`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn pull(
        &mut self,
        account: AccountId,
        id: StreamId,
        subject: &[u8],
        reply: Option<&[u8]>,
        body: &[u8],
        now: i64,
        interest: Interest<'_>,
    ) {
        let Some(reply) = reply else {
            return;
        };
        let Some(name) = std::str::from_utf8(subject)
            .ok()
            .and_then(|s| s.rsplit('.').next())
        else {
            return;
        };
        self.with_consumer(id, name, |h, s, c| {
            c.last_active = now;
            queue_request(c, account, reply, body, now, h.out);
            deliver(s, c, h, now, interest)
        });
    }

    /// An ack on one of stream `id`'s consumers (Go's `processAck`): `body` is the payload
    /// after any headers.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn ack(
        &mut self,
        account: AccountId,
        id: StreamId,
        subject: &[u8],
        reply: Option<&[u8]>,
        body: &[u8],
        now: i64,
        interest: Interest<'_>,
    ) {
        let Some(a) = parse_ack_subject(subject) else {
            return;
        };
        self.with_consumer(id, a.consumer, |h, s, c| {
            c.last_active = now;
            let (sseq, dseq, dc) = (a.stream_seq, a.consumer_seq, a.deliveries);
            let stream = &s.config.name;
            let domain = &h.settings.opts.domain;
            let out = &mut *h.out;
            let sample = |c: &Consumer| {
                sampled_ack(stream, c, (sseq, dseq, dc), now, domain)
                    .map(|m| Publication::plain(account, m))
            };
            let advisory = |c: &Consumer, kind: &str, type_name: &str, f: Value| {
                let adv = delivery_advisory(kind, type_name, None, stream, &c.config.name, f);
                Publication::plain(account, adv)
            };
            let mut acked = Vec::new();
            let ack_ack = reply.map(|r| ack_ack(account, r));
            if body.is_empty() || body == b"+ACK" || body == b"+OK" {
                // An ack of what was never delivered is forged: no answer.
                if sseq > c.out.scanned {
                    return acked;
                }
                out.extend(sample(c));
                acked = process_ack(c, sseq, dseq, now);
                out.extend(ack_ack);
            } else if let Some(next) = body.strip_prefix(b"+NXT") {
                if sseq > c.out.scanned {
                    return acked;
                }
                out.extend(sample(c));
                acked = process_ack(c, sseq, dseq, now);
                if let Some(r) = reply {
                    queue_request(c, account, r, next, now, out);
                }
            } else if let Some(arg) = body.strip_prefix(b"-NAK") {
                if process_nak(c, sseq, dseq, arg, now) {
                    let f = serde_json::json!({"consumer_seq": dseq, "stream_seq": sseq, "deliveries": dc});
                    out.push(advisory(c, "MSG_NAKED", "nak", f));
                }
                out.extend(ack_ack);
            } else if body == b"+WPI" {
                let wait = c.ack_wait(c.deliveries(sseq));
                if let Some(p) = c.out.pending.get_mut(&sseq) {
                    p.ts = now;
                    c.out.deadlines.insert((now.saturating_add(wait), sseq));
                }
                c.out.delivered_at = now;
                out.extend(ack_ack);
            } else if let Some(reason) = body.strip_prefix(b"+TERM") {
                if sseq <= c.out.scanned {
                    acked = process_ack(c, sseq, dseq, now);
                }
                out.extend(ack_ack);
                let reason = String::from_utf8_lossy(reason.trim_ascii()).into_owned();
                let mut f = serde_json::json!({"consumer_seq": dseq, "stream_seq": sseq, "deliveries": dc});
                if !reason.is_empty() {
                    f["reason"] = reason.into();
                }
                out.push(advisory(c, "MSG_TERMINATED", "terminated", f));
            } else {
                out.extend(ack_ack);
            }
            acked.extend(deliver(s, c, h, now, interest));
            acked
        });
    }

    /// Messages of stream `id` some consumer is done with: a work queue lets each go at
    /// once, interest retention once every consumer that would deliver it is done.
    fn retire_acked(&mut self, id: StreamId, seqs: &[u64]) {
        let Some(s) = self.stream_mut(id) else {
            return;
        };
        for &seq in seqs {
            let remove = match s.config.retention {
                Retention::Workqueue => true,
                Retention::Interest => s.store.get(seq).is_some_and(|m| {
                    let subject = &m.subject;
                    s.consumers.values().all(|c| c.done_with(seq, subject))
                }),
                Retention::Limits => false,
            };
            if remove {
                s.remove(seq);
            }
        }
    }

    /// Whether some stream has consumers to serve at the end of the turn: it stored while
    /// they wait, or a push filled its share of the last turn.
    pub(crate) fn has_fresh(&self) -> bool {
        !self.fresh.is_empty()
    }

    /// Serves the consumers of the streams `has_fresh` names.
    pub(crate) fn deliver_fresh(&mut self, now: i64, interest: Interest<'_>) {
        for id in std::mem::take(&mut self.fresh) {
            self.deliver_all(id, now, interest);
        }
    }

    /// Serves every consumer of stream `id` that has requests waiting.
    fn deliver_all(&mut self, id: StreamId, now: i64, interest: Interest<'_>) {
        let Some(s) = self.stream(id) else {
            return;
        };
        let names: Vec<String> = s
            .consumers
            .iter()
            .filter(|(_, c)| c.has_takers())
            .map(|(n, _)| n.clone())
            .collect();
        for name in names {
            self.with_consumer(id, &name, |h, s, c| deliver(s, c, h, now, interest));
        }
    }

    /// A response to a push consumer's flow-control request (Go's `processFlowControl`):
    /// the bytes it covers are off the window, which doubles up to Go's limit, and
    /// delivery goes on.
    pub(crate) fn flow_control(
        &mut self,
        id: StreamId,
        subject: &[u8],
        now: i64,
        interest: Interest<'_>,
    ) {
        let Some(name) = std::str::from_utf8(subject)
            .ok()
            .and_then(|s| s.rsplit('.').nth(1))
        else {
            return;
        };
        self.with_consumer(id, name, |h, s, c| {
            if c.out.fc_id.as_deref().map(str::as_bytes) != Some(subject) {
                return Vec::new();
            }
            c.out.fc_window = (c.out.fc_window * 2).min(FLOW_CONTROL_MAX_WINDOW);
            c.out.fc_bytes = (c.out.fc_bytes - c.out.fc_size).max(0);
            c.out.fc_id = None;
            c.out.fc_size = 0;
            deliver(s, c, h, now, interest)
        });
    }

    /// Push consumers with something to send start (or go on) once someone listens on
    /// their deliver subject; run on the host's periodic tick, so a subscription made
    /// after the consumer gets its messages within one.
    pub(crate) fn poll_push(&mut self, now: i64, interest: Interest<'_>) {
        let ids: Vec<StreamId> = (0..self.streams.len() as u32)
            .map(StreamId)
            .filter(|id| {
                self.stream(*id).is_some_and(|s| {
                    s.consumers
                        .values()
                        .any(|c| !c.config.deliver_subject.is_empty())
                })
            })
            .collect();
        for id in ids {
            self.deliver_all(id, now, interest);
        }
    }

    /// Whether someone listens on each push consumer's deliver subject in `account`, for
    /// the infos (Go's `push_bound`, taken live).
    pub(crate) fn refresh_push_bound(&mut self, account: AccountId, interest: Interest<'_>) {
        for (_, s) in self
            .streams
            .iter_mut()
            .flatten()
            .filter(|(a, _)| *a == account)
        {
            for c in s.consumers.values_mut() {
                if !c.config.deliver_subject.is_empty() {
                    c.out.push_bound = push_bound(c, account, interest);
                }
            }
        }
    }

    /// What consumers sent since the last call, in order.
    pub(crate) fn take_sends(&mut self) -> Vec<Publication> {
        std::mem::take(&mut self.sends)
    }

    /// The buffer `take_sends` gave, emptied: its room is kept for the next sends.
    pub(crate) fn return_sends(&mut self, sends: Vec<Publication>) {
        debug_assert!(sends.is_empty());
        if self.sends.is_empty() && sends.capacity() > self.sends.capacity() {
            self.sends = sends;
        }
    }

    /// The earliest time a consumer has something to do: a request expiring or due a
    /// heartbeat, an ack wait running out, a pause ending.
    pub(crate) fn next_deadline(&self) -> Option<i64> {
        if self.copy_due {
            return Some(super::now_ns());
        }
        self.streams
            .iter()
            .flatten()
            .flat_map(|(_, s)| s.consumers.values())
            .filter_map(|c| {
                let requests = c.out.waiting.iter().flat_map(|r| {
                    let hb = (r.heartbeat > 0).then_some(r.next_heartbeat);
                    r.expires_at.into_iter().chain(hb)
                });
                let acks = c.out.deadlines.first().map(|&(t, _)| t);
                let heartbeat = (c.config.idle_heartbeat > 0
                    && !c.config.deliver_subject.is_empty())
                .then_some(c.out.next_heartbeat);
                let resume = (!c.out.waiting.is_empty())
                    .then_some(c.config.pause_until.as_deref())
                    .flatten()
                    .and_then(crate::timefmt::parse_rfc3339_ns);
                requests
                    .chain(acks)
                    .chain(heartbeat)
                    .chain(resume)
                    .chain(c.out.replay_due)
                    .chain(c.out.rate_held.map(|(due, _)| due))
                    .chain(c.out.pin.as_ref().map(|p| p.lapses))
                    .min()
            })
            .min()
    }

    /// Does what is due by `now`: requests expire (`408`) or get their heartbeat, messages
    /// whose ack wait ran out are delivered again (or given up at `max_deliver`, with
    /// Go's advisory), and the consumers serve their requests.
    pub(crate) fn fire(&mut self, now: i64, interest: Interest<'_>) {
        let ids: Vec<StreamId> = (0..self.streams.len() as u32)
            .map(StreamId)
            .filter(|id| self.stream(*id).is_some_and(|s| !s.consumers.is_empty()))
            .collect();
        for id in ids {
            let Some((account, s)) = self.streams[id.0 as usize].as_mut() else {
                continue;
            };
            let account = *account;
            for c in s.consumers.values_mut() {
                if c.out.pin.as_ref().is_some_and(|p| p.lapses <= now) {
                    // Go's pin timer names the first group.
                    let group = c
                        .config
                        .priority_groups
                        .first()
                        .cloned()
                        .unwrap_or_default();
                    let adv = unpinned(&s.config.name, &s.account_name, c, &group, "timeout");
                    self.sends.push(Publication::plain(account, adv));
                }
                expire_requests(c, now, &mut self.sends);
                push_heartbeat(c, account, now, interest, &mut self.sends);
                let given_up = expire_acks(c, now);
                c.out.changed |= !given_up.is_empty();
                for (seq, deliveries) in given_up {
                    let f = serde_json::json!({"stream_seq": seq, "deliveries": deliveries});
                    let adv = delivery_advisory(
                        "MAX_DELIVERIES",
                        "max_deliver",
                        None,
                        &s.config.name,
                        &c.config.name,
                        f,
                    );
                    self.sends.push(Publication::plain(account, adv));
                }
            }
            self.deliver_all(id, now, interest);
        }
    }

    /// Consumer `c` of `stream` goes: its waiting requests get Go's `409 Consumer Deleted`.
    pub(super) fn consumer_gone(&mut self, c: &Consumer) {
        for r in &c.out.waiting {
            self.sends
                .push(status_to(r, status(409, "Consumer Deleted", None)));
        }
    }
}

/// A new pull request from `account` answered on `reply`, queued on `c` unless it gets a
/// status instead.
fn queue_request(
    c: &mut Consumer,
    account: AccountId,
    reply: &[u8],
    body: &[u8],
    now: i64,
    out: &mut Vec<Publication>,
) {
    let req = PullRequest {
        account,
        reply: Bytes::copy_from_slice(reply),
        left: 0,
        bytes_left: 0,
        no_wait: false,
        expires_at: None,
        heartbeat: 0,
        next_heartbeat: 0,
        sent: 0,
        group: None,
    };
    match admit(c, req, body, now) {
        Ok(req) => enqueue(c, req),
        Err(Some((req, hdr))) => out.push(status_to(&req, hdr)),
        Err(None) => {}
    }
}

/// Ends `c`'s requests that expired by `now` with Go's `408 Request Timeout`, and sends
/// the heartbeats due.
fn expire_requests(c: &mut Consumer, now: i64, out: &mut Vec<Publication>) {
    let (last_c, last_s) = (c.delivered.consumer_seq, c.out.scanned);
    c.out.waiting.retain_mut(|r| {
        if r.expires_at.is_some_and(|t| t <= now) {
            out.push(status_to(r, r.end_status(408, "Request Timeout")));
            return false;
        }
        if r.heartbeat > 0 && r.next_heartbeat <= now {
            let h = format!(
                "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: {last_c}\r\nNats-Last-Stream: {last_s}\r\n\r\n"
            );
            out.push(status_to(r, h.into_bytes()));
            r.next_heartbeat = now.saturating_add(r.heartbeat);
        }
        true
    });
}

/// A push consumer's idle heartbeat, when one is due and someone listens (Go's
/// `sendIdleHeartbeat`): it names the last delivered sequences, and the flow-control
/// request it waits on when stalled.
fn push_heartbeat(
    c: &mut Consumer,
    account: AccountId,
    now: i64,
    interest: Interest<'_>,
    out: &mut Vec<Publication>,
) {
    let hb = c.config.idle_heartbeat;
    if hb <= 0 || c.config.deliver_subject.is_empty() || c.out.next_heartbeat > now {
        return;
    }
    c.out.next_heartbeat = now.saturating_add(hb);
    let to = Bytes::from(c.config.deliver_subject.clone());
    if !interest(account, &to, Listening::Any) {
        return;
    }
    let mut h = format!(
        "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: {}\r\nNats-Last-Stream: {}\r\n",
        c.delivered.consumer_seq, c.out.scanned
    );
    if let Some(fc) = &c.out.fc_id {
        h.push_str(&format!("Nats-Consumer-Stalled: {fc}\r\n"));
    }
    h.push_str("\r\n");
    out.push(Publication {
        account,
        to,
        shown: None,
        reply: None,
        hdr_len: h.len(),
        data: Bytes::from(h),
    });
}

/// Moves `c`'s messages whose ack wait ran out by `now` to its redelivery queue, in
/// sequence order (Go's `checkPending`); those delivered `max_deliver` times leave pending
/// instead, returned with their deliveries for the advisory.
fn expire_acks(c: &mut Consumer, now: i64) -> Vec<(u64, u64)> {
    let mut expired = Vec::new();
    let mut given_up = Vec::new();
    while let Some(&(t, seq)) = c.out.deadlines.first() {
        if t > now {
            break;
        }
        c.out.deadlines.pop_first();
        let Some(p) = c.out.pending.get(&seq) else {
            continue;
        };
        let dc = c.deliveries(seq);
        if p.ts.saturating_add(c.ack_wait(dc)) != t || c.out.redeliver.contains(&seq) {
            continue;
        }
        if c.config.max_deliver > 0 && dc as i64 >= c.config.max_deliver {
            c.out.pending.remove(&seq);
            given_up.push((seq, dc));
            continue;
        }
        expired.push(seq);
    }
    expired.sort_unstable();
    c.out.redeliver.extend(expired);
    given_up
}

/// Admits a pull request to `c`'s queue, or says what it gets instead (Go's
/// `processNextMsgRequest`): an error status, or nothing.
#[allow(clippy::result_large_err)]
fn admit(
    c: &mut Consumer,
    mut req: PullRequest,
    body: &[u8],
    now: i64,
) -> Result<PullRequest, Option<(PullRequest, Vec<u8>)>> {
    let cfg = &c.config;
    if !cfg.deliver_subject.is_empty() {
        return Err(Some((req, status(409, "Consumer is push based", None))));
    }
    let r = match parse_next(body) {
        Ok(r) => r,
        Err(why) => {
            let h = status(400, &format!("Bad Request - {why}"), None);
            return Err(Some((req, h)));
        }
    };
    if r.idle_heartbeat > 0 && r.idle_heartbeat.saturating_mul(2) > r.expires {
        let h = status(400, "Bad Request - heartbeat value too large", None);
        return Err(Some((req, h)));
    }
    if cfg.max_batch > 0 && r.batch > cfg.max_batch {
        let text = format!("Exceeded MaxRequestBatch of {}", cfg.max_batch);
        return Err(Some((req, status(409, &text, None))));
    }
    if cfg.max_expires > 0 && r.expires > cfg.max_expires {
        let d = std::time::Duration::from_nanos(cfg.max_expires as u64);
        let text = format!("Exceeded MaxRequestExpires of {}", go_duration(d));
        return Err(Some((req, status(409, &text, None))));
    }
    if cfg.max_bytes > 0 && r.max_bytes > cfg.max_bytes {
        let text = format!("Exceeded MaxRequestMaxBytes of {}", cfg.max_bytes);
        return Err(Some((req, status(409, &text, None))));
    }
    if let Some(g) = &r.group {
        if let Err(h) = admit_group(c, g, now) {
            return Err(Some((req, h)));
        }
    }
    let cfg = &c.config;
    if r.no_wait && r.expires == 0 && c.out.num_pending + c.out.redeliver.len() as u64 == 0 {
        return Err(Some((req, status(404, "No Messages", None))));
    }
    let max_waiting = cfg.max_waiting;
    if max_waiting > 0 && c.out.waiting.len() as i64 >= max_waiting {
        if r.idle_heartbeat > 0 {
            return Err(None);
        }
        return Err(Some((req, status(409, "Exceeded MaxWaiting", None))));
    }
    req.left = r.batch;
    req.bytes_left = r.max_bytes.max(0);
    req.no_wait = r.no_wait;
    req.expires_at = (r.expires != 0).then_some(now.saturating_add(r.expires));
    req.heartbeat = r.idle_heartbeat.max(0);
    req.next_heartbeat = now.saturating_add(req.heartbeat);
    req.group = r.group;
    Ok(req)
}

/// The priority-group checks of Go's `processNextMsgRequest`, for a JSON request on any
/// consumer: the status it gets instead, if any. A request with the pinned id keeps the
/// pin from lapsing.
fn admit_group(c: &mut Consumer, g: &PriorityGroup, now: i64) -> Result<(), Vec<u8>> {
    let bad = |why: &str| Err(status(400, &format!("Bad Request - {why}"), None));
    let policy = c.config.priority_policy;
    if (g.min_pending != 0 || g.min_ack_pending != 0) && policy != PriorityPolicy::Overflow {
        return bad("Not a Overflow Priority consumer");
    }
    if !g.id.is_empty() && policy != PriorityPolicy::PinnedClient {
        return bad("Not a Pinned Client Priority consumer");
    }
    if !(0..=MAX_PRIORITY).contains(&g.priority) {
        return bad("Priority must be between 0 and 9");
    }
    if policy.is_none() {
        return Ok(());
    }
    if g.group.is_empty() {
        return bad("Priority Group missing");
    }
    if !c.config.priority_groups.contains(&g.group) {
        return bad("Invalid Priority Group");
    }
    let ttl = c.config.priority_timeout;
    match &mut c.out.pin {
        Some(pin) if pin.id == g.id => pin.lapses = now.saturating_add(ttl),
        Some(_) if !g.id.is_empty() => return Err(status(423, "Nats-Pin-Id mismatch", None)),
        _ => {}
    }
    Ok(())
}

/// Where `req` goes in `c`'s queue: at the back, or under `prioritized` after every
/// request of the same or a higher priority (a lower number).
fn enqueue(c: &mut Consumer, req: PullRequest) {
    let waiting = &mut c.out.waiting;
    if c.config.priority_policy != PriorityPolicy::Prioritized {
        waiting.push_back(req);
        return;
    }
    let rank = |r: &PullRequest| r.group.as_ref().map_or(LOWEST_PRIORITY, |g| g.priority);
    let mine = rank(&req);
    let at = waiting.iter().position(|r| rank(r) > mine);
    waiting.insert(at.unwrap_or(waiting.len()), req);
}

/// An ack of message `sseq` delivered as `dseq` (Go's `processAckMsg`): returns the stream
/// sequences it acknowledged.
fn process_ack(c: &mut Consumer, sseq: u64, dseq: u64, now: i64) -> Vec<u64> {
    c.out.acked_at = now;
    let mut acked = Vec::new();
    match c.config.ack_policy {
        AckPolicy::Explicit | AckPolicy::FlowControl => {
            if let Some(p) = c.out.pending.remove(&sseq) {
                acked.push(sseq);
                let dseq = p.consumer_seq;
                if c.out.pending.is_empty() {
                    c.ack_floor = c.caught_up();
                } else if dseq == c.ack_floor.consumer_seq + 1 {
                    c.ack_floor.consumer_seq = dseq;
                    c.ack_floor.stream_seq = sseq;
                    if let Some((&ss, p)) = c.out.pending.range(sseq + 1..).next() {
                        if ss <= c.out.scanned && p.consumer_seq > 0 {
                            c.ack_floor.consumer_seq = p.consumer_seq - 1;
                            c.ack_floor.stream_seq = ss - 1;
                        }
                    }
                }
            }
            c.out.redelivered.remove(&sseq);
            c.out.redeliver.retain(|&s| s != sseq);
        }
        AckPolicy::All => {
            if dseq <= c.ack_floor.consumer_seq || sseq <= c.ack_floor.stream_seq {
                return acked;
            }
            c.ack_floor.consumer_seq = dseq;
            c.ack_floor.stream_seq = sseq;
            let gone: Vec<u64> = c.out.pending.range(..=sseq).map(|(&s, _)| s).collect();
            for s in gone {
                c.out.pending.remove(&s);
                c.out.redelivered.remove(&s);
                acked.push(s);
            }
            let pending = &c.out.pending;
            c.out.redeliver.retain(|s| pending.contains_key(s));
        }
        AckPolicy::None => {}
    }
    acked
}

/// Go's `sampleAck`: for an explicit ack of a message still pending, the `consumer_ack`
/// metric (`ack_time`: since it was delivered, or last made progress), for the share of
/// acks `sample_freq` asks for (Go's `shouldSample`: every one from 100 on, else when a
/// draw below 100 is at most the number).
fn sampled_ack(
    stream: &str,
    c: &Consumer,
    (sseq, dseq, deliveries): (u64, u64, u64),
    now: i64,
    domain: &str,
) -> Option<(String, Vec<u8>)> {
    if c.config.sample_freq.is_empty() || c.config.ack_policy != AckPolicy::Explicit {
        return None;
    }
    let freq = c.config.sample_percent().ok().filter(|&f| f > 0)?;
    let pending = c.out.pending.get(&sseq)?;
    if freq < 100 {
        let mut draw = [0u8; 4];
        getrandom::getrandom(&mut draw).ok()?;
        if i64::from(u32::from_le_bytes(draw) % 100) > freq {
            return None;
        }
    }
    let mut f = serde_json::json!({
        "stream": stream,
        "consumer": c.config.name,
        "consumer_seq": dseq,
        "stream_seq": sseq,
        "ack_time": now - pending.ts,
        "deliveries": deliveries,
    });
    if !domain.is_empty() {
        f["domain"] = domain.into();
    }
    let name = &c.config.name;
    Some((
        format!("$JS.EVENT.METRIC.CONSUMER.ACK.{stream}.{name}"),
        super::event_json("io.nats.jetstream.metric.v1.consumer_ack", f),
    ))
}

/// A `-NAK` with its optional delay (`{"delay": ns}` or a Go duration) (Go's
/// `processNak`): whether it applied (and has an advisory).
fn process_nak(c: &mut Consumer, sseq: u64, dseq: u64, arg: &[u8], now: i64) -> bool {
    if dseq <= c.ack_floor.consumer_seq || dseq > c.delivered.consumer_seq {
        return false;
    }
    if !c.out.pending.contains_key(&sseq) {
        return false;
    }
    let arg = arg.trim_ascii();
    if !arg.is_empty() {
        let delay = if arg[0] == b'{' {
            serde_json::from_slice::<Value>(arg)
                .ok()
                .map(|v| v.get("delay").and_then(Value::as_i64).unwrap_or(0))
        } else {
            std::str::from_utf8(arg)
                .ok()
                .and_then(crate::config_file::parse_duration)
                .map(|d| d.as_nanos() as i64)
        };
        match delay {
            Some(d) => {
                c.out.redeliver.retain(|&s| s != sseq);
                let wait = c.ack_wait(c.deliveries(sseq));
                if let Some(p) = c.out.pending.get_mut(&sseq) {
                    p.ts = now.saturating_sub(c.config.ack_wait).saturating_add(d);
                    c.out.deadlines.insert((p.ts.saturating_add(wait), sseq));
                }
                return true;
            }
            None => crate::log_at!(
                Warn,
                "JetStream consumer '{}' bad NAK delay value: {:?}",
                c.config.name,
                String::from_utf8_lossy(arg)
            ),
        }
    }
    if !c.out.redeliver.contains(&sseq) {
        c.out.redeliver.push_back(sseq);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_subjects_read_back_as_written() {
        for (counts, ts, pending) in [
            ([1, 1, 1], 1_796_587_680_626_130_427, 0),
            ([9, 10, 99], 0, 100),
            ([u64::MAX, 123_456_789, 7], -5, u64::MAX),
        ] {
            let [deliveries, seq, dseq] = counts;
            let s = ack_subject("ORDERS", "C-1", counts, ts, pending);
            let text = format!("$JS.ACK.ORDERS.C-1.{deliveries}.{seq}.{dseq}.{ts}.{pending}");
            assert_eq!(s, text.as_bytes());
            let a = parse_ack_subject(&s).unwrap();
            assert_eq!(
                (a.consumer, a.deliveries, a.stream_seq, a.consumer_seq),
                ("C-1", deliveries, seq, dseq)
            );
        }
        for bad in [
            "$JS.ACK.S.C.1.2.3.4",
            "$JS.ACK.S.C.1.2.3.4.5.6",
            "$JS.ACK.S.C.x.2.3.4.5",
        ] {
            assert!(parse_ack_subject(bad.as_bytes()).is_none(), "{bad}");
        }
    }
}

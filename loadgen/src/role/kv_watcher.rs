//! A key watcher (`kvwatch`): on a bucket that already holds `--kv-keys` keys, watches one
//! key at a time as `kv.watch(key)` does, with an ordered push consumer filtered to the
//! key's subject that starts at its last value, and times the `CONSUMER.CREATE` request to
//! its reply: the server's cost of setting up a filtered consumer on a large stream. Each
//! watch subscribes to its own deliver subject first (not timed), waits for the key's value,
//! then deletes its consumer and unsubscribes before the next one.

use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use super::{
    reply_inbox, since, sleep_until, subscribe_measured, unsubscribe, Ready, RoleContext,
    CONNECT_TIMEOUT, MEASURED_SID,
};
use crate::consumer::{self, DeliverPolicy};
use crate::jetstream::{kv_key_prefix, Api, StreamSpec};
use crate::latency::{self, LatencyHistogram};
use crate::proto::{Conn, Frame, ProtoError};
use crate::rng::SplitMix64;

/// A watch's value comes right after its consumer is created; one that takes this long is
/// not coming.
const VALUE_TIMEOUT: Duration = Duration::from_secs(10);

pub struct WatcherReport {
    /// Consumers created.
    pub watches: u64,
    /// Watches that got their key's value.
    pub values: u64,
    /// `CONSUMER.CREATE` request to reply.
    pub latency: LatencyHistogram,
    /// When the last watch ended, in ns since base.
    pub finished_ns: u64,
    pub error: Option<String>,
}

/// Runs the watcher. A setup failure is reported on `ready`, not in the report.
pub fn run(ctx: &RoleContext<'_>, index: usize, ready: Sender<Ready>) -> WatcherReport {
    let args = ctx.args;
    let role = format!("loadgen-kvwatch-{index}");
    let inbox = reply_inbox(args.seed, index as u64);
    let mut report = WatcherReport {
        watches: 0,
        values: 0,
        latency: latency::new_histogram(),
        finished_ns: 0,
        error: None,
    };
    // The API has a connection of its own, so that its replies and the values do not mix.
    let api_inbox = reply_inbox(args.seed, (index + 1) as u64);
    let mut api = match Api::connect(
        &args.server,
        &format!("{role}-api"),
        api_inbox,
        CONNECT_TIMEOUT,
    ) {
        Ok(api) => api,
        Err(e) => {
            let _ = ready.send(Err(format!("{role}: connecting to {}: {e}", args.server)));
            return report;
        }
    };
    // Each watch subscribes to its own deliver subject.
    let Some((mut conn, base)) = ctx.connect_and_wait(&role, &ready, |_| Ok(())) else {
        return report;
    };
    sleep_until(base);
    let result = watch_all(ctx, &inbox, &mut conn, &mut api, base, &mut report)
        .and_then(|()| unsubscribe(&mut conn, &[MEASURED_SID]).map_err(|e| e.to_string()));
    report.error = result.err().map(|e| format!("{role}: {e}"));
    report
}

fn watch_all(
    ctx: &RoleContext<'_>,
    inbox: &str,
    conn: &mut Conn,
    api: &mut Api,
    base: Instant,
    report: &mut WatcherReport,
) -> Result<(), String> {
    let args = ctx.args;
    let watches = ctx.plan.quota(args.length, 0).unwrap_or(0);
    let stream = StreamSpec::key_value(&args.js.bucket, args.js.storage).name;
    let prefix = kv_key_prefix(&args.js.bucket);
    // Keys drawn from the seed, so that Go and Riptide are asked for the same ones.
    let mut rng = SplitMix64::new(args.seed, u64::MAX);
    for watch in 0..watches {
        let key = format!("{prefix}.{}", rng.below(args.js.keys as usize));
        let deliver = format!("{inbox}.{watch}");
        let (subject, body) =
            consumer::ordered_push(&stream, &deliver, Some(&key), DeliverPolicy::LastPerSubject);
        let io = |e: ProtoError| format!("watching {key}: {e}");
        subscribe_measured(conn, &deliver).map_err(io)?;
        let asked_ns = since(base);
        let name = api.create_consumer(&subject, &body)?;
        latency::record(&mut report.latency, since(base), asked_ns);
        report.watches += 1;
        await_value(conn, &key).map_err(io)?;
        report.values += 1;
        api.delete_consumer(&stream, &name)?;
        unsubscribe(conn, &[MEASURED_SID]).map_err(io)?;
        report.finished_ns = since(base);
        ctx.control.add_sent(1);
    }
    Ok(())
}

/// Waits for the value of `key`, delivered under the key's subject; heartbeats and flow
/// control, on the deliver subject, are passed over.
fn await_value(conn: &mut Conn, key: &str) -> Result<(), ProtoError> {
    let deadline = Instant::now() + VALUE_TIMEOUT;
    loop {
        let mut found = false;
        conn.drain(|frame, _| {
            if let Frame::Msg(msg) = frame {
                found |= msg.subject == key.as_bytes();
            }
        })?;
        if found {
            return Ok(());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ProtoError::Timeout("the key's value"));
        }
        conn.set_read_timeout(left)?;
        conn.fill()?;
    }
}

//! One run: connect every role (receivers first, so interest is live before anyone sends),
//! start them together, wait for the senders, let the receivers drain, and turn the role
//! reports into the run's figures. connect has only senders, of connections; jspub and
//! kvput have only senders too, into a stream (or bucket) that is created again before they
//! connect, and count acks; kvget is kvput's exchange with gets, on a bucket filled first.
//! jsfetch and jsordered fill their stream first too, then one consumer reads it; kvwatch
//! has one client, timing consumer creates on a bucket as it is.

use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::{self, Scope, ScopedJoinHandle};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::args::{RunArgs, RunLength, Scenario};
use crate::cpu::CpuMeter;
use crate::jetstream::{Api, StreamSpec};
use crate::latency::{new_histogram, LatencyHistogram, LatencySummary};
use crate::progress::Progress;
use crate::rng::SplitMix64;
use crate::role::connector::{self, ConnectorReport};
use crate::role::js_consumer::{self, ConsumerReport};
use crate::role::js_publisher::{self, JsPublisherReport, ACK_TIMEOUT};
use crate::role::kv_watcher::{self, WatcherReport};
use crate::role::publisher::{self, PublisherReport};
use crate::role::requester::{self, RequesterReport};
use crate::role::responder::{self, ResponderReport};
use crate::role::subscriber::{self, SubscriberReport};
use crate::role::{Control, Ready, RoleContext};
use crate::scenario::Plan;
use crate::seqtrack::SeqTracker;

/// All connections of a role kind must be up (connected, subscribed) within this; it covers
/// a role's own connect and subscribe timeouts.
const SETUP_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a run whose subscribers are on another server waits for their interest to
/// cross the route before publishing: a route carries it in well under a millisecond on
/// one machine; this leaves room for a loaded one.
const ROUTE_SETTLE: Duration = Duration::from_millis(500);

/// The shared start lies this far ahead of the go signal, so every sender thread is awake
/// before its first message is due and none starts out late.
const START_LEAD: Duration = Duration::from_millis(20);
/// How often the coordinator looks at progress counters.
const POLL_INTERVAL: Duration = Duration::from_millis(10);
/// Redrawing the progress bar more often than this is wasted work.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);
/// After the senders finish, receivers that got nothing new for this long have all they
/// will get; what is missing is lost.
const DRAIN_IDLE_TIMEOUT: Duration = Duration::from_secs(2);
/// And they stop after this long in any case, even while messages still trickle in.
const DRAIN_DEADLINE: Duration = Duration::from_secs(60);
/// Payload bytes per megabyte in MB/s figures (decimal, as network rates are).
const BYTES_PER_MB: f64 = 1e6;
const NANOS_PER_SEC: f64 = 1e9;

/// The run's figures, as written at the top level of the JSON report.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub msgs_sent: u64,
    pub msgs_received: u64,
    pub lost: u64,
    pub duplicates: u64,
    pub elapsed_s: f64,
    pub pub_msgs_per_s: f64,
    pub sub_msgs_per_s: f64,
    pub pub_mb_per_s: f64,
    pub sub_mb_per_s: f64,
    pub loadgen_cpu_cores: f64,
    pub latency_us: Option<LatencySummary>,
    pub offered_rate: Option<f64>,
    pub achieved_rate: Option<f64>,
    /// connect only; its `latency_us` is the handshake's, from connect() to PONG.
    pub connections: Option<ConnectionFigures>,
    /// jspub, kvput and kvget: `latency_us` is publish to ack (get to reply),
    /// `msgs_received` the acks that stored a message (the values got), `lost` the
    /// publishes (gets) that were not. jsfetch and jsordered: `msgs_sent` is what the
    /// stream holds, `msgs_received` what was delivered in order.
    pub jetstream: Option<JetStreamFigures>,
}

/// What a JetStream run's stream answered, under `jetstream` in the JSON report.
#[derive(Debug, Clone, Serialize)]
pub struct JetStreamFigures {
    pub stream: String,
    /// `file` or `memory`.
    pub storage: &'static str,
    /// Publishes (gets) per publisher that could wait for their answer.
    pub window: usize,
    /// Publishes the stream stored (gets answered with the value); for a consumer, the
    /// messages the stream was filled with.
    pub acked: u64,
    /// Publishes answered with an error (gets with a status).
    pub refused: u64,
    /// Publishes still without an answer when the run ended.
    pub unacked: u64,
    /// jsfetch and jsordered only.
    pub consumer: Option<ConsumerFigures>,
}

/// What a consumer run's consumer did, under `jetstream.consumer` in the JSON report.
#[derive(Debug, Clone, Serialize)]
pub struct ConsumerFigures {
    /// `pull` or `ordered`.
    pub kind: &'static str,
    /// Pull: messages asked for per request.
    pub batch: Option<usize>,
    /// Pull: requests sent; ordered: flow control requests answered.
    pub requests: u64,
    /// Ordered: idle heartbeats; pull: requests that expired unfilled.
    pub idle: u64,
    /// Deliveries out of stream order.
    pub out_of_order: u64,
}

/// What a connect run did, under `connections` in the JSON report.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionFigures {
    /// Handshakes that ended in PONG.
    pub completed: u64,
    /// Attempts refused, timed out, or closed or answered with `-ERR` before PONG.
    pub failed: u64,
    /// Completed handshakes per second.
    pub per_s: f64,
}

/// A run's results: figures for the report, the latency distribution for `--hgrm`, and
/// per-connection rates and warnings for the terminal.
pub struct RunOutcome {
    pub figures: Figures,
    pub histogram: Option<LatencyHistogram>,
    /// Messages per second of each sender, then of each receiver.
    pub sender_rates: Vec<f64>,
    pub receiver_rates: Vec<f64>,
    pub warnings: Vec<String>,
    /// A connection failed during the run (for connect: an attempt failed).
    pub failed: bool,
}

/// Runs `args` once. `Err` when the run could not start (a connection or subscription
/// failed during setup); failures during the run are in the outcome.
pub fn run(args: &RunArgs, show_progress: bool) -> Result<RunOutcome, String> {
    let plan = Plan::new(args);
    let control = Control::new(plan.receivers);
    let ctx = RoleContext {
        args,
        plan: &plan,
        control: &control,
    };
    thread::scope(|scope| {
        let result = if args.scenario == Scenario::Connect {
            run_connect(scope, &ctx, show_progress)
        } else if args.scenario.consumes() {
            run_consume(scope, &ctx, show_progress)
        } else if args.scenario == Scenario::KvWatch {
            run_kv_watch(scope, &ctx, show_progress)
        } else if args.scenario.is_jetstream() {
            run_jetstream_publish(scope, &ctx, show_progress)
        } else if plan.request_reply {
            run_request_reply(scope, &ctx, show_progress)
        } else {
            run_publish_subscribe(scope, &ctx, show_progress)
        };
        if result.is_err() {
            control.abort();
        }
        result
    })
}

fn run_publish_subscribe<'scope>(
    scope: &'scope Scope<'scope, '_>,
    ctx: &'scope RoleContext<'scope>,
    show_progress: bool,
) -> Result<RunOutcome, String> {
    let (ready_tx, ready_rx) = mpsc::channel();
    let subscribers = spawn_roles(
        scope,
        ctx,
        "sub",
        ctx.plan.receivers,
        &ready_tx,
        subscriber::run,
    )?;
    await_ready(&ready_rx, subscribers.len())?;
    if ctx.args.sub_server.is_some() {
        // The subscribers' PONG says their server has the interest, not that it crossed
        // the route to the publishers' server yet: that is asynchronous in NATS.
        std::thread::sleep(ROUTE_SETTLE);
    }
    let publishers = spawn_roles(
        scope,
        ctx,
        "pub",
        ctx.plan.senders,
        &ready_tx,
        publisher::run,
    )?;
    await_ready(&ready_rx, publishers.len())?;
    let cpu = start(ctx);
    wait_with_progress(ctx, &publishers, show_progress);
    let publishers = join_all(publishers)?;
    let sent: u64 = publishers.iter().map(|p| p.sent).sum();
    drain(ctx, sent);
    let cpu_cores = cpu.cores();
    let subscribers = join_all(subscribers)?;
    Ok(summarize_publish_subscribe(
        ctx,
        &publishers,
        subscribers,
        cpu_cores,
    ))
}

fn run_request_reply<'scope>(
    scope: &'scope Scope<'scope, '_>,
    ctx: &'scope RoleContext<'scope>,
    show_progress: bool,
) -> Result<RunOutcome, String> {
    let (ready_tx, ready_rx) = mpsc::channel();
    let responders = spawn_roles(
        scope,
        ctx,
        "resp",
        ctx.plan.receivers,
        &ready_tx,
        responder::run,
    )?;
    await_ready(&ready_rx, responders.len())?;
    let requesters = spawn_roles(
        scope,
        ctx,
        "req",
        ctx.plan.senders,
        &ready_tx,
        requester::run,
    )?;
    await_ready(&ready_rx, requesters.len())?;
    let cpu = start(ctx);
    wait_with_progress(ctx, &requesters, show_progress);
    // Requesters wait for their own replies, so responders can stop right away.
    ctx.control.stop_receivers();
    let cpu_cores = cpu.cores();
    let requesters = join_all(requesters)?;
    let responders = join_all(responders)?;
    Ok(summarize_request_reply(
        ctx,
        requesters,
        &responders,
        cpu_cores,
    ))
}

fn run_connect<'scope>(
    scope: &'scope Scope<'scope, '_>,
    ctx: &'scope RoleContext<'scope>,
    show_progress: bool,
) -> Result<RunOutcome, String> {
    let (connectors, cpu_cores) = run_senders(scope, ctx, show_progress, "conn", connector::run)?;
    Ok(summarize_connect(&connectors, cpu_cores))
}

/// Runs a scenario without receivers: sets up its `plan.senders` roles of `kind`, starts
/// them together and waits for all; returns their reports and loadgen's CPU meanwhile.
fn run_senders<'scope, T: Send + 'scope>(
    scope: &'scope Scope<'scope, '_>,
    ctx: &'scope RoleContext<'scope>,
    show_progress: bool,
    kind: &str,
    body: RoleBody<T>,
) -> Result<(Vec<T>, f64), String> {
    let (ready_tx, ready_rx) = mpsc::channel();
    let senders = spawn_roles(scope, ctx, kind, ctx.plan.senders, &ready_tx, body)?;
    await_ready(&ready_rx, senders.len())?;
    let cpu = start(ctx);
    wait_with_progress(ctx, &senders, show_progress);
    let cpu_cores = cpu.cores();
    Ok((join_all(senders)?, cpu_cores))
}

fn run_jetstream_publish<'scope>(
    scope: &'scope Scope<'scope, '_>,
    ctx: &'scope RoleContext<'scope>,
    show_progress: bool,
) -> Result<RunOutcome, String> {
    if ctx.args.scenario == Scenario::KvGet {
        fill(ctx.args)?;
    } else {
        recreate_stream(ctx.args)?;
    }
    let (publishers, cpu_cores) =
        run_senders(scope, ctx, show_progress, "jspub", js_publisher::run)?;
    Ok(summarize_jetstream_publish(
        ctx.args,
        &publishers,
        cpu_cores,
    ))
}

fn run_consume<'scope>(
    scope: &'scope Scope<'scope, '_>,
    ctx: &'scope RoleContext<'scope>,
    show_progress: bool,
) -> Result<RunOutcome, String> {
    fill(ctx.args)?;
    let (consumers, cpu_cores) =
        run_senders(scope, ctx, show_progress, "consumer", js_consumer::run)?;
    Ok(summarize_consume(ctx.args, &consumers, cpu_cores))
}

fn run_kv_watch<'scope>(
    scope: &'scope Scope<'scope, '_>,
    ctx: &'scope RoleContext<'scope>,
    show_progress: bool,
) -> Result<RunOutcome, String> {
    let (watchers, cpu_cores) = run_senders(scope, ctx, show_progress, "kvwatch", kv_watcher::run)?;
    Ok(summarize_kv_watch(&watchers, cpu_cores))
}

/// The stream the run publishes into or reads: `--js-stream` on SUBJECT, or the bucket.
fn stream_spec(args: &RunArgs) -> StreamSpec {
    if args.scenario.is_key_value() {
        StreamSpec::key_value(&args.js.bucket, args.js.storage)
    } else {
        StreamSpec {
            name: args.js.stream.clone(),
            subject: args.subject.clone(),
            storage: args.js.storage,
            key_value: false,
        }
    }
}

/// Fills the stream a consumer (or kvget) reads, before it connects: a jspub run of
/// `--msgs` messages (a kvput run of one value per key) of its own, unmeasured, with the
/// run's stream, size and window, that must store every message.
fn fill(args: &RunArgs) -> Result<(), String> {
    let (scenario, msgs) = match (args.scenario, args.length) {
        (Scenario::KvGet, _) => (Scenario::KvPut, args.js.keys),
        (_, RunLength::Msgs(msgs)) => (Scenario::JsPub, msgs),
        (_, RunLength::Duration(_)) => return Err("a consumer reads --msgs messages".into()),
    };
    let fill_args = RunArgs {
        scenario,
        length: RunLength::Msgs(msgs),
        pubs: 1,
        warmup: Duration::ZERO,
        json: None,
        hgrm: None,
        ..args.clone()
    };
    let outcome = run(&fill_args, false)?;
    let stored = outcome.figures.jetstream.map_or(0, |js| js.acked);
    if outcome.failed || stored != msgs {
        return Err(format!(
            "filling stream {}: {stored} of {msgs} messages stored; {}",
            stream_spec(args).name,
            outcome.warnings.join("; ")
        ));
    }
    Ok(())
}

/// Deletes and creates the run's stream on a connection of its own, closed before the
/// publishers connect.
fn recreate_stream(args: &RunArgs) -> Result<(), String> {
    let spec = stream_spec(args);
    // The publishers' inboxes are seeded streams 0..pubs; this one comes after them.
    let mut token = SplitMix64::new(args.seed, args.pubs as u64);
    let inbox = format!("_INBOX.{:016x}{:016x}", token.next_u64(), token.next_u64());
    let mut api = Api::connect(&args.server, "loadgen-jsapi", inbox, SETUP_TIMEOUT)
        .map_err(|e| format!("loadgen-jsapi: connecting to {}: {e}", args.server))?;
    api.recreate_stream(&spec)
}

/// Opens the start gate and returns, at the shared start, a CPU meter for the run; setup
/// and teardown stay out of loadgen's CPU figure.
fn start(ctx: &RoleContext<'_>) -> CpuMeter {
    let base = Instant::now() + START_LEAD;
    ctx.control.open(base);
    thread::sleep(base.saturating_duration_since(Instant::now()));
    CpuMeter::start()
}

type RoleBody<T> = fn(&RoleContext<'_>, usize, Sender<Ready>) -> T;

fn spawn_roles<'scope, T: Send + 'scope>(
    scope: &'scope Scope<'scope, '_>,
    ctx: &'scope RoleContext<'scope>,
    kind: &str,
    count: usize,
    ready: &Sender<Ready>,
    body: RoleBody<T>,
) -> Result<Vec<ScopedJoinHandle<'scope, T>>, String> {
    (0..count)
        .map(|index| {
            let ready = ready.clone();
            thread::Builder::new()
                .name(format!("{kind}-{index}"))
                .spawn_scoped(scope, move || body(ctx, index, ready))
                .map_err(|e| format!("cannot start thread {kind}-{index}: {e}"))
        })
        .collect()
}

fn await_ready(ready: &Receiver<Ready>, count: usize) -> Result<(), String> {
    let deadline = Instant::now() + SETUP_TIMEOUT;
    for done in 0..count {
        let left = deadline.saturating_duration_since(Instant::now());
        match ready.recv_timeout(left) {
            Ok(Ok(())) => {}
            Ok(Err(message)) => return Err(message),
            Err(_) => {
                return Err(format!(
                    "only {done} of {count} connections were set up within {SETUP_TIMEOUT:?}"
                ))
            }
        }
    }
    Ok(())
}

fn wait_with_progress<T>(
    ctx: &RoleContext<'_>,
    senders: &[ScopedJoinHandle<'_, T>],
    show_progress: bool,
) {
    let mut progress = Progress::new(show_progress, ctx.args);
    let mut redrawn = Instant::now();
    while !senders.iter().all(|s| s.is_finished()) {
        thread::sleep(POLL_INTERVAL);
        if redrawn.elapsed() >= PROGRESS_INTERVAL {
            progress.update(ctx.control.sent());
            redrawn = Instant::now();
        }
    }
    progress.finish();
}

fn join_all<T>(handles: Vec<ScopedJoinHandle<'_, T>>) -> Result<Vec<T>, String> {
    handles
        .into_iter()
        .map(|h| {
            let name = h.thread().name().unwrap_or("role").to_string();
            h.join().map_err(|_| format!("thread {name} panicked"))
        })
        .collect()
}

/// Waits until every subscriber (or, for a queue group, the group) has all `sent`
/// messages, nothing new arrived for `DRAIN_IDLE_TIMEOUT`, or `DRAIN_DEADLINE` passed;
/// then stops the subscribers.
fn drain(ctx: &RoleContext<'_>, sent: u64) {
    let started = Instant::now();
    let mut last_total = u64::MAX;
    let mut last_change = started;
    loop {
        let counts = ctx.control.received();
        let total: u64 = counts.iter().sum();
        let all_in = if ctx.plan.queue_group.is_some() {
            total >= sent
        } else {
            counts.iter().all(|&c| c >= sent)
        };
        if total != last_total {
            last_total = total;
            last_change = Instant::now();
        }
        if all_in
            || last_change.elapsed() >= DRAIN_IDLE_TIMEOUT
            || started.elapsed() >= DRAIN_DEADLINE
        {
            break;
        }
        thread::sleep(POLL_INTERVAL);
    }
    ctx.control.stop_receivers();
}

/// One histogram of all of `histograms`.
fn merged<'a>(histograms: impl Iterator<Item = &'a LatencyHistogram>) -> LatencyHistogram {
    let mut all = new_histogram();
    for h in histograms {
        // Same bounds on both sides, so adding cannot fail.
        let _ = all.add(h);
    }
    all
}

fn per_second(count: u64, window_ns: u64) -> f64 {
    if window_ns == 0 {
        0.0
    } else {
        count as f64 * NANOS_PER_SEC / window_ns as f64
    }
}

/// Unique and duplicate messages of receivers that should each get `expected`: exact from
/// the trackers when payloads carry origins, else inferred from counts.
fn unique_and_duplicates(received: u64, tracker: Option<&SeqTracker>, expected: u64) -> (u64, u64) {
    match tracker {
        Some(t) => (t.unique(), t.duplicates()),
        None => (received.min(expected), received.saturating_sub(expected)),
    }
}

fn summarize_publish_subscribe(
    ctx: &RoleContext<'_>,
    publishers: &[PublisherReport],
    subscribers: Vec<SubscriberReport>,
    cpu_cores: f64,
) -> RunOutcome {
    let args = ctx.args;
    let warmup_ns = args.warmup.as_nanos() as u64;
    let window = |end_ns: u64| end_ns.saturating_sub(warmup_ns);
    let sent: u64 = publishers.iter().map(|p| p.sent).sum();
    let received: u64 = subscribers.iter().map(|s| s.received).sum();
    let pub_window = window(publishers.iter().map(|p| p.finished_ns).max().unwrap_or(0));
    let sub_window = window(
        subscribers
            .iter()
            .map(|s| s.last_receive_ns)
            .max()
            .unwrap_or(0),
    );

    let (unique, duplicates, expected) = if ctx.plan.queue_group.is_some() {
        let mut merged: Option<SeqTracker> = None;
        for tracker in subscribers.iter().filter_map(|s| s.tracker.as_ref()) {
            merged
                .get_or_insert_with(SeqTracker::default)
                .merge(tracker);
        }
        let (unique, duplicates) = unique_and_duplicates(received, merged.as_ref(), sent);
        (unique, duplicates, sent)
    } else {
        let (unique, duplicates) = subscribers
            .iter()
            .map(|s| unique_and_duplicates(s.received, s.tracker.as_ref(), sent))
            .fold((0, 0), |(u, d), (su, sd)| (u + su, d + sd));
        (unique, duplicates, sent * subscribers.len() as u64)
    };

    let histogram = args
        .rate
        .map(|_| merged(subscribers.iter().filter_map(|s| s.latency.as_ref())));
    let achieved_rate = args.rate.map(|_| {
        if subscribers.is_empty() {
            per_second(sent, pub_window)
        } else {
            per_second(unique, sub_window) / ctx.plan.deliveries_per_message() as f64
        }
    });

    let mut warnings = Vec::new();
    let errors: Vec<String> = publishers
        .iter()
        .filter_map(|p| p.error.clone())
        .chain(subscribers.iter().filter_map(|s| s.error.clone()))
        .collect();
    let foreign: u64 = subscribers.iter().map(|s| s.foreign).sum();
    if foreign > 0 {
        warnings.push(format!(
            "{foreign} messages on the run's subjects were not sent by this run (another client publishing there?)"
        ));
    }
    let failed = !errors.is_empty();
    warnings.extend(errors);

    let size = args.size as u64;
    RunOutcome {
        figures: Figures {
            msgs_sent: sent,
            msgs_received: received,
            lost: expected.saturating_sub(unique),
            duplicates,
            elapsed_s: pub_window.max(sub_window) as f64 / NANOS_PER_SEC,
            pub_msgs_per_s: per_second(sent, pub_window),
            sub_msgs_per_s: per_second(received, sub_window),
            pub_mb_per_s: per_second(sent * size, pub_window) / BYTES_PER_MB,
            sub_mb_per_s: per_second(received * size, sub_window) / BYTES_PER_MB,
            loadgen_cpu_cores: cpu_cores,
            latency_us: histogram.as_ref().and_then(LatencySummary::of),
            offered_rate: args.rate,
            achieved_rate,
            connections: None,
            jetstream: None,
        },
        histogram,
        sender_rates: publishers
            .iter()
            .map(|p| per_second(p.sent, window(p.finished_ns)))
            .collect(),
        receiver_rates: subscribers
            .iter()
            .map(|s| per_second(s.received, window(s.last_receive_ns)))
            .collect(),
        warnings,
        failed,
    }
}

fn summarize_request_reply(
    ctx: &RoleContext<'_>,
    requesters: Vec<RequesterReport>,
    responders: &[ResponderReport],
    cpu_cores: f64,
) -> RunOutcome {
    let args = ctx.args;
    let warmup_ns = args.warmup.as_nanos() as u64;
    let window = |end_ns: u64| end_ns.saturating_sub(warmup_ns);
    let sent: u64 = requesters.iter().map(|r| r.sent).sum();
    let replies: u64 = requesters.iter().map(|r| r.replies).sum();
    let answered: u64 = requesters.iter().map(|r| r.answered).sum();
    let pub_window = window(requesters.iter().map(|r| r.last_send_ns).max().unwrap_or(0));
    let sub_window = window(
        requesters
            .iter()
            .map(|r| r.last_reply_ns)
            .max()
            .unwrap_or(0),
    );

    let histogram = merged(requesters.iter().map(|r| &r.latency));
    let mut warnings = Vec::new();
    let foreign: u64 = requesters.iter().map(|r| r.foreign).sum();
    if foreign > 0 {
        warnings.push(format!("{foreign} replies matched no request of this run"));
    }
    let errors: Vec<String> = requesters
        .iter()
        .filter_map(|r| r.error.clone())
        .chain(responders.iter().filter_map(|r| r.error.clone()))
        .collect();
    let failed = !errors.is_empty();
    warnings.extend(errors);

    let size = args.size as u64;
    RunOutcome {
        figures: Figures {
            msgs_sent: sent,
            msgs_received: replies,
            lost: sent.saturating_sub(answered),
            duplicates: requesters.iter().map(|r| r.duplicates).sum(),
            elapsed_s: pub_window.max(sub_window) as f64 / NANOS_PER_SEC,
            pub_msgs_per_s: per_second(sent, pub_window),
            sub_msgs_per_s: per_second(replies, sub_window),
            pub_mb_per_s: per_second(sent * size, pub_window) / BYTES_PER_MB,
            sub_mb_per_s: per_second(replies * size, sub_window) / BYTES_PER_MB,
            loadgen_cpu_cores: cpu_cores,
            latency_us: LatencySummary::of(&histogram),
            offered_rate: args.rate,
            achieved_rate: args.rate.map(|_| per_second(answered, sub_window)),
            connections: None,
            jetstream: None,
        },
        histogram: Some(histogram),
        sender_rates: requesters
            .iter()
            .map(|r| per_second(r.sent, window(r.last_send_ns)))
            .collect(),
        // Responders cannot tell warmup requests apart: their rates span the whole run.
        receiver_rates: responders
            .iter()
            .map(|r| per_second(r.replied, sub_window + warmup_ns))
            .collect(),
        warnings,
        failed,
    }
}

fn summarize_connect(connectors: &[ConnectorReport], cpu_cores: f64) -> RunOutcome {
    let completed: u64 = connectors.iter().map(|c| c.completed).sum();
    let failed: u64 = connectors.iter().map(|c| c.failed).sum();
    let window = connectors.iter().map(|c| c.finished_ns).max().unwrap_or(0);
    let histogram = merged(connectors.iter().map(|c| &c.latency));
    let mut warnings = Vec::new();
    if failed > 0 {
        warnings.push(format!(
            "{failed} of {} connection attempts failed",
            completed + failed
        ));
        warnings.extend(connectors.iter().filter_map(|c| c.error.clone()));
    }
    RunOutcome {
        figures: Figures {
            msgs_sent: 0,
            msgs_received: 0,
            lost: 0,
            duplicates: 0,
            elapsed_s: window as f64 / NANOS_PER_SEC,
            pub_msgs_per_s: 0.0,
            sub_msgs_per_s: 0.0,
            pub_mb_per_s: 0.0,
            sub_mb_per_s: 0.0,
            loadgen_cpu_cores: cpu_cores,
            latency_us: LatencySummary::of(&histogram),
            offered_rate: None,
            achieved_rate: None,
            connections: Some(ConnectionFigures {
                completed,
                failed,
                per_s: per_second(completed, window),
            }),
            jetstream: None,
        },
        histogram: Some(histogram),
        sender_rates: connectors
            .iter()
            .map(|c| per_second(c.completed, c.finished_ns))
            .collect(),
        receiver_rates: Vec::new(),
        warnings,
        failed: failed > 0,
    }
}

fn summarize_jetstream_publish(
    args: &RunArgs,
    publishers: &[JsPublisherReport],
    cpu_cores: f64,
) -> RunOutcome {
    let warmup_ns = args.warmup.as_nanos() as u64;
    let window = |end_ns: u64| end_ns.saturating_sub(warmup_ns);
    let sent: u64 = publishers.iter().map(|p| p.sent).sum();
    let acked: u64 = publishers.iter().map(|p| p.acked).sum();
    let refused: u64 = publishers.iter().map(|p| p.refused).sum();
    let unacked = sent.saturating_sub(acked + refused);
    let pub_window = window(publishers.iter().map(|p| p.last_send_ns).max().unwrap_or(0));
    let ack_window = window(publishers.iter().map(|p| p.last_ack_ns).max().unwrap_or(0));

    let histogram = merged(publishers.iter().map(|p| &p.latency));
    let mut warnings = Vec::new();
    if refused > 0 {
        warnings.push(format!(
            "{refused} of {sent} publishes were refused by stream {}",
            stream_spec(args).name
        ));
        warnings.extend(publishers.iter().filter_map(|p| {
            p.first_refusal
                .as_ref()
                .map(|r| format!("first refusal: {r}"))
        }));
    }
    if unacked > 0 {
        warnings.push(format!(
            "{unacked} of {sent} publishes got no ack ({ACK_TIMEOUT:?} without progress)"
        ));
    }
    let foreign: u64 = publishers.iter().map(|p| p.foreign).sum();
    if foreign > 0 {
        warnings.push(format!(
            "{foreign} messages on the publishers' inboxes were not acks to this run's publishes"
        ));
    }
    let errors: Vec<String> = publishers.iter().filter_map(|p| p.error.clone()).collect();
    let failed = !errors.is_empty() || refused > 0 || unacked > 0;
    warnings.extend(errors);

    let size = args.size as u64;
    RunOutcome {
        figures: Figures {
            msgs_sent: sent,
            msgs_received: acked,
            lost: sent.saturating_sub(acked),
            duplicates: publishers.iter().map(|p| p.duplicates).sum(),
            elapsed_s: pub_window.max(ack_window) as f64 / NANOS_PER_SEC,
            pub_msgs_per_s: per_second(sent, pub_window),
            sub_msgs_per_s: per_second(acked, ack_window),
            pub_mb_per_s: per_second(sent * size, pub_window) / BYTES_PER_MB,
            sub_mb_per_s: per_second(acked * size, ack_window) / BYTES_PER_MB,
            loadgen_cpu_cores: cpu_cores,
            latency_us: LatencySummary::of(&histogram),
            offered_rate: None,
            achieved_rate: None,
            connections: None,
            jetstream: Some(JetStreamFigures {
                stream: stream_spec(args).name,
                storage: args.js.storage.name(),
                window: args.js.window,
                acked,
                refused,
                unacked,
                consumer: None,
            }),
        },
        histogram: Some(histogram),
        sender_rates: publishers
            .iter()
            .map(|p| per_second(p.sent, window(p.last_send_ns)))
            .collect(),
        // Each publisher's acks, in the receivers' column.
        receiver_rates: publishers
            .iter()
            .map(|p| per_second(p.acked, window(p.last_ack_ns)))
            .collect(),
        warnings,
        failed,
    }
}

fn summarize_consume(args: &RunArgs, consumers: &[ConsumerReport], cpu_cores: f64) -> RunOutcome {
    let stored = match args.length {
        RunLength::Msgs(n) => n,
        RunLength::Duration(_) => 0,
    };
    let received: u64 = consumers.iter().map(|c| c.received).sum();
    let out_of_order: u64 = consumers.iter().map(|c| c.out_of_order).sum();
    let window = consumers
        .iter()
        .map(|c| c.last_receive_ns)
        .max()
        .unwrap_or(0);
    let mut warnings = Vec::new();
    if received < stored {
        warnings.push(format!(
            "{} of {stored} stored messages were not delivered",
            stored - received
        ));
    }
    let errors: Vec<String> = consumers.iter().filter_map(|c| c.error.clone()).collect();
    let failed = !errors.is_empty() || received < stored || out_of_order > 0;
    warnings.extend(errors);
    let pull = args.scenario == Scenario::JsFetch;
    let size = args.size as u64;
    RunOutcome {
        figures: Figures {
            msgs_sent: stored,
            msgs_received: received,
            lost: stored.saturating_sub(received),
            duplicates: out_of_order,
            elapsed_s: window as f64 / NANOS_PER_SEC,
            pub_msgs_per_s: 0.0,
            sub_msgs_per_s: per_second(received, window),
            pub_mb_per_s: 0.0,
            sub_mb_per_s: per_second(received * size, window) / BYTES_PER_MB,
            loadgen_cpu_cores: cpu_cores,
            latency_us: None,
            offered_rate: None,
            achieved_rate: None,
            connections: None,
            jetstream: Some(JetStreamFigures {
                stream: args.js.stream.clone(),
                storage: args.js.storage.name(),
                window: args.js.window,
                acked: stored,
                refused: 0,
                unacked: 0,
                consumer: Some(ConsumerFigures {
                    kind: if pull { "pull" } else { "ordered" },
                    batch: pull.then_some(args.js.batch),
                    requests: consumers.iter().map(|c| c.requests).sum(),
                    idle: consumers.iter().map(|c| c.idle).sum(),
                    out_of_order,
                }),
            }),
        },
        histogram: None,
        sender_rates: Vec::new(),
        receiver_rates: consumers
            .iter()
            .map(|c| per_second(c.received, c.last_receive_ns))
            .collect(),
        warnings,
        failed,
    }
}

fn summarize_kv_watch(watchers: &[WatcherReport], cpu_cores: f64) -> RunOutcome {
    let watches: u64 = watchers.iter().map(|w| w.watches).sum();
    let values: u64 = watchers.iter().map(|w| w.values).sum();
    let window = watchers.iter().map(|w| w.finished_ns).max().unwrap_or(0);
    let histogram = merged(watchers.iter().map(|w| &w.latency));
    let errors: Vec<String> = watchers.iter().filter_map(|w| w.error.clone()).collect();
    RunOutcome {
        figures: Figures {
            msgs_sent: watches,
            msgs_received: values,
            lost: watches.saturating_sub(values),
            duplicates: 0,
            elapsed_s: window as f64 / NANOS_PER_SEC,
            pub_msgs_per_s: per_second(watches, window),
            sub_msgs_per_s: per_second(values, window),
            pub_mb_per_s: 0.0,
            sub_mb_per_s: 0.0,
            loadgen_cpu_cores: cpu_cores,
            latency_us: LatencySummary::of(&histogram),
            offered_rate: None,
            achieved_rate: None,
            connections: None,
            jetstream: None,
        },
        histogram: Some(histogram),
        sender_rates: Vec::new(),
        receiver_rates: Vec::new(),
        failed: !errors.is_empty(),
        warnings: errors,
    }
}

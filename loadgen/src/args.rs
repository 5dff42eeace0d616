//! The command line: `loadgen SCENARIO [flags]` and `loadgen ramp --scenario S [flags]`.
//! Every refusal is an `ArgError`, which `main` prints with a pointer to `--help` and exit
//! code 2, as command-line tools conventionally do for usage errors.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::jetstream::Storage;
use crate::payload::{MAX_PUBLISHERS, STAMP_BYTES};
use crate::server_url::{Credentials, ServerUrl};
use crate::slo::Slo;

const DEFAULT_SERVER: &str = "nats://127.0.0.1:4222";
const DEFAULT_SIZE: usize = 128;
/// Closed-loop throughput runs send this many messages unless told otherwise: long enough
/// that connection setup and the final flush are noise in the rate.
const DEFAULT_THROUGHPUT_MSGS: u64 = 1_000_000;
/// Closed-loop request/reply waits a round trip per request; 100k keeps it to seconds.
const DEFAULT_REQREP_MSGS: u64 = 100_000;
/// jspub waits for an ack per message; 100k is `nats bench`'s default count too. The other
/// JetStream message scenarios (consumers, kv puts and gets) default to it as well.
const DEFAULT_JSPUB_MSGS: u64 = 100_000;
/// kvwatch creates (and deletes) a consumer per watch, each a round trip that on a large
/// bucket takes milliseconds: 10 give a median.
const DEFAULT_KV_WATCHES: u64 = 10;
/// jspub's publishes without an ack per publisher: nats.go's async publishers allow far
/// more (4000), `nats bench js pub --async` waits for each batch of 100 (its default
/// `--batch`); 256 keeps a file stream's group commits full without a deep queue.
const DEFAULT_JS_WINDOW: usize = 256;
/// The send times of a window's publishes are held per publisher; a million is far past
/// what any client library keeps outstanding.
const MAX_JS_WINDOW: usize = 1_000_000;
const DEFAULT_JS_STREAM: &str = "LOADGEN";
/// jsfetch's messages per pull request: `nats bench js fetch`'s default `--batch`.
const DEFAULT_JS_BATCH: usize = 100;
/// A pull request's batch is held by the server as one waiting request; 100k is far past
/// what clients ask for.
const MAX_JS_BATCH: usize = 100_000;
const DEFAULT_KV_BUCKET: &str = "LOADGEN";
/// Keys the kv scenarios spread over.
const DEFAULT_KV_KEYS: u64 = 10_000;
/// Each key's subject is held in memory (about 60 bytes with its `String`); 10M keys is
/// 600 MB of loadgen.
const MAX_KV_KEYS: u64 = 10_000_000;
/// A connection storm costs a TCP handshake and a NATS round trip per connection: 10k keeps
/// it to a few seconds on loopback.
const DEFAULT_CONNECT_CONNECTIONS: u64 = 10_000;
/// Concurrent connectors of the connect scenario, when not given: enough to keep a server's
/// accept queue busy while each connector waits out its own round trips.
const DEFAULT_CONNECT_CLIENTS: usize = 16;
/// Open-loop runs are paced by the clock, so they default to a duration.
const DEFAULT_OPEN_LOOP_DURATION: Duration = Duration::from_secs(10);
/// Subscribers of fanout and queue, publishers of fanin, when not given: enough to show
/// the fan factor on a 2-core machine.
const DEFAULT_GROUP_SIZE: usize = 4;
const DEFAULT_SUBJECTS: usize = 16;
/// Connections per role are capped because each one is a thread.
const MAX_CONNECTIONS_PER_ROLE: usize = 1024;
const _: () = assert!(MAX_CONNECTIONS_PER_ROLE <= MAX_PUBLISHERS);
/// SUBs each connection of the connect scenario sends before its PING, as a reconnecting
/// client re-subscribes. They go out in one write; 10,000 (about 300 KB) is far more than
/// clients usually hold.
const MAX_SUBS_PER_CONNECTION: usize = 10_000;
/// Subjects of the `subjects` scenario are held in memory as PUB headers.
const MAX_SUBJECTS: usize = 1_000_000;
const DEFAULT_RAMP_START: f64 = 10_000.0;
const DEFAULT_RAMP_STEP: f64 = 10_000.0;
const DEFAULT_RAMP_MAX: f64 = 1_000_000.0;
const DEFAULT_STEP_DURATION: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgError(pub String);

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn refuse<T>(message: impl Into<String>) -> Result<T, ArgError> {
    Err(ArgError(message.into()))
}

/// Named after the Go server's benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// N publishers, no subscribers.
    Pub,
    /// N publishers x M subscribers on one subject.
    PubSub,
    /// One publisher, N subscribers.
    Fanout,
    /// N publishers, one subscriber.
    Fanin,
    /// One publisher, a queue group of N subscribers.
    Queue,
    /// K requesters, a queue group of R responders.
    ReqRep,
    /// Traffic spread over S subjects, M wildcard subscribers.
    Subjects,
    /// K clients open, handshake and close connections as fast as they can.
    Connect,
    /// N publishers into a JetStream stream, each with up to W acks outstanding.
    JsPub,
    /// A durable pull consumer fetching a filled stream in batches, acking each message.
    JsFetch,
    /// An ordered push consumer (flow control, heartbeats) reading a filled stream.
    JsOrdered,
    /// N publishers putting values into a key-value bucket, up to W acks outstanding each.
    KvPut,
    /// Direct gets of a filled bucket's keys, up to W outstanding.
    KvGet,
    /// Watches of one key each (a filtered ordered consumer) on an existing bucket, one
    /// after another, timing each consumer's create.
    KvWatch,
}

impl Scenario {
    pub const ALL: [Scenario; 14] = [
        Scenario::Pub,
        Scenario::PubSub,
        Scenario::Fanout,
        Scenario::Fanin,
        Scenario::Queue,
        Scenario::ReqRep,
        Scenario::Subjects,
        Scenario::Connect,
        Scenario::JsPub,
        Scenario::JsFetch,
        Scenario::JsOrdered,
        Scenario::KvPut,
        Scenario::KvGet,
        Scenario::KvWatch,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Pub => "pub",
            Scenario::PubSub => "pubsub",
            Scenario::Fanout => "fanout",
            Scenario::Fanin => "fanin",
            Scenario::Queue => "queue",
            Scenario::ReqRep => "reqrep",
            Scenario::Subjects => "subjects",
            Scenario::Connect => "connect",
            Scenario::JsPub => "jspub",
            Scenario::JsFetch => "jsfetch",
            Scenario::JsOrdered => "jsordered",
            Scenario::KvPut => "kvput",
            Scenario::KvGet => "kvget",
            Scenario::KvWatch => "kvwatch",
        }
    }

    /// What `--msgs` counts.
    pub fn unit(self) -> &'static str {
        match self {
            Scenario::Connect => "connections",
            Scenario::KvWatch => "watches",
            _ => "msgs",
        }
    }

    /// Whether the run talks to JetStream (and takes the `--js-*` and `--kv-*` flags).
    pub fn is_jetstream(self) -> bool {
        matches!(
            self,
            Scenario::JsPub
                | Scenario::JsFetch
                | Scenario::JsOrdered
                | Scenario::KvPut
                | Scenario::KvGet
                | Scenario::KvWatch
        )
    }

    /// Whether the run's stream is a key-value bucket.
    pub fn is_key_value(self) -> bool {
        matches!(self, Scenario::KvPut | Scenario::KvGet | Scenario::KvWatch)
    }

    /// Whether a consumer reads a stream the run fills first.
    pub fn consumes(self) -> bool {
        matches!(self, Scenario::JsFetch | Scenario::JsOrdered)
    }

    fn from_name(name: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|s| s.name() == name)
    }

    fn takes_pubs(self) -> bool {
        matches!(
            self,
            Scenario::Pub
                | Scenario::PubSub
                | Scenario::Fanin
                | Scenario::Subjects
                | Scenario::JsPub
                | Scenario::KvPut
        )
    }

    fn takes_subs(self) -> bool {
        matches!(
            self,
            Scenario::PubSub
                | Scenario::Fanout
                | Scenario::Queue
                | Scenario::Subjects
                | Scenario::Connect
        )
    }

    fn takes_clients(self) -> bool {
        matches!(self, Scenario::ReqRep | Scenario::Connect)
    }

    fn default_pubs(self) -> usize {
        match self {
            Scenario::Fanin => DEFAULT_GROUP_SIZE,
            Scenario::ReqRep | Scenario::Connect => 0,
            _ => 1,
        }
    }

    fn default_subs(self) -> usize {
        match self {
            Scenario::Fanout | Scenario::Queue => DEFAULT_GROUP_SIZE,
            Scenario::Pub | Scenario::ReqRep | Scenario::Connect => 0,
            s if s.is_jetstream() => 0,
            _ => 1,
        }
    }

    fn default_clients(self) -> usize {
        match self {
            Scenario::Connect => DEFAULT_CONNECT_CLIENTS,
            _ => 1,
        }
    }

    fn default_size(self) -> usize {
        match self {
            // No messages, so no payload.
            Scenario::Connect | Scenario::KvWatch => 0,
            _ => DEFAULT_SIZE,
        }
    }
}

/// When a run stops: after a message count (total over publishers) or a duration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RunLength {
    Msgs(u64),
    Duration(Duration),
}

/// Everything one run needs, defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct RunArgs {
    pub scenario: Scenario,
    pub server: ServerUrl,
    /// Where subscribers connect, when not `server`: another server of a cluster, so the
    /// messages cross a route.
    pub sub_server: Option<ServerUrl>,
    pub size: usize,
    pub length: RunLength,
    pub pubs: usize,
    /// Subscribers; for connect, SUBs per connection.
    pub subs: usize,
    /// reqrep: concurrent requesters; connect: concurrent connectors.
    pub clients: usize,
    /// reqrep: members of the responder queue group.
    pub responders: usize,
    /// reqrep closed loop: outstanding requests per requester.
    pub inflight: usize,
    /// Closed-loop senders wait for a PONG after every this many messages, as a client's
    /// `flush()` does.
    pub flush: Option<u64>,
    pub subject: String,
    /// subjects scenario: how many subjects traffic is spread over.
    pub subjects: usize,
    /// Open loop: total offered messages per second over all publishers.
    pub rate: Option<f64>,
    /// Traffic sent before measuring starts; zero for none.
    pub warmup: Duration,
    /// The JetStream scenarios' stream or bucket, ack window and batch.
    pub js: JsArgs,
    pub json: Option<PathBuf>,
    pub hgrm: Option<PathBuf>,
    pub quiet: bool,
    pub seed: u64,
}

/// The JetStream scenarios' stream or bucket, ack window and batch (defaults for the other
/// scenarios, which ignore them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsArgs {
    /// jspub, jsfetch, jsordered.
    pub stream: String,
    pub storage: Storage,
    /// Publishes (or kvget's gets) per publisher that may wait for their answer.
    pub window: usize,
    /// jsfetch: messages per pull request.
    pub batch: usize,
    /// kvput, kvget, kvwatch.
    pub bucket: String,
    /// kvput, kvget, kvwatch: keys spread over (kvwatch: that the bucket holds).
    pub keys: u64,
}

impl RunArgs {
    /// Whether latency is recorded: open loop, request/reply, connect's handshakes,
    /// publish-to-ack times, kvget's get-to-reply and kvwatch's consumer create times.
    pub fn measures_latency(&self) -> bool {
        self.rate.is_some() || self.scenario.measures_latency()
    }
}

impl Scenario {
    /// Whether a closed-loop run of this scenario records latency.
    fn measures_latency(self) -> bool {
        matches!(
            self,
            Scenario::ReqRep
                | Scenario::Connect
                | Scenario::JsPub
                | Scenario::KvPut
                | Scenario::KvGet
                | Scenario::KvWatch
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RampArgs {
    /// The scenario each step runs, with `rate` unset and `length` the step duration.
    pub run: RunArgs,
    pub start: f64,
    pub step: f64,
    pub max: f64,
    pub step_duration: Duration,
    pub slos: Vec<Slo>,
    pub plot: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Run(RunArgs),
    Ramp(RampArgs),
    Help,
    Version,
}

/// Flags as given, before defaults and cross-checks.
#[derive(Default)]
struct Given {
    scenario_flag: Option<Scenario>,
    server: Option<ServerUrl>,
    sub_server: Option<ServerUrl>,
    user: Option<String>,
    pass: Option<String>,
    token: Option<String>,
    tls_ca: Option<std::path::PathBuf>,
    size: Option<usize>,
    msgs: Option<u64>,
    duration: Option<Duration>,
    pubs: Option<usize>,
    subs: Option<usize>,
    clients: Option<usize>,
    responders: Option<usize>,
    inflight: Option<usize>,
    flush: Option<u64>,
    subject: Option<String>,
    subjects: Option<usize>,
    rate: Option<f64>,
    warmup: Option<Duration>,
    js_stream: Option<String>,
    js_storage: Option<Storage>,
    js_window: Option<usize>,
    js_batch: Option<usize>,
    kv_bucket: Option<String>,
    kv_keys: Option<u64>,
    json: Option<PathBuf>,
    hgrm: Option<PathBuf>,
    quiet: bool,
    seed: Option<u64>,
    start: Option<f64>,
    step: Option<f64>,
    max: Option<f64>,
    step_duration: Option<Duration>,
    slos: Vec<Slo>,
    plot: Option<PathBuf>,
}

/// Parses the arguments after the program name. `default_seed` is used when `--seed` is not
/// given, so that a run's seed is always known and reported.
pub fn parse(args: &[String], default_seed: u64) -> Result<Command, ArgError> {
    let mut given = Given::default();
    let mut positional = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            "--quiet" | "-q" => given.quiet = true,
            "--" => positional.extend(rest.by_ref().cloned()),
            flag if flag.starts_with("--") => {
                let (name, value) = match flag.split_once('=') {
                    Some((name, value)) => (name, value.to_string()),
                    None => match rest.next() {
                        Some(value) => (flag, value.clone()),
                        None => return refuse(format!("{flag} needs a value")),
                    },
                };
                given.set(name, &value)?;
            }
            flag if flag.starts_with('-') && flag.len() > 1 => {
                return refuse(format!("unknown flag {flag}"))
            }
            word => positional.push(word.to_string()),
        }
    }
    let mut positional = positional.into_iter();
    let Some(command) = positional.next() else {
        return refuse("no scenario given");
    };
    if let Some(extra) = positional.next() {
        return refuse(format!("unexpected argument {extra}"));
    }
    if command == "ramp" {
        return given.into_ramp(default_seed).map(Command::Ramp);
    }
    let Some(scenario) = Scenario::from_name(&command) else {
        return refuse(format!(
            "unknown scenario {command} (one of: {}, ramp)",
            scenario_names()
        ));
    };
    given.refuse_ramp_flags(scenario)?;
    given
        .into_run(scenario, default_seed, false)
        .map(Command::Run)
}

fn scenario_names() -> String {
    Scenario::ALL.map(Scenario::name).join(", ")
}

impl Given {
    fn set(&mut self, flag: &str, value: &str) -> Result<(), ArgError> {
        fn put<T>(slot: &mut Option<T>, flag: &str, value: T) -> Result<(), ArgError> {
            if slot.is_some() {
                return refuse(format!("{flag} given twice"));
            }
            *slot = Some(value);
            Ok(())
        }
        match flag {
            "--scenario" => {
                let scenario = Scenario::from_name(value).ok_or_else(|| {
                    ArgError(format!(
                        "--scenario {value}: unknown scenario (one of: {})",
                        scenario_names()
                    ))
                })?;
                put(&mut self.scenario_flag, flag, scenario)
            }
            "--server" => put(
                &mut self.server,
                flag,
                ServerUrl::parse(value).map_err(ArgError)?,
            ),
            "--sub-server" => put(
                &mut self.sub_server,
                flag,
                ServerUrl::parse(value).map_err(ArgError)?,
            ),
            "--user" => put(&mut self.user, flag, value.to_string()),
            "--pass" => put(&mut self.pass, flag, value.to_string()),
            "--token" => put(&mut self.token, flag, value.to_string()),
            "--tls-ca" => put(&mut self.tls_ca, flag, value.into()),
            "--size" => put(&mut self.size, flag, parse_size(flag, value)?),
            "--msgs" => put(&mut self.msgs, flag, parse_count(flag, value)?),
            "--duration" => put(&mut self.duration, flag, parse_duration(flag, value)?),
            "--pubs" => put(&mut self.pubs, flag, parse_connections(flag, value)?),
            "--subs" => put(&mut self.subs, flag, parse_whole(flag, value)?),
            "--clients" => put(&mut self.clients, flag, parse_connections(flag, value)?),
            "--responders" => put(&mut self.responders, flag, parse_connections(flag, value)?),
            "--inflight" => put(&mut self.inflight, flag, parse_inflight(flag, value)?),
            "--flush" => put(&mut self.flush, flag, parse_count(flag, value)?),
            "--subject" => put(&mut self.subject, flag, parse_subject(value)?),
            "--subjects" => put(&mut self.subjects, flag, parse_subjects(flag, value)?),
            "--rate" => put(&mut self.rate, flag, parse_rate(flag, value)?),
            "--warmup" => put(&mut self.warmup, flag, parse_duration(flag, value)?),
            "--js-stream" => put(&mut self.js_stream, flag, parse_stream_name(flag, value)?),
            "--js-storage" => put(&mut self.js_storage, flag, parse_storage(flag, value)?),
            "--js-window" => put(
                &mut self.js_window,
                flag,
                check_range(
                    flag,
                    parse_whole(flag, value)?,
                    1,
                    MAX_JS_WINDOW,
                    "publishes awaiting their ack, per publisher",
                )?,
            ),
            "--js-batch" => put(
                &mut self.js_batch,
                flag,
                check_range(
                    flag,
                    parse_whole(flag, value)?,
                    1,
                    MAX_JS_BATCH,
                    "messages per pull request",
                )?,
            ),
            "--kv-bucket" => put(&mut self.kv_bucket, flag, parse_stream_name(flag, value)?),
            "--kv-keys" => {
                let keys = parse_count(flag, value)?;
                if keys > MAX_KV_KEYS {
                    return refuse(format!(
                        "{flag} {value}: expected 1 to {MAX_KV_KEYS} (each key's subject is held in memory)"
                    ));
                }
                put(&mut self.kv_keys, flag, keys)
            }
            "--json" => put(&mut self.json, flag, PathBuf::from(value)),
            "--hgrm" => put(&mut self.hgrm, flag, PathBuf::from(value)),
            "--seed" => put(&mut self.seed, flag, parse_seed(flag, value)?),
            "--start" => put(&mut self.start, flag, parse_rate(flag, value)?),
            "--step" => put(&mut self.step, flag, parse_rate(flag, value)?),
            "--max" => put(&mut self.max, flag, parse_rate(flag, value)?),
            "--step-duration" => put(&mut self.step_duration, flag, parse_duration(flag, value)?),
            "--slo" => {
                self.slos.push(Slo::parse(value).map_err(ArgError)?);
                Ok(())
            }
            "--plot" => put(&mut self.plot, flag, PathBuf::from(value)),
            _ => refuse(format!("unknown flag {flag}")),
        }
    }

    fn refuse_ramp_flags(&self, scenario: Scenario) -> Result<(), ArgError> {
        let ramp_only = [
            ("--scenario", self.scenario_flag.is_some()),
            ("--start", self.start.is_some()),
            ("--step", self.step.is_some()),
            ("--max", self.max.is_some()),
            ("--step-duration", self.step_duration.is_some()),
            ("--slo", !self.slos.is_empty()),
            ("--plot", self.plot.is_some()),
        ];
        match ramp_only.iter().find(|(_, present)| *present) {
            Some((flag, _)) => refuse(format!(
                "{flag} belongs to `loadgen ramp`, not to `loadgen {}`",
                scenario.name()
            )),
            None => Ok(()),
        }
    }

    fn into_ramp(self, default_seed: u64) -> Result<RampArgs, ArgError> {
        let Some(scenario) = self.scenario_flag else {
            return refuse("ramp needs --scenario (e.g. --scenario pubsub)");
        };
        match scenario {
            Scenario::Pub => {
                return refuse("ramp measures latency, and the pub scenario has no subscribers")
            }
            s if s == Scenario::Connect || s.is_jetstream() => {
                return refuse(format!(
                    "ramp offers message rates; {} is closed loop only",
                    scenario.name()
                ))
            }
            _ => {}
        }
        for (flag, present) in [
            ("--rate", self.rate.is_some()),
            ("--msgs", self.msgs.is_some()),
            ("--duration", self.duration.is_some()),
            ("--inflight", self.inflight.is_some()),
        ] {
            if present {
                return refuse(format!(
                    "{flag} does not apply to ramp: steps run open loop at --start, --start+--step, ... for --step-duration each"
                ));
            }
        }
        let start = self.start.unwrap_or(DEFAULT_RAMP_START);
        let step = self.step.unwrap_or(DEFAULT_RAMP_STEP);
        let max = self.max.unwrap_or(DEFAULT_RAMP_MAX);
        if start > max {
            return refuse(format!("--start {start} is above --max {max}"));
        }
        let step_duration = self.step_duration.unwrap_or(DEFAULT_STEP_DURATION);
        let slos = self.slos.clone();
        let plot = self.plot.clone();
        let mut run = self.into_run(scenario, default_seed, true)?;
        run.length = RunLength::Duration(step_duration);
        Ok(RampArgs {
            run,
            start,
            step,
            max,
            step_duration,
            slos,
            plot,
        })
    }

    /// `ramp_steps`: the run is a ramp's template, whose steps all run open loop.
    fn into_run(
        self,
        scenario: Scenario,
        default_seed: u64,
        ramp_steps: bool,
    ) -> Result<RunArgs, ArgError> {
        let name = scenario.name();
        if self.pubs.is_some() && !scenario.takes_pubs() {
            return refuse(match scenario {
                Scenario::ReqRep => "reqrep takes --clients (requesters), not --pubs".to_string(),
                Scenario::Connect => "connect takes --clients (connectors), not --pubs".to_string(),
                s if s.is_jetstream() => {
                    format!("{name} has one client; --pubs applies to jspub and kvput")
                }
                _ => format!(
                    "{name} has one publisher; --pubs applies to pub, pubsub, fanin and subjects"
                ),
            });
        }
        if self.subs.is_some() && !scenario.takes_subs() {
            return refuse(match scenario {
                Scenario::ReqRep => "reqrep takes --responders, not --subs".to_string(),
                Scenario::Pub => "pub has no subscribers; use pubsub for publishers and subscribers".to_string(),
                Scenario::JsPub => "jspub has no subscribers: the stream acks each message".to_string(),
                s if s.is_jetstream() => format!("{name} has no subscribers: its one client talks to the stream"),
                _ => format!("{name} has one subscriber; --subs applies to pubsub, fanout, queue, subjects and connect"),
            });
        }
        if self.clients.is_some() && !scenario.takes_clients() {
            return refuse("--clients applies to reqrep and connect only");
        }
        if scenario != Scenario::ReqRep {
            for (flag, present) in [
                ("--responders", self.responders.is_some()),
                ("--inflight", self.inflight.is_some()),
            ] {
                if present {
                    return refuse(format!("{flag} applies to reqrep only"));
                }
            }
        }
        if scenario == Scenario::Connect {
            for (flag, present, why) in [
                ("--size", self.size.is_some(), "it sends no messages"),
                (
                    "--rate",
                    self.rate.is_some(),
                    "it is closed loop, each client opening its next connection once the last is closed",
                ),
                ("--warmup", self.warmup.is_some(), "it measures every connection"),
            ] {
                if present {
                    return refuse(format!("{flag} does not apply to connect: {why}"));
                }
            }
        }
        if self.subjects.is_some() && scenario != Scenario::Subjects {
            return refuse("--subjects applies to the subjects scenario only");
        }
        self.refuse_jetstream_flags(scenario)?;
        if self.msgs.is_some() && self.duration.is_some() {
            return refuse("give --msgs or --duration, not both");
        }
        if self.flush.is_some()
            && (self.rate.is_some()
                || matches!(scenario, Scenario::ReqRep | Scenario::Connect)
                || ramp_steps)
        {
            return refuse("--flush applies to closed-loop publishers only");
        }
        if self.rate.is_some() && self.inflight.is_some() {
            return refuse(
                "--inflight is for closed loop; with --rate requests follow the schedule",
            );
        }
        let length = match (self.msgs, self.duration) {
            (Some(msgs), _) => RunLength::Msgs(msgs),
            (_, Some(duration)) => RunLength::Duration(duration),
            _ if self.rate.is_some() => RunLength::Duration(DEFAULT_OPEN_LOOP_DURATION),
            _ if scenario == Scenario::ReqRep => RunLength::Msgs(DEFAULT_REQREP_MSGS),
            _ if scenario == Scenario::Connect => RunLength::Msgs(DEFAULT_CONNECT_CONNECTIONS),
            _ if scenario == Scenario::KvWatch => RunLength::Msgs(DEFAULT_KV_WATCHES),
            _ if scenario.is_jetstream() => RunLength::Msgs(DEFAULT_JSPUB_MSGS),
            _ => RunLength::Msgs(DEFAULT_THROUGHPUT_MSGS),
        };
        let subs = match self.subs {
            None => scenario.default_subs(),
            Some(n) if scenario == Scenario::Connect => check_range(
                "--subs",
                n,
                0,
                MAX_SUBS_PER_CONNECTION,
                "SUBs per connection",
            )?,
            Some(n) => check_connections("--subs", n)?,
        };
        let size = self.size.unwrap_or(scenario.default_size());
        if ramp_steps {
            check_stamp_room(size, "ramp")?;
        } else if self.rate.is_some() {
            check_stamp_room(size, "--rate")?;
        } else if scenario == Scenario::ReqRep {
            check_stamp_room(size, "reqrep")?;
        }
        let server = self.credentials_into(match self.server.clone() {
            Some(server) => server,
            None => ServerUrl::parse(DEFAULT_SERVER).map_err(ArgError)?,
        })?;
        let latency_measured = ramp_steps || self.rate.is_some() || scenario.measures_latency();
        if self.hgrm.is_some() && !latency_measured {
            return refuse(
                "--hgrm needs latency, which is measured in open loop (--rate), by reqrep, connect, jspub, kvput, kvget and kvwatch",
            );
        }
        let sub_server = self
            .sub_server
            .clone()
            .map(|s| self.credentials_into(s))
            .transpose()?;
        Ok(RunArgs {
            scenario,
            server,
            sub_server,
            size,
            length,
            pubs: self.pubs.unwrap_or(scenario.default_pubs()),
            subs,
            clients: self.clients.unwrap_or(scenario.default_clients()),
            responders: self.responders.unwrap_or(1),
            inflight: self.inflight.unwrap_or(1),
            flush: self.flush,
            subject: self.subject.unwrap_or_else(|| format!("loadgen.{name}")),
            subjects: self.subjects.unwrap_or(DEFAULT_SUBJECTS),
            rate: self.rate,
            warmup: self.warmup.unwrap_or(Duration::ZERO),
            js: JsArgs {
                stream: self
                    .js_stream
                    .unwrap_or_else(|| DEFAULT_JS_STREAM.to_string()),
                storage: self.js_storage.unwrap_or(Storage::File),
                window: self.js_window.unwrap_or(DEFAULT_JS_WINDOW),
                batch: self.js_batch.unwrap_or(DEFAULT_JS_BATCH),
                bucket: self
                    .kv_bucket
                    .unwrap_or_else(|| DEFAULT_KV_BUCKET.to_string()),
                keys: self.kv_keys.unwrap_or(DEFAULT_KV_KEYS),
            },
            json: self.json,
            hgrm: self.hgrm,
            quiet: self.quiet,
            seed: self.seed.unwrap_or(default_seed),
        })
    }

    /// The JetStream scenarios' own refusals: each `--js-*`/`--kv-*` flag belongs to some of
    /// them; none of them is open loop; a consumer reads a stream of `--msgs` messages
    /// whole, and kvwatch writes nothing.
    fn refuse_jetstream_flags(&self, scenario: Scenario) -> Result<(), ArgError> {
        use Scenario::{JsFetch, JsOrdered, JsPub, KvGet, KvPut, KvWatch};
        let name = scenario.name();
        let belongs: [(&str, bool, &[Scenario]); 6] = [
            (
                "--js-stream",
                self.js_stream.is_some(),
                &[JsPub, JsFetch, JsOrdered],
            ),
            (
                "--js-storage",
                self.js_storage.is_some(),
                &[JsPub, JsFetch, JsOrdered, KvPut, KvGet],
            ),
            (
                "--js-window",
                self.js_window.is_some(),
                &[JsPub, JsFetch, JsOrdered, KvPut, KvGet],
            ),
            ("--js-batch", self.js_batch.is_some(), &[JsFetch]),
            (
                "--kv-bucket",
                self.kv_bucket.is_some(),
                &[KvPut, KvGet, KvWatch],
            ),
            (
                "--kv-keys",
                self.kv_keys.is_some(),
                &[KvPut, KvGet, KvWatch],
            ),
        ];
        for (flag, present, scenarios) in belongs {
            if present && !scenarios.contains(&scenario) {
                let names: Vec<&str> = scenarios.iter().map(|s| s.name()).collect();
                return refuse(format!("{flag} applies to {} only", names.join(", ")));
            }
        }
        if !scenario.is_jetstream() {
            return Ok(());
        }
        let refusals = [
            (
                "--rate",
                self.rate.is_some(),
                "it is closed loop, paced by the server's answers",
            ),
            (
                "--flush",
                self.flush.is_some(),
                "it is closed loop, paced by the server's answers",
            ),
            (
                "--duration",
                self.duration.is_some() && (scenario.consumes() || scenario == KvWatch),
                "it runs until --msgs are consumed (or watches done)",
            ),
            (
                "--warmup",
                self.warmup.is_some() && (scenario.consumes() || scenario == KvWatch),
                "it measures the whole stream (or every watch)",
            ),
            (
                "--subject",
                self.subject.is_some() && scenario.is_key_value(),
                "keys are subjects $KV.<bucket>.<key> of --kv-bucket",
            ),
            (
                "--size",
                self.size.is_some() && scenario == KvWatch,
                "it writes nothing (fill the bucket with kvput)",
            ),
        ];
        match refusals.into_iter().find(|(_, present, _)| *present) {
            Some((flag, _, why)) => refuse(format!("{flag} does not apply to {name}: {why}")),
            None => Ok(()),
        }
    }

    /// `--user/--pass/--token` override credentials in the URL.
    fn credentials_into(&self, mut server: ServerUrl) -> Result<ServerUrl, ArgError> {
        server.credentials = match (&self.user, &self.pass, &self.token) {
            (None, None, None) => server.credentials,
            (Some(user), Some(pass), None) => Credentials::UserPass {
                user: user.clone(),
                pass: pass.clone(),
            },
            (None, None, Some(token)) => Credentials::Token(token.clone()),
            (_, _, Some(_)) => return refuse("give --token or --user/--pass, not both"),
            (Some(_), None, None) => return refuse("--user needs --pass"),
            (None, Some(_), None) => return refuse("--pass needs --user"),
        };
        server.tls_ca.clone_from(&self.tls_ca);
        if server.scheme.uses_tls() && server.tls_ca.is_none() {
            return refuse("tls:// and wss:// need --tls-ca FILE (the CA that signed the server's certificate)");
        }
        Ok(server)
    }
}

fn check_stamp_room(size: usize, why: &str) -> Result<(), ArgError> {
    if size < STAMP_BYTES {
        return refuse(format!(
            "--size {size} is too small for {why}: latency is measured from a {STAMP_BYTES}-byte send-time stamp in the payload, so --size must be at least {STAMP_BYTES}"
        ));
    }
    Ok(())
}

/// A whole number with optional `_` separators and a k (10^3), M (10^6) or G (10^9) suffix.
fn parse_scaled(value: &str) -> Option<f64> {
    let cleaned = value.replace('_', "");
    let (digits, scale) = match cleaned.char_indices().last() {
        Some((at, 'k' | 'K')) => (&cleaned[..at], 1e3),
        Some((at, 'M')) => (&cleaned[..at], 1e6),
        Some((at, 'G')) => (&cleaned[..at], 1e9),
        _ => (cleaned.as_str(), 1.0),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    let number: f64 = digits.parse().ok()?;
    Some(number * scale).filter(|n| n.is_finite())
}

fn parse_count(flag: &str, value: &str) -> Result<u64, ArgError> {
    match parse_scaled(value) {
        Some(n) if n >= 1.0 && n.fract() == 0.0 && n < u64::MAX as f64 => Ok(n as u64),
        _ => refuse(format!(
            "{flag} {value}: expected a whole number of at least 1 (e.g. 50000, 2M)"
        )),
    }
}

fn parse_rate(flag: &str, value: &str) -> Result<f64, ArgError> {
    match parse_scaled(value) {
        Some(n) if n > 0.0 => Ok(n),
        _ => refuse(format!(
            "{flag} {value}: expected messages per second above 0 (e.g. 50000, 1.5M)"
        )),
    }
}

fn parse_size(flag: &str, value: &str) -> Result<usize, ArgError> {
    value
        .parse()
        .map_err(|_| ArgError(format!("{flag} {value}: expected a payload size in bytes")))
}

fn parse_connections(flag: &str, value: &str) -> Result<usize, ArgError> {
    check_connections(flag, parse_whole(flag, value)?)
}

fn check_connections(flag: &str, n: usize) -> Result<usize, ArgError> {
    check_range(
        flag,
        n,
        1,
        MAX_CONNECTIONS_PER_ROLE,
        "one connection and thread each",
    )
}

fn check_range(flag: &str, n: usize, min: usize, max: usize, why: &str) -> Result<usize, ArgError> {
    if (min..=max).contains(&n) {
        Ok(n)
    } else {
        refuse(format!("{flag} {n}: expected {min} to {max} ({why})"))
    }
}

fn parse_whole(flag: &str, value: &str) -> Result<usize, ArgError> {
    value
        .parse()
        .map_err(|_| ArgError(format!("{flag} {value}: expected a whole number")))
}

fn parse_inflight(flag: &str, value: &str) -> Result<usize, ArgError> {
    match value.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => refuse(format!("{flag} {value}: expected at least 1")),
    }
}

fn parse_subjects(flag: &str, value: &str) -> Result<usize, ArgError> {
    match value.parse::<usize>() {
        Ok(n) if (1..=MAX_SUBJECTS).contains(&n) => Ok(n),
        _ => refuse(format!("{flag} {value}: expected 1 to {MAX_SUBJECTS}")),
    }
}

fn parse_seed(flag: &str, value: &str) -> Result<u64, ArgError> {
    value.parse().map_err(|_| {
        ArgError(format!(
            "{flag} {value}: expected an unsigned 64-bit integer"
        ))
    })
}

/// A literal subject to publish on: dot-separated tokens, no wildcards, no whitespace.
fn parse_subject(value: &str) -> Result<String, ArgError> {
    let valid = !value.is_empty()
        && value.split('.').all(|token| {
            !token.is_empty()
                && !token.contains(['*', '>'])
                && !token.chars().any(char::is_whitespace)
        });
    if valid {
        Ok(value.to_string())
    } else {
        refuse(format!(
            "--subject {value:?}: expected a literal subject like loadgen.test (no wildcards, spaces or empty tokens)"
        ))
    }
}

/// A stream name as nats-server accepts one: no spaces, dots, wildcards or path
/// separators (its `isValidName` and the file store's directory names).
fn parse_stream_name(flag: &str, value: &str) -> Result<String, ArgError> {
    let valid = !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '.' | '*' | '>' | '/' | '\\'));
    if valid {
        Ok(value.to_string())
    } else {
        refuse(format!(
            "{flag} {value:?}: expected a stream name like LOADGEN (no spaces, dots, wildcards or slashes)"
        ))
    }
}

fn parse_storage(flag: &str, value: &str) -> Result<Storage, ArgError> {
    Storage::from_name(value)
        .ok_or_else(|| ArgError(format!("{flag} {value}: expected file or memory")))
}

/// `5s`, `500ms`, `250us`, `2m`, `1.5s`: a number and a unit.
fn parse_duration(flag: &str, value: &str) -> Result<Duration, ArgError> {
    const UNITS_SECS: [(&str, f64); 7] = [
        ("ns", 1e-9),
        ("us", 1e-6),
        ("µs", 1e-6),
        ("ms", 1e-3),
        ("s", 1.0),
        ("m", 60.0),
        ("h", 3600.0),
    ];
    let parsed = UNITS_SECS.iter().find_map(|(unit, scale)| {
        let number = value.strip_suffix(unit)?;
        let n: f64 = number.parse().ok()?;
        Duration::try_from_secs_f64(n * scale).ok()
    });
    match parsed {
        Some(d) if !d.is_zero() => Ok(d),
        _ => refuse(format!(
            "{flag} {value}: expected a duration above zero with a unit (e.g. 500ms, 5s, 2m)"
        )),
    }
}

pub const USAGE: &str = "\
loadgen: NATS load generator (capacity planning and latency)

USAGE
    loadgen SCENARIO [FLAGS]
    loadgen ramp --scenario SCENARIO [--start R] [--step R] [--max R]
                 [--step-duration D] [--slo pXX=LIMIT]... [--plot FILE.svg] [FLAGS]

SCENARIOS (after the Go server's benchmarks)
    pub        N publishers, no subscribers                      --pubs
    pubsub     N publishers x M subscribers on one subject       --pubs --subs
    fanout     1 publisher, N subscribers                        --subs (default 4)
    fanin      N publishers, 1 subscriber                        --pubs (default 4)
    queue      1 publisher, a queue group of N subscribers       --subs (default 4)
    reqrep     K requesters, a queue group of R responders       --clients --responders --inflight
    subjects   traffic over S subjects SUBJECT.<i>, M subscribers on SUBJECT.*
                                                                 --pubs --subs --subjects (default 16)
    connect    K clients open, handshake and close connections as fast as they can: TCP
               connect, INFO, CONNECT, N SUBs on SUBJECT.<i>, PING, PONG, close (FIN)
                                                                 --clients (default 16) --subs (default 0)
    jspub      N publishers into a JetStream stream on SUBJECT, each keeping up to W
               publishes awaiting their ack (as `nats bench js pub --async`)
                                                                 --pubs --js-window --js-storage --js-stream
    jsfetch    fills a stream with N messages (as jspub), then a durable pull consumer
               fetches them B at a time and acks each (as `nats bench js fetch`)
                                                                 --js-batch (default 100) --js-stream
    jsordered  fills a stream with N messages (as jspub), then an ordered push consumer
               (flow control, heartbeats, as nats.go and async-nats make one) reads them
                                                                 --js-stream --js-storage
    kvput      N publishers put values into a key-value bucket, keys $KV.<bucket>.<i> in
               turn over K keys, up to W puts awaiting their ack each
                                                                 --pubs --kv-bucket --kv-keys --js-window
    kvget      fills a bucket with one value per key (as kvput), then direct gets of its
               keys in turn, up to W awaiting their reply        --kv-bucket --kv-keys --js-window
    kvwatch    on a bucket already holding K keys (fill it with kvput), N watches of one
               key each, one after another: an ordered consumer filtered to the key,
               last value per subject (as kv.watch(key)); latency is the CONSUMER.CREATE
               request to its reply                              --kv-bucket --kv-keys

FLAGS
    --server URL        nats://[user:pass@]host:port or host:port (default nats://127.0.0.1:4222)
    --sub-server URL    subscribers connect here instead (another node of a cluster: the
                        messages cross a route; the run starts once interest crossed too)
                        tls://host:port for TLS, ws:// or wss:// for WebSocket
    --tls-ca FILE       PEM CA certificates trusted by tls:// and wss://
    --user U --pass P   credentials; --token T for a token
    --size BYTES        payload size (default 128; at least 8 with --rate and for reqrep)
    --msgs N            messages in total over all publishers; requests for reqrep;
                        connections over all clients for connect (default 1000000; 100000
                        for reqrep and jspub; 10000 for connect; accepts 10k, 2M)
    --duration D        run for D instead (e.g. 5s); open loop defaults to 10s
    --rate R            open loop: R messages/s in total, on a fixed schedule; latency is
                        measured from each message's intended send time (wrk2 style)
    --inflight N        reqrep closed loop: outstanding requests per requester (default 1)
    --flush N           closed loop: each publisher waits for a PONG after every N messages,
                        as a client's flush() (default: only after the last)
    --subject NAME      subject or subject prefix (default loadgen.SCENARIO)
    --warmup D          send for D before measuring
    --js-stream NAME    jspub: the stream, deleted and created again before the run (default
                        LOADGEN); it is left in place afterwards
    --js-storage S      jspub: file or memory (default file)
    --js-window N       jspub, kvput, kvget and the consumers' fill: publishes (gets) per
                        publisher awaiting their answer (default 256)
    --js-batch N        jsfetch: messages per pull request (default 100)
    --kv-bucket NAME    kvput, kvget: the bucket, deleted and created again before the run;
                        kvwatch: the bucket to watch (default LOADGEN)
    --kv-keys N         kvput, kvget, kvwatch: keys $KV.<bucket>.0 to N-1 (default 10000)
    --json FILE         write every figure and the run's parameters as JSON
    --hgrm FILE         write the latency distribution in HdrHistogram .hgrm format
    --quiet, -q         no progress bar
    --seed N            seed for inbox names and subject choice (default: from the clock)

CONNECT
    Reports completed handshakes per second and the handshake latency, from connect() to
    PONG. A connection that is refused, times out (5 s) or gets -ERR is counted as failed,
    and any failure makes the exit code 1.

JSPUB
    Before the run, deletes the stream --js-stream if it exists and creates it on SUBJECT
    with --js-storage. Each publisher sends with reply subject _INBOX.<id>.<n> and at most
    --js-window publishes without an ack. A message counts once the stream acked it: the
    acked row's msgs/s is the stored rate, latency is from the write that carried a
    publish to its ack. Acks with an error, and publishes still without an ack 10 s after
    the last progress, are failures: they are reported and make the exit code 1.

JSFETCH, JSORDERED
    Fill --js-stream with --msgs messages of --size first (as jspub, not measured), then
    consume all of them; the delivered row's msgs/s runs from the start of consuming to
    the last message. Each delivery's stream sequence must follow the one before: a gap,
    a repeat, a consumer stalled 10 s or an unexpected status fails the run (exit code 1).
    jsfetch asks for min(B, what is left) per request, with expires 5 s, and sends the
    next request once the batch is in; jsordered answers every flow control request.

KVPUT, KVGET, KVWATCH
    The bucket is stream KV_<bucket> on $KV.<bucket>.>, history 1, direct gets allowed,
    as the clients create it. kvget's gets are $JS.API.DIRECT.GET.KV_<bucket>.<key>
    requests with an empty body; a reply without the value is a failure. kvwatch leaves
    the bucket as it is and deletes each watch's consumer after its value arrived.

RAMP
    Runs the scenario open loop at --start, --start+--step, ... up to --max messages/s
    (defaults 10000, 10000, 1000000), --step-duration each (default 3s), and stops at the
    first step that misses an --slo (p50, p90, p99, p99.9, p99.99 or max; units us, ms, s)
    or achieves under 95% of its offered rate.

Exit codes: 0 done, 1 run failed, lost connections or had failed connects, 2 bad
command line.
";

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: u64 = 42;

    fn parse_line(line: &str) -> Result<Command, ArgError> {
        let args: Vec<String> = line.split_whitespace().map(String::from).collect();
        parse(&args, SEED)
    }

    fn run(line: &str) -> RunArgs {
        match parse_line(line) {
            Ok(Command::Run(run)) => run,
            other => panic!("{line}: {other:?}"),
        }
    }

    fn ramp(line: &str) -> RampArgs {
        match parse_line(line) {
            Ok(Command::Ramp(ramp)) => ramp,
            other => panic!("{line}: {other:?}"),
        }
    }

    fn refused(line: &str) -> String {
        match parse_line(line) {
            Err(ArgError(message)) => message,
            other => panic!("{line} was accepted: {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let r = run("pubsub");
        assert_eq!(r.server.redacted(), "nats://127.0.0.1:4222");
        assert_eq!(r.size, DEFAULT_SIZE);
        assert_eq!(r.length, RunLength::Msgs(DEFAULT_THROUGHPUT_MSGS));
        assert_eq!((r.pubs, r.subs), (1, 1));
        assert_eq!(r.subject, "loadgen.pubsub");
        assert_eq!(r.rate, None);
        assert_eq!(r.warmup, Duration::ZERO);
        assert_eq!(r.seed, SEED);
        assert!(!r.measures_latency());
        assert_eq!((run("pub").pubs, run("pub").subs), (1, 0));
        assert_eq!(run("fanout").subs, DEFAULT_GROUP_SIZE);
        assert_eq!(run("fanin").pubs, DEFAULT_GROUP_SIZE);
        assert_eq!(run("queue").subs, DEFAULT_GROUP_SIZE);
        assert_eq!(run("subjects").subjects, DEFAULT_SUBJECTS);
        let rr = run("reqrep");
        assert_eq!(rr.length, RunLength::Msgs(DEFAULT_REQREP_MSGS));
        assert_eq!((rr.clients, rr.responders, rr.inflight), (1, 1, 1));
        assert!(rr.measures_latency());
        let open = run("pubsub --rate 5000");
        assert_eq!(open.length, RunLength::Duration(DEFAULT_OPEN_LOOP_DURATION));
        assert!(open.measures_latency());
        let c = run("connect");
        assert_eq!(c.length, RunLength::Msgs(DEFAULT_CONNECT_CONNECTIONS));
        assert_eq!(
            (c.clients, c.subs, c.pubs, c.size),
            (DEFAULT_CONNECT_CLIENTS, 0, 0, 0)
        );
        assert_eq!(c.subject, "loadgen.connect");
        assert!(c.measures_latency());
        let js = run("jspub");
        assert_eq!(js.length, RunLength::Msgs(DEFAULT_JSPUB_MSGS));
        assert_eq!((js.pubs, js.subs, js.size), (1, 0, DEFAULT_SIZE));
        assert_eq!(
            js.js,
            JsArgs {
                stream: DEFAULT_JS_STREAM.into(),
                storage: Storage::File,
                window: DEFAULT_JS_WINDOW,
                batch: DEFAULT_JS_BATCH,
                bucket: DEFAULT_KV_BUCKET.into(),
                keys: DEFAULT_KV_KEYS,
            }
        );
        assert_eq!(js.subject, "loadgen.jspub");
        assert!(js.measures_latency());
        for consumer in ["jsfetch", "jsordered"] {
            let c = run(consumer);
            assert_eq!(c.length, RunLength::Msgs(DEFAULT_JSPUB_MSGS), "{consumer}");
            assert_eq!((c.pubs, c.subs, c.size), (1, 0, DEFAULT_SIZE), "{consumer}");
            assert!(!c.measures_latency(), "{consumer}");
        }
        for kv in ["kvput", "kvget"] {
            let k = run(kv);
            assert_eq!(k.length, RunLength::Msgs(DEFAULT_JSPUB_MSGS), "{kv}");
            assert_eq!(
                (k.js.bucket.as_str(), k.js.keys),
                ("LOADGEN", DEFAULT_KV_KEYS)
            );
            assert!(k.measures_latency(), "{kv}");
        }
        let w = run("kvwatch");
        assert_eq!(w.length, RunLength::Msgs(DEFAULT_KV_WATCHES));
        assert_eq!((w.pubs, w.subs, w.size), (1, 0, 0));
        assert!(w.measures_latency());
    }

    #[test]
    fn every_flag() {
        let r = run(
            "pubsub --server nats://a:b@10.1.2.3:4333 --size 1024 --msgs 2M --pubs 3 \
             --subs 5 --subject bench.x --rate=1.5k --warmup 500ms --json out.json \
             --hgrm out.hgrm --quiet --seed 7",
        );
        assert_eq!(r.server.host, "10.1.2.3");
        assert_eq!(r.server.port, 4333);
        assert_eq!(r.size, 1024);
        assert_eq!(r.length, RunLength::Msgs(2_000_000));
        assert_eq!((r.pubs, r.subs), (3, 5));
        assert_eq!(r.subject, "bench.x");
        assert_eq!(r.rate, Some(1_500.0));
        assert_eq!(r.warmup, Duration::from_millis(500));
        assert_eq!(r.json, Some(PathBuf::from("out.json")));
        assert_eq!(r.hgrm, Some(PathBuf::from("out.hgrm")));
        assert!(r.quiet);
        assert_eq!(r.seed, 7);

        assert_eq!(run("fanout --flush 1k").flush, Some(1000));
        assert_eq!(run("fanout").flush, None);
        let r = run("reqrep --clients 8 --responders 2 --inflight 4 --duration 2s --size 8");
        assert_eq!((r.clients, r.responders, r.inflight), (8, 2, 4));
        assert_eq!(r.length, RunLength::Duration(Duration::from_secs(2)));
        let r = run("subjects --subjects 100 --pubs 2 --subs 3 --msgs 10_000");
        assert_eq!((r.subjects, r.pubs, r.subs), (100, 2, 3));
        assert_eq!(r.length, RunLength::Msgs(10_000));
        let r = run("pub --server localhost:5555 --user u --pass p --size 0");
        assert_eq!(
            r.server.credentials,
            Credentials::UserPass {
                user: "u".into(),
                pass: "p".into()
            }
        );
        assert_eq!(r.size, 0);
        let r = run("queue --server nats://x:1 --token secret");
        assert_eq!(r.server.credentials, Credentials::Token("secret".into()));
        assert_eq!(
            run("fanout --duration 1.5s").length,
            RunLength::Duration(Duration::from_millis(1500))
        );
        let r = run("connect --clients 4 --subs 10000 --msgs 20k --subject s --hgrm c.hgrm");
        assert_eq!((r.clients, r.subs), (4, MAX_SUBS_PER_CONNECTION));
        assert_eq!(r.length, RunLength::Msgs(20_000));
        assert_eq!(r.subject, "s");
        assert_eq!(r.hgrm, Some(PathBuf::from("c.hgrm")));
        assert_eq!(run("connect --subs 0").subs, 0);
        assert_eq!(
            run("connect --duration 2s").length,
            RunLength::Duration(Duration::from_secs(2))
        );
        let r = run(
            "jspub --pubs 2 --js-stream BENCH --js-storage memory --js-window 1000 \
             --subject bench.js --msgs 20k --warmup 1s --hgrm js.hgrm",
        );
        assert_eq!(r.pubs, 2);
        assert_eq!(
            r.js,
            JsArgs {
                stream: "BENCH".into(),
                storage: Storage::Memory,
                window: 1000,
                batch: DEFAULT_JS_BATCH,
                bucket: DEFAULT_KV_BUCKET.into(),
                keys: DEFAULT_KV_KEYS,
            }
        );
        assert_eq!(r.subject, "bench.js");
        assert_eq!(r.length, RunLength::Msgs(20_000));
        assert_eq!(r.hgrm, Some(PathBuf::from("js.hgrm")));
        assert_eq!(
            run("jspub --duration 3s").length,
            RunLength::Duration(Duration::from_secs(3))
        );
        let r = run(
            "jsfetch --js-batch 50 --js-stream F --js-storage memory --js-window 64 \
             --msgs 20k --size 16384 --subject f.js",
        );
        assert_eq!((r.js.batch, r.js.stream.as_str()), (50, "F"));
        assert_eq!((r.js.storage, r.js.window), (Storage::Memory, 64));
        assert_eq!((r.length, r.size), (RunLength::Msgs(20_000), 16384));
        assert_eq!(r.subject, "f.js");
        let r = run("jsordered --js-stream O --msgs 1k");
        assert_eq!(
            (r.js.stream.as_str(), r.length),
            ("O", RunLength::Msgs(1000))
        );
        let r = run("kvput --pubs 2 --kv-bucket B --kv-keys 1M --js-window 512 --duration 2s");
        assert_eq!(
            (r.pubs, r.js.bucket.as_str(), r.js.keys),
            (2, "B", 1_000_000)
        );
        assert_eq!(r.js.window, 512);
        assert_eq!(r.length, RunLength::Duration(Duration::from_secs(2)));
        let r = run("kvget --kv-keys 5000 --size 16 --msgs 50k --hgrm get.hgrm --warmup 1s");
        assert_eq!((r.js.keys, r.size), (5000, 16));
        assert_eq!(r.hgrm, Some(PathBuf::from("get.hgrm")));
        let r = run("kvwatch --kv-bucket B --kv-keys 1M --msgs 7");
        assert_eq!((r.js.bucket.as_str(), r.js.keys), ("B", 1_000_000));
        assert_eq!(r.length, RunLength::Msgs(7));
    }

    #[test]
    fn ramp_flags() {
        let r = ramp(
            "ramp --scenario pubsub --start 10000 --step 10000 --max 1000000 \
             --step-duration 3s --slo p99=1ms --slo p99.9=5ms --plot ramp.svg --subs 2",
        );
        assert_eq!(r.run.scenario, Scenario::PubSub);
        assert_eq!((r.start, r.step, r.max), (10_000.0, 10_000.0, 1_000_000.0));
        assert_eq!(r.step_duration, Duration::from_secs(3));
        assert_eq!(r.run.length, RunLength::Duration(Duration::from_secs(3)));
        assert_eq!(r.slos.len(), 2);
        assert_eq!(r.plot, Some(PathBuf::from("ramp.svg")));
        assert_eq!(r.run.subs, 2);
        let d = ramp("ramp --scenario reqrep");
        assert_eq!(
            (d.start, d.step, d.max),
            (DEFAULT_RAMP_START, DEFAULT_RAMP_STEP, DEFAULT_RAMP_MAX)
        );
        assert!(d.slos.is_empty());
    }

    #[test]
    fn help_and_version() {
        assert_eq!(parse_line("--help"), Ok(Command::Help));
        assert_eq!(parse_line("pubsub -h"), Ok(Command::Help));
        assert_eq!(parse_line("--version"), Ok(Command::Version));
    }

    #[test]
    fn refusals() {
        let cases = [
            ("", "no scenario"),
            ("bogus", "unknown scenario bogus"),
            ("pubsub extra", "unexpected argument"),
            ("pubsub --bogus 1", "unknown flag --bogus"),
            ("pubsub -x", "unknown flag -x"),
            ("pubsub --size", "needs a value"),
            ("pubsub --size big", "--size big"),
            ("pubsub --size -5", "--size -5"),
            ("pubsub --msgs 0", "--msgs 0"),
            ("pubsub --msgs 1.5", "--msgs 1.5"),
            ("pubsub --msgs ten", "--msgs ten"),
            ("pubsub --msgs 10 --duration 1s", "not both"),
            ("pubsub --duration 5", "--duration 5"),
            ("pubsub --duration 0s", "--duration 0s"),
            ("pubsub --rate 0", "--rate 0"),
            ("pubsub --rate fast", "--rate fast"),
            ("pubsub --rate 1000 --size 4", "at least 8"),
            ("reqrep --size 7", "at least 8"),
            ("pubsub --size 10 --size 20", "given twice"),
            ("pubsub --pubs 0", "--pubs 0"),
            ("pubsub --subs 5000", "--subs 5000"),
            ("fanout --pubs 2", "one publisher"),
            ("queue --pubs 2", "one publisher"),
            ("reqrep --pubs 2", "--clients"),
            ("reqrep --subs 2", "--responders"),
            ("pub --subs 2", "no subscribers"),
            ("fanin --subs 2", "one subscriber"),
            ("pubsub --clients 2", "reqrep and connect only"),
            ("pubsub --subs 0", "--subs 0"),
            ("pubsub --subs x", "--subs x"),
            ("connect --subs 10001", "--subs 10001"),
            ("connect --pubs 2", "--clients"),
            ("connect --clients 0", "--clients 0"),
            ("connect --responders 2", "reqrep only"),
            ("connect --size 8", "does not apply to connect"),
            ("connect --rate 100", "does not apply to connect"),
            ("connect --warmup 1s", "does not apply to connect"),
            ("ramp --scenario connect", "closed loop only"),
            ("ramp --scenario jspub", "jspub is closed loop only"),
            ("jspub --rate 100", "does not apply to jspub"),
            ("jspub --flush 10", "does not apply to jspub"),
            ("jspub --subs 1", "no subscribers"),
            ("jspub --clients 2", "reqrep and connect only"),
            ("jspub --js-window 0", "--js-window 0"),
            ("jspub --js-window 2000000", "--js-window 2000000"),
            ("jspub --js-storage disk", "file or memory"),
            ("jspub --js-stream a.b", "stream name"),
            ("jspub --js-stream a/b", "stream name"),
            ("jspub --js-stream *", "stream name"),
            ("pub --js-window 10", "--js-window applies to jspub"),
            (
                "pubsub --js-storage memory",
                "--js-storage applies to jspub",
            ),
            ("reqrep --js-stream S", "--js-stream applies to jspub"),
            ("kvput --js-stream S", "--js-stream applies to jspub"),
            ("kvwatch --js-window 4", "--js-window applies to"),
            ("jspub --js-batch 10", "--js-batch applies to jsfetch only"),
            ("jsfetch --js-batch 0", "--js-batch 0"),
            ("jsfetch --js-batch 100001", "--js-batch 100001"),
            ("jsordered --kv-bucket B", "--kv-bucket applies to kvput"),
            ("pub --kv-keys 5", "--kv-keys applies to kvput"),
            ("kvput --kv-keys 0", "--kv-keys 0"),
            ("kvput --kv-keys 20M", "--kv-keys 20M"),
            ("kvget --kv-bucket a.b", "stream name"),
            (
                "jsfetch --duration 5s",
                "--duration does not apply to jsfetch",
            ),
            (
                "jsordered --warmup 1s",
                "--warmup does not apply to jsordered",
            ),
            (
                "kvwatch --duration 5s",
                "--duration does not apply to kvwatch",
            ),
            ("kvwatch --size 16", "--size does not apply to kvwatch"),
            ("kvput --subject a.b", "--subject does not apply to kvput"),
            ("kvget --rate 100", "--rate does not apply to kvget"),
            ("jsfetch --flush 10", "--flush does not apply to jsfetch"),
            ("jsfetch --pubs 2", "--pubs applies to jspub and kvput"),
            ("kvget --subs 2", "kvget has no subscribers"),
            ("jsordered --hgrm o.hgrm", "--hgrm needs latency"),
            ("ramp --scenario kvget", "kvget is closed loop only"),
            ("pubsub --responders 2", "reqrep only"),
            ("pubsub --inflight 2", "reqrep only"),
            ("reqrep --inflight 0", "--inflight 0"),
            ("reqrep --inflight 4 --rate 100", "closed loop"),
            (
                "pubsub --flush 100 --rate 1k",
                "--flush applies to closed-loop publishers",
            ),
            (
                "reqrep --flush 10",
                "--flush applies to closed-loop publishers",
            ),
            ("pubsub --flush 0", "--flush 0"),
            ("pubsub --subjects 4", "subjects scenario only"),
            ("subjects --subjects 0", "--subjects 0"),
            ("pubsub --subject foo.*", "no wildcards"),
            ("pubsub --subject a..b", "empty tokens"),
            ("pubsub --server tls://h:1", "tls://"),
            ("pubsub --server h:99999", "--server"),
            ("pubsub --user u", "--user needs --pass"),
            ("pubsub --pass p", "--pass needs --user"),
            ("pubsub --user u --pass p --token t", "not both"),
            ("pubsub --seed x", "--seed x"),
            ("pubsub --hgrm h.hgrm", "--hgrm needs latency"),
            ("pubsub --slo p99=1ms", "belongs to `loadgen ramp`"),
            ("pubsub --plot a.svg", "belongs to `loadgen ramp`"),
            ("pubsub --start 5", "belongs to `loadgen ramp`"),
            ("ramp", "needs --scenario"),
            ("ramp --scenario nope", "unknown scenario"),
            ("ramp --scenario pub", "no subscribers"),
            ("ramp --scenario pubsub --rate 5", "does not apply to ramp"),
            ("ramp --scenario pubsub --msgs 5", "does not apply to ramp"),
            (
                "ramp --scenario pubsub --duration 5s",
                "does not apply to ramp",
            ),
            (
                "ramp --scenario reqrep --inflight 2",
                "does not apply to ramp",
            ),
            ("ramp --scenario pubsub --start 10 --max 5", "above --max"),
            ("ramp --scenario pubsub --size 4", "at least 8"),
            ("ramp --scenario pubsub --slo p99", "PERCENTILE=LIMIT"),
            ("ramp --scenario pubsub --slo p99=1", "bad limit"),
            (
                "ramp --scenario pubsub --step-duration 0ms",
                "--step-duration 0ms",
            ),
        ];
        for (line, expected) in cases {
            let message = refused(line);
            assert!(
                message.contains(expected),
                "{line:?}: {message:?} does not mention {expected:?}"
            );
        }
    }

    #[test]
    fn ramp_allows_hgrm() {
        let r = ramp("ramp --scenario pubsub --hgrm best.hgrm");
        assert_eq!(r.run.hgrm, Some(PathBuf::from("best.hgrm")));
    }
}

//! What a person and a script get: the terminal table, ramp step lines, the JSON report
//! (every figure and the run's parameters) and the `.hgrm` file.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::args::{RampArgs, RunArgs, RunLength, Scenario};
use crate::hgrm;
use crate::jetstream::StreamSpec;
use crate::latency::{LatencyHistogram, LatencySummary, Percentile};
use crate::ramp::StepReport;
use crate::run::{ConnectionFigures, Figures, RunOutcome};
use crate::slo::Slo;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
const SECS_PER_DAY: u64 = 86_400;

/// The run's parameters, under `params` in the JSON report.
#[derive(Debug, Serialize)]
pub struct Params {
    pub scenario: &'static str,
    /// Without credentials.
    pub server: String,
    pub size: usize,
    pub msgs: Option<u64>,
    pub duration_s: Option<f64>,
    pub pubs: Option<usize>,
    /// Subscribers; for connect, SUBs per connection.
    pub subs: Option<usize>,
    /// Requesters for reqrep, connectors for connect.
    pub clients: Option<usize>,
    pub responders: Option<usize>,
    pub inflight: Option<usize>,
    pub flush: Option<u64>,
    pub subject: String,
    pub subjects: Option<usize>,
    /// Offered messages per second in open loop.
    pub rate: Option<f64>,
    pub warmup_s: f64,
    pub seed: u64,
    /// The JetStream scenarios only.
    pub jetstream: Option<JetStreamParams>,
    pub loadgen_version: &'static str,
    /// RFC 3339, UTC.
    pub start_timestamp: String,
    pub start_unix_s: f64,
    pub ramp: Option<RampParams>,
}

#[derive(Debug, Serialize)]
pub struct JetStreamParams {
    /// The stream, `KV_<bucket>` for the kv scenarios.
    pub stream: String,
    pub storage: &'static str,
    pub window: usize,
    /// jsfetch only.
    pub batch: Option<usize>,
    /// kv scenarios only.
    pub keys: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct RampParams {
    pub start: f64,
    pub step: f64,
    pub max: f64,
    pub step_duration_s: f64,
    /// As given, e.g. `p99<=1000us`.
    pub slos: Vec<String>,
}

impl Params {
    pub fn new(args: &RunArgs, ramp: Option<&RampArgs>, started: SystemTime) -> Params {
        let reqrep = args.scenario == Scenario::ReqRep;
        let connect = args.scenario == Scenario::Connect;
        let jetstream = args.scenario.is_jetstream();
        let (msgs, duration_s) = match args.length {
            RunLength::Msgs(n) => (Some(n), None),
            RunLength::Duration(d) => (None, Some(d.as_secs_f64())),
        };
        Params {
            scenario: args.scenario.name(),
            server: args.server.redacted(),
            size: args.size,
            msgs,
            duration_s,
            pubs: (!reqrep && !connect).then_some(args.pubs),
            subs: (!reqrep && !jetstream).then_some(args.subs),
            clients: (reqrep || connect).then_some(args.clients),
            responders: reqrep.then_some(args.responders),
            inflight: (reqrep && args.rate.is_none() && ramp.is_none()).then_some(args.inflight),
            flush: args.flush,
            subject: args.subject.clone(),
            subjects: (args.scenario == Scenario::Subjects).then_some(args.subjects),
            rate: args.rate,
            warmup_s: args.warmup.as_secs_f64(),
            seed: args.seed,
            jetstream: jetstream.then(|| JetStreamParams {
                stream: stream_name(args),
                storage: args.js.storage.name(),
                window: args.js.window,
                batch: (args.scenario == Scenario::JsFetch).then_some(args.js.batch),
                keys: args.scenario.is_key_value().then_some(args.js.keys),
            }),
            loadgen_version: VERSION,
            start_timestamp: rfc3339_utc(started),
            start_unix_s: started
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
            ramp: ramp.map(|r| RampParams {
                start: r.start,
                step: r.step,
                max: r.max,
                step_duration_s: r.step_duration.as_secs_f64(),
                slos: r.slos.iter().map(Slo::to_string).collect(),
            }),
        }
    }
}

/// The stream a JetStream run uses: `--js-stream`, or the bucket's.
fn stream_name(args: &RunArgs) -> String {
    if args.scenario.is_key_value() {
        StreamSpec::key_value(&args.js.bucket, args.js.storage).name
    } else {
        args.js.stream.clone()
    }
}

/// The JSON report; the top-level keys are a contract with the scripts that read it.
#[derive(Serialize)]
pub struct Report<'a> {
    pub params: Params,
    pub scenario: &'static str,
    #[serde(flatten)]
    pub figures: &'a Figures,
    /// Ramp only; empty otherwise.
    pub steps: &'a [StepReport],
    /// Ramp only.
    pub max_rate_meeting_slo: Option<f64>,
}

pub fn write_json(path: &Path, report: &Report<'_>) -> io::Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    serde_json::to_writer_pretty(&mut out, report)?;
    writeln!(out)?;
    out.flush()
}

pub fn write_hgrm(path: &Path, histogram: &LatencyHistogram) -> io::Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    hgrm::write(histogram, &mut out)?;
    out.flush()
}

/// The result table of one run.
pub fn print_run(args: &RunArgs, outcome: &RunOutcome) {
    let f = &outcome.figures;
    println!("{}", describe(args));
    match &f.connections {
        Some(connections) => print_connections(connections, f, &outcome.sender_rates),
        None => print_messages(args, outcome),
    }
    println!("loadgen cpu: {:.2} cores", f.loadgen_cpu_cores);
    print_warnings(&outcome.warnings);
}

fn print_connections(c: &ConnectionFigures, f: &Figures, connector_rates: &[f64]) {
    println!(
        "{:>12} {:>8} {:>14}   per client connections/s: min / avg / max",
        "completed", "failed", "connections/s"
    );
    println!(
        "{:>12} {:>8} {:>14}   {}",
        group_digits(c.completed as f64),
        group_digits(c.failed as f64),
        group_digits(c.per_s),
        spread(connector_rates)
    );
    println!("elapsed {:.3} s", f.elapsed_s);
    match &f.latency_us {
        Some(latency) => println!(
            "handshake latency us (connect() to PONG): {}",
            percentiles(latency)
        ),
        None => println!("handshake latency: no connection completed"),
    }
}

fn print_messages(args: &RunArgs, outcome: &RunOutcome) {
    let f = &outcome.figures;
    let (sent_role, received_role) = match args.scenario {
        Scenario::ReqRep => ("requests", "replies"),
        Scenario::JsPub | Scenario::KvPut => ("pub", "acked"),
        Scenario::KvGet => ("gets", "values"),
        Scenario::JsFetch | Scenario::JsOrdered => ("stored", "delivered"),
        Scenario::KvWatch => ("watches", "values"),
        _ => ("pub", "sub"),
    };
    println!(
        "{:<10} {:>12} {:>14} {:>10}   per connection msgs/s: min / avg / max",
        "", "msgs", "msgs/s", "MB/s"
    );
    println!(
        "{:<10} {:>12} {:>14} {:>10.2}   {}",
        sent_role,
        group_digits(f.msgs_sent as f64),
        group_digits(f.pub_msgs_per_s),
        f.pub_mb_per_s,
        spread(&outcome.sender_rates)
    );
    if args.scenario != Scenario::Pub {
        println!(
            "{:<10} {:>12} {:>14} {:>10.2}   {}",
            received_role,
            group_digits(f.msgs_received as f64),
            group_digits(f.sub_msgs_per_s),
            f.sub_mb_per_s,
            spread(&outcome.receiver_rates)
        );
        // Acks are not messages of their own: a total would count each message twice.
        if !args.scenario.is_jetstream() {
            println!(
                "{:<10} {:>12} {:>14} {:>10.2}",
                "total",
                group_digits((f.msgs_sent + f.msgs_received) as f64),
                group_digits(f.pub_msgs_per_s + f.sub_msgs_per_s),
                f.pub_mb_per_s + f.sub_mb_per_s
            );
        }
    }
    println!(
        "elapsed {:.3} s, lost {}, duplicates {}",
        f.elapsed_s,
        group_digits(f.lost as f64),
        group_digits(f.duplicates as f64)
    );
    if let Some(js) = &f.jetstream {
        println!(
            "stream {}: acked {}, refused {}, unacked {}",
            js.stream,
            group_digits(js.acked as f64),
            group_digits(js.refused as f64),
            group_digits(js.unacked as f64)
        );
        if let Some(c) = &js.consumer {
            println!(
                "{} consumer: {} {}, {} {}, {} out of order",
                c.kind,
                group_digits(c.requests as f64),
                if c.batch.is_some() {
                    "pull requests"
                } else {
                    "flow control requests answered"
                },
                group_digits(c.idle as f64),
                if c.batch.is_some() {
                    "expired unfilled"
                } else {
                    "heartbeats"
                },
                group_digits(c.out_of_order as f64)
            );
        }
    }
    let latency_from = match args.scenario {
        Scenario::JsPub | Scenario::KvPut => "publish to ack",
        Scenario::KvGet => "get to reply",
        Scenario::KvWatch => "CONSUMER.CREATE to reply",
        _ => "from intended send time",
    };
    match &f.latency_us {
        Some(latency) => println!(
            "latency us ({latency_from}): {} ({} msgs)",
            percentiles(latency),
            group_digits(latency.count as f64)
        ),
        None if args.measures_latency() => println!("latency: no messages received"),
        None => {}
    }
    if let (Some(offered), Some(achieved)) = (f.offered_rate, f.achieved_rate) {
        println!(
            "offered {} msgs/s, achieved {} msgs/s",
            group_digits(offered),
            group_digits(achieved)
        );
    }
}

fn describe(args: &RunArgs) -> String {
    let pubs = counted(args.pubs, "pub");
    let subs = counted(args.subs, "sub");
    let roles = match args.scenario {
        Scenario::ReqRep => format!(
            "{} x {}",
            counted(args.clients, "requester"),
            counted(args.responders, "responder")
        ),
        Scenario::Pub => pubs,
        Scenario::JsPub | Scenario::KvPut => format!(
            "{pubs} into stream {} ({} storage{})",
            stream_name(args),
            args.js.storage.name(),
            if args.scenario == Scenario::KvPut {
                format!(", {} keys", group_digits(args.js.keys as f64))
            } else {
                String::new()
            }
        ),
        Scenario::JsFetch => format!(
            "a pull consumer of stream {}, batch {}",
            args.js.stream, args.js.batch
        ),
        Scenario::JsOrdered => format!("an ordered consumer of stream {}", args.js.stream),
        Scenario::KvGet | Scenario::KvWatch => format!(
            "bucket {} of {} keys",
            args.js.bucket,
            group_digits(args.js.keys as f64)
        ),
        Scenario::Queue => format!("{pubs} x queue group of {subs}"),
        Scenario::Subjects => format!("{pubs} x {subs} over {}", counted(args.subjects, "subject")),
        Scenario::Connect => format!(
            "{}, {} per connection",
            counted(args.clients, "client"),
            counted(args.subs, "SUB")
        ),
        _ => format!("{pubs} x {subs}"),
    };
    let length = match args.length {
        RunLength::Msgs(n) => format!("{} {}", group_digits(n as f64), args.scenario.unit()),
        RunLength::Duration(d) => format!("{d:?}"),
    };
    let pacing = match args.rate {
        Some(rate) => format!("open loop at {} msgs/s", group_digits(rate)),
        None if args.scenario == Scenario::ReqRep => {
            format!("closed loop, {} in flight per requester", args.inflight)
        }
        None if matches!(
            args.scenario,
            Scenario::JsPub | Scenario::KvPut | Scenario::KvGet
        ) =>
        {
            format!(
                "closed loop, up to {} answers outstanding per client",
                args.js.window
            )
        }
        None => match args.flush {
            Some(n) => format!("closed loop, a PONG awaited every {n} messages"),
            None => "closed loop".to_string(),
        },
    };
    let mut parts = vec![roles];
    // connect sends no messages and kvwatch none of its own, so they have no payload size.
    if !matches!(args.scenario, Scenario::Connect | Scenario::KvWatch) {
        parts.push(format!("{} B", args.size));
    }
    parts.extend([length, pacing, args.server.to_string()]);
    format!("loadgen {}: {}", args.scenario.name(), parts.join(", "))
}

fn counted(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn percentiles(latency: &LatencySummary) -> String {
    Percentile::REPORTED
        .iter()
        .map(|&p| format!("{} {}", p.name(), format_us(latency.get(p))))
        .collect::<Vec<_>>()
        .join("  ")
}

fn spread(rates: &[f64]) -> String {
    if rates.is_empty() {
        return String::new();
    }
    let min = rates.iter().copied().fold(f64::INFINITY, f64::min);
    let max = rates.iter().copied().fold(0.0, f64::max);
    let avg = rates.iter().sum::<f64>() / rates.len() as f64;
    format!(
        "{} / {} / {}",
        group_digits(min),
        group_digits(avg),
        group_digits(max)
    )
}

fn print_warnings(warnings: &[String]) {
    for w in warnings {
        eprintln!("warning: {w}");
    }
}

pub fn print_step_header(ramp: &RampArgs) {
    let slos: Vec<String> = ramp.slos.iter().map(|s| s.to_string()).collect();
    println!(
        "loadgen ramp: {} from {} to {} msgs/s in steps of {}, {:?} each; objectives: {}",
        ramp.run.scenario.name(),
        group_digits(ramp.start),
        group_digits(ramp.max),
        group_digits(ramp.step),
        ramp.step_duration,
        if slos.is_empty() {
            "keep up with the offered rate".to_string()
        } else {
            slos.join(", ")
        }
    );
    println!(
        "{:>12} {:>12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>6} {:>5}  result",
        "offered/s",
        "achieved/s",
        "p50 us",
        "p90 us",
        "p99 us",
        "p99.9 us",
        "max us",
        "lost",
        "cpu"
    );
}

pub fn print_step(step: &StepReport, warnings: &[String]) {
    let at = |p: Percentile| {
        step.latency_us
            .map_or("-".to_string(), |l| format_us(l.get(p)))
    };
    println!(
        "{:>12} {:>12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>6} {:>5.2}  {}",
        group_digits(step.offered_rate),
        group_digits(step.achieved_rate),
        at(Percentile::P50),
        at(Percentile::P90),
        at(Percentile::P99),
        at(Percentile::P99_9),
        at(Percentile::Max),
        step.lost,
        step.loadgen_cpu_cores,
        if step.met_slo { "met" } else { "MISSED" }
    );
    print_warnings(warnings);
}

pub fn print_ramp_result(max_rate_meeting_slo: Option<f64>, headline: &RunOutcome) {
    match max_rate_meeting_slo {
        Some(rate) => println!("max rate meeting objectives: {} msgs/s", group_digits(rate)),
        None => println!("max rate meeting objectives: none (the first step missed)"),
    }
    println!(
        "loadgen cpu at that step: {:.2} cores",
        headline.figures.loadgen_cpu_cores
    );
}

/// Microseconds with precision that suits the magnitude.
fn format_us(us: f64) -> String {
    if us < 100.0 {
        format!("{us:.1}")
    } else {
        group_digits(us)
    }
}

/// Rounded to a whole number, with thousands separated by commas.
pub fn group_digits(value: f64) -> String {
    let rounded = value.round();
    let digits = format!("{}", rounded.abs() as u64);
    let mut out = String::new();
    if rounded < 0.0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `2024-05-01T12:34:56.789Z`.
pub fn rfc3339_utc(at: SystemTime) -> String {
    let since_epoch = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since_epoch.as_secs();
    let (year, month, day) = civil_from_days((secs / SECS_PER_DAY) as i64);
    let of_day = secs % SECS_PER_DAY;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60,
        since_epoch.subsec_millis()
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps() {
        let at = |secs: u64, millis: u64| {
            rfc3339_utc(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis))
        };
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(at(1_700_000_000, 0), "2023-11-14T22:13:20.000Z");
        assert_eq!(at(4_107_542_399, 999), "2100-02-28T23:59:59.999Z");
    }

    #[test]
    fn digits() {
        assert_eq!(group_digits(0.0), "0");
        assert_eq!(group_digits(999.4), "999");
        assert_eq!(group_digits(1_000.0), "1,000");
        assert_eq!(group_digits(1_234_567.6), "1,234,568");
        assert_eq!(group_digits(-12_345.0), "-12,345");
        assert_eq!(format_us(12.345), "12.3");
        assert_eq!(format_us(12_345.0), "12,345");
    }
}

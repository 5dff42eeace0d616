//! The `loadgen` command: parse, run, print, write reports. Exit codes: 0 done, 1 the run
//! failed, a connection was lost or (connect) a connection attempt failed, 2 a bad command
//! line.

use std::path::Path;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use loadgen::args::{self, Command, RampArgs, RunArgs, USAGE};
use loadgen::output::{self, Params, Report, VERSION};
use loadgen::{plot, ramp, run};

const USAGE_ERROR: u8 = 2;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let started = SystemTime::now();
    // Without --seed, runs differ (fresh inbox names) but the seed used is reported.
    let default_seed = started
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id());
    match args::parse(&argv, default_seed) {
        Err(e) => {
            eprintln!("loadgen: {e}\nRun 'loadgen --help' for usage.");
            ExitCode::from(USAGE_ERROR)
        }
        Ok(Command::Help) => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Ok(Command::Version) => {
            println!("loadgen {VERSION}");
            ExitCode::SUCCESS
        }
        Ok(Command::Run(args)) => exit_code(run_once(&args, started)),
        Ok(Command::Ramp(ramp)) => exit_code(run_ramp(&ramp, started)),
    }
}

fn exit_code(succeeded: bool) -> ExitCode {
    if succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Returns whether the run succeeded and every file was written.
fn run_once(args: &RunArgs, started: SystemTime) -> bool {
    let outcome = match run::run(args, !args.quiet) {
        Ok(outcome) => outcome,
        Err(e) => {
            eprintln!("loadgen: {e}");
            return false;
        }
    };
    output::print_run(args, &outcome);
    let report = Report {
        params: Params::new(args, None, started),
        scenario: args.scenario.name(),
        figures: &outcome.figures,
        steps: &[],
        max_rate_meeting_slo: None,
    };
    let written = write_files(args, &report, outcome.histogram.as_ref());
    !outcome.failed && written
}

fn run_ramp(ramp_args: &RampArgs, started: SystemTime) -> bool {
    let outcome = match ramp::run(ramp_args) {
        Ok(outcome) => outcome,
        Err(e) => {
            eprintln!("loadgen: {e}");
            return false;
        }
    };
    let max_rate = outcome.max_rate_meeting_slo();
    output::print_ramp_result(max_rate, &outcome.headline);
    let mut headline_args = ramp_args.run.clone();
    headline_args.rate = Some(outcome.steps[outcome.best.unwrap_or(0)].offered_rate);
    let report = Report {
        params: Params::new(&headline_args, Some(ramp_args), started),
        scenario: ramp_args.run.scenario.name(),
        figures: &outcome.headline.figures,
        steps: &outcome.steps,
        max_rate_meeting_slo: max_rate,
    };
    let mut written = write_files(&ramp_args.run, &report, outcome.headline.histogram.as_ref());
    if let Some(path) = &ramp_args.plot {
        let title = format!(
            "loadgen ramp: {} ({} B) against {}",
            ramp_args.run.scenario.name(),
            ramp_args.run.size,
            ramp_args.run.server
        );
        let svg = plot::render(&title, &outcome.steps, &ramp_args.slos, max_rate);
        written &= report_write(path, std::fs::write(path, svg));
    }
    written
}

fn write_files(
    args: &RunArgs,
    report: &Report<'_>,
    histogram: Option<&loadgen::latency::LatencyHistogram>,
) -> bool {
    let mut written = true;
    if let Some(path) = &args.json {
        written &= report_write(path, output::write_json(path, report));
    }
    if let (Some(path), Some(histogram)) = (&args.hgrm, histogram) {
        written &= report_write(path, output::write_hgrm(path, histogram));
    }
    written
}

fn report_write(path: &Path, result: std::io::Result<()>) -> bool {
    match result {
        Ok(()) => true,
        Err(e) => {
            eprintln!("loadgen: cannot write {}: {e}", path.display());
            false
        }
    }
}

//! The progress bar on stderr: shown once a run has lasted a couple of seconds, and only
//! when stderr is a terminal and `--quiet` was not given, so scripts see clean output.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::args::{RunArgs, RunLength};

/// Runs shorter than this finish without a bar flashing up.
const SHOW_AFTER: Duration = Duration::from_secs(2);
const TEMPLATE: &str = "{elapsed_precise} [{wide_bar}] {percent:>3}% {msg}";

/// What the bar counts toward.
enum Goal {
    Msgs(u64),
    /// Milliseconds, warmup included.
    Millis(u64),
}

pub struct Progress {
    enabled: bool,
    started: Instant,
    goal: Goal,
    /// What is counted: msgs, or connections.
    unit: &'static str,
    bar: Option<ProgressBar>,
}

impl Progress {
    pub fn new(wanted: bool, args: &RunArgs) -> Progress {
        let goal = match args.length {
            RunLength::Msgs(n) => Goal::Msgs(n),
            RunLength::Duration(d) => Goal::Millis((args.warmup + d).as_millis() as u64),
        };
        Progress {
            enabled: wanted && std::io::stderr().is_terminal(),
            started: Instant::now(),
            goal,
            unit: args.scenario.unit(),
            bar: None,
        }
    }

    /// `sent`: measured messages, requests or connection attempts so far.
    pub fn update(&mut self, sent: u64) {
        let elapsed = self.started.elapsed();
        if !self.enabled || elapsed < SHOW_AFTER {
            return;
        }
        let (position, length) = match self.goal {
            Goal::Msgs(n) => (sent, n),
            Goal::Millis(ms) => (elapsed.as_millis() as u64, ms),
        };
        let bar = self.bar.get_or_insert_with(|| {
            let bar = ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::stderr())
                .with_elapsed(elapsed);
            if let Ok(style) = ProgressStyle::with_template(TEMPLATE) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        let rate = sent as f64 / elapsed.as_secs_f64();
        bar.set_message(format!("{sent} sent, {rate:.0} {}/s", self.unit));
        bar.set_position(position.min(length));
    }

    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

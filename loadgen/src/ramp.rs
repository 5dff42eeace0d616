//! `loadgen ramp`: the open-loop scenario at rising offered rates until a step misses its
//! objectives; the answer is the highest rate that met them.

use serde::Serialize;

use crate::args::RampArgs;
use crate::latency::LatencySummary;
use crate::output;
use crate::run::{self, RunOutcome};
use crate::slo::Slo;

/// A step that delivers less than this share of its offered rate is past capacity,
/// whatever its latency says.
const MIN_ACHIEVED_SHARE: f64 = 0.95;

/// One step of the ramp, as written to JSON under `steps`.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub offered_rate: f64,
    pub achieved_rate: f64,
    pub latency_us: Option<LatencySummary>,
    pub met_slo: bool,
    pub msgs_sent: u64,
    pub msgs_received: u64,
    pub lost: u64,
    pub duplicates: u64,
    pub loadgen_cpu_cores: f64,
}

impl StepReport {
    pub fn judge(offered_rate: f64, outcome: &RunOutcome, slos: &[Slo]) -> StepReport {
        let figures = &outcome.figures;
        let achieved_rate = figures.achieved_rate.unwrap_or(0.0);
        StepReport {
            offered_rate,
            achieved_rate,
            latency_us: figures.latency_us,
            met_slo: meets_objectives(
                offered_rate,
                achieved_rate,
                figures.latency_us.as_ref(),
                figures.lost,
                outcome.failed,
                slos,
            ),
            msgs_sent: figures.msgs_sent,
            msgs_received: figures.msgs_received,
            lost: figures.lost,
            duplicates: figures.duplicates,
            loadgen_cpu_cores: figures.loadgen_cpu_cores,
        }
    }
}

/// A step passes when it kept up with its offered rate, lost nothing (a lost message has
/// no latency to hold to an objective), no connection failed, and every SLO held.
fn meets_objectives(
    offered_rate: f64,
    achieved_rate: f64,
    latency: Option<&LatencySummary>,
    lost: u64,
    failed: bool,
    slos: &[Slo],
) -> bool {
    let Some(latency) = latency else {
        return false;
    };
    !failed
        && lost == 0
        && achieved_rate >= MIN_ACHIEVED_SHARE * offered_rate
        && slos.iter().all(|slo| slo.met_by(latency))
}

/// The offered rates of a ramp: start, start + step, ... up to max.
pub fn rates(start: f64, step: f64, max: f64) -> impl Iterator<Item = f64> {
    // Computed from the index, not accumulated, so float error cannot skip the last step.
    let tolerance = step * 1e-9;
    (0u64..)
        .map(move |i| start + i as f64 * step)
        .take_while(move |&rate| rate <= max + tolerance)
}

pub struct RampOutcome {
    pub steps: Vec<StepReport>,
    /// Index in `steps` of the highest rate that met the objectives.
    pub best: Option<usize>,
    /// The run shown at the top level of the report: the best step, or the first if none
    /// met the objectives.
    pub headline: RunOutcome,
}

impl RampOutcome {
    pub fn max_rate_meeting_slo(&self) -> Option<f64> {
        self.best.map(|i| self.steps[i].offered_rate)
    }
}

pub fn run(ramp: &RampArgs) -> Result<RampOutcome, String> {
    output::print_step_header(ramp);
    let mut steps = Vec::new();
    let mut best: Option<(usize, RunOutcome)> = None;
    let mut first: Option<RunOutcome> = None;
    for rate in rates(ramp.start, ramp.step, ramp.max) {
        let mut args = ramp.run.clone();
        args.rate = Some(rate);
        let outcome = run::run(&args, false)?;
        let step = StepReport::judge(rate, &outcome, &ramp.slos);
        output::print_step(&step, &outcome.warnings);
        let met = step.met_slo;
        steps.push(step);
        if met {
            best = Some((steps.len() - 1, outcome));
        } else {
            first.get_or_insert(outcome);
            break;
        }
    }
    let (best, headline) = match (best, first) {
        (Some((index, outcome)), _) => (Some(index), outcome),
        (None, Some(outcome)) => (None, outcome),
        (None, None) => return Err("the ramp has no steps".to_string()),
    };
    Ok(RampOutcome {
        steps,
        best,
        headline,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn latency(p99: f64) -> LatencySummary {
        LatencySummary {
            p50: 20.0,
            p90: 40.0,
            p99,
            p99_9: p99 * 2.0,
            p99_99: p99 * 3.0,
            max: p99 * 4.0,
            count: 1000,
        }
    }

    #[test]
    fn rates_include_max() {
        let r: Vec<f64> = rates(10_000.0, 10_000.0, 50_000.0).collect();
        assert_eq!(r, vec![10_000.0, 20_000.0, 30_000.0, 40_000.0, 50_000.0]);
        let r: Vec<f64> = rates(0.1, 0.1, 0.3).collect();
        assert_eq!(r.len(), 3);
        assert_eq!(rates(5.0, 1.0, 5.0).count(), 1);
    }

    #[test]
    fn objectives() {
        let slos = [
            Slo::parse("p99=1ms").unwrap(),
            Slo::parse("p50=100us").unwrap(),
        ];
        let ok = latency(900.0);
        assert!(meets_objectives(1000.0, 1000.0, Some(&ok), 0, false, &slos));
        // Slightly under the offered rate is fine, under 95% is not.
        assert!(meets_objectives(1000.0, 950.0, Some(&ok), 0, false, &slos));
        assert!(!meets_objectives(1000.0, 949.0, Some(&ok), 0, false, &slos));
        assert!(!meets_objectives(
            1000.0,
            1000.0,
            Some(&latency(1_001.0)),
            0,
            false,
            &slos
        ));
        assert!(!meets_objectives(
            1000.0,
            1000.0,
            Some(&ok),
            1,
            false,
            &slos
        ));
        assert!(!meets_objectives(1000.0, 1000.0, Some(&ok), 0, true, &slos));
        assert!(!meets_objectives(1000.0, 1000.0, None, 0, false, &slos));
        // Without SLOs only the rate, loss and failures count.
        assert!(meets_objectives(
            1000.0,
            1000.0,
            Some(&latency(1e9)),
            0,
            false,
            &[]
        ));
    }
}

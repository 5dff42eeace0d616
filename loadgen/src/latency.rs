//! Latency recording: an HdrHistogram in nanoseconds, fed with receive time minus *intended*
//! send time so that a stalled sender or server shows up in every message that was due
//! during the stall (wrk2's coordinated-omission correction), and its percentile summary.

use hdrhistogram::Histogram;
use serde::Serialize;

/// Smallest distinguishable latency: 1 µs, finer than any broker round trip on loopback.
const LOWEST_TRACKED_NS: u64 = 1_000;
/// Largest recorded latency: 60 s; anything slower is recorded as 60 s.
const HIGHEST_TRACKED_NS: u64 = 60_000_000_000;
/// Three significant digits: 0.1% value error, the usual HdrHistogram setting.
const SIGNIFICANT_DIGITS: u8 = 3;
pub const NANOS_PER_MICRO: f64 = 1_000.0;

pub type LatencyHistogram = Histogram<u64>;

pub fn new_histogram() -> LatencyHistogram {
    Histogram::new_with_bounds(LOWEST_TRACKED_NS, HIGHEST_TRACKED_NS, SIGNIFICANT_DIGITS)
        .expect("constant histogram bounds are valid")
}

/// Records one message: both times are nanoseconds since the run's shared start `Instant`.
/// A receive stamped before its intended time (only possible if a publisher sent early)
/// counts as zero rather than wrapping.
pub fn record(histogram: &mut LatencyHistogram, received_ns: u64, intended_ns: u64) {
    histogram.saturating_record(received_ns.saturating_sub(intended_ns));
}

/// A reported point of the distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Percentile {
    P50,
    P90,
    P99,
    P99_9,
    P99_99,
    Max,
}

impl Percentile {
    pub const REPORTED: [Percentile; 6] = [
        Percentile::P50,
        Percentile::P90,
        Percentile::P99,
        Percentile::P99_9,
        Percentile::P99_99,
        Percentile::Max,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Percentile::P50 => "p50",
            Percentile::P90 => "p90",
            Percentile::P99 => "p99",
            Percentile::P99_9 => "p99.9",
            Percentile::P99_99 => "p99.99",
            Percentile::Max => "max",
        }
    }

    pub fn from_name(name: &str) -> Option<Percentile> {
        Percentile::REPORTED.into_iter().find(|p| p.name() == name)
    }

    fn quantile(self) -> f64 {
        match self {
            Percentile::P50 => 0.5,
            Percentile::P90 => 0.9,
            Percentile::P99 => 0.99,
            Percentile::P99_9 => 0.999,
            Percentile::P99_99 => 0.9999,
            Percentile::Max => 1.0,
        }
    }
}

/// Percentiles in microseconds, as written to JSON (`latency_us`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencySummary {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p99_9: f64,
    pub p99_99: f64,
    pub max: f64,
    pub count: u64,
}

impl LatencySummary {
    /// `None` when nothing was recorded: percentiles of no messages are not zero.
    pub fn of(histogram: &LatencyHistogram) -> Option<LatencySummary> {
        if histogram.is_empty() {
            return None;
        }
        let us = |p: Percentile| {
            let ns = match p {
                Percentile::Max => histogram.max(),
                _ => histogram.value_at_quantile(p.quantile()),
            };
            ns as f64 / NANOS_PER_MICRO
        };
        Some(LatencySummary {
            p50: us(Percentile::P50),
            p90: us(Percentile::P90),
            p99: us(Percentile::P99),
            p99_9: us(Percentile::P99_9),
            p99_99: us(Percentile::P99_99),
            max: us(Percentile::Max),
            count: histogram.len(),
        })
    }

    pub fn get(&self, p: Percentile) -> f64 {
        match p {
            Percentile::P50 => self.p50,
            Percentile::P90 => self.p90,
            Percentile::P99 => self.p99,
            Percentile::P99_9 => self.p99_9,
            Percentile::P99_99 => self.p99_99,
            Percentile::Max => self.max,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload;
    use crate::schedule::Schedule;

    const MESSAGES_PER_SEC: f64 = 1_000.0;
    const RUN_MESSAGES: u64 = 10_000;
    const SERVICE_NS: u64 = 100_000;
    const STALL_FROM_NS: u64 = 5_000_000_000;
    const STALL_UNTIL_NS: u64 = 6_000_000_000;

    /// A sender on a 1000 msg/s schedule for 10 s that freezes from 5 s to 6 s, then sends
    /// everything that fell due at once; every message takes 100 µs to arrive. Latencies go
    /// through the real payload stamp and recording path.
    fn stalled_run() -> (LatencyHistogram, LatencyHistogram) {
        let schedule = Schedule::new(MESSAGES_PER_SEC, 0.0);
        let mut corrected = new_histogram();
        let mut naive = new_histogram();
        let mut payload_bytes = [0u8; 16];
        for k in 0..RUN_MESSAGES {
            let intended = schedule.intended_ns(k);
            let sent = if (STALL_FROM_NS..STALL_UNTIL_NS).contains(&intended) {
                STALL_UNTIL_NS
            } else {
                intended
            };
            payload::stamp(&mut payload_bytes, intended, 0, k);
            let received = sent + SERVICE_NS;
            let stamped = payload::read_stamp(&payload_bytes).unwrap();
            record(&mut corrected, received, stamped);
            record(&mut naive, received, sent);
        }
        (corrected, naive)
    }

    fn within(value_us: f64, expected_us: f64) -> bool {
        (value_us - expected_us).abs() <= expected_us * 0.002 + 1.0
    }

    #[test]
    fn stall_shows_in_every_message_due_during_it() {
        let (corrected, naive) = stalled_run();
        let c = LatencySummary::of(&corrected).unwrap();
        // 9000 messages took 100 µs; the 1000 due during the stall waited 1 s down to 1 ms.
        assert_eq!(c.count, RUN_MESSAGES);
        assert!(within(c.p50, 100.0), "p50 {}", c.p50);
        // p90 sits exactly on the boundary: the last undisturbed message or the first stalled.
        assert!(c.p90 <= 1_100.0 * 1.002, "p90 {}", c.p90);
        // Rank 9900 is the 900th-smallest stall latency: 1 s - 100 ms + 100 µs.
        assert!(within(c.p99, 900_100.0), "p99 {}", c.p99);
        assert!(within(c.p99_9, 990_100.0), "p99.9 {}", c.p99_9);
        assert!(within(c.max, 1_000_100.0), "max {}", c.max);
        // Messages due in the stall's first half all waited at least 500 ms.
        assert_eq!(
            corrected.count_between(500_000_000, HIGHEST_TRACKED_NS),
            501
        );

        // Timing from the actual send hides the stall completely.
        let n = LatencySummary::of(&naive).unwrap();
        assert!(within(n.p99_99, 100.0) && within(n.max, 100.0));
    }

    #[test]
    fn empty_histogram_has_no_summary() {
        assert_eq!(LatencySummary::of(&new_histogram()), None);
    }

    #[test]
    fn early_and_huge_values_saturate() {
        let mut h = new_histogram();
        record(&mut h, 5, 10);
        record(&mut h, u64::MAX, 0);
        assert_eq!(h.len(), 2);
        assert_eq!(h.min(), 0);
        assert!(h.max() >= HIGHEST_TRACKED_NS);
    }

    #[test]
    fn percentile_names_round_trip() {
        for p in Percentile::REPORTED {
            assert_eq!(Percentile::from_name(p.name()), Some(p));
        }
        assert_eq!(Percentile::from_name("p42"), None);
    }
}

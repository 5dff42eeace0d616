//! Latency objectives for `ramp`: `--slo p99=1ms` means the step's p99 must not exceed 1 ms.

use std::fmt;

use crate::latency::{LatencySummary, Percentile};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slo {
    pub percentile: Percentile,
    pub limit_us: f64,
}

impl Slo {
    /// `<percentile>=<number><unit>`, percentile one of p50 p90 p99 p99.9 p99.99 max, unit
    /// one of us µs ms s.
    pub fn parse(text: &str) -> Result<Slo, String> {
        let (name, limit) = text
            .split_once('=')
            .ok_or_else(|| format!("--slo {text}: expected PERCENTILE=LIMIT, e.g. p99=1ms"))?;
        let percentile = Percentile::from_name(name).ok_or_else(|| {
            format!(
                "--slo {text}: unknown percentile {name} (use p50, p90, p99, p99.9, p99.99 or max)"
            )
        })?;
        let limit_us = parse_limit_us(limit)
            .ok_or_else(|| format!("--slo {text}: bad limit {limit} (e.g. 500us, 1ms, 0.2s)"))?;
        Ok(Slo {
            percentile,
            limit_us,
        })
    }

    pub fn met_by(&self, latency: &LatencySummary) -> bool {
        latency.get(self.percentile) <= self.limit_us
    }
}

impl fmt::Display for Slo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}<={}us", self.percentile.name(), self.limit_us)
    }
}

fn parse_limit_us(text: &str) -> Option<f64> {
    const UNITS_US: [(&str, f64); 4] = [("us", 1.0), ("µs", 1.0), ("ms", 1e3), ("s", 1e6)];
    let (number, scale) = UNITS_US
        .iter()
        .find_map(|(unit, scale)| text.strip_suffix(unit).map(|n| (n, *scale)))?;
    let value: f64 = number.parse().ok()?;
    (value.is_finite() && value > 0.0).then_some(value * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(p99: f64) -> LatencySummary {
        LatencySummary {
            p50: 10.0,
            p90: 20.0,
            p99,
            p99_9: 2_000.0,
            p99_99: 3_000.0,
            max: 5_000.0,
            count: 100,
        }
    }

    #[test]
    fn parses_units_and_percentiles() {
        let cases = [
            ("p99=1ms", Percentile::P99, 1_000.0),
            ("p50=250us", Percentile::P50, 250.0),
            ("p90=1.5ms", Percentile::P90, 1_500.0),
            ("p99.9=2s", Percentile::P99_9, 2_000_000.0),
            ("p99.99=20µs", Percentile::P99_99, 20.0),
            ("max=10ms", Percentile::Max, 10_000.0),
        ];
        for (text, percentile, limit_us) in cases {
            assert_eq!(
                Slo::parse(text),
                Ok(Slo {
                    percentile,
                    limit_us
                }),
                "{text}"
            );
        }
    }

    #[test]
    fn refuses_malformed() {
        for bad in [
            "p99",
            "p99=",
            "p98=1ms",
            "p99=1",
            "p99=1m",
            "p99=-1ms",
            "p99=0ms",
            "p99=xms",
            "=1ms",
            "p99=1ms=2",
        ] {
            assert!(Slo::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn checks_limits_inclusively() {
        let slo = Slo::parse("p99=1ms").unwrap();
        assert!(slo.met_by(&summary(999.0)));
        assert!(slo.met_by(&summary(1_000.0)));
        assert!(!slo.met_by(&summary(1_001.0)));
    }
}

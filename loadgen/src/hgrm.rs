//! The `.hgrm` percentile distribution text, byte for byte as HdrHistogram's Java
//! `outputPercentileDistribution(out, 5, 1000.0)` prints it (the form HdrHistogram's plotter
//! and wrk2 read); the Rust crate has the iterator but not the printer. Values are recorded
//! in nanoseconds and printed in microseconds.

use std::io::{self, Write};

use crate::latency::{LatencyHistogram, NANOS_PER_MICRO};

/// Java's default: five percentile ticks per halving of the distance to 100%.
const TICKS_PER_HALF_DISTANCE: u32 = 5;

pub fn write(histogram: &LatencyHistogram, out: &mut impl Write) -> io::Result<()> {
    let digits = usize::from(histogram.sigfig());
    writeln!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    )?;
    let mut total = 0u64;
    for step in histogram.iter_quantiles(TICKS_PER_HALF_DISTANCE) {
        total += step.count_since_last_iteration();
        let value = step.value_iterated_to() as f64 / NANOS_PER_MICRO;
        let quantile = step.quantile_iterated_to();
        if quantile < 1.0 {
            writeln!(
                out,
                "{value:12.digits$} {quantile:2.12} {total:10} {:14.2}",
                1.0 / (1.0 - quantile)
            )?;
        } else {
            writeln!(out, "{value:12.digits$} {quantile:2.12} {total:10}")?;
        }
    }
    let (mean, stdev, max) = if histogram.is_empty() {
        (0.0, 0.0, 0.0)
    } else {
        (
            histogram.mean() / NANOS_PER_MICRO,
            histogram.stdev() / NANOS_PER_MICRO,
            histogram.max() as f64 / NANOS_PER_MICRO,
        )
    };
    writeln!(
        out,
        "#[Mean    = {mean:12.digits$}, StdDeviation   = {stdev:12.digits$}]"
    )?;
    writeln!(
        out,
        "#[Max     = {max:12.digits$}, Total count    = {:12}]",
        histogram.len()
    )?;
    writeln!(
        out,
        "#[Buckets = {:12}, SubBuckets     = {:12}]",
        histogram.buckets(),
        sub_bucket_count(histogram.sigfig())
    )
}

/// HdrHistogram's sub-bucket count: the power of two that holds 2 * 10^sigfig values.
fn sub_bucket_count(sigfig: u8) -> u64 {
    (2 * 10u64.pow(u32::from(sigfig))).next_power_of_two()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::new_histogram;

    fn render(histogram: &LatencyHistogram) -> String {
        let mut out = Vec::new();
        write(histogram, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn us(ns: u64) -> f64 {
        ns as f64 / NANOS_PER_MICRO
    }

    #[test]
    fn java_layout() {
        let mut h = new_histogram();
        for value_us in 1..=100u64 {
            h.record(value_us * 1_000).unwrap();
        }
        let text = render(&h);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "       Value     Percentile TotalCount 1/(1-Percentile)"
        );
        assert_eq!(lines[1], "");
        // Values print as the highest value equivalent to the bucket, as in Java.
        assert_eq!(
            lines[2],
            format!(
                "{:12.3} 0.000000000000          1           1.00",
                us(h.highest_equivalent(1_000))
            )
        );
        let rows: Vec<Vec<&str>> = lines[2..]
            .iter()
            .take_while(|l| !l.starts_with('#'))
            .map(|l| l.split_whitespace().collect())
            .collect();
        // The last row has no 1/(1-p) column; every other row has all four.
        let last = rows.last().unwrap();
        let max = format!("{:.3}", us(h.max()));
        assert_eq!(last, &vec![max.as_str(), "1.000000000000", "100"]);
        for row in &rows[..rows.len() - 1] {
            assert_eq!(row.len(), 4, "{row:?}");
        }
        let counts: Vec<u64> = rows.iter().map(|r| r[2].parse().unwrap()).collect();
        assert!(counts.windows(2).all(|w| w[0] <= w[1]));
        // Half the values are at or below 50 µs.
        let median = format!(
            "{:12.3} 0.500000000000         50           2.00",
            us(h.highest_equivalent(50_000))
        );
        assert!(lines.contains(&median.as_str()), "{text}");
        let tail = &lines[lines.len() - 3..];
        assert_eq!(
            tail[0],
            format!(
                "#[Mean    = {:12.3}, StdDeviation   = {:12.3}]",
                h.mean() / NANOS_PER_MICRO,
                h.stdev() / NANOS_PER_MICRO
            )
        );
        assert_eq!(
            tail[1],
            format!("#[Max     = {:>12}, Total count    =          100]", max)
        );
        assert_eq!(
            tail[2],
            format!(
                "#[Buckets = {:12}, SubBuckets     =         2048]",
                h.buckets()
            )
        );
    }

    #[test]
    fn empty_histogram_has_header_and_footer() {
        let text = render(&new_histogram());
        assert!(text.starts_with("       Value"));
        assert!(text.contains("#[Max     =        0.000, Total count    =            0]"));
    }
}

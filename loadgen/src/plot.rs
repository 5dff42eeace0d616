//! `ramp --plot FILE.svg`: latency against achieved throughput, one line per percentile on
//! a log-scale latency axis, with the SLO limits and the highest passing rate marked.
//! Hand-written SVG, so no plotting dependency.

use std::fmt::Write;

use crate::latency::Percentile;
use crate::ramp::StepReport;
use crate::slo::Slo;

const WIDTH: f64 = 860.0;
const HEIGHT: f64 = 520.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 150.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 60.0;
const X_TICKS: u32 = 5;
/// The percentiles drawn, each with its color (ColorBrewer Dark2).
const LINES: [(Percentile, &str); 5] = [
    (Percentile::P50, "#1b9e77"),
    (Percentile::P90, "#d95f02"),
    (Percentile::P99, "#7570b3"),
    (Percentile::P99_9, "#e7298a"),
    (Percentile::Max, "#666666"),
];

/// Maps data to pixels: x linear from 0, y log10 over whole decades.
struct Axes {
    x_max: f64,
    decade_low: i32,
    decade_high: i32,
}

impl Axes {
    fn x(&self, rate: f64) -> f64 {
        LEFT + rate / self.x_max * (WIDTH - LEFT - RIGHT)
    }

    fn y(&self, latency_us: f64) -> f64 {
        let span = f64::from(self.decade_high - self.decade_low);
        let position = (latency_us.max(1e-3).log10() - f64::from(self.decade_low)) / span;
        HEIGHT - BOTTOM - position * (HEIGHT - TOP - BOTTOM)
    }
}

pub fn render(title: &str, steps: &[StepReport], slos: &[Slo], best_rate: Option<f64>) -> String {
    let latencies = steps
        .iter()
        .filter_map(|s| s.latency_us)
        .flat_map(|l| LINES.map(|(p, _)| l.get(p)))
        .chain(slos.iter().map(|s| s.limit_us))
        .filter(|&v| v > 0.0);
    let (low, high) = latencies.fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let (decade_low, mut decade_high) = if high > 0.0 {
        (low.log10().floor() as i32, high.log10().ceil() as i32)
    } else {
        (0, 3)
    };
    if decade_high <= decade_low {
        decade_high = decade_low + 1;
    }
    let rate_max = steps
        .iter()
        .map(|s| s.achieved_rate.max(s.offered_rate))
        .fold(0.0, f64::max);
    let axes = Axes {
        x_max: nice_ceiling(rate_max),
        decade_low,
        decade_high,
    };

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="24" text-anchor="middle" font-size="15">{}</text>"#,
        (LEFT + WIDTH - RIGHT) / 2.0,
        escape(title)
    );
    draw_axes(&mut svg, &axes);
    for slo in slos {
        let y = axes.y(slo.limit_us);
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#c00" stroke-dasharray="6 4"/><text x="{:.1}" y="{:.1}" fill="#c00">{} SLO {}</text>"##,
            WIDTH - RIGHT,
            WIDTH - RIGHT + 6.0,
            y + 4.0,
            slo.percentile.name(),
            format_latency(slo.limit_us)
        );
    }
    if let Some(rate) = best_rate {
        let x = axes.x(rate);
        let _ = writeln!(
            svg,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#2a2" stroke-dasharray="3 3"/><text x="{:.1}" y="{:.1}" fill="#2a2">max meeting SLO: {}/s</text>"##,
            HEIGHT - BOTTOM,
            x + 4.0,
            TOP + 12.0,
            format_rate(rate)
        );
    }
    for (i, (percentile, color)) in LINES.iter().enumerate() {
        let points: Vec<(f64, f64)> = steps
            .iter()
            .filter_map(|s| {
                s.latency_us
                    .map(|l| (axes.x(s.achieved_rate), axes.y(l.get(*percentile))))
            })
            .collect();
        let path: Vec<String> = points
            .iter()
            .map(|(x, y)| format!("{x:.1},{y:.1}"))
            .collect();
        let _ = writeln!(
            svg,
            r#"<polyline class="{}" fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
            percentile.name(),
            path.join(" ")
        );
        for (x, y) in &points {
            let _ = writeln!(
                svg,
                r#"<circle cx="{x:.1}" cy="{y:.1}" r="3" fill="{color}"/>"#
            );
        }
        let legend_y = TOP + 20.0 * i as f64;
        let _ = writeln!(
            svg,
            r#"<line x1="{:.1}" y1="{legend_y:.1}" x2="{:.1}" y2="{legend_y:.1}" stroke="{color}" stroke-width="2"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            WIDTH - RIGHT + 40.0,
            WIDTH - RIGHT + 64.0,
            WIDTH - RIGHT + 70.0,
            legend_y + 4.0,
            percentile.name()
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn draw_axes(svg: &mut String, axes: &Axes) {
    let (x0, x1, y0, y1) = (LEFT, WIDTH - RIGHT, HEIGHT - BOTTOM, TOP);
    let _ = writeln!(
        svg,
        r##"<path d="M{x0},{y1} V{y0} H{x1}" fill="none" stroke="#000"/>"##
    );
    for tick in 0..=X_TICKS {
        let rate = axes.x_max * f64::from(tick) / f64::from(X_TICKS);
        let x = axes.x(rate);
        let _ = writeln!(
            svg,
            r##"<line x1="{x:.1}" y1="{y0}" x2="{x:.1}" y2="{:.1}" stroke="#000"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            y0 + 5.0,
            y0 + 20.0,
            format_rate(rate)
        );
    }
    for decade in axes.decade_low..=axes.decade_high {
        let us = 10f64.powi(decade);
        let y = axes.y(us);
        let _ = writeln!(
            svg,
            r##"<line x1="{x0}" y1="{y:.1}" x2="{x1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            x0 - 6.0,
            y + 4.0,
            format_latency(us)
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">achieved throughput (msgs/s)</text>"#,
        (x0 + x1) / 2.0,
        HEIGHT - 18.0
    );
    let _ = writeln!(
        svg,
        r#"<text x="18" y="{:.1}" text-anchor="middle" transform="rotate(-90 18 {:.1})">latency (log scale)</text>"#,
        (y0 + y1) / 2.0,
        (y0 + y1) / 2.0
    );
}

/// The smallest 1, 2 or 5 times a power of ten at or above `value`.
fn nice_ceiling(value: f64) -> f64 {
    if value <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|&v| v >= value)
        .unwrap_or(10.0 * magnitude)
}

fn format_rate(rate: f64) -> String {
    if rate >= 1e6 {
        format!("{}M", trim(rate / 1e6))
    } else if rate >= 1e3 {
        format!("{}k", trim(rate / 1e3))
    } else {
        trim(rate)
    }
}

fn format_latency(us: f64) -> String {
    if us >= 1e6 {
        format!("{} s", trim(us / 1e6))
    } else if us >= 1e3 {
        format!("{} ms", trim(us / 1e3))
    } else {
        format!("{} µs", trim(us))
    }
}

/// Up to two decimals, trailing zeros dropped.
fn trim(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::LatencySummary;

    fn step(rate: f64, p50: f64, met: bool) -> StepReport {
        StepReport {
            offered_rate: rate,
            achieved_rate: rate * 0.99,
            latency_us: Some(LatencySummary {
                p50,
                p90: p50 * 2.0,
                p99: p50 * 5.0,
                p99_9: p50 * 10.0,
                p99_99: p50 * 20.0,
                max: p50 * 40.0,
                count: 1000,
            }),
            met_slo: met,
            msgs_sent: 1000,
            msgs_received: 1000,
            lost: 0,
            duplicates: 0,
            loadgen_cpu_cores: 0.5,
        }
    }

    fn points(svg: &str, class: &str) -> Vec<(f64, f64)> {
        let marker = format!(r#"<polyline class="{class}""#);
        let line = svg.lines().find(|l| l.starts_with(&marker)).unwrap();
        let list = line
            .split("points=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        list.split(' ')
            .map(|p| {
                let (x, y) = p.split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect()
    }

    #[test]
    fn lines_axes_and_markers() {
        let steps = [
            step(10_000.0, 20.0, true),
            step(20_000.0, 30.0, true),
            step(30_000.0, 400.0, false),
        ];
        let slos = [Slo::parse("p99=1ms").unwrap()];
        let svg = render("pubsub <ramp>", &steps, &slos, Some(20_000.0));
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("pubsub &lt;ramp&gt;"));
        assert!(svg.contains("p99 SLO 1 ms"));
        assert!(svg.contains("max meeting SLO: 20k/s"));
        assert!(svg.contains("10 µs") && svg.contains("100 ms"));
        for (p, _) in LINES {
            assert_eq!(points(&svg, p.name()).len(), 3, "{}", p.name());
        }
        // Throughput grows to the right; higher latency is drawn higher (smaller y).
        let p50 = points(&svg, "p50");
        assert!(p50.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 > w[1].1));
        let max = points(&svg, "max");
        assert!(max.iter().zip(&p50).all(|(m, p)| m.1 < p.1));
        // Every point is inside the plot area.
        for (x, y) in p50.iter().chain(&max) {
            assert!((LEFT..=WIDTH - RIGHT).contains(x) && (TOP..=HEIGHT - BOTTOM).contains(y));
        }
    }

    #[test]
    fn nice_numbers() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(9_000.0), 10_000.0);
        assert_eq!(nice_ceiling(10_000.0), 10_000.0);
        assert_eq!(nice_ceiling(10_001.0), 20_000.0);
        assert_eq!(nice_ceiling(310_000.0), 500_000.0);
        assert_eq!(format_rate(1_500_000.0), "1.5M");
        assert_eq!(format_latency(250.0), "250 µs");
        assert_eq!(format_latency(1_000_000.0), "1 s");
    }
}

//! Clock and duration formats of the Go server: RFC 3339 with nanoseconds (Go's JSON
//! `time.Time`), HTTP dates, `time.Duration.String()` and the monitor's uptime form.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// A proleptic Gregorian date to days since 1970-01-01 (the inverse of `civil_from_days`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = y - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from(if m > 2 { m - 3 } else { m + 9 });
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Nanoseconds since the Unix epoch of an RFC 3339 time as Go's JSON `time.Time` takes it
/// (`2006-01-02T15:04:05.999999999Z07:00`); `None` for anything else.
pub(crate) fn parse_rfc3339_ns(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 59 {
        return None;
    }
    let mut at = 19;
    let mut nanos = 0i64;
    if b[at] == b'.' {
        let digits = b[at + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits == 0 || digits > 9 {
            return None;
        }
        nanos = num(at + 1..at + 1 + digits)? * 10i64.pow((9 - digits) as u32);
        at += 1 + digits;
    }
    let offset_s = match &s[at..] {
        "Z" => 0,
        tz if tz.len() == 6 && (tz.starts_with('+') || tz.starts_with('-')) && &tz[3..4] == ":" => {
            let mins = num(at + 1..at + 3)? * 60 + num(at + 4..at + 6)?;
            if tz.starts_with('-') {
                -mins * 60
            } else {
                mins * 60
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month as u32, day as u32);
    let secs = days * 86_400 + hour * 3600 + min * 60 + sec - offset_s;
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// A UTC date and time of day, split out of a `SystemTime`.
struct Civil {
    date: (i64, u32, u32),
    hour: i64,
    min: i64,
    sec: i64,
    nanos: u32,
    days: i64,
}

impl Civil {
    /// `15:04:05`.
    fn clock(&self) -> String {
        format!("{:02}:{:02}:{:02}", self.hour, self.min, self.sec)
    }
}

fn civil(t: SystemTime) -> Civil {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, s) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    Civil {
        date: civil_from_days(days),
        hour: s / 3600,
        min: s % 3600 / 60,
        sec: s % 60,
        nanos: d.subsec_nanos(),
        days,
    }
}

/// `2006/01/02 15:04:05.000000` in UTC: the log line timestamp.
pub(crate) fn log_timestamp(t: SystemTime) -> String {
    let c = civil(t);
    let (y, m, d) = c.date;
    format!("{y:04}/{m:02}/{d:02} {}.{:06}", c.clock(), c.nanos / 1000)
}

/// `2006.01.02.15.04.05.000000000` in UTC: the suffix of a rotated log file
/// (`logger/log.go`).
pub(crate) fn rotation_stamp(t: SystemTime) -> String {
    let c = civil(t);
    let (y, m, d) = c.date;
    format!(
        "{y:04}.{m:02}.{d:02}.{:02}.{:02}.{:02}.{:09}",
        c.hour, c.min, c.sec, c.nanos
    )
}

/// Go's `time.RFC3339Nano` in UTC: `2026-11-23T15:47:01.49294072Z`, trailing zeros of the
/// fraction dropped (and the dot with them).
pub(crate) fn rfc3339_nano(t: SystemTime) -> String {
    let c = civil(t);
    let (y, m, d) = c.date;
    format!(
        "{y:04}-{m:02}-{d:02}T{}{}Z",
        c.clock(),
        fraction(c.nanos, 9)
    )
}

/// `Mon, 23 Nov 2026 15:48:01 GMT` (RFC 7231 `Date` header).
pub(crate) fn http_date(t: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let c = civil(t);
    let (y, m, d) = c.date;
    format!(
        "{}, {d:02} {} {y:04} {} GMT",
        DAYS[c.days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        c.clock()
    )
}

/// `.ddd` for `value` of `digits` decimal places, trailing zeros dropped; empty for zero.
fn fraction(value: u32, digits: usize) -> String {
    if value == 0 {
        return String::new();
    }
    let s = format!(".{value:0digits$}");
    s.trim_end_matches('0').to_string()
}

/// Go's `time.Duration.String()`: `0s`, `850ns`, `567.891µs`, `1.5ms`, `2m3.5s`, `1h0m0s`.
pub(crate) fn go_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    if ns < 1_000_000 {
        return format!("{}{}µs", ns / 1_000, fraction((ns % 1_000) as u32, 3));
    }
    if ns < 1_000_000_000 {
        return format!(
            "{}{}ms",
            ns / 1_000_000,
            fraction((ns % 1_000_000) as u32, 6)
        );
    }
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let sec = format!("{s}{}s", fraction(d.subsec_nanos(), 9));
    match (h, m) {
        (0, 0) => sec,
        (0, m) => format!("{m}m{sec}"),
        (h, m) => format!("{h}h{m}m{sec}"),
    }
}

/// The monitor's `uptime`/`idle` form (`myUptime`, `monitor.go`): whole seconds, with
/// days and years, `1y2d3h4m5s` down to `5s`.
pub(crate) fn uptime(d: Duration) -> String {
    let secs = d.as_secs();
    let (mins, hrs) = (secs / 60, secs / 3600);
    let (days, yrs) = (hrs / 24, hrs / 24 / 365);
    if yrs > 0 {
        format!(
            "{yrs}y{}d{}h{}m{}s",
            days % 365,
            hrs % 24,
            mins % 60,
            secs % 60
        )
    } else if days > 0 {
        format!("{days}d{}h{}m{}s", hrs % 24, mins % 60, secs % 60)
    } else if hrs > 0 {
        format!("{hrs}h{}m{}s", mins % 60, secs % 60)
    } else if mins > 0 {
        format!("{mins}m{}s", secs % 60)
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_414), (2025, 11, 22));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn timestamps() {
        let t = UNIX_EPOCH + Duration::new(1_795_448_821, 492_940_720);
        assert_eq!(rfc3339_nano(t), "2026-11-23T15:47:01.49294072Z");
        assert_eq!(rotation_stamp(t), "2026.11.23.15.47.01.492940720");
        assert_eq!(
            rfc3339_nano(UNIX_EPOCH + Duration::from_secs(1_795_448_821)),
            "2026-11-23T15:47:01Z"
        );
        assert_eq!(http_date(t), "Mon, 23 Nov 2026 15:47:01 GMT");
        assert_eq!(log_timestamp(t), "2026/11/23 15:47:01.492940");
    }

    #[test]
    fn rfc3339_times_parse_back() {
        for days in [0, 11_016, 20_414, -1, 47_482] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        let t = UNIX_EPOCH + Duration::new(1_795_448_821, 492_940_720);
        let ns = 1_795_448_821_492_940_720;
        assert_eq!(parse_rfc3339_ns(&rfc3339_nano(t)), Some(ns));
        assert_eq!(
            parse_rfc3339_ns("2026-11-23T17:47:01.49294072+02:00"),
            Some(ns)
        );
        assert_eq!(parse_rfc3339_ns("1970-01-01T00:00:00Z"), Some(0));
        for bad in [
            "2026-11-23",
            "2026-11-23T15:47:01",
            "2026-13-01T00:00:00Z",
            "x",
        ] {
            assert_eq!(parse_rfc3339_ns(bad), None, "{bad}");
        }
    }

    #[test]
    fn go_durations() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_nanos(850), "850ns"),
            (Duration::from_nanos(567_000), "567µs"),
            (Duration::from_nanos(567_891), "567.891µs"),
            (Duration::from_micros(1_500), "1.5ms"),
            (Duration::from_millis(2_500), "2.5s"),
            (Duration::from_millis(123_500), "2m3.5s"),
            (Duration::from_secs(3_600), "1h0m0s"),
            (Duration::from_secs(120), "2m0s"),
        ];
        for (d, want) in cases {
            assert_eq!(go_duration(d), want, "{d:?}");
        }
    }

    #[test]
    fn uptimes() {
        assert_eq!(uptime(Duration::from_millis(1_900)), "1s");
        assert_eq!(uptime(Duration::from_secs(61)), "1m1s");
        assert_eq!(uptime(Duration::from_secs(3_600)), "1h0m0s");
        assert_eq!(uptime(Duration::from_secs(90_061)), "1d1h1m1s");
        assert_eq!(uptime(Duration::from_secs(365 * 86_400 + 1)), "1y0d0h0m1s");
    }
}

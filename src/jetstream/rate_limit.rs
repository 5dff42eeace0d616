//! A push consumer's `rate_limit_bps`: Go's `rate.Limiter` as `setRateLimit` builds it,
//! `bps / 8` bytes a second with a burst of the largest message, starting full.

/// Nanoseconds in a second: the bucket counts nano-bytes, so a byte rate times elapsed
/// nanoseconds adds up in whole units.
const NS_PER_SEC: i128 = 1_000_000_000;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RateLimit {
    /// The `rate_limit_bps` it was built for.
    bps: u64,
    /// Bytes a second (Go's `rate.Limit(bps / 8)`).
    per_sec: i128,
    /// Most nano-bytes it holds: the burst, in bytes, times [`NS_PER_SEC`].
    cap: i128,
    /// Nano-bytes it holds at `at` (ns since the epoch).
    held: i128,
    at: i64,
}

impl RateLimit {
    /// A full bucket for `bps` bits a second that lets `burst` bytes go at once.
    pub(crate) fn new(bps: u64, burst: usize, now: i64) -> RateLimit {
        let cap = burst as i128 * NS_PER_SEC;
        RateLimit {
            bps,
            per_sec: i128::from(bps / 8),
            cap,
            held: cap,
            at: now,
        }
    }

    /// The `rate_limit_bps` it was built for.
    pub(crate) fn bps(&self) -> u64 {
        self.bps
    }

    /// Takes `bytes` at `now` if they are there (`None`); otherwise leaves the bucket as
    /// it is and says when they will be (`i64::MAX`: never, at a rate of 0 or for a size
    /// over the burst, which Go's limiter never lets through either).
    pub(crate) fn take(&mut self, bytes: usize, now: i64) -> Option<i64> {
        if now > self.at {
            let gained = i128::from(now - self.at) * self.per_sec;
            self.held = self.held.saturating_add(gained).min(self.cap);
            self.at = now;
        }
        let need = bytes as i128 * NS_PER_SEC;
        if need <= self.held {
            self.held -= need;
            return None;
        }
        if self.per_sec == 0 || need > self.cap {
            return Some(i64::MAX);
        }
        let wait = (need - self.held + self.per_sec - 1) / self.per_sec;
        Some(now.saturating_add(i64::try_from(wait).unwrap_or(i64::MAX)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_burst_goes_at_once_then_bytes_come_at_the_rate() {
        // 8000 bits a second: 1000 bytes a second, a burst of 1500 bytes.
        let mut r = RateLimit::new(8000, 1500, 0);
        assert_eq!(r.take(1000, 0), None);
        assert_eq!(r.take(500, 0), None);
        assert_eq!(r.take(100, 0), Some(100_000_000), "100 bytes take 100 ms");
        assert_eq!(r.take(100, 99_999_999), Some(100_000_000));
        assert_eq!(r.take(100, 100_000_000), None);
        // Idle time fills it up to the burst, no further.
        assert_eq!(r.take(1500, 60_000_000_000), None);
        assert!(r.take(1, 60_000_000_000).is_some());
    }

    #[test]
    fn what_can_never_fit_is_never_due() {
        assert_eq!(RateLimit::new(8000, 10, 0).take(11, 0), Some(i64::MAX));
        let mut slow = RateLimit::new(7, 10, 0);
        assert_eq!(slow.take(10, 0), None);
        assert_eq!(
            slow.take(1, 1_000_000_000_000),
            Some(i64::MAX),
            "7 bits a second is Go's rate 0"
        );
    }
}

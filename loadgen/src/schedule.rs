//! Open-loop pacing: message k of a sender is due at a fixed time whatever happened to the
//! messages before it, and the sender's thread wakes close to those times.

const NANOS_PER_SEC: f64 = 1e9;

/// Evenly spaced send times in nanoseconds since the run's shared start.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    first_ns: f64,
    interval_ns: f64,
}

impl Schedule {
    /// `rate` messages per second; `phase` in [0, 1) shifts the first send by that fraction
    /// of an interval so that several senders at the same rate interleave instead of
    /// bursting together.
    pub fn new(rate: f64, phase: f64) -> Schedule {
        let interval_ns = NANOS_PER_SEC / rate;
        Schedule {
            first_ns: interval_ns * phase,
            interval_ns,
        }
    }

    pub fn intended_ns(&self, k: u64) -> u64 {
        (self.first_ns + k as f64 * self.interval_ns) as u64
    }

    /// How many messages are due at `now_ns` (intended time <= now). Exactly consistent
    /// with `intended_ns`, so a sender that sleeps until `intended_ns(k)` finds k due.
    pub fn due_by(&self, now_ns: u64) -> u64 {
        self.count_where(|t| t <= now_ns, now_ns)
    }

    /// How many messages are due strictly before `t_ns`.
    pub fn count_before(&self, t_ns: u64) -> u64 {
        self.count_where(|t| t < t_ns, t_ns)
    }

    /// The number of leading k whose intended time satisfies `due` (monotone in k): a float
    /// estimate, then corrected by a step or two against the exact rounding of `intended_ns`.
    fn count_where(&self, due: impl Fn(u64) -> bool, t_ns: u64) -> u64 {
        let estimate = ((t_ns as f64 - self.first_ns) / self.interval_ns).floor() + 1.0;
        let mut count = estimate.max(0.0) as u64;
        while count > 0 && !due(self.intended_ns(count - 1)) {
            count -= 1;
        }
        while due(self.intended_ns(count)) {
            count += 1;
        }
        count
    }
}

/// Linux delays a sleeping thread's wake-up by up to its timer slack, 50 µs by default; a
/// sender that wakes late adds that to every latency it measures, so senders ask for 1 ns.
pub fn tighten_timer_slack() {
    const SLACK_NS: libc::c_ulong = 1;
    // SAFETY: PR_SET_TIMERSLACK takes one integer argument and only affects this thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, SLACK_NS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evenly_spaced_with_phase() {
        let s = Schedule::new(1_000.0, 0.5);
        assert_eq!(s.intended_ns(0), 500_000);
        assert_eq!(s.intended_ns(1), 1_500_000);
        assert_eq!(s.due_by(0), 0);
        assert_eq!(s.due_by(499_999), 0);
        assert_eq!(s.due_by(500_000), 1);
        assert_eq!(s.due_by(1_499_999), 1);
        assert_eq!(s.due_by(10_000_000), 10);
        assert_eq!(s.count_before(500_000), 0);
        assert_eq!(s.count_before(500_001), 1);
    }

    #[test]
    fn due_by_agrees_with_intended_for_awkward_rates() {
        for rate in [3.0, 7.0, 333_333.0, 1_234_567.0] {
            let s = Schedule::new(rate, 0.37);
            for k in (1..5_000).chain([1_000_000, 987_654_321]) {
                let t = s.intended_ns(k);
                assert_eq!(s.due_by(t), k + 1, "rate {rate} k {k}");
                assert_eq!(s.due_by(t - 1), k, "rate {rate} k {k}");
                assert_eq!(s.count_before(t), k, "rate {rate} k {k}");
            }
        }
    }
}

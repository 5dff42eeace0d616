//! loadgen's own CPU use, reported next to every result: on a small machine the load
//! generator competes with the broker for cores, and a result is only as good as the
//! headroom loadgen left.

use std::time::{Duration, Instant};

/// Counts CPU time (user + system, all threads) and wall time from its creation.
pub struct CpuMeter {
    cpu_at_start: Duration,
    wall_at_start: Instant,
}

impl CpuMeter {
    pub fn start() -> CpuMeter {
        CpuMeter {
            cpu_at_start: process_cpu_time(),
            wall_at_start: Instant::now(),
        }
    }

    /// Average cores busy since `start`: CPU seconds over wall seconds.
    pub fn cores(&self) -> f64 {
        let wall = self.wall_at_start.elapsed().as_secs_f64();
        let cpu = process_cpu_time().saturating_sub(self.cpu_at_start);
        if wall > 0.0 {
            cpu.as_secs_f64() / wall
        } else {
            0.0
        }
    }
}

/// User plus system time of every thread of this process, from getrusage(RUSAGE_SELF).
fn process_cpu_time() -> Duration {
    // SAFETY: rusage is plain data; getrusage fills it and cannot fail for RUSAGE_SELF.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let of = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    of(usage.ru_utime) + of(usage.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_thread_counts() {
        let meter = CpuMeter::start();
        let until = Instant::now() + Duration::from_millis(50);
        let mut spins = 0u64;
        while Instant::now() < until {
            spins = std::hint::black_box(spins + 1);
        }
        let cores = meter.cores();
        assert!(cores > 0.0 && cores < 64.0, "{cores}");
    }
}

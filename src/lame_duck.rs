//! Lame duck mode (SIGUSR2, `--signal ldm`), as the Go server's `lameDuckMode` in
//! `server.go`: every shard stops accepting and sends its clients an INFO with
//! `"ldm":true`; after `lame_duck_grace_period` the clients are closed one at a time,
//! spread over the rest of `lame_duck_duration` (at most 1 s apart), so that they do not all
//! reconnect elsewhere at once; then the server shuts down and exits 0.

use std::time::Duration;

use crate::control::Control;
use crate::log_at;

/// The longest pause between two closes (`lameDuckMode`), however few the clients.
const MAX_CLOSE_INTERVAL: Duration = Duration::from_secs(1);
/// The window closes are spread over when the grace period takes the whole duration.
const MIN_CLOSE_WINDOW: Duration = Duration::from_secs(1);

/// How long to wait between two closes: the window shared by the clients, capped at
/// `MAX_CLOSE_INTERVAL`. The Go server closes several per pause only when there are more
/// clients than nanoseconds in the window, which no server reaches, so here it is one each.
fn close_interval(duration: Duration, grace: Duration, clients: usize) -> Duration {
    let window = duration
        .checked_sub(grace)
        .filter(|w| !w.is_zero())
        .unwrap_or(MIN_CLOSE_WINDOW);
    let per_client = window / u32::try_from(clients.max(1)).unwrap_or(u32::MAX);
    per_client.clamp(Duration::from_nanos(1), MAX_CLOSE_INTERVAL)
}

/// A pause between `interval / 2` and `interval`, half the time exactly `interval / 2`, as
/// Go's `max(rand.Int63n(si), si/2)`.
fn jittered(interval: Duration, seed: &mut u64) -> Duration {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    let nanos = u64::try_from(interval.as_nanos())
        .unwrap_or(u64::MAX)
        .max(1);
    Duration::from_nanos((*seed % nanos).max(nanos / 2))
}

/// Runs lame duck mode to its end, unless a stop signal cuts it short; the caller shuts
/// the server down either way.
pub(crate) fn run(ctl: &mut Control) {
    log_at!(Info, "Entering lame duck mode, stop accepting new clients");
    let clients = ctl.running().enter_lame_duck();
    if clients.is_empty() {
        return;
    }
    let server = ctl.running().server();
    let (duration, grace) = (
        server.cfg.lame_duck_duration,
        server.cfg.lame_duck_grace_period,
    );
    let interval = close_interval(duration, grace, clients.len());
    if !ctl.sleep(grace) {
        return;
    }
    log_at!(Info, "Closing existing clients");
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    for (i, client) in clients.iter().enumerate() {
        ctl.running().close_clients(std::slice::from_ref(client));
        if i + 1 < clients.len() && !ctl.sleep(jittered(interval, &mut seed)) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_follow_go() {
        let s = Duration::from_secs;
        assert_eq!(close_interval(s(120), s(10), 3), MAX_CLOSE_INTERVAL);
        assert_eq!(
            close_interval(s(120), s(10), 1100),
            Duration::from_millis(100)
        );
        assert_eq!(close_interval(s(30), s(40), 2), Duration::from_millis(500));
        let mut seed = 42;
        for _ in 0..100 {
            let d = jittered(Duration::from_millis(100), &mut seed);
            assert!(d >= Duration::from_millis(50) && d < Duration::from_millis(100));
        }
    }
}

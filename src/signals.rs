//! Signals are blocked in every thread and taken synchronously by the main thread, so no
//! handler ever runs inside a shard. The set is the Go server's (`signal.go`): stop,
//! reload (SIGHUP), reopen the log file (SIGUSR1) and lame duck mode (SIGUSR2).

use std::time::Duration;

/// A signal the server acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Interrupt,
    Terminate,
    Quit,
    Hangup,
    User1,
    User2,
}

const HANDLED: [(libc::c_int, Signal); 6] = [
    (libc::SIGINT, Signal::Interrupt),
    (libc::SIGTERM, Signal::Terminate),
    (libc::SIGQUIT, Signal::Quit),
    (libc::SIGHUP, Signal::Hangup),
    (libc::SIGUSR1, Signal::User1),
    (libc::SIGUSR2, Signal::User2),
];

impl Signal {
    /// Go's name for the signal, as in `Trapped "hangup" signal`.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "interrupt",
            Signal::Terminate => "terminated",
            Signal::Quit => "quit",
            Signal::Hangup => "hangup",
            Signal::User1 => "user defined signal 1",
            Signal::User2 => "user defined signal 2",
        }
    }

    fn from_raw(sig: libc::c_int) -> Option<Signal> {
        HANDLED.iter().find(|(n, _)| *n == sig).map(|&(_, s)| s)
    }
}

pub struct Signals(libc::sigset_t);

/// Blocks the handled signals for this thread and every thread started after it.
pub fn block() -> Result<Signals, String> {
    // SAFETY: sigset_t is plain data initialised by sigemptyset before use.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for (s, _) in HANDLED {
            libc::sigaddset(&mut set, s);
        }
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return Err("could not block signals".into());
        }
        Ok(Signals(set))
    }
}

/// Waits for a handled signal.
pub fn wait(s: &Signals) -> Signal {
    loop {
        let mut sig: libc::c_int = 0;
        // SAFETY: the set was initialised in `block`.
        if unsafe { libc::sigwait(&s.0, &mut sig) } != 0 {
            continue;
        }
        if let Some(sig) = Signal::from_raw(sig) {
            return sig;
        }
    }
}

/// Waits for a handled signal for at most `timeout`; `None` when the time ran out.
pub fn wait_timeout(s: &Signals, timeout: Duration) -> Option<Signal> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return None;
        }
        let ts = libc::timespec {
            tv_sec: left.as_secs() as libc::time_t,
            tv_nsec: left.subsec_nanos() as libc::c_long,
        };
        // SAFETY: the set was initialised in `block`; a null siginfo is allowed.
        let sig = unsafe { libc::sigtimedwait(&s.0, std::ptr::null_mut(), &ts) };
        if let Some(sig) = Signal::from_raw(sig) {
            return Some(sig);
        }
        // -1 with EAGAIN (time ran out) or EINTR: the loop re-checks the deadline.
    }
}

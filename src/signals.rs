//! Signals are blocked in every thread and taken synchronously by the main thread, so no
//! handler ever runs inside a shard.

/// Signals that stop the server (SIGINT, SIGTERM, SIGQUIT).
const STOP: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGQUIT];

pub struct Signals(libc::sigset_t);

/// Blocks the stop signals for this thread and every thread started after it.
pub fn block() -> Result<Signals, String> {
    // SAFETY: sigset_t is plain data initialised by sigemptyset before use.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in STOP {
            libc::sigaddset(&mut set, s);
        }
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return Err("could not block signals".into());
        }
        Ok(Signals(set))
    }
}

/// Waits for a stop signal and returns its Go-style name.
pub fn wait(s: &Signals) -> &'static str {
    loop {
        let mut sig: libc::c_int = 0;
        // SAFETY: the set was initialised in `block`.
        if unsafe { libc::sigwait(&s.0, &mut sig) } != 0 {
            continue;
        }
        return match sig {
            libc::SIGINT => "interrupt",
            libc::SIGTERM => "terminated",
            _ => "quit",
        };
    }
}

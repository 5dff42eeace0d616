//! The main thread once the server runs: it waits for signals and acts on them as the Go
//! server's `handleSignals` does. SIGINT, SIGTERM and SIGQUIT stop the server; SIGHUP
//! reloads the configuration; SIGUSR1 reopens the log file; SIGUSR2 enters lame duck mode,
//! during which SIGTERM is ignored and the others still work.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::log_at;
use crate::reload::Reloader;
use crate::runtime::Running;
use crate::signals::{self, Signal, Signals};

/// What a signal leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    Continue,
    Stop,
    LameDuck,
}

pub struct Control {
    running: Running,
    signals: Signals,
    reloader: Reloader,
    /// The pid file this process wrote, removed on exit.
    pid_file: Option<PathBuf>,
    in_lame_duck: bool,
}

impl Control {
    /// `config_file` and `args` (the command line) are read again on each reload.
    pub fn new(
        running: Running,
        signals: Signals,
        config_file: Option<PathBuf>,
        args: Vec<String>,
        pid_file: Option<PathBuf>,
    ) -> Control {
        Control {
            running,
            signals,
            reloader: Reloader::new(config_file, args),
            pid_file,
            in_lame_duck: false,
        }
    }

    pub(crate) fn running(&self) -> &Running {
        &self.running
    }

    /// Serves until a stop signal, or until lame duck mode has moved every client off,
    /// then shuts the server down.
    pub fn serve(mut self) {
        loop {
            match self.on_signal(signals::wait(&self.signals)) {
                Next::Continue => {}
                Next::Stop => break,
                Next::LameDuck => {
                    self.in_lame_duck = true;
                    crate::lame_duck::run(&mut self);
                    break;
                }
            }
        }
        log_at!(Info, "Initiating Shutdown...");
        self.running.shutdown();
        if let Some(p) = &self.pid_file {
            let _ = std::fs::remove_file(p);
        }
        log_at!(Info, "Server Exiting..");
    }

    fn on_signal(&mut self, sig: Signal) -> Next {
        log_at!(Info, "Trapped \"{}\" signal", sig.name());
        match sig {
            Signal::Hangup => {
                if let Err(e) = self.reloader.reload(&self.running, &mut self.pid_file) {
                    log_at!(Error, "Failed to reload server configuration: {e}");
                }
                Next::Continue
            }
            Signal::User1 => {
                crate::log::reopen();
                Next::Continue
            }
            Signal::User2 if self.in_lame_duck => Next::Continue,
            Signal::User2 => Next::LameDuck,
            // A graceful shutdown is already under way (`signal.go`).
            Signal::Terminate if self.in_lame_duck => Next::Continue,
            Signal::Interrupt | Signal::Terminate | Signal::Quit => Next::Stop,
        }
    }

    /// Waits `d` while acting on signals; false when a stop signal cut the wait short.
    pub(crate) fn sleep(&mut self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match signals::wait_timeout(&self.signals, left) {
                None => return true,
                Some(sig) => {
                    if self.on_signal(sig) == Next::Stop {
                        return false;
                    }
                }
            }
        }
    }
}

//! Logging in the Go server's shape: `[pid] 2006/01/02 15:04:05.000000 [INF] message`.
//!
//! Launchers and harnesses parse these lines (`Listening for client connections on ...`,
//! `Server is ready`), so each line is written whole and flushed at once.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::SystemTime;

use crate::config::Config;
use crate::logfile::LogFile;

/// Where lines go: stderr until a log file is configured.
enum Sink {
    Stderr,
    File(LogFile),
}

static SINK: Mutex<Sink> = Mutex::new(Sink::Stderr);
static DEBUG: AtomicBool = AtomicBool::new(false);
static TRACE: AtomicBool = AtomicBool::new(false);
static LOGTIME: AtomicBool = AtomicBool::new(true);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Fatal,
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl Level {
    fn tag(self) -> &'static str {
        match self {
            Level::Fatal => "[FTL]",
            Level::Error => "[ERR]",
            Level::Warn => "[WRN]",
            Level::Info => "[INF]",
            Level::Debug => "[DBG]",
            Level::Trace => "[TRC]",
        }
    }
}

fn sink() -> std::sync::MutexGuard<'static, Sink> {
    SINK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Applies the logging settings: verbosity, timestamps and the log file (opened anew, as
/// the Go server's `ConfigureLogger` does at start and on reload).
pub fn configure(cfg: &Config) -> Result<(), String> {
    DEBUG.store(cfg.debug, Ordering::Relaxed);
    TRACE.store(cfg.trace, Ordering::Relaxed);
    LOGTIME.store(cfg.logtime, Ordering::Relaxed);
    let next = match &cfg.log_file {
        Some(p) => Sink::File(
            LogFile::open(p, cfg.log_size_limit, cfg.log_max_num)
                .map_err(|e| format!("error opening log file {}: {e}", p.display()))?,
        ),
        None => Sink::Stderr,
    };
    let over_limit = matches!(&next, Sink::File(f) if f.over_limit());
    *sink() = next;
    if over_limit {
        write(Level::Info, format_args!("Rotating logfile..."));
    }
    Ok(())
}

/// SIGUSR1: opens the log file again under its name, for external rotation tools that
/// have moved it away (`ReOpenLogFile`).
pub fn reopen() {
    let reopened = match &mut *sink() {
        Sink::File(f) => Some(f.reopen()),
        Sink::Stderr => None,
    };
    match reopened {
        Some(Ok(())) => write(Level::Info, format_args!("File log re-opened")),
        Some(Err(e)) => write(Level::Error, format_args!("error re-opening log file: {e}")),
        None => write(
            Level::Info,
            format_args!("File log re-open ignored, not a file logger"),
        ),
    }
}

pub fn debug_enabled() -> bool {
    DEBUG.load(Ordering::Relaxed)
}

pub fn trace_enabled() -> bool {
    TRACE.load(Ordering::Relaxed)
}

/// One whole line: `[pid] date time [INF] message`, without the date and time when
/// `logtime` is off.
pub(crate) fn format_line(level: Level, args: fmt::Arguments<'_>) -> String {
    if LOGTIME.load(Ordering::Relaxed) {
        format!(
            "[{}] {} {} {}\n",
            std::process::id(),
            crate::timefmt::log_timestamp(SystemTime::now()),
            level.tag(),
            args
        )
    } else {
        format!("[{}] {} {}\n", std::process::id(), level.tag(), args)
    }
}

pub fn write(level: Level, args: fmt::Arguments<'_>) {
    match level {
        Level::Debug if !debug_enabled() => return,
        Level::Trace if !trace_enabled() => return,
        _ => {}
    }
    let line = format_line(level, args);
    match &mut *sink() {
        Sink::Stderr => {
            let mut w = std::io::stderr();
            let _ = w.write_all(line.as_bytes());
            let _ = w.flush();
        }
        Sink::File(f) => f.write_line(line.as_bytes()),
    }
}

#[macro_export]
macro_rules! log_at {
    ($lvl:ident, $($arg:tt)*) => {
        $crate::log::write($crate::log::Level::$lvl, format_args!($($arg)*))
    };
}

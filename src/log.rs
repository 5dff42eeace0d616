//! Logging in the Go server's shape: `[pid] 2006/01/02 15:04:05.000000 [INF] message`.
//!
//! Launchers and harnesses parse these lines (`Listening for client connections on ...`,
//! `Server is ready`), so each line is written whole and flushed at once.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

static SINK: OnceLock<Mutex<Box<dyn Write + Send>>> = OnceLock::new();
static DEBUG: AtomicBool = AtomicBool::new(false);
static TRACE: AtomicBool = AtomicBool::new(false);

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

/// Sends log lines to `sink` (stderr when never called) and sets the verbosity.
pub fn init(sink: Box<dyn Write + Send>, debug: bool, trace: bool) {
    let _ = SINK.set(Mutex::new(sink));
    DEBUG.store(debug, Ordering::Relaxed);
    TRACE.store(trace, Ordering::Relaxed);
}

pub fn debug_enabled() -> bool {
    DEBUG.load(Ordering::Relaxed)
}

pub fn trace_enabled() -> bool {
    TRACE.load(Ordering::Relaxed)
}

pub fn write(level: Level, args: fmt::Arguments<'_>) {
    match level {
        Level::Debug if !debug_enabled() => return,
        Level::Trace if !trace_enabled() => return,
        _ => {}
    }
    let line = format!(
        "[{}] {} {} {}\n",
        std::process::id(),
        crate::timefmt::log_timestamp(SystemTime::now()),
        level.tag(),
        args
    );
    let sink = SINK.get_or_init(|| Mutex::new(Box::new(std::io::stderr())));
    let mut w = sink.lock().unwrap_or_else(|e| e.into_inner());
    let _ = w.write_all(line.as_bytes());
    let _ = w.flush();
}

#[macro_export]
macro_rules! log_at {
    ($lvl:ident, $($arg:tt)*) => {
        $crate::log::write($crate::log::Level::$lvl, format_args!($($arg)*))
    };
}

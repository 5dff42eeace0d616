//! `riptide --signal <command>[=<pid or pid file>]`: sends a running server the signal for a
//! command, as `nats-server --signal` does (`signal.go` `ProcessSignal`, `opts.go`
//! `processSignal`), with the Go server's error texts. Without a pid the process is found by
//! name, and it must be the only one; a pid ending in `*` signals every server whose pid
//! starts with the digits before it.

use std::path::Path;

/// The signal each command sends (`CommandToSignal`).
const COMMANDS: [(&str, libc::c_int); 6] = [
    ("stop", libc::SIGKILL),
    ("quit", libc::SIGINT),
    ("reopen", libc::SIGUSR1),
    ("reload", libc::SIGHUP),
    ("ldm", libc::SIGUSR2),
    ("term", libc::SIGTERM),
];

/// Sends the signal `spec` asks for. `pid_file` (`-P`) names the process when `spec` does
/// not; the Go server looks the process up by name then.
pub fn send(spec: &str, pid_file: Option<&Path>) -> Result<(), String> {
    let parts: Vec<&str> = spec.split('=').collect();
    if parts.len() > 2 {
        return Err(format!(
            "invalid signal parameters: [{}]",
            parts[2..].join(" ")
        ));
    }
    let pid_expr = match (parts.get(1), pid_file) {
        (Some(p), _) => maybe_read_pid_file(Path::new(p)).unwrap_or_else(|| p.to_string()),
        (None, Some(f)) => maybe_read_pid_file(f)
            .ok_or_else(|| format!("could not read pid file {}", f.display()))?,
        (None, None) => String::new(),
    };
    process_signal(parts[0], pid_expr.trim())
}

/// The contents of the file at `p`, when there is one (`maybeReadPidFile`).
fn maybe_read_pid_file(p: &Path) -> Option<String> {
    std::fs::read_to_string(p).ok()
}

fn process_signal(command: &str, pid_expr: &str) -> Result<(), String> {
    let (pid_prefix, glob) = match pid_expr.strip_suffix('*') {
        Some(p) => (p, true),
        None => (pid_expr, false),
    };
    let mut pids = Vec::new();
    if !pid_prefix.is_empty() {
        let pid: i32 = pid_prefix
            .parse()
            .map_err(|_| format!("invalid pid: {pid_prefix}"))?;
        pids.push(pid);
    }
    let name = process_name();
    if pid_prefix.is_empty() || glob {
        pids = running_pids(&name);
    }
    if pids.len() > 1 && !glob {
        let list: Vec<String> = pids.iter().map(i32::to_string).collect();
        return Err(format!(
            "multiple {name} processes running:\n{}",
            list.join("\n")
        ));
    }
    if pids.is_empty() {
        return Err(format!("no {name} processes running"));
    }
    let signum = COMMANDS
        .iter()
        .find(|(c, _)| *c == command)
        .map(|&(_, s)| s)
        .ok_or_else(|| format!("unknown signal {command:?}"))?;
    let mut errors = String::new();
    for pid in pids {
        if glob && !pid.to_string().starts_with(pid_prefix) {
            continue;
        }
        // SAFETY: kill(2) with a pid and a valid signal number.
        if unsafe { libc::kill(pid, signum) } != 0 {
            let e = crate::runtime::error_text(&std::io::Error::last_os_error());
            errors.push_str(&format!("\nsignal {command:?} {pid}: {e}"));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// This program's process name (`riptide`, or `nats-server` when installed under that
/// name), which is what the running server is looked up by.
fn process_name() -> String {
    std::fs::read_to_string("/proc/self/comm")
        .map(|s| s.trim_end().to_string())
        .unwrap_or_else(|_| "riptide".into())
}

/// Other processes with this name. The Go server runs `pgrep`, which matches names as a
/// pattern; an exact match does not pick up e.g. `riptide-bench`.
fn running_pids(name: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<i32> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.trim_end() == name)
        })
        .collect();
    pids.sort_unstable();
    pids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_error_texts() {
        assert_eq!(
            send("reload=1=2", None).unwrap_err(),
            "invalid signal parameters: [2]"
        );
        assert_eq!(send("reload=abc", None).unwrap_err(), "invalid pid: abc");
        let me = std::process::id();
        assert_eq!(
            send(&format!("bogus={me}"), None).unwrap_err(),
            "unknown signal \"bogus\""
        );
        // The highest pid Linux can give is below 2^22.
        assert_eq!(
            send("reload=99999999", None).unwrap_err(),
            "\nsignal \"reload\" 99999999: no such process"
        );
        let missing = Path::new("/nonexistent/riptide.pid");
        assert!(send("ldm", Some(missing))
            .unwrap_err()
            .contains("could not read pid file"));
    }
}

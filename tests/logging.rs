//! The log file as operators run it: size rotation with the Go server's backup names and
//! `logfile_max_num`, SIGUSR1 to reopen it after an external tool moved it, and `-T=false`.

use crate::common;

use std::path::Path;

use common::process::{loopback, scratch_dir, wait_for_file, with_config, write_file, Proc};
use common::Raw;

/// Names in `dir` other than `keep`, sorted.
fn other_files(dir: &Path, keep: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !keep.contains(&n.as_str()))
        .collect();
    names.sort();
    names
}

#[test]
fn log_file_rotates_past_its_size_limit_and_keeps_max_num_files() {
    let dir = scratch_dir("log-rotate");
    let conf = write_file(
        &dir,
        "r.conf",
        "logfile_size_limit: 2000\nlogfile_max_num: 2\n",
    );
    let log = dir.join("r.log");
    let p = Proc::start_logging_to(&with_config(&conf, &["-D"]), &log);
    // Each connection logs a debug line when created and one when closed.
    for _ in 0..60 {
        drop(Raw::connect(p.addr()));
    }
    let prefix = format!("Rotated log, backup saved as \"{}.", log.display());
    // Two files at most: the current one and one backup, the older ones purged. The backup
    // began with its own rotation line, so it is not the first file.
    let text = wait_for_file(&log, |t| {
        t.contains(&prefix) && {
            let backups = other_files(&dir, &["r.log", "r.conf"]);
            backups.len() == 1
                && std::fs::read_to_string(dir.join(&backups[0])).is_ok_and(|b| b.contains(&prefix))
        }
    });
    let backup = other_files(&dir, &["r.log", "r.conf"]).remove(0);
    let stamp = backup.strip_prefix("r.log.").unwrap();
    let fields: Vec<&str> = stamp.split('.').collect();
    assert_eq!(
        fields.iter().map(|f| f.len()).collect::<Vec<_>>(),
        [4, 2, 2, 2, 2, 2, 9],
        "Go's YYYY.MM.DD.hh.mm.ss.nnnnnnnnn: {backup}"
    );
    assert!(
        text.contains(&format!("{}\"", dir.join(&backup).display())),
        "the current file names its backup: {text}"
    );
    p.signal(libc::SIGTERM);
    assert_eq!(p.wait(), 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sigusr1_reopens_a_log_file_moved_away() {
    let dir = scratch_dir("log-reopen");
    let log = dir.join("r.log");
    let p = Proc::start_logging_to(&loopback(&[]), &log);
    let moved = dir.join("r.log.1");
    std::fs::rename(&log, &moved).unwrap();
    p.signal(libc::SIGUSR1);
    wait_for_file(&log, |t| t.contains("[INF] File log re-opened"));
    let old = std::fs::read_to_string(&moved).unwrap();
    assert!(
        old.contains("Trapped \"user defined signal 1\" signal"),
        "{old}"
    );
    // Still serving.
    assert_eq!(Raw::connect(p.addr()).sync(), b"");
    p.signal(libc::SIGTERM);
    assert_eq!(p.wait(), 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sigusr1_without_a_log_file_is_ignored_and_logtime_off_drops_the_date() {
    let mut p = Proc::start(&loopback(&["-T=false"]));
    let pid = p.child.id();
    assert!(
        p.lines[0].starts_with(&format!("[{pid}] [INF] Starting riptide")),
        "{:?}",
        p.lines
    );
    p.signal(libc::SIGUSR1);
    assert_eq!(
        p.expect_log("File log re-open"),
        format!("[{pid}] [INF] File log re-open ignored, not a file logger")
    );
    p.signal(libc::SIGTERM);
    assert_eq!(p.wait(), 0);
}

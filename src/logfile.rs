//! The log file (`-l`, `log_file`) with the Go server's size rotation (`logger/log.go`): once
//! a write takes the file past `log_size_limit`, it is renamed to
//! `<name>.YYYY.MM.DD.hh.mm.ss.nnnnnnnnn`, a new file is opened, and with `log_max_num` only
//! that many files (the current one included) are kept.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::log::Level;

/// Permissions of a new log file (`defaultLogPerms`).
const LOG_FILE_MODE: u32 = 0o640;

/// Parts of a rotated file's timestamp suffix: year, month, day, hour, minute, second and
/// nanoseconds, dot-separated.
const ROTATED_STAMP_FIELDS: usize = 7;

pub(crate) struct LogFile {
    path: PathBuf,
    file: File,
    /// Bytes in the current file.
    written: u64,
    /// Rotate past this many bytes; 0 means never.
    limit: u64,
    /// Files kept when rotating, the current one included; 0 keeps every backup.
    max_files: usize,
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(LOG_FILE_MODE)
        .open(path)
}

impl LogFile {
    pub(crate) fn open(path: &Path, limit: u64, max_files: usize) -> io::Result<LogFile> {
        let file = open_append(path)?;
        let written = file.metadata()?.len();
        Ok(LogFile {
            path: path.to_path_buf(),
            file,
            written,
            limit,
            max_files,
        })
    }

    /// Opens the file again under its name, e.g. after a tool moved it away.
    pub(crate) fn reopen(&mut self) -> io::Result<()> {
        self.file = open_append(&self.path)?;
        self.written = self.file.metadata()?.len();
        Ok(())
    }

    /// Whether the file is already past its limit, as when a limit is set on a big file:
    /// the Go server then logs `Rotating logfile...`, and that write rotates it.
    pub(crate) fn over_limit(&self) -> bool {
        self.limit > 0 && self.written > self.limit
    }

    /// Writes one whole line, then rotates if the file went past its limit.
    pub(crate) fn write_line(&mut self, line: &[u8]) {
        if self.file.write_all(line).is_err() {
            return;
        }
        self.written += line.len() as u64;
        if self.over_limit() {
            self.rotate();
        }
    }

    fn rotate(&mut self) {
        let backup = PathBuf::from(format!(
            "{}.{}",
            self.path.display(),
            crate::timefmt::rotation_stamp(SystemTime::now())
        ));
        if let Err(e) = std::fs::rename(&self.path, &backup) {
            // As the Go server does when it cannot close the file: try again at twice the size.
            self.limit *= 2;
            let msg = format!(
                "Unable to rotate logfile ({e}), will attempt next rotation at size {}",
                self.limit
            );
            self.note(Level::Error, &msg);
            return;
        }
        match open_append(&self.path) {
            Ok(f) => {
                self.file = f;
                self.written = 0;
            }
            // Keep writing to the renamed file rather than lose lines.
            Err(_) => return,
        }
        self.note(
            Level::Info,
            &format!(
                "Rotated log, backup saved as {:?}",
                backup.display().to_string()
            ),
        );
        if self.max_files > 0 {
            self.purge();
        }
    }

    /// A line about the log file itself, written straight to it (a rotation must not
    /// trigger another).
    fn note(&mut self, level: Level, msg: &str) {
        let line = crate::log::format_line(level, format_args!("{msg}"));
        if self.file.write_all(line.as_bytes()).is_ok() {
            self.written += line.len() as u64;
        }
    }

    /// Removes the oldest backups so that `max_files` files remain, the current one included.
    fn purge(&mut self) {
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let Some(base) = self
            .path
            .file_name()
            .map(|b| b.to_string_lossy().into_owned())
        else {
            return;
        };
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                let msg = format!(
                    "Unable to read directory {:?} for log purge ({e}), will attempt next rotation",
                    dir.display().to_string()
                );
                self.note(Level::Error, &msg);
                return;
            }
        };
        let prefix = format!("{base}.");
        let mut backups: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| !t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.strip_prefix(&prefix).is_some_and(is_rotation_stamp))
            .collect();
        // The stamps sort oldest first, as Go's ReadDir order does.
        backups.sort();
        let excess = backups.len().saturating_sub(self.max_files - 1);
        for name in backups.into_iter().take(excess) {
            if let Err(e) = std::fs::remove_file(dir.join(&name)) {
                let msg = format!(
                    "Unable to remove backup log file {name:?} ({e}), will attempt next rotation"
                );
                self.note(Level::Error, &msg);
                return;
            }
            self.note(Level::Info, &format!("Purged log file {name:?}"));
        }
    }
}

/// Whether `s` is a rotated file's suffix: seven dot-separated numbers.
fn is_rotation_stamp(s: &str) -> bool {
    let fields: Vec<&str> = s.split('.').collect();
    fields.len() == ROTATED_STAMP_FIELDS
        && fields
            .iter()
            .all(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("riptide-logfile-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn backups(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n != "r.log")
            .collect();
        v.sort();
        v
    }

    #[test]
    fn rotates_past_the_limit_and_keeps_max_files() {
        let dir = temp_dir("rotate");
        let path = dir.join("r.log");
        let mut f = LogFile::open(&path, 100, 3).unwrap();
        f.write_line(&[b'x'; 60]);
        assert!(backups(&dir).is_empty());
        f.write_line(&[b'y'; 60]);
        let b = backups(&dir);
        assert_eq!(b.len(), 1, "{b:?}");
        assert!(
            is_rotation_stamp(b[0].strip_prefix("r.log.").unwrap()),
            "{b:?}"
        );
        let rotated = std::fs::read(dir.join(&b[0])).unwrap();
        assert_eq!(rotated.len(), 120);
        let current = std::fs::read_to_string(&path).unwrap();
        assert!(
            current.contains("[INF] Rotated log, backup saved as \""),
            "{current}"
        );
        for _ in 0..6 {
            f.write_line(&[b'z'; 101]);
        }
        let b = backups(&dir);
        assert_eq!(b.len(), 2, "two backups and the current file: {b:?}");
        assert!(std::fs::read_to_string(&path)
            .unwrap()
            .contains("Purged log file \"r.log."));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rotation_stamps() {
        assert!(is_rotation_stamp("2026.11.23.18.32.07.933299000"));
        assert!(!is_rotation_stamp("2026.11.23"));
        assert!(!is_rotation_stamp("2026.11.23.18.32.07.x"));
        assert!(!is_rotation_stamp("old.1.2.3.4.5.6"));
    }
}

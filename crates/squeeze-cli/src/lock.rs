//! The output-directory lock: one `squeeze run` per output directory at a time.
//!
//! `<out>/.squeeze.lock` holds an exclusive `flock(2)` for the lifetime of the run and names its
//! holder (pid, host, start time in UTC). A second run in the same directory is refused with a
//! one-line error naming the holder (exit code 2: choose another `--out`, or wait). The kernel
//! releases the `flock` when the holder exits in any way (even SIGKILL), so a lock file left by
//! a dead run is *stale*: the next run takes it over and says so in a `note:` line on stderr.
//! The file is removed when the run ends (on every exit path that unwinds; a killed run leaves
//! it behind, stale). Without `flock` (non-Unix) the file is written but not enforced.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::fail::{CliResult, runtime, usage};

/// The lock file's name in the output directory.
pub const LOCK_FILE: &str = ".squeeze.lock";

/// A held output-directory lock; dropping it releases the lock and removes the file.
#[derive(Debug)]
pub struct DirLock {
    path: PathBuf,
    // Kept open: closing the file releases the flock.
    _file: File,
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // Remove first, then close (releases the flock): a run that opened the old file in
        // between notices that it is no longer at the path and retries.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// What acquiring the lock found.
#[derive(Debug)]
pub struct Acquired {
    /// The lock.
    pub lock: DirLock,
    /// The holder of a stale lock that was taken over (its process no longer runs).
    pub took_over: Option<String>,
}

/// Take the lock of `dir` (which must exist), or fail naming the run that holds it.
pub fn acquire(dir: &Path) -> CliResult<Acquired> {
    let path = dir.join(LOCK_FILE);
    let io_err = |what: &str, e: std::io::Error| {
        runtime(format!(
            "cannot {what} the lock file {}: {e}",
            path.display()
        ))
    };
    for _ in 0..8 {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| {
                usage(format!(
                    "cannot create the lock file {}: {e}; choose a writable directory with --out",
                    path.display()
                ))
            })?;
        let mut previous = String::new();
        // A lock file is a short line; a larger one is not ours to read whole.
        let _ = (&mut file).take(4096).read_to_string(&mut previous);
        let holder = describe_holder(&previous);
        if !try_flock(&file).map_err(|e| io_err("lock", e))? {
            return Err(usage(format!(
                "the output directory {} is in use by another squeeze run ({holder}); wait for it \
                 to finish, or give this run its own directory with --out (or a distinct name)",
                dir.display()
            )));
        }
        if !same_file(&file, &path) {
            continue; // the previous holder removed the file after we opened it: start over
        }
        let took_over = (!previous.trim().is_empty()).then_some(holder);
        file.set_len(0).map_err(|e| io_err("write", e))?;
        file.seek(SeekFrom::Start(0))
            .map_err(|e| io_err("write", e))?;
        file.write_all(this_holder().as_bytes())
            .and_then(|()| file.flush())
            .map_err(|e| io_err("write", e))?;
        return Ok(Acquired {
            lock: DirLock { path, _file: file },
            took_over,
        });
    }
    Err(runtime(format!(
        "cannot take the lock {}: it keeps being replaced by other runs; retry",
        path.display()
    )))
}

/// `pid P on host H since T` for this process.
fn this_holder() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!(
        "pid {} on host {} since {}\n",
        std::process::id(),
        hostname(),
        utc(secs)
    )
}

/// The holder line of a lock file, made safe to print on one line.
fn describe_holder(text: &str) -> String {
    let line: String = text
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    let line = line.trim();
    if line.is_empty() {
        "holder unknown: the lock file is empty".to_string()
    } else {
        line.to_string()
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

/// `YYYY-MM-DD HH:MM:SS UTC` for seconds since the Unix epoch.
fn utc(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(unix)]
fn try_flock(file: &File) -> std::io::Result<bool> {
    use std::os::unix::io::AsRawFd;
    // SAFETY: flock on a file descriptor this process owns; no memory is passed.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    if e.kind() == std::io::ErrorKind::WouldBlock {
        Ok(false)
    } else {
        Err(e)
    }
}

#[cfg(not(unix))]
fn try_flock(_file: &File) -> std::io::Result<bool> {
    Ok(true)
}

/// Whether the open `file` is still the file at `path`.
#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &File, path: &Path) -> bool {
    path.exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_798_761_599), "2026-12-31 23:59:59 UTC");
    }

    #[test]
    fn second_lock_is_refused_and_released_on_drop() {
        let dir = std::env::temp_dir().join(format!("squeeze-lock-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let first = acquire(&dir).unwrap();
        assert!(first.took_over.is_none());
        let err = acquire(&dir).unwrap_err();
        let msg = format!("{:#}", err.error);
        assert!(
            msg.contains(&format!("pid {}", std::process::id())),
            "{msg}"
        );
        assert_eq!(err.code, crate::fail::USAGE);
        drop(first);
        assert!(!dir.join(LOCK_FILE).exists());
        // A lock file without a live holder is taken over.
        std::fs::write(dir.join(LOCK_FILE), "pid 1 on host gone since then\n").unwrap();
        let again = acquire(&dir).unwrap();
        assert_eq!(
            again.took_over.as_deref(),
            Some("pid 1 on host gone since then")
        );
        drop(again);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

//! Writing to stdout and stderr without panicking (`println!` panics when stdout is closed or
//! full: `squeeze list | head -3`, `squeeze list > /dev/full`).
//!
//! * stdout closed by the reader (EPIPE): [`BrokenPipe`], which `main` turns into a quiet exit
//!   with code 0 (the reader has what it wanted; a finished run's files are complete);
//! * any other stdout error: one `error: cannot write to stdout: …` line, exit code 1;
//! * stderr errors are ignored (there is nowhere left to report them).

use std::fmt;
use std::io::{ErrorKind, Write};

use crate::fail::{CliResult, Failure, RUNTIME};

/// Stdout was closed by its reader: stop quietly.
#[derive(Debug)]
pub struct BrokenPipe;

impl fmt::Display for BrokenPipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("stdout was closed by its reader")
    }
}

impl std::error::Error for BrokenPipe {}

/// Whether `f` is a closed stdout (exit quietly with success).
pub fn is_broken_pipe(f: &Failure) -> bool {
    f.error.is::<BrokenPipe>()
}

/// Write `text` to stdout and flush.
pub fn out(text: &str) -> CliResult {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| {
            if e.kind() == ErrorKind::BrokenPipe {
                Failure {
                    code: RUNTIME,
                    error: anyhow::Error::new(BrokenPipe),
                }
            } else {
                Failure {
                    code: RUNTIME,
                    error: anyhow::anyhow!("cannot write to stdout: {e}"),
                }
            }
        })
}

/// Write one line to stderr; errors are ignored.
pub fn err_line(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr
        .write_all(text.as_bytes())
        .and_then(|()| stderr.write_all(b"\n"))
        .and_then(|()| stderr.flush());
}

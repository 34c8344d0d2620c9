//! Writing to stdout and stderr without panicking (`println!` panics when stdout is closed or
//! full: `squeeze list | head -3`, `squeeze list > /dev/full`).
//!
//! * stdout closed by the reader (EPIPE): [`BrokenPipe`], which `main` turns into a quiet exit
//!   with code 0 (the reader has what it wanted; a finished run's files are complete);
//! * any other stdout error: one `error: cannot write to stdout: …` line, exit code 1;
//! * stderr errors are ignored (there is nowhere left to report them).
//!
//! The progress bar of `squeeze run` ([`progress_bar`]) draws on stderr too.

use std::fmt;
use std::io::{ErrorKind, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

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

/// The progress bar of `squeeze run` on stderr (hidden unless `show`). With a round limit
/// (`stop.max_rounds`) it shows the elapsed time, an ETA, a bar and `round k/N`; without one
/// (only a tolerance, bit budget or wall-time stop) the rounds per second and `round k`, and
/// no ETA, since when the run ends is not known.
pub(crate) fn progress_bar(show: bool, max_rounds: Option<u64>) -> anyhow::Result<ProgressBar> {
    if !show {
        return Ok(ProgressBar::hidden());
    }
    let pb = ProgressBar::with_draw_target(max_rounds, ProgressDrawTarget::stderr());
    pb.set_style(progress_style(max_rounds)?);
    pb.enable_steady_tick(Duration::from_millis(200));
    Ok(pb)
}

/// The bar's template for a run with or without a round limit.
fn progress_template(max_rounds: Option<u64>) -> &'static str {
    match max_rounds {
        Some(_) => {
            "{spinner} [{elapsed_precise} elapsed, ETA {eta_precise}] {wide_bar} round {pos}/{len}  {msg}"
        }
        None => "{spinner} [{elapsed_precise}] round {pos}  {rate}  {msg}",
    }
}

fn progress_style(max_rounds: Option<u64>) -> anyhow::Result<ProgressStyle> {
    Ok(ProgressStyle::with_template(progress_template(max_rounds))
        .map_err(|e| anyhow::anyhow!("internal: progress template: {e}"))?
        .with_key("rate", |s: &ProgressState, w: &mut dyn fmt::Write| {
            let _ = w.write_str(&rate(s.per_sec()));
        }))
}

/// `12.3 rounds/s` (three significant digits, no fraction from 1000 rounds/s on).
fn rate(per_sec: f64) -> String {
    if !per_sec.is_finite() || per_sec <= 0.0 {
        "– rounds/s".to_string()
    } else if per_sec >= 1000.0 {
        format!("{per_sec:.0} rounds/s")
    } else if per_sec >= 10.0 {
        format!("{per_sec:.1} rounds/s")
    } else {
        format!("{per_sec:.3} rounds/s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eta_is_shown_only_when_the_number_of_rounds_is_known() {
        let known = progress_template(Some(1000));
        assert!(
            known.contains("{eta_precise}") && known.contains("{len}"),
            "{known}"
        );
        assert!(!known.contains("{rate}"));
        let open = progress_template(None);
        assert!(!open.contains("eta") && !open.contains("{len}"), "{open}");
        assert!(open.contains("{rate}"));
        // Both templates parse, and a hidden bar is what a non-terminal gets.
        assert!(progress_style(Some(10)).is_ok() && progress_style(None).is_ok());
        assert!(progress_bar(false, Some(10)).unwrap().is_hidden());
    }

    #[test]
    fn rate_reads_well_at_every_scale() {
        assert_eq!(rate(12_345.6), "12346 rounds/s");
        assert_eq!(rate(123.456), "123.5 rounds/s");
        assert_eq!(rate(0.5), "0.500 rounds/s");
        assert_eq!(rate(0.0), "– rounds/s");
        assert_eq!(rate(f64::NAN), "– rounds/s");
    }
}

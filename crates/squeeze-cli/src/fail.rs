//! Errors with exit codes: 2 for what the user can fix, 1 for failures while running.

use std::fmt::Display;

/// An error and the process exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    /// 2: bad input (configuration, arguments, files); 1: the run itself failed.
    pub code: u8,
    /// The message chain (printed on one line).
    pub error: anyhow::Error,
}

/// Exit code for errors the user can fix by changing the command or its inputs.
pub const USAGE: u8 = 2;
/// Exit code for failures while running (divergence, I/O after the run started).
pub const RUNTIME: u8 = 1;

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Failure { code: USAGE, error }
    }
}

/// A user-fixable error (exit code 2).
pub fn usage(msg: impl Display) -> Failure {
    Failure {
        code: USAGE,
        error: anyhow::anyhow!("{msg}"),
    }
}

/// A failure while running (exit code 1).
pub fn runtime(msg: impl Display) -> Failure {
    Failure {
        code: RUNTIME,
        error: anyhow::anyhow!("{msg}"),
    }
}

/// The result type of the commands.
pub type CliResult<T = ()> = Result<T, Failure>;

/// Print the failure as the one `error: …` line on stderr.
pub fn print(f: &Failure) {
    crate::console::err_line(&format!("error: {}", one_line(&format!("{:#}", f.error))));
}

/// Fold a possibly multi-line message (TOML errors quote the source) into one line.
pub fn one_line(text: &str) -> String {
    let parts: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_folds_lines_and_drops_blank_ones() {
        assert_eq!(one_line("a\n\n  b  \nc"), "a; b; c");
        assert_eq!(one_line("single"), "single");
    }
}

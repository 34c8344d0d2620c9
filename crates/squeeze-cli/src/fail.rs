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
    let text = shorten_numbers(&one_line(&format!("{:#}", f.error)));
    crate::console::err_line(&format!("error: {text}"));
}

/// Decimal numbers with more than [`MAX_DIGITS`] digits (Rust prints `1e300` as 301 digits)
/// in scientific notation, wherever the message came from.
pub fn shorten_numbers(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() || (i > 0 && bytes[i - 1].is_ascii_alphanumeric()) {
            i += 1;
            continue;
        }
        let start = if i > 0 && bytes[i - 1] == b'-' {
            i - 1
        } else {
            i
        };
        let mut end = i;
        let mut digits = 0;
        let mut seen_dot = false;
        while end < bytes.len() {
            let b = bytes[end];
            if b.is_ascii_digit() {
                digits += 1;
            } else if b == b'.'
                && !seen_dot
                && end + 1 < bytes.len()
                && bytes[end + 1].is_ascii_digit()
            {
                seen_dot = true;
            } else {
                break;
            }
            end += 1;
        }
        if digits > MAX_DIGITS
            && let Ok(v) = text[start..end].parse::<f64>()
        {
            out.push_str(&text[copied..start]);
            out.push_str(&format!("{v:e}"));
            copied = end;
        }
        i = end;
    }
    out.push_str(&text[copied..]);
    out
}

/// Longest decimal number printed as is by [`shorten_numbers`].
const MAX_DIGITS: usize = 20;

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
    fn long_numbers_are_printed_in_scientific_notation() {
        let huge = format!("{}", -1e300);
        let msg = format!("invalid gamma = {huge}: must be > 0; round 12, 0.5, 3.25e-3, x1234");
        assert_eq!(
            shorten_numbers(&msg),
            "invalid gamma = -1e300: must be > 0; round 12, 0.5, 3.25e-3, x1234"
        );
        let small = format!("{}", 1.5e-30);
        assert_eq!(shorten_numbers(&format!("v = {small}.")), "v = 1.5e-30.");
        assert_eq!(
            shorten_numbers("hash 12345678901234567890 kept"),
            "hash 12345678901234567890 kept"
        );
    }

    #[test]
    fn one_line_folds_lines_and_drops_blank_ones() {
        assert_eq!(one_line("a\n\n  b  \nc"), "a; b; c");
        assert_eq!(one_line("single"), "single");
    }
}

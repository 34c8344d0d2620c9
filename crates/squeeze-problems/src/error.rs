//! Typed errors of the problems-and-data layer. Every message says what was wrong, where, and
//! how to fix it; nothing in this crate panics on user input.

use std::path::PathBuf;

use squeeze_core::{LengthMismatch, ParamError};
use thiserror::Error;

/// What is wrong with one token of a LIBSVM line (see [`DataError::Parse`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseKind {
    /// The label is not one of `-1`, `+1`, `1`, `0`.
    BadLabel,
    /// A feature index is `0` (LIBSVM indices are 1-based).
    IndexZero,
    /// A feature index is not an unsigned integer (or exceeds `u32::MAX`).
    BadIndex,
    /// A feature index is not larger than the previous one on the same line.
    NonIncreasingIndex,
    /// A feature index exceeds the requested `n_features`.
    IndexBeyondWidth,
    /// A token lacks the `index:value` colon.
    MissingColon,
    /// A value is not a decimal number.
    BadNumber,
    /// A value is NaN or ±∞ (or overflows the scalar type).
    NonFinite,
}

impl ParseKind {
    /// What the problem is, in words.
    pub fn describe(self) -> &'static str {
        match self {
            Self::BadLabel => "bad label",
            Self::IndexZero => "feature index 0",
            Self::BadIndex => "bad feature index",
            Self::NonIncreasingIndex => "feature indices not strictly increasing",
            Self::IndexBeyondWidth => "feature index beyond n_features",
            Self::MissingColon => "missing ':' in feature token",
            Self::BadNumber => "bad number",
            Self::NonFinite => "non-finite value",
        }
    }

    /// How to fix it.
    pub fn hint(self) -> &'static str {
        match self {
            Self::BadLabel => {
                "binary labels must be -1/+1 (or 0/1, mapped to -1/+1); multiclass or regression files are not binary classification data"
            }
            Self::IndexZero => {
                "LIBSVM feature indices are 1-based; a 0-based file must be shifted by one"
            }
            Self::BadIndex => "feature indices are integers in 1..=4294967295",
            Self::NonIncreasingIndex => {
                "each line must list its features in strictly increasing index order without duplicates (sort the line)"
            }
            Self::IndexBeyondWidth => {
                "raise n_features or omit it to use the largest index in the file"
            }
            Self::MissingColon => "features are written `index:value`, e.g. `3:0.5`",
            Self::BadNumber => "values are decimal numbers such as `1`, `-0.25` or `3e-2`",
            Self::NonFinite => {
                "NaN and infinite values are not allowed; clean the file (values must also fit the scalar type)"
            }
        }
    }
}

/// Why a data set could not be read or built.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DataError {
    /// A file could not be opened or read.
    #[error("cannot read {}: {source}; check the path (the reader opens it as given; configs resolve relative paths against the config file)", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Reading from a stream failed (I/O error or invalid UTF-8) at a line.
    #[error("read error at line {line}: {source}; LIBSVM files are ASCII/UTF-8 text")]
    Read {
        /// 1-based line number.
        line: usize,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A malformed token.
    #[error("line {line}, column {column}: {} `{token}`; hint: {}", kind.describe(), kind.hint())]
    Parse {
        /// 1-based line number.
        line: usize,
        /// 1-based column (byte offset) where the token starts.
        column: usize,
        /// What is wrong.
        kind: ParseKind,
        /// The offending token (truncated to 40 bytes).
        token: String,
    },
    /// The input has no data rows.
    #[error(
        "{source_name} contains no data rows (only blank lines or comments); check that it is the right file"
    )]
    Empty {
        /// File path or stream name.
        source_name: String,
    },
    /// The input exceeds one of the reader's size limits (see `libsvm`).
    #[error("{what} exceeds the limit of {limit}; {hint}")]
    TooLarge {
        /// What is too large, and where.
        what: String,
        /// The limit, in words.
        limit: String,
        /// How to fix it.
        hint: String,
    },
    /// The input has data rows but not a single feature.
    #[error(
        "{source_name} has {rows} data rows but no feature (every line holds only a label); a LIBSVM line is `label index:value ...`: check that it is the right file"
    )]
    NoFeatures {
        /// File path or stream name.
        source_name: String,
        /// Rows read.
        rows: usize,
    },
    /// The parts of a CSR matrix or data set are inconsistent.
    #[error("invalid sparse matrix: {0}")]
    InvalidMatrix(String),
}

/// Why a problem, split or oracle could not be set up or evaluated.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ProblemError {
    /// A data error while building the problem.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A hyperparameter is out of its domain.
    #[error(transparent)]
    Param(#[from] ParamError),
    /// A vector's length differs from the problem dimension.
    #[error(transparent)]
    Dim(#[from] LengthMismatch),
    /// The data cannot be split over this many workers.
    #[error(
        "cannot split {n_rows} rows over {n_workers} workers: every worker needs at least one row (use 1 ≤ n ≤ {n_rows})"
    )]
    Split {
        /// Requested worker count.
        n_workers: usize,
        /// Rows available.
        n_rows: usize,
    },
    /// A problem needs at least one worker / oracle.
    #[error("a problem needs at least one worker (got none)")]
    NoWorkers,
    /// Oracles of one problem disagree on the dimension.
    #[error(
        "worker {worker} has dimension {got}, worker 0 has {expected}; all oracles of a problem must share d"
    )]
    MixedDims {
        /// Worker index.
        worker: usize,
        /// Dimension of worker 0.
        expected: usize,
        /// Dimension of this worker.
        got: usize,
    },
}

//! Rust errors become Python `ValueError`s with the Rust message (which carries the hint).

use pyo3::PyErr;
use pyo3::exceptions::PyValueError;

/// A `ValueError` with `e`'s message.
pub(crate) fn value_err(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// `Result<T, E: Display>` → `PyResult<T>` with a `ValueError`.
pub(crate) trait OrValueError<T> {
    /// Map the error to a `ValueError`.
    fn or_value_err(self) -> Result<T, PyErr>;
}

impl<T, E: std::fmt::Display> OrValueError<T> for Result<T, E> {
    fn or_value_err(self) -> Result<T, PyErr> {
        self.map_err(value_err)
    }
}

/// A non-negative integer argument (a count, an index, a seed, a round). A negative or too
/// large value is a `ValueError` (Python adds a note naming the argument), not the
/// `OverflowError` a plain `u64`/`usize` parameter would raise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Nat(pub u64);

impl Nat {
    /// As `usize` (lossless on the 64-bit targets the package is built for; else a
    /// `ValueError`).
    pub(crate) fn usize(self) -> Result<usize, PyErr> {
        usize::try_from(self.0).map_err(|_| value_err(format!("{} is too large", self.0)))
    }
}

impl<'a, 'py> pyo3::FromPyObject<'a, 'py> for Nat {
    type Error = PyErr;

    fn extract(obj: pyo3::Borrowed<'a, 'py, pyo3::PyAny>) -> Result<Self, PyErr> {
        let v: i128 = obj.extract()?;
        u64::try_from(v).map(Nat).map_err(|_| {
            value_err(format!(
                "must be an integer in 0..=18446744073709551615 (2^64 − 1), got {v}"
            ))
        })
    }
}

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

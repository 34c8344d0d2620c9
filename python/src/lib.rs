//! # squeeze-py
//!
//! The native module `squeeze._native` behind the Python package `squeeze`: a thin pyo3 layer
//! over the Rust crates. Nothing is re-implemented here — compressors come from
//! `squeeze_compress::parse`, messages and their wire format from `squeeze_core::Message`, the
//! error-feedback mechanisms from `squeeze_feedback`.
//!
//! Rules the layer keeps:
//!
//! * every error is a Python `ValueError` carrying the Rust message (with its hint); no
//!   `unwrap` on anything a caller passes in, so no panic crosses the boundary;
//! * numpy inputs are read in place (zero copy; C-contiguous `float32` / `float64` arrays of any
//!   shape, read as their flat view) and the GIL is released while Rust computes;
//! * randomness comes only from the `seed`, `worker` and `round` arguments, derived exactly as
//!   the Rust push API does (see [`compressor`]), so Python and Rust produce the same bytes.

use pyo3::prelude::*;

mod aggregate;
mod array;
mod compressor;
mod error;
mod feedback;
mod message;
mod state;

/// The native module (`squeeze._native`); the package `squeeze` re-exports it.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<compressor::PyCompressor>()?;
    m.add_class::<message::PyMessage>()?;
    m.add_class::<feedback::PyWorker>()?;
    m.add_class::<feedback::Ef21Worker>()?;
    m.add_class::<feedback::Ef14Worker>()?;
    m.add_class::<feedback::EcontrolWorker>()?;
    m.add_class::<feedback::Clip21Worker>()?;
    m.add_class::<aggregate::PyAggregator>()?;
    m.add_function(wrap_pyfunction!(compressor::compressors, m)?)?;
    m.add_function(wrap_pyfunction!(compressor::round_seed, m)?)?;
    Ok(())
}

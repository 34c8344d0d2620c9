//! `squeeze.Compressor`: any registered spec string, on float32 and float64 arrays.
//!
//! Randomness of [`PyCompressor::compress`]: the call starts worker `worker`'s compression
//! stream of `seed` afresh, `SqueezeRng::stream(seed, Purpose::Compression, worker)` (the stream
//! a new push-API worker such as `Ef21Worker::new(d, seed, worker)` holds), and the per-round
//! seed shared by all workers is `round_seed(seed, round)` (what `Round::with_shared_seed`
//! gives). The same arguments give the same bytes in Python and in Rust.

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use squeeze_compress::{parse, registry};
use squeeze_core::{
    BitWriter, Class, CompressCtx, Compressor, Message, Purpose, Scalar, Scratch, SqueezeRng,
};

use crate::array::{ReadView, read_view};
use crate::error::{Nat, OrValueError, value_err};
use crate::message::{AnyMessage, PyMessage};

/// A compressor built from a registry spec string, for both float32 and float64 input.
#[pyclass(name = "Compressor", module = "squeeze._native", frozen)]
#[derive(Debug)]
pub struct PyCompressor {
    pub(crate) c32: Box<dyn Compressor<f32>>,
    pub(crate) c64: Box<dyn Compressor<f64>>,
}

impl PyCompressor {
    /// Parse `spec` for both scalar types.
    /// `on32(c32, x, ids)` or `on64(c64, x, ids)` on `x` read flat at its own width (float32
    /// or float64, not copied), without the GIL, after checking the worker arguments.
    fn on_input<R: Send>(
        &self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        (seed, worker, n_workers, round): (Nat, Nat, Nat, Nat),
        on32: impl FnOnce(&dyn Compressor<f32>, &[f32], Ids) -> PyResult<R> + Send,
        on64: impl FnOnce(&dyn Compressor<f64>, &[f64], Ids) -> PyResult<R> + Send,
    ) -> PyResult<R> {
        let (worker, n_workers) = (worker.usize()?, n_workers.usize()?);
        check_worker(worker, n_workers)?;
        let ids = (seed.0, worker, n_workers, round.0);
        match read_view(x, "x")? {
            ReadView::F32(a) => {
                let s = a.as_slice().map_err(value_err)?;
                let c = self.c32.as_ref();
                py.detach(|| on32(c, s, ids))
            }
            ReadView::F64(a) => {
                let s = a.as_slice().map_err(value_err)?;
                let c = self.c64.as_ref();
                py.detach(|| on64(c, s, ids))
            }
        }
    }

    pub(crate) fn build(spec: &str) -> PyResult<Self> {
        Ok(Self {
            c32: parse::<f32>(spec).or_value_err()?,
            c64: parse::<f64>(spec).or_value_err()?,
        })
    }

    /// The spec string of a `Compressor` object or a `str`.
    pub(crate) fn spec_of(obj: &Bound<'_, PyAny>) -> PyResult<String> {
        if let Ok(c) = obj.cast::<PyCompressor>() {
            return Ok(c.get().c32.spec());
        }
        obj.extract::<String>().map_err(|_| {
            value_err("compressor must be a spec string such as \"top_k:ratio=0.01\" or a squeeze.Compressor")
        })
    }
}

/// Check `worker < n_workers` (and `n_workers ≥ 1`).
pub(crate) fn check_worker(worker: usize, n_workers: usize) -> PyResult<()> {
    if n_workers == 0 || worker >= n_workers {
        return Err(value_err(format!(
            "worker {worker} of n_workers {n_workers}: the worker index must be in 0..n_workers (n_workers ≥ 1)"
        )));
    }
    Ok(())
}

/// A call's `(seed, worker, n_workers, round)`.
type Ids = (u64, usize, usize, u64);

/// `f` with a fresh context: worker `worker`'s compression stream of `seed` and the round
/// seed of `round` (the stream derivation of the module docs).
fn in_stream<R>(
    (seed, worker, n_workers, round): Ids,
    f: impl FnOnce(&mut CompressCtx<'_>) -> R,
) -> R {
    let mut rng = SqueezeRng::stream(seed, Purpose::Compression, worker as u64);
    let mut scratch = Scratch::default();
    let mut ctx = CompressCtx::new(&mut rng, &mut scratch)
        .with_worker(worker, n_workers)
        .with_round_seed(squeeze_core::round_seed(seed, round));
    f(&mut ctx)
}

/// One stateless compression.
fn compress_once<S: Scalar>(c: &dyn Compressor<S>, x: &[S], ids: Ids) -> PyResult<Message<S>> {
    let mut out = Message::default();
    in_stream(ids, |ctx| c.compress_into(x, ctx, &mut out)).or_value_err()?;
    Ok(out)
}

/// [`compress_once`] straight to the wire: the bytes of its message's `to_bytes()`
/// (`Compressor::compress_encode`; QSGD and TernGrad never build their codes).
fn compress_once_to_bytes<S: Scalar>(
    c: &dyn Compressor<S>,
    x: &[S],
    ids: Ids,
) -> PyResult<Vec<u8>> {
    let mut w = BitWriter::new();
    in_stream(ids, |ctx| {
        c.compress_encode(x, ctx, &mut Message::default(), &mut w)
    })
    .or_value_err()?;
    Ok(w.into_bytes())
}

fn class_value(class: Class, alpha: bool) -> Option<f64> {
    if alpha { class.alpha() } else { class.omega() }
}

#[pymethods]
impl PyCompressor {
    /// `Compressor(spec)`: e.g. `"top_k:ratio=0.01"`, `"qsgd:s=16"`,
    /// `"top_k:ratio=0.01 | scaled(qsgd:s=16)"`. A bad spec is a `ValueError` with a hint.
    #[new]
    fn new(spec: &str) -> PyResult<Self> {
        Self::build(spec)
    }

    /// The canonical spec string.
    #[getter]
    fn spec(&self) -> String {
        self.c32.spec()
    }

    /// Contraction parameter α at dimension `d` (`None` if the compressor is not contractive).
    fn alpha(&self, d: Nat) -> PyResult<Option<f64>> {
        Ok(class_value(self.c32.class(d.usize()?), true))
    }

    /// Variance parameter ω at dimension `d` (`None` if the compressor is not unbiased).
    fn omega(&self, d: Nat) -> PyResult<Option<f64>> {
        Ok(class_value(self.c32.class(d.usize()?), false))
    }

    /// A one-line description of the class at dimension `d` (e.g. `contractive α=0.0100`).
    fn describe(&self, d: Nat) -> PyResult<String> {
        Ok(self.c32.class(d.usize()?).describe())
    }

    /// Whether the compressor uses no randomness.
    #[getter]
    fn is_deterministic(&self) -> bool {
        self.c32.is_deterministic()
    }

    /// Compress `x` (C-contiguous float32/float64 array, read flat, not copied; the GIL is
    /// released meanwhile). Randomness: worker `worker`'s compression stream of `seed`, shared
    /// round seed `round_seed(seed, round)`.
    #[pyo3(
        signature = (x, seed = Nat(0), worker = Nat(0), n_workers = Nat(1), round = Nat(0)),
        text_signature = "($self, x, seed=0, worker=0, n_workers=1, round=0)"
    )]
    fn compress(
        &self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        seed: Nat,
        worker: Nat,
        n_workers: Nat,
        round: Nat,
    ) -> PyResult<PyMessage> {
        let msg = self.on_input(
            py,
            x,
            (seed, worker, n_workers, round),
            |c, s, ids| compress_once(c, s, ids).map(AnyMessage::F32),
            |c, s, ids| compress_once(c, s, ids).map(AnyMessage::F64),
        )?;
        Ok(PyMessage { inner: msg })
    }

    /// `compress(x, ...).to_bytes()` in one call, for a sender that needs only the bytes:
    /// the same bytes, and QSGD and TernGrad go from `x` to them without building their
    /// codes (faster: see docs/benchmarks.md). Same arguments and randomness as `compress`.
    #[pyo3(
        signature = (x, seed = Nat(0), worker = Nat(0), n_workers = Nat(1), round = Nat(0)),
        text_signature = "($self, x, seed=0, worker=0, n_workers=1, round=0)"
    )]
    fn compress_to_bytes<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        seed: Nat,
        worker: Nat,
        n_workers: Nat,
        round: Nat,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = self.on_input(
            py,
            x,
            (seed, worker, n_workers, round),
            compress_once_to_bytes,
            compress_once_to_bytes,
        )?;
        Ok(PyBytes::new(py, &bytes))
    }

    fn __repr__(&self) -> String {
        format!("Compressor({:?})", self.c32.spec())
    }
}

/// Every registered compressor name with its one-line summary and example specs.
#[pyfunction]
pub(crate) fn compressors() -> Vec<(String, String, Vec<String>)> {
    registry::entries()
        .iter()
        .map(|e| {
            (
                e.name.to_string(),
                e.summary.to_string(),
                e.examples.iter().map(|s| s.to_string()).collect(),
            )
        })
        .collect()
}

/// The per-round seed shared by all workers: `squeeze_core::round_seed(seed, round)`.
#[pyfunction]
pub(crate) fn round_seed(seed: Nat, round: Nat) -> u64 {
    squeeze_core::round_seed(seed.0, round.0)
}

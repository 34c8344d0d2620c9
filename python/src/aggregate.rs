//! `squeeze.feedback.Aggregator`: the server side of the push-style mechanisms.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};
use squeeze_core::{Message, Scalar};
use squeeze_feedback::{Aggregator, add_mean};

use numpy::PyArray1;

use crate::array::{Dtype, ReadView, WriteView, read_view, write_view};
use crate::error::{Nat, value_err};
use crate::message::{PyMessage, PyScalar};
use crate::state::{self, Header};

/// Server state of either scalar type.
#[derive(Debug)]
enum AnyAgg {
    F32(Aggregator<f32>),
    F64(Aggregator<f64>),
}

/// The server side: absorbs one message per worker, in worker order.
///
/// `running=True` (EF21, EControl, Clip21): `estimate += mean(messages)` — the running mean
/// of the workers' estimates. `running=False` (EF14): `estimate = mean(messages)` of this
/// round.
#[pyclass(name = "Aggregator", module = "squeeze._native")]
#[derive(Debug)]
pub struct PyAggregator {
    inner: AnyAgg,
    running: bool,
    round: u64,
}

/// Absorb decoded messages into `agg` (running) or replace its estimate by their mean.
fn absorb_into<S: Scalar>(
    agg: &mut Aggregator<S>,
    running: bool,
    round: u64,
    msgs: &[Message<S>],
) -> Result<(), String> {
    for (i, m) in msgs.iter().enumerate() {
        m.validate_shape()
            .map_err(|e| format!("message {i}: {e}"))?;
    }
    if running {
        agg.absorb(round, msgs).map_err(|e| e.to_string())
    } else {
        let mut fresh = Aggregator::new(agg.g.len(), agg.n_workers);
        // Same count and dimension checks as the running form, then the plain mean.
        fresh.absorb(round, msgs).map_err(|e| e.to_string())?;
        agg.g.iter_mut().for_each(|g| *g = S::ZERO);
        add_mean(&mut agg.g, round, msgs).map_err(|e| e.to_string())
    }
}

/// Messages (objects or wire bytes) of scalar type `S` from a Python list.
fn collect<S: PyScalar>(items: &Bound<'_, PyList>, dim: usize) -> PyResult<Vec<Message<S>>> {
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        if let Ok(m) = item.cast::<PyMessage>() {
            match S::message_of(&m.get().inner) {
                Some(m) => out.push(m.clone()),
                None => {
                    return Err(value_err(format!(
                        "message {i} is not {}; build every worker with the aggregator's dtype",
                        S::DTYPE.name()
                    )));
                }
            }
        } else if let Ok(b) = item.cast::<PyBytes>() {
            let decoded = Message::<S>::decode(b.as_bytes(), dim)
                .map_err(|e| value_err(format!("message {i}: {e}")))?;
            out.push(decoded);
        } else {
            return Err(value_err(format!(
                "message {i} is neither a squeeze.Message nor bytes"
            )));
        }
    }
    Ok(out)
}

#[pymethods]
impl PyAggregator {
    /// `Aggregator(dim, n_workers, dtype="float32", running=True)`.
    #[new]
    #[pyo3(signature = (dim, n_workers, dtype = None, running = true))]
    fn new(
        dim: Nat,
        n_workers: Nat,
        dtype: Option<&Bound<'_, PyAny>>,
        running: bool,
    ) -> PyResult<Self> {
        let (dim, n_workers) = (dim.usize()?, n_workers.usize()?);
        if dim == 0 || n_workers == 0 {
            return Err(value_err(format!(
                "Aggregator(dim={dim}, n_workers={n_workers}): both must be ≥ 1"
            )));
        }
        let inner = match Dtype::parse(dtype)? {
            Dtype::F32 => AnyAgg::F32(Aggregator::new(dim, n_workers)),
            Dtype::F64 => AnyAgg::F64(Aggregator::new(dim, n_workers)),
        };
        Ok(Self {
            inner,
            running,
            round: 0,
        })
    }

    /// Absorb one message per worker, in worker order: `squeeze.Message` objects or their
    /// wire bytes (decoded with the aggregator's dimension and dtype). Errors change nothing.
    fn absorb(&mut self, py: Python<'_>, messages: &Bound<'_, PyList>) -> PyResult<()> {
        let (running, round) = (self.running, self.round);
        match &mut self.inner {
            AnyAgg::F32(a) => {
                let msgs = collect(messages, a.g.len())?;
                py.detach(|| absorb_into(a, running, round, &msgs))
            }
            AnyAgg::F64(a) => {
                let msgs = collect(messages, a.g.len())?;
                py.detach(|| absorb_into(a, running, round, &msgs))
            }
        }
        .map_err(value_err)?;
        self.round += 1;
        Ok(())
    }

    /// A copy of the current estimate (use it as the gradient of your model step).
    #[getter]
    fn estimate<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        match &self.inner {
            AnyAgg::F32(a) => PyArray1::from_slice(py, &a.g).into_any(),
            AnyAgg::F64(a) => PyArray1::from_slice(py, &a.g).into_any(),
        }
    }

    /// Copy the estimate into `out` (a writable C-contiguous array of the aggregator's dtype
    /// and size, e.g. a view of a gradient buffer), without allocating.
    fn estimate_into(&self, py: Python<'_>, out: &Bound<'_, PyAny>) -> PyResult<()> {
        fn copy<S: Scalar>(g: &[S], out: &mut [S]) -> Result<(), String> {
            if out.len() != g.len() {
                return Err(format!(
                    "out has {} entries but the aggregator has dimension {}",
                    out.len(),
                    g.len()
                ));
            }
            out.copy_from_slice(g);
            Ok(())
        }
        let mut view = write_view(out, "out")?;
        match (&self.inner, &mut view) {
            (AnyAgg::F32(a), WriteView::F32(o)) => {
                let o = o.as_slice_mut().map_err(value_err)?;
                py.detach(|| copy(&a.g, o))
            }
            (AnyAgg::F64(a), WriteView::F64(o)) => {
                let o = o.as_slice_mut().map_err(value_err)?;
                py.detach(|| copy(&a.g, o))
            }
            _ => Err("out has a different dtype than the aggregator".to_string()),
        }
        .map_err(value_err)
    }

    /// Overwrite the estimate with a copy of `values` (same dtype and dimension, finite).
    fn set_estimate(&mut self, values: &Bound<'_, PyAny>) -> PyResult<()> {
        fn set<S: Scalar>(a: &mut Aggregator<S>, v: &[S]) -> Result<(), String> {
            if v.len() != a.g.len() {
                return Err(format!(
                    "values have {} entries but the aggregator has dimension {}",
                    v.len(),
                    a.g.len()
                ));
            }
            if let Some((i, x)) = squeeze_core::ops::first_non_finite(v) {
                return Err(format!("values[{i}] = {} is not finite", x.to_f64()));
            }
            a.g.copy_from_slice(v);
            Ok(())
        }
        let view = read_view(values, "values")?;
        match (&mut self.inner, &view) {
            (AnyAgg::F32(a), ReadView::F32(v)) => set(a, v.as_slice().map_err(value_err)?),
            (AnyAgg::F64(a), ReadView::F64(v)) => set(a, v.as_slice().map_err(value_err)?),
            _ => Err("values have a different dtype than the aggregator".to_string()),
        }
        .map_err(value_err)
    }

    /// Dimension.
    #[getter]
    fn dim(&self) -> usize {
        match &self.inner {
            AnyAgg::F32(a) => a.g.len(),
            AnyAgg::F64(a) => a.g.len(),
        }
    }

    /// Rounds absorbed so far.
    #[getter]
    fn round(&self) -> u64 {
        self.round
    }

    /// The state as bytes (estimate bit-exact, round).
    fn state_dict<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let kind = if self.running { 10 } else { 11 };
        let bytes = match &self.inner {
            AnyAgg::F32(a) => agg_save(a, kind, self.round),
            AnyAgg::F64(a) => agg_save(a, kind, self.round),
        };
        PyBytes::new(py, &bytes)
    }

    /// Restore from `state_dict()` bytes of an aggregator built the same way.
    fn load_state_dict(&mut self, data: &[u8]) -> PyResult<()> {
        let kind = if self.running { 10 } else { 11 };
        let round = match &mut self.inner {
            AnyAgg::F32(a) => agg_load(a, kind, data),
            AnyAgg::F64(a) => agg_load(a, kind, data),
        }
        .map_err(value_err)?;
        self.round = round;
        Ok(())
    }

    fn __repr__(&self) -> String {
        format!(
            "Aggregator(dim={}, running={}, round={})",
            self.dim(),
            if self.running { "True" } else { "False" },
            self.round
        )
    }
}

fn agg_header<S: Scalar>(a: &Aggregator<S>, kind: u8, round: u64) -> Header {
    Header {
        kind,
        width: (S::BITS / 8) as u8,
        description: "aggregator".to_string(),
        numbers: [a.g.len() as u64, 0, 0, a.n_workers as u64, round, 0],
    }
}

fn agg_save<S: Scalar>(a: &Aggregator<S>, kind: u8, round: u64) -> Vec<u8> {
    state::write::<S>(&agg_header(a, kind, round), &[&a.g], &[])
}

fn agg_load<S: Scalar>(a: &mut Aggregator<S>, kind: u8, data: &[u8]) -> Result<u64, String> {
    let mut p = state::read::<S>(data)?;
    let want = agg_header(a, kind, p.header.numbers[4]);
    if p.header != want || p.vectors.len() != 1 {
        return Err(format!(
            "the state does not fit this aggregator (state: kind {}, dim {}, n_workers {}; this: kind {}, dim {}, n_workers {}); build it with the same dim, n_workers, dtype and running flag",
            p.header.kind,
            p.header.numbers[0],
            p.header.numbers[3],
            kind,
            a.g.len(),
            a.n_workers
        ));
    }
    a.g = p.vectors.pop().unwrap_or_default();
    Ok(p.header.numbers[4])
}

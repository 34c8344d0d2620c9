//! `squeeze.feedback`: the push-style error-feedback mechanisms of `squeeze_feedback`, worker
//! side ([`PyWorker`] and its four subclasses) and server side ([`PyAggregator`]).
//!
//! A worker's step `r` uses `Round::new(worker, n_workers, r).with_shared_seed(seed)` and the
//! worker stream `SqueezeRng::stream(seed, Purpose::Compression, worker)` that the Rust
//! constructors (`Ef21Worker::new(dim, seed, worker)`, …) create, so a Python worker and a
//! Rust loop over the same vectors send the same bytes.

use pyo3::PyClassInitializer;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};
use squeeze_core::{Message, Scalar, SqueezeRng};
use squeeze_feedback::{
    Aggregator, Clip21, Clip21Variant, Econtrol, Ef14, Ef21, FeedbackError, Round, Workspace,
    add_mean,
};

use crate::array::{Dtype, ReadView, read_view, to_numpy};
use crate::compressor::{PyCompressor, check_worker};
use crate::error::{OrValueError, value_err};
use crate::message::{AnyMessage, PyMessage};
use crate::state::{self, Header};

/// What to build: the mechanism, its hyperparameters and its compressor spec.
#[derive(Debug, Clone)]
pub(crate) enum Spec {
    /// EF21 with a compressor.
    Ef21(String),
    /// EF14 with a compressor and the scale applied to the vector.
    Ef14(String, f64),
    /// EControl with a compressor and η.
    Econtrol(String, f64),
    /// Clip21 with τ, an optional compressor (Press) and an optional noise σ (DP).
    Clip21(f64, Option<String>, Option<f64>),
}

impl Spec {
    fn kind(&self) -> u8 {
        match self {
            Spec::Ef21(_) => 0,
            Spec::Ef14(..) => 1,
            Spec::Econtrol(..) => 2,
            Spec::Clip21(..) => 3,
        }
    }

    /// A canonical description that a loaded state must match.
    fn describe(&self, spec: &str) -> String {
        match self {
            Spec::Ef21(_) => format!("ef21 [{spec}]"),
            Spec::Ef14(_, s) => format!("ef14:scale={s:?} [{spec}]"),
            Spec::Econtrol(_, e) => format!("econtrol:eta={e:?} [{spec}]"),
            Spec::Clip21(t, _, s) => format!("clip21:tau={t:?},sigma={s:?} [{spec}]"),
        }
    }
}

/// The mechanism and its worker state.
#[derive(Debug)]
enum Mech<S: Scalar> {
    Ef21(Ef21<S>, squeeze_feedback::Ef21Worker<S>),
    Ef14(Ef14<S>, f64, squeeze_feedback::Ef14Worker<S>),
    Econtrol(Econtrol<S>, squeeze_feedback::EcontrolWorker<S>),
    Clip21(Clip21<S>, squeeze_feedback::Clip21Worker<S>),
}

/// One worker of scalar type `S`.
#[derive(Debug)]
pub(crate) struct Core<S: Scalar> {
    mech: Mech<S>,
    ws: Workspace<S>,
    msg: Message<S>,
    description: String,
    dim: usize,
    seed: u64,
    worker: usize,
    n_workers: usize,
    round: u64,
    bits_sent: u64,
}

impl<S: Scalar> Core<S> {
    fn build(
        spec: &Spec,
        dim: usize,
        seed: u64,
        worker: usize,
        n_workers: usize,
    ) -> PyResult<Self> {
        check_worker(worker, n_workers)?;
        if dim == 0 {
            return Err(value_err(
                "dim = 0: a feedback state needs dimension ≥ 1 (the number of entries of the vectors you will send)",
            ));
        }
        let parse = |s: &str| squeeze_compress::parse::<S>(s).or_value_err();
        let (mech, cspec) = match spec {
            Spec::Ef21(c) => {
                let c = parse(c)?;
                c.check_dim(dim).or_value_err()?;
                let cs = c.spec();
                let w = squeeze_feedback::Ef21Worker::new(dim, seed, worker);
                (Mech::Ef21(Ef21::new(c), w), cs)
            }
            Spec::Ef14(c, scale) => {
                if !scale.is_finite() {
                    return Err(value_err(format!("ef14: scale = {scale} must be finite")));
                }
                let c = parse(c)?;
                c.check_dim(dim).or_value_err()?;
                let cs = c.spec();
                let w = squeeze_feedback::Ef14Worker::new(dim, seed, worker);
                (Mech::Ef14(Ef14::new(c), *scale, w), cs)
            }
            Spec::Econtrol(c, eta) => {
                let c = parse(c)?;
                c.check_dim(dim).or_value_err()?;
                let cs = c.spec();
                let w = squeeze_feedback::EcontrolWorker::new(dim, seed, worker);
                (
                    Mech::Econtrol(Econtrol::new(c, *eta).or_value_err()?, w),
                    cs,
                )
            }
            Spec::Clip21(tau, c, sigma) => {
                let (variant, cs) = match (c, sigma) {
                    (Some(_), Some(_)) => {
                        return Err(value_err(
                            "clip21: pass either compressor (Press) or sigma (DP noise), not both",
                        ));
                    }
                    (Some(c), None) => {
                        let c = parse(c)?;
                        c.check_dim(dim).or_value_err()?;
                        let cs = c.spec();
                        (Clip21Variant::Press(c), cs)
                    }
                    (None, Some(s)) => (Clip21Variant::Dp { sigma: *s }, "dense".to_string()),
                    (None, None) => (Clip21Variant::Plain, "dense".to_string()),
                };
                let w = squeeze_feedback::Clip21Worker::new(dim, seed, worker);
                (
                    Mech::Clip21(Clip21::new(*tau, variant).or_value_err()?, w),
                    cs,
                )
            }
        };
        Ok(Self {
            mech,
            ws: Workspace::new(dim),
            msg: Message::default(),
            description: spec.describe(&cspec),
            dim,
            seed,
            worker,
            n_workers,
            round: 0,
            bits_sent: 0,
        })
    }

    fn step(&mut self, v: &[S]) -> Result<Message<S>, FeedbackError> {
        let r = Round::new(self.worker, self.n_workers, self.round).with_shared_seed(self.seed);
        let (ws, out) = (&mut self.ws, &mut self.msg);
        match &mut self.mech {
            Mech::Ef21(m, w) => m.step(w, v, &r, ws, out)?,
            Mech::Ef14(m, s, w) => m.step(w, *s, v, &r, ws, out)?,
            Mech::Econtrol(m, w) => m.step(w, v, &r, ws, out)?,
            Mech::Clip21(m, w) => m.step(w, v, &r, ws, out)?,
        }
        self.round += 1;
        self.bits_sent += out.bits();
        Ok(out.clone())
    }

    /// The named state vectors and the streams.
    fn parts(&self) -> (Vec<(&'static str, &[S])>, Vec<&SqueezeRng>) {
        match &self.mech {
            Mech::Ef21(_, w) => (vec![("g", &w.g)], vec![&w.rng]),
            Mech::Ef14(_, _, w) => (vec![("e", &w.e)], vec![&w.rng]),
            Mech::Econtrol(_, w) => (vec![("e", &w.e), ("h", &w.h)], vec![&w.rng]),
            Mech::Clip21(_, w) => (vec![("v", &w.v)], vec![&w.rng, &w.noise]),
        }
    }

    fn header(&self, kind: u8) -> Header {
        Header {
            kind,
            width: (S::BITS / 8) as u8,
            description: self.description.clone(),
            numbers: [
                self.dim as u64,
                self.seed,
                self.worker as u64,
                self.n_workers as u64,
                self.round,
                self.bits_sent,
            ],
        }
    }

    fn save(&self, kind: u8) -> Vec<u8> {
        let (vecs, streams) = self.parts();
        let vecs: Vec<&[S]> = vecs.into_iter().map(|(_, v)| v).collect();
        state::write(&self.header(kind), &vecs, &streams)
    }

    fn load(&mut self, kind: u8, data: &[u8]) -> Result<(), String> {
        let p = state::read::<S>(data)?;
        let h = &p.header;
        if h.kind != kind || h.description != self.description {
            return Err(format!(
                "the state is of '{}' but this worker is '{}'; build the worker with the same mechanism, hyperparameters and compressor",
                h.description, self.description
            ));
        }
        if h.numbers[0] != self.dim as u64 {
            return Err(format!(
                "the state has dimension {} but this worker has dimension {}; build it with the same dimension",
                h.numbers[0], self.dim
            ));
        }
        let (worker, n_workers) = (h.numbers[2] as usize, h.numbers[3] as usize);
        if n_workers == 0 || worker >= n_workers {
            return Err(format!("state has worker {worker} of {n_workers}"));
        }
        let want = self.parts();
        if p.vectors.len() != want.0.len() || p.streams.len() != want.1.len() {
            return Err("the state has the wrong number of vectors or streams".to_string());
        }
        let mut vs = p.vectors.into_iter();
        let mut ss = p.streams.into_iter();
        let mut next = || (vs.next().unwrap_or_default(), ss.next());
        match &mut self.mech {
            Mech::Ef21(_, w) => {
                let (g, rng) = next();
                w.g = g;
                w.rng = rng.unwrap_or_else(|| w.rng.clone());
            }
            Mech::Ef14(_, _, w) => {
                let (e, rng) = next();
                w.e = e;
                w.rng = rng.unwrap_or_else(|| w.rng.clone());
            }
            Mech::Econtrol(_, w) => {
                let (e, rng) = next();
                let (h, _) = next();
                w.e = e;
                w.h = h;
                w.rng = rng.unwrap_or_else(|| w.rng.clone());
            }
            Mech::Clip21(_, w) => {
                let (v, rng) = next();
                let (_, noise) = next();
                w.v = v;
                w.rng = rng.unwrap_or_else(|| w.rng.clone());
                w.noise = noise.unwrap_or_else(|| w.noise.clone());
            }
        }
        self.seed = h.numbers[1];
        self.worker = worker;
        self.n_workers = n_workers;
        self.round = h.numbers[4];
        self.bits_sent = h.numbers[5];
        Ok(())
    }
}

/// A worker of either scalar type.
#[derive(Debug)]
pub(crate) enum AnyCore {
    F32(Core<f32>),
    F64(Core<f64>),
}

macro_rules! each {
    ($inner:expr, $c:ident => $e:expr) => {
        match $inner {
            AnyCore::F32($c) => $e,
            AnyCore::F64($c) => $e,
        }
    };
}

/// The worker side of a push-style mechanism (base class of `Ef21Worker`, `Ef14Worker`,
/// `EcontrolWorker`, `Clip21Worker`): `step(v)` returns the message to send and updates the
/// state; `state_dict()` / `load_state_dict()` save and restore it bit for bit.
#[pyclass(name = "Worker", module = "squeeze._native", subclass)]
#[derive(Debug)]
pub struct PyWorker {
    inner: AnyCore,
    kind: u8,
}

impl PyWorker {
    fn new(
        spec: Spec,
        dim: usize,
        seed: u64,
        worker: usize,
        n_workers: usize,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let kind = spec.kind();
        let inner = match Dtype::parse(dtype)? {
            Dtype::F32 => AnyCore::F32(Core::build(&spec, dim, seed, worker, n_workers)?),
            Dtype::F64 => AnyCore::F64(Core::build(&spec, dim, seed, worker, n_workers)?),
        };
        Ok(Self { inner, kind })
    }

    fn dtype_of(&self) -> Dtype {
        match self.inner {
            AnyCore::F32(_) => Dtype::F32,
            AnyCore::F64(_) => Dtype::F64,
        }
    }
}

#[pymethods]
impl PyWorker {
    /// One step with the vector `v` (C-contiguous array of the worker's dtype and `dim`
    /// entries, read in place; the GIL is released meanwhile): returns the message to send.
    /// Non-finite or wrongly sized input is a `ValueError` and changes nothing.
    fn step(&mut self, py: Python<'_>, v: &Bound<'_, PyAny>) -> PyResult<PyMessage> {
        let view = read_view(v, "the vector to send")?;
        let mine = self.dtype_of();
        let inner = match (&mut self.inner, &view) {
            (AnyCore::F32(c), ReadView::F32(a)) => {
                let s = a.as_slice().map_err(value_err)?;
                AnyMessage::F32(py.detach(|| c.step(s)).or_value_err()?)
            }
            (AnyCore::F64(c), ReadView::F64(a)) => {
                let s = a.as_slice().map_err(value_err)?;
                AnyMessage::F64(py.detach(|| c.step(s)).or_value_err()?)
            }
            _ => {
                return Err(value_err(format!(
                    "the vector to send has a different dtype than the worker ({}); convert it with v.astype(numpy.{})",
                    mine.name(),
                    mine.name()
                )));
            }
        };
        Ok(PyMessage { inner })
    }

    /// Dimension of the vectors the worker sends.
    #[getter]
    fn dim(&self) -> usize {
        each!(&self.inner, c => c.dim)
    }

    /// Steps taken so far (the next step's round index).
    #[getter]
    fn round(&self) -> u64 {
        each!(&self.inner, c => c.round)
    }

    /// Cumulative exact bits of all messages this worker has returned.
    #[getter]
    fn bits_sent(&self) -> u64 {
        each!(&self.inner, c => c.bits_sent)
    }

    /// The experiment seed.
    #[getter]
    fn seed(&self) -> u64 {
        each!(&self.inner, c => c.seed)
    }

    /// Worker index.
    #[getter]
    fn worker(&self) -> usize {
        each!(&self.inner, c => c.worker)
    }

    /// Number of workers.
    #[getter]
    fn n_workers(&self) -> usize {
        each!(&self.inner, c => c.n_workers)
    }

    /// `"float32"` or `"float64"`.
    #[getter]
    fn dtype(&self) -> &'static str {
        self.dtype_of().name()
    }

    /// Mechanism, hyperparameters and compressor, e.g. `ef21 [top_k:k=1]`.
    #[getter]
    fn description(&self) -> String {
        each!(&self.inner, c => c.description.clone())
    }

    /// Copies of the state vectors by name (`g` for EF21, `e` for EF14, `e` and `h` for
    /// EControl, `v` for Clip21).
    fn memory<'py>(&self, py: Python<'py>) -> PyResult<Vec<(String, Bound<'py, PyAny>)>> {
        Ok(each!(&self.inner, c => c
            .parts()
            .0
            .into_iter()
            .map(|(n, v)| (n.to_string(), to_numpy(py, v.to_vec())))
            .collect()))
    }

    /// The whole state as bytes (vectors bit-exact, random streams, round, bits sent).
    fn state_dict<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let kind = self.kind;
        let bytes = each!(&self.inner, c => py.detach(|| c.save(kind)));
        PyBytes::new(py, &bytes)
    }

    /// Restore a state from `state_dict()` bytes of a worker built the same way (mechanism,
    /// hyperparameters, compressor, dimension, dtype); anything else is a `ValueError` and
    /// changes nothing.
    fn load_state_dict(&mut self, py: Python<'_>, data: &[u8]) -> PyResult<()> {
        let kind = self.kind;
        each!(&mut self.inner, c => py.detach(|| c.load(kind, data))).map_err(value_err)
    }

    fn __repr__(&self) -> String {
        format!(
            "Worker({}, dim={}, worker={}/{}, round={}, dtype={})",
            self.description(),
            self.dim(),
            self.worker(),
            self.n_workers(),
            self.round(),
            self.dtype()
        )
    }
}

/// EF21 worker: `c = C(v − g_i)`, `g_i += c` (Richtárik et al. 2021). Server: `Aggregator`.
#[pyclass(extends = PyWorker, module = "squeeze._native")]
#[derive(Debug)]
pub struct Ef21Worker;

#[pymethods]
impl Ef21Worker {
    /// `Ef21Worker(dim, compressor, seed=0, worker=0, n_workers=1, dtype="float32")`.
    #[new]
    #[pyo3(signature = (dim, compressor, seed = 0, worker = 0, n_workers = 1, dtype = None))]
    fn new(
        dim: usize,
        compressor: &Bound<'_, PyAny>,
        seed: u64,
        worker: usize,
        n_workers: usize,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let spec = Spec::Ef21(PyCompressor::spec_of(compressor)?);
        Ok(
            PyClassInitializer::from(PyWorker::new(spec, dim, seed, worker, n_workers, dtype)?)
                .add_subclass(Self),
        )
    }
}

/// EF14 worker: `m = C(e_i + scale·v)`, `e_i ← e_i + scale·v − m` (Seide et al. 2014).
/// Server: `Aggregator(..., running=False)` (the mean of this round's messages).
#[pyclass(extends = PyWorker, module = "squeeze._native")]
#[derive(Debug)]
pub struct Ef14Worker;

#[pymethods]
impl Ef14Worker {
    /// `Ef14Worker(dim, compressor, scale=1.0, seed=0, worker=0, n_workers=1, dtype="float32")`.
    #[new]
    #[pyo3(signature = (dim, compressor, scale = 1.0, seed = 0, worker = 0, n_workers = 1, dtype = None))]
    fn new(
        dim: usize,
        compressor: &Bound<'_, PyAny>,
        scale: f64,
        seed: u64,
        worker: usize,
        n_workers: usize,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let spec = Spec::Ef14(PyCompressor::spec_of(compressor)?, scale);
        Ok(
            PyClassInitializer::from(PyWorker::new(spec, dim, seed, worker, n_workers, dtype)?)
                .add_subclass(Self),
        )
    }
}

/// EControl worker: `Δ = C(η e_i + v − h_i)` with error `e_i` and shift `h_i` (Gao, Islamov,
/// Stich 2024). Server: `Aggregator`.
#[pyclass(extends = PyWorker, module = "squeeze._native")]
#[derive(Debug)]
pub struct EcontrolWorker;

#[pymethods]
impl EcontrolWorker {
    /// `EcontrolWorker(dim, compressor, eta, seed=0, worker=0, n_workers=1, dtype="float32")`.
    #[new]
    #[pyo3(signature = (dim, compressor, eta, seed = 0, worker = 0, n_workers = 1, dtype = None))]
    fn new(
        dim: usize,
        compressor: &Bound<'_, PyAny>,
        eta: f64,
        seed: u64,
        worker: usize,
        n_workers: usize,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let spec = Spec::Econtrol(PyCompressor::spec_of(compressor)?, eta);
        Ok(
            PyClassInitializer::from(PyWorker::new(spec, dim, seed, worker, n_workers, dtype)?)
                .add_subclass(Self),
        )
    }
}

/// Clip21 worker: `u = clip_τ(v − v_i)`, `v_i += u` (Khirirat et al. 2023); with `compressor`
/// the clipped correction is compressed (Press), with `sigma` Gaussian noise is added (DP).
/// Server: `Aggregator`.
#[pyclass(extends = PyWorker, module = "squeeze._native")]
#[derive(Debug)]
pub struct Clip21Worker;

#[pymethods]
impl Clip21Worker {
    /// `Clip21Worker(dim, tau, compressor=None, sigma=None, seed=0, worker=0, n_workers=1,
    /// dtype="float32")`.
    #[new]
    #[pyo3(signature = (dim, tau, compressor = None, sigma = None, seed = 0, worker = 0, n_workers = 1, dtype = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        dim: usize,
        tau: f64,
        compressor: Option<&Bound<'_, PyAny>>,
        sigma: Option<f64>,
        seed: u64,
        worker: usize,
        n_workers: usize,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let c = compressor
            .filter(|c| !c.is_none())
            .map(PyCompressor::spec_of)
            .transpose()?;
        let spec = Spec::Clip21(tau, c, sigma);
        Ok(
            PyClassInitializer::from(PyWorker::new(spec, dim, seed, worker, n_workers, dtype)?)
                .add_subclass(Self),
        )
    }
}

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
fn collect<S: Scalar>(
    items: &Bound<'_, PyList>,
    dim: usize,
    pick: impl Fn(&AnyMessage) -> Option<&Message<S>>,
    dtype: Dtype,
) -> PyResult<Vec<Message<S>>> {
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        if let Ok(m) = item.cast::<PyMessage>() {
            match pick(&m.get().inner) {
                Some(m) => out.push(m.clone()),
                None => {
                    return Err(value_err(format!(
                        "message {i} is not {}; build every worker with the aggregator's dtype",
                        dtype.name()
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
        dim: usize,
        n_workers: usize,
        dtype: Option<&Bound<'_, PyAny>>,
        running: bool,
    ) -> PyResult<Self> {
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
                let msgs = collect(
                    messages,
                    a.g.len(),
                    |m| match m {
                        AnyMessage::F32(m) => Some(m),
                        AnyMessage::F64(_) => None,
                    },
                    Dtype::F32,
                )?;
                py.detach(|| absorb_into(a, running, round, &msgs))
                    .map_err(value_err)?;
            }
            AnyAgg::F64(a) => {
                let msgs = collect(
                    messages,
                    a.g.len(),
                    |m| match m {
                        AnyMessage::F64(m) => Some(m),
                        AnyMessage::F32(_) => None,
                    },
                    Dtype::F64,
                )?;
                py.detach(|| absorb_into(a, running, round, &msgs))
                    .map_err(value_err)?;
            }
        }
        self.round += 1;
        Ok(())
    }

    /// A copy of the current estimate (use it as the gradient of your model step).
    #[getter]
    fn estimate<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        match &self.inner {
            AnyAgg::F32(a) => to_numpy(py, a.g.clone()),
            AnyAgg::F64(a) => to_numpy(py, a.g.clone()),
        }
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

//! `squeeze.feedback`: the push-style error-feedback mechanisms of `squeeze_feedback`, worker
//! side ([`PyWorker`] and its four subclasses) and server side ([`PyAggregator`]).
//!
//! A worker's step `r` uses `Round::new(worker, n_workers, r).with_shared_seed(seed)` and the
//! worker stream `SqueezeRng::stream(seed, Purpose::Compression, worker)` that the Rust
//! constructors (`Ef21Worker::new(dim, seed, worker)`, …) create, so a Python worker and a
//! Rust loop over the same vectors send the same bytes.

use pyo3::PyClassInitializer;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use squeeze_core::{Message, Scalar, SqueezeRng};
use squeeze_feedback::{
    Clip21, Clip21Variant, Econtrol, Ef14, Ef21, FeedbackError, Round, Workspace,
};

use crate::array::{Dtype, ReadView, read_view, to_numpy};
use crate::compressor::{PyCompressor, check_worker};
use crate::error::{Nat, OrValueError, value_err};
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

    /// Overwrite state vector `name` with `values`.
    fn set(&mut self, name: &str, values: &[S]) -> Result<(), String> {
        if values.len() != self.dim {
            return Err(format!(
                "values have {} entries but the worker has dimension {}",
                values.len(),
                self.dim
            ));
        }
        if let Some((i, v)) = squeeze_core::ops::first_non_finite(values) {
            return Err(format!("values[{i}] = {} is not finite", v.to_f64()));
        }
        let target = match (&mut self.mech, name) {
            (Mech::Ef21(_, w), "g") => &mut w.g,
            (Mech::Ef14(_, _, w), "e") => &mut w.e,
            (Mech::Econtrol(_, w), "e") => &mut w.e,
            (Mech::Econtrol(_, w), "h") => &mut w.h,
            (Mech::Clip21(_, w), "v") => &mut w.v,
            _ => {
                let names: Vec<&str> = self.parts().0.into_iter().map(|(n, _)| n).collect();
                return Err(format!(
                    "this worker has no state vector '{name}'; its vectors are {names:?}"
                ));
            }
        };
        target.copy_from_slice(values);
        Ok(())
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
    /// The base-class part of a worker subclass: the mechanism `spec` built for the shared
    /// constructor arguments (each subclass adds itself with `add_subclass`).
    fn base(
        spec: Spec,
        dim: Nat,
        seed: Nat,
        worker: Nat,
        n_workers: Nat,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let (dim, seed, worker, n_workers) =
            (dim.usize()?, seed.0, worker.usize()?, n_workers.usize()?);
        let kind = spec.kind();
        let inner = match Dtype::parse(dtype)? {
            Dtype::F32 => AnyCore::F32(Core::build(&spec, dim, seed, worker, n_workers)?),
            Dtype::F64 => AnyCore::F64(Core::build(&spec, dim, seed, worker, n_workers)?),
        };
        Ok(PyClassInitializer::from(Self { inner, kind }))
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

    /// Overwrite the state vector `name` (one of the names `memory()` lists) with a copy of
    /// `values` (same dtype, `dim` entries, finite). Used to carry error-feedback memory
    /// coordinate by coordinate when vectors are regrouped (the DDP hook after a bucket
    /// rebuild).
    fn set_memory(&mut self, name: &str, values: &Bound<'_, PyAny>) -> PyResult<()> {
        let view = read_view(values, "values")?;
        match (&mut self.inner, &view) {
            (AnyCore::F32(c), ReadView::F32(a)) => c.set(name, a.as_slice().map_err(value_err)?),
            (AnyCore::F64(c), ReadView::F64(a)) => c.set(name, a.as_slice().map_err(value_err)?),
            _ => Err(format!(
                "values have a different dtype than the worker ({})",
                self.dtype_of().name()
            )),
        }
        .map_err(value_err)
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
    #[pyo3(
        signature = (dim, compressor, seed = Nat(0), worker = Nat(0), n_workers = Nat(1), dtype = None),
        text_signature = "(dim, compressor, seed=0, worker=0, n_workers=1, dtype=None)"
    )]
    fn new(
        dim: Nat,
        compressor: &Bound<'_, PyAny>,
        seed: Nat,
        worker: Nat,
        n_workers: Nat,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let spec = Spec::Ef21(PyCompressor::spec_of(compressor)?);
        Ok(PyWorker::base(spec, dim, seed, worker, n_workers, dtype)?.add_subclass(Self))
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
    #[pyo3(
        signature = (dim, compressor, scale = 1.0, seed = Nat(0), worker = Nat(0), n_workers = Nat(1), dtype = None),
        text_signature = "(dim, compressor, scale=1.0, seed=0, worker=0, n_workers=1, dtype=None)"
    )]
    fn new(
        dim: Nat,
        compressor: &Bound<'_, PyAny>,
        scale: f64,
        seed: Nat,
        worker: Nat,
        n_workers: Nat,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let spec = Spec::Ef14(PyCompressor::spec_of(compressor)?, scale);
        Ok(PyWorker::base(spec, dim, seed, worker, n_workers, dtype)?.add_subclass(Self))
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
    #[pyo3(
        signature = (dim, compressor, eta, seed = Nat(0), worker = Nat(0), n_workers = Nat(1), dtype = None),
        text_signature = "(dim, compressor, eta, seed=0, worker=0, n_workers=1, dtype=None)"
    )]
    fn new(
        dim: Nat,
        compressor: &Bound<'_, PyAny>,
        eta: f64,
        seed: Nat,
        worker: Nat,
        n_workers: Nat,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let spec = Spec::Econtrol(PyCompressor::spec_of(compressor)?, eta);
        Ok(PyWorker::base(spec, dim, seed, worker, n_workers, dtype)?.add_subclass(Self))
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
    #[pyo3(
        signature = (dim, tau, compressor = None, sigma = None, seed = Nat(0), worker = Nat(0), n_workers = Nat(1), dtype = None),
        text_signature = "(dim, tau, compressor=None, sigma=None, seed=0, worker=0, n_workers=1, dtype=None)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn new(
        dim: Nat,
        tau: f64,
        compressor: Option<&Bound<'_, PyAny>>,
        sigma: Option<f64>,
        seed: Nat,
        worker: Nat,
        n_workers: Nat,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let c = compressor
            .filter(|c| !c.is_none())
            .map(PyCompressor::spec_of)
            .transpose()?;
        let spec = Spec::Clip21(tau, c, sigma);
        Ok(PyWorker::base(spec, dim, seed, worker, n_workers, dtype)?.add_subclass(Self))
    }
}

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
use squeeze_core::{Compressor, Message, Scalar, SqueezeRng};
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

/// One worker's mechanism, state and working memory, of scalar type `S` (what it is and has
/// done, the same for both types, is kept by [`PyWorker`]).
#[derive(Debug)]
pub(crate) struct Core<S: Scalar> {
    mech: Mech<S>,
    ws: Workspace<S>,
    msg: Message<S>,
}

impl<S: Scalar> Core<S> {
    /// The worker of `spec` in dimension `dim` ≥ 1, and its description (mechanism,
    /// hyperparameters and compressor).
    fn build(spec: &Spec, dim: usize, seed: u64, worker: usize) -> PyResult<(Self, String)> {
        // A compressor for dimension `dim` and its canonical spec.
        let compressor = |c: &str| -> PyResult<(Box<dyn Compressor<S>>, String)> {
            let c = squeeze_compress::parse::<S>(c).or_value_err()?;
            c.check_dim(dim).or_value_err()?;
            let cs = c.spec();
            Ok((c, cs))
        };
        let (mech, cspec) = match spec {
            Spec::Ef21(c) => {
                let (c, cs) = compressor(c)?;
                let w = squeeze_feedback::Ef21Worker::new(dim, seed, worker);
                (Mech::Ef21(Ef21::new(c), w), cs)
            }
            Spec::Ef14(c, scale) => {
                if !scale.is_finite() {
                    return Err(value_err(format!("ef14: scale = {scale} must be finite")));
                }
                let (c, cs) = compressor(c)?;
                let w = squeeze_feedback::Ef14Worker::new(dim, seed, worker);
                (Mech::Ef14(Ef14::new(c), *scale, w), cs)
            }
            Spec::Econtrol(c, eta) => {
                let (c, cs) = compressor(c)?;
                let w = squeeze_feedback::EcontrolWorker::new(dim, seed, worker);
                let m = Econtrol::new(c, *eta).or_value_err()?;
                (Mech::Econtrol(m, w), cs)
            }
            Spec::Clip21(tau, c, sigma) => {
                let (variant, cs) = match (c, sigma) {
                    (Some(_), Some(_)) => {
                        return Err(value_err(
                            "clip21: pass either compressor (Press) or sigma (DP noise), not both",
                        ));
                    }
                    (Some(c), None) => {
                        let (c, cs) = compressor(c)?;
                        (Clip21Variant::Press(c), cs)
                    }
                    (None, Some(s)) => (Clip21Variant::Dp { sigma: *s }, "dense".to_string()),
                    (None, None) => (Clip21Variant::Plain, "dense".to_string()),
                };
                let w = squeeze_feedback::Clip21Worker::new(dim, seed, worker);
                let m = Clip21::new(*tau, variant).or_value_err()?;
                (Mech::Clip21(m, w), cs)
            }
        };
        let core = Self {
            mech,
            ws: Workspace::new(dim),
            msg: Message::default(),
        };
        Ok((core, spec.describe(&cspec)))
    }

    /// One step with the vector `v` in round `r`: the message to send.
    fn step(&mut self, v: &[S], r: &Round) -> Result<Message<S>, FeedbackError> {
        let (ws, out) = (&mut self.ws, &mut self.msg);
        match &mut self.mech {
            Mech::Ef21(m, w) => m.step(w, v, r, ws, out)?,
            Mech::Ef14(m, s, w) => m.step(w, *s, v, r, ws, out)?,
            Mech::Econtrol(m, w) => m.step(w, v, r, ws, out)?,
            Mech::Clip21(m, w) => m.step(w, v, r, ws, out)?,
        }
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

    /// The state vectors and the streams of [`Core::parts`], in the same order, writable.
    fn parts_mut(&mut self) -> (Vec<&mut Vec<S>>, Vec<&mut SqueezeRng>) {
        match &mut self.mech {
            Mech::Ef21(_, w) => (vec![&mut w.g], vec![&mut w.rng]),
            Mech::Ef14(_, _, w) => (vec![&mut w.e], vec![&mut w.rng]),
            Mech::Econtrol(_, w) => (vec![&mut w.e, &mut w.h], vec![&mut w.rng]),
            Mech::Clip21(_, w) => (vec![&mut w.v], vec![&mut w.rng, &mut w.noise]),
        }
    }

    /// Overwrite state vector `name` with `values` (the worker has dimension `dim`).
    fn set(&mut self, dim: usize, name: &str, values: &[S]) -> Result<(), String> {
        if values.len() != dim {
            return Err(format!(
                "values have {} entries but the worker has dimension {dim}",
                values.len()
            ));
        }
        if let Some((i, v)) = squeeze_core::ops::first_non_finite(values) {
            return Err(format!("values[{i}] = {} is not finite", v.to_f64()));
        }
        let names: Vec<&str> = self.parts().0.into_iter().map(|(n, _)| n).collect();
        let Some(at) = names.iter().position(|&n| n == name) else {
            return Err(format!(
                "this worker has no state vector '{name}'; its vectors are {names:?}"
            ));
        };
        self.parts_mut().0[at].copy_from_slice(values);
        Ok(())
    }

    /// The state's bytes, under the header `h`.
    fn save(&self, h: &Header) -> Vec<u8> {
        let (vecs, streams) = self.parts();
        let vecs: Vec<&[S]> = vecs.into_iter().map(|(_, v)| v).collect();
        state::write(h, &vecs, &streams)
    }

    /// Restore the state of `data`, which must be one of a worker built like this one (`now`:
    /// this worker's header); returns the state's numbers (dim, seed, worker, n_workers, round,
    /// bits sent).
    fn load(&mut self, data: &[u8], now: &Header) -> Result<[u64; 6], String> {
        let p = state::read::<S>(data)?;
        let h = &p.header;
        if h.kind != now.kind || h.description != now.description {
            return Err(format!(
                "the state is of '{}' but this worker is '{}'; build the worker with the same mechanism, hyperparameters and compressor",
                h.description, now.description
            ));
        }
        if h.numbers[0] != now.numbers[0] {
            return Err(format!(
                "the state has dimension {} but this worker has dimension {}; build it with the same dimension",
                h.numbers[0], now.numbers[0]
            ));
        }
        let (worker, n_workers) = (h.numbers[2], h.numbers[3]);
        if n_workers == 0 || worker >= n_workers {
            return Err(format!("state has worker {worker} of {n_workers}"));
        }
        let want = self.parts();
        if p.vectors.len() != want.0.len() || p.streams.len() != want.1.len() {
            return Err("the state has the wrong number of vectors or streams".to_string());
        }
        let (vecs, streams) = self.parts_mut();
        vecs.into_iter().zip(p.vectors).for_each(|(to, v)| *to = v);
        streams
            .into_iter()
            .zip(p.streams)
            .for_each(|(to, s)| *to = s);
        Ok(h.numbers)
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
    /// Mechanism, hyperparameters and compressor, e.g. `ef21 [top_k:k=1]`.
    #[pyo3(get)]
    description: String,
    /// Dimension of the vectors the worker sends.
    #[pyo3(get)]
    dim: usize,
    /// The experiment seed.
    #[pyo3(get)]
    seed: u64,
    /// Worker index.
    #[pyo3(get)]
    worker: usize,
    /// Number of workers.
    #[pyo3(get)]
    n_workers: usize,
    /// Steps taken so far (the next step's round index).
    #[pyo3(get)]
    round: u64,
    /// Cumulative exact bits of all messages this worker has returned.
    #[pyo3(get)]
    bits_sent: u64,
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
        let dtype = Dtype::parse(dtype)?;
        check_worker(worker, n_workers)?;
        if dim == 0 {
            return Err(value_err(
                "dim = 0: a feedback state needs dimension ≥ 1 (the number of entries of the vectors you will send)",
            ));
        }
        let (inner, description) = match dtype {
            Dtype::F32 => Core::build(&spec, dim, seed, worker).map(|(c, d)| (AnyCore::F32(c), d)),
            Dtype::F64 => Core::build(&spec, dim, seed, worker).map(|(c, d)| (AnyCore::F64(c), d)),
        }?;
        Ok(PyClassInitializer::from(Self {
            inner,
            kind: spec.kind(),
            description,
            dim,
            seed,
            worker,
            n_workers,
            round: 0,
            bits_sent: 0,
        }))
    }

    fn dtype_of(&self) -> Dtype {
        match self.inner {
            AnyCore::F32(_) => Dtype::F32,
            AnyCore::F64(_) => Dtype::F64,
        }
    }

    /// The header of this worker's state.
    fn header(&self) -> Header {
        Header {
            kind: self.kind,
            width: each!(&self.inner, c => c.width()),
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
}

impl<S: Scalar> Core<S> {
    /// The scalar width in bytes (of the state's header).
    fn width(&self) -> u8 {
        (S::BITS / 8) as u8
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
        let r = Round::new(self.worker, self.n_workers, self.round).with_shared_seed(self.seed);
        let inner = match (&mut self.inner, &view) {
            (AnyCore::F32(c), ReadView::F32(a)) => {
                let s = a.as_slice().map_err(value_err)?;
                AnyMessage::F32(py.detach(|| c.step(s, &r)).or_value_err()?)
            }
            (AnyCore::F64(c), ReadView::F64(a)) => {
                let s = a.as_slice().map_err(value_err)?;
                AnyMessage::F64(py.detach(|| c.step(s, &r)).or_value_err()?)
            }
            _ => {
                return Err(value_err(format!(
                    "the vector to send has a different dtype than the worker ({}); convert it with v.astype(numpy.{})",
                    mine.name(),
                    mine.name()
                )));
            }
        };
        self.round += 1;
        self.bits_sent += inner.bits();
        Ok(PyMessage { inner })
    }

    /// `"float32"` or `"float64"`.
    #[getter]
    fn dtype(&self) -> &'static str {
        self.dtype_of().name()
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
        let dim = self.dim;
        match (&mut self.inner, &view) {
            (AnyCore::F32(c), ReadView::F32(a)) => {
                c.set(dim, name, a.as_slice().map_err(value_err)?)
            }
            (AnyCore::F64(c), ReadView::F64(a)) => {
                c.set(dim, name, a.as_slice().map_err(value_err)?)
            }
            _ => Err(format!(
                "values have a different dtype than the worker ({})",
                self.dtype_of().name()
            )),
        }
        .map_err(value_err)
    }

    /// The whole state as bytes (vectors bit-exact, random streams, round, bits sent).
    fn state_dict<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let h = self.header();
        let bytes = each!(&self.inner, c => py.detach(|| c.save(&h)));
        PyBytes::new(py, &bytes)
    }

    /// Restore a state from `state_dict()` bytes of a worker built the same way (mechanism,
    /// hyperparameters, compressor, dimension, dtype); anything else is a `ValueError` and
    /// changes nothing.
    fn load_state_dict(&mut self, py: Python<'_>, data: &[u8]) -> PyResult<()> {
        let now = self.header();
        let n = each!(&mut self.inner, c => py.detach(|| c.load(data, &now))).map_err(value_err)?;
        self.seed = n[1];
        self.worker = n[2] as usize;
        self.n_workers = n[3] as usize;
        self.round = n[4];
        self.bits_sent = n[5];
        Ok(())
    }

    fn __repr__(&self) -> String {
        format!(
            "Worker({}, dim={}, worker={}/{}, round={}, dtype={})",
            self.description,
            self.dim,
            self.worker,
            self.n_workers,
            self.round,
            self.dtype()
        )
    }
}

/// A worker subclass: its class (documented by `$doc`) and its constructor, whose arguments
/// are `dim`, the mechanism's own (`$arg`, with an optional default), then `seed=0`,
/// `worker=0`, `n_workers=1`, `dtype=None`, and which builds the mechanism `$spec`.
macro_rules! worker_subclass {
    (
        $(#[$doc:meta])*
        $name:ident($($arg:ident: $ty:ty $(= $default:tt)?),*) => $spec:expr;
        text_signature = $text:literal
    ) => {
        $(#[$doc])*
        #[pyclass(extends = PyWorker, module = "squeeze._native")]
        #[derive(Debug)]
        pub struct $name;

        #[pymethods]
        impl $name {
            /// The worker (see the class documentation for the arguments).
            #[new]
            #[pyo3(
                signature = (dim, $($arg $(= $default)?,)* seed = Nat(0), worker = Nat(0), n_workers = Nat(1), dtype = None),
                text_signature = $text
            )]
            #[allow(clippy::too_many_arguments)]
            fn new(
                dim: Nat,
                $($arg: $ty,)*
                seed: Nat,
                worker: Nat,
                n_workers: Nat,
                dtype: Option<&Bound<'_, PyAny>>,
            ) -> PyResult<PyClassInitializer<Self>> {
                let spec = $spec;
                Ok(PyWorker::base(spec, dim, seed, worker, n_workers, dtype)?.add_subclass(Self))
            }
        }
    };
}

worker_subclass! {
    /// EF21 worker: `c = C(v − g_i)`, `g_i += c` (Richtárik et al. 2021). Server: `Aggregator`.
    ///
    /// `Ef21Worker(dim, compressor, seed=0, worker=0, n_workers=1, dtype="float32")`.
    Ef21Worker(compressor: &Bound<'_, PyAny>) => Spec::Ef21(PyCompressor::spec_of(compressor)?);
    text_signature = "(dim, compressor, seed=0, worker=0, n_workers=1, dtype=None)"
}

worker_subclass! {
    /// EF14 worker: `m = C(e_i + scale·v)`, `e_i ← e_i + scale·v − m` (Seide et al. 2014).
    /// Server: `Aggregator(..., running=False)` (the mean of this round's messages).
    ///
    /// `Ef14Worker(dim, compressor, scale=1.0, seed=0, worker=0, n_workers=1, dtype="float32")`.
    Ef14Worker(compressor: &Bound<'_, PyAny>, scale: f64 = 1.0)
        => Spec::Ef14(PyCompressor::spec_of(compressor)?, scale);
    text_signature = "(dim, compressor, scale=1.0, seed=0, worker=0, n_workers=1, dtype=None)"
}

worker_subclass! {
    /// EControl worker: `Δ = C(η e_i + v − h_i)` with error `e_i` and shift `h_i` (Gao, Islamov,
    /// Stich 2024). Server: `Aggregator`.
    ///
    /// `EcontrolWorker(dim, compressor, eta, seed=0, worker=0, n_workers=1, dtype="float32")`.
    EcontrolWorker(compressor: &Bound<'_, PyAny>, eta: f64)
        => Spec::Econtrol(PyCompressor::spec_of(compressor)?, eta);
    text_signature = "(dim, compressor, eta, seed=0, worker=0, n_workers=1, dtype=None)"
}

worker_subclass! {
    /// Clip21 worker: `u = clip_τ(v − v_i)`, `v_i += u` (Khirirat et al. 2023); with `compressor`
    /// the clipped correction is compressed (Press), with `sigma` Gaussian noise is added (DP).
    /// Server: `Aggregator`.
    ///
    /// `Clip21Worker(dim, tau, compressor=None, sigma=None, seed=0, worker=0, n_workers=1,
    /// dtype="float32")`.
    Clip21Worker(tau: f64, compressor: Option<&Bound<'_, PyAny>> = None, sigma: Option<f64> = None)
        => {
            let c = compressor
                .filter(|c| !c.is_none())
                .map(PyCompressor::spec_of)
                .transpose()?;
            Spec::Clip21(tau, c, sigma)
        };
    text_signature = "(dim, tau, compressor=None, sigma=None, seed=0, worker=0, n_workers=1, dtype=None)"
}

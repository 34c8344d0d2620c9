//! The server–worker method interface.
//!
//! A round of a [`ServerMethod`] on the star topology:
//!
//! ```text
//! server:   broadcast(server, round)            -> down  (one message, sent to every worker)
//! worker i: worker_round(worker_i, ctx_i)       -> up_i  (reads ctx_i.down, writes ctx_i.up;
//!                                                         in parallel, any order)
//! server:   absorb(server, [up_0, …, up_{n−1}])          (in worker order)
//! ```
//!
//! A method with [`ServerMethod::phases`] $= k > 1$ (PowerSGD's two all-reduces) runs these
//! three steps $k$ times per round, as [`ServerMethod::broadcast_phase`], `worker_round` with
//! [`WorkerCtx::phase`] and [`ServerMethod::absorb_phase`] for phase $0, \dots, k - 1$.
//!
//! Everything that changes lives in the explicit state types `Server` and `Worker` (serde, so a
//! checkpoint is just their serialisation, RNG streams included); the method value holds only
//! hyperparameters and the compressor. Engines own the per-worker [`WorkerBuffers`] (scratch,
//! work vectors), which are not state.

use serde::Serialize;
use serde::de::DeserializeOwned;
use squeeze_compress::three_point::{self, MechanismError};
use squeeze_core::{
    BitConvention, CompressError, Compressor, Message, MessageError, ParamError, Purpose, Scalar,
    Scratch, SqueezeRng, ops,
};
use squeeze_problems::{Oracle, Problem, ProblemError};

use crate::stepsize::StepsizeReport;
use thiserror::Error;

/// Why a method could not be built or could not run a round.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum MethodError {
    /// A hyperparameter is invalid.
    #[error(transparent)]
    Param(#[from] ParamError),
    /// The compressor refused its input (non-finite input is reported as [`Self::Diverged`]).
    #[error("worker {worker}, round {round}: {source}")]
    Compress {
        /// Worker index.
        worker: usize,
        /// Round.
        round: u64,
        /// The compressor's error.
        source: CompressError,
    },
    /// A message did not fit (dimension mismatch between method parts).
    #[error("worker {worker}, round {round}: {source}")]
    Message {
        /// Worker index (`usize::MAX` for the server).
        worker: usize,
        /// Round.
        round: u64,
        /// The message error.
        source: MessageError,
    },
    /// The problem rejected the call.
    #[error(transparent)]
    Problem(#[from] ProblemError),
    /// The downlink message is not what this method broadcasts.
    #[error("{method}: unexpected downlink message (expected {expected})")]
    Protocol {
        /// Method name.
        method: &'static str,
        /// What was expected.
        expected: &'static str,
    },
    /// A gradient or the iterate became non-finite.
    #[error(
        "{what} became non-finite at round {round}: the stepsize is probably too large (try a smaller multiplier or gamma)"
    )]
    Diverged {
        /// What diverged.
        what: &'static str,
        /// Round.
        round: u64,
    },
    /// The configuration does not fit the compressor or problem.
    #[error("{0}")]
    Incompatible(String),
}

/// A mechanism's error as the method's, variant for variant (same text, and a diverged
/// mechanism is a diverged method).
///
/// ```
/// use squeeze_compress::three_point::MechanismError;
/// use squeeze_methods::MethodError;
/// let e = MethodError::from(MechanismError::Diverged { what: "g", round: 2 });
/// assert!(matches!(e, MethodError::Diverged { what: "g", round: 2 }));
/// ```
impl From<MechanismError> for MethodError {
    fn from(e: MechanismError) -> Self {
        match e {
            MechanismError::Param(e) => Self::Param(e),
            MechanismError::Compress {
                worker,
                round,
                source,
            } => Self::Compress {
                worker,
                round,
                source,
            },
            MechanismError::Message {
                worker,
                round,
                source,
            } => Self::Message {
                worker,
                round,
                source,
            },
            MechanismError::Diverged { what, round } => Self::Diverged { what, round },
            MechanismError::Incompatible(s) => Self::Incompatible(s),
        }
    }
}

/// What a method's steps return: `Ok(value)` or the [`MethodError`] that stopped the run (the
/// error type can be named, like `Result<(), ParamError>`; `Result` alone is `Result<(),
/// MethodError>`, the type of a round's steps).
///
/// ```
/// use squeeze_methods::method::{MethodError, Result};
/// let ok: Result = Ok(());
/// let err: Result<u32> = Err(MethodError::Protocol { method: "demo", expected: "a broadcast" });
/// assert!(ok.is_ok() && err.is_err());
/// ```
pub type Result<T = (), E = MethodError> = core::result::Result<T, E>;

/// The initial states of method `M` ([`ServerMethod::init`]'s output):
/// `Init<M::Server, M::Worker>`.
pub type InitOf<M, S> = Init<<M as ServerMethod<S>>::Server, <M as ServerMethod<S>>::Worker>;

/// The mechanism's view of a round: `ids = (worker, n_workers, round, round_seed)`.
pub(crate) fn round_of(ids: (usize, usize, u64, u64)) -> squeeze_feedback::Round {
    let (worker, n_workers, round, round_seed) = ids;
    squeeze_feedback::Round {
        worker,
        n_workers,
        round,
        round_seed,
    }
}

impl From<squeeze_feedback::FeedbackError> for MethodError {
    /// Through the mechanisms' shared error ([`MechanismError`]), variant for variant.
    fn from(e: squeeze_feedback::FeedbackError) -> Self {
        MechanismError::from(e).into()
    }
}

/// Working memory owned by the engine (not part of the state).
///
/// Engines may give one `WorkerBuffers` to several workers that run one after another (the
/// star engine shares one per chunk of workers), so a method must write a buffer before it
/// reads it and must not carry anything in it from one call to the next.
#[derive(Debug, Clone, Default)]
pub struct WorkerBuffers<S: Scalar> {
    /// Compressor scratch.
    pub scratch: Scratch,
    /// A length-d buffer for the local gradient.
    pub grad: Vec<S>,
    /// A second length-d work buffer.
    pub work: Vec<S>,
    /// A third length-d work buffer (3PC mechanisms that compare candidates).
    pub aux: Vec<S>,
    /// A spare message (3PC mechanisms that build a message from another one).
    pub spare: Message<S>,
}

impl<S: Scalar> WorkerBuffers<S> {
    /// Buffers for dimension `d`.
    pub fn new(d: usize) -> Self {
        Self {
            scratch: Scratch::default(),
            grad: vec![S::ZERO; d],
            work: vec![S::ZERO; d],
            aux: vec![S::ZERO; d],
            spare: Message::default(),
        }
    }
}

/// What a worker sees in a round: who and when it is, the server's message `down`, its local
/// objective and working memory, and the uplink message `up` it writes.
pub struct WorkerCtx<'a, S: Scalar> {
    /// Worker index.
    pub worker: usize,
    /// Number of workers.
    pub n_workers: usize,
    /// Round index (0-based).
    pub round: u64,
    /// Seed shared by all workers this round (`squeeze_core::round_seed(seed, round)`).
    pub round_seed: u64,
    /// Communication phase within the round (0 for one-phase methods; see
    /// [`ServerMethod::phases`]).
    pub phase: usize,
    /// The worker's local objective.
    pub oracle: &'a dyn Oracle<S>,
    /// Working memory.
    pub buffers: &'a mut WorkerBuffers<S>,
    /// Gradient work done this round, in samples (the method adds to it).
    pub grad_samples: u64,
    /// The server's message of this round (phase).
    pub down: &'a Message<S>,
    /// The uplink message the worker writes (cleared or overwritten by the method; the engine
    /// reuses it across rounds, so its buffers are warm).
    pub up: &'a mut Message<S>,
}

/// Uplink traffic of the initialisation, counted like a round's uplink: exact bits per worker,
/// and the entries and paper-convention bits summed over workers.
///
/// ```
/// use squeeze_core::Message;
/// use squeeze_methods::method::InitUplink;
/// let mut up = InitUplink::new(2);
/// up.charge(1, &Message::<f64>::Dense { values: vec![1.0; 3] });
/// assert_eq!(up.bits, vec![0, 4 + 3 * 64]);
/// assert_eq!((up.entries, up.bits_values32, up.bits_values64), (3, 96, 192));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InitUplink {
    /// Exact bits each worker sent.
    pub bits: Vec<u64>,
    /// Coordinates sent, summed over workers.
    pub entries: u64,
    /// Bits under [`BitConvention::Values32`], summed over workers.
    pub bits_values32: u64,
    /// Bits under [`BitConvention::Values64`], summed over workers.
    pub bits_values64: u64,
}

impl InitUplink {
    /// Nothing sent by `n` workers.
    pub fn new(n: usize) -> Self {
        Self {
            bits: vec![0; n],
            ..Self::default()
        }
    }

    /// Worker `i` sent `msg`.
    pub fn charge<S: Scalar>(&mut self, i: usize, msg: &Message<S>) {
        self.bits[i] += msg.bits();
        self.entries += msg.entries();
        self.bits_values32 += msg.bits_under(BitConvention::Values32);
        self.bits_values64 += msg.bits_under(BitConvention::Values64);
    }
}

/// Initial states and what initialisation cost.
#[derive(Debug, Clone)]
pub struct Init<Sv, W> {
    /// Server state.
    pub server: Sv,
    /// Worker states, in worker order.
    pub workers: Vec<W>,
    /// What each worker sent during initialisation (nothing unless the method counts its init
    /// round).
    pub init_up: InitUplink,
    /// Gradient work during initialisation, in samples.
    pub grad_samples: u64,
    /// The stepsize the method resolved on the problem and the constants behind it (`None`
    /// for a method without a stepsize rule; [`Init::with_stepsize`]).
    pub stepsize: Option<StepsizeReport>,
}

/// The server side of a star round that needs nothing but the server's state: what it
/// broadcasts, how it absorbs the uplink, and the model. A [`ServerMethod`] runs its state's
/// rule unless it overrides `broadcast`/`absorb`; the shared states are in
/// [`crate::star::server`] ($x \leftarrow x - \gamma g$ on an averaged estimate; a model
/// moved by the averaged uplink).
pub trait ServerState<S: Scalar> {
    /// Write the downlink message for `round`.
    ///
    /// The default refuses: a state whose broadcast needs its method's parts (a downlink
    /// compressor) keeps it, and its method overrides [`ServerMethod::broadcast`].
    fn broadcast(&mut self, round: u64, down: &mut Message<S>) -> Result {
        let _ = (round, down);
        Err(MethodError::Protocol {
            method: "server",
            expected: "a broadcast by the method (this state has no rule of its own)",
        })
    }

    /// Apply the workers' messages `ups` (in worker order).
    fn absorb(&mut self, round: u64, ups: &[Message<S>]) -> Result;

    /// The current model.
    fn model(&self) -> &[S];
}

impl<Sv, W> Init<Sv, W> {
    /// Initial states of a method whose initialisation sends nothing (`grad_samples`: its
    /// gradient work).
    ///
    /// ```
    /// let init = squeeze_methods::Init::silent((), vec![(); 3], 5);
    /// assert_eq!((init.init_up.bits, init.grad_samples), (vec![0; 3], 5));
    /// ```
    pub fn silent(server: Sv, workers: Vec<W>, grad_samples: u64) -> Self {
        let init_up = InitUplink::new(workers.len());
        Self::charged(server, workers, init_up, grad_samples)
    }

    /// Initial states of a method whose initialisation sent `init_up` and did `grad_samples`
    /// of gradient work.
    ///
    /// ```
    /// use squeeze_methods::{Init, InitUplink};
    /// let init = Init::charged((), vec![(); 2], InitUplink::new(2), 7);
    /// assert_eq!((init.init_up.bits, init.grad_samples), (vec![0; 2], 7));
    /// ```
    pub fn charged(server: Sv, workers: Vec<W>, init_up: InitUplink, grad_samples: u64) -> Self {
        Self {
            server,
            workers,
            init_up,
            grad_samples,
            stepsize: None,
        }
    }

    /// The same states, reporting `step` as the stepsize used.
    ///
    /// ```
    /// use squeeze_methods::{Init, StepsizeReport, Stepsize};
    /// let step = StepsizeReport::constant(Stepsize::Constant { gamma: 0.5 }, 0.5);
    /// let init = Init::silent((), vec![(); 2], 0).with_stepsize(step);
    /// assert_eq!(init.stepsize.unwrap().gamma, 0.5);
    /// ```
    pub fn with_stepsize(mut self, step: StepsizeReport) -> Self {
        self.stepsize = Some(step);
        self
    }

    /// The same initialisation with the states wrapped: the server's by `server`, each
    /// worker's by `worker` (in worker order); init uplink, work and stepsize carried over.
    ///
    /// ```
    /// let init = squeeze_methods::Init::silent(1, vec![2, 3], 5).map(|s| s * 10, |w| (w, 0));
    /// assert_eq!((init.server, init.workers, init.grad_samples), (10, vec![(2, 0), (3, 0)], 5));
    /// ```
    pub fn map<A, B>(self, server: impl FnOnce(Sv) -> A, worker: impl FnMut(W) -> B) -> Init<A, B> {
        Init {
            server: server(self.server),
            workers: self.workers.into_iter().map(worker).collect(),
            init_up: self.init_up,
            grad_samples: self.grad_samples,
            stepsize: self.stepsize,
        }
    }
}

/// What a method's state types are: cloneable and serde (a checkpoint is their serialization)
/// and shared across the engine's worker threads. Every such type is one (blanket impl).
pub trait MethodState:
    Clone + core::fmt::Debug + Send + Sync + Serialize + DeserializeOwned
{
}

impl<T: Clone + core::fmt::Debug + Send + Sync + Serialize + DeserializeOwned> MethodState for T {}

/// A server–worker method (see the [module docs](self)).
pub trait ServerMethod<S: Scalar>: Send + Sync + core::fmt::Debug {
    /// Per-worker state.
    type Worker: MethodState;
    /// Server state; its [`ServerState`] impl is the default server side of a round.
    type Server: MethodState + ServerState<S>;

    /// Canonical description, e.g. `ef21(top_k:k=1, γ=0.12)`.
    fn describe(&self) -> String;

    /// Initial states at `x0`. `seed` is the experiment seed (worker streams derive from it).
    fn init(&self, problem: &Problem<S>, x0: &[S], seed: u64) -> Result<InitOf<Self, S>>;

    /// The server's message to all workers for `round` (default: the state's
    /// [`ServerState::broadcast`]).
    fn broadcast(&self, server: &mut Self::Server, round: u64, down: &mut Message<S>) -> Result {
        server.broadcast(round, down)
    }

    /// One worker's round: read [`WorkerCtx::down`], update the state, write the uplink
    /// message [`WorkerCtx::up`].
    fn worker_round(&self, worker: &mut Self::Worker, ctx: &mut WorkerCtx<'_, S>) -> Result;

    /// Apply the workers' messages, in worker order (default: the state's
    /// [`ServerState::absorb`]).
    fn absorb(&self, server: &mut Self::Server, round: u64, ups: &[Message<S>]) -> Result {
        server.absorb(round, ups)
    }

    /// The current model (the point whose loss and gradient norm are recorded; default: the
    /// state's [`ServerState::model`]).
    fn iterate<'a>(&self, server: &'a Self::Server) -> &'a [S] {
        server.model()
    }

    /// Communication phases per round (default 1). A round of a method with $k$ phases runs
    /// $k$ times `broadcast_phase` → `worker_round` (with [`WorkerCtx::phase`]) →
    /// `absorb_phase`, for phase $0, \dots, k - 1$; every phase's messages are counted, the
    /// round counter advances once.
    fn phases(&self) -> usize {
        1
    }

    /// The dimensions `(downlink, uplink)` of phase `phase`'s messages when the model has
    /// dimension `d` (transports that decode messages need them; default `(d, d)`).
    fn phase_dims(&self, d: usize, phase: usize) -> (usize, usize) {
        let _ = phase;
        (d, d)
    }

    /// The server's message of phase `phase` of `round` (default: [`Self::broadcast`]; only
    /// methods with several [`Self::phases`] look at `phase`).
    fn broadcast_phase(
        &self,
        server: &mut Self::Server,
        round: u64,
        phase: usize,
        down: &mut Message<S>,
    ) -> Result {
        let _ = phase;
        self.broadcast(server, round, down)
    }

    /// Apply the workers' messages of phase `phase`, in worker order (default:
    /// [`Self::absorb`]).
    fn absorb_phase(
        &self,
        server: &mut Self::Server,
        round: u64,
        phase: usize,
        ups: &[Message<S>],
    ) -> Result {
        let _ = phase;
        self.absorb(server, round, ups)
    }

    /// `Some(m)` if the uplink carries a choice among `m` levels (AdaCGD's ladder): each
    /// uplink message is then `Skip` (level 0), [`Message::Indexed`] with index $j$ (level
    /// $j + 1$) or, for $m = 1$, the bare message (level 1). The engine keeps the histogram of
    /// levels sent. `None` (the default): no levels.
    fn uplink_levels(&self) -> Option<usize> {
        None
    }

    /// As [`Self::uplink_levels`], for the downlink message.
    fn downlink_levels(&self) -> Option<usize> {
        None
    }
}

/// The level of `m` in a histogram of `levels + 1` buckets (see
/// [`ServerMethod::uplink_levels`]): 0 for `Skip`, $j + 1$ for an index $j$, 1 for any other
/// message; clamped to `levels`.
///
/// ```
/// use squeeze_core::Message;
/// use squeeze_methods::method::level_of;
/// assert_eq!(level_of(&Message::<f32>::Skip { dim: 3 }, 2), 0);
/// assert_eq!(level_of(&Message::<f32>::Dense { values: vec![1.0] }, 1), 1);
/// let mut m = Message::<f32>::default();
/// m.indexed_parts(1, 1).dense_parts().push(1.0);
/// assert_eq!(level_of(&m, 2), 2);
/// ```
pub fn level_of<S: Scalar>(m: &Message<S>, levels: usize) -> usize {
    let l = if m.is_skip() {
        0
    } else {
        m.index().map_or(1, |j| j as usize + 1)
    };
    l.min(levels)
}

/// Read the dense model out of a downlink message.
pub(crate) fn dense_down<'a, S: Scalar>(
    down: &'a Message<S>,
    method: &'static str,
) -> Result<&'a [S]> {
    match down {
        Message::Dense { values } => Ok(values),
        _ => Err(MethodError::Protocol {
            method,
            expected: "the dense model",
        }),
    }
}

/// The problem's dimension d, after checking `x0` against it.
pub(crate) fn checked_dim<S: Scalar>(problem: &Problem<S>, x0: &[S]) -> Result<usize> {
    problem.check_dim(x0.len())?;
    Ok(problem.dim())
}

/// The dimension d, after checking `x0` against `problem` and `compressor` against d (its
/// refusal is [`MethodError::Incompatible`], prefixed with `method`).
pub(crate) fn compressed_dim<S: Scalar>(
    problem: &Problem<S>,
    x0: &[S],
    compressor: &dyn Compressor<S>,
    method: &str,
) -> Result<usize> {
    let d = checked_dim(problem, x0)?;
    compressor
        .check_dim(d)
        .map_err(|e| MethodError::Incompatible(format!("{method}: {e}")))?;
    Ok(d)
}

/// Local gradient at `x` into `ctx.buffers.grad`, counting the samples; errors on NaN/∞.
pub(crate) fn local_grad<S: Scalar>(ctx: &mut WorkerCtx<'_, S>, x: &[S]) -> Result {
    ctx.oracle.grad(x, &mut ctx.buffers.grad);
    ctx.grad_samples += ctx.oracle.n_samples() as u64;
    ensure_finite(&ctx.buffers.grad, "a local gradient", ctx.round)
}

/// Map an error of worker `worker`'s compressor in `round`: [`three_point::compress_err`] (a
/// non-finite input is [`MethodError::Diverged`] naming `what`) as a method error.
pub(crate) fn compress_err(
    worker: usize,
    round: u64,
    what: &'static str,
) -> impl FnOnce(CompressError) -> MethodError {
    move |source| three_point::compress_err(worker, round, what)(source).into()
}

/// Map a message error to a method error ([`three_point::message_err`]).
pub(crate) fn message_err(worker: usize, round: u64) -> impl FnOnce(MessageError) -> MethodError {
    move |source| three_point::message_err(worker, round)(source).into()
}

/// `x ← x − γ g`, then broadcast the dense model; errors if x became non-finite.
pub(crate) fn step_and_broadcast<S: Scalar>(
    x: &mut [S],
    g: &[S],
    gamma: f64,
    round: u64,
    down: &mut Message<S>,
) -> Result {
    let gamma = S::from_f64(gamma);
    // x −= γg with the finiteness probe fused in (Σ(v − v) is 0 exactly when every v is
    // finite; eight lanes so that it vectorises), then one copy into the message.
    let mut probe = [S::ZERO; 8];
    for (x8, g8) in x.chunks_mut(8).zip(g.chunks(8)) {
        for ((xj, &gj), p) in x8.iter_mut().zip(g8).zip(&mut probe) {
            let v = *xj - gamma * gj;
            *xj = v;
            #[allow(clippy::eq_op)]
            {
                *p += v - v;
            }
        }
    }
    if probe.iter().any(|&p| p != S::ZERO) {
        return Err(MethodError::Diverged {
            what: "the model x",
            round,
        });
    }
    down.dense_parts().extend_from_slice(x);
    Ok(())
}

/// `x ← x − γ g` without a broadcast (bidirectional methods run it on the server and on every
/// worker, so their copies of x stay bit-identical); errors if x became non-finite.
pub(crate) fn step<S: Scalar>(x: &mut [S], g: &[S], gamma: f64, round: u64) -> Result {
    let gamma = S::from_f64(gamma);
    for (xj, &gj) in x.iter_mut().zip(g) {
        *xj -= gamma * gj;
    }
    ensure_finite(x, "the model x", round)
}

/// A worker's side of a compressed downlink: $g \leftarrow g + b$ (the message `down`), then
/// $x \leftarrow x - \gamma g$ with [`step`] (the server's own step, so the copies of x agree).
pub(crate) fn follow_downlink<S: Scalar>(
    down: &Message<S>,
    g: &mut [S],
    x: &mut [S],
    gamma: f64,
    (worker, round): (usize, u64),
) -> Result {
    down.add_to(g, S::ONE).map_err(message_err(worker, round))?;
    step(x, g, gamma, round)
}

/// A probability parameter `param` of `method` in (0, 1].
pub(crate) fn check_prob(
    method: &'static str,
    param: &'static str,
    p: f64,
) -> Result<(), ParamError> {
    if p.is_finite() && p > 0.0 && p <= 1.0 {
        Ok(())
    } else {
        Err(ParamError::new(
            method,
            param,
            p,
            "must be in (0, 1] (1 = every round / everybody)",
        ))
    }
}

/// `Ok(())` if every entry of `v` is finite, else [`MethodError::Diverged`] naming `what`
/// at `round`.
pub(crate) fn ensure_finite<S: Scalar>(v: &[S], what: &'static str, round: u64) -> Result {
    if ops::first_non_finite(v).is_some() {
        return Err(MethodError::Diverged { what, round });
    }
    Ok(())
}

/// Broadcast the dense model `x`; errors if it is non-finite.
pub(crate) fn broadcast_model<S: Scalar>(x: &[S], round: u64, down: &mut Message<S>) -> Result {
    ensure_finite(x, "the model x", round)?;
    down.dense_parts().extend_from_slice(x);
    Ok(())
}

/// `acc ← acc + scale · Σ_i up_i`, in worker order (deterministic; the mechanisms' own
/// [`squeeze_feedback::add_scaled`]).
pub(crate) fn add_all<S: Scalar>(
    acc: &mut [S],
    scale: S,
    round: u64,
    ups: &[Message<S>],
) -> Result {
    Ok(squeeze_feedback::add_scaled(acc, scale, round, ups)?)
}

/// `acc ← acc + (1/n) · Σ_i up_i` with `n = ups.len()` ([`squeeze_feedback::add_mean`]).
pub(crate) fn add_mean<S: Scalar>(acc: &mut [S], round: u64, ups: &[Message<S>]) -> Result {
    Ok(squeeze_feedback::add_mean(acc, round, ups)?)
}

/// The workers' full local gradients at `x0` and their mean (the usual EF21-family
/// initialisation $g_i^0 = \nabla f_i(x^0)$, sent uncompressed and charged only with
/// `count_init`).
pub(crate) struct FullInit<S: Scalar> {
    /// $g^0 = \tfrac1n\sum_i g_i^0$ (accumulated in worker order).
    pub g: Vec<S>,
    /// $g_i^0$, in worker order.
    pub gs: Vec<Vec<S>>,
    /// The init uplink (dense $g_i^0$ per worker if `count_init`, else nothing).
    pub init_up: InitUplink,
    /// Gradient work, in samples.
    pub grad_samples: u64,
}

impl<S: Scalar> FullInit<S> {
    /// The initial states: worker `i`'s from $(g_i^0$, its compression stream of `seed`,
    /// $g^0)$, in worker order, then the server's from $(g^0$, the workers$)$; the init uplink
    /// and gradient work carried over.
    pub(crate) fn start<Sv, W>(
        self,
        seed: u64,
        mut worker: impl FnMut(Vec<S>, SqueezeRng, &[S]) -> W,
        server: impl FnOnce(Vec<S>, &[W]) -> Sv,
    ) -> Init<Sv, W> {
        let g = self.g;
        let workers: Vec<W> = (self.gs.into_iter().enumerate())
            .map(|(i, gi)| worker(gi, stream(seed, Purpose::Compression, i), &g))
            .collect();
        let server = server(g, &workers);
        Init::charged(server, workers, self.init_up, self.grad_samples)
    }
}

/// Worker `i`'s stream for `purpose` of the experiment seed `seed`.
pub(crate) fn stream(seed: u64, purpose: Purpose, i: usize) -> SqueezeRng {
    SqueezeRng::stream(seed, purpose, i as u64)
}

/// Computes [`FullInit`]: every worker's $\nabla f_i(x^0)$ (an error if one is non-finite),
/// its dense message charged if `count_init`, and $g^0 = \sum_i \tfrac1n g_i^0$ in worker
/// order.
pub(crate) fn full_grad_init<S: Scalar>(
    problem: &Problem<S>,
    x0: &[S],
    count_init: bool,
) -> Result<FullInit<S>> {
    let d = checked_dim(problem, x0)?;
    let n = problem.n_workers();
    let inv_n = S::from_f64(1.0 / n as f64);
    let mut g = vec![S::ZERO; d];
    let mut gs = Vec::with_capacity(n);
    let mut init_up = InitUplink::new(n);
    let mut grad_samples = 0;
    for (i, o) in problem.oracles().iter().enumerate() {
        let mut gi = vec![S::ZERO; d];
        o.grad(x0, &mut gi);
        grad_samples += o.n_samples() as u64;
        ensure_finite(&gi, "the initial gradient", 0)?;
        if count_init {
            init_up.charge(i, &Message::Dense { values: gi.clone() });
        }
        ops::axpy(inv_n, &gi, &mut g).map_err(|e| MethodError::Incompatible(e.to_string()))?;
        gs.push(gi);
    }
    Ok(FullInit {
        g,
        gs,
        init_up,
        grad_samples,
    })
}

/// `ctx.buffers.grad ← ∇f_i(x) − estimate` (one pass where the oracle supports it), counting
/// the samples; a non-finite result (gradient, estimate or overflow) is `Diverged`, reported as
/// "the local gradient or the correction ∇f_i − {name}".
pub(crate) fn grad_minus_estimate<S: Scalar>(
    ctx: &mut WorkerCtx<'_, S>,
    x: &[S],
    estimate: &[S],
    what: &'static str,
) -> Result {
    ctx.grad_samples += ctx.oracle.n_samples() as u64;
    if ctx.oracle.grad_minus(x, estimate, &mut ctx.buffers.grad) {
        Ok(())
    } else {
        Err(MethodError::Diverged {
            what,
            round: ctx.round,
        })
    }
}

/// The EF14 push of the local gradient $g$ in `ctx.buffers.grad`
/// ([`squeeze_feedback::ef14::step_parts`]): $p = e + s\thinspace g$, `ctx.up` $= \mathcal{C}(p)$,
/// $e \leftarrow p - \mathcal{C}(p)$, with the worker's stream `rng` (EF14, 1-bit Adam).
pub(crate) fn ef14_up<S: Scalar>(
    compressor: &dyn Compressor<S>,
    (e, rng): (&mut [S], &mut SqueezeRng),
    scale: f64,
    ctx: &mut WorkerCtx<'_, S>,
) -> Result {
    let r = round_of(ctx.ids());
    let b = &mut *ctx.buffers;
    let (scratch, work) = (&mut b.scratch, &mut b.work);
    Ok(squeeze_feedback::ef14::step_parts(
        compressor, e, rng, scale, &b.grad, &r, scratch, work, ctx.up,
    )?)
}

impl<S: Scalar> WorkerCtx<'_, S> {
    /// `(worker, n_workers, round, round_seed)`: the ids the compressors and mechanisms take.
    pub(crate) fn ids(&self) -> (usize, usize, u64, u64) {
        (self.worker, self.n_workers, self.round, self.round_seed)
    }

    /// `f(ctx, up)` with the uplink message lent out of the context, for a round that writes
    /// parts of `up` while it hands the context to helpers; `up` is back in [`Self::up`]
    /// whatever `f` returns (a `Skip` of dimension 0 stands in meanwhile: nothing is
    /// allocated, the message keeps its buffers).
    pub(crate) fn with_up<T>(&mut self, f: impl FnOnce(&mut Self, &mut Message<S>) -> T) -> T {
        let mut up = core::mem::take(&mut *self.up);
        let out = f(self, &mut up);
        *self.up = up;
        out
    }
}

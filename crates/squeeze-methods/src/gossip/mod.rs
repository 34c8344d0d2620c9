//! The decentralized (gossip) method interface.
//!
//! n nodes on an undirected graph with a symmetric, doubly stochastic mixing matrix W. A round
//! has one or more *phases*; in each phase
//!
//! ```text
//! every node i: send(node_i, phase)              -> out_i   (in parallel)
//! every node i: receive(node_i, phase, out_*)               (in parallel; node i reads its own
//!                                                             out_i and its neighbours' out_j,
//!                                                             in the fixed neighbour order)
//! ```
//!
//! so a broadcast to k neighbours is one message on k links. MoTEF and BEER use two phases
//! (the compressed iterate and tracking differences), CHOCO-SGD and D-SGD one.
//! [`Neighbourhood`] gives each node its self weight and its (neighbour, weight) list.

pub mod beer;
pub mod choco;
pub mod motef;
pub mod tracking;

use serde::{Deserialize, Serialize};
use squeeze_core::{Compressor, Message, ParamError, Purpose, Scalar, SqueezeRng};
use squeeze_problems::{MinibatchSampler, Oracle, Problem};

use crate::method::{MethodError, MethodState, Result, WorkerBuffers, ensure_finite, round_of};
use crate::spec::{self as s, MethodConfigError};

/// The two stepsizes of the compressed gossip methods (CHOCO-SGD, BEER, MoTEF): the consensus
/// stepsize $\gamma \in (0, 1]$ and the stepsize $\eta > 0$.
///
/// ```
/// use squeeze_methods::gossip::ConsensusSteps;
/// assert!(ConsensusSteps::new("choco", 0.5, 0.1).is_ok());
/// let e = ConsensusSteps::new("choco", 1.5, 0.1).unwrap_err();
/// assert!(e.to_string().contains("gamma"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ConsensusSteps {
    /// Consensus stepsize γ ∈ (0, 1].
    pub gamma: f64,
    /// Stepsize η > 0.
    pub eta: f64,
}

impl ConsensusSteps {
    /// Both stepsizes, checked for `method` (the error names the key and its domain).
    pub fn new(method: &'static str, gamma: f64, eta: f64) -> Result<Self, ParamError> {
        if !(gamma > 0.0 && gamma <= 1.0) {
            return Err(ParamError::new(
                method,
                "gamma",
                gamma,
                "the consensus stepsize γ must be in (0, 1]",
            ));
        }
        if !(eta.is_finite() && eta > 0.0) {
            return Err(ParamError::new(
                method,
                "eta",
                eta,
                "the stepsize η must be finite and > 0",
            ));
        }
        Ok(Self { gamma, eta })
    }

    /// The `gamma` and `eta` keys of a method's config section, both required (range checks
    /// follow in [`ConsensusSteps::new`] when the method is built).
    pub(crate) fn required(
        method: &str,
        gamma: Option<f64>,
        eta: Option<f64>,
    ) -> Result<(f64, f64), MethodConfigError> {
        let gamma = s::required(
            method,
            "gamma",
            gamma,
            "the consensus stepsize in (0, 1], e.g. gamma = 0.5",
        )?;
        let eta = s::required(method, "eta", eta, "the stepsize, e.g. eta = 0.01")?;
        Ok((gamma, eta))
    }
}

/// What CHOCO-SGD, BEER and MoTEF are built from: the compressor of the public copies, the
/// [`ConsensusSteps`] and the local gradient source.
#[derive(Debug)]
pub(crate) struct CompressedGossip<S: Scalar> {
    pub(crate) compressor: Box<dyn Compressor<S>>,
    pub(crate) steps: ConsensusSteps,
    pub(crate) grad: GradSource,
}

impl<S: Scalar> CompressedGossip<S> {
    /// The parts, with the stepsizes checked for `method`.
    pub(crate) fn new(
        method: &'static str,
        compressor: Box<dyn Compressor<S>>,
        gamma: f64,
        eta: f64,
        grad: GradSource,
    ) -> Result<Self> {
        Ok(Self {
            compressor,
            steps: ConsensusSteps::new(method, gamma, eta)?,
            grad,
        })
    }

    /// `method(compressor, γ=…, η=…{extra}, grad)`.
    pub(crate) fn describe(&self, method: &str, extra: &str) -> String {
        format!(
            "{method}({}, γ={}, η={}{extra}, {:?})",
            self.compressor.spec(),
            self.steps.gamma,
            self.steps.eta,
            self.grad
        )
    }

    /// The compressed-vector dimension, checked against the problem and `x0`.
    pub(crate) fn dim(
        &self,
        problem: &Problem<S>,
        x0: &[S],
        method: &'static str,
    ) -> Result<usize> {
        crate::method::compressed_dim(problem, x0, self.compressor.as_ref(), method)
    }
}

/// Node i's row of the mixing matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Neighbourhood {
    /// w_ii.
    pub self_weight: f64,
    /// (j, w_ij) for every neighbour j ≠ i, in delivery order.
    pub neighbours: Vec<(usize, f64)>,
}

/// What a node sees during a phase.
pub struct NodeCtx<'a, S: Scalar> {
    /// Node index.
    pub node: usize,
    /// Number of nodes.
    pub n_nodes: usize,
    /// Round (0-based).
    pub round: u64,
    /// Seed shared by all nodes this round.
    pub round_seed: u64,
    /// Communication phase within the round (0 for one-phase methods; see
    /// [`GossipMethod::phases`]).
    pub phase: usize,
    /// The node's local objective.
    pub oracle: &'a dyn Oracle<S>,
    /// The node's row of W.
    pub mixing: &'a Neighbourhood,
    /// Working memory.
    pub buffers: &'a mut WorkerBuffers<S>,
    /// Gradient work this round in samples (methods add to it).
    pub grad_samples: u64,
}

impl<S: Scalar> NodeCtx<'_, S> {
    /// The node's (stochastic) local gradient at `x` into `buffers.grad`, its samples added to
    /// `grad_samples`.
    pub(crate) fn local_grad(&mut self, grad: &mut GradState, x: &[S]) -> Result {
        self.grad_samples += grad.grad(self.oracle, x, &mut self.buffers.grad, self.round)?;
        Ok(())
    }
}

/// Initial node states and what initialisation cost.
#[derive(Debug, Clone)]
pub struct GossipInit<N> {
    /// Node states, in node order.
    pub nodes: Vec<N>,
    /// Gradient work during initialisation, in samples.
    pub grad_samples: u64,
}

/// A decentralized method (see the [module docs](self)).
pub trait GossipMethod<S: Scalar>: Send + Sync + core::fmt::Debug {
    /// Per-node state (serde: checkpoints are its serialisation).
    type Node: MethodState;

    /// Description with hyperparameters.
    fn describe(&self) -> String;

    /// Phases (messages per node) per round (default 1).
    fn phases(&self) -> usize {
        1
    }

    /// Initial states; every node starts at `x0`.
    fn init(&self, problem: &Problem<S>, x0: &[S], seed: u64) -> Result<GossipInit<Self::Node>>;

    /// Local computation of phase [`NodeCtx::phase`], writing the node's outgoing message.
    fn send(&self, node: &mut Self::Node, ctx: &mut NodeCtx<'_, S>, out: &mut Message<S>)
    -> Result;

    /// Apply the messages of phase [`NodeCtx::phase`]: `msgs[j]` is node j's message (read
    /// the node's own and its neighbours' only).
    fn receive(
        &self,
        node: &mut Self::Node,
        ctx: &mut NodeCtx<'_, S>,
        msgs: &[Message<S>],
    ) -> Result;

    /// The node's model.
    fn iterate<'a>(&self, node: &'a Self::Node) -> &'a [S];
}

/// `acc ← acc + w_ii·m_i + Σ_j w_ij·m_j` over the node's row of W (the gossip average of the
/// received messages), in neighbour order.
pub(crate) fn mix_into<S: Scalar>(
    acc: &mut [S],
    ctx: &NodeCtx<'_, S>,
    msgs: &[Message<S>],
) -> Result {
    let m = ctx.mixing;
    Ok(squeeze_feedback::gossip::mix_into(
        acc,
        ctx.node,
        m.self_weight,
        &m.neighbours,
        ctx.round,
        msgs,
    )?)
}

/// `out = C(a − b)`, `b ← b + out`: the compressed public copy `b` of `a` follows it
/// ([`squeeze_feedback::gossip::track`] with the node's stream and buffers).
pub(crate) fn compress_delta<S: Scalar>(
    compressor: &dyn Compressor<S>,
    a: &[S],
    b: &mut [S],
    rng: &mut SqueezeRng,
    ctx: &mut NodeCtx<'_, S>,
    out: &mut Message<S>,
) -> Result {
    let buf = &mut *ctx.buffers;
    let r = round_of((ctx.node, ctx.n_nodes, ctx.round, ctx.round_seed));
    Ok(squeeze_feedback::gossip::track(
        compressor,
        a,
        b,
        rng,
        &r,
        &mut buf.scratch,
        &mut buf.work,
        out,
    )?)
}

/// The nodes' initial states `make(i, grad)`, with `grad` node i's fresh [`GradState`] for
/// `source` under `seed`, in node order; no gradient work.
pub(crate) fn init_nodes<S: Scalar, N>(
    problem: &Problem<S>,
    seed: u64,
    source: GradSource,
    make: impl FnMut(usize, GradState) -> N,
) -> Result<GossipInit<N>> {
    Ok(GossipInit {
        nodes: GradState::each(problem, seed, source, make)?,
        grad_samples: 0,
    })
}

/// The nodes' initial states `make(i, grad, g0)`, as [`init_nodes`], with `g0` node i's
/// **full** local gradient $\nabla f_i(x^0)$ whatever the gradient source (the trackers of
/// BEER and MoTEF start from it, as in the authors' codes: BEER's `V = grad(x)` and MoTEF's
/// synthetic `V = M = ∇F(X⁰)` with the noise switched off); the samples used are summed and
/// `grad`'s stream is untouched (its first draw is round 0's).
pub(crate) fn init_nodes_at<S: Scalar, N>(
    problem: &Problem<S>,
    x0: &[S],
    seed: u64,
    source: GradSource,
    mut make: impl FnMut(usize, GradState, Vec<S>) -> N,
) -> Result<GossipInit<N>> {
    let mut nodes = Vec::with_capacity(problem.n_workers());
    let mut samples = 0;
    for (i, o) in problem.oracles().iter().enumerate() {
        let grad = GradState::new(source, o.as_ref(), seed, i)?;
        let mut g0 = vec![S::ZERO; x0.len()];
        o.grad(x0, &mut g0);
        ensure_finite(&g0, "a local gradient", 0)?;
        samples += o.n_samples() as u64;
        nodes.push(make(i, grad, g0));
    }
    Ok(GossipInit {
        nodes,
        grad_samples: samples,
    })
}

/// Which local gradient a node uses.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum GradSource {
    /// The full local gradient.
    #[default]
    Full,
    /// A minibatch of `batch` local samples drawn without replacement each time.
    Minibatch {
        /// Batch size (≤ the node's sample count).
        batch: usize,
    },
    /// The full local gradient plus N(0, σ²/d·I) noise (MoTEF's synthetic experiments).
    Noisy {
        /// σ ≥ 0.
        sigma: f64,
    },
}

/// Per-node stochastic-gradient state: sampler permutation and stream (serialised).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GradState {
    source: GradSource,
    sampler: Option<MinibatchSampler>,
    rng: SqueezeRng,
}

impl GradState {
    /// State for `node` under experiment `seed`.
    pub fn new(
        source: GradSource,
        oracle: &dyn Oracle<impl Scalar>,
        seed: u64,
        node: usize,
    ) -> Result<Self> {
        let sampler = match source {
            GradSource::Minibatch { batch } => {
                Some(MinibatchSampler::new(oracle.n_samples(), batch)?)
            }
            GradSource::Noisy { sigma } if !(sigma.is_finite() && sigma >= 0.0) => {
                return Err(MethodError::Param(squeeze_core::ParamError::new(
                    "gradient",
                    "sigma",
                    sigma,
                    "the noise level must be finite and ≥ 0",
                )));
            }
            _ => None,
        };
        let purpose = match source {
            GradSource::Noisy { .. } => Purpose::Noise,
            _ => Purpose::Sampling,
        };
        Ok(Self {
            source,
            sampler,
            rng: SqueezeRng::stream(seed, purpose, node as u64),
        })
    }

    /// `make(i, state)` for every worker (node) i of `problem`, in order, with `state` its
    /// fresh [`GradState`] for `source` under `seed` (the star methods' workers and the gossip
    /// nodes that draw their own gradients).
    pub(crate) fn each<S: Scalar, W>(
        problem: &Problem<S>,
        seed: u64,
        source: GradSource,
        mut make: impl FnMut(usize, GradState) -> W,
    ) -> Result<Vec<W>> {
        (problem.oracles().iter().enumerate())
            .map(|(i, o)| Ok(make(i, GradState::new(source, o.as_ref(), seed, i)?)))
            .collect()
    }

    /// The (stochastic) local gradient at `x` into `out`; returns the samples used.
    pub fn grad<S: Scalar>(
        &mut self,
        oracle: &dyn Oracle<S>,
        x: &[S],
        out: &mut [S],
        round: u64,
    ) -> Result<u64> {
        let used = match (&self.source, &mut self.sampler) {
            (GradSource::Minibatch { .. }, Some(sampler)) => {
                let batch = sampler.sample(&mut self.rng);
                oracle.minibatch_grad(x, batch, out);
                batch.len() as u64
            }
            (GradSource::Noisy { sigma }, _) => {
                oracle.grad(x, out);
                squeeze_problems::oracle::add_gaussian_noise(out, *sigma, &mut self.rng);
                oracle.n_samples() as u64
            }
            _ => {
                oracle.grad(x, out);
                oracle.n_samples() as u64
            }
        };
        ensure_finite(out, "a local gradient", round)?;
        Ok(used)
    }
}

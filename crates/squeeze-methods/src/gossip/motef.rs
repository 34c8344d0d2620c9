//! MoTEF: momentum tracking with error feedback (Islamov, Gao, Stich, ICLR 2025).

use serde::{Deserialize, Serialize};
use squeeze_core::{Compressor, Message, ParamError, Purpose, Scalar, SqueezeRng};
use squeeze_problems::Problem;

use crate::gossip::{
    CompressedGossip, ConsensusSteps, GossipInit, GossipMethod, GradSource, GradState, NodeCtx,
    init_nodes_at, mix_into,
};
use crate::method::{MethodError, round_of};

/// MoTEF hyperparameters: consensus stepsize γ, stepsize η, momentum λ.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MotefParams {
    /// Consensus stepsize γ ∈ (0, 1].
    pub gamma: f64,
    /// Stepsize η > 0.
    pub eta: f64,
    /// Momentum λ ∈ (0, 1] (λ = 1 is BEER).
    pub lambda: f64,
}

impl MotefParams {
    /// Validate the domains.
    pub fn validate(&self, method: &'static str) -> Result<(), ParamError> {
        ConsensusSteps::new(method, self.gamma, self.eta)?;
        if !(self.lambda > 0.0 && self.lambda <= 1.0) {
            return Err(ParamError::new(
                method,
                "lambda",
                self.lambda,
                "the momentum λ must be in (0, 1] (λ = 1 is BEER)",
            ));
        }
        Ok(())
    }
}

/// MoTEF. Per node $i$: model $x_i$, momentum $m_i$, tracker $v_i$, public copies $h_i$, $g_i$
/// (every neighbour holds them through the compressed deltas), and the mixed copies
/// $s_i = \sum_j w_{ij}h_j$, $t_i = \sum_j w_{ij}g_j$. A round (matrix form, $X = [x_1 \dots x_n]$):
///
/// $$X \leftarrow X + \gamma H(W - I) - \eta V,\quad Q_h = \mathcal{C}(X - H),\ H \leftarrow H + Q_h$$
/// $$M^\prime = (1-\lambda)M + \lambda\thinspace\nabla F(X;\xi),\quad
/// V \leftarrow V + \gamma G(W-I) + M^\prime - M,\quad M \leftarrow M^\prime,\quad Q_g =
/// \mathcal{C}(V - G),\ G \leftarrow G + Q_g$$
///
/// Two compressed messages per node per round, each sent to every neighbour. Initialisation
/// as the authors' synthetic code: $H = G = 0$, $V = M = \nabla F(X^0;\xi)$ (UNCONFIRMED which one
/// the paper states; their a9a notebook starts $M = 0$). λ = 1 gives BEER (tested bit for bit
/// against [`crate::Beer`]). Theory-consistent parameters are tiny (γ = αρ/200, …); experiments
/// grid-search (spec §5.2).
#[derive(Debug)]
pub struct Motef<S: Scalar> {
    parts: CompressedGossip<S>,
    lambda: f64,
}

/// MoTEF node state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct MotefNode<S: Scalar> {
    /// Model x_i.
    pub x: Vec<S>,
    /// Momentum m_i.
    pub m: Vec<S>,
    /// Tracker v_i.
    pub v: Vec<S>,
    /// Public copy h_i of x_i.
    pub h: Vec<S>,
    /// Public copy g_i of v_i.
    pub g: Vec<S>,
    /// s_i = Σ_j w_ij h_j.
    pub s: Vec<S>,
    /// t_i = Σ_j w_ij g_j.
    pub t: Vec<S>,
    /// Compression stream.
    pub rng: SqueezeRng,
    /// Stochastic-gradient state.
    pub grad: GradState,
}

impl<S: Scalar> Motef<S> {
    /// MoTEF with a compressor, parameters and gradient source.
    pub fn new(
        compressor: Box<dyn Compressor<S>>,
        params: MotefParams,
        grad: GradSource,
    ) -> Result<Self, MethodError> {
        params.validate("motef")?;
        Ok(Self {
            parts: CompressedGossip::new("motef", compressor, params.gamma, params.eta, grad)?,
            lambda: params.lambda,
        })
    }
}

/// Shared by MoTEF and BEER: the first phase (model step, compressed public-copy update).
/// (The node state is split across the two methods' structs, hence the long argument list.)
#[allow(clippy::too_many_arguments)]
pub(crate) fn model_phase<S: Scalar>(
    compressor: &dyn Compressor<S>,
    steps: ConsensusSteps,
    x: &mut [S],
    h: &mut [S],
    s: &[S],
    v: &[S],
    rng: &mut SqueezeRng,
    ctx: &mut NodeCtx<'_, S>,
    out: &mut Message<S>,
) -> Result<(), MethodError> {
    let (gamma, eta) = (S::from_f64(steps.gamma), S::from_f64(steps.eta));
    for (((xj, &hj), &sj), &vj) in x.iter_mut().zip(h.iter()).zip(s).zip(v) {
        *xj = *xj + gamma * (sj - hj) - eta * vj;
    }
    compress_delta(compressor, x, h, rng, ctx, out)
}

/// Shared by MoTEF and BEER: the gossip average of `phase`'s messages added to `s` (phase 0,
/// the compressed iterates) or to `t` (phase 1, the tracking differences), by [`mix_into`].
pub(crate) fn mix_phase<S: Scalar>(
    s: &mut [S],
    t: &mut [S],
    phase: usize,
    ctx: &NodeCtx<'_, S>,
    msgs: &[Message<S>],
) -> Result<(), MethodError> {
    mix_into(if phase == 0 { s } else { t }, ctx, msgs)
}

/// `out = C(a − b)`, `b ← b + out`.
pub(crate) fn compress_delta<S: Scalar>(
    compressor: &dyn Compressor<S>,
    a: &[S],
    b: &mut [S],
    rng: &mut SqueezeRng,
    ctx: &mut NodeCtx<'_, S>,
    out: &mut Message<S>,
) -> Result<(), MethodError> {
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

impl<S: Scalar> GossipMethod<S> for Motef<S> {
    type Node = MotefNode<S>;

    fn describe(&self) -> String {
        self.parts
            .describe("motef", &format!(", λ={}", self.lambda))
    }

    fn phases(&self) -> usize {
        2
    }

    fn init(
        &self,
        problem: &Problem<S>,
        x0: &[S],
        seed: u64,
    ) -> Result<GossipInit<Self::Node>, MethodError> {
        let d = self.parts.dim(problem, x0, "motef")?;
        init_nodes_at(problem, x0, seed, self.parts.grad, |i, grad, m| MotefNode {
            x: x0.to_vec(),
            v: m.clone(),
            m,
            h: vec![S::ZERO; d],
            g: vec![S::ZERO; d],
            s: vec![S::ZERO; d],
            t: vec![S::ZERO; d],
            rng: SqueezeRng::stream(seed, Purpose::Compression, i as u64),
            grad,
        })
    }

    fn send(
        &self,
        n: &mut Self::Node,
        phase: usize,
        ctx: &mut NodeCtx<'_, S>,
        out: &mut Message<S>,
    ) -> Result<(), MethodError> {
        let steps = self.parts.steps;
        if phase == 0 {
            return model_phase(
                self.parts.compressor.as_ref(),
                steps,
                &mut n.x,
                &mut n.h,
                &n.s,
                &n.v,
                &mut n.rng,
                ctx,
                out,
            );
        }
        ctx.local_grad(&mut n.grad, &n.x)?;
        let (lambda, gamma) = (S::from_f64(self.lambda), S::from_f64(steps.gamma));
        let keep = S::from_f64(1.0 - self.lambda);
        for ((((vj, mj), &gr), &tj), &gj) in
            n.v.iter_mut()
                .zip(n.m.iter_mut())
                .zip(&ctx.buffers.grad)
                .zip(&n.t)
                .zip(&n.g)
        {
            let m_new = keep * *mj + lambda * gr;
            *vj = *vj + gamma * (tj - gj) + m_new - *mj;
            *mj = m_new;
        }
        compress_delta(
            self.parts.compressor.as_ref(),
            &n.v,
            &mut n.g,
            &mut n.rng,
            ctx,
            out,
        )
    }

    fn receive(
        &self,
        n: &mut Self::Node,
        phase: usize,
        ctx: &mut NodeCtx<'_, S>,
        msgs: &[Message<S>],
    ) -> Result<(), MethodError> {
        mix_phase(&mut n.s, &mut n.t, phase, ctx, msgs)
    }

    fn iterate<'a>(&self, node: &'a Self::Node) -> &'a [S] {
        &node.x
    }
}

// ---- registry entry (name, params, build): see `crate::registry` ----

crate::spec::method_entry! {
    /// Registry entry of `motef`: MoTEF: momentum tracking + error feedback, 2 compressed messages/round (gamma, eta, lambda)
    MotefSpec(MotefConfig {
        compressor,
        /// Consensus stepsize γ ∈ (0, 1] (required).
        gamma: Option<f64>,
        /// Stepsize η > 0 (required).
        eta: Option<f64>,
        /// Momentum λ ∈ (0, 1] (λ = 1 is BEER; required).
        lambda: Option<f64>,
        gradient,
    }): Gossip "motef",
    summary = "MoTEF: momentum tracking + error feedback, 2 compressed messages/round (gamma, eta, lambda)",
    example = "compressor = \"top_k:k=1\"\ngamma = 0.5\neta = 0.05\nlambda = 0.5",
    hints = [],
    |p, ctx, sink| {
        let (gamma, eta) = ConsensusSteps::required(Self::NAME, p.gamma, p.eta)?;
        let lambda = s::required(
            Self::NAME,
            "lambda",
            p.lambda,
            "the momentum in (0, 1], e.g. lambda = 0.01",
        )?;
        let params = MotefParams { gamma, eta, lambda };
        let c = p.main_compressor::<S>(ctx.dim)?;
        let m = Motef::new(c, params, p.gradient.unwrap_or_default()).map_err(s::method_err)?;
        sink.gossip(m)
    }
}

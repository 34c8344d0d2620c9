//! BEER (Zhao, Li, Chi et al. 2022): gradient tracking with compressed communication.

use serde::{Deserialize, Serialize};
use squeeze_core::{Compressor, Message, Purpose, Scalar, SqueezeRng};
use squeeze_problems::Problem;

use crate::gossip::motef::{compress_delta, mix_phase, model_phase};
use crate::gossip::{
    CompressedGossip, ConsensusSteps, GossipInit, GossipMethod, GradSource, GradState, NodeCtx,
    init_nodes_at,
};
use crate::method::MethodError;

/// BEER: MoTEF without momentum, in the BEER authors' form.
///
/// $$X \leftarrow X + \gamma H(W-I) - \eta V,\quad H \leftarrow H + \mathcal{C}(X - H)$$
/// $$V \leftarrow V + \gamma G(W-I) + \nabla F(X^{new}) - \nabla F(X^{old}),\quad
/// G \leftarrow G + \mathcal{C}(V - G)$$
///
/// with $H = G = 0$ and $V = \nabla F(X^0)$ initially; two compressed messages per node per
/// round. Written independently of [`crate::Motef`] (it keeps the previous gradient instead
/// of a momentum) so that "MoTEF with λ = 1 = BEER" is a real, bit-for-bit test.
#[derive(Debug)]
pub struct Beer<S: Scalar>(CompressedGossip<S>);

/// BEER node state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct BeerNode<S: Scalar> {
    /// Model x_i.
    pub x: Vec<S>,
    /// Tracker v_i.
    pub v: Vec<S>,
    /// Previous local gradient.
    pub prev: Vec<S>,
    /// Public copy h_i.
    pub h: Vec<S>,
    /// Public copy g_i.
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

impl<S: Scalar> Beer<S> {
    /// BEER with consensus stepsize γ ∈ (0, 1] and stepsize η > 0.
    pub fn new(
        compressor: Box<dyn Compressor<S>>,
        gamma: f64,
        eta: f64,
        grad: GradSource,
    ) -> Result<Self, MethodError> {
        CompressedGossip::new("beer", compressor, gamma, eta, grad).map(Self)
    }
}

impl<S: Scalar> GossipMethod<S> for Beer<S> {
    type Node = BeerNode<S>;

    fn describe(&self) -> String {
        self.0.describe("beer", "")
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
        let d = self.0.dim(problem, x0, "beer")?;
        init_nodes_at(problem, x0, seed, self.0.grad, |i, grad, g0| BeerNode {
            x: x0.to_vec(),
            v: g0.clone(),
            prev: g0,
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
        let steps = self.0.steps;
        if phase == 0 {
            return model_phase(
                self.0.compressor.as_ref(),
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
        let gamma = S::from_f64(steps.gamma);
        for ((((vj, pj), &gr), &tj), &gj) in
            n.v.iter_mut()
                .zip(n.prev.iter_mut())
                .zip(&ctx.buffers.grad)
                .zip(&n.t)
                .zip(&n.g)
        {
            *vj = *vj + gamma * (tj - gj) + gr - *pj;
            *pj = gr;
        }
        compress_delta(
            self.0.compressor.as_ref(),
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
    /// Registry entry of `beer`: BEER: compressed gradient tracking, 2 messages/round (gamma, eta)
    BeerSpec(BeerParams {
        compressor,
        /// Consensus stepsize γ ∈ (0, 1] (required).
        gamma: Option<f64>,
        /// Stepsize η > 0 (required).
        eta: Option<f64>,
        gradient,
    }): Gossip "beer",
    summary = "BEER: compressed gradient tracking, 2 messages/round (gamma, eta)",
    example = "compressor = \"top_k:k=1\"\ngamma = 0.5\neta = 0.05",
    hints = [],
    |p, ctx, sink| {
        let (gamma, eta) = ConsensusSteps::required(Self::NAME, p.gamma, p.eta)?;
        let c = p.main_compressor::<S>(ctx.dim)?;
        let m = Beer::new(c, gamma, eta, p.gradient.unwrap_or_default()).map_err(s::method_err)?;
        sink.gossip(m)
    }
}

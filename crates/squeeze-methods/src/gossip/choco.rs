//! CHOCO-SGD (Koloskova, Stich, Jaggi 2019) and uncompressed D-SGD.

use serde::{Deserialize, Serialize};
use squeeze_core::{Compressor, Message, Purpose, Scalar, SqueezeRng};
use squeeze_problems::Problem;

use crate::gossip::{
    CompressedGossip, ConsensusSteps, GossipInit, GossipMethod, GradSource, GradState, NodeCtx,
    compress_delta, init_nodes, mix_into,
};
use crate::method::{Result, checked_dim, ensure_finite, stream};

/// CHOCO-SGD: a local SGD step, then gossip on compressed public copies $\hat x_i$.
///
/// $$x_i \leftarrow x_i - \eta\thinspace g_i(x_i),\qquad q_i = \mathcal{Q}(x_i - \hat x_i),\quad
/// \hat x_i \leftarrow \hat x_i + q_i,\qquad x_i \leftarrow x_i + \gamma\textstyle\sum_j w_{ij}(\hat x_j - \hat x_i)$$
///
/// One compressed message per node per round; $\hat x^0 = 0$. With the identity compressor and
/// γ = 1 it is D-SGD in the adapt-then-combine order, $x_i \leftarrow \sum_j w_{ij}(x_j - \eta g_j)$
/// (tested).
#[derive(Debug)]
pub struct Choco<S: Scalar>(CompressedGossip<S>);

/// CHOCO-SGD node state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct ChocoNode<S: Scalar> {
    /// Model x_i.
    pub x: Vec<S>,
    /// Public copy x̂_i.
    pub xhat: Vec<S>,
    /// s_i = Σ_j w_ij x̂_j.
    pub s: Vec<S>,
    /// Compression stream.
    pub rng: SqueezeRng,
    /// Stochastic-gradient state.
    pub grad: GradState,
}

impl<S: Scalar> Choco<S> {
    /// CHOCO-SGD with consensus stepsize γ ∈ (0, 1] and stepsize η > 0.
    pub fn new(
        compressor: Box<dyn Compressor<S>>,
        gamma: f64,
        eta: f64,
        grad: GradSource,
    ) -> Result<Self> {
        CompressedGossip::new("choco", compressor, gamma, eta, grad).map(Self)
    }
}

impl<S: Scalar> GossipMethod<S> for Choco<S> {
    type Node = ChocoNode<S>;

    fn describe(&self) -> String {
        self.0.describe("choco", "")
    }

    fn init(&self, problem: &Problem<S>, x0: &[S], seed: u64) -> Result<GossipInit<Self::Node>> {
        let d = self.0.dim(problem, x0, "choco")?;
        init_nodes(problem, seed, self.0.grad, |i, grad| ChocoNode {
            x: x0.to_vec(),
            xhat: vec![S::ZERO; d],
            s: vec![S::ZERO; d],
            rng: stream(seed, Purpose::Compression, i),
            grad,
        })
    }

    fn send(&self, n: &mut Self::Node, ctx: &mut NodeCtx<'_, S>, out: &mut Message<S>) -> Result {
        ctx.local_grad(&mut n.grad, &n.x)?;
        let eta = S::from_f64(self.0.steps.eta);
        for (xj, &gj) in n.x.iter_mut().zip(&ctx.buffers.grad) {
            *xj -= eta * gj;
        }
        compress_delta(
            self.0.compressor.as_ref(),
            &n.x,
            &mut n.xhat,
            &mut n.rng,
            ctx,
            out,
        )
    }

    fn receive(&self, n: &mut Self::Node, ctx: &mut NodeCtx<'_, S>, msgs: &[Message<S>]) -> Result {
        mix_into(&mut n.s, ctx, msgs)?;
        let gamma = S::from_f64(self.0.steps.gamma);
        for ((xj, &sj), &hj) in n.x.iter_mut().zip(&n.s).zip(&n.xhat) {
            *xj += gamma * (sj - hj);
        }
        Ok(())
    }

    fn iterate<'a>(&self, node: &'a Self::Node) -> &'a [S] {
        &node.x
    }
}

/// Decentralized SGD without compression.
///
/// Combine-then-adapt (default; the form written in the spec §5.3, whose order is UNCONFIRMED):
/// $x_i \leftarrow \sum_j w_{ij} x_j - \eta\thinspace g_i(x_i)$. Adapt-then-combine
/// (`adapt_then_combine = true`): $x_i \leftarrow \sum_j w_{ij}(x_j - \eta\thinspace g_j(x_j))$ —
/// what CHOCO-SGD with the identity compressor and γ = 1 reduces to. Each node sends a dense vector
/// ($32d$ or $64d$ bits) to every neighbour.
#[derive(Debug, Clone)]
pub struct Dsgd {
    eta: f64,
    grad: GradSource,
    adapt_then_combine: bool,
}

/// D-SGD node state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct DsgdNode<S: Scalar> {
    /// Model x_i.
    pub x: Vec<S>,
    /// Stochastic-gradient state.
    pub grad: GradState,
}

impl Dsgd {
    /// D-SGD with stepsize η > 0, combine-then-adapt unless `adapt_then_combine`.
    pub fn new(eta: f64, grad: GradSource, adapt_then_combine: bool) -> Result<Self> {
        ConsensusSteps::new("dsgd", 1.0, eta)?;
        Ok(Self {
            eta,
            grad,
            adapt_then_combine,
        })
    }
}

impl<S: Scalar> GossipMethod<S> for Dsgd {
    type Node = DsgdNode<S>;

    fn describe(&self) -> String {
        let order = if self.adapt_then_combine {
            "adapt-then-combine"
        } else {
            "combine-then-adapt"
        };
        format!("dsgd(η={}, {order}, {:?})", self.eta, self.grad)
    }

    fn init(&self, problem: &Problem<S>, x0: &[S], seed: u64) -> Result<GossipInit<Self::Node>> {
        checked_dim(problem, x0)?;
        init_nodes(problem, seed, self.grad, |_, grad| DsgdNode {
            x: x0.to_vec(),
            grad,
        })
    }

    fn send(&self, n: &mut Self::Node, ctx: &mut NodeCtx<'_, S>, out: &mut Message<S>) -> Result {
        ctx.local_grad(&mut n.grad, &n.x)?;
        let values = out.dense_parts();
        if self.adapt_then_combine {
            let eta = S::from_f64(self.eta);
            values.extend(
                n.x.iter()
                    .zip(&ctx.buffers.grad)
                    .map(|(&x, &g)| x - eta * g),
            );
        } else {
            values.extend_from_slice(&n.x);
        }
        Ok(())
    }

    fn receive(&self, n: &mut Self::Node, ctx: &mut NodeCtx<'_, S>, msgs: &[Message<S>]) -> Result {
        // work = Σ_j w_ij x_j (own included), then x = work − η g.
        let mut work = std::mem::take(&mut ctx.buffers.work);
        work.fill(S::ZERO);
        let r = mix_into(&mut work, ctx, msgs);
        if r.is_ok() {
            if self.adapt_then_combine {
                n.x.copy_from_slice(&work);
            } else {
                let eta = S::from_f64(self.eta);
                for ((xj, &wj), &gj) in n.x.iter_mut().zip(&work).zip(&ctx.buffers.grad) {
                    *xj = wj - eta * gj;
                }
            }
        }
        ctx.buffers.work = work;
        r?;
        ensure_finite(&n.x, "a node's model", ctx.round)
    }

    fn iterate<'a>(&self, node: &'a Self::Node) -> &'a [S] {
        &node.x
    }
}

// ---- registry entry (name, params, build): see `crate::registry` ----

crate::spec::method_entry! {
    ChocoSpec(ChocoParams { compressor, consensus, gradient }): Gossip "choco",
    summary = "CHOCO-SGD: SGD step + gossip on compressed public copies, 1 message/round (gamma, eta)",
    example = "compressor = \"top_k:k=1\"\ngamma = 0.5\neta = 0.05",
    |p, ctx, sink| {
        sink.gossip(Choco(p.compressed_gossip::<S>(ctx.dim)?))
    }
}

crate::spec::method_entry! {
    DsgdSpec(DsgdParams {
        /// Stepsize η > 0 (required).
        eta: Option<f64>,
        gradient,
        /// Adapt-then-combine order instead of combine-then-adapt.
        adapt_then_combine: bool,
    }): Gossip "dsgd",
    summary = "D-SGD: uncompressed decentralized SGD, dense models to neighbours (eta)",
    example = "eta = 0.05",
    hints = [(
        "compressor",
        "dsgd sends dense models; remove the compressor or use choco",
    )],
    |p, ctx, sink| {
        let eta = s::required(Self::NAME, "eta", p.eta, "the stepsize, e.g. eta = 0.01")?;
        let m = Dsgd::new(eta, p.gradient.unwrap_or_default(), p.adapt_then_combine)
            .map_err(s::method_err)?;
        sink.gossip(m)
    }
}

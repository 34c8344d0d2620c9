//! Gradient tracking on compressed public copies: [`TrackingFamily`], the method BEER and
//! MoTEF are (they differ only in what they track, their [`Tracked`] quantity).
//!
//! A node keeps its model $x_i$, a tracker $v_i$, public copies $h_i$ (of $x_i$) and $g_i$ (of
//! $v_i$) that its neighbours hold through the compressed deltas, and the mixed copies
//! $s_i = \sum_j w_{ij}h_j$, $t_i = \sum_j w_{ij}g_j$. A round has two phases:
//!
//! $$\text{phase 0:}\quad x_i \leftarrow x_i + \gamma(s_i - h_i) - \eta v_i,\quad
//! q = \mathcal{C}(x_i - h_i),\ h_i \leftarrow h_i + q,\quad s_i \leftarrow s_i + \textstyle\sum_j w_{ij}q_j$$
//! $$\text{phase 1:}\quad v_i \leftarrow v_i + \gamma(t_i - g_i) + u_i^{new} - u_i^{old},\quad
//! q = \mathcal{C}(v_i - g_i),\ g_i \leftarrow g_i + q,\quad t_i \leftarrow t_i + \textstyle\sum_j w_{ij}q_j$$
//!
//! where $u_i$ is what the method tracks (BEER: the local gradient; MoTEF: its momentum), each
//! method updating it with its own rule.

use serde::{Deserialize, Serialize};
use squeeze_core::{Message, Purpose, Scalar, SqueezeRng};
use squeeze_problems::Problem;

use crate::gossip::{
    CompressedGossip, GossipInit, GossipMethod, GradState, NodeCtx, compress_delta, init_nodes_at,
    mix_into,
};
use crate::method::{MethodState, Result, stream};

/// A gradient-tracking method on compressed public copies (the two-phase rounds of the
/// [module docs](self)) that tracks the quantity $u_i$ of `U`: [`crate::Beer`] (the local
/// gradient, [`crate::gossip::beer::LocalGradient`]) and [`crate::Motef`] (its momentum,
/// [`crate::gossip::motef::Momentum`]).
#[derive(Debug)]
pub struct TrackingFamily<S: Scalar, U> {
    parts: CompressedGossip<S>,
    tracked: U,
}

impl<S: Scalar, U> TrackingFamily<S, U> {
    /// The method from its checked parts and its tracked quantity.
    pub(crate) fn compose(parts: CompressedGossip<S>, tracked: U) -> Self {
        Self { parts, tracked }
    }
}

/// What a [`TrackingFamily`] method tracks as $u_i$, and how a node updates it (a node keeps
/// the [`TrackingNode`] and the method's own vector for $u_i$).
pub trait Tracked<S: Scalar>: Send + Sync + core::fmt::Debug {
    /// Registry name of the method (its description and errors name it).
    const NAME: &'static str;
    /// Node state: the [`TrackingNode`] (which it reads as) and the method's own vector.
    type Node: MethodState + core::ops::DerefMut<Target = TrackingNode<S>>;
    /// The quantity's part of `describe` (", λ=…"; empty for none).
    fn describe(&self) -> String;
    /// The initial node around `track`, whose tracker holds $v_i = \nabla f_i(x^0)$.
    fn node(track: TrackingNode<S>) -> Self::Node;
    /// The node's shared state and its own vector.
    fn split(node: &mut Self::Node) -> (&mut TrackingNode<S>, &mut [S]);
    /// `update(u_j, ∇_j)`: coordinate j of the own vector and of the fresh local gradient in,
    /// `u_j` updated, $(u_j^{new}, u_j^{old})$ out (phase 1 of the [module docs](self)).
    fn update(&self) -> impl Fn(&mut S, S) -> (S, S);
}

impl<S: Scalar, U: Tracked<S>> GossipMethod<S> for TrackingFamily<S, U> {
    type Node = U::Node;

    fn describe(&self) -> String {
        self.parts.describe(U::NAME, &self.tracked.describe())
    }

    fn phases(&self) -> usize {
        2
    }

    fn init(&self, problem: &Problem<S>, x0: &[S], seed: u64) -> Result<GossipInit<Self::Node>> {
        tracking_init(&self.parts, U::NAME, (problem, x0, seed), U::node)
    }

    fn send(&self, n: &mut Self::Node, ctx: &mut NodeCtx<'_, S>, out: &mut Message<S>) -> Result {
        let (track, own) = U::split(n);
        track.send(&self.parts, (own, self.tracked.update()), ctx, out)
    }

    fn receive(&self, n: &mut Self::Node, ctx: &mut NodeCtx<'_, S>, msgs: &[Message<S>]) -> Result {
        n.receive(ctx, msgs)
    }

    fn iterate<'a>(&self, node: &'a Self::Node) -> &'a [S] {
        &node.x
    }
}

/// The state every node of a tracking method holds (flattened into [`crate::BeerNode`] and
/// [`crate::MotefNode`], so their serialised form lists these fields directly).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct TrackingNode<S: Scalar> {
    /// Model x_i.
    pub x: Vec<S>,
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

/// A node type that embeds a [`TrackingNode`] and reads as it (`node.x`, `node.v`, … as
/// before the state was shared), with `node.track` for the embedded state.
macro_rules! reads_as_tracking {
    ($node:ident) => {
        impl<S: Scalar> core::ops::Deref for $node<S> {
            type Target = $crate::gossip::tracking::TrackingNode<S>;
            fn deref(&self) -> &Self::Target {
                &self.track
            }
        }

        impl<S: Scalar> core::ops::DerefMut for $node<S> {
            fn deref_mut(&mut self) -> &mut Self::Target {
                &mut self.track
            }
        }
    };
}
pub(crate) use reads_as_tracking;

/// The initial nodes of a tracking method named `method`: every node at $x^0$ with
/// $v_i = \nabla f_i(x^0)$ (the full local gradient, [`init_nodes_at`]),
/// $h_i = g_i = s_i = t_i = 0$ and its compression stream, wrapped by `make`.
fn tracking_init<S: Scalar, N>(
    parts: &CompressedGossip<S>,
    method: &'static str,
    (problem, x0, seed): (&Problem<S>, &[S], u64),
    mut make: impl FnMut(TrackingNode<S>) -> N,
) -> Result<GossipInit<N>> {
    let d = parts.dim(problem, x0, method)?;
    init_nodes_at(problem, x0, seed, parts.grad, |i, grad, v| {
        make(TrackingNode {
            x: x0.to_vec(),
            v,
            h: vec![S::ZERO; d],
            g: vec![S::ZERO; d],
            s: vec![S::ZERO; d],
            t: vec![S::ZERO; d],
            rng: stream(seed, Purpose::Compression, i),
            grad,
        })
    })
}

impl<S: Scalar> TrackingNode<S> {
    /// The node's message of phase `ctx.phase` (see the [module docs](self)). In phase 1,
    /// `track(u_j,
    /// ∇_j)` gets coordinate j of the method's own vector `own` and of the fresh local gradient,
    /// updates `u_j` and returns $(u_j^{new}, u_j^{old})$.
    pub(crate) fn send(
        &mut self,
        parts: &CompressedGossip<S>,
        (own, track): (&mut [S], impl Fn(&mut S, S) -> (S, S)),
        ctx: &mut NodeCtx<'_, S>,
        out: &mut Message<S>,
    ) -> Result {
        let (gamma, eta) = (S::from_f64(parts.steps.gamma), S::from_f64(parts.steps.eta));
        let c = parts.compressor.as_ref();
        if ctx.phase == 0 {
            for (((xj, &hj), &sj), &vj) in self.x.iter_mut().zip(&self.h).zip(&self.s).zip(&self.v)
            {
                *xj = *xj + gamma * (sj - hj) - eta * vj;
            }
            return compress_delta(c, &self.x, &mut self.h, &mut self.rng, ctx, out);
        }
        ctx.local_grad(&mut self.grad, &self.x)?;
        for ((((vj, uj), &gr), &tj), &gj) in (self.v.iter_mut())
            .zip(own.iter_mut())
            .zip(&ctx.buffers.grad)
            .zip(&self.t)
            .zip(&self.g)
        {
            let (new, old) = track(uj, gr);
            *vj = *vj + gamma * (tj - gj) + new - old;
        }
        compress_delta(c, &self.v, &mut self.g, &mut self.rng, ctx, out)
    }

    /// The gossip average of phase `ctx.phase`'s messages added to $s_i$ (phase 0, the
    /// compressed iterates) or to $t_i$ (phase 1, the tracking differences), by [`mix_into`].
    pub(crate) fn receive(&mut self, ctx: &NodeCtx<'_, S>, msgs: &[Message<S>]) -> Result {
        let acc = if ctx.phase == 0 {
            &mut self.s
        } else {
            &mut self.t
        };
        mix_into(acc, ctx, msgs)
    }
}

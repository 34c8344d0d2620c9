//! The states of the bidirectional methods (EF21-BC, bidirectional 3PC-GD): the server learns
//! the workers' mean estimate $\tilde g = \tfrac1n\sum_i \tilde g_i$ through the uplink and
//! broadcasts the change of its downlink estimator $g$ compressed; every worker holds $g$ and
//! the model.
//!
//! Round $t$: the server broadcasts nothing at $t = 0$ ($g^0 = \tilde g^0$ is known to
//! everybody), else the method's compressed change $b^t$ of $g$ ($g \leftarrow g + b^t$ on both
//! sides); then the server and every worker step $x \leftarrow x - \gamma g$ with the same
//! operations, so their copies of $x$ agree bit for bit.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use squeeze_core::{CompressCtx, Compressor, Message, Purpose, Scalar, Scratch, SqueezeRng};

use crate::method::{
    Result, ServerState, WorkerCtx, add_mean, compress_err, follow_downlink, message_err, step,
    stream,
};

/// The server of a bidirectional method: $(x, g, \tilde g, \gamma)$, the downlink stream and
/// the method's own part `own` (flattened: the serialised form lists its fields beside these).
/// Its absorb adds the mean uplink to $\tilde g$.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound(serialize = "B: Serialize", deserialize = "B: DeserializeOwned"))]
pub struct DownlinkServer<S: Scalar, B> {
    /// Model x.
    pub x: Vec<S>,
    /// Downlink estimator g (what the workers hold).
    pub g: Vec<S>,
    /// g̃ = (1/n) Σ g̃_i.
    pub g_tilde: Vec<S>,
    /// Resolved stepsize.
    pub gamma: f64,
    /// Downlink compression stream.
    pub rng: SqueezeRng,
    /// The method's own part.
    #[serde(flatten)]
    pub own: B,
}

impl<S: Scalar, B> DownlinkServer<S, B> {
    /// The server at $x^0$ with $g = \tilde g = g^0$ (the workers' mean initial estimate) and
    /// the downlink stream of `seed` (`Purpose::Compression`, index `usize::MAX`; the workers
    /// use 0..n).
    pub(crate) fn at(x0: &[S], g0: Vec<S>, gamma: f64, seed: u64, own: B) -> Self {
        Self {
            x: x0.to_vec(),
            g: g0.clone(),
            g_tilde: g0,
            gamma,
            rng: stream(seed, Purpose::Compression, usize::MAX),
            own,
        }
    }

    /// Round `round`'s broadcast: `Skip` at round 0, else `send` writes the compressed change
    /// of $g$ into `down` and applies it to $g$; then $x \leftarrow x - \gamma g$.
    pub(crate) fn broadcast_with(
        &mut self,
        round: u64,
        down: &mut Message<S>,
        send: impl FnOnce(&mut Self, &mut Message<S>) -> Result,
    ) -> Result {
        if round == 0 {
            down.set_skip(self.x.len());
        } else {
            send(self, down)?;
        }
        step(&mut self.x, &self.g, self.gamma, round)
    }
}

impl<S: Scalar, B> ServerState<S> for DownlinkServer<S, B> {
    fn absorb(&mut self, round: u64, ups: &[Message<S>]) -> Result {
        add_mean(&mut self.g_tilde, round, ups)
    }

    fn model(&self) -> &[S] {
        &self.x
    }
}

/// A worker of a bidirectional method: its uplink estimate $\tilde g_i$, the downlink
/// estimator $g$, its copy of the model, γ and its uplink stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct DownlinkWorker<S: Scalar> {
    /// Uplink estimate g̃_i.
    pub g_tilde: Vec<S>,
    /// Shared downlink estimator g.
    pub g: Vec<S>,
    /// The worker's copy of the model.
    pub x: Vec<S>,
    /// Stepsize.
    pub gamma: f64,
    /// Uplink compression stream.
    pub rng: SqueezeRng,
}

impl<S: Scalar> DownlinkWorker<S> {
    /// A worker at $x^0$ with $\tilde g_i = $ `g_tilde`, $g = g^0$ and its stream `rng`.
    pub(crate) fn at(g_tilde: Vec<S>, g0: &[S], x0: &[S], gamma: f64, rng: SqueezeRng) -> Self {
        Self {
            g_tilde,
            g: g0.to_vec(),
            x: x0.to_vec(),
            gamma,
            rng,
        }
    }

    /// The worker's side of the broadcast `ctx.down`: $g \leftarrow g + b$, then
    /// $x \leftarrow x - \gamma g$ ([`follow_downlink`]).
    pub(crate) fn follow(&mut self, ctx: &WorkerCtx<'_, S>) -> Result {
        let ids = (ctx.worker, ctx.round);
        follow_downlink(ctx.down, &mut self.g, &mut self.x, self.gamma, ids)
    }
}

/// A server's downlink compressor working memory: scratch and a work vector (not state: never
/// serialised; EF21-BC, FedNL-BC and 1-bit Adam).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct DownlinkBuffers<S: Scalar> {
    /// Compressor scratch.
    #[serde(skip)]
    pub(crate) scratch: Scratch,
    /// Work vector.
    #[serde(skip)]
    pub(crate) work: Vec<S>,
}

impl<S: Scalar> DownlinkBuffers<S> {
    /// Buffers with the work vector sized for dimension `d`.
    pub(crate) fn new(d: usize) -> Self {
        Self {
            scratch: Scratch::default(),
            work: vec![S::ZERO; d],
        }
    }

    /// The server's compressed downlink of the change of `a`: `down` $= \mathcal C(a - b)$ by
    /// `compressor` with the server's stream `rng` at `round`, then $b \leftarrow b +$ `down`,
    /// so the workers' copy $b$ follows $a$ (errors name `what`, the server as worker
    /// `usize::MAX`).
    pub(crate) fn compress_change(
        &mut self,
        compressor: &dyn Compressor<S>,
        (a, b): (&[S], &mut [S]),
        rng: &mut SqueezeRng,
        round: u64,
        what: &'static str,
        down: &mut Message<S>,
    ) -> Result {
        self.work.resize(a.len(), S::ZERO);
        for ((w, &x), &y) in self.work.iter_mut().zip(a).zip(b.iter()) {
            *w = x - y;
        }
        let mut cctx = CompressCtx::new(rng, &mut self.scratch).with_round(round);
        compressor
            .compress_into(&self.work, &mut cctx, down)
            .map_err(compress_err(usize::MAX, round, what))?;
        down.add_to(b, S::ONE)
            .map_err(message_err(usize::MAX, round))
    }
}

//! Distributed Adam and 1-bit Adam (Tang et al., ICML 2021; arXiv 2102.02888).

use serde::{Deserialize, Serialize};
use squeeze_core::{Compressor, Message, ParamError, Purpose, Scalar, SqueezeRng};
use squeeze_problems::Problem;

use crate::gossip::{GradSource, GradState};
use crate::method::{
    Init, InitOf, MethodError, Result, ServerMethod, ServerState, WorkerCtx, add_mean, checked_dim,
    compressed_dim, dense_down, ef14_up, ensure_finite, message_err, round_of, stream,
};
use crate::star::downlink::DownlinkBuffers;
use crate::stepsize::Stepsize;

/// Adam's hyperparameters: $\beta_1, \beta_2 \in [0, 1)$ and $\varepsilon > 0$.
///
/// ```
/// use squeeze_methods::star::adam::AdamBetas;
/// assert!(AdamBetas::default().validate("adam").is_ok());
/// let e = AdamBetas { beta2: 1.0, ..AdamBetas::default() }.validate("adam").unwrap_err();
/// assert_eq!(e.param, "beta2");
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamBetas {
    /// Momentum decay $\beta_1$ (default 0.9).
    pub beta1: f64,
    /// Second-moment decay $\beta_2$ (default 0.999).
    pub beta2: f64,
    /// $\varepsilon$ added to $\sqrt v$ (default $10^{-8}$).
    pub eps: f64,
}

impl Default for AdamBetas {
    fn default() -> Self {
        Self {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

impl AdamBetas {
    /// `β1, β2 ∈ [0, 1)`, `ε` finite and `> 0`; the error names the parameter and the range.
    pub fn validate(&self, method: &'static str) -> Result<(), ParamError> {
        for (name, b) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            ParamError::require(
                (0.0..1.0).contains(&b),
                method,
                name,
                b,
                "must be in [0, 1) (Adam's defaults: beta1 = 0.9, beta2 = 0.999)",
            )?;
        }
        ParamError::require(
            self.eps.is_finite() && self.eps > 0.0,
            method,
            "eps",
            self.eps,
            "must be finite and > 0 (Adam's default: eps = 1e-8)",
        )
    }
}

/// Distributed Adam and **1-bit Adam**: Adam on the averaged gradient, then (1-bit Adam) the
/// second moment frozen and the momentum sent error-compensated and compressed both ways.
///
/// Warm-up (every round of `adam`; rounds $t < K$ of `onebit_adam`, $K$ = `warmup_rounds`):
/// worker $i$ sends $\nabla f_i(x^t)$ dense, the mean $\bar g^t = \tfrac1n\sum_i\nabla f_i(x^t)$
/// comes back dense and everybody steps
///
/// $$m \leftarrow \beta_1 m + (1-\beta_1)\thinspace\bar g,\qquad
/// v \leftarrow \beta_2 v + (1-\beta_2)\thinspace\bar g^2,\qquad
/// x \leftarrow x - \gamma\thinspace\frac{m}{\sqrt v + \varepsilon}.$$
///
/// Compression stage ($t \ge K$, $v$ frozen at its value after the $K$-th step): with $m$ the
/// last broadcast momentum, worker $i$ forms $m_i = \beta_1 m + (1-\beta_1)\nabla f_i(x^t)$,
/// sends $c_i = \mathcal{C}(m_i + e_i)$ and keeps $e_i \leftarrow m_i + e_i - c_i$; the server
/// averages $\bar c = \tfrac1n\sum_i c_i$ (worker order), sends $c = \mathcal{C}(\bar c + e_s)$,
/// keeps $e_s \leftarrow \bar c + e_s - c$, and everybody sets
/// $m \leftarrow c,\ x \leftarrow x - \gamma\thinspace m/(\sqrt v + \varepsilon)$
/// (Tang et al., Algorithm 1). $m^0 = v^0 = 0$, $e_i^0 = e_s^0 = 0$.
///
/// Conventions, as DeepSpeed's `OnebitAdam`: $\varepsilon$ is added to $\sqrt v$; no bias
/// correction (Algorithm 1 has none, and DeepSpeed's `OnebitAdam` step applies none), so
/// `adam` is exactly 1-bit Adam's warm-up. $\mathcal{C}$ defaults to
/// `scaled_sign`, $(\lVert x\rVert_1/d)\operatorname{sign}(x)$ with $\operatorname{sign}(0) = +1$:
/// one bit per coordinate plus one scale. DeepSpeed scales by $\lVert x\rVert_2/\sqrt d$
/// instead (the same norm as $x$; $\lVert x\rVert_1/d$ is the scale that minimises
/// $\lVert x - s\operatorname{sign}(x)\rVert^2$, and the error feedback carries the rest),
/// and splits the server's compression into one chunk per rank; here one server compresses
/// the whole vector. Any registered compressor can be given.
///
/// Rounds: the server applies each round's mean at the start of the next round, in
/// `broadcast` (as [`crate::Ef21Bc`] does): round 0 broadcasts nothing (`Skip`, 0 bits),
/// round $t \ge 1$ sends $\bar g^{t-1}$ (if $t - 1 < K$) or $c$ and steps; the workers take the
/// same step on their copies of $(x, m, v)$ with the same numbers, so all copies stay
/// bit-identical, then evaluate $\nabla f_i(x^t)$. The recorded model after round $t$ is $x^t$
/// ($t$ steps). `gradient` chooses full, minibatch or noisy local gradients ([`GradSource`]).
///
/// Bits per worker and round ($d$ coordinates, `f32`): warm-up $32d + 4$ up and down (dense;
/// $64d + 4$ in `f64`), the compression stage $\mathcal{C}$'s message both ways —
/// `scaled_sign` $d + 36$, so after the warm-up about $1/32$ of Adam's traffic. Memory per
/// worker: $x, m, v, e_i$ ($4d$). Stepsize: `{ rule = "constant", gamma = γ }` is Adam's
/// learning rate (required: there is no theory rule for Adam, and GD's $1/L$ is far too large
/// for a step of size $\approx\gamma$ per coordinate).
///
/// Reference: H. Tang, S. Gan, A. A. Awan, S. Rajbhandari, C. Li, X. Lian, J. Liu, C. Zhang,
/// Y. He, *1-bit Adam: Communication Efficient Large-Scale Training with Adam's Convergence
/// Speed*, ICML 2021 (arXiv 2102.02888); D. P. Kingma, J. Ba, *Adam*, ICLR 2015.
///
/// ```
/// use squeeze_compress::parse;
/// use squeeze_methods::star::adam::{Adam, AdamBetas};
/// use squeeze_methods::{GradSource, ServerMethod, Stepsize};
/// let lr = Stepsize::Constant { gamma: 1e-3 };
/// let m = Adam::<f32>::onebit(parse("scaled_sign").unwrap(), 100, lr, AdamBetas::default(),
///     GradSource::Full).unwrap();
/// assert!(m.describe().starts_with("onebit_adam(scaled_sign, warmup 100"));
/// // A zero-round warm-up would freeze v = 0: refused with a hint.
/// let e = Adam::<f32>::onebit(parse("scaled_sign").unwrap(), 0, lr, AdamBetas::default(),
///     GradSource::Full).unwrap_err();
/// assert!(e.to_string().contains("warmup_rounds"));
/// ```
#[derive(Debug)]
pub struct Adam<S: Scalar> {
    stepsize: Stepsize,
    betas: AdamBetas,
    grad: GradSource,
    /// 1-bit Adam: the compressor and the number $K$ of warm-up rounds.
    onebit: Option<(Box<dyn Compressor<S>>, u64)>,
}

/// The optimiser state every party holds a bit-identical copy of: $(x, m, v)$.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct AdamReplica<S: Scalar> {
    /// Model x.
    pub x: Vec<S>,
    /// Momentum m (after the warm-up: the last broadcast momentum c).
    pub m: Vec<S>,
    /// Second moment v (frozen after the warm-up).
    pub v: Vec<S>,
    /// Steps that updated v (Adam steps) so far.
    pub adam_steps: u64,
    /// Adam's learning rate γ.
    pub gamma: f64,
}

impl<S: Scalar> AdamReplica<S> {
    fn at(x0: &[S], gamma: f64) -> Self {
        let d = x0.len();
        Self {
            x: x0.to_vec(),
            m: vec![S::ZERO; d],
            v: vec![S::ZERO; d],
            adam_steps: 0,
            gamma,
        }
    }

    /// The Adam step on the mean gradient `g`.
    fn adam_step(&mut self, g: &[S], b: &AdamBetas, round: u64) -> Result {
        let (b1, b2) = (S::from_f64(b.beta1), S::from_f64(b.beta2));
        let (c1, c2) = (S::from_f64(1.0 - b.beta1), S::from_f64(1.0 - b.beta2));
        for ((mj, vj), &gj) in self.m.iter_mut().zip(&mut self.v).zip(g) {
            *mj = b1 * *mj + c1 * gj;
            *vj = b2 * *vj + c2 * (gj * gj);
        }
        self.adam_steps += 1;
        self.descend(b, round)
    }

    /// $m \leftarrow c$ (the broadcast momentum `c`), then the step with the frozen v.
    fn momentum_step(&mut self, c: &Message<S>, b: &AdamBetas, ids: (usize, u64)) -> Result {
        self.m.fill(S::ZERO);
        c.add_to(&mut self.m, S::ONE)
            .map_err(message_err(ids.0, ids.1))?;
        self.descend(b, ids.1)
    }

    /// $x \leftarrow x - \gamma m/(\sqrt v + \varepsilon)$.
    fn descend(&mut self, b: &AdamBetas, round: u64) -> Result {
        let (gamma, eps) = (S::from_f64(self.gamma), S::from_f64(b.eps));
        for ((xj, &mj), &vj) in self.x.iter_mut().zip(&self.m).zip(&self.v) {
            *xj -= gamma * mj / (vj.sqrt() + eps);
        }
        ensure_finite(&self.x, "the model x", round)
    }
}

/// Adam / 1-bit Adam server state.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct AdamServer<S: Scalar> {
    /// The server's copy of $(x, m, v)$.
    pub state: AdamReplica<S>,
    /// The mean of the last round's uplink ($\bar g$ in the warm-up, $\bar c$ after it), applied
    /// at the next broadcast.
    pub mean: Vec<S>,
    /// Server error $e_s$ (1-bit Adam).
    pub e: Vec<S>,
    /// The server's compression stream (1-bit Adam).
    pub rng: SqueezeRng,
    /// Compressor working memory (not state).
    #[serde(skip)]
    bufs: DownlinkBuffers<S>,
}

impl<S: Scalar> ServerState<S> for AdamServer<S> {
    /// The mean of the uplink (the step is taken at the next broadcast).
    fn absorb(&mut self, round: u64, ups: &[Message<S>]) -> Result {
        self.mean.fill(S::ZERO);
        add_mean(&mut self.mean, round, ups)
    }

    fn model(&self) -> &[S] {
        &self.state.x
    }
}

/// Adam / 1-bit Adam worker state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct AdamWorker<S: Scalar> {
    /// The worker's copy of $(x, m, v)$.
    pub state: AdamReplica<S>,
    /// Worker error $e_i$ (1-bit Adam).
    pub e: Vec<S>,
    /// Local-gradient source (sampler and stream).
    pub grad: GradState,
    /// Compression stream.
    pub rng: SqueezeRng,
}

impl<S: Scalar> Adam<S> {
    /// Distributed Adam (dense gradients up, their mean down) with learning rate `stepsize`.
    pub fn new(stepsize: Stepsize, betas: AdamBetas, grad: GradSource) -> Result<Self> {
        stepsize.validate()?;
        ParamError::require(
            matches!(stepsize, Stepsize::Constant { .. }),
            "stepsize",
            "rule",
            "theory",
            "Adam has no theory stepsize; set its learning rate, e.g. \
             stepsize = { rule = \"constant\", gamma = 0.001 }",
        )?;
        betas.validate("adam")?;
        Ok(Self {
            stepsize,
            betas,
            grad,
            onebit: None,
        })
    }

    /// 1-bit Adam: `warmup_rounds` ≥ 1 rounds of Adam, then the frozen-v momentum stage with
    /// `compressor` on both links.
    pub fn onebit(
        compressor: Box<dyn Compressor<S>>,
        warmup_rounds: u64,
        stepsize: Stepsize,
        betas: AdamBetas,
        grad: GradSource,
    ) -> Result<Self> {
        betas.validate("onebit_adam")?;
        ParamError::require(
            warmup_rounds >= 1,
            "onebit_adam",
            "warmup_rounds",
            warmup_rounds,
            "1-bit Adam freezes v after its Adam warm-up, which needs at least one round, e.g. \
             warmup_rounds = 100 (the paper warms up for 15–25 % of the steps)",
        )?;
        let mut m = Self::new(stepsize, betas, grad)?;
        m.onebit = Some((compressor, warmup_rounds));
        Ok(m)
    }

    /// Whether round `t`'s uplink is part of the (uncompressed) Adam stage.
    fn warm(&self, t: u64) -> bool {
        self.onebit.as_ref().is_none_or(|&(_, k)| t < k)
    }

    /// Apply round `round`'s downlink `down` (the mean of round `round − 1`) to `state`.
    fn apply(&self, state: &mut AdamReplica<S>, down: &Message<S>, ids: (usize, u64)) -> Result {
        match ids.1.checked_sub(1) {
            None => Ok(()),
            Some(prev) if self.warm(prev) => {
                state.adam_step(dense_down(down, "adam")?, &self.betas, ids.1)
            }
            Some(_) => state.momentum_step(down, &self.betas, ids),
        }
    }

    fn name(&self) -> &'static str {
        if self.onebit.is_some() {
            "onebit_adam"
        } else {
            "adam"
        }
    }
}

impl<S: Scalar> ServerMethod<S> for Adam<S> {
    type Worker = AdamWorker<S>;
    type Server = AdamServer<S>;

    fn describe(&self) -> String {
        let b = &self.betas;
        let hyper = format!(
            "{:?}, beta1={}, beta2={}, eps={}, {:?}",
            self.stepsize, b.beta1, b.beta2, b.eps, self.grad
        );
        match &self.onebit {
            None => format!("adam({hyper})"),
            Some((c, k)) => format!("onebit_adam({}, warmup {k}, {hyper})", c.spec()),
        }
    }

    fn init(&self, problem: &Problem<S>, x0: &[S], seed: u64) -> Result<InitOf<Self, S>> {
        let d = match &self.onebit {
            Some((c, _)) => compressed_dim(problem, x0, c.as_ref(), "onebit_adam")?,
            None => checked_dim(problem, x0)?,
        };
        let step = self
            .stepsize
            .report(self.name(), None, problem.smoothness())?;
        let replica = AdamReplica::at(x0, step.gamma);
        let e = if self.onebit.is_some() {
            vec![S::ZERO; d]
        } else {
            Vec::new()
        };
        let workers = GradState::each(problem, seed, self.grad, |i, grad| AdamWorker {
            state: replica.clone(),
            e: e.clone(),
            grad,
            rng: stream(seed, Purpose::Compression, i),
        })?;
        let server = AdamServer {
            state: replica,
            mean: vec![S::ZERO; d],
            e,
            rng: stream(seed, Purpose::Compression, usize::MAX),
            bufs: DownlinkBuffers::new(d),
        };
        Ok(Init::silent(server, workers, 0).with_stepsize(step))
    }

    fn broadcast(&self, server: &mut Self::Server, round: u64, down: &mut Message<S>) -> Result {
        let d = server.mean.len();
        let Some(prev) = round.checked_sub(1) else {
            down.set_skip(d);
            return Ok(());
        };
        match &self.onebit {
            Some((c, _)) if !self.warm(prev) => {
                // c = C(c̄ + e_s), e_s ← c̄ + e_s − c: EF14's push step with scale 1; the
                // server compresses as worker 0 of 1 with its own stream.
                let b = &mut server.bufs;
                b.work.resize(d, S::ZERO);
                squeeze_feedback::ef14::step_parts(
                    c.as_ref(),
                    &mut server.e,
                    &mut server.rng,
                    1.0,
                    &server.mean,
                    &round_of((0, 1, round, 0)),
                    &mut b.scratch,
                    &mut b.work,
                    down,
                )?;
            }
            _ => down.dense_parts().extend_from_slice(&server.mean),
        }
        self.apply(&mut server.state, down, (usize::MAX, round))
    }

    fn worker_round(&self, worker: &mut Self::Worker, ctx: &mut WorkerCtx<'_, S>) -> Result {
        self.apply(&mut worker.state, ctx.down, (ctx.worker, ctx.round))?;
        let b = &mut *ctx.buffers;
        let x = &worker.state.x;
        ctx.grad_samples += worker.grad.grad(ctx.oracle, x, &mut b.grad, ctx.round)?;
        match &self.onebit {
            Some((c, _)) if !self.warm(ctx.round) => {
                // m_i = β1 m + (1 − β1) g_i; c_i = C(m_i + e_i), e_i ← m_i + e_i − c_i.
                let (b1, c1) = (
                    S::from_f64(self.betas.beta1),
                    S::from_f64(1.0 - self.betas.beta1),
                );
                for (gj, &mj) in b.grad.iter_mut().zip(&worker.state.m) {
                    *gj = b1 * mj + c1 * *gj;
                }
                ef14_up(c.as_ref(), (&mut worker.e, &mut worker.rng), 1.0, ctx)
            }
            _ => {
                ctx.up.dense_parts().extend_from_slice(&b.grad);
                Ok(())
            }
        }
    }
}

/// A constructor's parameter error under its own key (`method.beta1`, `method.warmup_rounds`,
/// …), the rest as [`crate::spec::method_err`] reports it.
fn config_err(e: MethodError) -> crate::spec::MethodConfigError {
    match e {
        MethodError::Param(p) if ["beta1", "beta2", "eps", "warmup_rounds"].contains(&p.param) => {
            crate::spec::MethodConfigError::at(p.param, p.to_string())
        }
        e => crate::spec::method_err(e),
    }
}

// ---- registry entries (name, params, build): see `crate::registry` ----

crate::spec::method_entry! {
    AdamSpec(AdamParams {
        stepsize,
        /// Momentum decay β1 ∈ [0, 1) (default 0.9).
        beta1: Option<f64>,
        /// Second-moment decay β2 ∈ [0, 1) (default 0.999).
        beta2: Option<f64>,
        /// ε > 0 added to √v (default 1e-8).
        eps: Option<f64>,
        gradient,
    }): Star "adam",
    summary = "distributed Adam (no bias correction): dense gradients up, their mean down; stepsize = { rule = \"constant\", gamma = lr }",
    example = "stepsize = { rule = \"constant\", gamma = 0.003 }",
    hints = [(
        "compressor",
        "adam sends dense gradients; remove the compressor or use onebit_adam (compressed momentum after an Adam warm-up)",
    )],
    |p, ctx, sink| {
        let betas = betas_of(p.beta1, p.beta2, p.eps);
        let m = Adam::<S>::new(p.stepsize, betas, p.gradient.unwrap_or_default());
        sink.star(m.map_err(config_err)?)
    }
}

/// The given hyperparameters over Adam's defaults.
fn betas_of(beta1: Option<f64>, beta2: Option<f64>, eps: Option<f64>) -> AdamBetas {
    let d = AdamBetas::default();
    AdamBetas {
        beta1: beta1.unwrap_or(d.beta1),
        beta2: beta2.unwrap_or(d.beta2),
        eps: eps.unwrap_or(d.eps),
    }
}

crate::spec::method_entry! {
    OnebitAdamSpec(OnebitAdamParams {
        compressor,
        stepsize,
        /// Momentum decay β1 ∈ [0, 1) (default 0.9).
        beta1: Option<f64>,
        /// Second-moment decay β2 ∈ [0, 1) (default 0.999).
        beta2: Option<f64>,
        /// ε > 0 added to √v (default 1e-8).
        eps: Option<f64>,
        gradient,
    }): Star "onebit_adam",
    summary = "1-bit Adam: Adam for warmup_rounds (≥ 1) rounds, then v frozen and the momentum sent error-compensated and compressed both ways (compressor default scaled_sign)",
    example = "warmup_rounds = 10\nstepsize = { rule = \"constant\", gamma = 0.003 }",
    |p, ctx, sink| {
        let mut p = p;
        p.compressor
            .get_or_insert_with(|| squeeze_compress::CompressorSpec::Text("scaled_sign".into()));
        let c = p.main_compressor::<S>(ctx.dim)?;
        let betas = betas_of(p.beta1, p.beta2, p.eps);
        let grad = p.gradient.unwrap_or_default();
        let m = Adam::<S>::onebit(c, p.warmup_rounds, p.stepsize, betas, grad);
        sink.star(m.map_err(config_err)?)
    }
}

//! Deep Gradient Compression (Lin, Han, Mao, Wang, Dally, ICLR 2018): momentum correction,
//! local accumulation, sampled top-k with a hierarchical step, momentum factor masking and
//! an exponential sparsity warm-up.

pub mod select;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use squeeze_compress::Clip;
use squeeze_core::{Message, ParamError, Purpose, Scalar, SqueezeRng};
use squeeze_problems::Problem;

use crate::gossip::{GradSource, GradState};
use crate::method::{
    Init, InitOf, MethodError, Result, ServerMethod, ServerState, WorkerCtx, add_mean, checked_dim,
    compress_err, ensure_finite, step, stream,
};
use crate::star::server::{ModelServer, sampled_grad_at};
use crate::stepsize::Stepsize;
use select::{Sampling, target};

/// DGC: each worker sends the largest entries of its accumulated momentum and keeps the rest.
///
/// Worker $i$ in round $t$, with $g_i$ its (minibatch) gradient at $x^t$ (paper, Alg. 1 with
/// §3):
/// $$g_i \leftarrow g_i\min\lbrace1, \tfrac{c}{\sqrt n\thinspace\lVert g_i\rVert}\rbrace,\qquad
/// u_i \leftarrow m u_i + g_i,\qquad v_i \leftarrow v_i + u_i,$$
/// $$M_i = \operatorname{select}_{k_t}(\lvert v_i\rvert),\qquad \text{send } v_i \odot M_i,
/// \qquad v_i \leftarrow v_i \odot \lnot M_i,\qquad u_i \leftarrow u_i \odot \lnot M_i,$$
/// and the server steps $x^{t+1} = x^t - \gamma\thinspace\tfrac1n\sum_i v_i \odot M_i$ (the
/// messages averaged in worker order; momentum lives on the workers). Clipping (threshold
/// $c$ scaled by $n^{-1/2}$, §3.2) is off unless `clip_norm` is set. $u_i$ is the momentum
/// (momentum correction: the velocity, not the gradient, is accumulated), $v_i$ the local
/// accumulation; zeroing $u_i$ where $v_i$ was sent is momentum factor masking.
///
/// **Selection** ([`select`]): target $k_t = \max(1, \lceil(1 - s_t)d\rceil)$ for the round's
/// sparsity $s_t$; the threshold is the $s_t$-quantile of $|v_i|$ estimated from
/// $\max(m\_{\min}, \lceil\rho d\rceil)$ coordinates sampled with the worker's own stream; if
/// more than $c\thinspace k_t$ pass it, the exact top-$k_t$ of them is sent (the paper's
/// hierarchical selection), if fewer than $k_t$ the exact top-$k_t$ of $v_i$. So
/// $k_t \le |M_i| \le 1.3\thinspace k_t$ with the default cap.
///
/// **Warm-up** (§3.3): with `warmup_stage_rounds = R > 0`, stage $j = \lfloor t/R\rfloor$ uses
/// `warmup_sparsities[j]` (default the paper's 75 %, 93.75 %, 98.4375 %, 99.6 %), then
/// `sparsity` (default 99.9 %).
///
/// **Bits** (uplink, per worker and round): `Sparse`,
/// $4 + \lceil\log_2(d+1)\rceil + |M_i|(\lceil\log_2 d\rceil + 32)$ for `f32` (64-bit values
/// for `f64`); with $s_t = 0$ the whole $v_i$ as `Dense`, $4 + 32d$. **Downlink**: the dense
/// model, $4 + 32d$, as every star method here broadcasts it (the workers need $x^{t+1}$).
/// The paper all-reduces the sparse gradients instead; the union of the $n$ kept sets would
/// cost at most $n|M_i|(\lceil\log_2 d\rceil + 32)$ — cheaper at high sparsity — but it
/// would make every worker keep its own model copy; DGC's claim is about the uplink, which
/// the records count separately (`bits_up`).
///
/// **Stepsize**: no theory in the paper; the theory rule here is $(1 - m)$ times EF21's
/// $1/(L + \tilde L\sqrt{\beta/\theta})$ at $\alpha = k/d$ of the sparsest stage (momentum
/// $m$ multiplies the effective step by $1/(1 - m)$). With $s = 0$, $m = 0$ and no clipping,
/// DGC is GD bit for bit (tested).
///
/// ```
/// use squeeze_methods::star::dgc::{Dgc, DgcOptions};
/// use squeeze_methods::{GradSource, ServerMethod, Stepsize};
/// let opts = DgcOptions { sparsity: 0.99, momentum: 0.9, ..DgcOptions::default() };
/// let m = Dgc::new(opts.clone(), Stepsize::default(), GradSource::Full).unwrap();
/// assert!(<Dgc as ServerMethod<f32>>::describe(&m).starts_with("dgc(sparsity=0.99"));
/// // Sparsity must be in [0, 1).
/// let bad = DgcOptions { sparsity: 1.0, ..opts };
/// assert!(Dgc::new(bad, Stepsize::default(), GradSource::Full).is_err());
/// ```
#[derive(Debug, Clone)]
pub struct Dgc {
    opts: DgcOptions,
    stepsize: Stepsize,
    grad: GradSource,
}

/// DGC's hyperparameters (defaults: the paper's).
#[derive(Debug, Clone, PartialEq)]
pub struct DgcOptions {
    /// Final sparsity $s \in [0, 1)$: the fraction of coordinates not sent (0.999).
    pub sparsity: f64,
    /// Sparsities of the warm-up stages, each in $[0, 1)$ (0.75, 0.9375, 0.984375, 0.996).
    pub warmup_sparsities: Vec<f64>,
    /// Rounds per warm-up stage (0: no warm-up).
    pub warmup_stage_rounds: u64,
    /// Momentum $m \in [0, 1)$ (0.9).
    pub momentum: f64,
    /// Clipping threshold $c > 0$ (applied as $c/\sqrt n$); `None`: no clipping.
    pub clip_norm: Option<f64>,
    /// Threshold sampling and the hierarchical cap (1 %, at least 1024 samples, cap 1.3).
    pub sampling: Sampling,
}

/// The paper's warm-up: sparsity rising exponentially, $1 - 4^{-j}$ for $j = 1 … 4$
/// (99.6 % for $1 - 4^{-4}$ as the paper rounds it).
pub const PAPER_WARMUP: [f64; 4] = [0.75, 0.9375, 0.984375, 0.996];

impl Default for DgcOptions {
    fn default() -> Self {
        Self {
            sparsity: 0.999,
            warmup_sparsities: PAPER_WARMUP.to_vec(),
            warmup_stage_rounds: 0,
            momentum: 0.9,
            clip_norm: None,
            sampling: Sampling {
                fraction: 0.01,
                min_samples: 1024,
                cap: 1.3,
            },
        }
    }
}

impl DgcOptions {
    /// The sparsity of `round`: the warm-up stage's, then the final one.
    pub fn sparsity_at(&self, round: u64) -> f64 {
        if self.warmup_stage_rounds == 0 {
            return self.sparsity;
        }
        let stage = round / self.warmup_stage_rounds;
        usize::try_from(stage)
            .ok()
            .and_then(|j| self.warmup_sparsities.get(j))
            .copied()
            .unwrap_or(self.sparsity)
    }

    /// Check every parameter's domain (errors name the key and the fix).
    pub fn validate(&self) -> Result<(), ParamError> {
        let sparsity = |param, s: f64| {
            ParamError::require(
                (0.0..1.0).contains(&s),
                "dgc",
                param,
                s,
                "a sparsity is the fraction of coordinates not sent, in [0, 1): 0.999 sends \
                 0.1 % (0 sends everything)",
            )
        };
        sparsity("sparsity", self.sparsity)?;
        for &s in &self.warmup_sparsities {
            sparsity("warmup_sparsities", s)?;
        }
        let m = self.momentum;
        ParamError::require(
            (0.0..1.0).contains(&m),
            "dgc",
            "momentum",
            m,
            "the momentum must be in [0, 1), e.g. momentum = 0.9 (0: no momentum)",
        )?;
        if let Some(c) = self.clip_norm {
            ParamError::require(
                c.is_finite() && c > 0.0,
                "dgc",
                "clip_norm",
                c,
                "the clipping threshold must be finite and > 0 (remove clip_norm to turn \
                 clipping off)",
            )?;
        }
        let f = self.sampling.fraction;
        ParamError::require(
            f > 0.0 && f <= 1.0,
            "dgc",
            "sample_fraction",
            f,
            "the sampled fraction of coordinates must be in (0, 1], e.g. 0.01 (the paper \
             samples 0.1 %–1 %)",
        )?;
        ParamError::require(
            self.sampling.min_samples >= 1,
            "dgc",
            "min_samples",
            self.sampling.min_samples,
            "at least one sample is needed, e.g. min_samples = 1024",
        )?;
        let c = self.sampling.cap;
        ParamError::require(
            c.is_finite() && c >= 1.0,
            "dgc",
            "hierarchical_cap",
            c,
            "the cap must be ≥ 1 (1.3: exact top-k once 30 % more than k pass the threshold)",
        )
    }

    /// The smallest fraction $k/d$ kept in any stage (the theory stepsize's α).
    fn alpha(&self, d: usize) -> f64 {
        let stages = if self.warmup_stage_rounds > 0 {
            &self.warmup_sparsities[..]
        } else {
            &[]
        };
        stages
            .iter()
            .chain([&self.sparsity])
            .map(|&s| target(s, d) as f64 / d as f64)
            .fold(1.0, f64::min)
    }
}

/// DGC worker state: momentum, accumulation and the two streams.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct DgcWorker<S: Scalar> {
    /// Momentum $u_i$ (masked where $v_i$ was sent).
    pub u: Vec<S>,
    /// Accumulation $v_i$ (what has not been sent yet).
    pub v: Vec<S>,
    /// Threshold-sampling stream (`Purpose::Compression`, worker $i$).
    pub rng: SqueezeRng,
    /// Stochastic-gradient state.
    pub grad: GradState,
}

/// DGC server state $(x, \gamma)$; `avg` is working memory for the mean message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct DgcServer<S: Scalar> {
    /// Model $x$ and resolved stepsize $\gamma$ (keys `x`, `gamma`).
    #[serde(flatten)]
    pub model: ModelServer<S>,
    /// The mean of the messages (rebuilt every round; not state).
    #[serde(skip)]
    pub avg: Vec<S>,
}

impl<S: Scalar> ServerState<S> for DgcServer<S> {
    /// The dense model ([`ModelServer`]).
    fn broadcast(&mut self, round: u64, down: &mut Message<S>) -> Result {
        self.model.broadcast(round, down)
    }

    /// `avg ← (1/n) Σ_i m_i` in worker order, then `x ← x − γ avg`.
    fn absorb(&mut self, round: u64, ups: &[Message<S>]) -> Result {
        let m = &mut self.model;
        self.avg.resize(m.x.len(), S::ZERO);
        self.avg.fill(S::ZERO);
        add_mean(&mut self.avg, round, ups)?;
        step(&mut m.x, &self.avg, m.gamma, round)
    }

    fn model(&self) -> &[S] {
        self.model.model()
    }
}

impl Dgc {
    /// DGC with `opts` (validated), a stepsize rule and the workers' gradients.
    pub fn new(opts: DgcOptions, stepsize: Stepsize, grad: GradSource) -> Result<Self> {
        stepsize.validate()?;
        opts.validate()?;
        Ok(Self {
            opts,
            stepsize,
            grad,
        })
    }

    /// The hyperparameters.
    pub fn options(&self) -> &DgcOptions {
        &self.opts
    }
}

impl<S: Scalar> ServerMethod<S> for Dgc {
    type Worker = DgcWorker<S>;
    type Server = DgcServer<S>;

    fn describe(&self) -> String {
        let o = &self.opts;
        let warmup = if o.warmup_stage_rounds > 0 {
            format!(
                ", warmup={:?} × {} rounds",
                o.warmup_sparsities, o.warmup_stage_rounds
            )
        } else {
            String::new()
        };
        let clip = o.clip_norm.map_or(String::new(), |c| format!(", clip={c}"));
        format!(
            "dgc(sparsity={}, momentum={}{warmup}{clip}, samples={}·d ≥ {}, cap={}, {:?}, {:?})",
            o.sparsity,
            o.momentum,
            o.sampling.fraction,
            o.sampling.min_samples,
            o.sampling.cap,
            self.stepsize,
            self.grad
        )
    }

    fn init(&self, problem: &Problem<S>, x0: &[S], seed: u64) -> Result<InitOf<Self, S>> {
        let d = checked_dim(problem, x0)?;
        let m = self.opts.momentum;
        let mut step =
            self.stepsize
                .report("dgc", Some(self.opts.alpha(d)), problem.smoothness())?;
        if let Some(t) = step.theory.as_mut() {
            step.gamma *= 1.0 - m;
            t.formula = format!(
                "(1 − m)·multiplier / (L + L̃·sqrt(B/A)), A = θ, B = β of α = k/d at the sparsest \
                 stage (1/L when α = 1), m = {m}"
            );
        }
        let workers = GradState::each(problem, seed, self.grad, |i, grad| DgcWorker {
            u: vec![S::ZERO; d],
            v: vec![S::ZERO; d],
            rng: stream(seed, Purpose::Compression, i),
            grad,
        })?;
        let server = DgcServer {
            model: ModelServer::at(x0, step.gamma),
            avg: vec![S::ZERO; d],
        };
        Ok(Init::silent(server, workers, 0).with_stepsize(step))
    }

    fn worker_round(&self, worker: &mut Self::Worker, ctx: &mut WorkerCtx<'_, S>) -> Result {
        sampled_grad_at("dgc", &mut worker.grad, ctx)?;
        let (i, round) = (ctx.worker, ctx.round);
        let b = &mut *ctx.buffers;
        if let Some(c) = self.opts.clip_norm {
            Clip::new(c / (ctx.n_workers as f64).sqrt())?
                .clip_in_place(&mut b.grad)
                .map_err(compress_err(i, round, "a local gradient"))?;
        }
        // Momentum correction: accumulate the velocity, not the gradient.
        let m = S::from_f64(self.opts.momentum);
        for ((uj, vj), &gj) in worker.u.iter_mut().zip(&mut worker.v).zip(&b.grad) {
            *uj = m * *uj + gj;
            *vj += *uj;
        }
        ensure_finite(&worker.v, "the accumulated momentum v", round)?;
        let k = target(self.opts.sparsity_at(round), worker.v.len());
        select::select(
            &worker.v,
            k,
            &self.opts.sampling,
            &mut worker.rng,
            &mut b.scratch,
            &mut b.spare,
            ctx.up,
        )
        .map_err(compress_err(i, round, "the accumulated momentum v"))?;
        // Momentum factor masking: what was sent leaves v and u.
        match ctx.up {
            Message::Sparse { indices, .. } => {
                for &j in indices.iter() {
                    let j = j as usize;
                    if let (Some(vj), Some(uj)) = (worker.v.get_mut(j), worker.u.get_mut(j)) {
                        (*vj, *uj) = (S::ZERO, S::ZERO);
                    }
                }
            }
            _ => {
                worker.v.fill(S::ZERO);
                worker.u.fill(S::ZERO);
            }
        }
        Ok(())
    }
}

// ---- registry entry (name, params, build): see `crate::registry` ----

/// A constructor error under its own key (`method.sparsity`, …).
fn dgc_err(e: MethodError) -> crate::spec::MethodConfigError {
    match e {
        MethodError::Param(p) if p.component == "dgc" => {
            crate::spec::MethodConfigError::at(p.param, p.to_string())
        }
        e => crate::spec::method_err(e),
    }
}

const STAGES_HINT: &str = "dgc warms up by sparsity stages: warmup_sparsities = [0.75, 0.9375, \
     0.984375, 0.996] (the default) with warmup_stage_rounds = N rounds per stage";

crate::spec::method_entry! {
    DgcSpec(DgcParams {
        stepsize,
        gradient,
        /// Final sparsity s ∈ [0, 1), the fraction of coordinates not sent (default 0.999; 0 sends everything, densely).
        sparsity: Option<f64>,
        /// Sparsity of each warm-up stage, in [0, 1) (default the paper's [0.75, 0.9375, 0.984375, 0.996]; used when warmup_stage_rounds > 0).
        warmup_sparsities: Option<Vec<f64>>,
        /// Rounds per warm-up stage (default 0: the final sparsity from round 0).
        warmup_stage_rounds: u64,
        /// Momentum m ∈ [0, 1) of the workers' momentum correction (default 0.9).
        momentum: Option<f64>,
        /// Local gradient clipping ‖g_i‖ ≤ clip_norm/√n (default: no clipping).
        clip_norm: Option<f64>,
        /// Fraction of coordinates sampled to estimate the threshold, in (0, 1] (default 0.01).
        sample_fraction: Option<f64>,
        /// Minimum number of samples, ≥ 1 (default 1024; with d at most this the threshold is exact).
        min_samples: Option<usize>,
        /// Cap c ≥ 1: when more than c·k coordinates pass the sampled threshold, the exact top-k of them is sent (default 1.3).
        hierarchical_cap: Option<f64>,
    }): Star "dgc",
    summary = "Deep Gradient Compression: momentum correction, sampled top-k of the accumulation with momentum masking, sparsity warm-up [Lin et al. 2018]",
    example = "sparsity = 0.9\nmomentum = 0.5\nwarmup_sparsities = [0.5, 0.75]\nwarmup_stage_rounds = 3\nsample_fraction = 0.1\nmin_samples = 8",
    hints = [
        (
            "compressor",
            "dgc selects its own coordinates (sampled top-k of the accumulated momentum): \
             remove the compressor and set sparsity, e.g. sparsity = 0.999",
        ),
        ("warmup_rounds", STAGES_HINT),
        ("compressor_schedule", STAGES_HINT),
    ],
    |p, ctx, sink| {
        let d = DgcOptions::default();
        let opts = DgcOptions {
            sparsity: p.sparsity.unwrap_or(d.sparsity),
            warmup_sparsities: p.warmup_sparsities.clone().unwrap_or(d.warmup_sparsities),
            warmup_stage_rounds: p.warmup_stage_rounds,
            momentum: p.momentum.unwrap_or(d.momentum),
            clip_norm: p.clip_norm,
            sampling: Sampling {
                fraction: p.sample_fraction.unwrap_or(d.sampling.fraction),
                min_samples: p.min_samples.unwrap_or(d.sampling.min_samples),
                cap: p.hierarchical_cap.unwrap_or(d.sampling.cap),
            },
        };
        let m = Dgc::new(opts, p.stepsize, p.gradient.unwrap_or_default()).map_err(dgc_err)?;
        sink.star(m)
    }
}

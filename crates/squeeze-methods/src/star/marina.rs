//! MARINA (Gorbunov, Burlachenko, Li, Richtárik, ICML 2021; arXiv 2102.07845).

use serde::{Deserialize, Serialize};
use squeeze_core::{Compressor, Message, ParamError, Purpose, Scalar, SqueezeRng, round_seed};
use squeeze_problems::Problem;

use crate::method::ServerState;
use crate::method::{
    InitOf, MethodError, Result, ServerMethod, WorkerCtx, compressed_dim, full_grad_init,
};
use crate::star::server::{StepServer, local_grad_at};
use crate::star::three_pc::Parked;
use crate::stepsize::{Stepsize, StepsizeReport, TheoryConstants};
use crate::three_point::compress_up;

/// MARINA: compressed gradient differences with a shared coin that occasionally resends full
/// gradients (algorithms.md §6.3).
///
/// $$x^{t+1} = x^t - \gamma g^t;\quad c_t \sim \mathrm{Bernoulli}(p):\quad
/// g^{t+1} = \begin{cases} \tfrac1n\sum_i \nabla f_i(x^{t+1}) & c_t = 1,\cr
/// g^t + \tfrac1n\sum_i \mathcal{Q}_i(\nabla f_i(x^{t+1}) - \nabla f_i(x^t)) & c_t = 0,\end{cases}$$
///
/// $\mathcal{Q}_i \in U(\omega)$ unbiased (Rand-K scaled, Perm-K, …; a compressor without ω is
/// rejected). The coin is shared: every worker and the server draw it from the round seed
/// (`Purpose::Shared`), so a coin round has every worker send its dense gradient.
/// $g^0 = \nabla f(x^0)$ (dense, charged only with `count_init`, as EF21's full init).
///
/// Stepsize (the 3PC code's rules, algorithms.md §6.3; times the multiplier):
///
/// * independent compressors (Rand-K, natural, … — any unbiased one):
///   $\gamma = 1/(L + \tilde L\sqrt{(1-p)\thinspace\omega/(p\thinspace n)})$;
/// * Perm-K (correlated: the workers' blocks partition the coordinates): $\gamma = 1/(L +
///   L_\pm\sqrt{(1-p)/p})$ with the Hessian variance $L_\pm^2 = \lambda_{\max}(\overline{A^2} -
///   \bar A^2)$, which the 3PC quadratics expose (`Smoothness::l_pm`). Where the problem does not,
///   $L_\pm$ is replaced by its bound $\tilde L$ (valid for every problem:
///   $\tfrac1n\sum_i\lVert\nabla f_i(x)-\nabla f_i(y)\rVert^2 - \lVert\nabla f(x)-\nabla
///   f(y)\rVert^2 \le \tilde L^2\lVert x-y\rVert^2$), a smaller, still safe stepsize.
///
/// $p$ defaults to $1/(1+\omega)$, which is $K/d$ for Rand-K and Perm-K.
///
/// Wire: uplink the dense gradient (coin rounds) or $\mathcal{Q}_i$'s message; downlink the dense
/// model. The worker keeps the buffers of both kinds of message (one parked), so steady-state
/// rounds allocate nothing, coin rounds included.
///
/// ```
/// use squeeze_compress::parse;
/// use squeeze_methods::{Marina, Stepsize};
/// assert!(Marina::<f64>::new(parse("rand_k:k=2").unwrap(), Stepsize::default(), Some(0.5), false).is_ok());
/// let e = Marina::<f64>::new(parse("rand_k:k=2").unwrap(), Stepsize::default(), Some(0.0), false).unwrap_err();
/// assert!(e.to_string().contains("p"));
/// ```
#[derive(Debug)]
pub struct Marina<S: Scalar> {
    compressor: Box<dyn Compressor<S>>,
    stepsize: Stepsize,
    p: Option<f64>,
    count_init: bool,
}

/// MARINA server state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct MarinaServer<S: Scalar> {
    /// Model x, gradient estimate g, resolved stepsize γ (keys `x`, `g`, `gamma`).
    #[serde(flatten)]
    pub step: StepServer<S>,
    /// Resolved coin probability p.
    pub p: f64,
    /// Experiment seed (the server redraws the shared coin from the round seed).
    pub seed: u64,
}

impl<S: Scalar> ServerState<S> for MarinaServer<S> {
    /// `x ← x − γ g`, then the dense model ([`StepServer`]).
    fn broadcast(&mut self, round: u64, down: &mut Message<S>) -> Result {
        self.step.broadcast(round, down)
    }

    /// On a coin round `g ← 0` first; then `g ← g + (1/n) Σ_i m_i` ([`StepServer`]).
    fn absorb(&mut self, round: u64, ups: &[Message<S>]) -> Result {
        if marina_coin(round_seed(self.seed, round), self.p) {
            self.step.g.fill(S::ZERO);
        }
        self.step.absorb(round, ups)
    }

    fn model(&self) -> &[S] {
        self.step.model()
    }
}

/// MARINA worker state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct MarinaWorker<S: Scalar> {
    /// ∇f_i at the previous model.
    pub prev: Vec<S>,
    /// Resolved p (copied from the server).
    pub p: f64,
    /// Compression stream.
    pub rng: SqueezeRng,
    /// The uplink buffers not in use this round (the dense message during compressed rounds,
    /// the compressed one during coin rounds): working memory, never serialised, ignored by
    /// `==`.
    #[serde(skip)]
    pub parked: Parked<S>,
}

/// The shared coin of `round_seed`: true with probability `p` (the same for all parties).
pub fn marina_coin(round_seed: u64, p: f64) -> bool {
    // A stream index of its own, so the coin is independent of shared-seed compressors.
    SqueezeRng::stream(round_seed, Purpose::Shared, 0x6d61_7269_6e61).bernoulli(p)
}

impl<S: Scalar> Marina<S> {
    /// MARINA with an unbiased `compressor`; `p = None` is $1/(1+\omega)$.
    pub fn new(
        compressor: Box<dyn Compressor<S>>,
        stepsize: Stepsize,
        p: Option<f64>,
        count_init: bool,
    ) -> Result<Self> {
        stepsize.validate()?;
        if let Some(p) = p
            && !(p > 0.0 && p <= 1.0)
        {
            return Err(ParamError::new(
                "marina",
                "p",
                p,
                "the full-gradient probability p must be in (0, 1] (p = 1 is GD; default K/d)",
            )
            .into());
        }
        Ok(Self {
            compressor,
            stepsize,
            p,
            count_init,
        })
    }

    /// Whether the compressor is Perm-K (correlated across workers; its own stepsize rule).
    pub fn is_perm_k(&self) -> bool {
        self.compressor.spec().starts_with("perm_k:")
    }

    /// (ω, p, γ) for `problem`.
    pub fn resolve(&self, problem: &Problem<S>) -> Result<(f64, f64, f64), MethodError> {
        let d = problem.dim();
        let omega = self.compressor.class(d).omega().ok_or_else(|| {
            MethodError::Incompatible(format!(
                "marina needs an unbiased compressor (rand_k, perm_k, natural, …); {} is not",
                self.compressor.spec()
            ))
        })?;
        let p = self.p.unwrap_or(1.0 / (1.0 + omega));
        let sm = problem.smoothness();
        let n = problem.n_workers() as f64;
        let gamma = match self.stepsize {
            Stepsize::Constant { gamma } => gamma,
            Stepsize::Theory { multiplier } if self.is_perm_k() => {
                let l_pm = sm.l_pm.unwrap_or(sm.l_tilde);
                multiplier / (sm.l + l_pm * ((1.0 - p) / p).sqrt())
            }
            Stepsize::Theory { multiplier } => {
                multiplier / (sm.l + sm.l_tilde * ((1.0 - p) / p * omega / n).sqrt())
            }
        };
        Ok((omega, p, gamma))
    }

    /// What [`Self::resolve`]'s γ came from (`summary.json`).
    fn report(&self, problem: &Problem<S>, omega: f64, p: f64, gamma: f64) -> StepsizeReport {
        let sm = problem.smoothness();
        let mut step = StepsizeReport::constant(self.stepsize, gamma);
        if let Stepsize::Theory { .. } = self.stepsize {
            let perm = self.is_perm_k();
            let formula = if perm {
                "multiplier / (L + L±·sqrt((1 − p)/p)) (L± = L̃ where undefined)"
            } else {
                "multiplier / (L + L̃·sqrt((1 − p)/p · ω/n))"
            };
            let mut t = TheoryConstants::of(sm, formula);
            (t.omega, t.p) = (Some(omega), Some(p));
            t.l_pm = if perm { sm.l_pm } else { None };
            step.theory = Some(t);
        }
        step
    }
}

impl<S: Scalar> ServerMethod<S> for Marina<S> {
    type Worker = MarinaWorker<S>;
    type Server = MarinaServer<S>;

    fn describe(&self) -> String {
        format!(
            "marina({}, {:?}, p={:?})",
            self.compressor.spec(),
            self.stepsize,
            self.p
        )
    }

    fn init(&self, problem: &Problem<S>, x0: &[S], seed: u64) -> Result<InitOf<Self, S>> {
        compressed_dim(problem, x0, self.compressor.as_ref(), "marina")?;
        let (omega, p, gamma) = self.resolve(problem)?;
        let step = self.report(problem, omega, p, gamma);
        let init = full_grad_init(problem, x0, self.count_init)?;
        Ok(init
            .start(
                seed,
                |prev, rng, _| MarinaWorker {
                    prev,
                    p,
                    rng,
                    parked: Parked::default(),
                },
                |g, _| MarinaServer {
                    step: StepServer::at(x0, g, gamma),
                    p,
                    seed,
                },
            )
            .with_stepsize(step))
    }

    fn worker_round(&self, worker: &mut Self::Worker, ctx: &mut WorkerCtx<'_, S>) -> Result {
        local_grad_at("marina", ctx)?;
        let ids = ctx.ids();
        let b = &mut *ctx.buffers;
        let coin = marina_coin(ctx.round_seed, worker.p);
        // Keep the dense and the compressed message's buffers apart (one of them parked).
        if coin != matches!(ctx.up, Message::Dense { .. }) {
            core::mem::swap(ctx.up, &mut worker.parked.0);
        }
        if coin {
            ctx.up.dense_parts().extend_from_slice(&b.grad);
        } else {
            for ((w, &g), &q) in b.work.iter_mut().zip(&b.grad).zip(&worker.prev) {
                *w = g - q;
            }
            compress_up(
                self.compressor.as_ref(),
                &b.work,
                &mut worker.rng,
                &mut b.scratch,
                ids,
                "the gradient difference",
                ctx.up,
            )?;
        }
        worker.prev.copy_from_slice(&b.grad);
        Ok(())
    }
}

// ---- registry entry (name, params, build): see `crate::registry` ----

crate::spec::method_entry! {
    MarinaSpec(MarinaParams {
        compressor, stepsize,
        /// Probability of a full-gradient round (default 1/(1+ω)).
        p: Option<f64>,
        count_init,
    }): Star "marina",
    summary = "MARINA: shared coin p: full gradients, else Q(∇f_i(x⁺) − ∇f_i(x)) (unbiased compressor, p)",
    example = "compressor = \"rand_k:k=3\"",
    |p, ctx, sink| {
        let c = p.main_compressor::<S>(ctx.dim)?;
        if c.class(ctx.dim).omega().is_none() {
            return Err(s::MethodConfigError::at(
                "compressor",
                format!(
                    "marina needs an unbiased compressor (ω), e.g. \"rand_k:k=1\" or \"perm_k\"; {} is not",
                    c.spec()
                ),
            )
            .into());
        }
        sink.star(Marina::new(c, p.stepsize, p.p, p.count_init).map_err(s::method_err)?)
    }
}

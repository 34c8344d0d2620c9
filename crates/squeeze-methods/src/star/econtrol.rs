//! EControl (Gao, Islamov, Stich, ICLR 2024; arXiv 2311.05645).

use serde::{Deserialize, Serialize};
use squeeze_core::{Compressor, Message, ParamError, Purpose, Scalar, SqueezeRng};
use squeeze_problems::Problem;

use crate::gossip::{GradSource, GradState};
use crate::method::ServerState;
use crate::method::{
    InitOf, Result, ServerMethod, WorkerCtx, add_mean, broadcast_model, round_of, step,
};
use crate::star::ef21::{CompressedStart, GradInit};
use crate::star::server::sampled_grad_at;
use crate::stepsize::Stepsize;

/// EControl: an EF21-style shift $h_i$ and an EF14-style error $e_i$, the error fed back with
/// a damping factor $\eta$ ("error control"); one compressed message per round builds both.
///
/// $$\Delta_i = \mathcal{C}(\eta e_i + g_i - h_i),\quad e_i \leftarrow e_i + g_i - h_i - \Delta_i,
/// \quad h_i \leftarrow h_i + \Delta_i,\quad x^{t+1} = x^t - \gamma\thinspace(h +
/// \tfrac1n\textstyle\sum_i\Delta_i),
/// \quad h \leftarrow h + \tfrac1n\textstyle\sum_i \Delta_i,$$
///
/// with $g_i$ the worker's (stochastic) gradient at $x^t$ (`gradient`: full, minibatch or
/// noisy, [`GradSource`]) and $e_i^0 = 0$ (algorithms.md §3).
///
/// Round alignment: round $t$ broadcasts $x^t$, the workers evaluate at $x^t$, and `absorb`
/// steps to $x^{t+1}$ with the *new* shift (EF14's alignment). EF21 instead steps first and
/// evaluates at the new point, so:
///
/// * with $\eta = 0$ and $h_i^0 = 0$ ([`GradInit::Zero`]) EControl's first round sends
///   $\mathcal{C}(g_i^0)$ — exactly what EF21 with [`GradInit::Compressed`] sends at init — and
///   from then on both run the same operations: the iterates agree **bit for bit** after every
///   round (any data, any deterministic compressor; tested in
///   `squeeze-driver/tests/suite/econtrol_clip21_marina.rs`), while EF21 has sent one message more
///   (its init message is charged at round 0). This is the spec's "η = 0 and
///   $h_i^0 = \mathcal{C}(g_i^0)$ ≡ EF21" with its $h^0$ being our shift *after* the first round.
/// * [`GradInit::Full`] (the default, the spec's $h_i^0 = g_i^0$ sent uncompressed, charged
///   only with `count_init`) and [`GradInit::Compressed`] ($h_i^0 = \mathcal{C}(g_i^0)$,
///   always charged) are also available.
///
/// Hyperparameters. $\eta \ge 0$; default $\eta = \alpha/20$ ([`ETA_DEFAULT_DIVISOR`]) with
/// $\alpha$ the compressor's contraction at dimension $d$. The theory's "$\eta = \delta/400$"
/// (reviewers' report, $\delta = \alpha$; UNCONFIRMED, the paper tunes $\eta$) converges but
/// slowly: the error $e_i$ is fed back at rate $\eta$, and on the X3 problems ‖∇f‖² after 3,000
/// rounds falls from ≈ 2e-7 at $\alpha/400$ to ≈ 3e-17 at $\alpha/20$. $\alpha/20$ is the largest
/// $\alpha/c$ of the sweep `scripts/sweeps/x3_eta_default.py` (c ∈ {400, 100, 40, 20, 10, 4, 2, 1};
/// 11 problems: X3 quadratics at γ·L_max ∈ {0.2, 0.5, 0.65}, ζ ∈ {0, 1, 10, 100}, noisy
/// gradients, logistic regression at 1× and 4× the theory stepsize) that converges wherever
/// $\alpha/400$ does; $\alpha/10$ already diverges at γ·L_max = 0.65, ζ = 0 (docs/reproductions.md,
/// X3). Stepsize: the theory constants are UNCONFIRMED, so the theory rule is EF21's
/// $\gamma = 1/(L + \tilde L\sqrt{\beta/\theta})$ (times the multiplier).
///
/// Wire: uplink $\Delta_i$; downlink the dense model. Memory $2d$ per worker.
///
/// ```
/// use squeeze_compress::parse;
/// use squeeze_methods::{Econtrol, GradInit, GradSource, Stepsize};
/// let m = Econtrol::<f64>::new(parse("top_k:k=1").unwrap(), Stepsize::default(), Some(0.1),
///     GradInit::Full, false, GradSource::Full).unwrap();
/// assert!(m.describe_short().starts_with("econtrol"));
/// // η < 0 is rejected with a hint.
/// let e = Econtrol::<f64>::new(parse("top_k:k=1").unwrap(), Stepsize::default(), Some(-1.0),
///     GradInit::Full, false, GradSource::Full).unwrap_err();
/// assert!(e.to_string().contains("eta"));
/// ```
#[derive(Debug)]
pub struct Econtrol<S: Scalar> {
    start: CompressedStart<S>,
    eta: Option<f64>,
    grad: GradSource,
}

/// EControl server state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct EcontrolServer<S: Scalar> {
    /// Model x.
    pub x: Vec<S>,
    /// h = (1/n) Σ h_i.
    pub h: Vec<S>,
    /// Resolved stepsize γ.
    pub gamma: f64,
}

impl<S: Scalar> ServerState<S> for EcontrolServer<S> {
    fn broadcast(&mut self, round: u64, down: &mut Message<S>) -> Result {
        broadcast_model(&self.x, round, down)
    }

    /// `h ← h + (1/n) Σ_i m_i`, then `x ← x − γ h`.
    fn absorb(&mut self, round: u64, ups: &[Message<S>]) -> Result {
        add_mean(&mut self.h, round, ups)?;
        step(&mut self.x, &self.h, self.gamma, round)
    }

    fn model(&self) -> &[S] {
        &self.x
    }
}

/// EControl worker state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct EcontrolWorker<S: Scalar> {
    /// Error e_i (what was not sent yet).
    pub e: Vec<S>,
    /// Shift h_i (gradient estimate).
    pub h: Vec<S>,
    /// Resolved η.
    pub eta: f64,
    /// Compression stream.
    pub rng: SqueezeRng,
    /// Stochastic-gradient state (sampler, stream).
    pub grad: GradState,
}

/// The default damping is $\eta = \alpha/$`ETA_DEFAULT_DIVISOR` (see [`Econtrol`] for how it
/// was chosen).
///
/// ```
/// use squeeze_compress::parse;
/// use squeeze_methods::{Econtrol, GradInit, GradSource, Stepsize};
/// use squeeze_methods::star::econtrol::ETA_DEFAULT_DIVISOR;
/// let m = Econtrol::<f64>::new(parse("top_k:k=20").unwrap(), Stepsize::default(), None,
///     GradInit::Full, false, GradSource::Full).unwrap();
/// assert_eq!(m.eta(200).unwrap(), 0.1 / ETA_DEFAULT_DIVISOR); // α = K/d = 0.1
/// assert_eq!(ETA_DEFAULT_DIVISOR, 20.0);
/// ```
pub const ETA_DEFAULT_DIVISOR: f64 = 20.0;

impl<S: Scalar> Econtrol<S> {
    /// EControl with `compressor`; `eta = None` is the default $\alpha/20$
    /// ([`ETA_DEFAULT_DIVISOR`]).
    pub fn new(
        compressor: Box<dyn Compressor<S>>,
        stepsize: Stepsize,
        eta: Option<f64>,
        init: GradInit,
        count_init: bool,
        grad: GradSource,
    ) -> Result<Self> {
        let start = CompressedStart::new(compressor, stepsize, init, count_init)?;
        if let Some(eta) = eta {
            squeeze_feedback::econtrol::check_eta(eta)?;
        }
        Ok(Self { start, eta, grad })
    }

    /// Short name with the compressor, e.g. `econtrol(top_k:k=1)`.
    pub fn describe_short(&self) -> String {
        format!("econtrol({})", self.start.compressor.spec())
    }

    /// η for dimension `d` (the default reads α from the compressor).
    pub fn eta(&self, d: usize) -> Result<f64> {
        match self.eta {
            Some(eta) => Ok(eta),
            None => match self.start.compressor.class(d).alpha() {
                Some(alpha) => Ok(alpha / ETA_DEFAULT_DIVISOR),
                None => Err(ParamError::new(
                    "econtrol",
                    "eta",
                    "default",
                    "the default η = α/20 needs a contractive compressor; set eta explicitly (e.g. eta = 0.01)",
                )
                .into()),
            },
        }
    }
}

impl<S: Scalar> ServerMethod<S> for Econtrol<S> {
    type Worker = EcontrolWorker<S>;
    type Server = EcontrolServer<S>;

    fn describe(&self) -> String {
        format!(
            "econtrol({}, {:?}, eta={:?}, init={:?}, gradient={:?})",
            self.start.compressor.spec(),
            self.start.stepsize,
            self.eta,
            self.start.init,
            self.grad
        )
    }

    fn init(&self, problem: &Problem<S>, x0: &[S], seed: u64) -> Result<InitOf<Self, S>> {
        let (d, step, mut est) = self.start.begin("econtrol", problem, x0)?;
        let gamma = step.gamma;
        let eta = self.eta(d)?;
        let mut workers = Vec::with_capacity(problem.n_workers());
        for (i, o) in problem.oracles().iter().enumerate() {
            let mut rng = SqueezeRng::stream(seed, Purpose::Compression, i as u64);
            let mut grad = GradState::new(self.grad, o.as_ref(), seed, i)?;
            let hi = est.estimate(i, &mut rng, |out| grad.grad(o.as_ref(), x0, out, 0))?;
            workers.push(EcontrolWorker {
                e: vec![S::ZERO; d],
                h: hi,
                eta,
                rng,
                grad,
            });
        }
        let server = |h| EcontrolServer {
            x: x0.to_vec(),
            h,
            gamma,
        };
        Ok(est.finish(server, workers).with_stepsize(step))
    }

    fn worker_round(&self, worker: &mut Self::Worker, ctx: &mut WorkerCtx<'_, S>) -> Result {
        sampled_grad_at("econtrol", &mut worker.grad, ctx)?;
        let r = round_of(ctx.ids());
        let b = &mut *ctx.buffers;
        // The EControl mechanism: grad ← g_i − h_i, Δ_i = C(η e_i + g_i − h_i), e_i, h_i.
        Ok(squeeze_feedback::econtrol::step_parts(
            self.start.compressor.as_ref(),
            worker.eta,
            &mut worker.e,
            &mut worker.h,
            &mut worker.rng,
            &mut b.grad,
            &r,
            &mut b.scratch,
            &mut b.work,
            ctx.up,
        )?)
    }
}

// ---- registry entry (name, params, build): see `crate::registry` ----

crate::spec::method_entry! {
    EcontrolSpec(EcontrolParams {
        compressor, stepsize,
        /// Error-feedback damping η ≥ 0 (default α/20, chosen by a sweep: see [`Econtrol`]).
        eta: Option<f64>,
        init, count_init, gradient,
    }): Star "econtrol",
    summary = "EControl: Δ_i = C(η e_i + g_i − h_i), error e_i and shift h_i (eta, init, gradient)",
    example = "compressor = \"top_k:k=1\"",
    |p, ctx, sink| {
        let c = p.main_compressor::<S>(ctx.dim)?;
        let m = Econtrol::new(
            c,
            p.stepsize,
            p.eta,
            p.init,
            p.count_init,
            p.gradient.unwrap_or_default(),
        )
        .map_err(s::method_err)?;
        sink.star(m)
    }
}

//! EF21 (Richtárik, Sokolov, Fatkhullin, NeurIPS 2021) and its variants as compositions:
//! [`Ef21Family`] is the one skeleton, a [`GradEstimator`] (full gradient, minibatch, PAGE) ×
//! the EF21 correction × a [`ServerRule`] (plain step, heavy ball).

pub mod bc;
pub mod hb;
pub mod page;
pub mod plus;
pub mod pp;
pub mod sgd;
mod start;

pub(crate) use start::CompressedStart;

use serde::{Deserialize, Serialize};
use squeeze_compress::TopK;
use squeeze_core::{Compressor, Message, ParamError, Purpose, Scalar, SqueezeRng};
use squeeze_problems::Problem;
use squeeze_problems::oracle::Candidates;

use crate::method::{
    InitOf, MethodError, Result, ServerMethod, WorkerCtx, dense_down, ensure_finite,
    grad_minus_estimate, message_err, round_of,
};
use crate::method::{MethodState, ServerState};
use crate::star::server::StepServer;
use crate::stepsize::{Stepsize, StepsizeReport};

/// How the workers' gradient estimates $g_i^0$ start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GradInit {
    /// $g_i^0 = \nabla f_i(x^0)$ sent uncompressed — the reference code's choice; its bits are
    /// counted only with `count_init`.
    #[default]
    Full,
    /// $g_i^0 = \mathcal{C}(\nabla f_i(x^0))$ — the paper's suggestion (bits always counted).
    Compressed,
    /// $g_i^0 = 0$ (nothing sent).
    Zero,
}

/// The EF21 skeleton, written once: every worker keeps an estimate $g_i$ of a gradient
/// estimator $v_i$ (the [`GradEstimator`] `E`) and sends only the compressed correction; the
/// server steps along its mean by the [`ServerRule`] `R`.
///
/// $$x^{t+1} = x^t - \gamma\thinspace d^t,\qquad c_i^t = \mathcal{C}(v_i(x^{t+1}) - g_i^t),\qquad
/// g_i^{t+1} = g_i^t + c_i^t,\qquad g^{t+1} = g^t + \tfrac1n\textstyle\sum_i c_i^t,$$
///
/// with $v_i = \nabla f_i$ ([`FullGrad`]: [`Ef21`]), a τ-nice minibatch gradient
/// ([`sgd::Minibatch`]: [`Ef21Sgd`](sgd::Ef21Sgd)) or the PAGE estimator
/// ([`page::Page`]: [`Ef21Page`](page::Ef21Page)), and $d^t = g^t$ ([`PlainStep`]) or the
/// heavy-ball $v^t$ ([`hb::HeavyBall`]: [`Ef21Hb`](hb::Ef21Hb)). The correction is the
/// mechanism's own update ([`squeeze_feedback::ef21::correct_with`]), so every variant sends
/// what a push-API loop over the same vectors sends. Partial participation
/// ([`pp::Ef21Pp`]) wraps [`Ef21`]; EF21+ ([`plus`]) and EF21-BC ([`bc`]) change the wire and
/// are methods of their own.
#[derive(Debug)]
pub struct Ef21Family<S: Scalar, E, R> {
    start: CompressedStart<S>,
    estimator: E,
    rule: R,
}

/// What each EF21 worker's estimate $g_i$ tracks: the vector $v_i$ whose correction
/// $v_i - g_i$ is compressed (the worker side of an [`Ef21Family`] variant).
pub trait GradEstimator<S: Scalar>: Send + Sync + core::fmt::Debug {
    /// Per-worker state: $g_i$, the compression stream and the estimator's own state.
    type Worker: MethodState;
    /// Registry name of the variant (errors and the stepsize rule name it).
    const NAME: &'static str;
    /// The correction's name in errors, e.g. "the correction ∇f_i − g_i".
    const CORRECTION: &'static str;
    /// The estimator's part of `describe` (", batch=…"); `init` is the family's init rule.
    fn describe(&self, init: GradInit) -> String;
    /// Check the estimator's parameters (none by default).
    fn validate(&self) -> Result<(), ParamError> {
        Ok(())
    }
    /// The worker states, in worker order, from EF21's ($g_i^0$ and the compression stream).
    fn workers(
        &self,
        problem: &Problem<S>,
        x0: &[S],
        seed: u64,
        ef21: Vec<Ef21Worker<S>>,
    ) -> Result<Vec<Self::Worker>>;
    /// `ctx.buffers.grad ← v_i(x) − g_i`, counting the gradient work; `Diverged` if it is not
    /// finite.
    fn correction(&self, worker: &mut Self::Worker, x: &[S], ctx: &mut WorkerCtx<'_, S>) -> Result;
    /// The EF21 part of the worker ($g_i$ and the compression stream).
    fn ef21(worker: &mut Self::Worker) -> &mut Ef21Worker<S>;
    /// `true` if [`GradEstimator::correction`] is exactly `grad_minus_estimate` of $g_i$
    /// ($v_i = \nabla f_i$), so that the worker round may fuse that pass with a Top-K
    /// compressor (EF21 + Top-K fused); `false` (the default) otherwise.
    const FUSES_GRAD: bool = false;
}

/// How the EF21 server steps (the server side of an [`Ef21Family`] variant); its state holds
/// EF21's ([`Ef21Server`]: x, g, γ).
pub trait ServerRule<S: Scalar>: Send + Sync + core::fmt::Debug {
    /// Server state: its [`ServerState`] broadcasts $x \leftarrow x - \gamma d$ and adds the
    /// round's mean correction to $g$.
    type Server: MethodState + ServerState<S>;
    /// The state from EF21's initial one.
    fn server(&self, ef21: Ef21Server<S>) -> Self::Server;
    /// Check the rule's parameters (none by default).
    fn validate(&self) -> Result<(), ParamError> {
        Ok(())
    }
    /// After $g$ absorbed the round's corrections.
    fn after_absorb(&self, _server: &mut Self::Server) {}
    /// `describe` of the variant around `inner`.
    fn describe(&self, inner: String) -> String {
        inner
    }
}

/// The plain EF21 step $x \leftarrow x - \gamma g$.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlainStep;

impl<S: Scalar> ServerRule<S> for PlainStep {
    type Server = Ef21Server<S>;

    fn server(&self, ef21: Ef21Server<S>) -> Ef21Server<S> {
        ef21
    }
}

/// $v_i = \nabla f_i$: the local gradient, fused with the subtraction where the oracle can.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FullGrad;

impl<S: Scalar> GradEstimator<S> for FullGrad {
    type Worker = Ef21Worker<S>;
    const NAME: &'static str = "ef21";
    const CORRECTION: &'static str = "the correction ∇f_i − g_i";
    const FUSES_GRAD: bool = true;

    fn describe(&self, init: GradInit) -> String {
        format!(", init={init:?}")
    }

    fn workers(
        &self,
        _: &Problem<S>,
        _: &[S],
        _: u64,
        ef21: Vec<Ef21Worker<S>>,
    ) -> Result<Vec<Ef21Worker<S>>> {
        Ok(ef21)
    }

    fn correction(
        &self,
        worker: &mut Ef21Worker<S>,
        x: &[S],
        ctx: &mut WorkerCtx<'_, S>,
    ) -> Result {
        // ∇f_i(x) − g_i straight into the gradient buffer (one d-vector of working memory,
        // which stays in cache as the engine reuses it for the next worker; one pass for
        // problems with an elementwise gradient).
        grad_minus_estimate(ctx, x, &worker.g, GRAD_WHAT)
    }

    fn ef21(w: &mut Ef21Worker<S>) -> &mut Ef21Worker<S> {
        w
    }
}

/// EF21: every worker keeps an estimate $g_i$ of its gradient and sends only the compressed
/// correction.
///
/// $$x^{t+1} = x^t - \gamma g^t,\qquad c_i^t = \mathcal{C}(\nabla f_i(x^{t+1}) - g_i^t),\qquad
/// g_i^{t+1} = g_i^t + c_i^t,\qquad g^{t+1} = g^t + \tfrac1n\textstyle\sum_i c_i^t.$$
///
/// Theory (nonconvex, $\mathcal{C} \in B(\alpha)$): with $\gamma \le 1/(L + \tilde L\sqrt{\beta/\theta})$,
/// $\theta = 1-\sqrt{1-\alpha}$, $\beta = (1-\alpha)/\theta$:
/// $\mathbb{E}\lVert\nabla f(\hat x^T)\rVert^2 \le 2\delta_0/(\gamma T) + G^0/(\theta T)$.
///
/// Wire: uplink $c_i$ (the compressor's message); downlink the dense model $x^{t+1}$ (not
/// counted in the papers' "#bits/n", recorded separately here).
///
/// Floating point: with the identity compressor EF21 equals GD in exact arithmetic; in floating
/// point $g_i + (\nabla f_i - g_i)$ rounds differently from $\nabla f_i$, so the two agree bit
/// for bit when every operation is exact (tested on a dyadic least-squares problem) and to
/// rounding otherwise (tested: within 1e-10 relative over 200 rounds of logistic regression,
/// observed ~1e-14; `squeeze-driver/tests/suite/equivalences.rs`).
///
/// [`Ef21Family`] with the full gradient and the plain step.
///
/// ```
/// use squeeze_compress::parse;
/// use squeeze_methods::{Ef21, GradInit, Stepsize};
/// let m = Ef21::<f64>::new(parse("top_k:k=1").unwrap(), Stepsize::Theory { multiplier: 1.0 }, GradInit::Full, false).unwrap();
/// assert!(m.describe_short().starts_with("ef21"));
/// ```
pub type Ef21<S> = Ef21Family<S, FullGrad, PlainStep>;

/// EF21 server state: $(x, g = \tfrac1n\sum_i g_i, \gamma)$.
pub type Ef21Server<S> = StepServer<S>;

/// EF21 worker state: the mechanism's own ([`squeeze_feedback::Ef21Worker`]: the estimate
/// $g_i$ and the compression stream), so a method run and a push-API loop share it.
pub use squeeze_feedback::Ef21Worker;

impl<S: Scalar> Ef21<S> {
    /// EF21 with `compressor`; the stepsize rule is resolved against the problem at `init`.
    pub fn new(
        compressor: Box<dyn Compressor<S>>,
        stepsize: Stepsize,
        init: GradInit,
        count_init: bool,
    ) -> Result<Self> {
        Self::compose(compressor, stepsize, init, count_init, FullGrad, PlainStep)
    }
}

impl<S: Scalar, E: GradEstimator<S>, R: ServerRule<S>> Ef21Family<S, E, R> {
    /// The variant with estimator `estimator` and server rule `rule`, its parameters checked
    /// in this order: the rule's, the stepsize, the estimator's.
    pub fn compose(
        compressor: Box<dyn Compressor<S>>,
        stepsize: Stepsize,
        init: GradInit,
        count_init: bool,
        estimator: E,
        rule: R,
    ) -> Result<Self> {
        rule.validate()?;
        let start = CompressedStart::new(compressor, stepsize, init, count_init)?;
        estimator.validate()?;
        Ok(Self {
            start,
            estimator,
            rule,
        })
    }

    /// Short name with the compressor, e.g. `ef21(top_k:k=1)`.
    pub fn describe_short(&self) -> String {
        format!("{}({})", E::NAME, self.start.compressor.spec())
    }

    /// The compressor.
    pub fn compressor(&self) -> &dyn Compressor<S> {
        self.start.compressor.as_ref()
    }

    /// γ for this problem (the theory rule reads α from the compressor at dimension d).
    pub fn gamma(&self, problem: &Problem<S>) -> Result<f64> {
        self.stepsize_report(problem).map(|r| r.gamma)
    }

    /// [`Self::gamma`] with the constants behind it.
    pub fn stepsize_report(&self, problem: &Problem<S>) -> Result<StepsizeReport> {
        self.start.stepsize_report(E::NAME, problem)
    }
}

impl<S: Scalar, E: GradEstimator<S>, R: ServerRule<S>> ServerMethod<S> for Ef21Family<S, E, R> {
    type Worker = E::Worker;
    type Server = R::Server;

    fn describe(&self) -> String {
        self.rule.describe(format!(
            "{}({}, {:?}{})",
            E::NAME,
            self.start.compressor.spec(),
            self.start.stepsize,
            self.estimator.describe(self.start.init)
        ))
    }

    fn init(&self, problem: &Problem<S>, x0: &[S], seed: u64) -> Result<InitOf<Self, S>> {
        let (_, step, mut est) = self.start.begin(E::NAME, problem, x0)?;
        let gamma = step.gamma;
        let mut workers = Vec::with_capacity(problem.n_workers());
        for (i, o) in problem.oracles().iter().enumerate() {
            let mut rng = SqueezeRng::stream(seed, Purpose::Compression, i as u64);
            let gi = est.estimate(i, &mut rng, |out| {
                o.grad(x0, out);
                Ok(o.n_samples() as u64)
            })?;
            ensure_finite(&gi, "the initial gradient", 0)?;
            workers.push(Ef21Worker { g: gi, rng });
        }
        let workers = self.estimator.workers(problem, x0, seed, workers)?;
        let server = |g| self.rule.server(Ef21Server::at(x0, g, gamma));
        Ok(est.finish(server, workers).with_stepsize(step))
    }

    fn worker_round(&self, worker: &mut Self::Worker, ctx: &mut WorkerCtx<'_, S>) -> Result {
        let x = dense_down(ctx.down, E::NAME)?;
        if E::FUSES_GRAD {
            let c = self.start.compressor.as_ref();
            if fused_top_k(c, x, parts(E::ef21(worker)), ctx, E::CORRECTION)? {
                return Ok(());
            }
        }
        self.estimator.correction(worker, x, ctx)?;
        let c = self.start.compressor.as_ref();
        correct_by_buffer(c, parts(E::ef21(worker)), ctx, E::CORRECTION)
    }

    fn absorb(&self, server: &mut Self::Server, round: u64, ups: &[Message<S>]) -> Result {
        server.absorb(round, ups)?;
        self.rule.after_absorb(server);
        Ok(())
    }
}

/// An EF21 worker's parts: ($g_i$, its compression stream).
fn parts<S: Scalar>(w: &mut Ef21Worker<S>) -> (&mut [S], &mut SqueezeRng) {
    (&mut w.g, &mut w.rng)
}

/// What a non-finite ∇f_i(x) − g_i is reported as (`Diverged`).
const GRAD_WHAT: &str = "the local gradient or the correction ∇f_i − g_i";

/// EF21's worker round for $v_i = \nabla f_i$ and a Top-K compressor, fused: one pass writes
/// $\nabla f_i(x) - g_i$ into `ctx.buffers.grad` and collects the entries with
/// $|v_j| \ge t$ ([`Oracle::grad_minus_scan`](squeeze_problems::Oracle::grad_minus_scan)),
/// compacting them to their Top-K whenever $1.5k + 64$ are held (raising $t$ as Top-K does),
/// so the selection never re-reads the difference. $t$ is a speed hint: the smallest $|c_j|$ of
/// the worker's previous message `ctx.up` (its $k$-th magnitude last round; kept in the engine's
/// message buffer, not in the state). The message is exactly the compressor's: if at least
/// $k$ entries pass, they hold the Top-K and [`TopK::finish_candidates`] selects it; if fewer
/// pass, the compressor runs on the written difference (today's path, minus the gradient
/// pass; errors name `what`). Then $g_i \leftarrow g_i + c_i$ as in [`correct_by_buffer`].
///
/// Returns `Ok(false)` with nothing counted (and `ctx.up` possibly emptied) when it does not apply:
/// no hint (the first round, or after a resume), a compressor that is not Top-K with $k < d$,
/// or an oracle without a fused pass; the caller then runs the ordinary round.
fn fused_top_k<S: Scalar>(
    compressor: &dyn Compressor<S>,
    x: &[S],
    (g, rng): (&mut [S], &mut SqueezeRng),
    ctx: &mut WorkerCtx<'_, S>,
    what: &'static str,
) -> Result<bool> {
    let d = x.len();
    let Some(k) = compressor.top_k(d).filter(|&k| k < d) else {
        return Ok(false);
    };
    let Some(t) = previous_kth(ctx.up, d, k) else {
        return Ok(false);
    };
    let b = &mut *ctx.buffers;
    let words = &mut b.scratch.words;
    let (idx, val) = ctx.up.sparse_parts(d);
    let fused = {
        let mut reduce =
            |i: &mut Vec<u32>, v: &mut Vec<S>| TopK::compact_candidates(k, &mut *words, i, v);
        let mut hits = Candidates {
            t,
            cap: k + k / 2 + 64,
            idx: &mut *idx,
            val: &mut *val,
            reduce: &mut reduce,
        };
        ctx.oracle.grad_minus_scan(x, g, &mut b.grad, &mut hits)
    };
    match fused {
        None => return Ok(false),
        Some(false) => {
            ctx.grad_samples += ctx.oracle.n_samples() as u64;
            return Err(MethodError::Diverged {
                what: GRAD_WHAT,
                round: ctx.round,
            });
        }
        Some(true) => ctx.grad_samples += ctx.oracle.n_samples() as u64,
    }
    if TopK::finish_candidates(k, words, idx, val) {
        ctx.up
            .add_to(g, S::ONE)
            .map_err(message_err(ctx.worker, ctx.round))?;
    } else {
        correct_by_buffer(compressor, (g, rng), ctx, what)?;
    }
    Ok(true)
}

/// EF21's correction of the estimate $g_i$ by the difference in `ctx.buffers.grad`:
/// `ctx.up` $= \mathcal{C}(\text{grad})$ with the worker's stream, $g_i \leftarrow g_i +$ `ctx.up`
/// (the mechanism's own update, [`squeeze_feedback::ef21::correct_with`]; errors name `what`).
pub(crate) fn correct_by_buffer<S: Scalar>(
    compressor: &dyn Compressor<S>,
    (g, rng): (&mut [S], &mut SqueezeRng),
    ctx: &mut WorkerCtx<'_, S>,
    what: &'static str,
) -> Result {
    let round = round_of(ctx.ids());
    let b = &mut *ctx.buffers;
    Ok(squeeze_feedback::ef21::correct_with(
        compressor,
        &b.grad,
        g,
        rng,
        &mut b.scratch,
        &round,
        what,
        ctx.up,
    )?)
}

/// The $k$-th magnitude of a previous Top-K message: the smallest $|c_j|$ of a `Sparse`
/// message of dimension `d` with $k$ finite values.
fn previous_kth<S: Scalar>(up: &Message<S>, d: usize, k: usize) -> Option<S> {
    match up {
        Message::Sparse { dim, values, .. } if *dim == d && values.len() == k => {
            let mut t = values.first()?.abs();
            for &v in values {
                let a = v.abs();
                if !a.is_finite() {
                    return None;
                }
                if a < t {
                    t = a;
                }
            }
            t.is_finite().then_some(t)
        }
        _ => None,
    }
}

// ---- registry entry (name, params, build): see `crate::registry` ----

crate::spec::method_entry! {
    Ef21Spec(Ef21Params { compressor, stepsize, init, count_init }): Star "ef21",
    summary = "EF21: g_i ← g_i + C(∇f_i − g_i), x ← x − γ g",
    example = "compressor = \"top_k:k=1\"",
    |p, ctx, sink| {
        let c = p.main_compressor::<S>(ctx.dim)?;
        sink.star(Ef21::new(c, p.stepsize, p.init, p.count_init).map_err(s::method_err)?)
    }
}

#[cfg(test)]
mod fused_tests {
    use squeeze_compress::parse;
    use squeeze_problems::{InitPoint, embedded, quadratic};

    use super::*;
    use crate::WorkerBuffers;

    /// Bits of a message's values (−0 ≠ +0) with its indices.
    fn bits<S: Scalar>(m: &Message<S>) -> (Vec<u32>, Vec<u64>) {
        match m {
            Message::Sparse {
                indices, values, ..
            } => (
                indices.clone(),
                values.iter().map(|v| v.to_bits_u64()).collect(),
            ),
            other => (
                Vec::new(),
                other
                    .to_dense()
                    .unwrap()
                    .iter()
                    .map(|v| v.to_bits_u64())
                    .collect(),
            ),
        }
    }

    /// `rounds` EF21 rounds twice from the same start: with the engine's message buffers kept
    /// (the fused path once a previous message gives the hint) and with fresh ones every round
    /// (no hint: the ordinary path). Every message, g_i, x and the gradient count must be the
    /// same bits; returns how many worker rounds took the fused path.
    fn hinted_vs_plain<S: Scalar>(p: &Problem<S>, x0: &[S], spec: &str, rounds: u64) -> usize {
        let m = Ef21::<S>::new(
            parse(spec).unwrap(),
            Stepsize::Theory { multiplier: 1.0 },
            GradInit::Full,
            false,
        )
        .unwrap();
        let (d, n) = (p.dim(), p.n_workers());
        let mut runs: Vec<_> = (0..2).map(|_| m.init(p, x0, 11).unwrap()).collect();
        let mut ups = vec![vec![Message::default(); n]; 2];
        let mut buffers = WorkerBuffers::new(d);
        let (mut fused, mut down) = (0, Message::default());
        for round in 0..rounds {
            let mut samples = [0u64; 2];
            for (r, run) in runs.iter_mut().enumerate() {
                m.broadcast(&mut run.server, round, &mut down).unwrap();
                for (i, w) in run.workers.iter_mut().enumerate() {
                    let up = &mut ups[r][i];
                    if r == 1 {
                        *up = Message::default();
                    } else {
                        // Every third round a hint far above the difference: fewer than k
                        // candidates pass and the selection falls back to the written one.
                        let k = m.compressor().top_k(d).filter(|_| round % 3 == 2);
                        if let (Some(k), Message::Sparse { .. }) = (k, &up) {
                            *up = Message::Sparse {
                                dim: d,
                                indices: (0..k as u32).collect(),
                                values: vec![S::from_f64(1e30); k],
                            };
                        }
                    }
                    let mut ctx = WorkerCtx {
                        worker: i,
                        n_workers: n,
                        round,
                        round_seed: 3,
                        phase: 0,
                        oracle: p.oracles()[i].as_ref(),
                        buffers: &mut buffers,
                        grad_samples: 0,
                        down: &down,
                        up,
                    };
                    if r == 1 {
                        m.worker_round(w, &mut ctx).unwrap();
                    } else {
                        let x = dense_down(&down, "ef21").unwrap();
                        let c = m.compressor();
                        let what = <FullGrad as GradEstimator<S>>::CORRECTION;
                        if fused_top_k(c, x, (&mut w.g, &mut w.rng), &mut ctx, what).unwrap() {
                            fused += 1;
                        } else {
                            m.worker_round(w, &mut ctx).unwrap();
                        }
                    }
                    samples[r] += ctx.grad_samples;
                }
                m.absorb(&mut run.server, round, &ups[r]).unwrap();
            }
            assert_eq!(samples[0], samples[1], "round {round}");
            for (i, (a, b)) in ups[0].iter().zip(&ups[1]).enumerate() {
                assert_eq!(bits(a), bits(b), "round {round}, worker {i}");
                let g = |r: usize| {
                    runs[r].workers[i]
                        .g
                        .iter()
                        .map(|v| v.to_bits_u64())
                        .collect::<Vec<_>>()
                };
                assert_eq!(g(0), g(1), "round {round}, worker {i}");
            }
        }
        let x = |r: usize| {
            runs[r]
                .server
                .x
                .iter()
                .map(|v| v.to_bits_u64())
                .collect::<Vec<_>>()
        };
        assert_eq!(x(0), x(1));
        fused
    }

    #[test]
    fn fused_rounds_send_the_same_messages() {
        // The 3PC quadratic from its default start (the difference is mostly exact zeros: the
        // Top-K ties at 0 go to the lowest indices) and from a Gaussian start (candidate lists
        // that overflow and are compacted), f32 and f64, several k.
        let p = quadratic::three_pc::<f32>(5000, 3, 0.1, 5).unwrap();
        let gauss = InitPoint::Gaussian { seed: 1, std: 1.0 };
        for init in [InitPoint::ProblemDefault, gauss.clone()] {
            let x0 = p.initial_point(&init).unwrap();
            for spec in ["top_k:ratio=0.01", "top_k:k=1", "top_k:ratio=0.3"] {
                let fused = hinted_vs_plain(&p, &x0, spec, 12);
                // Every worker round after the first has a hint and takes the fused path.
                assert_eq!(fused, 3 * 11, "{spec}");
            }
        }
        let p = quadratic::three_pc::<f64>(700, 2, 0.5, 2).unwrap();
        let x0 = p.initial_point(&gauss).unwrap();
        assert_eq!(hinted_vs_plain(&p, &x0, "top_k:k=9", 10), 2 * 9);
        // Not Top-K, k = d, or an oracle without a fused pass: the ordinary path, same bits.
        assert_eq!(hinted_vs_plain(&p, &x0, "scaled(rand_k:k=9)", 6), 0);
        assert_eq!(hinted_vs_plain(&p, &x0, "top_k:ratio=1", 6), 0);
        let p = Problem::logreg_ef21(&embedded::default_dataset::<f64>(), 2).unwrap();
        let x0 = p.initial_point(&gauss).unwrap();
        assert_eq!(hinted_vs_plain(&p, &x0, "top_k:k=3", 6), 0);
    }

    #[test]
    fn a_non_finite_difference_diverges_as_before() {
        let p = quadratic::three_pc::<f32>(300, 1, 0.1, 5).unwrap();
        let m = Ef21::<f32>::new(
            parse("top_k:k=3").unwrap(),
            Stepsize::Theory { multiplier: 1.0 },
            GradInit::Full,
            false,
        )
        .unwrap();
        let x0 = p.initial_point(&InitPoint::ProblemDefault).unwrap();
        let mut init = m.init(&p, &x0, 1).unwrap();
        let mut buffers = WorkerBuffers::new(300);
        let mut up = Message::default();
        let mut x = x0.clone();
        for (round, bad) in [
            (0u64, None),
            (1, None),
            (2, Some(f32::NAN)),
            (3, Some(f32::INFINITY)),
        ] {
            if let Some(v) = bad {
                x[150] = v;
            }
            let down = Message::Dense { values: x.clone() };
            let mut ctx = WorkerCtx {
                worker: 0,
                n_workers: 1,
                round,
                round_seed: 0,
                phase: 0,
                oracle: p.oracles()[0].as_ref(),
                buffers: &mut buffers,
                grad_samples: 0,
                down: &down,
                up: &mut up,
            };
            let r = m.worker_round(&mut init.workers[0], &mut ctx);
            match bad {
                None => r.unwrap(),
                Some(_) => assert!(
                    matches!(r, Err(MethodError::Diverged { what, round: r }) if what == GRAD_WHAT && r == round),
                    "{r:?}"
                ),
            }
            assert_eq!(ctx.grad_samples, 1);
            if round == 2 {
                // Restore a hint for the next round (the failed round left `up` unspecified).
                up = Message::Sparse {
                    dim: 300,
                    indices: vec![0, 1, 2],
                    values: vec![1.0; 3],
                };
            }
        }
    }
}

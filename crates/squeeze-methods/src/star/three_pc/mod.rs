//! 3PC-GD: gradient descent with a three-point compressor on the uplink.

pub mod bc;
pub mod specs;

use serde::{Deserialize, Serialize};
use squeeze_core::{Message, Scalar, SqueezeRng};
use squeeze_problems::Problem;

use crate::method::{InitOf, Result, ServerMethod, WorkerCtx, checked_dim, full_grad_init};
use crate::star::server::{StepServer, local_grad_at};
use crate::stepsize::{Stepsize, StepsizeReport};
use crate::three_point::{MechCtx, ThreePoint};

/// 3PC-GD (Richtárik, Sokolov, Gasanov, Fatkhullin, Li, Gorbunov, ICML 2022):
///
/// $$x^{t+1} = x^t - \gamma g^t,\qquad
/// g_i^{t+1} = \mathcal{C}_{g_i^t,\thinspace\nabla f_i(x^t)}\big(\nabla f_i(x^{t+1})\big),\qquad
/// g^{t+1} = \tfrac1n\textstyle\sum_i g_i^{t+1},$$
///
/// for any [`ThreePoint`] mechanism $\mathcal{C}$ (EF21, LAG, CLAG, 3PCv1/v2/v4/v5, Bernoulli
/// aggregation, AdaCGD). Each worker keeps $g_i$ and its previous local gradient; the uplink is
/// the mechanism's message (the change of $g_i$, `Skip` = 0 bits in a lazy round), which the
/// server adds to $g$ scaled by $1/n$.
///
/// Stepsize: [`Stepsize::Theory`] gives multiplier × $1/(L + \tilde L\sqrt{B/A})$ with the
/// mechanism's constants at the problem's dimension (the authors' code, every mechanism);
/// nonconvex guarantee by analogy with EF21,
/// $\mathbb{E}\lVert\nabla f(\hat x^T)\rVert^2 \le 2\delta_0/(\gamma T) + G^0/(AT)$ (exact form
/// UNCONFIRMED, spec §6.1).
///
/// Init: $g_i^0 = \nabla f_i(x^0)$ (dense; its bits counted only with `count_init`), and the
/// previous gradient $y_i = \nabla f_i(x^0)$.
///
/// ```
/// use squeeze_compress::parse;
/// use squeeze_methods::three_point::Clag;
/// use squeeze_methods::{ServerMethod, Stepsize, ThreePc};
/// let clag = Clag::<f64>::new(parse("top_k:k=1").unwrap(), 2.0).unwrap();
/// let m = ThreePc::new(Box::new(clag), Stepsize::Theory { multiplier: 1.0 }, false).unwrap();
/// assert_eq!(m.describe(), "three_pc(clag(top_k:k=1, ζ=2), Theory { multiplier: 1.0 })");
/// ```
#[derive(Debug)]
pub struct ThreePc<S: Scalar> {
    mech: Box<dyn ThreePoint<S>>,
    stepsize: Stepsize,
    count_init: bool,
}

/// 3PC-GD server state.
pub type ThreePcServer<S> = StepServer<S>;

/// 3PC-GD worker state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct ThreePcWorker<S: Scalar> {
    /// Estimate g_i (the mechanism's h).
    pub g: Vec<S>,
    /// Previous local gradient ∇f_i(x^t) (the mechanism's y).
    pub y: Vec<S>,
    /// The worker's stream (`Purpose::Compression`): compressors, per-worker coins.
    pub rng: SqueezeRng,
    /// How often each outcome of the mechanism occurred (LAG/CLAG/BAG: [skipped, sent];
    /// 3PCv5: [compressed, full]; AdaCGD: [skipped, level 1, …, level m]).
    pub outcomes: Vec<u64>,
    /// Buffers of the uplink message parked while it is `Skip` (lazy mechanisms): working
    /// memory, not state — never serialised and ignored by `==`.
    #[serde(skip)]
    pub parked: Parked<S>,
    /// Per-rung message buffers of a ladder mechanism (see [`MechCtx::rungs`]): working
    /// memory, never serialised, ignored by `==`.
    #[serde(skip)]
    pub rungs: RungBuffers<S>,
}

/// A message kept only for its buffers (see [`ThreePcWorker::parked`]); all values are equal.
#[derive(Debug, Clone, Default)]
pub struct Parked<S: Scalar>(pub Message<S>);

impl<S: Scalar> PartialEq for Parked<S> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// Messages kept only for their buffers (see [`MechCtx::rungs`]); all values are equal.
#[derive(Debug, Clone, Default)]
pub struct RungBuffers<S: Scalar>(pub Vec<Message<S>>);

impl<S: Scalar> PartialEq for RungBuffers<S> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// A worker's own working memory for a mechanism (methods whose work vectors are not the
/// engine's): two work vectors, the parked uplink and the rung buffers; never serialised.
#[derive(Debug, Clone, Default)]
pub(crate) struct MechMemory<S: Scalar> {
    work: Vec<S>,
    aux: Vec<S>,
    parked: Message<S>,
    rungs: Vec<Message<S>>,
}

impl<S: Scalar> MechMemory<S> {
    /// Work vectors of length `len`.
    pub(crate) fn sized(&mut self, len: usize) {
        self.work = vec![S::ZERO; len];
        self.aux = vec![S::ZERO; len];
    }

    /// The mechanism's context of `ctx`'s worker with its stream `rng` ([`MechCtx::new`]): this
    /// memory, and the engine's scratch and spare message.
    pub(crate) fn ctx<'a>(
        &'a mut self,
        ctx: &'a mut WorkerCtx<'_, S>,
        rng: &'a mut SqueezeRng,
    ) -> MechCtx<'a, S> {
        let ids = ctx.ids();
        let b = &mut *ctx.buffers;
        MechCtx::new(
            ids,
            rng,
            (&mut b.scratch, &mut b.spare),
            (&mut self.work, &mut self.aux),
            (&mut self.parked, &mut self.rungs),
        )
    }
}

/// $h \leftarrow \mathcal C_{h,y}(x)$ by `mech` in the context `mctx`, its message in `out`;
/// the outcome is counted in `outcomes` (one counter per outcome of the mechanism).
pub(crate) fn apply_counted<S: Scalar>(
    mech: &dyn ThreePoint<S>,
    (h, y, x): (&mut [S], &[S], &[S]),
    mut mctx: MechCtx<'_, S>,
    outcomes: &mut [u64],
    out: &mut Message<S>,
) -> Result {
    let outcome = mech.apply(h, y, x, &mut mctx, out)?;
    if let Some(c) = outcomes.get_mut(outcome) {
        *c += 1;
    }
    Ok(())
}

/// A worker's 3PC uplink on its local gradient $\nabla f_i$ (in `ctx.buffers.grad`): the
/// estimate $h \leftarrow \mathcal{C}_{h, y}(\nabla f_i)$ by `mech` with the worker's stream
/// (`ctx.up` the mechanism's message, its outcome counted), then $y \leftarrow \nabla f_i$ (3PC-GD
/// and the uplink of 3PC-BC).
pub(crate) fn track_gradient<S: Scalar>(
    (mech, rng): (&dyn ThreePoint<S>, &mut SqueezeRng),
    (h, y): (&mut [S], &mut [S]),
    (outcomes, parked, rungs): (&mut [u64], &mut Parked<S>, &mut RungBuffers<S>),
    ctx: &mut WorkerCtx<'_, S>,
) -> Result {
    let ids = ctx.ids();
    let b = &mut *ctx.buffers;
    let mctx = MechCtx::new(
        ids,
        rng,
        (&mut b.scratch, &mut b.spare),
        (&mut b.work, &mut b.aux),
        (&mut parked.0, &mut rungs.0),
    );
    apply_counted(mech, (h, y, &b.grad), mctx, outcomes, ctx.up)?;
    y.copy_from_slice(&b.grad);
    Ok(())
}

impl<S: Scalar> ThreePc<S> {
    /// 3PC-GD with mechanism `mech`.
    pub fn new(mech: Box<dyn ThreePoint<S>>, stepsize: Stepsize, count_init: bool) -> Result<Self> {
        stepsize.validate()?;
        Ok(Self {
            mech,
            stepsize,
            count_init,
        })
    }

    /// The mechanism.
    pub fn mechanism(&self) -> &dyn ThreePoint<S> {
        self.mech.as_ref()
    }

    /// Whether the initial dense uplink is charged.
    pub fn count_init(&self) -> bool {
        self.count_init
    }

    /// γ for this problem.
    pub fn gamma(&self, problem: &Problem<S>) -> Result<f64> {
        self.stepsize_report(problem).map(|r| r.gamma)
    }

    /// [`Self::gamma`] with the constants behind it (the mechanism's A, B).
    pub fn stepsize_report(&self, problem: &Problem<S>) -> Result<StepsizeReport> {
        let d = problem.dim();
        let (a, b) = match self.stepsize {
            Stepsize::Constant { .. } => (1.0, 0.0),
            Stepsize::Theory { .. } => self.mech.constants(d)?,
        };
        Ok(self
            .stepsize
            .report_ab(self.mech.name(), a, b, problem.smoothness())?)
    }
}

impl<S: Scalar> ServerMethod<S> for ThreePc<S> {
    type Worker = ThreePcWorker<S>;
    type Server = ThreePcServer<S>;

    fn describe(&self) -> String {
        format!("three_pc({}, {:?})", self.mech.describe(), self.stepsize)
    }

    fn init(&self, problem: &Problem<S>, x0: &[S], seed: u64) -> Result<InitOf<Self, S>> {
        let d = checked_dim(problem, x0)?;
        self.mech.check_dim(d)?;
        let step = self.stepsize_report(problem)?;
        let gamma = step.gamma;
        let init = full_grad_init(problem, x0, self.count_init)?;
        Ok(init
            .start(
                seed,
                |gi, rng, _| ThreePcWorker {
                    y: gi.clone(),
                    g: gi,
                    rng,
                    outcomes: vec![0; self.mech.outcomes()],
                    parked: Parked::default(),
                    rungs: RungBuffers::default(),
                },
                |g, _| ThreePcServer::at(x0, g, gamma),
            )
            .with_stepsize(step))
    }

    fn worker_round(&self, worker: &mut Self::Worker, ctx: &mut WorkerCtx<'_, S>) -> Result {
        local_grad_at("three_pc", ctx)?;
        let mech = (self.mech.as_ref(), &mut worker.rng);
        let track = (
            &mut worker.outcomes[..],
            &mut worker.parked,
            &mut worker.rungs,
        );
        track_gradient(mech, (&mut worker.g, &mut worker.y), track, ctx)
    }

    fn uplink_levels(&self) -> Option<usize> {
        self.mech.wire_levels()
    }
}

//! Newton-type methods with compressed Hessians: Newton-3PC and FedNL.
//!
//! Each worker learns its local Hessian $H_i \approx \nabla^2 f_i(x)$ with a three-point
//! compressor on the packed upper triangle ($D = d(d+1)/2$ values, see
//! [`squeeze_problems::hessian::pack_upper`]) and sends it with its dense gradient; the server
//! averages both in worker order and takes a regularised Newton step.
//!
//! The registry entries are in [`specs`]; the dense linear algebra of the server step in
//! [`linalg`].

pub mod bc;
pub mod bl1;
pub mod linalg;
pub mod pp;
pub mod specs;

use serde::{Deserialize, Serialize};
use squeeze_core::{Message, Scalar, SqueezeRng};
use squeeze_problems::Problem;
use squeeze_problems::hessian::{pack_upper, unpack_upper};

use crate::method::{
    Init, InitOf, InitUplink, MethodError, Result, ServerMethod, ServerState, WorkerCtx,
    broadcast_model, checked_dim, ensure_finite, message_err, stream,
};
use crate::star::server::{absorbed_by_method, local_grad_at};
use crate::star::three_pc::{MechMemory, apply_counted};
use crate::three_point::ThreePoint;
use linalg::{NewtonSolver, Regularization};
use squeeze_core::rng::Purpose;

/// Which learned Hessian the server steps with in round $t$.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HessianOrder {
    /// Newton-3PC: $H^t$ already holds the workers' update at $x^t$ (the estimate is learned,
    /// then used).
    Fresh,
    /// FedNL (Algorithm 1 of Safaryan et al. 2022): step with $H^t$, then add the update
    /// computed at $x^t$ (used in the next round).
    Stale,
}

/// How the server makes its system matrix positive definite (see [`Regularization`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegularizationRule {
    /// Option 1: project onto $\lbrace H \succeq \mu I\rbrace$.
    Project,
    /// Option 2: $H + l I$, $l = \tfrac1n\sum_i\lVert H_i - \nabla^2 f_i(x)\rVert_F$ (each
    /// worker sends its $l_i$ as one more value of its dense part).
    Shift,
}

/// Newton-3PC (Islamov, Qian, Hanzely, Safaryan, Richtárik 2022) and FedNL (Safaryan,
/// Islamov, Qian, Richtárik, ICML 2022):
///
/// $$x^{t+1} = x^t - [H^t]^{-1}\nabla f(x^t),\qquad
/// H_i^{t+1} = \mathcal{C}_{H_i^t,\thinspace\nabla^2 f_i(x^t)}\big(\nabla^2 f_i(x^{t+1})\big),
/// \qquad H^t = \tfrac1n\textstyle\sum_i H_i^t,$$
///
/// with any three-point mechanism $\mathcal C$ ([`ThreePoint`]: EF21 gives FedNL, and LAG,
/// CLAG, Bernoulli aggregation, 3PCv1 give the lazy and other variants) on the packed upper
/// triangle of the Hessians, and $[\cdot]$ the projection onto $\lbrace H \succeq \mu I\rbrace$ (option 1)
/// or the shift $H + lI$ (option 2). Local linear and superlinear rates independent of the
/// condition number (spec §8.1).
///
/// **Wire.** Each round a worker sends `Concat([Dense(∇f_i(x)) (d values, + l_i for option
/// 2), the mechanism's message over D])`: exact bits are $d\cdot$`S::BITS` (+ one scalar)
/// plus the mechanism's message plus the `Concat` header ($4 + \lceil\log_2(d + D + 2)\rceil$
/// bits and a tag per part); the authors' convention (32 bits per value, indices free) is
/// the `bits_values32` column. The downlink is the dense model.
///
/// **Work.** A local Hessian costs $m_i$ samples, counted with the gradient work.
///
/// **Init.** $H_i^0 = \nabla^2 f_i(x^0)$ exactly (and the previous Hessian of the mechanism,
/// too); with `count_init` its dense upload is charged.
///
/// **Needs** a problem with Hessians whose curvature bound is $\ge 0$ (convex), and a μ > 0
/// for the projection (the problem's strong-convexity bound by default, e.g. λ of an L2
/// regulariser). The unit step is the method's; there is no stepsize.
///
/// ```
/// use squeeze_compress::parse;
/// use squeeze_methods::star::newton::{HessianOrder, Newton3pc, RegularizationRule};
/// use squeeze_methods::three_point::Ef21Mech;
/// let m = Newton3pc::<f64>::new(
///     "fednl",
///     Box::new(Ef21Mech::new(parse("top_k:k=3").unwrap())),
///     RegularizationRule::Project,
///     None,
///     HessianOrder::Stale,
///     false,
/// )
/// .unwrap();
/// use squeeze_methods::ServerMethod;
/// assert_eq!(m.describe(), "fednl(3pc_ef21(top_k:k=3), project, stale)");
/// ```
#[derive(Debug)]
pub struct Newton3pc<S: Scalar> {
    name: &'static str,
    mech: Box<dyn ThreePoint<S>>,
    rule: RegularizationRule,
    mu: Option<f64>,
    order: HessianOrder,
    count_init: bool,
}

/// A worker's state: its learned Hessian and the mechanism's previous Hessian, packed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct NewtonWorker<S: Scalar> {
    /// $H_i$ (packed upper triangle, D values).
    pub h: Vec<S>,
    /// $\nabla^2 f_i$ at the previous point (the mechanism's y), packed.
    pub y: Vec<S>,
    /// The worker's stream (`Purpose::Compression`).
    pub rng: SqueezeRng,
    /// How often each outcome of the mechanism occurred.
    pub outcomes: Vec<u64>,
    /// Working memory (never serialised, ignored by `==`).
    #[serde(skip)]
    pub work: WorkerWork<S>,
}

/// A worker's working memory: the dense Hessian, its packed form and the mechanism's
/// buffers, sized on first use.
#[derive(Debug, Clone, Default)]
pub struct WorkerWork<S: Scalar> {
    full: Vec<S>,
    fresh: Vec<S>,
    mech: MechMemory<S>,
}

impl<S: Scalar> PartialEq for WorkerWork<S> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<S: Scalar> WorkerWork<S> {
    fn sized(&mut self, d: usize) {
        let tri = d * (d + 1) / 2;
        if self.full.len() != d * d {
            self.full = vec![S::ZERO; d * d];
            self.fresh = Vec::with_capacity(tri);
            self.mech.sized(tri);
        }
    }
}

/// The server's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct NewtonServer<S: Scalar> {
    /// Model x.
    pub x: Vec<S>,
    /// $\nabla f(x^t)$, the average of the workers' gradients.
    pub g: Vec<S>,
    /// $H$, the average learned Hessian (packed).
    pub h: Vec<S>,
    /// The average update of this round, not yet in `h` (see [`HessianOrder`]).
    pub dh: Vec<S>,
    /// The average shift $l$ (option 2; 0 otherwise).
    pub l: f64,
    /// The projection level μ resolved at init (option 1; the problem's bound unless
    /// configured).
    pub mu: f64,
    /// Working memory (never serialised, ignored by `==`).
    #[serde(skip)]
    pub work: ServerWork<S>,
}

/// The server's working memory, sized on first use.
#[derive(Debug, Clone, Default)]
pub struct ServerWork<S: Scalar> {
    acc: Vec<S>,
    full: Vec<S>,
    h64: Vec<f64>,
    g64: Vec<f64>,
    delta: Vec<f64>,
    solver: NewtonSolver,
}

impl<S: Scalar> PartialEq for ServerWork<S> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<S: Scalar> ServerWork<S> {
    fn sized(&mut self, d: usize, acc_len: usize) {
        if self.full.len() != d * d {
            self.full = vec![S::ZERO; d * d];
            self.h64 = vec![0.0; d * d];
            self.g64 = vec![0.0; d];
            self.delta = vec![0.0; d];
            self.solver = NewtonSolver::new(d);
        }
        if self.acc.len() != acc_len {
            self.acc = vec![S::ZERO; acc_len];
        }
    }
}

impl<S: Scalar> ServerState<S> for NewtonServer<S> {
    /// The method's absorb is [`Newton3pc`]'s (it needs the regularisation); this one refuses.
    fn absorb(&mut self, _round: u64, _ups: &[Message<S>]) -> Result {
        absorbed_by_method("newton", "an absorb by the method")
    }

    fn model(&self) -> &[S] {
        &self.x
    }
}

/// $\lVert A - B\rVert_F$ of two symmetric d × d matrices given by their packed upper
/// triangles (off-diagonal entries count twice).
fn frobenius_distance<S: Scalar>(d: usize, a: &[S], b: &[S]) -> f64 {
    let mut s = 0.0;
    let mut k = 0;
    for r in 0..d {
        for c in r..d {
            let v = (a[k] - b[k]).to_f64();
            s += if c == r { v * v } else { 2.0 * v * v };
            k += 1;
        }
    }
    s.sqrt()
}

/// `out += A v` for the symmetric d × d matrix A given by its packed upper triangle.
fn packed_matvec_add<S: Scalar>(d: usize, a: &[S], v: &[S], out: &mut [S]) {
    let mut k = 0;
    for r in 0..d {
        out[r] += a[k] * v[r];
        k += 1;
        for c in r + 1..d {
            out[r] += a[k] * v[c];
            out[c] += a[k] * v[r];
            k += 1;
        }
    }
}

/// $D = d(d+1)/2$.
pub fn triangle_len(d: usize) -> usize {
    d * (d + 1) / 2
}

impl<S: Scalar> Newton3pc<S> {
    /// A Newton-type method named `name` with mechanism `mech` on the Hessians, the
    /// regularisation `rule` (with `mu` for the projection; `None` = the problem's
    /// strong-convexity bound), the Hessian `order` and whether the initial upload is charged.
    ///
    /// # Errors
    /// `mu` given but not finite and > 0.
    pub fn new(
        name: &'static str,
        mech: Box<dyn ThreePoint<S>>,
        rule: RegularizationRule,
        mu: Option<f64>,
        order: HessianOrder,
        count_init: bool,
    ) -> Result<Self> {
        if let Some(m) = mu {
            squeeze_core::ParamError::require(
                m.is_finite() && m > 0.0,
                name,
                "mu",
                m,
                "the projection level μ must be finite and > 0, e.g. mu = 1e-3",
            )?;
        }
        Ok(Self {
            name,
            mech,
            rule,
            mu,
            order,
            count_init,
        })
    }

    /// A worker whose $H_i$ and previous Hessian are both `h0` (its initial Hessian, packed, or
    /// BL1's coefficients), with its stream `rng`, no outcomes counted and working memory `work`.
    fn worker(&self, h0: Vec<S>, rng: SqueezeRng, work: WorkerWork<S>) -> NewtonWorker<S> {
        NewtonWorker {
            y: h0.clone(),
            h: h0,
            rng,
            outcomes: vec![0; self.mech.outcomes()],
            work,
        }
    }

    /// The regularisation rule in `describe`: "project μ=…" (μ when configured) or "shift".
    fn describe_rule(&self) -> String {
        match self.rule {
            RegularizationRule::Project => match self.mu {
                Some(m) => format!("project μ={m}"),
                None => "project".to_string(),
            },
            RegularizationRule::Shift => "shift".to_string(),
        }
    }

    /// The regularisation at this round's state.
    fn regularization(&self, mu: f64, l: f64) -> Regularization {
        match self.rule {
            RegularizationRule::Project => Regularization::Project { mu },
            RegularizationRule::Shift => Regularization::Shift { l },
        }
    }

    /// μ for this problem: the configured one, else the problem's strong-convexity bound.
    fn resolve_mu(&self, problem: &Problem<S>) -> Result<f64> {
        let name = self.name;
        let c = problem.curvature().ok_or_else(|| {
            MethodError::Incompatible(format!(
                "{name} needs Hessians, and problem {} provides none (logistic regression, least \
                 squares and the quadratics do)",
                problem.name()
            ))
        })?;
        if !c.is_convex() {
            return Err(MethodError::Incompatible(format!(
                "{name} needs positive-definite Hessians, but problem {} is not convex (its \
                 curvature bound is {:.3e}); use an L2 regulariser, e.g. regularizer = {{ kind = \
                 \"l2\", lambda = 1e-3 }}",
                problem.name(),
                c.min_eigenvalue
            )));
        }
        match (self.mu, c.strong_convexity()) {
            (Some(m), _) | (None, Some(m)) => Ok(m),
            (None, None) if self.rule == RegularizationRule::Shift => Ok(0.0),
            (None, None) => Err(MethodError::Incompatible(format!(
                "{name}: the projection onto {{H ⪰ μI}} needs μ > 0, and problem {} is not \
                 strongly convex; set method.mu or use an L2 regulariser with λ > 0",
                problem.name()
            ))),
        }
    }

    /// Length of the dense first part of the uplink: d, or d + 1 with the shift.
    fn head_len(&self, d: usize) -> usize {
        d + usize::from(self.rule == RegularizationRule::Shift)
    }

    /// [`ServerMethod::init`], handing each worker's index and initial gradient
    /// $\nabla f_i(x^0)$ to `keep` (the partial-participation variant stores them).
    fn init_keeping(
        &self,
        problem: &Problem<S>,
        x0: &[S],
        seed: u64,
        mut keep: impl FnMut(usize, &[S]),
    ) -> Result<Init<NewtonServer<S>, NewtonWorker<S>>> {
        let d = checked_dim(problem, x0)?;
        let mu = self.resolve_mu(problem)?;
        let tri = triangle_len(d);
        self.mech
            .check_dim(tri)
            .map_err(|e| MethodError::Incompatible(format!("{}: {e}", self.name)))?;
        let n = problem.n_workers();
        let inv_n = S::from_f64(1.0 / n as f64);
        let mut server = NewtonServer {
            x: x0.to_vec(),
            g: vec![S::ZERO; d],
            h: vec![S::ZERO; tri],
            dh: vec![S::ZERO; tri],
            l: 0.0,
            mu,
            work: ServerWork::default(),
        };
        server.work.sized(d, self.head_len(d) + tri);
        let mut init_up = InitUplink::new(n);
        let mut workers = Vec::with_capacity(n);
        let mut samples = 0;
        let mut gi = vec![S::ZERO; d];
        let mut full = vec![S::ZERO; d * d];
        for (i, o) in problem.oracles().iter().enumerate() {
            o.grad(x0, &mut gi);
            o.hessian(x0, &mut full);
            samples += 2 * o.n_samples() as u64;
            ensure_finite(&gi, "the initial gradient", 0)?;
            ensure_finite(&full, "the initial local Hessian", 0)?;
            keep(i, &gi);
            let mut hi = Vec::with_capacity(tri);
            pack_upper(d, &full, &mut hi).map_err(|e| MethodError::Incompatible(e.to_string()))?;
            if self.count_init {
                init_up.charge(
                    i,
                    &Message::Concat(Box::new([
                        Message::Dense { values: gi.clone() },
                        Message::Dense { values: hi.clone() },
                    ])),
                );
            }
            for (g, &v) in server.g.iter_mut().zip(&gi) {
                *g += inv_n * v;
            }
            for (h, &v) in server.h.iter_mut().zip(&hi) {
                *h += inv_n * v;
            }
            let mut work = WorkerWork::default();
            work.sized(d);
            workers.push(self.worker(hi, stream(seed, Purpose::Compression, i), work));
        }
        Ok(Init::charged(server, workers, init_up, samples))
    }

    /// Size the server's working memory and zero its accumulator (head, then the packed
    /// Hessian part) for `n` messages; returns $1/n$.
    fn start_absorb(&self, server: &mut NewtonServer<S>, n: usize) -> S {
        let d = server.x.len();
        let tri = server.h.len();
        server.work.sized(d, self.head_len(d) + tri);
        server.work.acc.fill(S::ZERO);
        S::from_f64(1.0 / n.max(1) as f64)
    }

    /// From the accumulator: $g$ (when `with_grad`), $l$ (the shift) and the pending Hessian
    /// update `dh`.
    fn finish_absorb(&self, server: &mut NewtonServer<S>, with_grad: bool) {
        let d = server.x.len();
        let head = self.head_len(d);
        let acc = &server.work.acc;
        if with_grad {
            server.g.copy_from_slice(&acc[..d]);
        }
        server.l = if head > d { acc[d].to_f64() } else { 0.0 };
        add_assign(&mut server.dh, &acc[head..]);
    }

    /// `describe` of the variant: the inner description with `extra` appended inside its
    /// parentheses.
    fn describe_with(&self, extra: &str) -> String {
        let inner = ServerMethod::<S>::describe(self);
        let inner = inner.strip_suffix(')').unwrap_or(&inner);
        format!("{inner}, {extra})")
    }

    /// The server's direction $\delta = \lbrack H\rbrack^{-1} g$ into `server.work.delta`,
    /// with this round's average update added to H before or after the solve (see
    /// [`HessianOrder`]) and `dh` reset.
    fn newton_direction(&self, server: &mut NewtonServer<S>, round: u64) -> Result {
        let d = server.x.len();
        let tri = server.h.len();
        server.work.sized(d, self.head_len(d) + tri);
        if self.order == HessianOrder::Fresh {
            add_assign(&mut server.h, &server.dh);
        }
        let w = &mut server.work;
        unpack_upper(d, &server.h, &mut w.full)
            .map_err(|e| MethodError::Incompatible(e.to_string()))?;
        for (a, &b) in w.h64.iter_mut().zip(&w.full) {
            *a = b.to_f64();
        }
        for (a, &b) in w.g64.iter_mut().zip(&server.g) {
            *a = b.to_f64();
        }
        let reg = self.regularization(server.mu, server.l);
        w.solver
            .solve(&w.h64, &w.g64, reg, &mut w.delta)
            .map_err(|e| match e {
                linalg::SolveError::NonFinite => MethodError::Diverged {
                    what: "the Hessian estimate",
                    round,
                },
                e => MethodError::Incompatible(format!("{} at round {round}: {e}", self.name)),
            })?;
        if self.order == HessianOrder::Stale {
            add_assign(&mut server.h, &server.dh);
        }
        server.dh.fill(S::ZERO);
        Ok(())
    }

    /// A worker's Hessian step at `x`: the local Hessian (its $m_i$ samples counted), the
    /// mechanism's update of $H_i$ written to `hess`, and $l_i$ with the shift rule
    /// (`None` otherwise).
    fn learn_hessian(
        &self,
        worker: &mut NewtonWorker<S>,
        x: &[S],
        ctx: &mut WorkerCtx<'_, S>,
        hess: &mut Message<S>,
    ) -> Result<Option<f64>> {
        let d = x.len();
        let w = &mut worker.work;
        w.sized(d);
        ctx.oracle.hessian(x, &mut w.full);
        ctx.grad_samples += ctx.oracle.n_samples() as u64;
        ensure_finite(&w.full, "a local Hessian", ctx.round)?;
        pack_upper(d, &w.full, &mut w.fresh)
            .map_err(|e| MethodError::Incompatible(e.to_string()))?;
        let shift = self.rule == RegularizationRule::Shift;
        let mut l = 0.0;
        if shift && self.order == HessianOrder::Stale {
            l = frobenius_distance(d, &worker.h, &w.fresh);
        }
        let mctx = w.mech.ctx(ctx, &mut worker.rng);
        let h = (&mut worker.h[..], &worker.y[..], &w.fresh[..]);
        apply_counted(self.mech.as_ref(), h, mctx, &mut worker.outcomes, hess)?;
        if shift && self.order == HessianOrder::Fresh {
            l = frobenius_distance(d, &worker.h, &w.fresh);
        }
        worker.y.copy_from_slice(&w.fresh);
        Ok(shift.then_some(l))
    }
}

impl<S: Scalar> ServerMethod<S> for Newton3pc<S> {
    type Worker = NewtonWorker<S>;
    type Server = NewtonServer<S>;

    fn describe(&self) -> String {
        let rule = self.describe_rule();
        let order = match self.order {
            HessianOrder::Fresh => "fresh",
            HessianOrder::Stale => "stale",
        };
        format!("{}({}, {rule}, {order})", self.name, self.mech.describe())
    }

    fn init(&self, problem: &Problem<S>, x0: &[S], seed: u64) -> Result<InitOf<Self, S>> {
        self.init_keeping(problem, x0, seed, |_, _| {})
    }

    /// The Newton step $x \leftarrow x - \lbrack H\rbrack^{-1} g$ (with the update of this round added to
    /// H before or after it, see [`HessianOrder`]), then the dense model.
    fn broadcast(&self, server: &mut NewtonServer<S>, round: u64, down: &mut Message<S>) -> Result {
        self.newton_direction(server, round)?;
        apply_direction(&mut server.x, &server.work.delta, round, down)
    }

    fn worker_round(&self, worker: &mut Self::Worker, ctx: &mut WorkerCtx<'_, S>) -> Result {
        let x = local_grad_at(self.name, ctx)?;
        ctx.with_up(|ctx, up| {
            let (head, hess) = up.concat_parts();
            let l = self.learn_hessian(worker, x, ctx, hess)?;
            let values = head.dense_parts();
            values.extend_from_slice(&ctx.buffers.grad);
            if let Some(l) = l {
                values.push(S::from_f64(l));
            }
            Ok(())
        })
    }

    /// $g \leftarrow \tfrac1n\sum_i \nabla f_i$, $l \leftarrow \tfrac1n\sum_i l_i$ and the
    /// average Hessian update, in worker order.
    fn absorb(&self, server: &mut NewtonServer<S>, round: u64, ups: &[Message<S>]) -> Result {
        let inv_n = self.start_absorb(server, ups.len());
        for (i, up) in ups.iter().enumerate() {
            up.add_to(&mut server.work.acc, inv_n)
                .map_err(message_err(i, round))?;
        }
        self.finish_absorb(server, true);
        ensure_finite(&server.g, "the averaged gradient", round)
    }

    /// The dense model down; up, the gradient (+ l_i) and the packed Hessian part (what the
    /// MPI transport decodes against).
    fn phase_dims(&self, d: usize, _phase: usize) -> (usize, usize) {
        (d, self.head_len(d) + triangle_len(d))
    }

    fn uplink_levels(&self) -> Option<usize> {
        self.mech.wire_levels()
    }
}

/// The Newton step $x \leftarrow x - \Delta$ with the solved direction $\Delta$ (f64), then the
/// dense model (an error if it is not finite).
pub(super) fn apply_direction<S: Scalar>(
    x: &mut [S],
    delta: &[f64],
    round: u64,
    down: &mut Message<S>,
) -> Result {
    for (x, &dx) in x.iter_mut().zip(delta) {
        *x -= S::from_f64(dx);
    }
    broadcast_model(x, round, down)
}

/// `a += b` elementwise.
fn add_assign<S: Scalar>(a: &mut [S], b: &[S]) {
    for (x, &y) in a.iter_mut().zip(b) {
        *x += y;
    }
}

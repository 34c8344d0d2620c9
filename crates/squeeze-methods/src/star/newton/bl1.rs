//! BL1, Basis Learn (Qian, Islamov, Safaryan, Richtárik, AISTATS 2022, "Basis Matters: Better
//! Communication-Efficient Second Order Methods for Federated Learning"), for generalised
//! linear models: each worker learns the coefficients of its Hessian in the basis of its own
//! data rows and sends those, not the $d \times d$ matrix.

use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};
use squeeze_core::rng::Purpose;
use squeeze_core::{Message, Scalar};
use squeeze_problems::glm::{Glm, glm_views};
use squeeze_problems::{Problem, Regularizer};

use super::linalg::{NewtonSolver, SolveError};
use super::specs::UNIT_STEP;
use super::{
    HessianOrder, Newton3pc, NewtonWorker, RegularizationRule, WorkerWork, apply_direction,
};
use crate::method::{
    Init, InitOf, InitUplink, MethodError, Result, ServerMethod, ServerState, WorkerCtx,
    checked_dim, ensure_finite, message_err, stream,
};
use crate::spec::method_entry;
use crate::star::server::{absorbed_by_method, local_grad_at};
use crate::star::three_pc::apply_counted;
use crate::three_point::ThreePoint;

/// BL1 (Basis Learn; Qian et al. 2022) for generalised linear models
/// ($\nabla^2 f_i(x) = \sum_j c_{ij}(x)\thinspace a_{ij}a_{ij}^\top + \lambda I$,
/// [`squeeze_problems::glm`]):
///
/// $$h_i^{t} = \mathcal C_{h_i^{t-1},\thinspace c_i(x^{t-1})}\big(c_i(x^{t})\big),\qquad
/// H^t = \tfrac1n\textstyle\sum_i A_i^\top \mathrm{diag}(h_i^t) A_i + \lambda I,\qquad
/// x^{t+1} = x^t - [H^t]^{-1}\nabla f(x^t),$$
///
/// with $c_i(x) \in \mathbb R^{m_i}$ the worker's Hessian coefficients, any three-point
/// mechanism $\mathcal C$ ([`ThreePoint`]: EF21, i.e. $h_i \leftarrow h_i + \mathcal C(c_i -
/// h_i)$, is the FedNL-style rule; LAG, CLAG, BAG, 3PCv1 as in Newton-3PC) on the coefficient
/// vector, and $[\cdot]$ the projection onto $\lbrace H \succeq \mu I\rbrace$ (option 1) or the
/// shift $H + lI$ with $l = \tfrac1n\sum_i \lVert A_i^\top \mathrm{diag}(h_i - c_i(x))
/// A_i\rVert_F$ (option 2), as in [`Newton3pc`]. With the identity compressor $h_i = c_i$
/// and BL1 is Newton's method.
///
/// **UNCONFIRMED reading** (spec §8.2; the paper was not available): the basis is the
/// data-outer-product basis $\lbrace a_{ij}a_{ij}^\top\rbrace_j$ itself, so a worker's
/// coefficients are its $m_i$ curvature weights $c_{ij}(x) = \varphi^{\prime\prime}(a_{ij}^\top
/// x)/m_i$ (the paper also describes an orthogonalised basis of that span, of size
/// $\le r_i(r_i+1)/2$); the estimate is learned, then used (Newton-3PC's order, so the
/// identity compressor gives Newton's method); BL1's bidirectional compression of the model
/// (and the partial-participation variants BL2/BL3) are not implemented: the downlink is the
/// dense model. The coefficient vectors are padded with zeros to $M = \max_i m_i$ (equal
/// splits, like the authors' partitions, need no padding); a padded entry is always 0.
///
/// **Wire.** Each round a worker sends `Concat([Dense(∇f_i(x)) (d values, + l_i for option
/// 2), the mechanism's message over M])`: exact bits are $d\cdot$`S::BITS` (+ one scalar)
/// plus the mechanism's message plus the `Concat` header; the authors' convention (32 bits
/// per value, indices free) is the `bits_values32` column. The server holds every worker's
/// basis (its rows): with `count_init` the initial upload — gradient, coefficients and the
/// rows as one `Sparse` message over the $m_i \times d$ array (indices $j d + k$) — is charged
/// once. The server state carries the rows, so checkpoints hold them.
///
/// **Work.** The coefficients cost $m_i$ samples a round (like a local Hessian), counted
/// with the gradient work. The server builds $H$ from all coefficients each round
/// ($O(\sum_{ij} \mathrm{nnz}(a_{ij})^2)$) and solves as [`Newton3pc`] does; option 2 costs
/// the worker $O(s^2\thinspace\mathrm{nnz})$ for the $s$ entries where $h_i \ne c_i$.
///
/// **Needs** a generalised linear model (logistic regression or least squares) with a convex
/// regulariser (none or L2), and μ > 0 for the projection (λ by default).
///
/// ```
/// use squeeze_compress::parse;
/// use squeeze_methods::star::newton::RegularizationRule;
/// use squeeze_methods::star::newton::bl1::Bl1;
/// use squeeze_methods::three_point::Ef21Mech;
/// use squeeze_methods::ServerMethod;
/// use squeeze_problems::prelude::*;
/// let m = Bl1::<f64>::new(Box::new(Ef21Mech::new(parse("top_k:k=10").unwrap())), RegularizationRule::Project, None, false)
///     .unwrap();
/// assert_eq!(m.describe(), "bl1(3pc_ef21(top_k:k=10), project)");
/// let data = embedded::default_dataset::<f64>();
/// let p = Problem::logreg(&data, 4, Split::Contiguous, Remainder::ToLast, Regularizer::L2 { lambda: 0.1 })?;
/// let init = m.init(&p, &vec![0.0; 30], 1).unwrap();
/// // 569 rows over 4 workers: 142, 142, 142, 143 coefficients, padded to M = 143.
/// assert_eq!(init.workers[0].h.len(), 143);
/// assert_eq!(m.phase_dims(30, 0), (30, 30 + 143));
/// # Ok::<(), squeeze_problems::ProblemError>(())
/// ```
#[derive(Debug)]
pub struct Bl1<S: Scalar> {
    /// Mechanism, regularisation, μ and `count_init`, with Newton-3PC's checks.
    inner: Newton3pc<S>,
    /// M = max_i m_i of the problem at the last `init` (0 before; the uplink dimension).
    coeff_len: AtomicUsize,
}

/// Sizes a worker's working memory for M coefficients (the worker state is
/// [`NewtonWorker`], with `h` and `y` holding M coefficients instead of a packed triangle;
/// the dense-Hessian buffer stays empty).
fn sized<S: Scalar>(w: &mut WorkerWork<S>, m: usize) {
    if w.fresh.len() != m {
        w.fresh = vec![S::ZERO; m];
        w.mech.sized(m);
    }
}

/// One worker's data rows as the server holds them (CSR: row j is
/// `indices/values[indptr[j]..indptr[j + 1]]`, column indices strictly increasing, < d).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Basis<S: Scalar> {
    /// Row offsets ($m_i + 1$ entries).
    pub indptr: Vec<usize>,
    /// Column indices.
    pub indices: Vec<u32>,
    /// Values.
    pub values: Vec<S>,
}

impl<S: Scalar> Basis<S> {
    /// Whether this is a well-formed basis of at most `max_rows` rows of dimension `d`.
    fn is_valid(&self, d: usize, max_rows: usize) -> bool {
        let p = &self.indptr;
        p.first() == Some(&0)
            && p.len() <= max_rows + 1
            && p.windows(2).all(|w| w[0] <= w[1])
            && p.last() == Some(&self.indices.len())
            && self.values.len() == self.indices.len()
            && p.windows(2).all(|w| {
                let r = &self.indices[w[0]..w[1]];
                r.windows(2).all(|c| c[0] < c[1]) && r.last().is_none_or(|&c| (c as usize) < d)
            })
    }

    /// Upper triangle of the d × d row-major `h` += scale·Σ_j w_j a_j a_jᵀ, in f64 (the basis
    /// must be valid for d).
    fn add_gram_upper(&self, d: usize, w: &[S], scale: f64, h: &mut [f64]) {
        for (row, &wj) in self.indptr.windows(2).zip(w) {
            let wj = scale * wj.to_f64();
            if wj == 0.0 {
                continue;
            }
            let (idx, val) = (&self.indices[row[0]..row[1]], &self.values[row[0]..row[1]]);
            for (p, (&ip, &ap)) in idx.iter().zip(val).enumerate() {
                let wp = wj * ap.to_f64();
                let base = ip as usize * d;
                for (&iq, &aq) in idx[p..].iter().zip(&val[p..]) {
                    h[base + iq as usize] += wp * aq.to_f64();
                }
            }
        }
    }
}

/// The server's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Bl1Server<S: Scalar> {
    /// Model x.
    pub x: Vec<S>,
    /// $\nabla f(x^t)$, the average of the workers' gradients.
    pub g: Vec<S>,
    /// Every worker's learned coefficients, worker after worker (n·M values).
    pub coef: Vec<S>,
    /// Every worker's rows (sent once at init).
    pub basis: Vec<Basis<S>>,
    /// λ of the regulariser's Hessian λI (0 for none).
    pub lambda: f64,
    /// The average shift $l$ (option 2; 0 otherwise).
    pub l: f64,
    /// The projection level μ resolved at init (option 1).
    pub mu: f64,
    /// Working memory (never serialised, ignored by `==`).
    #[serde(skip)]
    pub work: Bl1ServerWork<S>,
}

/// The server's working memory, sized on first use.
#[derive(Debug, Clone, Default)]
pub struct Bl1ServerWork<S: Scalar> {
    acc: Vec<S>,
    h64: Vec<f64>,
    g64: Vec<f64>,
    delta: Vec<f64>,
    solver: NewtonSolver,
    /// The state's shapes were checked (after init or a restore).
    checked: bool,
}

impl<S: Scalar> PartialEq for Bl1ServerWork<S> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<S: Scalar> ServerState<S> for Bl1Server<S> {
    /// The method's absorb is [`Bl1`]'s (it needs the message layout); this one refuses.
    fn absorb(&mut self, _round: u64, _ups: &[Message<S>]) -> Result {
        absorbed_by_method("bl1", "an absorb by the method")
    }

    fn model(&self) -> &[S] {
        &self.x
    }
}

impl<S: Scalar> Bl1Server<S> {
    /// Check the shapes once (a checkpoint is user input) and size the working memory.
    fn prepare(&mut self, head: usize, m: usize) -> Result {
        if self.work.checked {
            return Ok(());
        }
        let (d, n) = (self.x.len(), self.basis.len());
        let ok = self.g.len() == d
            && m > 0
            && self.coef.len() == n * m
            && self.basis.iter().all(|b| b.is_valid(d, m));
        if !ok {
            return Err(MethodError::Incompatible(format!(
                "bl1: the server state does not fit d = {d}, {n} workers and M = {m} \
                 coefficients; resume with the configuration that wrote the checkpoint"
            )));
        }
        let w = &mut self.work;
        w.acc = vec![S::ZERO; head + m];
        w.h64 = vec![0.0; d * d];
        w.g64 = vec![0.0; d];
        w.delta = vec![0.0; d];
        w.solver = NewtonSolver::new(d);
        w.checked = true;
        Ok(())
    }
}

/// $\lVert \sum_j \delta_j a_j a_j^\top\rVert_F = (\sum_{j,k}\delta_j\delta_k (a_j^\top
/// a_k)^2)^{1/2}$ over the rows of `glm` with $\delta = h - c$ (the first $m_i$ entries),
/// using `buf` (length d, zero on entry and on return) to scatter one row at a time.
fn gram_frobenius<S: Scalar>(glm: &dyn Glm<S>, h: &[S], c: &[S], buf: &mut [S]) -> f64 {
    let rows = glm.rows();
    let delta = |j: usize| (h[j] - c[j]).to_f64();
    let mut s = 0.0;
    for j in 0..rows.n_rows() {
        let dj = delta(j);
        if dj == 0.0 {
            continue;
        }
        let aj = rows.row(j);
        for (&i, &v) in aj.indices.iter().zip(aj.values) {
            buf[i as usize] = v;
        }
        for k in j..rows.n_rows() {
            let dk = delta(k);
            if dk == 0.0 {
                continue;
            }
            let dot = rows.row(k).dot(buf).to_f64();
            s += if k == j { 1.0 } else { 2.0 } * dj * dk * dot * dot;
        }
        for &i in aj.indices {
            buf[i as usize] = S::ZERO;
        }
    }
    s.sqrt()
}

impl<S: Scalar> Bl1<S> {
    /// BL1 with mechanism `mech` on the coefficients, the regularisation `rule` (with `mu` for
    /// the projection; `None` = the problem's λ) and whether the initial upload (gradient,
    /// coefficients and the rows) is charged.
    ///
    /// # Errors
    /// `mu` given but not finite and > 0.
    pub fn new(
        mech: Box<dyn ThreePoint<S>>,
        rule: RegularizationRule,
        mu: Option<f64>,
        count_init: bool,
    ) -> Result<Self> {
        Ok(Self {
            inner: Newton3pc::new("bl1", mech, rule, mu, HessianOrder::Fresh, count_init)?,
            coeff_len: AtomicUsize::new(0),
        })
    }

    fn shift(&self) -> bool {
        self.inner.rule == RegularizationRule::Shift
    }

    /// M of the last `init`.
    fn m(&self) -> usize {
        self.coeff_len.load(Ordering::Relaxed)
    }
}

/// λ of a convex regulariser's constant Hessian λI.
fn regularizer_lambda(r: Regularizer) -> Result<f64> {
    match r {
        Regularizer::None => Ok(0.0),
        Regularizer::L2 { lambda } => Ok(lambda),
        other => Err(MethodError::Incompatible(format!(
            "bl1 needs a regulariser with a constant Hessian (none or l2), not {other:?}"
        ))),
    }
}

/// The initial upload of worker i: gradient, coefficients, and its rows as one sparse message
/// over the $m_i \times d$ array.
fn init_message<S: Scalar>(d: usize, g: &[S], c: &[S], b: &Basis<S>) -> Result<Message<S>> {
    let m = b.indptr.len() - 1;
    let too_big = || {
        MethodError::Incompatible(format!(
            "bl1: a worker's {m} × {d} rows are too many to charge as one message; set \
             count_init = false"
        ))
    };
    let dim = m.checked_mul(d).filter(|&v| v <= u32::MAX as usize);
    let dim = dim.ok_or_else(too_big)?;
    let mut indices = Vec::with_capacity(b.indices.len());
    for (j, r) in b.indptr.windows(2).enumerate() {
        indices.extend(b.indices[r[0]..r[1]].iter().map(|&k| (j * d) as u32 + k));
    }
    let rows = Message::Sparse {
        dim,
        indices,
        values: b.values.clone(),
    };
    let coef = Message::Dense { values: c.to_vec() };
    Ok(Message::Concat(Box::new([
        Message::Dense { values: g.to_vec() },
        Message::Concat(Box::new([coef, rows])),
    ])))
}

impl<S: Scalar> ServerMethod<S> for Bl1<S> {
    type Worker = NewtonWorker<S>;
    type Server = Bl1Server<S>;

    fn describe(&self) -> String {
        let rule = self.inner.describe_rule();
        format!("bl1({}, {rule})", self.inner.mech.describe())
    }

    fn init(&self, problem: &Problem<S>, x0: &[S], seed: u64) -> Result<InitOf<Self, S>> {
        let d = checked_dim(problem, x0)?;
        let mu = self.inner.resolve_mu(problem)?;
        let views =
            glm_views(problem, "bl1").map_err(|e| MethodError::Incompatible(e.to_string()))?;
        let m = views.iter().map(|v| v.rows().n_rows()).max().unwrap_or(0);
        self.inner.mech.check_dim(m).map_err(|e| {
            MethodError::Incompatible(format!("bl1 (on M = {m} coefficients): {e}"))
        })?;
        self.coeff_len.store(m, Ordering::Relaxed);
        let n = views.len();
        let inv_n = S::from_f64(1.0 / n as f64);
        let mut server = Bl1Server {
            x: x0.to_vec(),
            g: vec![S::ZERO; d],
            coef: Vec::with_capacity(n * m),
            basis: Vec::with_capacity(n),
            lambda: regularizer_lambda(views[0].regularizer())?,
            l: 0.0,
            mu,
            work: Bl1ServerWork::default(),
        };
        let mut init_up = InitUplink::new(n);
        let mut workers = Vec::with_capacity(n);
        let mut samples = 0;
        let mut gi = vec![S::ZERO; d];
        for (i, (o, v)) in problem.oracles().iter().zip(&views).enumerate() {
            if regularizer_lambda(v.regularizer())? != server.lambda {
                return Err(MethodError::Incompatible(
                    "bl1: the workers' regularisers differ".to_string(),
                ));
            }
            let rows = v.rows();
            let mi = rows.n_rows();
            o.grad(x0, &mut gi);
            let mut ci = vec![S::ZERO; m];
            v.coefficients(x0, &mut ci[..mi]);
            samples += 2 * mi as u64;
            ensure_finite(&gi, "the initial gradient", 0)?;
            ensure_finite(&ci, "the initial Hessian coefficients", 0)?;
            let mut basis = Basis {
                indptr: Vec::with_capacity(mi + 1),
                indices: Vec::new(),
                values: Vec::new(),
            };
            basis.indptr.push(0);
            for r in rows.rows() {
                basis.indices.extend_from_slice(r.indices);
                basis.values.extend_from_slice(r.values);
                basis.indptr.push(basis.indices.len());
            }
            if self.inner.count_init {
                init_up.charge(i, &init_message(d, &gi, &ci, &basis)?);
            }
            for (g, &val) in server.g.iter_mut().zip(&gi) {
                *g += inv_n * val;
            }
            server.coef.extend_from_slice(&ci);
            server.basis.push(basis);
            let mut work = WorkerWork::default();
            sized(&mut work, m);
            let rng = stream(seed, Purpose::Compression, i);
            workers.push(self.inner.worker(ci, rng, work));
        }
        server.prepare(self.inner.head_len(d), m)?;
        Ok(Init::charged(server, workers, init_up, samples))
    }

    /// $H = \tfrac1n\sum_i A_i^\top\mathrm{diag}(h_i)A_i + \lambda I$ from the coefficients, the
    /// step $x \leftarrow x - \lbrack H\rbrack^{-1} g$, then the dense model.
    fn broadcast(&self, server: &mut Bl1Server<S>, round: u64, down: &mut Message<S>) -> Result {
        let d = server.x.len();
        let m = self.m();
        server.prepare(self.inner.head_len(d), m)?;
        let inv_n = 1.0 / server.basis.len().max(1) as f64;
        let w = &mut server.work;
        w.h64.fill(0.0);
        for (b, c) in server.basis.iter().zip(server.coef.chunks_exact(m)) {
            b.add_gram_upper(d, c, inv_n, &mut w.h64);
        }
        for r in 0..d {
            for c in 0..r {
                w.h64[r * d + c] = w.h64[c * d + r];
            }
            w.h64[r * d + r] += server.lambda;
        }
        for (a, &b) in w.g64.iter_mut().zip(&server.g) {
            *a = b.to_f64();
        }
        let reg = self.inner.regularization(server.mu, server.l);
        w.solver
            .solve(&w.h64, &w.g64, reg, &mut w.delta)
            .map_err(|e| match e {
                SolveError::NonFinite => MethodError::Diverged {
                    what: "the Hessian estimate",
                    round,
                },
                e => MethodError::Incompatible(format!("bl1 at round {round}: {e}")),
            })?;
        apply_direction(&mut server.x, &w.delta, round, down)
    }

    fn worker_round(&self, worker: &mut Self::Worker, ctx: &mut WorkerCtx<'_, S>) -> Result {
        let x = local_grad_at("bl1", ctx)?;
        let glm = ctx.oracle.glm().ok_or_else(|| {
            MethodError::Incompatible("bl1: this worker's objective is not a GLM".to_string())
        })?;
        let m = worker.h.len();
        let mi = glm.rows().n_rows();
        if mi > m || worker.y.len() != m {
            return Err(MethodError::Incompatible(format!(
                "bl1: worker {} has {mi} rows and a state of {m} coefficients; resume with the \
                 configuration that wrote the checkpoint",
                ctx.worker
            )));
        }
        let w = &mut worker.work;
        sized(w, m);
        glm.coefficients(x, &mut w.fresh[..mi]);
        w.fresh[mi..].fill(S::ZERO);
        ctx.grad_samples += mi as u64;
        ensure_finite(&w.fresh, "the Hessian coefficients", ctx.round)?;
        ctx.with_up(|ctx, up| {
            let (head, coef) = up.concat_parts();
            let mctx = w.mech.ctx(ctx, &mut worker.rng);
            let h = (&mut worker.h[..], &worker.y[..], &w.fresh[..]);
            let mech = self.inner.mech.as_ref();
            apply_counted(mech, h, mctx, &mut worker.outcomes, coef)?;
            let b = &mut *ctx.buffers;
            let l = if self.shift() {
                b.work.fill(S::ZERO);
                gram_frobenius(glm, &worker.h, &w.fresh, &mut b.work)
            } else {
                0.0
            };
            worker.y.copy_from_slice(&w.fresh);
            let values = head.dense_parts();
            values.extend_from_slice(&b.grad);
            if self.shift() {
                values.push(S::from_f64(l));
            }
            Ok(())
        })
    }

    /// $g \leftarrow \tfrac1n\sum_i \nabla f_i$, $l \leftarrow \tfrac1n\sum_i l_i$ and
    /// $h_i \mathrel{+}= $ each worker's coefficient update, in worker order.
    fn absorb(&self, server: &mut Bl1Server<S>, round: u64, ups: &[Message<S>]) -> Result {
        let d = server.x.len();
        let (head, m) = (self.inner.head_len(d), self.m());
        server.prepare(head, m)?;
        if ups.len() != server.basis.len() {
            return Err(MethodError::Protocol {
                method: "bl1",
                expected: "one uplink message per worker",
            });
        }
        let inv_n = S::from_f64(1.0 / ups.len().max(1) as f64);
        server.g.fill(S::ZERO);
        let mut l = 0.0;
        let acc = &mut server.work.acc;
        for (i, (up, coef)) in ups.iter().zip(server.coef.chunks_exact_mut(m)).enumerate() {
            acc.fill(S::ZERO);
            up.add_to(acc, S::ONE).map_err(message_err(i, round))?;
            for (g, &v) in server.g.iter_mut().zip(&acc[..d]) {
                *g += inv_n * v;
            }
            if head > d {
                l += acc[d].to_f64();
            }
            for (c, &v) in coef.iter_mut().zip(&acc[head..]) {
                *c += v;
            }
        }
        server.l = l / ups.len().max(1) as f64;
        ensure_finite(&server.g, "the averaged gradient", round)?;
        ensure_finite(&server.coef, "the learned Hessian coefficients", round)
    }

    /// The dense model down; up, the gradient (+ l_i) and the M coefficients (M of the last
    /// `init`).
    fn phase_dims(&self, d: usize, _phase: usize) -> (usize, usize) {
        (d, self.inner.head_len(d) + self.m())
    }

    fn uplink_levels(&self) -> Option<usize> {
        self.inner.mech.wire_levels()
    }
}

method_entry! {
    Bl1Spec(Bl1Params {
        compressor,
        hessian_mechanism,
        newton_step,
        count_init,
    }): Star "bl1",
    summary = "BL1 (Basis Learn) for GLMs: Hessian coefficients in the data basis learned with a 3PC mechanism (compressor, mechanism, zeta, p), dense gradients, a regularised Newton step",
    example = "compressor = \"top_k:k=30\"",
    hints = [UNIT_STEP],
    |p, _ctx, sink| {
        // The coefficient dimension M is the problem's (known at init, where the mechanism is
        // checked against it); here only the compressor's own parameters are checked.
        let mech = p.hessian_mechanism::<S>(u32::MAX as usize)?;
        let rule = p.regularization.unwrap_or(RegularizationRule::Project);
        sink.star(Bl1::new(mech, rule, p.mu, p.count_init).map_err(crate::spec::method_err)?)
    }
}

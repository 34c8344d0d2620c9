//! PowerSGD: rank-r compression by one step of power iteration, with error feedback.

mod low_rank;

pub use low_rank::Layout;

use serde::{Deserialize, Serialize};
use squeeze_core::{Message, Purpose, Scalar, SqueezeRng, ops};
use squeeze_problems::Problem;

use crate::method::{
    Init, InitOf, MethodError, Result, ServerMethod, ServerState, WorkerCtx, add_mean, checked_dim,
    dense_down, ensure_finite, local_grad, stream,
};
use crate::star::server::absorbed_by_method;
use crate::stepsize::Stepsize;

/// PowerSGD (Vogels, Karimireddy, Jaggi, NeurIPS 2019, arXiv 1905.13727): every round each
/// worker views $M_i = \nabla f_i(x^t) + e_i$ as matrices (a [`Layout`]) and, per matrix, with
/// $Q$ shared by all workers,
///
/// $$P = \tfrac1n\textstyle\sum_i M_i Q,\quad \hat P = \mathrm{orth}(P),\quad
/// Q_i = M_i^\top \hat P,\quad \bar Q = \tfrac1n\sum_i Q_i,$$
/// $$e_i \leftarrow M_i - \hat P Q_i^\top,\qquad x^{t+1} = x^t - \gamma\thinspace\hat P\bar Q^\top,$$
///
/// two all-reduce phases per round ([`ServerMethod::phases`] = 2), the means taken by the
/// server in worker order. $Q$ is warm-started: round $t + 1$ projects with round $t$'s
/// $\bar Q$; round 0 with i.i.d. $N(0, 1)$ entries from the experiment seed, the same on every
/// worker (`warm_start = false`: fresh $N(0, 1)$ entries from the round seed every round after
/// the first). $\mathrm{orth}$ is Gram–Schmidt ([`Layout::orthonormalise`]; rank-deficient
/// columns become zero).
///
/// **Class:** no a-priori α — the compression $M \mapsto \hat P\hat P^\top M$ is a projection
/// whose quality depends on the data and on $Q$; error feedback makes up for it. The theory
/// stepsize rule is therefore GD's $\gamma = \text{multiplier}/L$ (the paper reuses the
/// uncompressed learning rate), without a guarantee.
///
/// **Bits** per worker per round, for a matrix $m \times n$ of rank $r$: up $P_i$ and $Q_i$,
/// down $\bar Q$ (the previous round's, from which the worker also takes its copy of the step)
/// and $\hat P$: $r(m + n)$ values each way, i.e. $32\thinspace r(m + n)$ bits in `f32`
/// ($64\thinspace r(m + n)$ in `f64`) summed over the matrices, plus the 4-bit message tag of
/// each of the two messages. Every worker keeps its own copy of $x$, stepped exactly as the
/// server's (the same operations on the same values), so no dense model travels.
///
/// **Error feedback:** $e_i \leftarrow M_i - \hat P Q_i^\top = (I - \hat P\hat P^\top)M_i$,
/// the worker's own approximation (the paper's Algorithm 2, line 9: the local memory of what
/// was not sent). PyTorch's `powerSGD_hook` and the authors' code keep
/// $M_i - \hat P\bar Q^\top$ instead. The method is linear in the $M_i$, so only
/// $\tfrac1n\sum_i e_i$ matters, and both give $(I - \hat P\hat P^\top)\tfrac1n\sum_i M_i$:
/// the same trajectory in exact arithmetic. The local form keeps each $e_i$ bounded on
/// heterogeneous data, where the global one drifts by $\nabla f_i - \nabla f$ every round.
/// With $r = \min(m, n)$, $\hat P$ spans the columns of $\bar M$, so
/// $\hat P\bar Q^\top = \bar M$ up to rounding and the method is GD (each $e_i$ is then 0
/// too if $m \le n$; for a tall block only their mean is).
///
/// ```
/// use squeeze_methods::{PowerSgd, PowerSgdShape, ServerMethod, Stepsize};
/// let m = PowerSgd::new(30, 1, PowerSgdShape::Rows(5), true, Stepsize::default()).unwrap();
/// // 5 × 6, rank 1: P has 5 values, Q has 6.
/// assert_eq!(<PowerSgd as ServerMethod<f32>>::phases(&m), 2);
/// assert_eq!(<PowerSgd as ServerMethod<f32>>::phase_dims(&m, 30, 0), (6, 5));
/// assert_eq!(<PowerSgd as ServerMethod<f32>>::phase_dims(&m, 30, 1), (5, 6));
/// let e = PowerSgd::new(30, 1, PowerSgdShape::Layers(vec![[5, 5]]), true, Stepsize::default());
/// assert!(e.unwrap_err().to_string().contains("sum to d = 30"));
/// ```
#[derive(Debug, Clone)]
pub struct PowerSgd {
    layout: Layout,
    rank: usize,
    shape: PowerSgdShape,
    warm_start: bool,
    stepsize: Stepsize,
}

/// How [`PowerSgd`] views the d-vector as matrices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PowerSgdShape {
    /// One `rows` × ⌈d / rows⌉ matrix, zero-padded.
    Rows(usize),
    /// Blocks $[m_l, n_l]$ in order, sizes summing to d.
    Layers(Vec<[usize; 2]>),
}

/// PowerSGD server state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct PowerSgdServer<S: Scalar> {
    /// Model x.
    pub x: Vec<S>,
    /// $\bar Q$ of the last round (before round 0: the seeded initial $Q$).
    pub q: Vec<S>,
    /// $\hat P$ of the current round (between its two phases).
    pub p_hat: Vec<S>,
    /// Resolved stepsize.
    pub gamma: f64,
}

/// PowerSGD worker state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct PowerSgdWorker<S: Scalar> {
    /// The worker's copy of x (stepped one phase after the server's, bit-identically).
    pub x: Vec<S>,
    /// Error memory $e_i$ (between the two phases of a round it holds $M_i = g_i + e_i$).
    pub e: Vec<S>,
    /// $\hat P$ of the last round (for the worker's copy of the step).
    pub p_hat: Vec<S>,
    /// Resolved stepsize.
    pub gamma: f64,
}

impl<S: Scalar> ServerState<S> for PowerSgdServer<S> {
    /// PowerSGD's server works per phase ([`ServerMethod::absorb_phase`]).
    fn absorb(&mut self, _round: u64, _ups: &[Message<S>]) -> Result {
        absorbed_by_method("powersgd", "two phases per round (absorb_phase)")
    }

    fn model(&self) -> &[S] {
        &self.x
    }
}

impl PowerSgd {
    /// PowerSGD of rank `rank` ≥ 1 on vectors of dimension `d` viewed as `shape`.
    pub fn new(
        d: usize,
        rank: usize,
        shape: PowerSgdShape,
        warm_start: bool,
        stepsize: Stepsize,
    ) -> Result<Self> {
        stepsize.validate()?;
        let layout = match &shape {
            PowerSgdShape::Rows(rows) => Layout::rows(d, *rows, rank)?,
            PowerSgdShape::Layers(l) => Layout::layers(d, l, rank)?,
        };
        Ok(Self {
            layout,
            rank,
            shape,
            warm_start,
            stepsize,
        })
    }

    /// The matrix view.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// `vals` has `want` entries, else a protocol error naming `what`.
    fn check_len<'a, S>(vals: &'a [S], want: usize, what: &'static str) -> Result<&'a [S]> {
        if vals.len() == want {
            Ok(vals)
        } else {
            Err(MethodError::Protocol {
                method: "powersgd",
                expected: what,
            })
        }
    }
}

impl<S: Scalar> ServerMethod<S> for PowerSgd {
    type Worker = PowerSgdWorker<S>;
    type Server = PowerSgdServer<S>;

    fn describe(&self) -> String {
        let shape = match &self.shape {
            PowerSgdShape::Rows(r) => format!("rows={r}"),
            PowerSgdShape::Layers(l) => format!("layers={l:?}"),
        };
        format!(
            "powersgd(rank={}, {shape}, warm_start={}, γ rule {:?})",
            self.rank, self.warm_start, self.stepsize
        )
    }

    fn init(&self, problem: &Problem<S>, x0: &[S], seed: u64) -> Result<InitOf<Self, S>> {
        let d = checked_dim(problem, x0)?;
        if d != self.layout.dim() {
            return Err(MethodError::Incompatible(format!(
                "powersgd: the matrix shape was set up for d = {}, the problem has d = {d}",
                self.layout.dim(),
            )));
        }
        let step = self
            .stepsize
            .report_uncompressed("powersgd", problem.smoothness())?;
        let gamma = step.gamma;
        let mut q = Vec::new();
        self.layout
            .gaussian(&mut stream(seed, Purpose::Shared, 0), &mut q);
        let p_hat = vec![S::ZERO; self.layout.p_len()];
        let worker = PowerSgdWorker {
            x: x0.to_vec(),
            e: vec![S::ZERO; x0.len()],
            p_hat: p_hat.clone(),
            gamma,
        };
        let server = PowerSgdServer {
            x: x0.to_vec(),
            q,
            p_hat,
            gamma,
        };
        let workers = vec![worker; problem.n_workers()];
        Ok(Init::silent(server, workers, 0).with_stepsize(step))
    }

    fn phases(&self) -> usize {
        2
    }

    /// Phase 0: $\bar Q$ down, $P_i$ up; phase 1: $\hat P$ down, $Q_i$ up.
    fn phase_dims(&self, _d: usize, phase: usize) -> (usize, usize) {
        let (p, q) = (self.layout.p_len(), self.layout.q_len());
        if phase == 0 { (q, p) } else { (p, q) }
    }

    fn broadcast_phase(
        &self,
        server: &mut Self::Server,
        _round: u64,
        phase: usize,
        down: &mut Message<S>,
    ) -> Result {
        let v = if phase == 0 { &server.q } else { &server.p_hat };
        down.dense_parts().extend_from_slice(v);
        Ok(())
    }

    fn worker_round(&self, w: &mut Self::Worker, ctx: &mut WorkerCtx<'_, S>) -> Result {
        let l = &self.layout;
        let vals = dense_down(ctx.down, "powersgd")?;
        if ctx.phase == 0 {
            let q = Self::check_len(vals, l.q_len(), "Q̄ (dense, Σ r·n values)")?;
            if ctx.round > 0 {
                // The previous round's step x ← x − γ P̂ Q̄ᵀ, as the server took it.
                l.sub_outer(&mut w.x, &w.p_hat, q, S::from_f64(w.gamma));
                ensure_finite(&w.x, "the model x", ctx.round)?;
            }
            local_grad(ctx, &w.x)?;
            ops::axpy(S::ONE, &ctx.buffers.grad, &mut w.e)
                .map_err(|e| MethodError::Incompatible(e.to_string()))?;
            let p = ctx.up.dense_parts();
            p.resize(l.p_len(), S::ZERO);
            if self.warm_start || ctx.round == 0 {
                l.project(&w.e, q, p);
            } else {
                let fresh = ctx.buffers.spare.dense_parts();
                l.gaussian(
                    &mut SqueezeRng::stream(ctx.round_seed, Purpose::Shared, 0),
                    fresh,
                );
                l.project(&w.e, fresh, p);
            }
        } else {
            let p_hat = Self::check_len(vals, l.p_len(), "P̂ (dense, Σ r·m values)")?;
            w.p_hat.copy_from_slice(p_hat);
            let q = ctx.up.dense_parts();
            q.resize(l.q_len(), S::ZERO);
            l.back_project(&w.e, p_hat, q);
            l.sub_outer(&mut w.e, p_hat, q, S::ONE);
        }
        Ok(())
    }

    fn absorb_phase(
        &self,
        server: &mut Self::Server,
        round: u64,
        phase: usize,
        ups: &[Message<S>],
    ) -> Result {
        if phase == 0 {
            server.p_hat.fill(S::ZERO);
            add_mean(&mut server.p_hat, round, ups)?;
            ensure_finite(&server.p_hat, "the aggregated P", round)?;
            self.layout.orthonormalise(&mut server.p_hat);
        } else {
            server.q.fill(S::ZERO);
            add_mean(&mut server.q, round, ups)?;
            ensure_finite(&server.q, "the aggregated Q", round)?;
            let gamma = S::from_f64(server.gamma);
            self.layout
                .sub_outer(&mut server.x, &server.p_hat, &server.q, gamma);
            ensure_finite(&server.x, "the model x", round)?;
        }
        Ok(())
    }
}

// ---- registry entry (name, params, build): see `crate::registry` ----

crate::spec::method_entry! {
    PowerSgdSpec(PowerSgdParams {
        stepsize,
        /// Approximation rank r ≥ 1 per matrix (default 1; capped at min(m, n)).
        rank: Option<usize>,
        /// One rows × ⌈d/rows⌉ matrix, zero-padded (default ⌈√d⌉; not with layers).
        rows: Option<usize>,
        /// Matrix blocks [[m, n], …] in order, sizes summing to d (instead of rows).
        layers: Option<Vec<[usize; 2]>>,
        /// Project with the previous round's Q (default true; false: fresh Gaussian Q each round).
        warm_start: Option<bool>,
    }): Star "powersgd",
    summary = "PowerSGD: rank-r power-iteration compression with error feedback (two all-reduces per round)",
    example = "rank = 1\nrows = 5",
    hints = [(
        "compressor",
        "powersgd compresses by its own low-rank step; set rank (and rows or layers) instead",
    )],
    |p, ctx, sink| {
        let shape = match (p.rows, p.layers) {
            (Some(_), Some(_)) => {
                return Err(s::MethodConfigError::at(
                    "layers",
                    "give either rows (one padded matrix) or layers (blocks summing to d), not both",
                )
                .into())
            }
            (_, Some(l)) => PowerSgdShape::Layers(l),
            (Some(r), None) => PowerSgdShape::Rows(r),
            (None, None) => PowerSgdShape::Rows((ctx.dim as f64).sqrt().ceil().max(1.0) as usize),
        };
        let m = PowerSgd::new(
            ctx.dim,
            p.rank.unwrap_or(1),
            shape,
            p.warm_start.unwrap_or(true),
            p.stepsize,
        )
        .map_err(|e| match e {
            MethodError::Param(pe) if ["rank", "rows", "layers"].contains(&pe.param) => {
                s::MethodConfigError::at(pe.param, pe.to_string())
            }
            e => s::method_err(e),
        })?;
        sink.star(m)
    }
}

//! Gradient descent: the uncompressed baseline.

use serde::{Deserialize, Serialize};
use squeeze_core::{Message, Scalar};
use squeeze_problems::Problem;

use crate::method::ServerState;
use crate::method::{
    Init, InitOf, Result, ServerMethod, WorkerCtx, checked_dim, ensure_finite, full_grad_init,
};
use crate::star::server::{StepServer, local_grad_at};
use crate::stepsize::Stepsize;

/// Distributed gradient descent: $x^{t+1} = x^t - \gamma\thinspace\tfrac1n\sum_i \nabla f_i(x^t)$.
///
/// Workers send their full local gradient (dense, $32d$ bits in `f32`, $64d$ in `f64`); the
/// server averages in worker order. The stepsize rule is the same as EF21's with $\alpha = 1$:
/// the theory rule gives $\gamma = \text{multiplier}/L$.
///
/// Rounds are aligned with [`crate::Ef21`]: the initial gradient is computed during `init`,
/// round $t$ steps to $x^{t+1}$ and evaluates the gradients there.
///
/// ```
/// use squeeze_methods::{Gd, Stepsize};
/// let gd = Gd::new(Stepsize::Constant { gamma: 0.1 }).unwrap();
/// assert_eq!(<Gd as squeeze_methods::ServerMethod<f64>>::describe(&gd), "gd(γ rule Constant { gamma: 0.1 })");
/// ```
#[derive(Debug, Clone)]
pub struct Gd {
    stepsize: Stepsize,
}

/// GD server state.
pub type GdServer<S> = StepServer<S>;

/// GD keeps no per-worker state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GdWorker;

impl Gd {
    /// GD with a stepsize rule.
    pub fn new(stepsize: Stepsize) -> Result<Self> {
        stepsize.validate()?;
        Ok(Self { stepsize })
    }
}

impl<S: Scalar> ServerMethod<S> for Gd {
    type Worker = GdWorker;
    type Server = GdServer<S>;

    fn describe(&self) -> String {
        format!("gd(γ rule {:?})", self.stepsize)
    }

    fn init(&self, problem: &Problem<S>, x0: &[S], _seed: u64) -> Result<InitOf<Self, S>> {
        checked_dim(problem, x0)?;
        let step = self
            .stepsize
            .report_uncompressed("gd", problem.smoothness())?;
        // g = Σ_i (1/n) ∇f_i(x⁰) in worker order; nothing is sent.
        let init = full_grad_init(problem, x0, false)?;
        ensure_finite(&init.g, "the initial gradient", 0)?;
        let server = GdServer::at(x0, init.g, step.gamma);
        let workers = vec![GdWorker; problem.n_workers()];
        Ok(Init::silent(server, workers, init.grad_samples).with_stepsize(step))
    }

    fn worker_round(&self, _worker: &mut Self::Worker, ctx: &mut WorkerCtx<'_, S>) -> Result {
        local_grad_at("gd", ctx)?;
        ctx.up.dense_parts().extend_from_slice(&ctx.buffers.grad);
        Ok(())
    }

    fn absorb(&self, server: &mut GdServer<S>, round: u64, ups: &[Message<S>]) -> Result {
        server.g.fill(S::ZERO);
        server.absorb(round, ups)
    }
}

// ---- registry entry (name, params, build): see `crate::registry` ----

crate::spec::method_entry! {
    GdSpec(GdParams { stepsize }): Star "gd",
    summary = "gradient descent, dense gradients up (no compressor)",
    example = "stepsize = { rule = \"theory\", multiplier = 1.0 }",
    hints = [(
        "compressor",
        "gd sends dense gradients; remove the compressor or use ef21 with compressor = \"identity\"",
    )],
    |p, ctx, sink| {
        let m = Gd::new(p.stepsize).map_err(crate::spec::method_err)?;
        sink.star::<Gd>(m)
    }
}

//! Local SGD / FedAvg with full participation.

use serde::{Deserialize, Serialize};
use squeeze_core::{Message, ParamError, Scalar};
use squeeze_problems::Problem;

use crate::gossip::{GradSource, GradState};
use crate::method::{
    Init, InitOf, Result, ServerMethod, WorkerCtx, add_mean, dense_down, ensure_finite,
};
use crate::star::server::ModelServer;
use crate::stepsize::Stepsize;

/// Local SGD: every round all workers start from the server model, take $K$ local steps
/// $x_i \leftarrow x_i - \gamma\thinspace\hat g_i(x_i)$ on their own data, and the server averages,
/// $x \leftarrow \tfrac1n\sum_i x_i$ (algorithms.md §9a; FedAvg with full participation, equal
/// weights, no server stepsize).
///
/// $\hat g_i$ is the worker's `gradient` ([`GradSource`]); $K$ = `local_steps` ≥ 1. With $K = 1$
/// it is minibatch SGD in exact arithmetic ($\tfrac1n\sum_i(x - \gamma\hat g_i)$ vs
/// $x - \gamma\tfrac1n\sum_i\hat g_i$ round differently: tested to a tolerance). With full
/// gradients and $K > 1$ it converges to a biased point on heterogeneous data (client drift).
///
/// Stepsize: the local γ; the theory rule is GD's $1/L$. Wire: the dense local model up, the
/// dense model down (one round = one communication, $K$ local gradients).
///
/// ```
/// use squeeze_methods::{GradSource, LocalSgd, Stepsize};
/// assert!(LocalSgd::new(Stepsize::default(), 4, GradSource::Full).is_ok());
/// assert!(LocalSgd::new(Stepsize::default(), 0, GradSource::Full).unwrap_err().to_string().contains("local_steps"));
/// ```
#[derive(Debug, Clone)]
pub struct LocalSgd {
    stepsize: Stepsize,
    local_steps: u32,
    grad: GradSource,
}

/// Local SGD server state.
pub type LocalSgdServer<S> = ModelServer<S>;

/// Local SGD worker state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalSgdWorker {
    /// Stochastic-gradient state.
    pub grad: GradState,
    /// Resolved local stepsize (copied from the server).
    pub gamma: f64,
}

impl LocalSgd {
    /// Local SGD with `local_steps` ≥ 1 steps per round.
    pub fn new(stepsize: Stepsize, local_steps: u32, grad: GradSource) -> Result<Self> {
        stepsize.validate()?;
        if local_steps == 0 {
            return Err(ParamError::new(
                "local_sgd",
                "local_steps",
                local_steps,
                "take at least one local step per round (local_steps = 1 is minibatch SGD)",
            )
            .into());
        }
        Ok(Self {
            stepsize,
            local_steps,
            grad,
        })
    }
}

impl<S: Scalar> ServerMethod<S> for LocalSgd {
    type Worker = LocalSgdWorker;
    type Server = LocalSgdServer<S>;

    fn describe(&self) -> String {
        format!(
            "local_sgd(K={}, {:?}, {:?})",
            self.local_steps, self.stepsize, self.grad
        )
    }

    fn init(&self, problem: &Problem<S>, x0: &[S], seed: u64) -> Result<InitOf<Self, S>> {
        problem.check_dim(x0.len())?;
        let step = self
            .stepsize
            .report_uncompressed("local_sgd", problem.smoothness())?;
        let gamma = step.gamma;
        let workers = GradState::each(problem, seed, self.grad, |_, grad| LocalSgdWorker {
            grad,
            gamma,
        })?;
        Ok(Init::silent(LocalSgdServer::at(x0, gamma), workers, 0).with_stepsize(step))
    }

    fn worker_round(&self, worker: &mut Self::Worker, ctx: &mut WorkerCtx<'_, S>) -> Result {
        let x = dense_down(ctx.down, "local_sgd")?;
        let b = &mut *ctx.buffers;
        b.work.copy_from_slice(x);
        let gamma = S::from_f64(worker.gamma);
        for _ in 0..self.local_steps {
            ctx.grad_samples += worker
                .grad
                .grad(ctx.oracle, &b.work, &mut b.grad, ctx.round)?;
            for (xk, &gk) in b.work.iter_mut().zip(&b.grad) {
                *xk -= gamma * gk;
            }
        }
        ensure_finite(&b.work, "a local model", ctx.round)?;
        ctx.up.dense_parts().extend_from_slice(&b.work);
        Ok(())
    }

    fn absorb(&self, server: &mut Self::Server, round: u64, ups: &[Message<S>]) -> Result {
        server.x.fill(S::ZERO);
        add_mean(&mut server.x, round, ups)
    }
}

// ---- registry entry (name, params, build): see `crate::registry` ----

crate::spec::method_entry! {
    LocalSgdSpec(LocalSgdParams {
        stepsize,
        /// Local SGD steps K ≥ 1 per round (required).
        local_steps: Option<u32>,
        gradient,
    }): Star "local_sgd",
    summary = "Local SGD / FedAvg: local_steps SGD steps from the server model, average the models",
    example = "local_steps = 2",
    hints = [("compressor", "local_sgd sends dense models")],
    |p, ctx, sink| {
        let k = p.local_steps.ok_or_else(|| {
            s::MethodConfigError::at(
                "local_steps",
                "local_sgd needs local_steps: the local SGD steps per round, e.g. local_steps = 4",
            )
        })?;
        let m =
            LocalSgd::new(p.stepsize, k, p.gradient.unwrap_or_default()).map_err(s::method_err)?;
        sink.star(m)
    }
}

//! Naive distributed clipped GD (the baseline Clip21 fixes).

use serde::{Deserialize, Serialize};
use squeeze_compress::Clip;
use squeeze_core::Scalar;
use squeeze_problems::Problem;

use crate::method::{Init, InitOf, Result, ServerMethod, WorkerCtx};
use crate::star::server::{ModelServer, local_grad_at};
use crate::stepsize::Stepsize;

/// Clip-GD: every worker clips its own gradient, the server averages,
/// $x^{t+1} = x^t - \gamma\thinspace\tfrac1n\sum_i \operatorname{clip}_\tau(\nabla f_i(x^t))$
/// (algorithms.md §4.1; Khirirat et al. 2023 use it as the failing baseline).
///
/// Clipping each worker separately biases the average, and clipped vectors can cancel: with
/// $f_{1,2}(x) = \tfrac12(x \mp a)^2$, $a > \tau$, every $|x| < a - \tau$ is a fixed point
/// although $\nabla f(x) = x \ne 0$ (tested in `squeeze-driver/tests/suite/econtrol_clip21_marina.rs`).
///
/// Round alignment as EF14's: round $t$ broadcasts $x^t$, workers evaluate there, `absorb`
/// steps. Stepsize: the theory rule is GD's $1/L$ (times the multiplier). Wire: dense uplink
/// (clipping bounds the norm, not the size), dense downlink.
///
/// ```
/// use squeeze_methods::{ClipGd, Stepsize};
/// assert!(ClipGd::new(1.0, Stepsize::default()).is_ok());
/// assert!(ClipGd::new(0.0, Stepsize::default()).unwrap_err().to_string().contains("tau"));
/// ```
#[derive(Debug, Clone)]
pub struct ClipGd {
    clip: Clip,
    stepsize: Stepsize,
}

/// Clip-GD server state.
pub type ClipGdServer<S> = ModelServer<S>;

/// Clip-GD keeps no per-worker state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ClipGdWorker;

impl ClipGd {
    /// Clip-GD with radius `tau > 0` (`f64::INFINITY`: GD).
    pub fn new(tau: f64, stepsize: Stepsize) -> Result<Self> {
        stepsize.validate()?;
        Ok(Self {
            clip: Clip::new(tau)?,
            stepsize,
        })
    }
}

impl<S: Scalar> ServerMethod<S> for ClipGd {
    type Worker = ClipGdWorker;
    type Server = ClipGdServer<S>;

    fn describe(&self) -> String {
        format!("clip_gd(τ={}, {:?})", self.clip.tau(), self.stepsize)
    }

    fn init(&self, problem: &Problem<S>, x0: &[S], _seed: u64) -> Result<InitOf<Self, S>> {
        problem.check_dim(x0.len())?;
        let step = self
            .stepsize
            .report_uncompressed("clip_gd", problem.smoothness())?;
        let gamma = step.gamma;
        let n = problem.n_workers();
        Ok(Init::silent(ClipGdServer::at(x0, gamma), vec![ClipGdWorker; n], 0).with_stepsize(step))
    }

    fn worker_round(&self, _worker: &mut Self::Worker, ctx: &mut WorkerCtx<'_, S>) -> Result {
        local_grad_at("clip_gd", ctx)?;
        let g = &mut ctx.buffers.grad;
        self.clip
            .clip_in_place(g)
            .map_err(crate::method::compress_err(
                ctx.worker,
                ctx.round,
                "a local gradient",
            ))?;
        ctx.up.dense_parts().extend_from_slice(g);
        Ok(())
    }
}

// ---- registry entry (name, params, build): see `crate::registry` ----

crate::spec::method_entry! {
    ClipGdSpec(ClipGdParams { tau, stepsize }): Star "clip_gd",
    summary = "naive clipped GD: x ← x − γ avg clip_τ(∇f_i) (tau; stalls on heterogeneous data)",
    example = "tau = 100.0",
    hints = [(
        "compressor",
        "clip_gd clips dense gradients; use press_clip21 to compress",
    )],
    |p, ctx, sink| {
        let t = s::tau(Self::NAME, p.tau)?;
        sink.star(ClipGd::new(t, p.stepsize).map_err(s::method_err)?)
    }
}

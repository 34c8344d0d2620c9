//! Distributed minibatch SGD, optionally with compressed gradients and no error feedback.

use serde::{Deserialize, Serialize};
use squeeze_core::{Compressor, Purpose, Scalar, SqueezeRng};
use squeeze_problems::Problem;

use crate::gossip::{GradSource, GradState};
use crate::method::{
    Init, InitOf, MethodError, Result, ServerMethod, WorkerCtx, checked_dim, stream,
};
use crate::star::server::{ModelServer, sampled_grad_at};
use crate::stepsize::Stepsize;
use crate::three_point::compress_up;

/// Minibatch SGD: $x^{t+1} = x^t - \gamma\thinspace\tfrac1n\sum_i \hat g_i(x^t)$ with $\hat g_i$
/// worker $i$'s minibatch gradient (algorithms.md §9a;
/// `gradient = { kind = "minibatch", batch = b }`; with the full gradient it is GD).
///
/// With a compressor it is **compressed SGD without error feedback**, $x^{t+1} = x^t -
/// \gamma\thinspace\tfrac1n\sum_i \mathcal{C}(\hat g_i(x^t))$ — the "no EF" baseline of the
/// EControl experiments, which stalls for biased $\mathcal{C}$ on heterogeneous data. The
/// registry's `sgd` is the dense method; the compressed one is built in code ([`Sgd::compressed`]).
///
/// Round alignment as EF14's (evaluate at $x^t$, step in `absorb`). Stepsize: the theory rule
/// is GD's $1/L$ (with a compressor: EF21's rule with its α). Wire: dense (or compressed)
/// uplink, dense downlink.
///
/// ```
/// use squeeze_methods::{GradSource, Sgd, Stepsize};
/// let m = Sgd::<f64>::new(Stepsize::default(), GradSource::Minibatch { batch: 8 }).unwrap();
/// assert!(<Sgd<f64> as squeeze_methods::ServerMethod<f64>>::describe(&m).starts_with("sgd"));
/// ```
#[derive(Debug)]
pub struct Sgd<S: Scalar> {
    stepsize: Stepsize,
    grad: GradSource,
    compressor: Option<Box<dyn Compressor<S>>>,
}

/// SGD server state.
pub type SgdServer<S> = ModelServer<S>;

/// SGD worker state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SgdWorker {
    /// Stochastic-gradient state.
    pub grad: GradState,
    /// Compression stream.
    pub rng: SqueezeRng,
}

impl<S: Scalar> Sgd<S> {
    /// Dense minibatch SGD.
    pub fn new(stepsize: Stepsize, grad: GradSource) -> Result<Self> {
        stepsize.validate()?;
        Ok(Self {
            stepsize,
            grad,
            compressor: None,
        })
    }

    /// Compressed SGD without error feedback.
    pub fn compressed(
        compressor: Box<dyn Compressor<S>>,
        stepsize: Stepsize,
        grad: GradSource,
    ) -> Result<Self> {
        let mut m = Self::new(stepsize, grad)?;
        m.compressor = Some(compressor);
        Ok(m)
    }
}

impl<S: Scalar> ServerMethod<S> for Sgd<S> {
    type Worker = SgdWorker;
    type Server = SgdServer<S>;

    fn describe(&self) -> String {
        match &self.compressor {
            None => format!("sgd({:?}, {:?})", self.stepsize, self.grad),
            Some(c) => format!(
                "compressed_sgd({}, {:?}, {:?})",
                c.spec(),
                self.stepsize,
                self.grad
            ),
        }
    }

    fn init(&self, problem: &Problem<S>, x0: &[S], seed: u64) -> Result<InitOf<Self, S>> {
        let d = checked_dim(problem, x0)?;
        let alpha = match &self.compressor {
            None => Some(1.0),
            Some(c) => {
                c.check_dim(d)
                    .map_err(|e| MethodError::Incompatible(format!("compressed_sgd: {e}")))?;
                c.class(d).alpha()
            }
        };
        let step = self.stepsize.report("sgd", alpha, problem.smoothness())?;
        let gamma = step.gamma;
        let workers = GradState::each(problem, seed, self.grad, |i, grad| SgdWorker {
            grad,
            rng: stream(seed, Purpose::Compression, i),
        })?;
        Ok(Init::silent(SgdServer::at(x0, gamma), workers, 0).with_stepsize(step))
    }

    fn worker_round(&self, worker: &mut Self::Worker, ctx: &mut WorkerCtx<'_, S>) -> Result {
        sampled_grad_at("sgd", &mut worker.grad, ctx)?;
        let ids = ctx.ids();
        let b = &mut *ctx.buffers;
        match &self.compressor {
            None => ctx.up.dense_parts().extend_from_slice(&b.grad),
            Some(c) => compress_up(
                c.as_ref(),
                &b.grad,
                &mut worker.rng,
                &mut b.scratch,
                ids,
                "a local gradient",
                ctx.up,
            )?,
        }
        Ok(())
    }
}

// ---- registry entry (name, params, build): see `crate::registry` ----

crate::spec::method_entry! {
    SgdSpec(SgdParams { compressor, stepsize, gradient }): Star "sgd",
    summary = "minibatch SGD, dense gradients up (gradient = { kind = \"minibatch\", batch = b }); with a compressor: compressed SGD, no error feedback",
    example = "stepsize = { rule = \"theory\", multiplier = 1.0 }",
    |p, ctx, sink| {
        let grad = p.gradient.unwrap_or_default();
        let m = match &p.compressor {
            // Compressed SGD without error feedback (the X3 baseline that fails).
            Some(_) => {
                let c = p.main_compressor::<S>(ctx.dim)?;
                Sgd::<S>::compressed(c, p.stepsize, grad)
            }
            None if p.warmup_rounds > 0 || !p.compressor_schedule.is_empty() => {
                return Err(s::MethodConfigError::at(
                    "compressor",
                    "sgd without a compressor sends dense gradients: set the compressor that \
                     warmup_rounds / compressor_schedule schedule, or remove those keys",
                )
                .into());
            }
            None => Sgd::<S>::new(p.stepsize, grad),
        };
        sink.star(m.map_err(s::method_err)?)
    }
}

//! The compressed start EF21 and EControl share: the compressor, the stepsize rule and the
//! workers' initial estimates $g_i^0$.

use squeeze_core::{CompressCtx, Compressor, Message, Scalar, Scratch, SqueezeRng, ops};
use squeeze_problems::Problem;

use crate::method::{
    Init, InitUplink, MethodError, Result, compress_err, compressed_dim, message_err,
};
use crate::star::ef21::GradInit;
use crate::stepsize::{Stepsize, StepsizeReport};

/// What EF21 and EControl are built on: the compressor $\mathcal C$, the stepsize rule (its
/// theory $\gamma$ reads the contraction $\alpha$ of $\mathcal C$ at the problem's dimension $d$)
/// and the start $g_i^0$ of the workers' estimates ([`GradInit`]; a dense $g_i^0$ is charged only
/// with `count_init`).
#[derive(Debug)]
pub(crate) struct CompressedStart<S: Scalar> {
    pub(crate) compressor: Box<dyn Compressor<S>>,
    pub(crate) stepsize: Stepsize,
    pub(crate) init: GradInit,
    pub(crate) count_init: bool,
}

impl<S: Scalar> CompressedStart<S> {
    /// The parts, the stepsize rule checked.
    pub(crate) fn new(
        compressor: Box<dyn Compressor<S>>,
        stepsize: Stepsize,
        init: GradInit,
        count_init: bool,
    ) -> Result<Self> {
        stepsize.validate()?;
        Ok(Self {
            compressor,
            stepsize,
            init,
            count_init,
        })
    }

    /// $\gamma$ of `method` on `problem` with the constants behind it (the theory rule reads
    /// $\alpha$ of the compressor at the problem's dimension).
    pub(crate) fn stepsize_report(
        &self,
        method: &'static str,
        problem: &Problem<S>,
    ) -> Result<StepsizeReport> {
        let alpha = self.compressor.class(problem.dim()).alpha();
        Ok(self.stepsize.report(method, alpha, problem.smoothness())?)
    }

    /// [`Self::stepsize_report`] after checking the compressor against the problem's dimension
    /// (its refusal is [`MethodError::Incompatible`], prefixed with `method`).
    pub(crate) fn checked_stepsize_report(
        &self,
        method: &'static str,
        problem: &Problem<S>,
    ) -> Result<StepsizeReport> {
        self.compressor
            .check_dim(problem.dim())
            .map_err(|e| MethodError::Incompatible(format!("{method}: {e}")))?;
        self.stepsize_report(method, problem)
    }

    /// The start of `method`'s `init`: $d$ ($x^0$ checked against `problem` and the
    /// compressor), the stepsize report, and no estimates yet for the problem's workers.
    pub(crate) fn begin(
        &self,
        method: &'static str,
        problem: &Problem<S>,
        x0: &[S],
    ) -> Result<(usize, StepsizeReport, InitEstimates<'_, S>)> {
        let d = compressed_dim(problem, x0, self.compressor.as_ref(), method)?;
        let step = self.stepsize_report(method, problem)?;
        let est = InitEstimates::new(self, (problem.n_workers(), d));
        Ok((d, step, est))
    }
}

/// Workers' initial estimates under a [`GradInit`] rule, with their mean
/// $\tfrac1n\sum_i g_i^0$ and what they cost: the init uplink charged and the gradient samples
/// used, accumulated worker by worker (shared by EF21 and EControl).
pub(crate) struct InitEstimates<'c, S: Scalar> {
    /// The rule ([`CompressedStart::init`]), `count_init` and the compressor.
    start: &'c CompressedStart<S>,
    n: usize,
    scratch: Scratch,
    msg: Message<S>,
    /// $\sum_i \tfrac1n g_i^0$ so far (in worker order).
    mean: Vec<S>,
    /// What the workers sent so far.
    pub init_up: InitUplink,
    /// Gradient work so far, in samples.
    pub grad_samples: u64,
}

impl<'c, S: Scalar> InitEstimates<'c, S> {
    /// Nothing estimated yet under `start` for `n` workers in dimension `d`.
    pub(crate) fn new(start: &'c CompressedStart<S>, (n, d): (usize, usize)) -> Self {
        Self {
            start,
            n,
            scratch: Scratch::default(),
            msg: Message::default(),
            mean: vec![S::ZERO; d],
            init_up: InitUplink::new(n),
            grad_samples: 0,
        }
    }

    /// Worker `i`'s initial estimate $g_i^0$: zero ([`GradInit::Zero`]); its gradient
    /// written by `grad` (which returns the samples used), charged as a dense message only with
    /// `count_init` ([`GradInit::Full`]); or that gradient compressed with the worker's stream
    /// `rng` (no round seed) and always charged ([`GradInit::Compressed`]). Then
    /// mean $\leftarrow$ mean $+ \tfrac1n g_i^0$.
    pub(crate) fn estimate(
        &mut self,
        i: usize,
        rng: &mut SqueezeRng,
        grad: impl FnOnce(&mut [S]) -> Result<u64>,
    ) -> Result<Vec<S>> {
        let d = self.mean.len();
        let mut gi = vec![S::ZERO; d];
        match self.start.init {
            GradInit::Zero => {}
            GradInit::Full => {
                self.grad_samples += grad(&mut gi)?;
                if self.start.count_init {
                    self.init_up
                        .charge(i, &Message::Dense { values: gi.clone() });
                }
            }
            GradInit::Compressed => {
                let mut full = vec![S::ZERO; d];
                self.grad_samples += grad(&mut full)?;
                let mut ctx = CompressCtx::new(rng, &mut self.scratch).with_worker(i, self.n);
                self.start
                    .compressor
                    .compress_into(&full, &mut ctx, &mut self.msg)
                    .map_err(compress_err(i, 0, "the initial gradient"))?;
                self.msg
                    .add_to(&mut gi, S::ONE)
                    .map_err(message_err(i, 0))?;
                self.init_up.charge(i, &self.msg);
            }
        }
        let inv_n = S::from_f64(1.0 / self.n as f64);
        ops::axpy(inv_n, &gi, &mut self.mean)
            .map_err(|e| MethodError::Incompatible(e.to_string()))?;
        Ok(gi)
    }

    /// The initial states (the server's from the estimates' mean), charged with what the
    /// estimates cost.
    pub(crate) fn finish<Sv, W>(
        self,
        server: impl FnOnce(Vec<S>) -> Sv,
        workers: Vec<W>,
    ) -> Init<Sv, W> {
        Init::charged(server(self.mean), workers, self.init_up, self.grad_samples)
    }
}

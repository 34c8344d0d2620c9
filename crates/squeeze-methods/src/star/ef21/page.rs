//! EF21-PAGE (Fatkhullin, Sokolov, Gorbunov, Li, Richtárik, "EF21 with bells & whistles", 2021).

use serde::{Deserialize, Serialize};
use squeeze_core::{Compressor, ParamError, Scalar, SqueezeRng};
use squeeze_problems::Problem;

use crate::method::{Result, WorkerCtx, check_prob, ensure_finite};
use crate::star::ef21::sgd::{Batch, Minibatches};
use crate::star::ef21::{Ef21Family, Ef21Worker, GradEstimator, GradInit, PlainStep};
use crate::stepsize::Stepsize;

/// Tag of the shared PAGE coin (mixed with the round seed).
const PAGE_COIN: u64 = 0x7061_6765_636f_696e;

/// Whether round `round_seed`'s shared PAGE coin says "refresh" (probability `p`); the same
/// answer for every worker.
///
/// ```
/// let s = squeeze_core::round_seed(1, 5);
/// assert!(squeeze_methods::star::ef21::page::page_refresh(s, 1.0));
/// assert_eq!(squeeze_methods::star::ef21::page::page_refresh(s, 0.3), squeeze_methods::star::ef21::page::page_refresh(s, 0.3));
/// ```
pub fn page_refresh(round_seed: u64, p: f64) -> bool {
    SqueezeRng::from_seed_u64(squeeze_core::rng::mix(round_seed, PAGE_COIN, 0)).bernoulli(p)
}

/// EF21-PAGE: EF21 compressing the PAGE variance-reduced estimator.
///
/// $$x^{t+1} = x^t - \gamma g^t,\qquad
/// v_i^{t+1} = \begin{cases}\nabla f_i(x^{t+1}) & \text{w.p. } p\cr
/// v_i^t + \tfrac1{\tau_i}\sum_{j\in I_i^t}\big(\nabla f_{ij}(x^{t+1}) - \nabla f_{ij}(x^t)\big) & \text{otherwise,}\end{cases}$$
/// $$c_i^t = \mathcal{C}(v_i^{t+1} - g_i^t),\qquad g_i^{t+1} = g_i^t + c_i^t,\qquad
/// g^{t+1} = g^t + \tfrac1n\textstyle\sum_i c_i^t,$$
/// with $v_i^0 = g_i^0 = \nabla f_i(x^0)$.
///
/// Reference: Fatkhullin et al., *EF21 with bells & whistles* (2021), EF21-PAGE;
/// algorithms.md §2.3. As in the reference code, **one coin per round is shared by all
/// workers** (drawn from the round seed, [`page_refresh`]), so they refresh together, and the
/// default $p = \tfrac1n\sum_i \tau_i/(\tau_i + m_i)$. The minibatch $I_i^t$ ($\tau_i$
/// samples without replacement, the worker's `Purpose::Sampling` stream) is the same at both
/// points; the regulariser's gradient difference enters exactly (it is deterministic).
///
/// Stepsize: the EF21 theory rule × multiplier (the experiment code's choice; the paper's
/// PAGE stepsize with the average-smoothness constant ℒ is not implemented — UNCONFIRMED
/// that the EF21 rule is within its theory).
///
/// Gradient work: $m_i$ samples in a refresh round, $2\tau_i$ otherwise. [`Ef21Family`] with
/// the [`Page`] estimator and the plain step.
///
/// ```
/// use squeeze_compress::parse;
/// use squeeze_methods::{Batch, Ef21Page, Stepsize};
/// let ok = Ef21Page::<f64>::new(parse("top_k:k=1").unwrap(), Stepsize::default(), Batch::Fraction(0.1), Some(0.2), false);
/// assert!(ok.is_ok());
/// let bad = Ef21Page::<f64>::new(parse("top_k:k=1").unwrap(), Stepsize::default(), Batch::Fraction(0.1), Some(0.0), false);
/// assert!(bad.is_err()); // p must be in (0, 1]
/// ```
pub type Ef21Page<S> = Ef21Family<S, Page, PlainStep>;

/// The PAGE estimator $v_i$ of EF21-PAGE: minibatches `batch`, refresh probability `p`
/// (None: mean τ_i/(τ_i + m_i)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Page {
    /// τ_i.
    pub batch: Batch,
    /// Refresh probability.
    pub p: Option<f64>,
}

/// EF21-PAGE worker state: EF21's ($g_i$ and the compression stream), the PAGE estimator
/// and the minibatches (flattened: the checkpoint keys are `g`, `rng`, `v`, `x_prev`, `p`,
/// `sampler`, `sampling`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Ef21PageWorker<S: Scalar> {
    /// Gradient estimate g_i (what the server knows) and compression stream.
    #[serde(flatten)]
    pub ef21: Ef21Worker<S>,
    /// PAGE estimator v_i.
    pub v: Vec<S>,
    /// The previous model x^t (the second point of the minibatch difference).
    pub x_prev: Vec<S>,
    /// Refresh probability p (resolved at init, the same for every worker).
    pub p: f64,
    /// Minibatch sampler and stream.
    #[serde(flatten)]
    pub batches: Minibatches,
}

impl<S: Scalar> Ef21Page<S> {
    /// EF21-PAGE with minibatches `batch` and refresh probability `p` (None: the reference
    /// code's default mean τ_i/(τ_i + m_i)).
    pub fn new(
        compressor: Box<dyn Compressor<S>>,
        stepsize: Stepsize,
        batch: Batch,
        p: Option<f64>,
        count_init: bool,
    ) -> Result<Self> {
        let (init, estimator) = (GradInit::Full, Page { batch, p });
        Self::compose(compressor, stepsize, init, count_init, estimator, PlainStep)
    }
}

impl<S: Scalar> GradEstimator<S> for Page {
    type Worker = Ef21PageWorker<S>;
    const NAME: &'static str = "ef21_page";
    const CORRECTION: &'static str = "the correction v_i − g_i";

    fn describe(&self, _: GradInit) -> String {
        format!(", batch={:?}, p={:?}", self.batch, self.p)
    }

    /// τ_i, and p ∈ (0, 1] if given.
    fn validate(&self) -> Result<(), ParamError> {
        self.batch.validate()?;
        match self.p {
            Some(p) => check_prob("ef21_page", "p", p),
            None => Ok(()),
        }
    }

    fn workers(
        &self,
        problem: &Problem<S>,
        x0: &[S],
        seed: u64,
        ef21: Vec<Ef21Worker<S>>,
    ) -> Result<Vec<Ef21PageWorker<S>>> {
        let sampled = self.batch.sampled(problem, seed)?;
        let p = match self.p {
            Some(p) => p,
            None => {
                sampled
                    .iter()
                    .zip(problem.oracles())
                    .map(|(b, o)| b.sampler.tau() as f64 / (b.sampler.tau() + o.n_samples()) as f64)
                    .sum::<f64>()
                    / sampled.len() as f64
            }
        };
        Ok(ef21
            .into_iter()
            .zip(sampled)
            .map(|(ef21, batches)| Ef21PageWorker {
                v: ef21.g.clone(),
                ef21,
                x_prev: x0.to_vec(),
                p,
                batches,
            })
            .collect())
    }

    fn correction(
        &self,
        worker: &mut Ef21PageWorker<S>,
        x: &[S],
        ctx: &mut WorkerCtx<'_, S>,
    ) -> Result {
        let b = &mut *ctx.buffers;
        if page_refresh(ctx.round_seed, worker.p) {
            ctx.oracle.grad(x, &mut worker.v);
            ctx.grad_samples += ctx.oracle.n_samples() as u64;
        } else {
            let batch = worker.batches.next_batch();
            ctx.oracle.minibatch_grad(x, batch, &mut b.grad);
            ctx.oracle
                .minibatch_grad(&worker.x_prev, batch, &mut b.work);
            ctx.grad_samples += 2 * batch.len() as u64;
            for ((v, &a), &c) in worker.v.iter_mut().zip(&b.grad).zip(&b.work) {
                *v += a - c;
            }
        }
        worker.x_prev.copy_from_slice(x);
        for ((d, &v), &g) in b.grad.iter_mut().zip(&worker.v).zip(&worker.ef21.g) {
            *d = v - g;
        }
        ensure_finite(
            &b.grad,
            "the PAGE estimator or the correction v_i − g_i",
            ctx.round,
        )
    }

    fn ef21(w: &mut Ef21PageWorker<S>) -> &mut Ef21Worker<S> {
        &mut w.ef21
    }
}

// ---- registry entry (name, params, build): see `crate::registry` ----

crate::spec::method_entry! {
    Ef21PageSpec(Ef21PageParams {
        compressor, stepsize, init, count_init, batch,
        /// Refresh probability p ∈ (0, 1] (default: mean_i τ_i/(τ_i + m_i)).
        p: Option<f64>,
    }): Star "ef21_page",
    summary = "EF21-PAGE: EF21 on the PAGE estimator, one shared refresh coin per round (batch, p)",
    example = "compressor = \"top_k:k=1\"\nbatch = 0.25",
    |p, ctx, sink| {
        s::full_init_only(Self::NAME, p.init)?;
        let c = p.main_compressor::<S>(ctx.dim)?;
        let b = s::batch(Self::NAME, p.batch)?;
        sink.star(Ef21Page::new(c, p.stepsize, b, p.p, p.count_init).map_err(s::method_err)?)
    }
}

#[cfg(test)]
mod tests {
    use serde::de::DeserializeOwned;
    use squeeze_compress::parse;
    use squeeze_problems::{InitPoint, embedded};

    use super::*;
    use crate::ServerMethod;
    use crate::star::ef21::sgd::{Ef21Sgd, Ef21SgdWorker};

    /// A worker state's checkpoint keys (sorted), after checking that it comes back equal
    /// from its JSON text.
    fn checkpoint_keys<W: Serialize + DeserializeOwned + PartialEq + core::fmt::Debug>(
        w: &W,
    ) -> Vec<String> {
        let text = serde_json::to_string(w).unwrap();
        assert_eq!(&serde_json::from_str::<W>(&text).unwrap(), w);
        match serde_json::to_value(w).unwrap() {
            serde_json::Value::Object(m) => {
                let mut keys: Vec<String> = m.keys().cloned().collect();
                keys.sort();
                keys
            }
            v => panic!("a worker state is a JSON object, not {v}"),
        }
    }

    #[test]
    fn the_embedded_ef21_and_minibatch_parts_keep_the_flat_checkpoint_keys() {
        let p = Problem::logreg_ef21(&embedded::default_dataset::<f64>(), 2).unwrap();
        let x0 = p.initial_point(&InitPoint::ProblemDefault).unwrap();
        let c = || parse("top_k:k=1").unwrap();
        let st = Stepsize::default();
        let page = Ef21Page::<f64>::new(c(), st, Batch::Count(3), None, false).unwrap();
        let workers: Vec<Ef21PageWorker<f64>> = page.init(&p, &x0, 7).unwrap().workers;
        let mut want = ["g", "rng", "v", "x_prev", "p", "sampler", "sampling"];
        want.sort();
        assert_eq!(checkpoint_keys(&workers[1]), want);
        let sgd = Ef21Sgd::<f64>::new(c(), st, Batch::Count(3), false).unwrap();
        let workers: Vec<Ef21SgdWorker<f64>> = sgd.init(&p, &x0, 7).unwrap().workers;
        let mut want = ["g", "rng", "sampler", "sampling"];
        want.sort();
        assert_eq!(checkpoint_keys(&workers[1]), want);
    }
}

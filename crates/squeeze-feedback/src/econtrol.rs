//! EControl's mechanism (Gao, Islamov, Stich, ICLR 2024; arXiv 2311.05645).

use squeeze_core::{Compressor, Message, ParamError, Scalar, Scratch, SqueezeRng};

use crate::FeedbackError;
use crate::round::{Round, add_message, compress, push_step, worker_state};

/// EControl: error feedback with a damped error and an EF21-style shift,
///
/// $$\Delta_i = \mathcal{C}(\eta e_i + v_i - h_i),\qquad
/// e_i \leftarrow e_i + v_i - h_i - \Delta_i,\qquad h_i \leftarrow h_i + \Delta_i,$$
///
/// and the server keeps $h = \tfrac1n\sum_i h_i$ ([`crate::Aggregator`]). $\eta = 0$ is EF21
/// (the error is never fed back); the paper's theory takes $\eta = \alpha/400$ for a
/// contractive $\mathcal{C}$. Converges under arbitrary heterogeneity and with stochastic
/// gradients, where EF14 and EF21-SGD do not.
///
/// ```
/// use squeeze_core::Message;
/// use squeeze_feedback::{Econtrol, EcontrolWorker, Round, Workspace};
/// let ec = Econtrol::<f64>::new(squeeze_compress::parse("top_k:k=1").unwrap(), 0.5).unwrap();
/// let mut w = EcontrolWorker::new(2, 0, 0);
/// let (mut ws, mut m) = (Workspace::new(2), Message::default());
/// ec.step(&mut w, &[3.0, 1.0], &Round::new(0, 1, 0), &mut ws, &mut m).unwrap();
/// assert_eq!((w.h.clone(), w.e.clone()), (vec![3.0, 0.0], vec![0.0, 1.0]));
/// assert!(Econtrol::<f64>::new(squeeze_compress::parse("identity").unwrap(), -1.0).is_err());
/// ```
#[derive(Debug)]
pub struct Econtrol<S: Scalar> {
    compressor: Box<dyn Compressor<S>>,
    eta: f64,
}

worker_state! {
    /// EControl's worker state.
    EcontrolWorker {
        /// Error $e_i$.
        e,
        /// Shift $h_i$.
        h,
    }
    /// $e_i = h_i = 0$ of dimension `dim`, worker `worker`'s compression stream of `seed`.
    fn new;
}

/// Validate the damping η (finite, ≥ 0).
pub fn check_eta(eta: f64) -> Result<(), ParamError> {
    ParamError::require(
        eta.is_finite() && eta >= 0.0,
        "econtrol",
        "eta",
        eta,
        "the error-feedback damping η must be finite and ≥ 0 (η = 0 is EF21; theory: η = α/400)",
    )
}

impl<S: Scalar> Econtrol<S> {
    /// EControl with `compressor` and damping `eta` ≥ 0.
    pub fn new(compressor: Box<dyn Compressor<S>>, eta: f64) -> Result<Self, FeedbackError> {
        check_eta(eta)?;
        Ok(Self { compressor, eta })
    }

    /// The compressor.
    pub fn compressor(&self) -> &dyn Compressor<S> {
        self.compressor.as_ref()
    }

    push_step! {
        /// One push step with the vector `v` (a gradient or stochastic gradient): `out` ←
        /// $\Delta_i$, and $e_i$, $h_i$ updated. Checks `v` first; nothing changes on error.
        fn step(&self, w: EcontrolWorker<S>) checks h;
        |v, r, ws, out| {
            ws.aux.copy_from_slice(v);
            step_parts(
                self.compressor.as_ref(),
                self.eta,
                &mut w.e,
                &mut w.h,
                &mut w.rng,
                &mut ws.aux,
                r,
                &mut ws.scratch,
                &mut ws.work,
                out,
            )
        }
    }
}

/// The EControl update on explicit parts: `v` holds $v_i$ on entry and $v_i - h_i$ on exit;
/// `work` is length-d scratch. Shared with the EControl method.
#[allow(clippy::too_many_arguments)]
pub fn step_parts<S: Scalar>(
    c: &dyn Compressor<S>,
    eta: f64,
    e: &mut [S],
    h: &mut [S],
    rng: &mut SqueezeRng,
    v: &mut [S],
    r: &Round,
    scratch: &mut Scratch,
    work: &mut [S],
    out: &mut Message<S>,
) -> Result<(), FeedbackError> {
    // v ← v − h (kept for the error update); work ← (v − h) + η e.
    let eta = S::from_f64(eta);
    for (((vk, wk), &hk), &ek) in v
        .iter_mut()
        .zip(work.iter_mut())
        .zip(h.iter())
        .zip(e.iter())
    {
        *vk -= hk;
        *wk = *vk + eta * ek;
    }
    compress(
        c,
        work,
        rng,
        scratch,
        r,
        "the vector η e_i + g_i − h_i",
        out,
    )?;
    // e ← e + (v − h) − Δ ; h ← h + Δ.
    for (ek, &vk) in e.iter_mut().zip(v.iter()) {
        *ek += vk;
    }
    add_message(out, e, -S::ONE, r)?;
    add_message(out, h, S::ONE, r)
}

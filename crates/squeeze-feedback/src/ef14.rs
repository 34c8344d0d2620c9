//! Classic error feedback (EF14 / Mem-SGD / EF-SGD: Seide et al. 2014; Stich et al. 2018;
//! Karimireddy et al. 2019).

use squeeze_core::{Compressor, Message, Scalar, Scratch, SqueezeRng};

use crate::FeedbackError;
use crate::round::{Round, add_message, compress, push_step, worker_state};

/// EF14: compress the scaled vector plus the residual, keep what was not sent.
///
/// $$p_i = e_i + s\thinspace v_i,\qquad m_i = \mathcal{C}(p_i),\qquad e_i \leftarrow p_i - m_i,$$
///
/// and the server applies $x \leftarrow x - \tfrac1n\sum_i m_i$ (with
/// [`crate::add_scaled`] and the scale $-1/n$). The scale $s$ is the learning rate: EF14
/// compresses the *update* $\gamma\nabla f_i$, not the gradient, so the residual $e_i$ is in
/// model units. With the identity compressor $e_i$ stays 0 and EF14 is plain (S)GD. Its known
/// weakness on heterogeneous data: a plateau that EF21 does not have.
///
/// ```
/// use squeeze_core::Message;
/// use squeeze_feedback::{Ef14, Ef14Worker, Round, Workspace};
/// let ef14 = Ef14::<f64>::new(squeeze_compress::parse("top_k:k=1").unwrap());
/// let mut w = Ef14Worker::new(2, 0, 0);
/// let (mut ws, mut m) = (Workspace::new(2), Message::default());
/// ef14.step(&mut w, 0.5, &[4.0, 2.0], &Round::new(0, 1, 0), &mut ws, &mut m).unwrap();
/// assert_eq!(m.to_dense().unwrap(), vec![2.0, 0.0]); // Top-1 of 0.5·[4, 2]
/// assert_eq!(w.e, vec![0.0, 1.0]);          // what was not sent is kept
/// ```
#[derive(Debug)]
pub struct Ef14<S: Scalar> {
    compressor: Box<dyn Compressor<S>>,
}

worker_state! {
    /// EF14's worker state: the residual $e_i$ and the compression stream.
    Ef14Worker {
        /// Residual $e_i$ (what was not sent yet).
        e,
    }
    /// $e_i = 0$ of dimension `dim`, worker `worker`'s compression stream of `seed`.
    fn new;
}

impl<S: Scalar> Ef14<S> {
    /// EF14 with `compressor`.
    pub fn new(compressor: Box<dyn Compressor<S>>) -> Self {
        Self { compressor }
    }

    /// The compressor.
    pub fn compressor(&self) -> &dyn Compressor<S> {
        self.compressor.as_ref()
    }

    push_step! {
        /// One push step with scale `scale` (the learning rate) and vector `v`: `out` ←
        /// $\mathcal{C}(e_i + s\thinspace v)$, $e_i \leftarrow e_i + s\thinspace v - \mathtt{out}$.
        /// Checks `v` first (length, finiteness); nothing changes on error.
        fn step(&self, w: Ef14Worker<S>, scale: f64) checks e;
        |v, r, ws, out| {
            step_parts(
                self.compressor.as_ref(),
                &mut w.e,
                &mut w.rng,
                scale,
                v,
                r,
                &mut ws.scratch,
                &mut ws.work,
                out,
            )
        }
    }
}

/// The EF14 update on explicit parts (`work` is length-d scratch): what [`Ef14::step`] does
/// after its checks, shared with the EF14 method.
#[allow(clippy::too_many_arguments)]
pub fn step_parts<S: Scalar>(
    c: &dyn Compressor<S>,
    e: &mut [S],
    rng: &mut SqueezeRng,
    scale: f64,
    v: &[S],
    r: &Round,
    scratch: &mut Scratch,
    work: &mut [S],
    out: &mut Message<S>,
) -> Result<(), FeedbackError> {
    let s = S::from_f64(scale);
    for ((p, &ek), &vk) in work.iter_mut().zip(e.iter()).zip(v) {
        *p = ek + s * vk;
    }
    compress(
        c,
        work,
        rng,
        scratch,
        r,
        "the error-feedback vector e_i + γ∇f_i",
        out,
    )?;
    e.copy_from_slice(work);
    add_message(out, e, -S::ONE, r)
}

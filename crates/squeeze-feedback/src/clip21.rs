//! Clip21's mechanism (Khirirat, Gorbunov, Horváth, Islamov, Karray, Richtárik 2023; arXiv
//! 2305.18929): EF21's shift with clipping in place of compression.

use serde::{Deserialize, Serialize};
use squeeze_compress::Clip;
use squeeze_core::{Compressor, Message, ParamError, Purpose, Scalar, Scratch, SqueezeRng};

use crate::FeedbackError;
use squeeze_compress::three_point::compress_err;

use crate::ef21::correct_with;
use crate::round::{Round, compression_stream, push_step, sub_into};

/// Which Clip21 (algorithms.md §4.3–4.4).
#[derive(Debug)]
pub enum Clip21Variant<S: Scalar> {
    /// Clip21: send $u_i = \operatorname{clip}_\tau(v_i - g_i)$ (dense).
    Plain,
    /// Press-Clip21: send $\mathcal{C}(\operatorname{clip}_\tau(v_i - g_i))$ and add the same
    /// vector to $g_i$ (UNCONFIRMED placement of $\mathcal{C}$: after the clip).
    Press(Box<dyn Compressor<S>>),
    /// DP-Clip21: send $u_i + z_i$, $z_i \sim N(0, \sigma^2 I)$ (per coordinate), while $g_i$
    /// gets $u_i$ without the noise — the Clip21-SGD2M follow-up's choice (UNCONFIRMED for
    /// Clip21). The server's estimate then carries the noise; $\tfrac1n\sum_i g_i$ does not.
    Dp {
        /// Noise standard deviation per coordinate, σ ≥ 0.
        sigma: f64,
    },
}

/// Clip21: worker $i$ keeps a shift $g_i$ and sends the clipped correction
///
/// $$u_i = \operatorname{clip}_\tau(v_i - g_i),\qquad g_i \leftarrow g_i + u_i,\qquad
/// g \leftarrow g + \tfrac1n\textstyle\sum_i u_i,$$
///
/// so every message has norm at most τ, yet once $\lVert v_i - g_i\rVert \le \tau$ the clip is
/// inactive and $g_i$ tracks $v_i$ exactly (naive clipping of $v_i$ itself is biased forever on
/// heterogeneous data). The server side is [`crate::Aggregator`].
///
/// ```
/// use squeeze_core::Message;
/// use squeeze_feedback::{Clip21, Clip21Variant, Clip21Worker, Round, Workspace};
/// let clip = Clip21::<f64>::new(1.0, Clip21Variant::Plain).unwrap();
/// let mut w = Clip21Worker::new(2, 0, 0);
/// let (mut ws, mut m) = (Workspace::new(2), Message::default());
/// for round in 0..5 {
///     clip.step(&mut w, &[3.0, 4.0], &Round::new(0, 1, round), &mut ws, &mut m).unwrap();
///     assert!(m.to_dense().unwrap().iter().map(|u| u * u).sum::<f64>() <= 1.0 + 1e-12);
/// }
/// assert!((w.v[0] - 3.0).abs() < 1e-12 && (w.v[1] - 4.0).abs() < 1e-12); // ‖v‖ = 5: 5 steps
/// ```
#[derive(Debug)]
pub struct Clip21<S: Scalar> {
    clip: Clip,
    variant: Clip21Variant<S>,
}

/// Clip21's worker state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Clip21Worker<S: Scalar> {
    /// Shift $g_i$ (called $v_i$ in the paper).
    pub v: Vec<S>,
    /// Compression stream (Press).
    pub rng: SqueezeRng,
    /// Noise stream (DP).
    pub noise: SqueezeRng,
}

impl<S: Scalar> Clip21Worker<S> {
    /// Zero shift of dimension `dim`; worker `worker`'s compression and noise streams of
    /// `seed`.
    pub fn new(dim: usize, seed: u64, worker: usize) -> Self {
        Self {
            v: vec![S::ZERO; dim],
            rng: compression_stream(seed, worker),
            noise: SqueezeRng::stream(seed, Purpose::Noise, worker as u64),
        }
    }
}

impl<S: Scalar> Clip21<S> {
    /// Clip21 with radius `tau > 0` (`f64::INFINITY`: no clipping) and a variant.
    pub fn new(tau: f64, variant: Clip21Variant<S>) -> Result<Self, FeedbackError> {
        let clip = Clip::new(tau)?;
        if let Clip21Variant::Dp { sigma } = variant
            && !(sigma.is_finite() && sigma >= 0.0)
        {
            return Err(ParamError::new(
                "dp_clip21",
                "sigma",
                sigma,
                "the noise standard deviation σ must be finite and ≥ 0",
            )
            .into());
        }
        Ok(Self { clip, variant })
    }

    /// The clipping radius τ.
    pub fn tau(&self) -> f64 {
        self.clip.tau()
    }

    /// The variant.
    pub fn variant(&self) -> &Clip21Variant<S> {
        &self.variant
    }

    push_step! {
        /// One push step with the vector `v`: `out` ← the (clipped, compressed or noised)
        /// increment, $g_i$ updated. Checks `v` first; nothing changes on error.
        fn step(&self, w: Clip21Worker<S>) checks v;
        |v, r, ws, out| {
            sub_into(v, &w.v, &mut ws.work);
            self.emit(&mut ws.work, w, r, &mut ws.scratch, out)
        }
    }

    /// From a difference $v_i - g_i$ the caller formed in `buf` (overwritten): clip it,
    /// compress or noise it into `msg`, and add what the worker keeps to its shift.
    pub fn emit(
        &self,
        buf: &mut [S],
        w: &mut Clip21Worker<S>,
        r: &Round,
        scratch: &mut Scratch,
        msg: &mut Message<S>,
    ) -> Result<(), FeedbackError> {
        let what = "the correction ∇f_i − v_i";
        self.clip
            .clip_in_place(buf)
            .map_err(compress_err(r.worker, r.round, what))?;
        match &self.variant {
            Clip21Variant::Press(c) => {
                correct_with(c.as_ref(), buf, &mut w.v, &mut w.rng, scratch, r, what, msg)
            }
            Clip21Variant::Plain | Clip21Variant::Dp { .. } => {
                for (vk, &uk) in w.v.iter_mut().zip(buf.iter()) {
                    *vk += uk;
                }
                let values = msg.dense_parts();
                values.extend_from_slice(buf);
                if let Clip21Variant::Dp { sigma } = self.variant
                    && sigma > 0.0
                {
                    for u in values.iter_mut() {
                        *u += S::from_f64(sigma * w.noise.normal());
                    }
                }
                Ok(())
            }
        }
    }
}

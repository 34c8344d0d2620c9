//! The [`Compressor`] trait, compressor classes and the per-call context.

use serde::{Deserialize, Serialize};

use crate::bits::BitWriter;
use crate::error::CompressError;
use crate::message::{MAX_DIM, Message};
use crate::rng::SqueezeRng;
use crate::scalar::Scalar;

/// What a compressor guarantees, for inputs of a given dimension.
///
/// * Contractive `B(α)`, `0 < α ≤ 1`: `E‖C(x) − x‖² ≤ (1 − α)‖x‖²`.
/// * Unbiased `U(ω)`, `ω ≥ 0`: `E C(x) = x` and `E‖C(x) − x‖² ≤ ω‖x‖²`.
///
/// Theory stepsizes read `α` from here, so they cannot disagree with the operator.
///
/// ```
/// use squeeze_core::Class;
/// let c = Class::Unbiased { omega: 3.0 };
/// assert_eq!(c.omega(), Some(3.0));
/// assert_eq!(c.alpha(), None);
/// // Q/(ω+1) is contractive with α = 1/(ω+1):
/// assert_eq!(c.scaled_alpha(), Some(0.25));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "class", rename_all = "snake_case")]
pub enum Class {
    /// Biased with contraction `α`.
    Contractive {
        /// Contraction parameter in `(0, 1]`.
        alpha: f64,
    },
    /// Unbiased with variance parameter `ω`.
    Unbiased {
        /// Variance parameter ≥ 0.
        omega: f64,
    },
    /// Both (the identity: `α = 1, ω = 0`).
    Both {
        /// Contraction parameter.
        alpha: f64,
        /// Variance parameter.
        omega: f64,
    },
    /// No uniform guarantee (e.g. clipping, absolute threshold).
    Neither,
}

impl Class {
    /// `α` if contractive.
    pub fn alpha(&self) -> Option<f64> {
        match *self {
            Class::Contractive { alpha } | Class::Both { alpha, .. } => Some(alpha),
            _ => None,
        }
    }

    /// `ω` if unbiased.
    pub fn omega(&self) -> Option<f64> {
        match *self {
            Class::Unbiased { omega } | Class::Both { omega, .. } => Some(omega),
            _ => None,
        }
    }

    /// `α` of the operator itself if contractive, else `1/(ω+1)` of its scaled version `Q/(ω+1)`.
    pub fn scaled_alpha(&self) -> Option<f64> {
        self.alpha()
            .or_else(|| self.omega().map(|w| 1.0 / (w + 1.0)))
    }

    /// Short human description, e.g. `contractive α=0.01`.
    pub fn describe(&self) -> String {
        fn num(v: f64) -> String {
            if v == 0.0 || (1e-3..1e4).contains(&v.abs()) {
                format!("{v:.4}")
            } else {
                format!("{v:.3e}")
            }
        }
        match *self {
            Class::Contractive { alpha } => format!("contractive α={}", num(alpha)),
            Class::Unbiased { omega } => format!("unbiased ω={}", num(omega)),
            Class::Both { alpha, omega } => {
                format!("contractive α={}, unbiased ω={}", num(alpha), num(omega))
            }
            Class::Neither => "no uniform guarantee".to_string(),
        }
    }
}

/// Reusable working memory for compressors, owned by each worker.
///
/// Compressors are immutable and shared; whatever they need between the input and the message
/// (candidate lists, bitmaps, permutations) lives here so steady-state compression allocates
/// nothing. Its contents never influence a message (the conformance suite compresses with a
/// used scratch and compares), so engines may share one scratch between workers that run one
/// after another.
#[derive(Debug, Default, Clone)]
pub struct Scratch {
    /// Index buffer.
    pub indices: Vec<u32>,
    /// Second index buffer.
    pub indices2: Vec<u32>,
    /// Sort keys or bitmaps.
    pub words: Vec<u64>,
    /// Random words.
    pub random: Vec<u64>,
    /// `f64` work values.
    pub values: Vec<f64>,
    /// Kept values in the input's own type (see [`Scalar::scratch_values`]), `f32` inputs.
    pub values_f32: Vec<f32>,
    /// Kept values in the input's own type, `f64` inputs.
    pub values_f64: Vec<f64>,
    /// Kept values in the input's own type, [`half::f16`] inputs.
    pub values_f16: Vec<half::f16>,
    /// Kept values in the input's own type, [`half::bf16`] inputs.
    pub values_bf16: Vec<half::bf16>,
}

/// Per-call context: randomness, shared round seed, worker identity and scratch memory.
///
/// ```
/// use squeeze_core::{CompressCtx, Scratch, SqueezeRng};
/// let mut rng = SqueezeRng::from_seed_u64(1);
/// let mut scratch = Scratch::default();
/// let ctx = CompressCtx::new(&mut rng, &mut scratch)
///     .with_worker(2, 4)
///     .with_round_seed(99)
///     .with_round(7);
/// assert_eq!((ctx.worker, ctx.n_workers, ctx.round_seed, ctx.round), (2, 4, 99, 7));
/// ```
#[derive(Debug)]
pub struct CompressCtx<'a> {
    /// The worker's private compression stream.
    pub rng: &'a mut SqueezeRng,
    /// Working memory.
    pub scratch: &'a mut Scratch,
    /// Seed shared by all workers in this round ([`crate::rng::round_seed`]).
    pub round_seed: u64,
    /// This worker's index, `< n_workers`.
    pub worker: usize,
    /// Number of workers.
    pub n_workers: usize,
    /// The round (0-based) the message is for: compressor schedules switch on it; no other
    /// compressor reads it.
    pub round: u64,
}

impl<'a> CompressCtx<'a> {
    /// A context for a single worker (index 0 of 1) in round 0 with round seed 0.
    pub fn new(rng: &'a mut SqueezeRng, scratch: &'a mut Scratch) -> Self {
        Self {
            rng,
            scratch,
            round_seed: 0,
            worker: 0,
            n_workers: 1,
            round: 0,
        }
    }

    /// Set the round.
    pub fn with_round(mut self, round: u64) -> Self {
        self.round = round;
        self
    }

    /// Set worker index and count.
    pub fn with_worker(mut self, worker: usize, n_workers: usize) -> Self {
        self.worker = worker;
        self.n_workers = n_workers;
        self
    }

    /// Set the shared round seed.
    pub fn with_round_seed(mut self, seed: u64) -> Self {
        self.round_seed = seed;
        self
    }

    /// Reborrow (to pass the context on to an inner compressor).
    pub fn reborrow(&mut self) -> CompressCtx<'_> {
        CompressCtx {
            rng: self.rng,
            scratch: self.scratch,
            round_seed: self.round_seed,
            worker: self.worker,
            n_workers: self.n_workers,
            round: self.round,
        }
    }
}

/// A compression operator `C: ℝ^d → ℝ^d` with an exact wire format.
///
/// Implementations are immutable and shared by all workers (`Send + Sync`); constructors
/// validate parameters and return `Result`. [`Compressor::compress_into`] writes into a reused
/// [`Message`] and must not allocate once the message and scratch have grown to size.
///
/// Every implementation must:
/// * reject empty input, non-finite entries and dimensions its parameters do not fit with a
///   [`CompressError`];
/// * produce a message that passes [`Message::validate`] with `dim() == x.len()`;
/// * draw randomness only from `ctx` (same context state ⇒ same message);
/// * honour [`Compressor::class`] (checked by the conformance suite).
pub trait Compressor<S: Scalar>: Send + Sync + core::fmt::Debug {
    /// Canonical spec string, e.g. `top_k:k=10`, parseable by the registry.
    fn spec(&self) -> String;

    /// Guarantee for inputs of dimension `dim`.
    fn class(&self, dim: usize) -> Class;

    /// `true` if the output depends only on the input (no randomness from `ctx`).
    fn is_deterministic(&self) -> bool;

    /// Check that the parameters fit dimension `dim` (called once at setup by drivers so that
    /// errors surface before the first round).
    fn check_dim(&self, dim: usize) -> Result<(), CompressError> {
        check_dim_basic(dim)
    }

    /// Compress `x` into `out`, reusing its buffers.
    fn compress_into(
        &self,
        x: &[S],
        ctx: &mut CompressCtx<'_>,
        out: &mut Message<S>,
    ) -> Result<(), CompressError>;

    /// Nesting of this compressor's messages: the most `Scaled`/`Composed`/`Pair`/`Indexed`
    /// wrappers on any path from the top (0 for a plain message). The wire format encodes at
    /// most [`MAX_DEPTH`](crate::message::MAX_DEPTH); wrappers check it when they are built, so
    /// a compressor that would produce an unencodable message is refused at construction.
    ///
    /// ```
    /// use squeeze_core::{Compressor, CompressCtx, CompressError, Message, Class};
    /// #[derive(Debug)]
    /// struct Plain;
    /// impl Compressor<f32> for Plain {
    ///     fn spec(&self) -> String { "plain".into() }
    ///     fn class(&self, _: usize) -> Class { Class::Neither }
    ///     fn is_deterministic(&self) -> bool { true }
    ///     fn compress_into(&self, x: &[f32], _: &mut CompressCtx<'_>, out: &mut Message<f32>)
    ///         -> Result<(), CompressError> { out.dense_parts().extend_from_slice(x); Ok(()) }
    /// }
    /// assert_eq!(Plain.nesting(), 0);
    /// ```
    fn nesting(&self) -> u32 {
        0
    }

    /// `Some(self)` for compressors that keep a subset of coordinates (usable as the first stage
    /// of a composition).
    fn as_sparsifier(&self) -> Option<&dyn Sparsifier<S>> {
        None
    }

    /// `Some(k)` if this compressor is plain Top-K at dimension `dim`: its message is the
    /// `Sparse` message of the exact $k$ largest $|x_j|$ (ties toward the lower index, indices
    /// increasing, values as in `x`), so a caller may build that same message from pre-scanned
    /// candidates (EF21's gradient pass fused with the selection); `None` (the default)
    /// otherwise.
    fn top_k(&self, dim: usize) -> Option<usize> {
        let _ = dim;
        None
    }

    /// Compress `x` and append the message's encoding to `w`: exactly the bits of
    /// [`Compressor::compress_into`] followed by [`Message::encode`], with `ctx`'s generator
    /// left where `compress_into` leaves it. For a sender that needs the bytes, not the
    /// message.
    ///
    /// The default does just that through `buf` (reused: nothing is allocated once it has
    /// grown). A quantiser may go from `x` to the bits without building its codes
    /// ([`encode_quantized_with`](crate::message::encode_quantized_with): QSGD and TernGrad
    /// do), and then leaves `buf` as it was.
    ///
    /// ```
    /// use squeeze_core::{BitWriter, Class, CompressCtx, CompressError, Compressor, Message};
    /// use squeeze_core::{Scratch, SqueezeRng};
    /// #[derive(Debug)]
    /// struct Plain;
    /// impl Compressor<f32> for Plain {
    ///     fn spec(&self) -> String { "plain".into() }
    ///     fn class(&self, _: usize) -> Class { Class::Neither }
    ///     fn is_deterministic(&self) -> bool { true }
    ///     fn compress_into(&self, x: &[f32], _: &mut CompressCtx<'_>, out: &mut Message<f32>)
    ///         -> Result<(), CompressError> { *out = Message::Dense { values: x.to_vec() }; Ok(()) }
    /// }
    /// let (mut rng, mut scratch) = (SqueezeRng::from_seed_u64(0), Scratch::default());
    /// let mut ctx = CompressCtx::new(&mut rng, &mut scratch);
    /// let (mut buf, mut w) = (Message::default(), BitWriter::new());
    /// Plain.compress_encode(&[1.0, 2.0], &mut ctx, &mut buf, &mut w).unwrap();
    /// assert_eq!(w.finish(), &buf.to_bytes()[..]);
    /// ```
    fn compress_encode(
        &self,
        x: &[S],
        ctx: &mut CompressCtx<'_>,
        buf: &mut Message<S>,
        w: &mut BitWriter,
    ) -> Result<(), CompressError> {
        self.compress_into(x, ctx, buf)?;
        buf.encode(w);
        Ok(())
    }

    /// Compress into a new message.
    fn compress(&self, x: &[S], ctx: &mut CompressCtx<'_>) -> Result<Message<S>, CompressError> {
        let mut m = Message::default();
        self.compress_into(x, ctx, &mut m)?;
        Ok(m)
    }
}

/// A compressor that keeps a subset of coordinates: its message is `Sparse`.
///
/// Compositions (`sparsify | quantize`) call [`Sparsifier::sparsify_into`] and compress the kept
/// values with a second operator.
pub trait Sparsifier<S: Scalar>: Compressor<S> {
    /// Write the kept coordinates (strictly increasing) and the values sent for them (the input
    /// values, or scaled ones for unbiased variants). Same validation as `compress_into`.
    fn sparsify_into(
        &self,
        x: &[S],
        ctx: &mut CompressCtx<'_>,
        indices: &mut Vec<u32>,
        values: &mut Vec<S>,
    ) -> Result<(), CompressError>;

    /// Number of coordinates kept at dimension `d`, if it does not depend on the input.
    fn kept(&self, d: usize) -> Option<usize>;

    /// `true` if the kept values are the input values (the output is a projection of `x` onto
    /// a coordinate subset), which makes `‖C(x) − x‖² = ‖x‖² − ‖C(x)‖²`.
    fn is_projection(&self) -> bool;
}

/// `compress_into` for a [`Sparsifier`]: a `Sparse` message of the kept coordinates.
pub fn sparse_compress_into<S: Scalar, T: Sparsifier<S> + ?Sized>(
    s: &T,
    x: &[S],
    ctx: &mut CompressCtx<'_>,
    out: &mut Message<S>,
) -> Result<(), CompressError> {
    let (indices, values) = out.sparse_parts(x.len());
    s.sparsify_into(x, ctx, indices, values)
}

/// The checks every compressor needs: non-empty and indexable by the wire format.
pub fn check_dim_basic(dim: usize) -> Result<(), CompressError> {
    if dim == 0 {
        Err(CompressError::EmptyInput)
    } else if dim > MAX_DIM {
        Err(CompressError::TooLarge { dim, max: MAX_DIM })
    } else {
        Ok(())
    }
}

/// [`check_dim_basic`] plus a finiteness scan of `x` (one vectorised pass).
pub fn check_input<S: Scalar>(x: &[S]) -> Result<(), CompressError> {
    check_dim_basic(x.len())?;
    match crate::ops::first_non_finite(x) {
        Some((index, v)) => Err(CompressError::NonFinite {
            index,
            value: v.to_f64(),
        }),
        None => Ok(()),
    }
}

/// The error for a non-finite entry, located by a scan (call when a fused pass saw one).
pub fn non_finite_error<S: Scalar>(x: &[S]) -> CompressError {
    match crate::ops::first_non_finite(x) {
        Some((index, v)) => CompressError::NonFinite {
            index,
            value: v.to_f64(),
        },
        None => CompressError::NonFinite {
            index: 0,
            value: f64::NAN,
        },
    }
}

//! Three-point compressors (3PC; Richtárik, Sokolov, Gasanov, Fatkhullin, Li, Gorbunov, ICML
//! 2022, arXiv 2202.00998) and AdaCGD's adaptive ladder (Makarenko et al., TMLR 2023).
//!
//! A 3PC is a (possibly random) map $\mathcal{C}_{h,y}: \mathbb{R}^d \to \mathbb{R}^d$ with
//! constants $0 < A \le 1$, $B \ge 0$ such that for all $h, y, x$
//!
//! $$\mathbb{E}\|\mathcal{C}_{h,y}(x) - x\|^2 \le (1 - A)\|h - y\|^2 + B\|x - y\|^2 .$$
//!
//! In 3PC-GD ([`crate::ThreePc`]) worker $i$ keeps its estimate $h = g_i^t$, the previous local
//! gradient $y = \nabla f_i(x^t)$, and applies the mechanism to the new one
//! $x = \nabla f_i(x^{t+1})$.
//!
//! # Why here (and not in `squeeze-compress`)
//!
//! A mechanism is not a compressor of one vector: it reads the worker's state ($h$, $y$), owns
//! the decision "send nothing / a correction / a dense vector", may draw a shared per-round coin
//! (`round_seed`) and reports which branch it took. It needs the method layer's buffers and error
//! type ([`WorkerBuffers`](crate::WorkerBuffers), [`MethodError`]), and every mechanism is built
//! *from* compressors of `squeeze-compress`. So the trait lives next to its only user, the
//! method, in `squeeze-feedback`.
//!
//! # The message contract
//!
//! [`ThreePoint::compress`] writes an uplink message `up` whose decoded value is the **change**
//! of the estimate: the new estimate is $h + \mathrm{decode}(up)$, computed by
//! [`Message::add_to`] — the very operation the server applies to its average (scaled by 1/n), so
//! worker and server stay consistent bit for bit. `Skip` (0 bits) means "keep h"; a correction is
//! the compressor's message; a dense vector is `Dense(x − h)`; a two-part mechanism sends a
//! `Pair` whose parts are added in order. [`ThreePoint::apply`] does both steps.
//!
//! # Mechanisms (one file each)
//!
//! | name | $\mathcal{C}_{h,y}(x)$ | $A$ | $B$ |
//! |---|---|---|---|
//! | [`Ef21Mech`] | $h + C(x - h)$ | $1 - \sqrt{1-\alpha}$ | $(1-\alpha)/(1-\sqrt{1-\alpha})$ |
//! | [`Lag`] | $x$ if $\|x-h\|^2 > \zeta\|x-y\|^2$ else $h$ | $1$ | $\zeta$ |
//! | [`Clag`] | $h + C(x-h)$ if triggered else $h$ | $1-\sqrt{1-\alpha}$ | $\max(\beta, \zeta)$ |
//! | [`V1`] | $y + C(x - y)$ | $1$ | $1-\alpha$ |
//! | [`V2`] | $b + C(x-b)$, $b = h + Q(x-y)$ | $\alpha$ | $(1-\alpha)\omega$ |
//! | [`V4`] | $b + C_1(x-b)$, $b = h + C_2(x-h)$ | $1-\sqrt{1-\bar\alpha}$ | $(1-\bar\alpha)/(1-\sqrt{1-\bar\alpha})$ |
//! | [`V5`] | w.p. $p$: $x$, else $h + C(x-y)$ (shared coin) | $1-\sqrt{1-p}$ | $(1-p)(1-\alpha)/(1-\sqrt{1-p})$ |
//! | [`Bag`] | w.p. $p$: $x$, else $h$ (coin per worker) | $1-\sqrt{1-p}$ | $(1-p)/(1-\sqrt{1-p})$ |
//! | [`AdaCgd`] | cheapest ladder level that is good enough | finest level's | $\max(\beta_m, \zeta)$ |

use core::fmt::Debug;

use squeeze_core::{Compressor, Message, ParamError, Scalar, Scratch, SqueezeRng};

use crate::method::{MethodError, compress_up, message_err};

mod adacgd;
mod bag;
mod clag;
mod ef21;
mod lag;
mod v1;
mod v2;
mod v4;
mod v5;

pub use adacgd::AdaCgd;
pub use bag::Bag;
pub use clag::Clag;
pub use ef21::Ef21Mech;
pub use lag::Lag;
pub use v1::V1;
pub use v2::V2;
pub use v4::V4;
pub use v5::V5;

/// What a mechanism may use in one application besides $h, y, x$.
pub struct MechCtx<'a, S: Scalar> {
    /// Worker index.
    pub worker: usize,
    /// Number of workers.
    pub n_workers: usize,
    /// Round (for error messages).
    pub round: u64,
    /// Seed shared by all workers this round (shared coins, Perm-K).
    pub round_seed: u64,
    /// The worker's own stream (randomised compressors, per-worker coins).
    pub rng: &'a mut SqueezeRng,
    /// Compressor scratch.
    pub scratch: &'a mut Scratch,
    /// A length-d work buffer (contents undefined on entry).
    pub work: &'a mut [S],
    /// A second length-d work buffer (contents undefined on entry).
    pub aux: &'a mut [S],
    /// A spare message (contents undefined on entry).
    pub spare: &'a mut Message<S>,
    /// The worker's own parking place for the uplink's buffers while it sends `Skip` (so that
    /// lazy mechanisms alternate between skipping and sending without allocating).
    pub stash: &'a mut Message<S>,
    /// The worker's own message buffers, one per rung of a ladder (AdaCGD): each rung keeps
    /// the buffers of the kind of message it writes, so a ladder mixing message kinds (Top-K
    /// and identity, say) compresses without allocating. Working memory, not state.
    pub rungs: &'a mut Vec<Message<S>>,
}

impl<'a, S: Scalar> MechCtx<'a, S> {
    /// Compress `v` with `c` into `out` using this context's stream and scratch.
    pub(crate) fn compress(
        rng: &mut SqueezeRng,
        scratch: &mut Scratch,
        meta: (usize, usize, u64, u64),
        c: &dyn Compressor<S>,
        v: &[S],
        out: &mut Message<S>,
        what: &'static str,
    ) -> Result<(), MethodError> {
        compress_up(c, v, rng, scratch, meta, what, out)
    }

    pub(crate) fn meta(&self) -> (usize, usize, u64, u64) {
        (self.worker, self.n_workers, self.round, self.round_seed)
    }
}

/// A three-point compressor $\mathcal{C}_{h,y}(x)$ (see the [module docs](self)).
pub trait ThreePoint<S: Scalar>: Send + Sync + Debug {
    /// Registry name, e.g. `clag`.
    fn name(&self) -> &'static str;

    /// Canonical description with parameters, e.g. `clag(top_k:k=1, ζ=1)`.
    fn describe(&self) -> String;

    /// Check the compressors fit dimension `d`.
    fn check_dim(&self, d: usize) -> Result<(), MethodError>;

    /// The constants $(A, B)$ at dimension `d`; an error if a compressor lacks the class the
    /// mechanism's theory needs (e.g. no $\alpha$).
    fn constants(&self, d: usize) -> Result<(f64, f64), MethodError>;

    /// Number of distinct outcomes [`Self::compress`] reports (histogram length).
    fn outcomes(&self) -> usize {
        2
    }

    /// `Some(m)` if the message carries the choice among `m` levels (AdaCGD: the ladder; see
    /// [`crate::ServerMethod::uplink_levels`]); `None` by default.
    fn wire_levels(&self) -> Option<usize> {
        None
    }

    /// Write the uplink message (the change of the estimate, see the module docs) and return
    /// which outcome occurred (mechanism-specific; for lazy mechanisms 0 = skipped, 1 = sent).
    fn compress(
        &self,
        h: &[S],
        y: &[S],
        x: &[S],
        ctx: &mut MechCtx<'_, S>,
        up: &mut Message<S>,
    ) -> Result<usize, MethodError>;

    /// [`Self::compress`], then $h \leftarrow h + \mathrm{decode}(up)$; returns the outcome.
    fn apply(
        &self,
        h: &mut [S],
        y: &[S],
        x: &[S],
        ctx: &mut MechCtx<'_, S>,
        up: &mut Message<S>,
    ) -> Result<usize, MethodError> {
        let o = self.compress(h, y, x, ctx, up)?;
        up.add_to(h, S::ONE)
            .map_err(message_err(ctx.worker, ctx.round))?;
        Ok(o)
    }
}

/// Make `up` a `Skip` of dimension `d`, parking its buffers in `stash`.
pub(crate) fn skip<S: Scalar>(up: &mut Message<S>, stash: &mut Message<S>, d: usize) {
    if !up.is_skip() {
        core::mem::swap(up, stash);
    }
    up.set_skip(d);
}

/// Before writing a payload into `up`: take back parked buffers if `up` is a `Skip`, or park
/// the current ones if `want_dense` disagrees with what `up` holds (a mechanism alternating
/// between a dense and a compressed message keeps both, one of them in the stash).
pub(crate) fn unskip<S: Scalar>(up: &mut Message<S>, stash: &mut Message<S>, want_dense: bool) {
    let is_dense = matches!(up, Message::Dense { .. });
    if up.is_skip() || is_dense != want_dense {
        core::mem::swap(up, stash);
    }
}

/// `out ← a − b`.
#[inline]
pub(crate) fn sub_into<S: Scalar>(a: &[S], b: &[S], out: &mut [S]) {
    for ((o, &p), &q) in out.iter_mut().zip(a).zip(b) {
        *o = p - q;
    }
}

/// `Dense(x − h)` into `up` (reusing its buffer).
pub(crate) fn dense_delta<S: Scalar>(x: &[S], h: &[S], up: &mut Message<S>) {
    let v = up.dense_parts();
    v.extend(x.iter().zip(h).map(|(&a, &b)| a - b));
}

/// The laziness test $\|x - h\|^2 \le \zeta\|x - y\|^2$ of LAG, CLAG and AdaCGD, robust to
/// overflow: a non-finite left side never counts as "close enough" (so a diverging run keeps
/// sending and the divergence surfaces instead of freezing into permanent skips), and ζ = 0
/// means a threshold of exactly 0 even when $\|x - y\|^2$ overflowed.
///
/// ```text
/// within(lhs, ζ, rhs) = lhs finite ∧ lhs ≤ (ζ = 0 ? 0 : ζ·rhs)
/// ```
#[inline]
pub(crate) fn within(lhs: f64, zeta: f64, rhs: f64) -> bool {
    lhs.is_finite() && lhs <= if zeta == 0.0 { 0.0 } else { zeta * rhs }
}

/// $\|a - b\|^2$ in f64.
#[inline]
pub(crate) fn dist2<S: Scalar>(a: &[S], b: &[S]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&p, &q)| {
            let t = p.to_f64() - q.to_f64();
            t * t
        })
        .sum()
}

/// α of a contractive compressor at `d`, or a typed error naming the mechanism.
pub(crate) fn alpha_of<S: Scalar>(
    mech: &'static str,
    param: &'static str,
    c: &dyn Compressor<S>,
    d: usize,
) -> Result<f64, MethodError> {
    c.class(d).alpha().ok_or_else(|| {
        MethodError::Param(ParamError::new(
            mech,
            param,
            c.spec(),
            "needs a contractive compressor (α), e.g. top_k:k=1; wrap an unbiased one as scaled(...)",
        ))
    })
}

/// Validate a laziness threshold ζ ≥ 0 (finite).
pub(crate) fn check_zeta(mech: &'static str, zeta: f64) -> Result<(), ParamError> {
    if zeta.is_finite() && zeta >= 0.0 {
        Ok(())
    } else {
        Err(ParamError::new(
            mech,
            "zeta",
            zeta,
            "the trigger threshold ζ must be finite and ≥ 0 (ζ = 0: always send)",
        ))
    }
}

/// Validate a probability p ∈ (0, 1].
pub(crate) fn check_p(mech: &'static str, p: f64) -> Result<(), ParamError> {
    if p > 0.0 && p <= 1.0 {
        Ok(())
    } else {
        Err(ParamError::new(
            mech,
            "p",
            p,
            "the probability p must be in (0, 1] (p = 1: always send the full vector)",
        ))
    }
}

/// The EF21 pair $(1-\sqrt{1-\alpha}, (1-\alpha)/(1-\sqrt{1-\alpha}))$ (B = 0 at α = 1).
pub(crate) fn ef21_ab(alpha: f64) -> (f64, f64) {
    crate::stepsize::ef21_theta_beta(alpha)
}

pub(crate) fn check_compressor_dim<S: Scalar>(
    mech: &'static str,
    c: &dyn Compressor<S>,
    d: usize,
) -> Result<(), MethodError> {
    c.check_dim(d)
        .map_err(|e| MethodError::Incompatible(format!("{mech}: {e}")))
}

// ---- registry entries of the 3PC-GD mechanisms (see `crate::registry`) ----
pub use adacgd::{AdaCgdParams, AdaCgdSpec};
pub use bag::{BagParams, BagSpec};
pub use clag::{ClagParams, ClagSpec};
pub use ef21::{ThreePcEf21Params, ThreePcEf21Spec};
pub use lag::{LagParams, LagSpec};
pub use v1::{ThreePcV1Params, ThreePcV1Spec};
pub use v2::{ThreePcV2Params, ThreePcV2Spec};
pub use v4::{ThreePcV4Params, ThreePcV4Spec};
pub use v5::{ThreePcV5Params, ThreePcV5Spec};

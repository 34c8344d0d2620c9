//! Three-point compressors (3PC; Richtárik, Sokolov, Gasanov, Fatkhullin, Li, Gorbunov, ICML
//! 2022, arXiv 2202.00998) and AdaCGD's adaptive ladder (Makarenko et al., TMLR 2023).
//!
//! A 3PC is a (possibly random) map $\mathcal{C}_{h,y}: \mathbb{R}^d \to \mathbb{R}^d$ with
//! constants $0 < A \le 1$, $B \ge 0$ such that for all $h, y, x$
//!
//! $$\mathbb{E}\lVert\mathcal{C}_{h,y}(x) - x\rVert^2 \le (1 - A)\lVert h - y\rVert^2 + B\lVert x -
//! y\rVert^2 .$$
//!
//! In 3PC-GD (`squeeze_methods::ThreePc`) worker $i$ keeps its estimate $h = g_i^t$, the
//! previous local gradient $y = \nabla f_i(x^t)$, and applies the mechanism to the new one
//! $x = \nabla f_i(x^{t+1})$.
//!
//! # Why here (in `squeeze-compress`)
//!
//! A 3PC is a compressor — a stateful one, $\mathcal{C}_{h,y}(x)$, with its own constants
//! $(A, B)$ in place of a compressor's $\alpha$ or $\omega$ — and every mechanism is built
//! *from* the compressors of this crate (AdaCGD's ladder is multi-level compression). It needs
//! nothing from the methods layer: the state $h, y$ and the working memory come in through
//! [`MechCtx`], and its errors are its own ([`MechanismError`], which the methods layer
//! converts variant for variant). So it sits beside the compressors it composes, and any
//! method — 3PC-GD (`squeeze_methods::ThreePc`), its bidirectional variant, or another —
//! can use it; `squeeze_methods::three_point` re-exports this module.
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
//! | [`Lag`] | $x$ if $\lVert x-h\rVert^2 > \zeta\lVert x-y\rVert^2$ else $h$ | $1$ | $\zeta$ |
//! | [`Clag`] | $h + C(x-h)$ if triggered else $h$ | $1-\sqrt{1-\alpha}$ | $\max(\beta, \zeta)$ |
//! | [`V1`] | $y + C(x - y)$ | $1$ | $1-\alpha$ |
//! | [`V2`] | $b + C(x-b)$, $b = h + Q(x-y)$ | $\alpha$ | $(1-\alpha)\omega$ |
//! | [`V4`] | $b + C_1(x-b)$, $b = h + C_2(x-h)$ | $1-\sqrt{1-\bar\alpha}$ | $(1-\bar\alpha)/(1-\sqrt{1-\bar\alpha})$ |
//! | [`V5`] | w.p. $p$: $x$, else $h + C(x-y)$ (shared coin) | $1-\sqrt{1-p}$ | $(1-p)(1-\alpha)/(1-\sqrt{1-p})$ |
//! | [`Bag`] | w.p. $p$: $x$, else $h$ (coin per worker) | $1-\sqrt{1-p}$ | $(1-p)/(1-\sqrt{1-p})$ |
//! | [`AdaCgd`] | cheapest ladder level that is good enough | finest level's | $\max(\beta_m, \zeta)$ |

use core::fmt::Debug;

use squeeze_core::{Compressor, Message, Scalar, Scratch, SqueezeRng};

/// `impl ThreePoint<S>` for a mechanism from the parts that differ between mechanisms: the
/// type and registry name, then (with `self` and the dimension named by the caller) the bodies
/// of `describe`, `check_dim` and `constants`, any further trait items (`outcomes`,
/// `wire_levels`), and the body of `compress` with the names it gives $h, y, x$, the context
/// and the uplink. `apply` keeps the trait's default.
macro_rules! three_point {
    (
        $ty:ty, $name:literal, |$this:ident, $d:pat_param| {
            describe: $describe:expr,
            check_dim: $check:expr,
            constants: $constants:expr,
            $($extra:item)*
        }
        compress |$h:pat_param, $y:pat_param, $x:pat_param, $ctx:ident, $up:ident| $body:expr
    ) => {
        impl<S: Scalar> ThreePoint<S> for $ty {
            fn name(&self) -> &'static str {
                $name
            }
            fn describe(&$this) -> String {
                $describe
            }
            fn check_dim(&$this, $d: usize) -> Result<(), MechanismError> {
                $check
            }
            fn constants(&$this, $d: usize) -> Result<(f64, f64), MechanismError> {
                $constants
            }
            $($extra)*
            fn compress(
                &$this,
                $h: &[S],
                $y: &[S],
                $x: &[S],
                $ctx: &mut MechCtx<'_, S>,
                $up: &mut Message<S>,
            ) -> Result<usize, MechanismError> {
                $body
            }
        }
    };
}

mod adacgd;
mod bag;
mod clag;
mod ef21;
mod error;
mod lag;
mod params;
mod steps;
mod v1;
mod v2;
mod v4;
mod v5;

pub use adacgd::AdaCgd;
pub use bag::Bag;
pub use clag::Clag;
pub use ef21::Ef21Mech;
pub use error::{MechanismError, compress_err, compress_up, message_err};
pub use lag::Lag;
pub use params::ef21_theta_beta;
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
    /// A mechanism's view of a step: `ids = (worker, n_workers, round, round_seed)`, the
    /// stepping side's stream, the compressor scratch and a spare message, two work vectors,
    /// and its own parked uplink buffers and rung buffers.
    pub fn new(
        (worker, n_workers, round, round_seed): (usize, usize, u64, u64),
        rng: &'a mut SqueezeRng,
        (scratch, spare): (&'a mut Scratch, &'a mut Message<S>),
        (work, aux): (&'a mut [S], &'a mut [S]),
        (stash, rungs): (&'a mut Message<S>, &'a mut Vec<Message<S>>),
    ) -> Self {
        Self {
            worker,
            n_workers,
            round,
            round_seed,
            rng,
            scratch,
            work,
            aux,
            spare,
            stash,
            rungs,
        }
    }

    /// Compress `v` with `c` into `out` using this context's stream and scratch.
    pub(crate) fn compress(
        rng: &mut SqueezeRng,
        scratch: &mut Scratch,
        meta: (usize, usize, u64, u64),
        c: &dyn Compressor<S>,
        v: &[S],
        out: &mut Message<S>,
        what: &'static str,
    ) -> Result<(), MechanismError> {
        compress_up(c, v, rng, scratch, meta, what, out)
    }

    pub(crate) fn meta(&self) -> (usize, usize, u64, u64) {
        (self.worker, self.n_workers, self.round, self.round_seed)
    }
}

/// A worker's own working memory for [`MechCtx`] when it is kept outside a method (tests,
/// tools): the two work vectors, the spare message, the parked uplink and the rung buffers.
#[derive(Debug, Clone, Default)]
pub struct MechBuffers<S: Scalar> {
    work: Vec<S>,
    aux: Vec<S>,
    spare: Message<S>,
    stash: Message<S>,
    rungs: Vec<Message<S>>,
}

impl<S: Scalar> MechBuffers<S> {
    /// Buffers for dimension `d`.
    pub fn new(d: usize) -> Self {
        Self {
            work: vec![S::ZERO; d],
            aux: vec![S::ZERO; d],
            ..Self::default()
        }
    }

    /// The context of one application: `ids = (worker, n_workers, round, round_seed)`, the
    /// worker's stream `rng` and the compressor `scratch`, with these buffers.
    pub fn ctx<'a>(
        &'a mut self,
        ids: (usize, usize, u64, u64),
        rng: &'a mut SqueezeRng,
        scratch: &'a mut Scratch,
    ) -> MechCtx<'a, S> {
        let Self {
            work,
            aux,
            spare,
            stash,
            rungs,
        } = self;
        MechCtx::new(ids, rng, (scratch, spare), (work, aux), (stash, rungs))
    }
}

/// A three-point compressor $\mathcal{C}_{h,y}(x)$ (see the [module docs](self)).
pub trait ThreePoint<S: Scalar>: Send + Sync + Debug {
    /// Registry name, e.g. `clag`.
    fn name(&self) -> &'static str;

    /// Canonical description with parameters, e.g. `clag(top_k:k=1, ζ=1)`.
    fn describe(&self) -> String;

    /// Check the compressors fit dimension `d`.
    fn check_dim(&self, d: usize) -> Result<(), MechanismError>;

    /// The constants $(A, B)$ at dimension `d`; an error if a compressor lacks the class the
    /// mechanism's theory needs (e.g. no $\alpha$).
    fn constants(&self, d: usize) -> Result<(f64, f64), MechanismError>;

    /// Number of distinct outcomes [`Self::compress`] reports (histogram length).
    fn outcomes(&self) -> usize {
        2
    }

    /// `Some(m)` if the message carries the choice among `m` levels (AdaCGD: the ladder; see
    /// `squeeze_methods::ServerMethod::uplink_levels`); `None` by default.
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
    ) -> Result<usize, MechanismError>;

    /// [`Self::compress`], then $h \leftarrow h + \mathrm{decode}(up)$; returns the outcome.
    fn apply(
        &self,
        h: &mut [S],
        y: &[S],
        x: &[S],
        ctx: &mut MechCtx<'_, S>,
        up: &mut Message<S>,
    ) -> Result<usize, MechanismError> {
        let o = self.compress(h, y, x, ctx, up)?;
        up.add_to(h, S::ONE)
            .map_err(message_err(ctx.worker, ctx.round))?;
        Ok(o)
    }
}

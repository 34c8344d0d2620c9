//! The steps the mechanisms are built from: message handling (skip, payload, dense delta),
//! vector arithmetic, the laziness trigger, and the compress steps (EF21 step, two-stage
//! refinement). Each is the exact arithmetic the mechanisms used inline, in the same order.

use squeeze_core::{Compressor, Message, Scalar};

use super::{MechCtx, MechanismError, message_err};

/// What the correction $x - h$ is called in errors.
pub(crate) const CORRECTION: &str = "the correction ∇f_i − g_i";
/// What the correction $x - b$ of a two-stage mechanism is called in errors.
pub(crate) const CORRECTION_B: &str = "the correction ∇f_i − b";
/// What the difference $x - y$ is called in errors.
pub(crate) const DIFFERENCE: &str = "the difference ∇f_i(x^{t+1}) − ∇f_i(x^t)";

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

/// Send the full vector: `up ← Dense(x − h)` (buffers taken back from `stash`); outcome 1.
pub(crate) fn send_dense<S: Scalar>(
    h: &[S],
    x: &[S],
    stash: &mut Message<S>,
    up: &mut Message<S>,
) -> usize {
    unskip(up, stash, true);
    dense_delta(x, h, up);
    1
}

/// [`send_dense`] (outcome 1) if `send`, else `up ← Skip` (outcome 0).
pub(crate) fn dense_or_skip<S: Scalar>(
    send: bool,
    h: &[S],
    x: &[S],
    stash: &mut Message<S>,
    up: &mut Message<S>,
) -> usize {
    if send {
        send_dense(h, x, stash, up)
    } else {
        skip(up, stash, x.len());
        0
    }
}

/// The laziness test $\lVert x - h\rVert^2 \le \zeta\lVert x - y\rVert^2$ of LAG, CLAG and AdaCGD,
/// robust to overflow: a non-finite left side never counts as "close enough" (so a diverging run
/// keeps sending and the divergence surfaces instead of freezing into permanent skips), and ζ = 0
/// means a threshold of exactly 0 even when $\lVert x - y\rVert^2$ overflowed.
///
/// ```text
/// within(lhs, ζ, rhs) = lhs finite ∧ lhs ≤ (ζ = 0 ? 0 : ζ·rhs)
/// ```
#[inline]
pub(crate) fn within(lhs: f64, zeta: f64, rhs: f64) -> bool {
    lhs.is_finite() && lhs <= if zeta == 0.0 { 0.0 } else { zeta * rhs }
}

/// $\lVert a - b\rVert^2$ in f64.
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

/// The lazy trigger: `Some(‖x − y‖²)` when $\lVert x - h\rVert^2 > \zeta\lVert x - y\rVert^2$
/// (send; see [`within`]), `None` when the estimate is close enough (skip).
pub(crate) fn triggered<S: Scalar>(zeta: f64, h: &[S], y: &[S], x: &[S]) -> Option<f64> {
    let rhs = dist2(x, y);
    (!within(dist2(x, h), zeta, rhs)).then_some(rhs)
}

/// A lazy compressed mechanism: `up ← Skip` (outcome 0) unless [`triggered`]; then `up` takes
/// back its compressed-message buffers and `send(‖x − y‖², ctx, up)` writes it and returns the
/// outcome.
pub(crate) fn lazily<'a, S: Scalar>(
    zeta: f64,
    (h, y, x): (&[S], &[S], &[S]),
    ctx: &mut MechCtx<'a, S>,
    up: &mut Message<S>,
    send: impl FnOnce(f64, &mut MechCtx<'a, S>, &mut Message<S>) -> Result<usize, MechanismError>,
) -> Result<usize, MechanismError> {
    let Some(rhs) = triggered(zeta, h, y, x) else {
        skip(up, ctx.stash, x.len());
        return Ok(0);
    };
    unskip(up, ctx.stash, false);
    send(rhs, ctx, up)
}

/// `ctx.work ← a − b`, then `out ← C(ctx.work)`; errors name `what`.
pub(crate) fn compress_sub<S: Scalar>(
    c: &dyn Compressor<S>,
    a: &[S],
    b: &[S],
    ctx: &mut MechCtx<'_, S>,
    out: &mut Message<S>,
    what: &'static str,
) -> Result<(), MechanismError> {
    let meta = ctx.meta();
    sub_into(a, b, ctx.work);
    MechCtx::compress(ctx.rng, ctx.scratch, meta, c, ctx.work, out, what)
}

/// The EF21 step: `up ← C(x − h)` (with `ctx.work ← x − h`); outcome 1.
pub(crate) fn ef21_step<S: Scalar>(
    c: &dyn Compressor<S>,
    h: &[S],
    x: &[S],
    ctx: &mut MechCtx<'_, S>,
    up: &mut Message<S>,
) -> Result<usize, MechanismError> {
    compress_sub(c, x, h, ctx, up, CORRECTION)?;
    Ok(1)
}

/// The second stage of a two-stage mechanism with $b = h + \mathrm{decode}(first)$ and
/// `ctx.work` $= x - h$: `ctx.work ← ctx.work − decode(first)` $= x - b$, then
/// `second ← C(x − b)`; outcome 1.
pub(crate) fn refine<S: Scalar>(
    c: &dyn Compressor<S>,
    first: &Message<S>,
    ctx: &mut MechCtx<'_, S>,
    second: &mut Message<S>,
) -> Result<usize, MechanismError> {
    first
        .add_to(ctx.work, S::from_f64(-1.0))
        .map_err(message_err(ctx.worker, ctx.round))?;
    let meta = ctx.meta();
    MechCtx::compress(
        ctx.rng,
        ctx.scratch,
        meta,
        c,
        ctx.work,
        second,
        CORRECTION_B,
    )?;
    Ok(1)
}

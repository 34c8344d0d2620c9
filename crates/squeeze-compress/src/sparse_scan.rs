//! The chunked streaming scan shared by the magnitude sparsifiers (`top_k`, `threshold_abs`,
//! `threshold_rel`).
//!
//! [`scan_at_least`] reads the input once, 16 entries at a time. Each chunk is tested with one
//! vectorisable compare per entry, `!(|x_j| < t)`, OR-ed over the chunk; only chunks that contain
//! a hit fall into scalar code, which appends `(j, x_j)` in index order. The same compare is true
//! for NaN and ±∞ (every comparison with NaN is false, and `∞ < t` is false for any `t`), so
//! non-finite detection costs nothing extra: a non-finite entry always lands in the scalar path,
//! and the first one met is the first one in `x`.

use squeeze_core::{CompressError, Scalar};

/// Entries per chunk of the streaming test.
pub(crate) const CHUNK: usize = 16;

/// Bit `i` set iff `!(|c_i| < t)` (a hit or a non-finite value); compiles to vector compares
/// and a move-mask.
// `!(a < t)` (not `a >= t`) on purpose: it is also true for NaN.
#[allow(clippy::neg_cmp_op_on_partial_ord)]
#[inline(always)]
fn chunk_mask<S: Scalar>(c: &[S; CHUNK], t: S) -> u32 {
    let mut mask = 0u32;
    for (i, &v) in c.iter().enumerate() {
        mask |= u32::from(!(v.abs() < t)) << i;
    }
    mask
}

/// Append the hit `(j, v)`, or the error for a non-finite `v`.
#[inline(always)]
fn push_hit<S: Scalar>(
    j: usize,
    v: S,
    idx: &mut Vec<u32>,
    val: &mut Vec<S>,
) -> Result<(), CompressError> {
    if !v.is_finite() {
        return Err(CompressError::NonFinite {
            index: j,
            value: v.to_f64(),
        });
    }
    // Indices fit in u32: callers checked d ≤ MAX_DIM.
    idx.push(j as u32);
    val.push(v);
    Ok(())
}

/// Append `(base + i, c[i])` for the set bits `i` of `mask`.
#[inline(always)]
fn take_mask<S: Scalar>(
    c: &[S; CHUNK],
    mut mask: u32,
    base: usize,
    idx: &mut Vec<u32>,
    val: &mut Vec<S>,
) -> Result<(), CompressError> {
    while mask != 0 {
        let i = mask.trailing_zeros() as usize;
        mask &= mask - 1;
        push_hit(base + i, c[i % CHUNK], idx, val)?;
    }
    Ok(())
}

/// Append `(j, x_j)` for the hits of a short tail starting at `base`.
#[allow(clippy::neg_cmp_op_on_partial_ord)]
fn take_hits<S: Scalar>(
    c: &[S],
    base: usize,
    t: S,
    idx: &mut Vec<u32>,
    val: &mut Vec<S>,
) -> Result<(), CompressError> {
    for (i, &v) in c.iter().enumerate() {
        if !(v.abs() < t) {
            push_hit(base + i, v, idx, val)?;
        }
    }
    Ok(())
}

/// Append `(j, x_j)` for every `j ≥ start` with `|x_j| ≥ t`, in increasing `j`.
///
/// Stops after the first chunk that leaves `idx.len() ≥ cap` and returns `Ok(Some(next))`, the
/// first position not yet scanned (so the caller can compact its candidates and resume), or
/// `Ok(None)` once `x` is exhausted. A NaN or ±∞ entry gives [`CompressError::NonFinite`] at its
/// index; since every non-finite entry is a hit, it is the first non-finite entry at or after
/// `start`. `t` must be ≥ 0 (possibly `+∞`, which keeps nothing finite) and `x.len()` must fit
/// in `u32`.
pub(crate) fn scan_at_least<S: Scalar>(
    x: &[S],
    start: usize,
    t: S,
    cap: usize,
    idx: &mut Vec<u32>,
    val: &mut Vec<S>,
) -> Result<Option<usize>, CompressError> {
    let rest = x.get(start..).unwrap_or(&[]);
    let (chunks, tail) = rest.as_chunks::<CHUNK>();
    let mut base = start;
    for c in chunks {
        let mask = chunk_mask(c, t);
        if mask != 0 {
            take_mask(c, mask, base, idx, val)?;
            if idx.len() >= cap {
                return Ok(Some(base + CHUNK));
            }
        }
        base += CHUNK;
    }
    take_hits(tail, base, t, idx, val)?;
    Ok(None)
}

/// The smallest value of type `S` that is `≥ t` (for `t ≥ 0`; `+∞` if `t` exceeds `S::MAX`), so
/// that `|v| ≥ round_up(t)` ⇔ `|v| ≥ t` exactly for every `v: S`.
pub(crate) fn round_up<S: Scalar>(t: f64) -> S {
    let s = S::from_f64(t.max(0.0));
    if s.to_f64() < t {
        // s is +0 or positive finite: the next representable value up.
        S::from_bits_u64(s.to_bits_u64() + 1)
    } else {
        s
    }
}

/// The shorter of `{}` and `{:e}` for a parameter in a spec string (both re-parse exactly).
pub(crate) fn fmt_real(v: f64) -> String {
    let (plain, sci) = (format!("{v}"), format!("{v:e}"));
    if sci.len() < plain.len() { sci } else { plain }
}

/// The magnitude key of `v`: the IEEE bits of `|v|`, which order non-negative values like the
/// values themselves (NaN above +∞).
#[inline(always)]
pub(crate) fn key<S: Scalar>(v: S) -> u64 {
    v.abs().to_bits_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_finds_hits_in_order_and_the_first_non_finite() {
        let mut x = vec![0.0f32; 40];
        x[3] = 2.0;
        x[17] = -1.0;
        x[33] = 0.5;
        x[39] = -3.0;
        let (mut idx, mut val) = (Vec::new(), Vec::new());
        assert_eq!(
            scan_at_least(&x, 0, 1.0, usize::MAX, &mut idx, &mut val),
            Ok(None)
        );
        assert_eq!(idx, vec![3, 17, 39]);
        assert_eq!(val, vec![2.0, -1.0, -3.0]);
        // Stop at the chunk that fills the buffer, resume after it.
        idx.clear();
        val.clear();
        assert_eq!(
            scan_at_least(&x, 0, 0.5, 1, &mut idx, &mut val),
            Ok(Some(16))
        );
        assert_eq!(idx, vec![3]);
        assert_eq!(
            scan_at_least(&x, 16, 0.5, usize::MAX, &mut idx, &mut val),
            Ok(None)
        );
        assert_eq!(idx, vec![3, 17, 33, 39]);
        // Non-finite entries are found even with an infinite threshold.
        x[20] = f32::NAN;
        x[38] = f32::INFINITY;
        let r = scan_at_least(&x, 0, f32::INFINITY, usize::MAX, &mut idx, &mut val);
        assert!(matches!(r, Err(CompressError::NonFinite { index: 20, .. })));
        let r = scan_at_least(&x, 21, f32::INFINITY, usize::MAX, &mut idx, &mut val);
        assert!(matches!(r, Err(CompressError::NonFinite { index: 38, .. })));
    }

    #[test]
    fn round_up_is_the_least_value_not_below() {
        assert_eq!(round_up::<f32>(0.1), 0.1f32);
        assert!((0.1f32 as f64) >= 0.1);
        // 0.3 rounds down to nearest f32... check the invariant instead of the value
        for t in [0.3, 1e-40, 1e-50, 3.4e38, 3.5e38, 1.0, 0.0] {
            let r = round_up::<f32>(t);
            assert!(r.to_f64() >= t, "{t}");
            if r > 0.0 {
                let below = f32::from_bits(r.to_bits() - 1);
                assert!((below as f64) < t, "{t}");
            }
        }
        assert_eq!(round_up::<f32>(1e-50), f32::from_bits(1));
        assert_eq!(round_up::<f32>(3.5e38), f32::INFINITY);
        assert_eq!(round_up::<f64>(0.3), 0.3);
    }
}

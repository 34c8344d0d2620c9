//! Allocation-free slice kernels: dot products, norms, `axpy`.
//!
//! All reductions use a fixed number of independent accumulators combined in a fixed order, so
//! they auto-vectorise on the default x86-64 target (SSE2) and give the same bits on every run
//! and every thread count. Reductions that feed compressors (`norm2`, `norm1`) accumulate in
//! `f64` so that an `f32` vector of huge or tiny entries neither overflows nor underflows.

use crate::error::LengthMismatch;
use crate::scalar::Scalar;

const LANES: usize = 16;

/// Sum of `f(x_j)` over `x` with 16 accumulators of type `S`, combined pairwise.
#[inline]
fn reduce<S: Scalar>(x: &[S], f: impl Fn(S) -> S) -> S {
    let mut acc = [S::ZERO; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for i in 0..LANES {
            acc[i] += f(c[i]);
        }
    }
    let mut t = S::ZERO;
    for &v in tail {
        t += f(v);
    }
    combine(acc) + t
}

#[inline]
fn combine<S: Scalar>(mut acc: [S; LANES]) -> S {
    let mut w = LANES / 2;
    while w > 0 {
        for i in 0..w {
            acc[i] += acc[i + w];
        }
        w /= 2;
    }
    acc[0]
}

/// Sum of `f(x_j)` accumulated in `f64` with 8 accumulators.
#[inline(always)]
fn reduce_wide<S: Scalar>(x: &[S], f: impl Fn(f64) -> f64) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = x.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for i in 0..8 {
            acc[i] += f(c[i].to_f64());
        }
    }
    let mut t = 0.0;
    for &v in tail {
        t += f(v.to_f64());
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + t
}

fn check_len(a: usize, b: usize) -> Result<(), LengthMismatch> {
    if a == b {
        Ok(())
    } else {
        Err(LengthMismatch {
            expected: a,
            got: b,
        })
    }
}

/// Sum Σ x_j.
pub fn sum<S: Scalar>(x: &[S]) -> S {
    reduce(x, |v| v)
}

/// Squared Euclidean norm ‖x‖² accumulated in `S`.
///
/// ```
/// assert_eq!(squeeze_core::ops::norm2_sq(&[3.0f32, 4.0]), 25.0);
/// ```
pub fn norm2_sq<S: Scalar>(x: &[S]) -> S {
    reduce(x, |v| v * v)
}

/// Dot product ⟨a, b⟩ with 16 accumulators.
///
/// ```
/// assert_eq!(squeeze_core::ops::dot(&[1.0f64, 2.0], &[3.0, 4.0]).unwrap(), 11.0);
/// assert!(squeeze_core::ops::dot(&[1.0f64], &[3.0, 4.0]).is_err());
/// ```
pub fn dot<S: Scalar>(a: &[S], b: &[S]) -> Result<S, LengthMismatch> {
    check_len(a.len(), b.len())?;
    let mut acc = [S::ZERO; LANES];
    let ca = a.chunks_exact(LANES);
    let cb = b.chunks_exact(LANES);
    let (ta, tb) = (ca.remainder(), cb.remainder());
    for (u, v) in ca.zip(cb) {
        for i in 0..LANES {
            acc[i] += u[i] * v[i];
        }
    }
    let mut t = S::ZERO;
    for (&u, &v) in ta.iter().zip(tb) {
        t += u * v;
    }
    Ok(combine(acc) + t)
}

/// Squared distance ‖a − b‖² accumulated in `f64`.
pub fn dist2_sq<S: Scalar>(a: &[S], b: &[S]) -> Result<f64, LengthMismatch> {
    check_len(a.len(), b.len())?;
    let mut acc = [0.0f64; 8];
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let (ta, tb) = (ca.remainder(), cb.remainder());
    for (u, v) in ca.zip(cb) {
        for i in 0..8 {
            let d = u[i].to_f64() - v[i].to_f64();
            acc[i] += d * d;
        }
    }
    let mut t = 0.0;
    for (&u, &v) in ta.iter().zip(tb) {
        let d = u.to_f64() - v.to_f64();
        t += d * d;
    }
    Ok(acc.iter().sum::<f64>() + t)
}

/// `y ← y + a·x`.
///
/// ```
/// let mut y = [1.0f32, 1.0];
/// squeeze_core::ops::axpy(2.0, &[1.0, -1.0], &mut y).unwrap();
/// assert_eq!(y, [3.0, -1.0]);
/// ```
pub fn axpy<S: Scalar>(a: S, x: &[S], y: &mut [S]) -> Result<(), LengthMismatch> {
    check_len(y.len(), x.len())?;
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
    Ok(())
}

/// `x ← a·x`.
pub fn scale<S: Scalar>(a: S, x: &mut [S]) {
    for v in x {
        *v *= a;
    }
}

/// Largest absolute entry ‖x‖_∞ (0 for an empty slice; NaN entries are ignored).
pub fn max_abs<S: Scalar>(x: &[S]) -> S {
    let mut acc = [S::ZERO; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for i in 0..LANES {
            acc[i] = acc[i].max(c[i].abs());
        }
    }
    let mut m = S::ZERO;
    for a in acc {
        m = m.max(a);
    }
    for &v in tail {
        m = m.max(v.abs());
    }
    m
}

/// ℓ₁ norm ‖x‖₁, accumulated in `f64` (non-finite if some entry is non-finite).
pub fn norm1<S: Scalar>(x: &[S]) -> f64 {
    reduce_wide(x, f64::abs)
}

crate::dispatch_avx2! {
    /// Σ x_j² accumulated in `f64`: eight accumulators over the entries in index order, combined
    /// pairwise, then the tail of fewer than eight. The sum whose root [`norm2`] takes on its
    /// fast path. Each square passes through at most $\lceil n/8\rceil + 5$ roundings, so for
    /// finite input the relative error is at most $\gamma_{n/8+5}$ with
    /// $\gamma_m = mu/(1-mu)$, $u = 2^{-53}$ (the bound `squeeze-compress` uses to split ‖x‖₂
    /// over threads without changing it). The AVX2/AVX-512 copies keep the eight accumulators
    /// as vector lanes: the same operations in the same order, so the same sum.
    ///
    /// ```
    /// assert_eq!(squeeze_core::ops::sum_sq_wide(&[3.0f32, 4.0]), 25.0);
    /// ```
    pub fn sum_sq_wide<S: Scalar>(x: &[S]) -> f64 => sum_sq_wide_body
}

#[inline(always)]
fn sum_sq_wide_body<S: Scalar>(x: &[S]) -> f64 {
    reduce_wide(x, |v| v * v)
}

/// Euclidean norm ‖x‖₂ in `f64`, robust to overflow and underflow of the squares.
///
/// The fast path sums squares in `f64`; when that sum leaves the safe range (possible only for
/// `f64` input) the vector is rescaled by its largest entry, as BLAS `nrm2` does.
///
/// ```
/// let n = squeeze_core::ops::norm2(&[1e300f64, 1e300]);
/// assert!((n / 1e300 - 2f64.sqrt()).abs() < 1e-15);
/// assert_eq!(squeeze_core::ops::norm2(&[3.0f32, 4.0]), 5.0);
/// ```
pub fn norm2<S: Scalar>(x: &[S]) -> f64 {
    let s = sum_sq_wide(x);
    if s.is_finite() && s > 1e-280 {
        return s.sqrt();
    }
    if s.is_nan() {
        return f64::NAN;
    }
    let m = max_abs(x).to_f64();
    if m == 0.0 || !m.is_finite() {
        return if m.is_finite() { 0.0 } else { f64::INFINITY };
    }
    let inv = 1.0 / m;
    if inv.is_finite() {
        m * reduce_wide(x, |v| (v * inv) * (v * inv)).sqrt()
    } else {
        // m is subnormal: scale up by a power of two first.
        let up = 2f64.powi(600);
        let s = reduce_wide(x, |v| (v * up) * (v * up));
        s.sqrt() / up
    }
}

/// Appends the entries of the 64-entry block `c` whose bits are set in the hit mask `m` (entry
/// `i` gets index `at + i`) to `idx[*o..]`/`val[*o..]` in index order and advances `*o`;
/// returns `false` if one of them is non-finite. The first four hits are written without a
/// data-dependent branch (a step with no bit left writes a slot that the next write or the
/// caller's final truncation overwrites, and does not advance the cursor). The slots need room
/// for 64 more entries; indices must fit in `u32` (callers check `at + 64 ≤ 2³²`).
/// The shared tail of the threshold scans of Top-K and the thresholds (`squeeze-compress`) and
/// of the fused gradient scan (`squeeze-problems`).
///
/// ```
/// let c: [f32; 64] = core::array::from_fn(|i| i as f32);
/// let (mut idx, mut val, mut o) = (vec![0u32; 64], vec![0f32; 64], 0);
/// assert!(squeeze_core::ops::append_hits(&c, (1 << 3) | (1 << 40), 100, &mut idx, &mut val, &mut o));
/// assert_eq!((o, &idx[..2], &val[..2]), (2, &[103u32, 140][..], &[3.0f32, 40.0][..]));
/// ```
#[inline(always)]
pub fn append_hits<S: Scalar>(
    c: &[S; 64],
    mut m: u64,
    at: usize,
    idx: &mut [u32],
    val: &mut [S],
    o: &mut usize,
) -> bool {
    let mut w = *o;
    let mut bad = false;
    for _ in 0..4 {
        let i = (m.trailing_zeros() as usize) & 63;
        let v = c[i];
        idx[w] = (at + i) as u32;
        val[w] = v;
        bad |= !v.is_finite();
        w += usize::from(m != 0);
        m &= m.wrapping_sub(1);
    }
    while m != 0 {
        let i = m.trailing_zeros() as usize & 63;
        m &= m - 1;
        let v = c[i];
        idx[w] = (at + i) as u32;
        val[w] = v;
        bad |= !v.is_finite();
        w += 1;
    }
    *o = w;
    !bad
}

/// Index and value of the first non-finite entry, if any.
///
/// Runs one vectorised pass (`x − x` is NaN exactly for NaN/±∞) and locates the entry only when
/// one exists.
///
/// ```
/// assert_eq!(squeeze_core::ops::first_non_finite(&[1.0f32, f32::NAN]).map(|p| p.0), Some(1));
/// assert!(squeeze_core::ops::first_non_finite(&[1.0f32, 2.0]).is_none());
/// ```
pub fn first_non_finite<S: Scalar>(x: &[S]) -> Option<(usize, S)> {
    // `v − v` is 0 for finite v and NaN for NaN/±∞; the sum is 0 iff all entries are finite.
    #[allow(clippy::eq_op)]
    let probe = reduce(x, |v| v - v);
    if probe == S::ZERO {
        return None;
    }
    x.iter().position(|v| !v.is_finite()).map(|i| (i, x[i]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The dispatched Σx² gives the same bits at every SIMD level (the eight accumulators
        /// stay eight lanes), for f32 and f64 of any length and spread.
        #[test]
        fn sum_sq_wide_is_the_same_at_every_level(
            x in prop::collection::vec(-1e3f64..1e3, 0..300),
            spread in -30i32..30,
        ) {
            let x64: Vec<f64> = x.iter().map(|v| v * 2f64.powi(spread)).collect();
            let x32: Vec<f32> = x64.iter().map(|&v| v as f32).collect();
            for level in [crate::simd::Level::Baseline, crate::simd::Level::Avx2] {
                let (a, b) = crate::simd::at_most(level, || (sum_sq_wide(&x64), sum_sq_wide(&x32)));
                prop_assert_eq!(a.to_bits(), sum_sq_wide(&x64).to_bits());
                prop_assert_eq!(b.to_bits(), sum_sq_wide(&x32).to_bits());
            }
        }

        #[test]
        fn kernels_match_naive(x in prop::collection::vec(-1e3f64..1e3, 0..100),
                               y in prop::collection::vec(-1e3f64..1e3, 0..100)) {
            let n = x.len().min(y.len());
            let (x, y) = (&x[..n], &y[..n]);
            let naive_dot: f64 = x.iter().zip(y).map(|(a, b)| a * b).sum();
            prop_assert!((dot(x, y).unwrap() - naive_dot).abs() <= 1e-9 * (1.0 + naive_dot.abs()));
            let naive_n2: f64 = x.iter().map(|a| a * a).sum();
            prop_assert!((norm2(x) - naive_n2.sqrt()).abs() <= 1e-9 * (1.0 + naive_n2.sqrt()));
            prop_assert!((norm2_sq(x) - naive_n2).abs() <= 1e-9 * (1.0 + naive_n2));
            let naive_d: f64 = x.iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum();
            prop_assert!((dist2_sq(x, y).unwrap() - naive_d).abs() <= 1e-9 * (1.0 + naive_d));
            let naive_l1: f64 = x.iter().map(|a| a.abs()).sum();
            prop_assert!((norm1(x) - naive_l1).abs() <= 1e-9 * (1.0 + naive_l1));
            let naive_max = x.iter().fold(0.0f64, |m, a| m.max(a.abs()));
            prop_assert_eq!(max_abs(x), naive_max);
        }
    }

    #[test]
    fn norm2_survives_extremes() {
        assert!((norm2(&[1e-200f64, 1e-200]) / 1e-200 - 2f64.sqrt()).abs() < 1e-12);
        assert!((norm2(&[f32::MAX, f32::MAX]) / f32::MAX as f64 - 2f64.sqrt()).abs() < 1e-12);
        let sub = f64::MIN_POSITIVE / 4.0;
        assert!((norm2(&[sub]) / sub - 1.0).abs() < 1e-12);
        assert_eq!(norm2::<f32>(&[]), 0.0);
        assert!(norm2(&[1.0f32, f32::NAN]).is_nan());
        assert_eq!(norm2(&[1.0f64, f64::INFINITY]), f64::INFINITY);
    }

    #[test]
    fn mismatched_lengths_are_errors() {
        let mut y = [0.0f32; 2];
        let e = axpy(1.0, &[1.0f32], &mut y).unwrap_err();
        assert_eq!((e.expected, e.got), (2, 1));
        assert!(dist2_sq(&[1.0f32], &[]).is_err());
    }
}

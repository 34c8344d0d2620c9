//! Scaled sign: one bit per coordinate plus one scale.

use squeeze_core::{Class, CompressCtx, CompressError, Compressor, Message, Scalar};

use crate::entry::compressor;

/// Scaled sign (Karimireddy, Rebjock, Stich, Jaggi 2019, "Error feedback fixes SignSGD and
/// other gradient compression schemes"):
/// $$\mathcal{C}(x) = \frac{\lVert x\rVert_1}{d}\thinspace\operatorname{sign}(x), \qquad
/// \operatorname{sign}(t) = \begin{cases} -1 & t < 0 \cr +1 & t \ge 0 \end{cases}$$
///
/// Convention $\operatorname{sign}(0) = +1$ (also for $-0.0$): the 1-bit wire has no zero
/// symbol. It costs nothing in the guarantee, because with $\sigma_j x_j = |x_j|$ for *every*
/// $j$ (zeros included) the error is still
/// $$\lVert\mathcal{C}(x) - x\rVert^2 = d\thinspace s^2 - 2s\lVert x\rVert_1 + \lVert x\rVert^2 =
/// \lVert x\rVert^2 - \frac{\lVert x\rVert_1^2}{d},
/// \qquad s = \frac{\lVert x\rVert_1}{d}.$$
///
/// Class: contractive with the data-dependent $\alpha(x) = \lVert x\rVert_1^2/(d\lVert x\rVert^2)$,
/// which is $\ge 1/d$ since $\lVert x\rVert_1 \ge \lVert x\rVert_2$; the class reports the worst
/// case $\alpha = 1/d$ (algorithms.md §9.2).
///
/// Bits: a `Sign` message, $4 + 32 + d$ for `f32` ($4 + 64 + d$ for `f64`).
///
/// Speed: one fused pass over `chunks_exact(64)` packs the 64 sign bits of a chunk (compare to
/// bytes, then a multiply per 8 bytes)
/// and sums the chunk's $|x_j|$ in eight accumulators of the input type, adding each chunk sum
/// to an `f64` total (so $10^{30}$-sized `f32` entries are fine and the rounding error is that
/// of 64-term sums). A NaN/±∞ entry makes the total non-finite, which is how invalid input is
/// detected without a separate scan; only then is the input rescanned — to locate the entry,
/// or, if every entry is finite (a chunk sum overflowed because entries are near `S::MAX`), to
/// recompute $\lVert x\rVert_1$ in `f64` (rescaled by $\max_j|x_j|$ if even that overflows).
///
/// ```
/// use squeeze_compress::ScaledSign;
/// use squeeze_core::{Compressor, CompressCtx, Scratch, SqueezeRng};
/// let (mut rng, mut scratch) = (SqueezeRng::from_seed_u64(0), Scratch::default());
/// let mut ctx = CompressCtx::new(&mut rng, &mut scratch);
/// let m = ScaledSign.compress(&[3.0f32, -1.0, 0.0, -4.0], &mut ctx).unwrap();
/// // ‖x‖₁/d = 8/4 = 2; sign(0) = +1
/// assert_eq!(m.to_dense().unwrap(), vec![2.0, -2.0, 2.0, -2.0]);
/// assert_eq!(m.bits(), 4 + 32 + 4);
/// assert_eq!(Compressor::<f32>::class(&ScaledSign, 4).alpha(), Some(0.25));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScaledSign;

/// Sign bits of a chunk of at most 64 (bit `j` set iff `c[j] < 0`), one shift per entry.
#[inline]
fn sign_word_tail<S: Scalar>(c: &[S]) -> u64 {
    let mut w = 0u64;
    for (j, &v) in c.iter().enumerate() {
        w |= u64::from(v < S::ZERO) << j;
    }
    w
}

/// Sign bits of a chunk of exactly 64. The comparisons are written as 64 bytes of 0/1 (a vectorised
/// compare-and-pack); each group of 8 bytes is then gathered into one byte by the multiply
/// `0x0102_0408_1020_4080`, whose top byte is $\sum_j b_j 2^j$ (no carries since $b_j \in \lbrace0,
/// 1\rbrace$). About 4× faster than 64 shift-or steps on the default x86-64 target.
#[inline(always)]
fn sign_word<S: Scalar>(c: &[S]) -> u64 {
    let mut b = [0u8; 64];
    for (bj, &v) in b.iter_mut().zip(c) {
        *bj = u8::from(v < S::ZERO);
    }
    let mut w = 0u64;
    for (k, g) in b.chunks_exact(8).enumerate() {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(g);
        let x = u64::from_le_bytes(bytes);
        w |= (x.wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * k);
    }
    w
}

/// Push the sign words of `x` into `words` and return $\sum_j |x_j|$, summed in `S` within
/// each chunk of 64 (eight accumulators) and across chunks in `f64`. The result is non-finite
/// iff some entry is non-finite or a chunk sum overflowed `S` (entries near `S::MAX`); the
/// caller then rescans.
fn l1_and_signs<S: Scalar>(x: &[S], words: &mut Vec<u64>) -> f64 {
    let chunks = x.chunks_exact(64);
    let tail = chunks.remainder();
    let mut total = [0.0f64; 2];
    for (i, c) in chunks.enumerate() {
        words.push(sign_word(c));
        let mut a = [S::ZERO; 8];
        for g in c.chunks_exact(8) {
            for l in 0..8 {
                a[l] += g[l].abs();
            }
        }
        let s = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
        total[i & 1] += s.to_f64();
    }
    let mut t = 0.0;
    if !tail.is_empty() {
        words.push(sign_word_tail(tail));
        for &v in tail {
            t += v.abs().to_f64();
        }
    }
    (total[0] + total[1]) + t
}

/// $\lVert x\rVert_1/d$ accumulated in `f64` only (the slow path after a chunk sum overflowed).
fn mean_abs_wide<S: Scalar>(x: &[S]) -> f64 {
    let l1 = squeeze_core::ops::norm1(x);
    if l1.is_finite() {
        l1 / x.len() as f64
    } else {
        mean_abs_rescaled(x)
    }
}

/// $\lVert x\rVert_1/d$ for finite `x` whose $\ell_1$ sum overflowed `f64`: rescale by the largest
/// entry.
fn mean_abs_rescaled<S: Scalar>(x: &[S]) -> f64 {
    let m = squeeze_core::ops::max_abs(x).to_f64();
    let inv = 1.0 / m;
    let s: f64 = x.iter().map(|v| (v.to_f64() * inv).abs()).sum();
    m * (s / x.len() as f64)
}

compressor! {
    unit ScaledSign = "scaled_sign",
        "(‖x‖₁/d)·sign(x), sign(0) = +1; α = 1/d worst case (α(x) = ‖x‖₁²/(d‖x‖²)); d + 32 bits (f32) [Karimireddy et al. 2019]";
    |self, dim| {
        class: Class::Contractive {
            alpha: 1.0 / dim.max(1) as f64,
        },
        deterministic: true,
    }
    compress_into |x, _ctx, out| {
        let d = x.len();
        squeeze_core::check_dim_basic(d)?;
        let (scale, words) = out.sign_parts(d);
        words.reserve(d.div_ceil(64));
        let l1 = l1_and_signs(x, words);
        let mean = if l1.is_finite() {
            l1 / d as f64
        } else {
            if let Some((index, v)) = squeeze_core::ops::first_non_finite(x) {
                return Err(CompressError::NonFinite {
                    index,
                    value: v.to_f64(),
                });
            }
            mean_abs_wide(x)
        };
        // mean ≤ max|x_j|, so the conversion stays finite.
        *scale = S::from_f64(mean);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::{check_reuse, compress_once};
    use crate::registry::parse;

    fn comp<S: Scalar>(x: &[S]) -> Result<Message<S>, CompressError> {
        compress_once(&ScaledSign, x, 0)
    }

    #[test]
    fn hand_computed() {
        let m = comp(&[0.5f64, -0.0, -1.5, 2.0]).unwrap();
        let Message::Sign {
            dim,
            scale,
            negative,
        } = &m
        else {
            panic!("not a sign message")
        };
        assert_eq!((*dim, *scale), (4, 1.0));
        // -0.0 is sent as +1; only x[2] is negative.
        assert_eq!(negative, &vec![0b0100]);
        assert_eq!(m.to_dense().unwrap(), vec![1.0, 1.0, -1.0, 1.0]);
        // Zero vector: scale 0.
        let m = comp(&[0.0f32; 3]).unwrap();
        assert_eq!(m.to_dense().unwrap(), vec![0.0; 3]);
    }

    #[test]
    fn error_identity_and_word_layout_across_chunks() {
        // d = 130: two full chunks and a tail of 2; check every bit and ‖C(x)−x‖².
        let x: Vec<f64> = (0..130)
            .map(|j| {
                if j % 3 == 0 {
                    -(j as f64)
                } else {
                    j as f64 * 0.25
                }
            })
            .collect();
        let m = comp(&x).unwrap();
        let Message::Sign {
            negative, scale, ..
        } = &m
        else {
            panic!()
        };
        assert_eq!(negative.len(), 3);
        for (j, &v) in x.iter().enumerate() {
            assert_eq!(negative[j / 64] >> (j % 64) & 1 == 1, v < 0.0, "bit {j}");
        }
        assert_eq!(negative[2] >> 2, 0, "unused bits must be zero");
        let l1: f64 = x.iter().map(|v| v.abs()).sum();
        let xx: f64 = x.iter().map(|v| v * v).sum();
        assert!((*scale - l1 / 130.0).abs() <= 1e-12 * scale);
        let y = m.to_dense().unwrap();
        let e: f64 = y.iter().zip(&x).map(|(a, b)| (a - b) * (a - b)).sum();
        assert!((e - (xx - l1 * l1 / 130.0)).abs() <= 1e-9 * xx);
    }

    #[test]
    fn extreme_magnitudes() {
        // f32 entries near f32::MAX: the f64 accumulators do not overflow.
        let x = vec![f32::MAX; 100];
        let m = comp(&x).unwrap();
        assert_eq!(m.to_dense().unwrap(), x);
        let x = vec![-1e-30f32; 70];
        assert_eq!(comp(&x).unwrap().to_dense().unwrap(), x);
        // f64 entries whose ℓ₁ sum overflows f64: rescaled second pass.
        let x = vec![f64::MAX, -f64::MAX, f64::MAX / 2.0];
        let y = comp(&x).unwrap().to_dense().unwrap();
        let s = f64::MAX * (2.5 / 3.0);
        assert!((y[0] / s - 1.0).abs() < 1e-15 && (y[1] / -s - 1.0).abs() < 1e-15);
    }

    #[test]
    fn non_finite_input_is_located() {
        for (bad, at) in [
            (f32::NAN, 0usize),
            (f32::INFINITY, 77),
            (f32::NEG_INFINITY, 129),
        ] {
            let mut x = vec![1.0f32; 130];
            x[at] = bad;
            // A later non-finite entry must not hide the first one.
            x[(at + 1).min(129).max(at)] = f32::NAN;
            x[at] = bad;
            let e = comp(&x).unwrap_err();
            assert!(
                matches!(e, CompressError::NonFinite { index, .. } if index == at),
                "{e:?}"
            );
        }
        let mut x = vec![f64::MAX; 4];
        x[3] = f64::INFINITY;
        assert!(matches!(
            comp(&x),
            Err(CompressError::NonFinite { index: 3, .. })
        ));
        assert_eq!(comp::<f32>(&[]).unwrap_err(), CompressError::EmptyInput);
    }

    #[test]
    fn registry_and_reuse() {
        let c = parse::<f32>("scaled_sign").unwrap();
        assert_eq!(c.spec(), "scaled_sign");
        assert_eq!(c.class(10).alpha(), Some(0.1));
        assert!(parse::<f32>("scaled_sign:k=1").is_err());
        let x: Vec<f32> = (0..1000).map(|j| (j as f32).sin()).collect();
        check_reuse(c.as_ref(), &x, |m| match m {
            Message::Sign { negative, .. } => Some(negative.as_ptr()),
            _ => None,
        })
        .unwrap();
    }
}

//! Natural compression: unbiased random rounding to a power of two.

use squeeze_core::{Class, CompressCtx, CompressError, Compressor, Message, Scalar, WideRng};

use crate::entry::compressor;
use crate::parallel::{CHUNK, map_chunks_rng};
use crate::quant::{BLOCK, PlacedRandomBlock, RandomBlock, Width, WidthMut, width, width_mut};

/// Natural compression (Horváth et al. 2019, arXiv 1905.10988): with
/// $|x_j| = 2^{e}(1+m)$, $m \in [0, 1)$,
///
/// $$\mathcal{C}(x)_j = \mathrm{sign}(x_j)\cdot\begin{cases} 2^{e+1} & \text{with probability }
/// m,\cr
/// 2^{e} & \text{with probability } 1-m,\end{cases}$$
///
/// so $\mathbb{E}\thinspace\mathcal{C}(x)_j = 2^e(1-m) + 2^{e+1}m = x_j$. It works on the IEEE
/// bits: the stored mantissa field $M$ ($m = M/2^{23}$ for `f32`, $M/2^{52}$ for `f64`) is compared
/// with a uniform integer $U$ of the same width; if $U < M$ the exponent field is incremented, and
/// the mantissa is cleared. $P(U < M) = M/2^{23}$ **exactly**, so the rounding is exactly unbiased
/// (no resolution bias); `f32` uses the top 23 bits of each 32-bit half of a random word (two
/// entries per word), `f64` the top 52 bits of a word.
///
/// **Class** — unbiased with $\omega = 1/8$: per entry
/// $\mathrm{Var} = 4^{e} m(1-m) \le \tfrac18 4^{e}(1+m)^2 = \tfrac18 x_j^2$ (the maximum of
/// $m(1-m)/(1+m)^2$ is $1/8$, at $m = 1/3$).
///
/// **Conventions** (the wire format carries only sign and exponent):
/// * zeros stay zeros (with their sign bit);
/// * subnormal entries $|x_j| < 2^{-126}$ (`f32`; $2^{-1022}$ for `f64`) are rounded to $0$
///   or to the smallest normal power $2^{-126}$ with the unbiased probability
///   $|x_j|/2^{-126}$ (the same mantissa comparison). This is unbiased, but its variance
///   $|x_j|(2^{-126} - |x_j|)$ is **not** bounded by $\tfrac18 x_j^2$: for inputs with
///   subnormal entries the variance bound holds only up to an additive $2^{-254}$ per such
///   entry ($2^{-2046}$ for `f64`) — the one place where the class is not exact;
/// * entries in the top binade with a non-zero mantissa ($2^{127} < |x_j| <$ `f32::MAX`, or
///   above $2^{1023}$ for `f64`) would round up to $\infty$ with positive probability; no
///   unbiased rounding onto finite powers of two exists there, so the input is **rejected**
///   (`CompressError::Incompatible`, hint: rescale). Exact powers ($|x_j| = 2^{127}$) are fine.
///
/// **Bits** — `Natural` message: $4 + 9d$ for `f32` (sign + 8-bit exponent per entry),
/// $4 + 12d$ for `f64`, $4 + 6d$ for `f16`, $4 + 9d$ for `bf16` (a generic kernel on the bits,
/// the uniform's top 10 or 7 bits against the mantissa field).
///
/// ```
/// use squeeze_compress::Natural;
/// use squeeze_core::{Compressor, CompressCtx, Message, Scratch, SqueezeRng};
/// let (mut rng, mut scratch) = (SqueezeRng::from_seed_u64(0), Scratch::default());
/// let mut ctx = CompressCtx::new(&mut rng, &mut scratch);
/// let m = Compressor::<f32>::compress(&Natural, &[4.0, -0.5, 0.0, 3.0], &mut ctx).unwrap();
/// let v = m.to_dense().unwrap();
/// // Powers of two are kept; 3 = 2·1.5 becomes 2 or 4 (each with probability 1/2).
/// assert_eq!(&v[..3], &[4.0, -0.5, 0.0]);
/// assert!(v[3] == 2.0 || v[3] == 4.0);
/// assert_eq!(m.bits(), 4 + 9 * 4);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Natural;

compressor! {
    unit Natural = "natural",
        "natural compression: unbiased random rounding to a neighbouring power of two, keep sign; ω = 1/8 [Horváth et al. 2019]; 9 bits/entry (f32)";
    |self, _dim| {
        class: Class::Unbiased { omega: 0.125 },
        deterministic: false,
    }
    compress_into |x, ctx, out| {
        squeeze_core::check_dim_basic(x.len())?;
        // The kernels write every value (no zero-fill first).
        let values = out.natural_parts_sized(x.len());
        let rng = WideRng::from_rng(ctx.rng);
        let or = |a: bool, b: bool| a | b;
        // Chunked on the current rayon pool for large inputs (crate::parallel): half a random
        // word per element (f32, narrow types), one per element (f64).
        let flagged = match (width(x), width_mut(values)) {
            (Width::F32(x), WidthMut::F32(o)) => map_chunks_rng(x, o, rng, CHUNK / 2, false, or, natural_f32),
            (Width::F64(x), WidthMut::F64(o)) => map_chunks_rng(x, o, rng, CHUNK, false, or, natural_f64),
            (Width::Narrow, WidthMut::Narrow) => map_chunks_rng(x, values, rng, CHUNK / 2, false, or, natural_narrow),
            _ => unreachable!("input and message have the same scalar type"),
        };
        if flagged {
            values.clear();
            return Err(top_binade_error(x));
        }
        Ok(())
    }
}

/// The error for a flagged input: the first non-finite entry, else the first entry in the
/// top binade.
fn top_binade_error<S: Scalar>(x: &[S]) -> CompressError {
    if squeeze_core::ops::first_non_finite(x).is_some() {
        return squeeze_core::non_finite_error(x);
    }
    let top = S::MAX.to_bits_u64() & !((1u64 << S::MANT_BITS) - 1);
    let j = x
        .iter()
        .position(|v| v.abs().to_bits_u64() > top)
        .unwrap_or(0);
    CompressError::Incompatible {
        component: "natural",
        param: "input",
        value: format!("x[{j}] = {:e}", x[j].to_f64()),
        dim: x.len(),
        hint: format!(
            "natural compression cannot round |x_j| > 2^{} without overflowing to ∞ (no larger finite power of two); rescale the input",
            (1i32 << (S::EXP_BITS - 1)) - 1
        ),
    }
}

/// One block of [`natural_f32`]: `out[j]` from `x[j]` and the uniform `u[j]`; returns −1 if
/// some entry is non-finite or in the top binade, else 0.
#[inline(always)]
fn natural_block_f32_body(x: &[f32], u: &[u32], out: &mut [f32]) -> i32 {
    let mut bad = 0i32;
    for ((o, &v), &u) in out.iter_mut().zip(x).zip(u) {
        let b = v.to_bits();
        let mag = b & 0x7fff_ffff;
        // −1 iff mag > 0x7f00_0000 (top binade with mantissa, ∞, NaN); no overflow.
        bad |= (0x7f00_0000 - mag as i32) >> 31;
        let mant = b & 0x007f_ffff;
        let up = (u >> 9).wrapping_sub(mant) >> 31; // 1 iff U < M, both < 2^23
        *o = f32::from_bits(((mag & 0x7f80_0000) + (up << 23)) | (b & 0x8000_0000));
    }
    bad
}

squeeze_core::dispatch_avx2! {
    /// [`natural_block_f32_body`], dispatched (see [`squeeze_core::simd`]).
    fn natural_block_f32(x: &[f32], u: &[u32], out: &mut [f32]) -> i32 => natural_block_f32_body
}

/// Returns `true` if some entry is non-finite or in the top binade (mantissa ≠ 0).
fn natural_f32(x: &[f32], out: &mut [f32], rng: &mut WideRng) -> bool {
    let mut block = PlacedRandomBlock::new();
    let mut bad = 0i32;
    for (xc, oc) in x.chunks(BLOCK).zip(out.chunks_mut(BLOCK)) {
        let u = block.fill_beside(rng, xc.len(), oc.as_ptr());
        bad |= natural_block_f32(xc, u, oc);
    }
    bad != 0
}

/// The generic kernel on the IEEE bits of any [`Scalar`] (used for the 16-bit types): the
/// same mantissa comparison with the top `MANT_BITS` bits of a random 32-bit half-word.
fn natural_narrow<S: Scalar>(x: &[S], out: &mut [S], rng: &mut WideRng) -> bool {
    let mant_bits = S::MANT_BITS;
    let sign = 1u64 << (S::BITS - 1);
    let mant = (1u64 << mant_bits) - 1;
    let exp = (sign - 1) & !mant;
    let top = S::MAX.to_bits_u64() & !mant;
    let mut block = RandomBlock::new();
    let mut bad = false;
    for (xc, oc) in x.chunks(BLOCK).zip(out.chunks_mut(BLOCK)) {
        let u = block.fill(rng, xc.len());
        for ((o, &v), &u) in oc.iter_mut().zip(xc).zip(u) {
            let b = v.to_bits_u64();
            let mag = b & !sign;
            bad |= mag > top;
            let up = u64::from(((u >> (32 - mant_bits)) as u64) < (b & mant));
            *o = S::from_bits_u64(((mag & exp) + (up << mant_bits)) | (b & sign));
        }
    }
    bad
}

fn natural_f64(x: &[f64], out: &mut [f64], rng: &mut WideRng) -> bool {
    const MANT: u64 = (1 << 52) - 1;
    const EXP: u64 = 0x7ff0_0000_0000_0000;
    const TOP: i64 = 0x7fe0_0000_0000_0000;
    let mut words = [0u64; BLOCK];
    let mut bad = 0i64;
    for (xc, oc) in x.chunks(BLOCK).zip(out.chunks_mut(BLOCK)) {
        let w = &mut words[..xc.len()];
        rng.fill(w);
        for ((o, &v), &wd) in oc.iter_mut().zip(xc).zip(w.iter()) {
            let b = v.to_bits();
            let mag = b & !(1 << 63);
            bad |= (TOP - mag as i64) >> 63;
            let up = (wd >> 12).wrapping_sub(b & MANT) >> 63;
            *o = f64::from_bits(((mag & EXP) + (up << 52)) | (b & (1 << 63)));
        }
    }
    bad != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::{compress_once, draw_sums};

    /// The message's values (not `to_dense`, which turns −0 into +0).
    fn compress<S: Scalar>(x: &[S], seed: u64) -> Result<Vec<S>, CompressError> {
        let m = compress_once(&Natural, x, seed)?;
        m.validate().unwrap();
        match m {
            Message::Natural { values } => Ok(values),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn block_kernel_avx2_copy_equals_portable_copy() {
        for len in 0..70 {
            let (mut x, u) = crate::quant::tests::lane_inputs(len, 100 + len as u64);
            if len % 9 == 8 {
                x[len / 2] = [f32::INFINITY, f32::NAN, f32::MAX][len % 3];
            }
            let (mut fast, mut base) = (vec![1f32; len], vec![1f32; len]);
            let bad_fast = natural_block_f32(&x, &u, &mut fast);
            let bad_base = squeeze_core::simd::portable(|| natural_block_f32(&x, &u, &mut base));
            assert_eq!(bad_fast, bad_base);
            assert_eq!(bad_fast != 0, len % 9 == 8, "len {len}");
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&fast), bits(&base), "len {len}");
        }
    }

    #[test]
    fn powers_of_two_and_zeros_are_fixed_points() {
        let x = [
            1.0f32,
            -2.0,
            0.25,
            0.0,
            -0.0,
            f32::MIN_POSITIVE,
            2f32.powi(127),
            -2f32.powi(-100),
        ];
        for seed in 0..20 {
            let y = compress(&x, seed).unwrap();
            assert_eq!(y, x);
            assert!(y[4].is_sign_negative());
        }
        let x64: Vec<f64> = x
            .iter()
            .map(|&v| v as f64)
            .chain([2f64.powi(1023)])
            .collect();
        assert_eq!(compress(&x64, 1).unwrap(), x64);
    }

    #[test]
    fn rounds_to_a_neighbouring_power_with_the_right_frequency() {
        // 1.25 = 2^0 (1 + 1/4): up to 2 with probability 1/4; −6 = −2^2·1.5: −8 w.p. 1/2.
        let x = vec![1.25f32; 4000]
            .into_iter()
            .chain(vec![-6.0f32; 4000])
            .collect::<Vec<_>>();
        let y = compress(&x, 9).unwrap();
        let up1 = y[..4000].iter().filter(|&&v| v == 2.0).count();
        assert!(y[..4000].iter().all(|&v| v == 1.0 || v == 2.0));
        let up2 = y[4000..].iter().filter(|&&v| v == -8.0).count();
        assert!(y[4000..].iter().all(|&v| v == -4.0 || v == -8.0));
        // SE of a count: √(n p (1−p)) = 27.4 and 31.6; allow 6 SE.
        assert!((up1 as f64 - 1000.0).abs() < 6.0 * 27.4, "{up1}");
        assert!((up2 as f64 - 2000.0).abs() < 6.0 * 31.7, "{up2}");
        let y64 = compress(&[1.25f64; 4000], 9).unwrap();
        let up = y64.iter().filter(|&&v| v == 2.0).count();
        assert!((up as f64 - 1000.0).abs() < 6.0 * 27.4, "{up}");
    }

    #[test]
    fn subnormals_round_to_zero_or_the_smallest_normal_unbiasedly() {
        let sub = f32::from_bits(0x0020_0000); // 2^-126 / 4
        let y = compress(&vec![sub; 8000], 4).unwrap();
        assert!(y.iter().all(|&v| v == 0.0 || v == f32::MIN_POSITIVE));
        let ups = y.iter().filter(|&&v| v != 0.0).count() as f64;
        // p = 1/4: SE = √(8000·3/16) = 38.7
        assert!((ups - 2000.0).abs() < 6.0 * 38.8, "{ups}");
        let sub64 = f64::MIN_POSITIVE * 0.75;
        let y = compress(&vec![-sub64; 8000], 4).unwrap();
        assert!(y.iter().all(|&v| v == 0.0 || v == -f64::MIN_POSITIVE));
        let ups = y.iter().filter(|&&v| v != 0.0).count() as f64;
        assert!((ups - 6000.0).abs() < 6.0 * 38.8, "{ups}");
    }

    #[test]
    fn top_binade_is_rejected_and_non_finite_wins() {
        let x = [1.0f32, f32::MAX, 3.0];
        let e = compress(&x, 1).unwrap_err();
        assert!(
            matches!(&e, CompressError::Incompatible { value, .. } if value.starts_with("x[1]")),
            "{e:?}"
        );
        assert!(e.to_string().contains("2^127"), "{e}");
        let e = compress(&[f64::MAX], 1).unwrap_err();
        assert!(e.to_string().contains("2^1023"), "{e}");
        let x = [1.0f32, f32::MAX, f32::NAN];
        assert!(matches!(
            compress(&x, 1),
            Err(CompressError::NonFinite { index: 2, .. })
        ));
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let x = [0.5f64, 1.0, bad, 2.0];
            assert!(matches!(
                compress(&x, 1),
                Err(CompressError::NonFinite { index: 2, .. })
            ));
        }
        assert_eq!(compress::<f32>(&[], 1), Err(CompressError::EmptyInput));
    }

    #[test]
    fn monte_carlo_unbiased_and_variance_matches() {
        // Mean over N draws within 6 SE per coordinate; mean ‖C(x) − x‖² within 6 SE of the
        // exact variance Σ 4^e m(1−m), which is ≤ ‖x‖²/8.
        let x: Vec<f64> = (0..50)
            .map(|i| (i as f64 * 0.37 - 9.0) * 10f64.powi(i % 7 - 3))
            .collect();
        for is_f32 in [true, false] {
            let n = 20_000;
            let xs: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            let (xr, (sum, err)) = if is_f32 {
                let xr: Vec<f64> = xs.iter().map(|&v| v as f64).collect();
                let sums = draw_sums::<f32>(&Natural, &xs, &xr, 3, n);
                (xr, sums)
            } else {
                (x.clone(), draw_sums::<f64>(&Natural, &x, &x, 3, n))
            };
            let mut var_total = 0.0;
            let mut var4 = 0.0;
            for j in 0..x.len() {
                let a = xr[j].abs();
                let lo = 2f64.powi(a.log2().floor() as i32);
                let m = a / lo - 1.0;
                let var = lo * lo * m * (1.0 - m);
                var_total += var;
                var4 += lo.powi(4) * m * (1.0 - m);
                let mean = sum[j] / n as f64;
                let se = (var / n as f64).sqrt();
                assert!((mean - xr[j]).abs() <= 6.0 * se + 1e-12 * a, "j={j}");
            }
            let xx: f64 = xr.iter().map(|v| v * v).sum();
            assert!(var_total <= xx / 8.0);
            let mean_err = err / n as f64;
            let se = (var4 / n as f64).sqrt();
            assert!(
                (mean_err - var_total).abs() <= 6.0 * se,
                "{mean_err} vs {var_total}"
            );
        }
    }

    #[test]
    fn half_precision_kernel() {
        use squeeze_core::{bf16, f16};
        // Powers of two, zeros and subnormals: fixed points or {0, MIN_POSITIVE}; 3 → 2 or 4.
        let h = |v: f64| f16::from_f64(v);
        let x = [
            h(1.0),
            h(-0.25),
            h(0.0),
            h(-0.0),
            h(32768.0),
            h(3.0),
            h(2f64.powi(-20)),
        ];
        let mut hits = [0usize; 2];
        for seed in 0..400 {
            let y = compress(&x, seed).unwrap();
            assert_eq!(
                y[..5].iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                [0x3c00, 0xb400, 0x0000, 0x8000, 0x7800]
            );
            assert!(y[5] == h(2.0) || y[5] == h(4.0), "{}", y[5]);
            hits[(y[5] == h(4.0)) as usize] += 1;
            assert!(y[6] == h(0.0) || y[6] == f16::MIN_POSITIVE, "{}", y[6]);
        }
        // P(4) = m = 1/2: 200 ± 6·10 of 400.
        assert!((140..=260).contains(&hits[1]), "{hits:?}");
        let m = compress_once(&Natural, &x, 0).unwrap();
        assert_eq!(m.bits(), 4 + 6 * 7); // sign + 5-bit exponent
        // The top binade of f16 (above 2^15) is refused; NaN wins over it.
        let e = compress(&[h(1.0), h(40000.0)], 1).unwrap_err();
        assert!(e.to_string().contains("2^15"), "{e}");
        let e = compress(&[h(40000.0), f16::NAN], 1).unwrap_err();
        assert!(
            matches!(e, CompressError::NonFinite { index: 1, .. }),
            "{e:?}"
        );
        // bfloat16: 1.5 → 1 or 2, sign kept, 9 bits an entry.
        let b = [bf16::from_f64(-1.5)];
        let y = compress(&b, 5).unwrap();
        assert!(y[0] == bf16::from_f64(-1.0) || y[0] == bf16::from_f64(-2.0));
        assert_eq!(compress_once(&Natural, &b, 0).unwrap().bits(), 4 + 9);
    }
}

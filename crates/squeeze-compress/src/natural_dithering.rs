//! Natural dithering: random dithering onto power-of-two levels.

use squeeze_core::{
    Class, CompressCtx, CompressError, Compressor, Levels, Message, ParamError, Scalar, WideRng,
};

use crate::entry::{ParamDoc, Registered, compressor};
use crate::parallel::{CHUNK, map_chunks_rng};
use crate::params::Params;
use crate::quant::{NormKind, check_levels, message_norm};

/// Largest accepted number of levels: the smallest level is $2^{-(s-1)}\lVert x\rVert$, and beyond
/// $s = 64$ it is below $2^{-63}$ of the norm — finer than `f64` rounding of the ratio matters
/// for any practical input.
pub const MAX_NATURAL_LEVELS: u64 = 64;

/// Natural dithering with $s$ levels (Horváth et al. 2019, arXiv 1905.10988): with $n = \lVert x\rVert$
/// ($\ell_2$ by default, or $\ell_\infty$) and $y_j = |x_j|/n \in [0, 1]$, the level set is
/// $\lbrace0, 2^{-(s-1)}, \dots, 1/4, 1/2, 1\rbrace$ and $y_j$ is rounded to one of its two
/// neighbouring levels $a < y_j \le b$ with $P(b) = (y_j - a)/(b - a)$:
///
/// $$\mathcal{C}(x)_j = n\thinspace\mathrm{sign}(x_j)\thinspace\ell_j,\qquad
/// \mathbb{E}\thinspace\ell_j = y_j.$$
///
/// Above $2^{-(s-1)}$ this is natural compression of $y_j$ (neighbours $2^e, 2^{e+1}$);
/// below it, dithering between $0$ and $2^{-(s-1)}$.
///
/// **Class** — unbiased with
/// $\omega = \tfrac18 + \frac{d^{1/r}}{2^{s-1}}\min\lbrace1, \frac{d^{1/r}}{2^{s-1}}\rbrace$,
/// $r = \min(p, 2) = 2$ for both norms (Horváth et al. 2019; algorithms.md §9.2). Sketch,
/// $\delta = 2^{1-s}$: entries above $\delta$ have variance $\le \tfrac18 x_j^2$; entries
/// below have variance $n^2 y_j(\delta - y_j) \le n^2\min\lbrace\delta y_j, \delta^2/4\rbrace$, and
/// $n\sum_j |x_j| \le \sqrt d\lVert x\rVert_2^2$, $d n^2 \le d\lVert x\rVert_2^2$ for both norms.
///
/// **Encoding** — `Quantized` with `Levels::Geometric { base: 2, s }`: code $c \ge 1$ stands
/// for $2^{c-s}$ (so $c = s$ is the norm itself), $0$ for zero. The norm is sent in the input
/// type. **Bits**: $4 + 1 + 16 + 2\cdot 32$ (tag, kind, $s$, base, norm for `f32`)
/// $+\ d\lceil\log_2(s+1)\rceil$ $+$ one sign bit per non-zero code (FL_PyTorch charges
/// $32 + d(1 + \lceil\log_2 s\rceil)$).
///
/// **Randomness** — one 64-bit random word per entry: the natural-compression step compares
/// the 52-bit mantissa of $2^{s-1}y_j$ with 52 random bits (exactly unbiased given the ratio);
/// the dithering step compares a 53-bit uniform with $2^{s-1}y_j$ (bias below $2^{-53}$ of
/// the smallest level). The ratio $y_j$ is computed in `f64` from the transmitted norm.
/// For `f32` inputs of tiny norm (≈ 1e-38) the smallest levels may underflow when decoded.
///
/// ```
/// use squeeze_compress::NaturalDithering;
/// use squeeze_compress::quant::NormKind;
/// use squeeze_core::{Compressor, CompressCtx, Levels, Message, Scratch, SqueezeRng};
/// let c = NaturalDithering::new(3, NormKind::Linf).unwrap();
/// let (mut rng, mut scratch) = (SqueezeRng::from_seed_u64(0), Scratch::default());
/// let mut ctx = CompressCtx::new(&mut rng, &mut scratch);
/// // ‖x‖∞ = 8; levels 0, 2, 4, 8. 4 and −8 are levels; 1 is 0 or 2, 3 is 2 or 4.
/// let m = Compressor::<f32>::compress(&c, &[4.0, -8.0, 1.0, 3.0], &mut ctx).unwrap();
/// let Message::Quantized { norm, levels, codes } = &m else { unreachable!() };
/// assert_eq!((*norm, *levels), (8.0, Levels::Geometric { base: 2.0, s: 3 }));
/// assert_eq!(&codes[..2], &[2, -3]);
/// assert!(codes[2] == 0 || codes[2] == 1);
/// assert!(codes[3] == 1 || codes[3] == 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NaturalDithering {
    s: u16,
    norm: NormKind,
}

impl NaturalDithering {
    /// `s` levels (`1 ≤ s ≤ 64`) relative to `norm`.
    pub fn new(s: u64, norm: NormKind) -> Result<Self, ParamError> {
        let hint = format!(
            "s must be in 1..={MAX_NATURAL_LEVELS}: the levels are 1, 1/2, …, 2^-(s-1) \
             of the norm, and s = 64 already resolves 2^-63 (s ≈ 8 is typical)"
        );
        let s = check_levels(Self::NAME, s, MAX_NATURAL_LEVELS, hint)?;
        Ok(Self { s, norm })
    }

    /// `ω` at dimension `d`.
    pub fn omega(&self, d: usize) -> f64 {
        let t = (d as f64).sqrt() / 2f64.powi(self.s as i32 - 1);
        0.125 + t * t.min(1.0)
    }
}

impl Registered for NaturalDithering {
    const NAME: &'static str = "natural_dithering";
    const SUMMARY: &'static str = "natural dithering: unbiased rounding of |x_j|/‖x‖ to levels 0, 2^-(s-1), …, 1/2, 1; ω = 1/8 + (√d/2^(s-1))·min(1, √d/2^(s-1)) [Horváth et al. 2019]";
    const PARAMS: &'static [ParamDoc] = &[
        ParamDoc {
            name: "s",
            doc: "number of non-zero levels, 1..=64 (required)",
        },
        NormKind::PARAM,
    ];
    const EXAMPLES: &'static [&'static str] = &[
        "natural_dithering:s=1",
        "natural_dithering:s=3",
        "natural_dithering:s=8,norm=linf",
    ];
    const BENCH: &'static [&'static str] = &["natural_dithering:s=8"];
    fn from_params(p: &mut Params) -> Result<Self, ParamError> {
        let s = p.require("s", Params::u64, "<levels in 1..=64>", "8")?;
        let norm = NormKind::from_params(p)?;
        Self::new(s, norm)
    }
}

compressor! {
    NaturalDithering, |self, dim| {
        spec: self.norm.levels_spec(Self::NAME, self.s),
        class: Class::Unbiased {
            omega: self.omega(dim),
        },
        deterministic: false,
    }
    compress_into |x, ctx, out| {
        let n = message_norm(Self::NAME, x, self.norm)?;
        let s = self.s;
        // The kernel writes every code (no zero-fill first).
        let (norm, levels, codes) = out.quantized_parts_sized(x.len());
        *levels = Levels::Geometric {
            base: S::from_f64(2.0),
            s,
        };
        if n <= S::ZERO {
            *norm = S::ZERO;
            codes.fill(0);
            return Ok(());
        }
        *norm = n;
        let nf = n.to_f64();
        let top = 2f64.powi(s as i32 - 1);
        let rng = WideRng::from_rng(ctx.rng);
        // One random word per element; chunked on the current rayon pool for large inputs
        // (crate::parallel), with the same codes.
        map_chunks_rng(x, codes, rng, CHUNK, (), |_, _| (), |x, codes, rng| {
            let mut words = [0u64; 512];
            for (xc, cc) in x.chunks(512).zip(codes.chunks_mut(512)) {
                let w = &mut words[..xc.len()];
                rng.fill(w);
                dither_block(xc, w, cc, nf, top);
            }
        });
        Ok(())
    }
}

/// Exactly `u as f64` for `u < 2^53`, in operations that vectorise without AVX-512
/// (`u = h·2^32 + l`, each half placed in the mantissa of a power of two: both subtractions
/// and the sum are exact).
#[inline(always)]
fn u53_to_f64(u: u64) -> f64 {
    const P52: u64 = 0x4330_0000_0000_0000; // 2^52
    const P84: u64 = 0x4530_0000_0000_0000; // 2^84
    let lo = f64::from_bits(P52 | (u & 0xffff_ffff)) - f64::from_bits(P52);
    let hi = f64::from_bits(P84 | (u >> 32)) - f64::from_bits(P84);
    hi + lo
}

/// Codes of one block, `words[j]` the random word of entry `j`: with
/// $t = \min(2^{s-1}|x_j|/n,\ 2^{s-1})$, dithering $[U 2^{-53} < t]$ between 0 and the
/// smallest level for $t < 1$ ($U$ the top 53 bits of the word), else natural rounding
/// $e + 1 + [U' < M]$ of $t = 2^e(1 + M/2^{52})$ ($U'$ the top 52 bits). Both branches are
/// computed and one is selected, so the loop vectorises.
#[inline(always)]
fn dither_body<S: Scalar>(x: &[S], words: &[u64], codes: &mut [i16], nf: f64, top: f64) {
    for ((c, &v), &wd) in codes.iter_mut().zip(x).zip(words) {
        let r = (v.abs().to_f64() / nf) * top;
        let t = if r < top { r } else { top };
        // Dither between 0 and the smallest level 2^-(s-1).
        let dither = (u53_to_f64(wd >> 11) * (1.0 / (1u64 << 53) as f64) < t) as i16;
        // t = 2^e (1 + M/2^52), 0 ≤ e ≤ s − 1: natural rounding (garbage for t < 1, unused).
        let b = t.to_bits();
        let e = ((b >> 52) as i32 - 1023) as i16;
        let up = ((wd >> 12) < (b & ((1 << 52) - 1))) as i16;
        let natural = e.wrapping_add(1 + up);
        let mag = if t < 1.0 { dither } else { natural };
        let neg = -(v.is_sign_negative() as i16);
        *c = (mag ^ neg) - neg;
    }
}

squeeze_core::dispatch_avx2! {
    /// [`dither_body`], dispatched (see [`squeeze_core::simd`]).
    fn dither_block<S: Scalar>(x: &[S], words: &[u64], codes: &mut [i16], nf: f64, top: f64) => dither_body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::draw_sums;
    use crate::registry::assert_refused;
    use crate::registry::parse;
    use squeeze_core::{Scratch, SqueezeRng};

    /// The original per-element code (before the lane kernel), the reference.
    fn reference<S: Scalar>(v: S, wd: u64, nf: f64, top: f64) -> i16 {
        let t = ((v.abs().to_f64() / nf) * top).min(top);
        let mag = if t < 1.0 {
            ((wd >> 11) as f64 * (1.0 / (1u64 << 53) as f64) < t) as i16
        } else {
            let b = t.to_bits();
            let e = ((b >> 52) as i32 - 1023) as i16;
            let up = ((wd >> 12) < (b & ((1 << 52) - 1))) as i16;
            e + 1 + up
        };
        if v.is_sign_negative() { -mag } else { mag }
    }

    fn check_kernel<S: Scalar>(x: &[S], words: &[u64], nf: f64, top: f64) {
        let mut fast = vec![7i16; x.len()];
        let mut base = vec![7i16; x.len()];
        dither_block(x, words, &mut fast, nf, top);
        squeeze_core::simd::portable(|| dither_block(x, words, &mut base, nf, top));
        let want: Vec<i16> = x
            .iter()
            .zip(words)
            .map(|(&v, &w)| reference(v, w, nf, top))
            .collect();
        assert_eq!(fast, want, "dispatched copy, top {top}");
        assert_eq!(base, want, "baseline copy, top {top}");
    }

    #[test]
    fn lane_kernel_copies_equal_the_scalar_reference() {
        let mut rng = SqueezeRng::from_seed_u64(31);
        let specials = [
            0.0f64,
            -0.0,
            1.0,
            -1.0,
            0.5,
            f64::from(f32::MIN_POSITIVE),
            f64::from(f32::from_bits(3)),
            f64::from(f32::MAX),
            1e-300,
            -5e-324,
        ];
        for len in 0..70usize {
            let mut words: Vec<u64> = (0..len).map(|_| rng.next_u64()).collect();
            // Words at the edges of the comparisons.
            for (k, w) in words.iter_mut().enumerate().take(4) {
                *w = [0, u64::MAX, 1 << 63, (1 << 63) - 1][k];
            }
            let x64: Vec<f64> = (0..len)
                .map(|j| {
                    if j % 5 == 0 {
                        specials[(j / 5) % specials.len()]
                    } else {
                        (rng.next_f64() - 0.5) * 10f64.powi((j % 13) as i32 - 6)
                    }
                })
                .collect();
            let x32: Vec<f32> = x64.iter().map(|&v| v as f32).collect();
            let nmax = x64.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            for s in [1, 3, 8, 64] {
                let top = 2f64.powi(s - 1);
                for nf in [nmax.max(1e-300), 1.0, 3.5e38, 1e-40] {
                    check_kernel(&x64, &words, nf, top);
                    check_kernel(&x32, &words, nf, top);
                }
            }
        }
        // u53_to_f64 is the exact conversion.
        for u in [
            0u64,
            1,
            (1 << 32) - 1,
            1 << 32,
            (1 << 53) - 1,
            0x1234_5678_9abc,
        ] {
            assert_eq!(u53_to_f64(u), u as f64);
        }
    }

    #[test]
    fn hand_computed_levels() {
        let (mut rng, mut scratch) = (SqueezeRng::from_seed_u64(2), Scratch::default());
        let mut ctx = CompressCtx::new(&mut rng, &mut scratch);
        // ℓ₂ norm 2 (x = (2·…)); levels of s = 4 relative: 1/8, 1/4, 1/2, 1.
        let c = NaturalDithering::new(4, NormKind::L2).unwrap();
        let x = [0.0f64, -2.0];
        let m = c.compress(&x, &mut ctx).unwrap();
        assert_eq!(
            m,
            Message::Quantized {
                norm: 2.0,
                levels: Levels::Geometric { base: 2.0, s: 4 },
                codes: vec![0, -4]
            }
        );
        let c = NaturalDithering::new(4, NormKind::Linf).unwrap();
        let x = [8.0f32, -4.0, 2.0, 1.0, -0.0];
        let m = c.compress(&x, &mut ctx).unwrap();
        let Message::Quantized { codes, .. } = &m else {
            unreachable!()
        };
        assert_eq!(codes, &[4, -3, 2, 1, 0]);
        assert_eq!(m.to_dense().unwrap(), vec![8.0, -4.0, 2.0, 1.0, 0.0]);
        // 4 + 1 + 16 + 32 + 32 + 5 × 3 + 4 signs
        assert_eq!(m.bits(), 85 + 15 + 4);
        // s = 1: levels {0, 1}: TernGrad-like.
        let c = NaturalDithering::new(1, NormKind::Linf).unwrap();
        let m = c.compress(&[3.0f32, -3.0, 0.0], &mut ctx).unwrap();
        assert_eq!(m.to_dense().unwrap(), vec![3.0, -3.0, 0.0]);
    }

    #[test]
    fn zero_input_and_errors() {
        let (mut rng, mut scratch) = (SqueezeRng::from_seed_u64(2), Scratch::default());
        let mut ctx = CompressCtx::new(&mut rng, &mut scratch);
        let c = parse::<f32>("natural_dithering:s=3").unwrap();
        assert_eq!(
            c.compress(&[0.0, 0.0], &mut ctx)
                .unwrap()
                .to_dense()
                .unwrap(),
            vec![0.0, 0.0]
        );
        assert!(matches!(
            c.compress(&[0.0, f32::NAN], &mut ctx),
            Err(CompressError::NonFinite { index: 1, .. })
        ));
        assert_eq!(c.compress(&[], &mut ctx), Err(CompressError::EmptyInput));
        assert_refused("natural_dithering:s=65", "1..=64");
        assert_refused("natural_dithering:s=0", "1..=64");
        assert_refused("natural_dithering", "needs s=");
        assert_eq!(
            parse::<f64>("natural_dithering:s=8,norm=linf")
                .unwrap()
                .spec(),
            "natural_dithering:s=8,norm=linf"
        );
        // ω: d = 16, s = 3: √d/4 = 1 → 1/8 + 1.
        assert_eq!(
            NaturalDithering::new(3, NormKind::L2).unwrap().omega(16),
            1.125
        );
        assert_eq!(
            NaturalDithering::new(2, NormKind::L2).unwrap().omega(1),
            0.375
        );
    }

    /// Per-coordinate unbiasedness within 6 SE and mean squared error within 6 SE of the exact
    /// variance, which must be ≤ ω‖x‖².
    fn monte_carlo<S: Scalar>(c: &NaturalDithering, x: &[f64], draws: usize) {
        let xs: Vec<S> = x.iter().map(|&v| S::from_f64(v)).collect();
        let x: Vec<f64> = xs.iter().map(|v| v.to_f64()).collect();
        let (sum, err) = draw_sums::<S>(c, &xs, &x, 11, draws);
        let d = x.len();
        let n = c.norm.of(&x);
        let delta = 2f64.powi(1 - c.s as i32);
        let (mut var_total, mut var4) = (0.0, 0.0);
        for j in 0..d {
            let y = x[j].abs() / n;
            let (a, b) = if y < delta {
                (0.0, delta)
            } else {
                let lo = 2f64.powi(y.log2().floor() as i32).min(1.0);
                (lo, (2.0 * lo).min(1.0))
            };
            let var = if b > a {
                n * n * (y - a) * (b - y)
            } else {
                0.0
            };
            var_total += var;
            var4 += n.powi(4) * (b - a).powi(2) * (y - a) * (b - y);
            let mean = sum[j] / draws as f64;
            let se = (var / draws as f64).sqrt();
            assert!(
                (mean - x[j]).abs() <= 6.0 * se + 1e-6 * n,
                "j = {j}: mean {mean} vs {}",
                x[j]
            );
        }
        let xx: f64 = x.iter().map(|v| v * v).sum();
        assert!(var_total <= c.omega(d) * xx, "{var_total} > ω‖x‖²");
        let mean_err = err / draws as f64;
        let se = (var4 / draws as f64).sqrt();
        assert!(
            (mean_err - var_total).abs() <= 6.0 * se + 1e-9 * xx,
            "{mean_err} vs {var_total}"
        );
    }

    #[test]
    fn unbiased_with_the_exact_variance() {
        let x: Vec<f64> = (0..40)
            .map(|i| ((i * 37) % 17) as f64 / 3.0 - 2.5)
            .collect();
        for (s, norm) in [(1, NormKind::L2), (3, NormKind::L2), (8, NormKind::Linf)] {
            let c = NaturalDithering::new(s, norm).unwrap();
            monte_carlo::<f32>(&c, &x, 20_000);
            monte_carlo::<f64>(&c, &x, 20_000);
        }
    }
}

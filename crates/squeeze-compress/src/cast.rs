//! Cast compressors, as in PyTorch's DDP communication hooks: `fp16` and `bf16` (round every
//! coordinate to nearest in a 16-bit float format) and `uint8` (stochastic 8-bit codes on a
//! per-message min/max grid). Their messages are [`Message::Cast`]; $b$ = `S::BITS` below.
//!
//! | spec | $\mathcal C(x)_j$ | class | bits |
//! |---|---|---|---|
//! | `fp16` | $\mathrm{sat}(\mathrm{fl}_{16}(x_j))$ | none (α(x) ≥ 1 − 2⁻²² on the normal range) | $4 + 2 + 16d$ |
//! | `bf16` | $\mathrm{sat}(\mathrm{fl}_{\mathrm{bf}}(x_j))$ | none (α(x) ≥ 1 − 2⁻¹⁶ on the normal range) | $4 + 2 + 16d$ |
//! | `uint8` | $m + \Delta\thinspace\lfloor (x_j - m)/\Delta + u_j\rfloor$ | ω = (d − 2)⁺/(2·255²) | $4 + 2 + 2b + 8d$ |

use squeeze_core::message::{CastFormat, U8_MAX_CODE, u8_step};
use squeeze_core::{
    Class, CompressCtx, CompressError, Compressor, Message, Scalar, WideRng, bf16, f16,
};

use crate::entry::compressor;
use crate::quant::{BLOCK, RandomBlock};

/// `fp16`: every coordinate rounded to the nearest IEEE binary16 value (ties to even), the
/// cast of `torch.distributed.algorithms.ddp_comm_hooks.fp16_compress_hook`:
/// $$\mathcal{C}(x)_j = \mathrm{sat}\bigl(\mathrm{fl}\_{16}(x_j)\bigr), \qquad
/// \mathrm{sat}(t) = \max(-65504, \min(65504, t)).$$
///
/// **Overflow saturates**: entries with $\lvert x_j\rvert$ beyond the largest finite `f16`
/// (65504, or anything that would round to ±∞) are sent as ±65504 — never ±∞, which would
/// poison the receiver's sum. Inside error feedback the clipped part is fed back like any
/// other compression error. NaN/±∞ input is refused ([`CompressError::NonFinite`]).
///
/// Error: for $2^{-14} \le \lvert x_j\rvert \le 65504$ (the normal range) $\lvert\mathcal C(x)_j -
/// x_j\rvert \le 2^{-11}\lvert x_j\rvert$, so an input with all entries zero or normal has
/// $\lVert\mathcal C(x) - x\rVert^2 \le 2^{-22}\lVert x\rVert^2$ (α(x) ≥ 1 − 2⁻²²); subnormal
/// entries get an absolute error ≤ 2⁻²⁵ and entries below 2⁻²⁵ flush to 0. No uniform α > 0
/// exists (a vector of entries below 2⁻²⁵ is sent as 0), so the class is
/// [`Class::Neither`] — except on `f16` input, where the cast is the identity (α = 1, ω = 0).
///
/// Bits: tag, 2-bit format, then 16 bits per coordinate: $4 + 2 + 16d$ (half of `Dense` `f32`).
///
/// ```
/// use squeeze_compress::{CastF16, conformance::compress_once};
/// use squeeze_core::Compressor;
/// let x = [1.0f32 + 1e-4, -3.0, 1e5, 1e-9];
/// let m = compress_once(&CastF16, &x, 0).unwrap();
/// // 1 + 1e-4 rounds to 1 (f16 spacing 2⁻¹⁰ at 1); 1e5 saturates to 65504; 1e-9 flushes to 0.
/// assert_eq!(m.to_dense().unwrap(), vec![1.0, -3.0, 65504.0, 0.0]);
/// assert_eq!(m.bits(), 4 + 2 + 16 * 4);
/// assert_eq!(m.to_bytes().len() as u64, m.bits().div_ceil(8));
/// assert!(Compressor::<f32>::class(&CastF16, 4).alpha().is_none());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CastF16;

/// `bf16`: every coordinate rounded to the nearest bfloat16 value (ties to even), the cast of
/// `ddp_comm_hooks.bf16_compress_hook`:
/// $\mathcal{C}(x)_j = \mathrm{sat}(\mathrm{fl}\_{\mathrm{bf}}(x_j))$ with saturation at the
/// largest finite bfloat16, $(2 - 2^{-7})\thinspace 2^{127} \approx 3.39\cdot 10^{38}$ (reached
/// only by `f64` input or `f32` input within half a bfloat16 ulp of `f32::MAX`).
///
/// Error: $\lvert\mathcal C(x)_j - x_j\rvert \le 2^{-8}\lvert x_j\rvert$ on the normal range
/// $[2^{-126}, 3.39\cdot 10^{38}]$ (the `f32` range: α(x) ≥ 1 − 2⁻¹⁶ for such inputs), absolute
/// error ≤ 2⁻¹³⁴ below it; class [`Class::Neither`] for the same reason as [`CastF16`], the
/// identity (α = 1, ω = 0) on `bf16` input.
///
/// Bits: $4 + 2 + 16d$.
///
/// ```
/// use squeeze_compress::{CastBf16, conformance::compress_once};
/// let x = [1.0f32 + 1e-3, -1e30, 3.0e-39];
/// let v = compress_once(&CastBf16, &x, 0).unwrap().to_dense().unwrap();
/// assert_eq!(v[0], 1.0); // bf16 spacing at 1 is 2⁻⁷
/// assert!(((v[1] + 1e30) / 1e30).abs() <= 2f32.powi(-8)); // the f32 range is kept
/// assert!(v[2] > 0.0); // f32 subnormals are bf16 subnormals
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CastBf16;

/// `uint8`: stochastic 8-bit quantisation on a per-message grid spanning $[m, M]$, $m = \min_j
/// x_j$, $M = \max_j x_j$, $\Delta = (M - m)/255$:
/// $$\mathcal{C}(x)_j = m + \Delta\thinspace c_j, \qquad c_j = \Bigl\lfloor \frac{x_j -
/// m}{\Delta} + u_j \Bigr\rfloor, \quad u_j \sim U[0, 1)$$
/// (the per-tensor min/max affine `uint8` quantisation of PyTorch's quantisation hooks and
/// GRACE, with stochastic instead of nearest rounding so that it is unbiased). Entries equal
/// to $m$ or $M$ get codes 0 and 255 exactly; $\Delta = 0$ (constant $x$) sends codes 0.
///
/// Class: unbiased, $E c_j = (x_j - m)/\Delta$, with variance $\Delta^2 p_j(1 - p_j) \le
/// \Delta^2/4$ per coordinate and none at the two extreme coordinates. Since $(M - m)^2 \le
/// 2(M^2 + m^2) \le 2\lVert x\rVert^2$ (or $\le \lVert x\rVert^2$ when $M$ and $m$ have one
/// sign),
/// $$E\lVert\mathcal{C}(x) - x\rVert^2 \le (d - 2)^+ \frac{\Delta^2}{4} \le
/// \frac{(d-2)^+}{2\cdot 255^2}\lVert x\rVert^2, \qquad \omega = \frac{(d-2)^+}{130050}.$$
/// The grid is evaluated in `f64` and the uniforms have 32 bits, so $E c_j$ is exact up to
/// $2^{-32}$; the decoded value $m + c\Delta$ is rounded once to the scalar type (a
/// deterministic relative error ≤ $2^{-p}$, the type's unit roundoff).
///
/// `f64` input whose range $M - m$ overflows (entries beyond ≈ 9·10³⁰⁷) is refused with
/// [`CompressError::Incompatible`].
///
/// Bits: tag, format, $m$ and $M$ as scalars, 8 bits per coordinate: $4 + 2 + 64 + 8d$ for
/// `f32` (about a quarter of `Dense`).
///
/// ```
/// use squeeze_compress::{CastU8, conformance::compress_once};
/// use squeeze_core::Compressor;
/// let x = [-1.0f32, 0.3, 2.0, 0.5];
/// let m = compress_once(&CastU8, &x, 7).unwrap();
/// let v = m.to_dense().unwrap();
/// assert_eq!((v[0], v[2]), (-1.0, 2.0)); // the extremes are exact
/// assert!((v[1] - 0.3).abs() <= 3.0 / 255.0 + 1e-6); // one grid step at most
/// assert_eq!(m.bits(), 4 + 2 + 2 * 32 + 8 * 4);
/// assert_eq!(Compressor::<f32>::class(&CastU8, 4).omega(), Some(2.0 / 130050.0));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CastU8;

/// The identity class when `S` is the target format itself (`S::EXP_BITS`/`MANT_BITS` equal
/// the format's), else [`Class::Neither`].
fn float_cast_class<S: Scalar>(exp_bits: u32, mant_bits: u32) -> Class {
    if S::BITS == 16 && S::EXP_BITS == exp_bits && S::MANT_BITS == mant_bits {
        Class::Both {
            alpha: 1.0,
            omega: 0.0,
        }
    } else {
        Class::Neither
    }
}

/// Round every entry to the 16-bit float format `format` with `to_word` (round to nearest,
/// ties to even), saturating at the largest finite magnitude `exp_mask − 1` (`exp_mask` is the
/// format's exponent field, all ones for ±∞/NaN).
fn cast_float<S: Scalar>(
    x: &[S],
    format: CastFormat<S>,
    to_word: impl Fn(f64) -> u16,
    exp_mask: u16,
    out: &mut Message<S>,
) -> Result<(), CompressError> {
    squeeze_core::check_dim_basic(x.len())?;
    let (_, words) = out.cast_parts(format);
    words.reserve(x.len());
    let mut finite = true;
    for &v in x {
        finite &= v.is_finite();
        let w = to_word(v.to_f64());
        // Exponent field all ones after rounding: ±∞ (or NaN, refused below) → saturate.
        let w = if w & exp_mask == exp_mask {
            (w & 0x8000) | (exp_mask - 1)
        } else {
            w
        };
        words.push(w);
    }
    if !finite {
        words.clear();
        return Err(squeeze_core::non_finite_error(x));
    }
    Ok(())
}

compressor! {
    unit CastF16 = "fp16",
        "cast to IEEE binary16, round to nearest, saturating at ±65504 (DDP fp16_compress_hook); relative error ≤ 2⁻¹¹ on the normal range, no uniform class (identity on f16 input); 16 bits/entry";
    |self, _dim| {
        class: float_cast_class::<S>(5, 10),
        deterministic: true,
    }
    compress_into |x, _ctx, out| {
        // Exponent field 0x7c00; 0x7bff = 65504.
        cast_float(x, CastFormat::F16, |v| f16::from_f64(v).to_bits(), 0x7c00, out)
    }
}

compressor! {
    unit CastBf16 = "bf16",
        "cast to bfloat16, round to nearest, saturating at ±3.39e38 (DDP bf16_compress_hook); relative error ≤ 2⁻⁸ on the normal range, no uniform class (identity on bf16 input); 16 bits/entry";
    |self, _dim| {
        class: float_cast_class::<S>(8, 7),
        deterministic: true,
    }
    compress_into |x, _ctx, out| {
        // Exponent field 0x7f80; 0x7f7f = (2 − 2⁻⁷)·2¹²⁷.
        cast_float(x, CastFormat::Bf16, |v| bf16::from_f64(v).to_bits(), 0x7f80, out)
    }
}

/// $\omega = (d-2)^+/(2\cdot 255^2)$ of [`CastU8`].
fn u8_omega(d: usize) -> f64 {
    d.saturating_sub(2) as f64 / (2.0 * 255.0 * 255.0)
}

/// Minimum and maximum of `x`, or the first non-finite entry's error.
fn min_max<S: Scalar>(x: &[S]) -> Result<(S, S), CompressError> {
    let (mut lo, mut hi) = (x[0], x[0]);
    let mut finite = true;
    for &v in x {
        finite &= v.is_finite();
        lo = if v < lo { v } else { lo };
        hi = if v > hi { v } else { hi };
    }
    if finite {
        Ok((lo, hi))
    } else {
        Err(squeeze_core::non_finite_error(x))
    }
}

compressor! {
    unit CastU8 = "uint8",
        "stochastic 8-bit codes on the per-message [min, max] grid (PyTorch/GRACE uint8 quantisation, unbiased rounding); ω = (d−2)⁺/(2·255²); 8 bits/entry + min, max";
    |self, dim| {
        class: Class::Unbiased { omega: u8_omega(dim) },
        deterministic: false,
    }
    compress_into |x, ctx, out| {
        squeeze_core::check_dim_basic(x.len())?;
        let (lo, hi) = min_max(x)?;
        let (m, big) = (lo.to_f64(), hi.to_f64());
        let step = u8_step(m, big);
        let format = CastFormat::U8 { min: lo, max: hi };
        if !step.is_finite() || !format.value(U8_MAX_CODE).is_finite() {
            return Err(CompressError::Incompatible {
                component: "uint8",
                param: "input",
                value: format!("range [{m:e}, {big:e}]"),
                dim: x.len(),
                hint: "the range max − min overflows the scalar type; rescale the input".into(),
            });
        }
        let (_, words) = out.cast_parts(format);
        if step == 0.0 {
            words.resize(x.len(), 0);
            return Ok(());
        }
        words.reserve(x.len());
        let inv = 1.0 / step;
        let mut rng = WideRng::from_rng(ctx.rng);
        let mut block = RandomBlock::new();
        for xc in x.chunks(BLOCK) {
            let u = block.fill(&mut rng, xc.len());
            for (&v, &u) in xc.iter().zip(u) {
                let r = if v == hi { 255.0 } else { ((v.to_f64() - m) * inv).min(255.0) };
                let c = (r + u as f64 * 2f64.powi(-32)).floor() as u16;
                words.push(c.min(U8_MAX_CODE));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "cast_tests.rs"]
mod tests;

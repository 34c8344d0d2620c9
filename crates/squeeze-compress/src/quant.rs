//! Shared kernels of the quantisers (`qsgd`, `terngrad`, `natural`, `natural_dithering`,
//! `power_rounding`): the choice of norm, width dispatch to `f32`/`f64` kernels (generic ones for the 16-bit types), and the fast
//! unbiased stochastic rounding onto a uniform grid.
//!
//! # Stochastic rounding on a uniform grid
//!
//! For $r = s|x_j|/n \in [0, s]$ the code is $\lfloor r + u \rfloor$ with $u$ uniform. The kernel
//! works in fixed point: with $F = 31 - \lceil \log_2(s+1) \rceil$ fraction bits ($F = 30$ for $s =
//! 1$, $26$ for $s = 16$, $16$ for $s = 32767$) it computes $t = \lfloor 2^F r \rfloor$ (a
//! truncating conversion, in range by construction) and $c = (t + u_F) \gg F$ with $u_F$ the top
//! $F$ bits of a 32-bit random half-word. So $P(c = \lfloor r \rfloor + 1) = \lbrace r\rbrace$
//! truncated to $F$ bits: the rounding is unbiased up to $E c - r \in (-2^{-F}, 0]$, i.e. a
//! per-coordinate bias below $2^{-F} n/s$ (at most $2^{-16} n / s$, and $2^{-26} n/16$ for $s =
//! 16$), far below the `f32` rounding of $r$ itself; the variance exceeds the exact-rounding
//! variance by at most $2^{-2F}(n/s)^2$ per coordinate.

use core::any::TypeId;

use squeeze_core::message::{CODE_PIECE, encode_quantized_with};
use squeeze_core::rng::WIDE_LANES;
use squeeze_core::{BitWriter, CompressError, Levels, MessageError, ParamError, Scalar, WideRng};

use crate::entry::ParamDoc;
use crate::parallel::{CHUNK, map_chunks_rng, reduce_chunks};

/// Which norm scales the levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NormKind {
    /// Euclidean norm $\lVert x\rVert_2$.
    #[default]
    L2,
    /// Max norm $\lVert x\rVert_\infty$.
    Linf,
}

impl NormKind {
    /// Parse `l2` / `linf` (also `2`, `inf`).
    pub fn parse(component: &'static str, v: &str) -> Result<Self, squeeze_core::ParamError> {
        match v.trim() {
            "l2" | "2" => Ok(NormKind::L2),
            "linf" | "inf" | "max" => Ok(NormKind::Linf),
            other => Err(squeeze_core::ParamError::new(
                component,
                "norm",
                other,
                "norm must be l2 (default) or linf",
            )),
        }
    }

    /// The documentation of the `norm` parameter.
    pub const PARAM: ParamDoc = ParamDoc {
        name: "norm",
        doc: "l2 (default) or linf",
    };

    /// The optional `norm` parameter (default [`NormKind::L2`]).
    pub fn from_params(p: &mut crate::params::Params) -> Result<Self, squeeze_core::ParamError> {
        match p.string("norm") {
            Some(v) => Self::parse(p.component(), &v),
            None => Ok(NormKind::L2),
        }
    }

    /// The spec-string value.
    pub fn name(self) -> &'static str {
        match self {
            NormKind::L2 => "l2",
            NormKind::Linf => "linf",
        }
    }

    /// The spec of quantiser `name` with `s` levels of this norm: `name:s=<s>`, then
    /// `,norm=<norm>` unless the norm is the default ℓ₂.
    pub(crate) fn levels_spec(self, name: &str, s: u16) -> String {
        match self {
            NormKind::L2 => format!("{name}:s={s}"),
            n => format!("{name}:s={s},norm={}", n.name()),
        }
    }
}

#[cfg(test)]
impl NormKind {
    /// This norm of `x`, computed plainly in `f64` (the tests' reference).
    pub(crate) fn of(self, x: &[f64]) -> f64 {
        match self {
            NormKind::L2 => x.iter().map(|v| v * v).sum::<f64>().sqrt(),
            NormKind::Linf => x.iter().fold(0.0f64, |a, v| a.max(v.abs())),
        }
    }
}

/// A quantiser's level count `s ∈ 1..=max` for `component` (`hint` says why the bound).
pub(crate) fn check_levels(
    component: &'static str,
    s: u64,
    max: u64,
    hint: String,
) -> Result<u16, ParamError> {
    debug_assert!(max <= u64::from(u16::MAX));
    ParamError::require((1..=max).contains(&s), component, "s", s, hint)?;
    Ok(s as u16)
}

/// A slice viewed at its concrete width.
pub(crate) enum Width<'a> {
    F32(&'a [f32]),
    F64(&'a [f64]),
    /// A 16-bit type (`f16`, `bf16`): generic kernels only.
    Narrow,
}

/// A mutable slice viewed at its concrete width.
pub(crate) enum WidthMut<'a> {
    F32(&'a mut [f32]),
    F64(&'a mut [f64]),
    /// A 16-bit type (`f16`, `bf16`): generic kernels only.
    Narrow,
}

/// View `x` as `&[f32]` or `&[f64]`, or [`Width::Narrow`] for the 16-bit types.
pub(crate) fn width<S: Scalar>(x: &[S]) -> Width<'_> {
    if TypeId::of::<S>() == TypeId::of::<f32>() {
        // SAFETY: S is f32 (same TypeId), so the slice has exactly that layout.
        Width::F32(unsafe { core::slice::from_raw_parts(x.as_ptr().cast::<f32>(), x.len()) })
    } else if TypeId::of::<S>() == TypeId::of::<f64>() {
        // SAFETY: S is f64 (same TypeId).
        Width::F64(unsafe { core::slice::from_raw_parts(x.as_ptr().cast::<f64>(), x.len()) })
    } else {
        Width::Narrow
    }
}

/// Mutable counterpart of [`width`].
pub(crate) fn width_mut<S: Scalar>(x: &mut [S]) -> WidthMut<'_> {
    if TypeId::of::<S>() == TypeId::of::<f32>() {
        // SAFETY: S is f32 (same TypeId).
        WidthMut::F32(unsafe {
            core::slice::from_raw_parts_mut(x.as_mut_ptr().cast::<f32>(), x.len())
        })
    } else if TypeId::of::<S>() == TypeId::of::<f64>() {
        // SAFETY: S is f64 (same TypeId).
        WidthMut::F64(unsafe {
            core::slice::from_raw_parts_mut(x.as_mut_ptr().cast::<f64>(), x.len())
        })
    } else {
        WidthMut::Narrow
    }
}

/// `‖x‖_∞` in one vectorised pass, or `None` if some entry is NaN or ±∞ (`v − v` is NaN
/// exactly for those). Chunked on the current rayon pool for large inputs: a maximum (and "all
/// finite") does not depend on the grouping, so the value is the sequential one.
pub(crate) fn max_abs_checked<S: Scalar>(x: &[S]) -> Option<S> {
    let max = |a: Option<S>, b: Option<S>| match (a, b) {
        (Some(a), Some(b)) => Some(if b > a { b } else { a }),
        _ => None,
    };
    reduce_chunks(x, Some(S::ZERO), max, max_abs_checked_seq)
}

#[allow(clippy::eq_op)]
fn max_abs_checked_seq<S: Scalar>(x: &[S]) -> Option<S> {
    const L: usize = 16;
    let mut m = [S::ZERO; L];
    let mut probe = [S::ZERO; L];
    let chunks = x.chunks_exact(L);
    let tail = chunks.remainder();
    for c in chunks {
        for i in 0..L {
            let a = c[i].abs();
            m[i] = if a > m[i] { a } else { m[i] };
            probe[i] += c[i] - c[i];
        }
    }
    let mut mm = S::ZERO;
    let mut p = S::ZERO;
    for i in 0..L {
        mm = if m[i] > mm { m[i] } else { mm };
        p += probe[i];
    }
    for &v in tail {
        let a = v.abs();
        mm = if a > mm { a } else { mm };
        p += v - v;
    }
    (p == S::ZERO).then_some(mm)
}

/// The norm of `x` as the message will carry it (in `S`), with the input checks fused in:
/// non-finite entries give `NonFinite` (first index), an `ℓ₂` norm beyond `S::MAX` gives
/// `Incompatible`. Guarantees `n ≥ |x_j|` up to one rounding (kernels clamp anyway).
pub(crate) fn message_norm<S: Scalar>(
    component: &'static str,
    x: &[S],
    norm: NormKind,
) -> Result<S, CompressError> {
    squeeze_core::check_dim_basic(x.len())?;
    match norm {
        NormKind::Linf => max_abs_checked(x).ok_or_else(|| squeeze_core::non_finite_error(x)),
        NormKind::L2 => {
            if let Some(n) = crate::parallel::norm2_rounded(x) {
                return Ok(n);
            }
            let n = squeeze_core::ops::norm2(x);
            if !n.is_finite() {
                if squeeze_core::ops::first_non_finite(x).is_some() {
                    return Err(squeeze_core::non_finite_error(x));
                }
                return Err(norm_overflow(component, x.len()));
            }
            let ns = S::from_f64(n);
            if !ns.is_finite() {
                return Err(norm_overflow(component, x.len()));
            }
            Ok(ns)
        }
    }
}

fn norm_overflow(component: &'static str, dim: usize) -> CompressError {
    CompressError::Incompatible {
        component,
        param: "norm",
        value: "l2".to_string(),
        dim,
        hint: "the ℓ₂ norm of this input exceeds the largest finite value of its type; \
               use norm=linf or rescale the input"
            .to_string(),
    }
}

/// Fraction bits of the fixed-point rounding for `s` levels: `31 − ⌈log₂(s+1)⌉`.
#[inline]
pub(crate) fn frac_bits(s: u16) -> u32 {
    31 - squeeze_core::bits::bits_for_range(s as u64 + 1)
}

/// Elements per random block (two 32-bit uniforms per random word).
pub(crate) const BLOCK: usize = 1024;

/// A block of random 32-bit uniforms, filled from a [`WideRng`] as 64-bit words (uniform `k`
/// is the low half of word `k/2` for even `k`, the high half for odd `k`, on little-endian
/// targets; on big-endian ones the halves swap, which changes no distribution).
#[repr(C, align(8))]
pub(crate) struct RandomBlock(pub(crate) [u32; BLOCK]);

impl RandomBlock {
    pub(crate) fn new() -> Self {
        RandomBlock([0; BLOCK])
    }

    /// Fill the first `n` uniforms (rounded up to an even count) and return them.
    #[inline]
    pub(crate) fn fill(&mut self, rng: &mut WideRng, n: usize) -> &[u32] {
        fill_uniforms(&mut self.0, rng, n)
    }
}

/// The first `n ≤ BLOCK` uniforms of `buf` (8-byte aligned, at least `n` rounded up to an even
/// count long), filled from `rng` as in [`RandomBlock`].
#[inline(always)]
fn fill_uniforms<'a>(buf: &'a mut [u32], rng: &mut WideRng, n: usize) -> &'a [u32] {
    let words = n.div_ceil(2).min(BLOCK / 2).min(buf.len() / 2);
    debug_assert_eq!(buf.as_ptr() as usize % 8, 0);
    // SAFETY: `buf` is 8-byte aligned (the callers' arrays are) and holds at least
    // `2·words` u32s, so its first `words` u64 words are in bounds; every bit pattern is a
    // valid u32.
    let w: &mut [u64] =
        unsafe { core::slice::from_raw_parts_mut(buf.as_mut_ptr().cast::<u64>(), words) };
    rng.fill(w);
    &buf[..n]
}

/// A [`RandomBlock`] whose uniforms sit at the page offset of the output they go with.
///
/// A kernel that reads `x[j]` and `u[j]` and writes `out[j]` streams its stores ahead of its
/// loads; where the uniforms lie a few hundred to a few thousand bytes past the output's
/// page offset, a load of `u[j]` matches the low 12 address bits of a store to `out[j']` still
/// in flight, and the core holds the load back until it knows they differ (4K aliasing). On
/// the stack, where the block lands is up to the address randomisation of each process:
/// natural compression of 10⁷ `f32` took 2.3–2.5 ms in five processes of eight and
/// 3.1–3.5 ms in three on an AMD EPYC VM (4.8 ms in some bench runs). At the output's own
/// page offset, `u[j]` matches only `out[j]`, which is stored after it is loaded:
/// 2.18–2.36 ms in all eight.
#[repr(C, align(4096))]
pub(crate) struct PlacedRandomBlock([u32; 2 * BLOCK]);

impl PlacedRandomBlock {
    pub(crate) fn new() -> Self {
        PlacedRandomBlock([0; 2 * BLOCK])
    }

    /// Fill `n ≤ BLOCK` uniforms (rounded up to an even count) at the page offset of `beside`
    /// (rounded down to 8 bytes) and return them: the same values as [`RandomBlock::fill`].
    #[inline]
    pub(crate) fn fill_beside<T>(
        &mut self,
        rng: &mut WideRng,
        n: usize,
        beside: *const T,
    ) -> &[u32] {
        // The array is page-aligned and two pages long: a page offset of up to 4088 bytes
        // leaves room for BLOCK uniforms.
        let at = (beside as usize % 4096) / 8 * 2;
        fill_uniforms(&mut self.0[at..], rng, n)
    }
}

/// Stochastic rounding of `s·|x_j|/n` onto `{0, …, s}` with the sign of `x_j`, into `codes`
/// (`codes.len() == x.len()`). `n` must be the finite, positive message norm with
/// `n ≥ |x_j|` (up to rounding: the ratio is clamped to `s`), all `x_j` finite.
///
/// For `x.len() ≥` [`PARALLEL_MIN_DIM`](crate::parallel::PARALLEL_MIN_DIM) the pass runs in
/// [`CHUNK`]s on the current rayon pool, with the same codes (see [`crate::parallel`]).
pub(crate) fn round_uniform<S: Scalar>(x: &[S], n: S, s: u16, rng: WideRng, codes: &mut [i16]) {
    debug_assert_eq!(x.len(), codes.len());
    match uniform_path(x, n, s) {
        UniformPath::F32(x32, p) => {
            round_blocks(x32, rng, codes, |xc, u, cc| round_block_f32(xc, u, cc, p));
        }
        UniformPath::Wide => round_blocks(x, rng, codes, wide_block(n.to_f64(), s)),
    }
}

/// [`round_uniform`] straight to the wire: appends the `Quantized` message with norm `n` and
/// uniform levels `s` to `w`, its codes made piece by piece and packed in cache
/// ([`encode_quantized_with`]). The same bits as [`round_uniform`] followed by
/// [`Message::encode`](squeeze_core::Message::encode), for any thread count: a chunk's
/// generator is `rng` advanced past the words of the entries before it, as in
/// [`crate::parallel`].
pub(crate) fn encode_round_uniform<S: Scalar>(
    w: &mut BitWriter,
    x: &[S],
    n: S,
    s: u16,
    rng: WideRng,
) -> Result<(), MessageError> {
    match uniform_path(x, n, s) {
        UniformPath::F32(x32, p) => {
            encode_blocks(w, n, s, x32, rng, |xc, u, cc| round_block_f32(xc, u, cc, p))
        }
        UniformPath::Wide => encode_blocks(w, n, s, x, rng, wide_block(n.to_f64(), s)),
    }
}

/// Which kernel rounds `x`: the `f32` fixed-point one with its parameters, or `f64`
/// arithmetic.
enum UniformPath<'a> {
    F32(&'a [f32], RoundF32),
    /// `f64` arithmetic with a division per entry: `f64` input, or an `f32` norm out of the
    /// fast path's range. `|x_j| = n` gives exactly `r = s`.
    Wide,
}

fn uniform_path<S: Scalar>(x: &[S], n: S, s: u16) -> UniformPath<'_> {
    if let Width::F32(x32) = width(x) {
        let sf = s as f32;
        // k = s/n rounded up until n·k ≥ s, so that an entry equal to the norm gets exactly
        // r = s. Needs a normal k (not the case for norms near f32::MAX or below ~1e-34).
        let n32 = n.to_f64() as f32;
        let mut k = (s as f64 / n.to_f64()) as f32;
        let mut guard = 0;
        while k.is_normal() && n32 * k < sf && guard < 4 {
            k = k.next_up();
            guard += 1;
        }
        if k.is_normal() && n32 * k >= sf {
            return UniformPath::F32(x32, RoundF32::new(k, s));
        }
    }
    UniformPath::Wide
}

#[inline(always)]
fn code_f32(v: f32, u: u32, k: f32, sf: f32, scale: f32, shift: u32, fbits: u32) -> i16 {
    let b = v.to_bits();
    let a = f32::from_bits(b & 0x7fff_ffff);
    let p = a * k;
    let r = if p < sf { p } else { sf };
    // SAFETY: 0 ≤ r ≤ s and s·2^F < 2^31, so r·2^F is finite and in i32 range.
    let t: i32 = unsafe { (r * scale).to_int_unchecked() };
    let q = (t + (u >> shift) as i32) >> fbits;
    let m = (b as i32) >> 31;
    ((q ^ m) - m) as i16
}

/// The fixed-point parameters of [`code_f32`] for `s` levels and multiplier `k`.
#[derive(Clone, Copy)]
pub(crate) struct RoundF32 {
    k: f32,
    sf: f32,
    scale: f32,
    shift: u32,
    fbits: u32,
}

impl RoundF32 {
    pub(crate) fn new(k: f32, s: u16) -> Self {
        let fbits = frac_bits(s);
        RoundF32 {
            k,
            sf: s as f32,
            scale: (1u32 << fbits) as f32,
            shift: 32 - fbits,
            fbits,
        }
    }
}

/// `codes[j] = code_f32(x[j], u[j])` over one block.
#[inline(always)]
fn round_block_f32_body(x: &[f32], u: &[u32], codes: &mut [i16], p: RoundF32) {
    for ((c, &v), &u) in codes.iter_mut().zip(x).zip(u) {
        *c = code_f32(v, u, p.k, p.sf, p.scale, p.shift, p.fbits);
    }
}

squeeze_core::dispatch_avx2! {
    /// [`round_block_f32_body`], dispatched (see [`squeeze_core::simd`]).
    pub(crate) fn round_block_f32(x: &[f32], u: &[u32], codes: &mut [i16], p: RoundF32) => round_block_f32_body
}

/// The block kernel of [`UniformPath::Wide`] for norm `n`.
fn wide_block<S: Scalar>(n: f64, s: u16) -> impl Fn(&[S], &[u32], &mut [i16]) + Sync + Send {
    let fbits = frac_bits(s);
    let scale = (1u64 << fbits) as f64;
    let shift = 32 - fbits;
    let sf = s as f64;
    let code = move |v: S, u: u32| -> i16 {
        let p = (v.abs().to_f64() / n) * sf;
        let r = if p < sf { p } else { sf };
        // SAFETY: 0 ≤ r ≤ s and s·2^F < 2^31 (a NaN ratio would have failed `p < sf` and
        // been replaced by s; x is finite and n > 0 anyway).
        let t: i32 = unsafe { (r * scale).to_int_unchecked() };
        let q = ((t + (u >> shift) as i32) >> fbits) as i16;
        if v.is_sign_negative() { -q } else { q }
    };
    move |xc: &[S], u: &[u32], cc: &mut [i16]| {
        for ((c, &v), &u) in cc.iter_mut().zip(xc).zip(u) {
            *c = code(v, u);
        }
    }
}

/// `block_fn(x_b, u_b, codes_b)` over blocks of [`BLOCK`] entries, with `u_b` the 32-bit uniforms
/// of a [`RandomBlock`] (half a word per element), chunked on the rayon pool for large inputs
/// ([`crate::parallel`]).
#[inline(always)]
fn round_blocks<X: Copy + Sync>(
    x: &[X],
    rng: WideRng,
    codes: &mut [i16],
    block_fn: impl Fn(&[X], &[u32], &mut [i16]) + Sync + Send,
) {
    map_chunks_rng(
        x,
        codes,
        rng,
        CHUNK / 2,
        (),
        |_, _| (),
        |x, codes, rng| {
            let mut block = RandomBlock::new();
            for (xc, cc) in x.chunks(BLOCK).zip(codes.chunks_mut(BLOCK)) {
                let u = block.fill(rng, xc.len());
                block_fn(xc, u, cc);
            }
        },
    );
}

// A piece of `encode_quantized_with` holds whole random blocks.
const _: () = assert!(CODE_PIECE.is_multiple_of(BLOCK));

/// The blocks of [`round_blocks`] made piece by piece and packed as they are made
/// ([`encode_quantized_with`]); a run of chunks that starts at entry `j` starts its generator
/// `j/2` words (`j/16` lane steps) into `rng`, where [`round_blocks`]'s chunk does.
fn encode_blocks<S: Scalar, X: Copy + Sync>(
    w: &mut BitWriter,
    n: S,
    s: u16,
    x: &[X],
    rng: WideRng,
    block_fn: impl Fn(&[X], &[u32], &mut [i16]) + Sync + Send,
) -> Result<(), MessageError> {
    let start = |j: usize| {
        let mut r = rng.clone();
        r.advance((j / 2 / WIDE_LANES) as u64);
        (r, RandomBlock::new())
    };
    let make = |(rng, block): &mut (WideRng, RandomBlock), piece: &[X], codes: &mut [i16]| {
        for (xc, cc) in piece.chunks(BLOCK).zip(codes.chunks_mut(BLOCK)) {
            let u = block.fill(rng, xc.len());
            block_fn(xc, u, cc);
        }
    };
    encode_quantized_with(w, n, Levels::Uniform { s }, x, start, make)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Random `f32` of every magnitude (subnormals, ±0, near `f32::MAX`) and random words.
    pub(crate) fn lane_inputs(len: usize, seed: u64) -> (Vec<f32>, Vec<u32>) {
        let mut rng = squeeze_core::SqueezeRng::from_seed_u64(seed);
        let x = (0..len)
            .map(|j| match j % 7 {
                0 => f32::from_bits(rng.next_u32() & 0x807f_ffff), // ±subnormal or ±0
                1 => f32::from_bits((rng.next_u32() & 0x80ff_ffff) | 0x7e80_0000), // huge
                _ => (rng.next_f64() as f32 - 0.5) * 2f32.powi((j % 40) as i32 - 20),
            })
            .collect();
        let u = (0..len).map(|_| rng.next_u32()).collect();
        (x, u)
    }

    #[test]
    fn rounding_kernel_avx2_copy_equals_portable_copy() {
        for len in 0..70 {
            let (x, u) = lane_inputs(len, len as u64);
            let n = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            for s in [1u16, 2, 16, 255, 32767] {
                let k = if n > 0.0 { s as f32 / n } else { 1.0 };
                let p = RoundF32::new(k.next_up(), s);
                let (mut fast, mut base) = (vec![9i16; len], vec![9i16; len]);
                round_block_f32(&x, &u, &mut fast, p);
                squeeze_core::simd::portable(|| round_block_f32(&x, &u, &mut base, p));
                assert_eq!(fast, base, "len {len}, s {s}");
                assert!(fast.iter().all(|c| c.unsigned_abs() <= s));
            }
        }
    }

    #[test]
    fn frac_bits_keep_the_sum_in_range() {
        for s in [1u16, 2, 3, 15, 16, 17, 255, 32767] {
            let f = frac_bits(s);
            assert!((s as u64 + 1) << f <= 1u64 << 31, "s = {s}");
            assert!((s as u64 + 1) << (f + 1) > 1u64 << 31, "s = {s} not tight");
        }
        assert_eq!(frac_bits(16), 26);
        assert_eq!(frac_bits(1), 30);
    }

    #[test]
    fn max_abs_checked_finds_max_and_rejects_non_finite() {
        let mut x: Vec<f32> = (0..40).map(|i| i as f32 - 30.0).collect();
        assert_eq!(max_abs_checked(&x), Some(30.0));
        x[33] = f32::NAN;
        assert_eq!(max_abs_checked(&x), None);
        x[33] = f32::NEG_INFINITY;
        assert_eq!(max_abs_checked(&x), None);
        assert_eq!(max_abs_checked(&[-2.0f64]), Some(2.0));
    }

    #[test]
    fn rounding_is_exact_on_grid_points_and_both_paths_agree() {
        // Grid points r ∈ {0, …, s} round to themselves whatever the uniforms.
        let x = [0.0f32, 1.0, -2.0, 4.0, -0.0, 3.0];
        let mut codes = [0i16; 6];
        let rng = WideRng::from_rng(&mut squeeze_core::SqueezeRng::from_seed_u64(3));
        round_uniform(&x, 4.0f32, 4, rng.clone(), &mut codes);
        assert_eq!(codes, [0, 1, -2, 4, 0, 3]);
        let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        round_uniform(&x64, 4.0f64, 4, rng, &mut codes);
        assert_eq!(codes, [0, 1, -2, 4, 0, 3]);
    }

    /// A placed block gives the plain block's uniforms, at the page offset of the output it
    /// goes with (rounded down to 8 bytes), for every offset and length.
    #[test]
    fn placed_blocks_give_the_same_uniforms_beside_the_output() {
        let seed = WideRng::from_rng(&mut squeeze_core::SqueezeRng::from_seed_u64(11));
        let out = vec![0u8; 8192];
        let (mut plain, mut placed) = (RandomBlock::new(), Box::new(PlacedRandomBlock::new()));
        for (shift, n) in [
            (0, BLOCK),
            (1, 1),
            (4, 7),
            (8, 1000),
            (2044, BLOCK),
            (4095, 513),
        ] {
            let beside = out[shift..].as_ptr();
            let (mut a, mut b) = (seed.clone(), seed.clone());
            let want = plain.fill(&mut a, n).to_vec();
            let got = placed.fill_beside(&mut b, n, beside);
            assert_eq!(got, want.as_slice(), "offset {shift}, {n} uniforms");
            let page = |p: usize| p % 4096;
            assert_eq!(page(got.as_ptr() as usize), page(beside as usize) / 8 * 8);
            // The generators moved on by the same count.
            assert_eq!(a.next_u64(), b.next_u64());
        }
    }
}

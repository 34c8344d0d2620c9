//! Deterministic rounding to the nearest power of a base.

use squeeze_core::message::MAX_LEVELS;
use squeeze_core::{
    Class, CompressCtx, CompressError, Compressor, Levels, Message, ParamError, Scalar,
};

use crate::entry::{ParamDoc, Registered, compressor};
use crate::parallel::{map_chunks, reduce_chunks};
use crate::params::Params;

/// Smallest accepted base (see [`PowerRounding::new`]).
pub const MIN_BASE: f64 = 1.05;
/// Largest accepted base (representable in `f32`).
pub const MAX_BASE: f64 = 1e38;

/// Biased power rounding with base $b$ (Newton-3PC code, Islamov et al. 2022): every entry
/// is replaced by the power of $b$ nearest to it in linear distance, keeping its sign:
///
/// $$\mathcal{C}(x)_j = \mathrm{sign}(x_j)\thinspace b^{k_j},\qquad
/// k_j = \arg\min_k \big|\thinspace|x_j| - b^k\big|,\qquad \mathcal{C}(x)_j = 0 \text{ if } x_j =
/// 0.$$
///
/// **Class** — contractive (deterministic) with $\alpha = 4b/(b+1)^2$: for $b^k \le v \le b^{k+1}$
/// the nearest power is within $\min(v - b^k, b^{k+1} - v)$ of $v$; the relative error is largest
/// at the midpoint $v = b^k(1+b)/2$, where $(C - v)^2/v^2 = ((b-1)/(b+1))^2 = 1 - 4b/(b+1)^2$. The
/// bound holds on **any** geometric grid $\lbrace g\thinspace b^k\rbrace$, which the overflow
/// convention below uses. ($b$ is taken as rounded to the input type, e.g. `1.1f32`; α is computed
/// from that value.)
///
/// **Encoding** — `Quantized` with `Levels::Geometric { base: b, s }`, norm $b^{k_{\max}}$
/// ($k_{\max}$ the largest exponent used) and code $c = k - k_{\max} + s$ for
/// $k \in [k_{\max} - s + 1, k_{\max}]$, with $s$ the smallest count that covers the data
/// ($s = k_{\max} - k_{\min} + 1$); zero stays code 0. The choice between the two
/// neighbouring levels is made on the levels **as the decoder computes them**
/// (`norm · b^{c−s}` in the input type), so rounding of $b^k$ cannot break the bound beyond
/// one rounding of the decoded value.
///
/// **Why $b \ge 1.05$** — the exponents of all finite `f64` magnitudes span
/// $\log_b(2^{1024}/2^{-1074}) \approx 1454/\ln b$ values, which fits the 32767 levels of the
/// wire format only for $b \gtrsim 1.046$.
///
/// **Conventions** — if $b^{k_{\max}}$ is not a finite normal number of the input type (the largest
/// entry lies above the midpoint below a power that overflows, e.g. $x_j =$ `3e38f32` with $b = 4$,
/// or the vector is subnormal), the grid is anchored at the largest magnitude instead: norm $=
/// \lVert x\rVert_\infty$, levels $\lVert x\rVert_\infty b^{-j}$ (still contractive with the same
/// α). Entries whose nearest level underflows to zero are sent as 0.
///
/// **Bits** — $4 + 1 + 16 + 2\cdot 32$ (tag, kind, $s$, base, norm for `f32`)
/// $+\ d\lceil\log_2(s+1)\rceil$ $+$ one sign bit per non-zero entry.
///
/// ```
/// use squeeze_compress::PowerRounding;
/// use squeeze_core::{Compressor, CompressCtx, Levels, Message, Scratch, SqueezeRng};
/// let c = PowerRounding::new(2.0).unwrap();
/// let (mut rng, mut scratch) = (SqueezeRng::from_seed_u64(0), Scratch::default());
/// let mut ctx = CompressCtx::new(&mut rng, &mut scratch);
/// // 5 → 4 (|5−4| < |8−5|), −0.3 → −0.25, 7 → 8, 0 → 0.
/// let m = Compressor::<f32>::compress(&c, &[5.0, -0.3, 7.0, 0.0], &mut ctx).unwrap();
/// assert_eq!(m.to_dense().unwrap(), vec![4.0, -0.25, 8.0, 0.0]);
/// // Exponents 2, −2, 3: k_max = 3, s = 6 levels, codes k − 3 + 6.
/// let Message::Quantized { norm, levels, codes } = &m else { unreachable!() };
/// assert_eq!((*norm, *levels), (8.0, Levels::Geometric { base: 2.0, s: 6 }));
/// assert_eq!(codes, &[5, -1, 6, 0]);
/// assert_eq!(Compressor::<f32>::class(&c, 10).alpha(), Some(8.0 / 9.0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PowerRounding {
    base: f64,
}

impl PowerRounding {
    /// Base `b`, finite, `1.05 ≤ b ≤ 1e38`.
    pub fn new(base: f64) -> Result<Self, ParamError> {
        if !(base.is_finite() && (MIN_BASE..=MAX_BASE).contains(&base)) {
            return Err(ParamError::new(
                Self::NAME,
                "base",
                base,
                format!(
                    "base must be finite and in [{MIN_BASE}, {MAX_BASE:e}]: the levels are powers of \
                     the base, and below 1.05 the exponents of f64 magnitudes no longer fit the \
                     wire format's 32767 levels (α = 4b/(b+1)² is already 0.9994 at b = 1.05)"
                ),
            ));
        }
        Ok(Self { base })
    }

    /// The base as given.
    pub fn base(&self) -> f64 {
        self.base
    }

    fn base_in<S: Scalar>(&self) -> S {
        S::from_f64(self.base)
    }
}

impl Registered for PowerRounding {
    const NAME: &'static str = "power_rounding";
    const SUMMARY: &'static str = "biased rounding of |x_j| to the nearest power of b (linear distance), keep sign; contractive α = 4b/(b+1)² [Newton-3PC]; d⌈log₂(s+1)⌉ + signs + 85 bits";
    const PARAMS: &'static [ParamDoc] = &[ParamDoc {
        name: "base",
        doc: "the base b, finite, 1.05 ≤ b ≤ 1e38 (default 2)",
    }];
    const EXAMPLES: &'static [&'static str] = &[
        "power_rounding",
        "power_rounding:base=4",
        "power_rounding:base=1.5",
    ];
    const BENCH: &'static [&'static str] = &["power_rounding"];
    fn from_params(p: &mut Params) -> Result<Self, ParamError> {
        Self::new(p.f64("base")?.unwrap_or(2.0))
    }
}

/// Nearest power of `b` to `v > 0` (linear distance), as an exponent, in f64.
fn nearest_exponent(v: f64, b: f64) -> i32 {
    let mut k = (v.ln() / b.ln()).floor() as i32;
    // Bring b^k ≤ v < b^(k+1) (the estimate is off by at most one or two).
    for _ in 0..4 {
        if b.powi(k) > v {
            k -= 1;
        } else if b.powi(k + 1) <= v {
            k += 1;
        } else {
            break;
        }
    }
    let (lo, hi) = (b.powi(k), b.powi(k + 1));
    if hi - v < v - lo { k + 1 } else { k }
}

/// `(‖x‖∞, smallest non-zero |x_j|)` (the second is `‖x‖∞` if there is none) in one pass, or
/// `None` if some entry is NaN or ±∞ (`v − v` is NaN exactly for those). Chunked on the current
/// rayon pool for large inputs: maxima and minima do not depend on the grouping.
fn max_min_abs_checked<S: Scalar>(x: &[S]) -> Option<(S, S)> {
    let combine = |a: Option<(S, S)>, b: Option<(S, S)>| match (a, b) {
        (Some((a1, a2)), Some((b1, b2))) => {
            Some((if b1 > a1 { b1 } else { a1 }, if b2 < a2 { b2 } else { a2 }))
        }
        _ => None,
    };
    let (max, min) = reduce_chunks(x, Some((S::ZERO, S::MAX)), combine, max_min_abs)?;
    Some((max, if min <= max { min } else { max }))
}

/// [`max_min_abs_checked`] on one chunk: 16 lanes of maximum, non-zero minimum (from
/// `S::MAX`) and `Σ (x_j − x_j)`; `None` if that sum is not 0.
#[inline(always)]
#[allow(clippy::eq_op)]
fn max_min_abs_body<S: Scalar>(x: &[S]) -> Option<(S, S)> {
    const L: usize = 16;
    let (mut hi, mut lo, mut probe) = ([S::ZERO; L], [S::MAX; L], [S::ZERO; L]);
    let chunks = x.chunks_exact(L);
    let tail = chunks.remainder();
    for c in chunks {
        for i in 0..L {
            let a = c[i].abs();
            hi[i] = if a > hi[i] { a } else { hi[i] };
            let nz = if a > S::ZERO { a } else { S::MAX };
            lo[i] = if nz < lo[i] { nz } else { lo[i] };
            probe[i] += c[i] - c[i];
        }
    }
    let (mut h, mut l, mut p) = (S::ZERO, S::MAX, S::ZERO);
    for i in 0..L {
        h = if hi[i] > h { hi[i] } else { h };
        l = if lo[i] < l { lo[i] } else { l };
        p += probe[i];
    }
    for &v in tail {
        let a = v.abs();
        h = if a > h { a } else { h };
        l = if a > S::ZERO && a < l { a } else { l };
        p += v - v;
    }
    (p == S::ZERO).then_some((h, l))
}

squeeze_core::dispatch_avx2! {
    /// [`max_min_abs_body`], dispatched (see [`squeeze_core::simd`]).
    fn max_min_abs<S: Scalar>(x: &[S]) -> Option<(S, S)> => max_min_abs_body
}

/// Rough `log₂ v` for `v > 0` normal (error < 0.09), used to start the level search.
#[inline]
fn approx_log2(v: f64) -> f64 {
    let bits = v.to_bits();
    let e = ((bits >> 52) & 0x7ff) as f64 - 1023.0;
    let m = f64::from_bits((bits & ((1 << 52) - 1)) | 0x3ff0_0000_0000_0000) - 1.0;
    e + m
}

/// The decoded levels `table[j]` (`f64` of level `j` below the anchor, non-increasing, the last
/// one ≤ v_min) and the start of the search.
struct Grid<'a> {
    table: &'a [f64],
    log2_anchor: f64,
    inv_log2_b: f64,
}

impl Grid<'_> {
    /// Index of the level nearest to `v > 0` (ties go up). With $J(v)$ the first index whose
    /// level is $\le v$ (or the last one), the result is $J - 1$ if
    /// `table[J−1] − v ≤ v − table[J]` in `f64`, else $J$. Both are non-increasing in $v$ (the
    /// table is non-increasing and the rounded differences are monotone in $v$), whatever the
    /// start estimate.
    #[inline(always)]
    fn index(&self, v: f64) -> usize {
        let table = self.table;
        let last = table.len() - 1;
        // The estimate is off by at most one step for b ≥ 2: fix that without branches, then
        // loop for small bases.
        let est = ((self.log2_anchor - approx_log2(v)) * self.inv_log2_b).max(0.0);
        let mut j = (est as usize).min(last);
        j += ((j < last) & (table[j] > v)) as usize;
        j -= ((j > 0) & (table[j.saturating_sub(1)] <= v)) as usize;
        while j < last && table[j] > v {
            j += 1;
        }
        while j > 0 && table[j - 1] <= v {
            j -= 1;
        }
        // The nearer of level(j) ≤ v and level(j − 1) > v (ties go up).
        let up = (j > 0) & (table[j.saturating_sub(1)] - v <= v - table[j]);
        j - up as usize
    }
}

/// Final codes `±(s − j)` in one pass, `s − 1` the largest index used; 0 for zeros and for
/// levels that underflow to 0.
#[inline(always)]
fn power_codes_body<S: Scalar>(x: &[S], codes: &mut [i16], grid: &Grid<'_>, s: i16) {
    for (c, &xv) in codes.iter_mut().zip(x) {
        let v = xv.abs().to_f64();
        let j = grid.index(v);
        let keep = (v != 0.0) & (grid.table[j] != 0.0);
        let mag = if keep { s - j as i16 } else { 0 };
        let neg = -(xv.is_sign_negative() as i16);
        *c = (mag ^ neg) - neg;
    }
}

squeeze_core::dispatch_avx2! {
    /// [`power_codes_body`], dispatched (see [`squeeze_core::simd`]).
    fn power_codes<S: Scalar>(x: &[S], codes: &mut [i16], grid: &Grid<'_>, s: i16) => power_codes_body
}

/// `Some(k₀)` if the decoded levels are exactly $2^{k_0 - j}$, all normal `f64` values, down to
/// one $\le v_{\min}$ (base 2 and a power-of-two anchor: the usual case). Then
/// [`Grid::index`] is exponent arithmetic: for $v = 2^E(1 + m)$ the first level $\le v$ is
/// $J = \max(0, k_0 - E)$, and for $J > 0$ both differences `2^{E+1} − v` and `v − 2^E` are
/// exact (Sterbenz), so "ties go up" is $m \ge 1/2$: the top mantissa bit of $v$.
fn pow2_grid(b: f64, table: &[f64], vmin: f64) -> Option<i64> {
    const MANT: u64 = (1 << 52) - 1;
    let first = table.first()?.to_bits();
    let last = *table.last()?;
    if b != 2.0 || first & MANT != 0 || last > vmin {
        return None;
    }
    let k0 = (first >> 52) as i64 - 1023;
    let exact = table.iter().enumerate().all(|(j, &l)| {
        let e = k0 - j as i64;
        e >= -1022 && l.to_bits() == ((e + 1023) as u64) << 52
    });
    exact.then_some(k0)
}

/// [`power_codes_body`] on a [`pow2_grid`]: `±(s − j)` with $j = J - [J > 0][m \ge 1/2]$,
/// $J = \max(0, k_0 - E)$ (see there), 0 for zeros. Integer lane operations only.
#[inline(always)]
fn pow2_codes_body<S: Scalar>(x: &[S], codes: &mut [i16], k0: i64, s: i16) {
    for (c, &xv) in codes.iter_mut().zip(x) {
        let v = xv.abs().to_f64();
        let bits = v.to_bits();
        let e = (bits >> 52) as i64 - 1023;
        let big_j = if k0 - e > 0 { k0 - e } else { 0 };
        let up = ((big_j > 0) & ((bits >> 51) & 1 == 1)) as i64;
        let j = (big_j - up) as i16;
        let mag = if v != 0.0 { s.wrapping_sub(j) } else { 0 };
        let neg = -(xv.is_sign_negative() as i16);
        *c = (mag ^ neg) - neg;
    }
}

squeeze_core::dispatch_avx2! {
    /// [`pow2_codes_body`], dispatched (see [`squeeze_core::simd`]).
    fn pow2_codes<S: Scalar>(x: &[S], codes: &mut [i16], k0: i64, s: i16) => pow2_codes_body
}

/// First pass of the two-pass path: `±(j + 1)` per entry (0 for zeros and underflowing
/// levels); returns the largest `j + 1` used (at least 1).
fn power_indices<S: Scalar>(x: &[S], codes: &mut [i16], grid: &Grid<'_>) -> i32 {
    let mut s_used = 1i32;
    for (c, &xv) in codes.iter_mut().zip(x) {
        let v = xv.abs().to_f64();
        if v == 0.0 {
            *c = 0;
            continue;
        }
        let j = grid.index(v);
        if grid.table[j] == 0.0 {
            *c = 0;
            continue;
        }
        let t = j as i32 + 1;
        s_used = s_used.max(t);
        let neg = -(xv.is_sign_negative() as i16);
        *c = (t as i16 ^ neg) - neg;
    }
    s_used
}

compressor! {
    PowerRounding, |self, _dim| {
        spec: if self.base == 2.0 {
            Self::NAME.to_string()
        } else {
            format!("{}:base={}", Self::NAME, self.base)
        },
        class: {
            let b = self.base_in::<S>().to_f64();
            Class::Contractive {
                alpha: 4.0 * b / ((b + 1.0) * (b + 1.0)),
            }
        },
        deterministic: true,
    }
    compress_into |x, ctx, out| {
        squeeze_core::check_dim_basic(x.len())?;
        let (vmax, vmin) =
            max_min_abs_checked(x).ok_or_else(|| squeeze_core::non_finite_error(x))?;
        let base_s = self.base_in::<S>();
        let b = base_s.to_f64();
        // The passes below write every code (no zero-fill first).
        let (norm, levels, codes) = out.quantized_parts_sized(x.len());
        if vmax == S::ZERO {
            *norm = S::ZERO;
            codes.fill(0);
            *levels = Levels::Geometric { base: base_s, s: 1 };
            return Ok(());
        }
        let vmin = vmin.to_f64();
        // Anchor of the grid: b^k_max if it is a finite normal value of S, else ‖x‖∞.
        let k_top = nearest_exponent(vmax.to_f64(), b);
        let p = S::from_f64(b.powi(k_top));
        let anchor = if p.is_finite() && p >= S::MIN_POSITIVE {
            p
        } else {
            vmax
        };
        *norm = anchor;
        // Decoded level j steps below the anchor, exactly as `Message` decodes it.
        let level = |j: usize| (anchor * S::from_f64(b.powi(-(j as i32)))).to_f64();
        let table = &mut ctx.scratch.values;
        table.clear();
        loop {
            let l = level(table.len());
            table.push(l);
            if l <= vmin || table.len() >= MAX_LEVELS as usize {
                break;
            }
        }
        let log2_anchor = approx_log2(anchor.to_f64());
        let inv_log2_b = 1.0 / b.log2();
        let table = &table[..];
        let grid = Grid {
            table,
            log2_anchor,
            inv_log2_b,
        };
        // The level index j(v) is non-increasing in v (see `Grid::index`), so the largest one
        // used is j(v_min): then s = j(v_min) + 1 is known before the pass and the codes are
        // written in one pass. Only if v_min's level underflows to 0 (it is sent as 0, and the
        // largest index used is unknown) do two passes run: indices, then codes.
        let j_min = grid.index(vmin);
        let s = if table[j_min] != 0.0 {
            let s = j_min as i16 + 1;
            // Chunked on the current rayon pool for large inputs (crate::parallel).
            if let Some(k0) = pow2_grid(b, table, vmin) {
                map_chunks(x, codes, (), |_, _| (), |x, codes| pow2_codes(x, codes, k0, s));
            } else {
                map_chunks(x, codes, (), |_, _| (), |x, codes| power_codes(x, codes, &grid, s));
            }
            s
        } else {
            let s_used = map_chunks(x, codes, 1i32, i32::max, |x, codes| {
                power_indices(x, codes, &grid)
            });
            let s = s_used as i16;
            // t = j + 1 ↦ code s − j = s + 1 − t.
            map_chunks(x, codes, (), |_, _| (), |_, codes| {
                for c in codes.iter_mut() {
                    let t = *c;
                    *c = match t {
                        0 => 0,
                        t if t > 0 => s + 1 - t,
                        t => -(s + 1 + t),
                    };
                }
            });
            s
        };
        ctx.scratch.values.clear();
        *levels = Levels::Geometric {
            base: base_s,
            s: s as u16,
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::compress_once;
    use crate::quant::max_abs_checked;

    /// Smallest non-zero `|x_j|` (`vmax` if there is none), the plain way.
    fn min_nonzero_abs<S: Scalar>(x: &[S], vmax: S) -> S {
        x.iter()
            .map(|v| v.abs())
            .filter(|&a| a > S::ZERO)
            .fold(vmax, |m, a| if a < m { a } else { m })
    }

    #[test]
    fn fused_max_min_pass_equals_the_separate_ones() {
        let mut rng = squeeze_core::SqueezeRng::from_seed_u64(5);
        for len in 0..70usize {
            let x: Vec<f32> = (0..len)
                .map(|j| match j % 6 {
                    0 => 0.0,
                    1 => -f32::from_bits(1 + (rng.next_u32() & 0xff)),
                    2 => f32::MAX * (rng.next_f64() as f32),
                    _ => (rng.next_f64() as f32 - 0.5) * 1e-20,
                })
                .collect();
            let x64: Vec<f64> = x.iter().map(|&v| f64::from(v) * 1e-300).collect();
            let want = max_abs_checked(&x).map(|m| (m, min_nonzero_abs(&x, m)));
            assert_eq!(max_min_abs_checked(&x), want, "len {len}");
            let base = squeeze_core::simd::portable(|| max_min_abs_checked(&x));
            assert_eq!(base, want, "len {len}");
            let want64 = max_abs_checked(&x64).map(|m| (m, min_nonzero_abs(&x64, m)));
            assert_eq!(max_min_abs_checked(&x64), want64);
            assert_eq!(
                squeeze_core::simd::portable(|| max_min_abs_checked(&x64)),
                want64
            );
            if len > 3 {
                let mut bad = x.clone();
                bad[len - 2] = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY][len % 3];
                assert_eq!(max_min_abs_checked(&bad), None);
            }
        }
    }
    use crate::registry::parse;

    fn run<S: Scalar>(c: &PowerRounding, x: &[S]) -> Result<Message<S>, CompressError> {
        let m = compress_once(c, x, 0)?;
        m.validate().unwrap();
        Ok(m)
    }

    fn check_contraction<S: Scalar>(c: &PowerRounding, x: &[S]) {
        let m = run(c, x).unwrap();
        let y = m.to_dense().unwrap();
        let alpha = Compressor::<S>::class(c, x.len()).alpha().unwrap();
        let rel = if S::BITS == 32 { 1e-6 } else { 1e-13 };
        // Levels below ‖x‖∞ times the smallest subnormal underflow when decoded: those
        // entries are sent as 0 (a loss below 2^-290 ‖x‖² in total), checked globally only.
        let vmax = x.iter().fold(0.0f64, |m, v| m.max(v.to_f64().abs()));
        let floor = vmax * if S::BITS == 32 { 1e-38 } else { 1e-300 };
        let (mut e, mut xx) = (0.0, 0.0);
        for (a, v) in y.iter().zip(x) {
            let (a, v) = (a.to_f64(), v.to_f64());
            e += (a - v).powi(2);
            xx += v * v;
            if v.abs() < floor {
                continue;
            }
            assert!(
                (a - v).powi(2) <= (1.0 - alpha) * v * v * (1.0 + rel) + 1e-300,
                "{} rounded to {a} (base {})",
                v,
                c.base
            );
            assert!(a == 0.0 || a.signum() == v.signum());
        }
        assert!(e <= (1.0 - alpha) * xx * (1.0 + rel));
    }

    /// The compressor as it was before the one-pass kernel (two passes, every step scalar):
    /// `(norm, s, codes)`.
    fn reference<S: Scalar>(base: f64, x: &[S]) -> (S, u16, Vec<i16>) {
        let vmax = max_abs_checked(x).unwrap();
        let b = S::from_f64(base).to_f64();
        if vmax == S::ZERO {
            return (S::ZERO, 1, vec![0; x.len()]);
        }
        let vmin = min_nonzero_abs(x, vmax).to_f64();
        let p = S::from_f64(b.powi(nearest_exponent(vmax.to_f64(), b)));
        let anchor = if p.is_finite() && p >= S::MIN_POSITIVE {
            p
        } else {
            vmax
        };
        let level = |j: usize| (anchor * S::from_f64(b.powi(-(j as i32)))).to_f64();
        let mut table = Vec::new();
        loop {
            let l = level(table.len());
            table.push(l);
            if l <= vmin || table.len() >= MAX_LEVELS as usize {
                break;
            }
        }
        let last = table.len() - 1;
        let mut s_used = 1i32;
        let mut ts = Vec::new();
        for &xv in x {
            let v = xv.abs().to_f64();
            if v == 0.0 {
                ts.push(0);
                continue;
            }
            let mut j = 0;
            while j < last && table[j] > v {
                j += 1;
            }
            if j > 0 && table[j - 1] - v <= v - table[j] {
                j -= 1;
            }
            if table[j] == 0.0 {
                ts.push(0);
                continue;
            }
            s_used = s_used.max(j as i32 + 1);
            ts.push(if xv.is_sign_negative() {
                -(j as i16 + 1)
            } else {
                j as i16 + 1
            });
        }
        let s = s_used as i16;
        let codes = ts
            .iter()
            .map(|&t| match t {
                0 => 0,
                t if t > 0 => s + 1 - t,
                t => -(s + 1 + t),
            })
            .collect();
        (anchor, s as u16, codes)
    }

    fn check_against_reference<S: Scalar>(c: &PowerRounding, x: &[S]) {
        let (norm, s, codes) = reference(c.base, x);
        let want = Message::Quantized {
            norm,
            levels: Levels::Geometric {
                base: c.base_in::<S>(),
                s,
            },
            codes,
        };
        assert_eq!(run(c, x).unwrap(), want, "base {}", c.base);
        let base = squeeze_core::simd::portable(|| run(c, x).unwrap());
        assert_eq!(base, want, "baseline copy, base {}", c.base);
    }

    #[test]
    fn one_pass_kernel_equals_the_two_pass_reference() {
        let mut rng = squeeze_core::SqueezeRng::from_seed_u64(17);
        for b in [1.05, 1.1, 1.5, 2.0, 3.0, 4.0, 10.0, 1e10] {
            let c = PowerRounding::new(b).unwrap();
            for len in 1..70usize {
                let span = [1.0, 30.0, 300.0][len % 3];
                let x64: Vec<f64> = (0..len)
                    .map(|j| match j % 11 {
                        0 => 0.0,
                        1 => -f64::from(f32::from_bits(1 + j as u32)),
                        2 if len % 2 == 0 => f64::from(f32::MAX) * 0.99,
                        _ => {
                            let e = (rng.next_f64() - 0.5) * span;
                            (rng.next_f64() - 0.5) * 2f64.powf(e)
                        }
                    })
                    .collect();
                let x32: Vec<f32> = x64
                    .iter()
                    .map(|&v| (v as f32).clamp(-f32::MAX, f32::MAX))
                    .collect();
                check_against_reference(&c, &x32);
                check_against_reference(&c, &x64);
            }
            // Extremes: levels underflowing to 0 (the two-pass path), subnormal vectors.
            check_against_reference(&c, &[f32::MAX, -f32::from_bits(1), 1.0, 0.0, 1e-30]);
            check_against_reference(&c, &[f64::MAX, 5e-324, -1e-310, 2.0]);
            check_against_reference(&c, &[f32::from_bits(7), -f32::from_bits(3)]);
            check_against_reference(&c, &[0.0f32, -0.0]);
        }
    }

    #[test]
    fn pow2_grid_is_recognised_only_when_exact() {
        assert_eq!(pow2_grid(2.0, &[8.0, 4.0, 2.0, 1.0], 1.0), Some(3));
        assert_eq!(pow2_grid(2.0, &[0.25, 0.125], 0.2), Some(-2));
        // Not a power-of-two anchor, not base 2, a gap, the last level above v_min, a zero.
        assert_eq!(pow2_grid(2.0, &[6.0, 3.0], 3.0), None);
        assert_eq!(pow2_grid(4.0, &[16.0, 4.0], 4.0), None);
        assert_eq!(pow2_grid(2.0, &[8.0, 2.0], 2.0), None);
        assert_eq!(pow2_grid(2.0, &[8.0, 4.0], 3.0), None);
        assert_eq!(pow2_grid(2.0, &[1.0, 0.0], 0.0), None);
        let sub = f64::MIN_POSITIVE / 2.0;
        assert_eq!(pow2_grid(2.0, &[f64::MIN_POSITIVE, sub], sub), None);
        // A typical input takes the exponent path (and equals the reference).
        let x: Vec<f32> = (1..200).map(|j| (j as f32 * 0.37).sin() * 3.0).collect();
        let c = PowerRounding::new(2.0).unwrap();
        check_against_reference(&c, &x);
    }

    #[test]
    fn hand_computed() {
        let c = PowerRounding::new(4.0).unwrap();
        // Midpoint between 4 and 16 is 10: 9.9 → 4, 10.1 → 16; 0.2 → 0.25 (1/4).
        let m = run(&c, &[9.9f64, -10.1, 0.2, 0.0]).unwrap();
        assert_eq!(m.to_dense().unwrap(), vec![4.0, -16.0, 0.25, 0.0]);
        let Message::Quantized {
            norm,
            levels,
            codes,
        } = &m
        else {
            unreachable!()
        };
        // Exponents 1, 2, −1: s = 4 levels 1/4, 1, 4, 16 (1/16·16 = 1 is unused but counted).
        assert_eq!(
            (*norm, *levels),
            (16.0, Levels::Geometric { base: 4.0, s: 4 })
        );
        assert_eq!(codes, &[3, -4, 1, 0]);
        // 4 + 1 + 16 + 64 + 64 + 4 entries × ⌈log₂ 5⌉ + 3 signs (f64)
        assert_eq!(m.bits(), 149 + 12 + 3);
        // A single power: s = 1.
        let m = run(&c, &[0.0f32, -64.0]).unwrap();
        assert_eq!(
            m,
            Message::Quantized {
                norm: 64.0,
                levels: Levels::Geometric { base: 4.0, s: 1 },
                codes: vec![0, -1]
            }
        );
        // Zero vector.
        let m = run(&c, &[0.0f32; 3]).unwrap();
        assert_eq!(m.to_dense().unwrap(), vec![0.0; 3]);
        // Base 2, exactly at the midpoint 3 (between 2 and 4): either is allowed; α holds.
        check_contraction(&PowerRounding::new(2.0).unwrap(), &[3.0f32, -6.0, 1.5]);
    }

    #[test]
    fn extreme_magnitudes_contract() {
        for b in [1.05, 1.1, 1.5, 2.0, 3.0, 4.0, 10.0, 1e10] {
            let c = PowerRounding::new(b).unwrap();
            let x32 = [
                f32::MAX,
                -3e38,
                1e30,
                -1e-30,
                f32::MIN_POSITIVE,
                2.5,
                0.0,
                7.7e-20,
            ];
            check_contraction(&c, &x32);
            check_contraction(&c, &[3e38f32, 1.0]);
            check_contraction(&c, &[1e-30f32, -2e-30]);
            let x64 = [f64::MAX, -1e300, 1e-300, f64::MIN_POSITIVE, 3.3, -0.0];
            check_contraction(&c, &x64);
            check_contraction(&c, &[1e-300f64, 5e-301]);
            // Mixed extremes still fit the wire format's level count.
            let m = run(&c, &[f64::MAX, f64::MIN_POSITIVE]).unwrap();
            assert!(m.to_dense().unwrap()[0] > 0.0);
        }
    }

    #[test]
    fn overflowing_power_anchors_at_the_max() {
        // 3e38 is above the midpoint of 4^63 and 4^64 = 2^128 > f32::MAX.
        let c = PowerRounding::new(4.0).unwrap();
        let m = run(&c, &[3e38f32, -7.5e37]).unwrap();
        let Message::Quantized { norm, codes, .. } = &m else {
            unreachable!()
        };
        assert_eq!(*norm, 3e38);
        assert_eq!(codes[0], 2);
        // -7.5e37 is nearest to 3e38/4 = 7.5e37.
        assert_eq!(m.to_dense().unwrap(), vec![3e38, -7.5e37]);
    }

    #[test]
    fn params_and_errors() {
        assert_eq!(
            parse::<f32>("power_rounding").unwrap().spec(),
            "power_rounding"
        );
        assert_eq!(
            parse::<f32>("power_rounding:base=1.5").unwrap().spec(),
            "power_rounding:base=1.5"
        );
        for bad in ["1.01", "1", "0.5", "-2", "inf", "1e39"] {
            let e = parse::<f32>(&format!("power_rounding:base={bad}"))
                .unwrap_err()
                .to_string();
            assert!(e.contains("base must be finite and in [1.05"), "{bad}: {e}");
        }
        let c = PowerRounding::new(2.0).unwrap();
        assert!(matches!(
            run(&c, &[1.0f32, f32::NAN]),
            Err(CompressError::NonFinite { index: 1, .. })
        ));
        assert!(matches!(
            run(&c, &[f64::NEG_INFINITY, 1.0]),
            Err(CompressError::NonFinite { index: 0, .. })
        ));
        assert_eq!(run::<f32>(&c, &[]), Err(CompressError::EmptyInput));
        // α = 4b/(b+1)² at b = 1.5 (exact in f32): 6/6.25.
        assert_eq!(
            Compressor::<f32>::class(&PowerRounding::new(1.5).unwrap(), 3).alpha(),
            Some(0.96)
        );
    }
}

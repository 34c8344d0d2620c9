//! QSGD / standard random dithering.

use squeeze_core::message::{MAX_LEVELS, encode_quantized_with};
use squeeze_core::{
    BitWriter, Class, CompressCtx, CompressError, Compressor, Levels, Message, ParamError, Scalar,
    WideRng,
};

use crate::entry::{ParamDoc, Registered, compressor};
use crate::params::Params;
use crate::quant::{NormKind, check_levels, encode_round_uniform, message_norm, round_uniform};

/// QSGD / random dithering with $s$ uniform levels (Alistarh et al. 2017, arXiv 1610.02132):
///
/// $$\mathcal{C}(x)_j = \frac{\lVert x\rVert}{s}\thinspace\mathrm{sign}(x_j)\thinspace\xi_j,\qquad
/// \xi_j = \Big\lfloor \frac{s|x_j|}{\lVert x\rVert} + u_j \Big\rfloor,\quad u_j \sim U[0,1),$$
///
/// i.e. $s|x_j|/\lVert x\rVert$ is rounded to one of its two neighbouring integers with the
/// probabilities that make it unbiased. The norm is $\lVert x\rVert_2$ (default, `norm=l2`) or
/// $\lVert x\rVert_\infty$ (`norm=linf`). $x = 0$ gives all codes 0.
///
/// MoTEF/BEER's "gsgd_b" quantiser is this operator with $s = 2^{b-1}$ (`qsgd:s=16` is
/// gsgd₅), used unscaled.
///
/// **Class** — unbiased. Per coordinate, with $f_j$ the fractional part of $r_j = s|x_j|/n$,
/// $\mathrm{Var} = (n/s)^2 f_j(1-f_j) \le (n/s)^2 \min\lbrace1/4,\ r_j\rbrace$. Summing:
/// * `l2`: $\omega = \min\lbrace d/s^2,\ \sqrt d/s\rbrace$ (QSGD Lemma 3.1, the value the papers'
///   theory uses; the same computation even gives $\min\lbrace d/(4s^2), \sqrt d/s\rbrace$);
/// * `linf`: $n = \lVert x\rVert_\infty \le \lVert x\rVert_2$ and $\sum_j r_j = s\lVert x\rVert_1/n$,
///   so $\mathbb{E}\lVert\mathcal{C}(x)-x\rVert^2 \le \min\lbrace d n^2/(4s^2),\ n\lVert x\rVert_1/s\rbrace
///   \le \min\lbrace d/(4s^2),\ \sqrt d/s\rbrace\thinspace\lVert x\rVert^2$: $\omega = \min\lbrace
///   d/(4s^2), \sqrt d/s\rbrace$.
///
/// **Randomness** — the uniforms are 32-bit halves of [`WideRng`] words (two per word, drawn
/// in blocks of 512 words) of which the top $F = 31 - \lceil\log_2(s+1)\rceil$ bits are used
/// ($F = 26$ at $s = 16$); the rounding is in fixed point, so $\mathbb{E}\xi_j$ is below
/// $r_j$ by less than $2^{-F}$: a bias under $2^{-F}\lVert x\rVert/s$ per coordinate (see
/// `quant.rs`). The scale $s/\lVert x\rVert$ is rounded up so that the largest entry of a `linf`
/// quantisation gets exactly $\xi = s$.
///
/// **Bits** (wire format, `Quantized` with uniform levels): $4 + 1 + 16 + 32$ (tag, kind, $s$,
/// norm as `f32`) $+\ d\lceil\log_2(s+1)\rceil$ $+$ one sign bit per non-zero code. The paper's
/// naive count is $32 + d(1 + \lceil\log_2(s+1)\rceil)$; FL_PyTorch charges
/// $32 + d(1+\lceil\log_2 s\rceil)$.
///
/// **Errors** — an ℓ₂ norm that overflows the input type (`f32` entries near `f32::MAX`) is
/// rejected with a hint to use `norm=linf`.
///
/// ```
/// use squeeze_compress::Qsgd;
/// use squeeze_core::{Compressor, CompressCtx, Levels, Message, Scratch, SqueezeRng};
/// let q = Qsgd::new(5, Default::default()).unwrap();
/// let (mut rng, mut scratch) = (SqueezeRng::from_seed_u64(0), Scratch::default());
/// let mut ctx = CompressCtx::new(&mut rng, &mut scratch);
/// // ‖x‖₂ = 5, so the ratios 5·|x_j|/5 are the integers 0, 3, 4: no randomness left.
/// let m = Compressor::<f32>::compress(&q, &[0.0, -3.0, 4.0], &mut ctx).unwrap();
/// let Message::Quantized { norm, levels, codes } = &m else { unreachable!() };
/// assert_eq!((*norm, *levels), (5.0, Levels::Uniform { s: 5 }));
/// assert_eq!(codes, &[0, -3, 4]);
/// assert_eq!(m.to_dense().unwrap(), vec![0.0, -3.0, 4.0]);
/// // 4 + 1 + 16 + 32 header, 3 entries × ⌈log₂ 6⌉ bits, 2 sign bits
/// assert_eq!(m.bits(), 53 + 9 + 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Qsgd {
    s: u16,
    norm: NormKind,
}

impl Qsgd {
    /// `s` levels (`1 ≤ s ≤ 32767`) scaled by `norm`.
    pub fn new(s: u64, norm: NormKind) -> Result<Self, ParamError> {
        let hint = format!(
            "s is the number of non-zero levels and must be in 1..={MAX_LEVELS} \
             (codes are 16-bit); s = 1 is TernGrad-like, gsgd_b is s = 2^(b−1)"
        );
        let s = check_levels(Self::NAME, s, MAX_LEVELS as u64, hint)?;
        Ok(Self { s, norm })
    }

    /// Number of levels.
    pub fn s(&self) -> u16 {
        self.s
    }

    /// The norm that scales the levels.
    pub fn norm(&self) -> NormKind {
        self.norm
    }

    /// `ω` at dimension `d`.
    pub fn omega(&self, d: usize) -> f64 {
        let (d, s) = (d as f64, self.s as f64);
        match self.norm {
            NormKind::L2 => (d / (s * s)).min(d.sqrt() / s),
            NormKind::Linf => (d / (4.0 * s * s)).min(d.sqrt() / s),
        }
    }
}

impl Registered for Qsgd {
    const NAME: &'static str = "qsgd";
    const SUMMARY: &'static str = "QSGD random dithering, s uniform levels of ‖x‖₂ or ‖x‖∞; unbiased ω = min(d/s², √d/s) (ℓ₂) [Alistarh et al. 2017]; d⌈log₂(s+1)⌉ + signs + 53 bits";
    const PARAMS: &'static [ParamDoc] = &[
        ParamDoc {
            name: "s",
            doc: "number of non-zero levels, 1..=32767 (required); gsgd_b = 2^(b−1)",
        },
        NormKind::PARAM,
    ];
    const EXAMPLES: &'static [&'static str] =
        &["qsgd:s=1", "qsgd:s=4", "qsgd:s=16", "qsgd:s=2,norm=linf"];
    const BENCH: &'static [&'static str] = &["qsgd:s=16", "qsgd:s=16,norm=linf"];
    fn from_params(p: &mut Params) -> Result<Self, ParamError> {
        let s = p.require("s", Params::u64, "<levels ≥ 1>", "16")?;
        let norm = NormKind::from_params(p)?;
        Self::new(s, norm)
    }
}

compressor! {
    Qsgd, |self, dim| {
        spec: self.norm.levels_spec(Self::NAME, self.s),
        class: Class::Unbiased {
            omega: self.omega(dim),
        },
        deterministic: false,
    }
    compress_into |x, ctx, out| {
        let n = message_norm(Self::NAME, x, self.norm)?;
        quantize_uniform(x, n, self.s, ctx, out);
        Ok(())
    },
    compress_encode |x, ctx, w| {
        let n = message_norm(Self::NAME, x, self.norm)?;
        encode_uniform(Self::NAME, x, n, self.s, ctx, w)
    }
}

/// Write the `Quantized` message with uniform levels `s` and norm `n` (validated input).
pub(crate) fn quantize_uniform<S: Scalar>(
    x: &[S],
    n: S,
    s: u16,
    ctx: &mut CompressCtx<'_>,
    out: &mut Message<S>,
) {
    // The rounding writes every code (no zero-fill first).
    let (norm, levels, codes) = out.quantized_parts_sized(x.len());
    *levels = Levels::Uniform { s };
    if n > S::ZERO {
        *norm = n;
        round_uniform(x, n, s, WideRng::from_rng(ctx.rng), codes);
    } else {
        *norm = S::ZERO;
        codes.fill(0);
    }
}

/// [`quantize_uniform`] then [`Message::encode`] without the codes: the same bits, the same
/// draws from `ctx` (none for `n = 0`).
pub(crate) fn encode_uniform<S: Scalar>(
    component: &'static str,
    x: &[S],
    n: S,
    s: u16,
    ctx: &mut CompressCtx<'_>,
    w: &mut BitWriter,
) -> Result<(), CompressError> {
    let written = if n > S::ZERO {
        encode_round_uniform(w, x, n, s, WideRng::from_rng(ctx.rng))
    } else {
        let zeros = |_: &mut (), _: &[S], codes: &mut [i16]| codes.fill(0);
        encode_quantized_with(w, S::ZERO, Levels::Uniform { s }, x, |_| (), zeros)
    };
    // Not reached for a validated input (finite norm ≥ 0, levels in range by construction).
    written.map_err(|e| CompressError::Context {
        component,
        what: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::draw_sums;
    use crate::registry::assert_refused;
    use crate::registry::parse;
    use squeeze_core::{Scratch, SqueezeRng};

    fn codes_of<S: Scalar>(m: &Message<S>) -> (f64, Vec<i16>) {
        match m {
            Message::Quantized { norm, codes, .. } => (norm.to_f64(), codes.clone()),
            other => panic!("not quantized: {other:?}"),
        }
    }

    #[test]
    fn hand_computed_outputs() {
        let (mut rng, mut scratch) = (SqueezeRng::from_seed_u64(1), Scratch::default());
        let mut ctx = CompressCtx::new(&mut rng, &mut scratch);
        // ℓ∞, s = 2: ratios 2·|x|/4 = 0, 2, 1, 0.5·... entries on the grid are exact.
        let q = Qsgd::new(2, NormKind::Linf).unwrap();
        let m = Compressor::<f64>::compress(&q, &[0.0, -4.0, 2.0, 4.0, -0.0], &mut ctx).unwrap();
        assert_eq!(codes_of(&m), (4.0, vec![0, -2, 1, 2, 0]));
        assert_eq!(m.to_dense().unwrap(), vec![0.0, -4.0, 2.0, 4.0, 0.0]);
        // tag 4 + kind 1 + s 16 + norm 64 + 5 × 2 + 3 signs... (f64 norm)
        assert_eq!(m.bits(), 4 + 1 + 16 + 64 + 5 * 2 + 3);
        // ℓ₂, d = 1: the single entry is the norm, code ±s.
        let q = Qsgd::new(16, NormKind::L2).unwrap();
        let m = Compressor::<f32>::compress(&q, &[-3.5], &mut ctx).unwrap();
        assert_eq!(codes_of(&m), (3.5, vec![-16]));
    }

    #[test]
    fn zero_input_gives_zero_codes() {
        let (mut rng, mut scratch) = (SqueezeRng::from_seed_u64(1), Scratch::default());
        let mut ctx = CompressCtx::new(&mut rng, &mut scratch);
        for spec in Qsgd::EXAMPLES {
            let c = parse::<f32>(spec).unwrap();
            let m = c.compress(&[0.0, -0.0, 0.0], &mut ctx).unwrap();
            let (n, codes) = codes_of(&m);
            assert_eq!((n, codes), (0.0, vec![0, 0, 0]), "{spec}");
            assert_eq!(m.to_dense().unwrap(), vec![0.0; 3]);
        }
    }

    #[test]
    fn params_and_errors() {
        assert_eq!(parse::<f32>("qsgd:s=16").unwrap().spec(), "qsgd:s=16");
        assert_eq!(
            parse::<f32>("qsgd:s=2,norm=linf").unwrap().spec(),
            "qsgd:s=2,norm=linf"
        );
        assert_refused("qsgd:s=0", "1..=32767");
        assert_refused("qsgd:s=40000", "1..=32767");
        assert_refused("qsgd", "qsgd needs s=");
        assert_refused("qsgd:s=2,norm=l1", "l2 (default) or linf");
        assert_eq!(Qsgd::new(32767, NormKind::L2).unwrap().s(), 32767);
        // ω values.
        assert_eq!(Qsgd::new(2, NormKind::L2).unwrap().omega(100), 5.0);
        assert_eq!(
            Qsgd::new(16, NormKind::L2).unwrap().omega(100),
            100.0 / 256.0
        );
        assert_eq!(Qsgd::new(1, NormKind::Linf).unwrap().omega(16), 4.0);
    }

    #[test]
    fn input_errors() {
        let (mut rng, mut scratch) = (SqueezeRng::from_seed_u64(1), Scratch::default());
        let mut ctx = CompressCtx::new(&mut rng, &mut scratch);
        let q = Qsgd::new(4, NormKind::L2).unwrap();
        let r = Compressor::<f32>::compress(&q, &[], &mut ctx);
        assert_eq!(r, Err(CompressError::EmptyInput));
        let r = Compressor::<f32>::compress(&q, &[1.0, f32::NAN, f32::INFINITY], &mut ctx);
        assert!(
            matches!(r, Err(CompressError::NonFinite { index: 1, .. })),
            "{r:?}"
        );
        // ℓ₂ norm overflows f32; ℓ∞ works.
        let big = [f32::MAX, f32::MAX];
        let e = Compressor::<f32>::compress(&q, &big, &mut ctx).unwrap_err();
        assert!(e.to_string().contains("use norm=linf"), "{e}");
        let q = Qsgd::new(4, NormKind::Linf).unwrap();
        let m = Compressor::<f32>::compress(&q, &big, &mut ctx).unwrap();
        assert_eq!(codes_of(&m).1, vec![4, 4]);
        let r = Compressor::<f64>::compress(&q, &[1.0, 2.0, f64::NEG_INFINITY], &mut ctx);
        assert!(
            matches!(r, Err(CompressError::NonFinite { index: 2, .. })),
            "{r:?}"
        );
    }

    #[test]
    fn tiny_and_subnormal_inputs_use_the_wide_path() {
        let (mut rng, mut scratch) = (SqueezeRng::from_seed_u64(1), Scratch::default());
        let mut ctx = CompressCtx::new(&mut rng, &mut scratch);
        let q = Qsgd::new(16, NormKind::Linf).unwrap();
        let tiny = f32::from_bits(1); // smallest subnormal: s/n overflows f32
        let m = Compressor::<f32>::compress(&q, &[tiny, -tiny, 0.0], &mut ctx).unwrap();
        assert_eq!(codes_of(&m), (tiny as f64, vec![16, -16, 0]));
        // (The decoder's unit n/s underflows here; the codes are what we control.)
        let x = [1e-36f32, -0.5e-36, 0.25e-36];
        let q = Qsgd::new(4, NormKind::Linf).unwrap();
        let m = Compressor::<f32>::compress(&q, &x, &mut ctx).unwrap();
        assert_eq!(codes_of(&m).1, vec![4, -2, 1]);
    }

    /// Monte Carlo: the mean of N draws is within 6 standard errors of x per coordinate, and
    /// the mean squared error matches the exact variance Σ (n/s)² f(1−f) within 6 SE.
    fn monte_carlo<S: Scalar>(q: &Qsgd, x: &[f64], n_draws: usize) {
        let xs: Vec<S> = x.iter().map(|&v| S::from_f64(v)).collect();
        let (sum, err) = draw_sums::<S>(q, &xs, x, 77, n_draws);
        let d = x.len();
        let n = q.norm.of(x);
        let unit = n / q.s as f64;
        let mut var_total = 0.0;
        for j in 0..d {
            let r = x[j].abs() / unit;
            let f = r - r.floor();
            let var = unit * unit * f * (1.0 - f);
            var_total += var;
            let se = (var / n_draws as f64).sqrt();
            let mean = sum[j] / n_draws as f64;
            assert!(
                (mean - x[j]).abs() <= 6.0 * se + 1e-6 * x[j].abs(),
                "coordinate {j}: mean {mean} vs {} (se {se})",
                x[j]
            );
        }
        let mean_err = err / n_draws as f64;
        // Var of the squared error ≤ Σ (unit)^4 f(1−f) ≤ unit²·var_total.
        let se = (unit * unit * var_total / n_draws as f64).sqrt();
        assert!(
            (mean_err - var_total).abs() <= 6.0 * se + 1e-6 * var_total,
            "mean error {mean_err} vs exact variance {var_total}"
        );
        let xx: f64 = x.iter().map(|v| v * v).sum();
        assert!(var_total <= q.omega(d) * xx * (1.0 + 1e-12));
    }

    #[test]
    fn unbiased_with_the_exact_variance() {
        let x: Vec<f64> = (0..37)
            .map(|i| ((i * 7919) % 23) as f64 / 7.0 - 1.4)
            .collect();
        for (s, norm) in [
            (1, NormKind::L2),
            (4, NormKind::L2),
            (16, NormKind::L2),
            (2, NormKind::Linf),
            (3, NormKind::Linf),
        ] {
            let q = Qsgd::new(s, norm).unwrap();
            monte_carlo::<f32>(&q, &x, 20_000);
            monte_carlo::<f64>(&q, &x, 20_000);
        }
    }

    #[test]
    fn long_input_crosses_blocks_and_reuses_the_message() {
        // d spans several 1024-element blocks plus a tail: frequencies of rounding up match.
        let d = 5 * 1024 + 37;
        let x: Vec<f32> = (0..d)
            .map(|j| if j % 2 == 0 { 0.3 } else { -0.7 })
            .collect();
        let q = Qsgd::new(1, NormKind::Linf).unwrap();
        let (mut rng, mut scratch) = (SqueezeRng::from_seed_u64(5), Scratch::default());
        let mut ctx = CompressCtx::new(&mut rng, &mut scratch);
        let mut m = Message::default();
        q.compress_into(&x, &mut ctx, &mut m).unwrap();
        let cap = match &m {
            Message::Quantized { codes, .. } => codes.capacity(),
            _ => unreachable!(),
        };
        let mut ups = [0usize; 2];
        for _ in 0..20 {
            q.compress_into(&x, &mut ctx, &mut m).unwrap();
            let (_, codes) = codes_of(&m);
            for (j, &c) in codes.iter().enumerate() {
                assert!(c == 0 || c == if j % 2 == 0 { 1 } else { -1 });
                ups[j % 2] += (c != 0) as usize;
            }
        }
        let Message::Quantized { codes, .. } = &m else {
            unreachable!()
        };
        assert_eq!(codes.capacity(), cap, "message buffer was reallocated");
        // p = 0.3/0.7 for the 2579 even entries, 1 for the 2578 odd ones (the max).
        let draws = 20.0 * (d - d / 2) as f64;
        let p = 0.3 / 0.7;
        let se = (p * (1.0 - p) / draws).sqrt();
        assert!((ups[0] as f64 / draws - p).abs() < 6.0 * se, "{ups:?}");
        assert_eq!(ups[1], 20 * (d / 2));
    }
}

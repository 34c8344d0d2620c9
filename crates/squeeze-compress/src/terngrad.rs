//! TernGrad: ternary stochastic quantisation scaled by the max norm.

use squeeze_core::{Class, CompressCtx, CompressError, Compressor, Message, Scalar};

use crate::entry::{Registered, compressor};
use crate::qsgd::{encode_uniform, quantize_uniform};
use crate::quant::{NormKind, message_norm};

/// TernGrad (Wen et al. 2017, arXiv 1705.07878): with $s = \lVert x\rVert_\infty$,
///
/// $$\mathcal{C}(x)_j = s\thinspace\mathrm{sign}(x_j)\thinspace b_j,\qquad b_j \sim
/// \mathrm{Bernoulli}(|x_j|/s),$$
///
/// so every entry becomes $0$ or $\pm s$ (it is `qsgd:s=1,norm=linf`, sent as
/// `Levels::Uniform { s: 1 }` with norm $\lVert x\rVert_\infty$). $x = 0$ gives all codes 0.
///
/// **Class** — unbiased: $\mathbb{E}\thinspace\mathcal{C}(x)_j =
/// s\cdot|x_j|/s\cdot\mathrm{sign}(x_j) = x_j$, and $\mathbb{E}\lVert\mathcal{C}(x)-x\rVert^2 =
/// \sum_j (s|x_j| - x_j^2) = s\lVert x\rVert_1 - \lVert x\rVert^2 \le (\sqrt d - 1)\lVert x\rVert^2$
/// because $s\lVert x\rVert_1 \le \lVert x\rVert_2\cdot\sqrt d\lVert x\rVert_2$: $\omega = \sqrt d -
/// 1$ (algorithms.md §9.2, derived). At $d = 1$ it is exact ($\omega = 0$).
///
/// **Randomness** — the Bernoulli draws compare 30 bits of a 32-bit uniform with
/// $|x_j|/s$ in fixed point ($P(b_j = 1)$ is $|x_j|/s$ truncated to 30 bits: bias below
/// $2^{-30}s$ per entry); the scale is rounded so that the largest entry gives $b_j = 1$
/// surely.
///
/// **Bits** — $4 + 1 + 16 + 32 + d + (\text{non-zero count})$ for `f32`: one level bit per entry
/// and a sign bit per non-zero entry (at most $2d + 53$; the paper counts $32 + 2d$).
///
/// ```
/// use squeeze_compress::TernGrad;
/// use squeeze_core::{Compressor, CompressCtx, Scratch, SqueezeRng};
/// let (mut rng, mut scratch) = (SqueezeRng::from_seed_u64(0), Scratch::default());
/// let mut ctx = CompressCtx::new(&mut rng, &mut scratch);
/// let m = Compressor::<f32>::compress(&TernGrad, &[-2.0, 0.0, 1.0], &mut ctx).unwrap();
/// let v = m.to_dense().unwrap();
/// assert_eq!(&v[..2], &[-2.0, 0.0]); // the max entry is kept surely
/// assert!(v[2] == 0.0 || v[2] == 2.0); // 1 is sent as 2 with probability 1/2
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TernGrad;

compressor! {
    unit TernGrad = "terngrad",
        "TernGrad: ‖x‖∞·sign(x_j)·Bernoulli(|x_j|/‖x‖∞); unbiased ω = √d − 1 [Wen et al. 2017]; ≤ 2d + 53 bits";
    |self, dim| {
        class: Class::Unbiased {
            omega: ((dim.max(1) as f64).sqrt() - 1.0).max(0.0),
        },
        deterministic: false,
    }
    compress_into |x, ctx, out| {
        let n = message_norm(Self::NAME, x, NormKind::Linf)?;
        quantize_uniform(x, n, 1, ctx, out);
        Ok(())
    },
    compress_encode |x, ctx, w| {
        let n = message_norm(Self::NAME, x, NormKind::Linf)?;
        encode_uniform(Self::NAME, x, n, 1, ctx, w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::draw_sums;
    use squeeze_core::{Levels, Scratch, SqueezeRng};

    #[test]
    fn hand_computed_and_edge_cases() {
        let (mut rng, mut scratch) = (SqueezeRng::from_seed_u64(4), Scratch::default());
        let mut ctx = CompressCtx::new(&mut rng, &mut scratch);
        let m = Compressor::<f64>::compress(&TernGrad, &[3.0, -3.0, 0.0, -0.0], &mut ctx).unwrap();
        assert_eq!(
            m,
            Message::Quantized {
                norm: 3.0,
                levels: Levels::Uniform { s: 1 },
                codes: vec![1, -1, 0, 0]
            }
        );
        // 4 + 1 + 16 + 64 + 4 level bits + 2 signs
        assert_eq!(m.bits(), 85 + 4 + 2);
        // d = 1 is exact, also for awkward values (scale rounding).
        for v in [3.0f32, -0.1, 1e-30, 7e30, f32::MAX, f32::from_bits(1)] {
            let m = Compressor::<f32>::compress(&TernGrad, &[v], &mut ctx).unwrap();
            assert_eq!(m.to_dense().unwrap(), vec![v]);
        }
        let z = Compressor::<f32>::compress(&TernGrad, &[0.0; 3], &mut ctx).unwrap();
        assert_eq!(z.to_dense().unwrap(), vec![0.0; 3]);
        assert!(matches!(
            Compressor::<f32>::compress(&TernGrad, &[1.0, f32::INFINITY], &mut ctx),
            Err(CompressError::NonFinite { index: 1, .. })
        ));
        assert_eq!(
            Compressor::<f32>::compress(&TernGrad, &[], &mut ctx),
            Err(CompressError::EmptyInput)
        );
        assert_eq!(Compressor::<f32>::class(&TernGrad, 16).omega(), Some(3.0));
        assert_eq!(Compressor::<f32>::class(&TernGrad, 1).omega(), Some(0.0));
    }

    #[test]
    fn monte_carlo_matches_the_exact_variance() {
        // E‖C(x)−x‖² = s‖x‖₁ − ‖x‖² exactly; mean within 6 SE per coordinate.
        let x: Vec<f64> = (0..30).map(|i| ((i * 13) % 11) as f64 - 5.0).collect();
        let s = 5.0;
        let draws = 20_000;
        let (sum, err) = draw_sums::<f64>(&TernGrad, &x, &x, 8, draws);
        let mut var4 = 0.0;
        for j in 0..x.len() {
            let p = x[j].abs() / s;
            let var = s * s * p * (1.0 - p);
            var4 += s.powi(4) * p * (1.0 - p);
            let se = (var / draws as f64).sqrt();
            assert!((sum[j] / draws as f64 - x[j]).abs() <= 6.0 * se + 1e-12);
        }
        let l1: f64 = x.iter().map(|v| v.abs()).sum();
        let xx: f64 = x.iter().map(|v| v * v).sum();
        let exact = s * l1 - xx;
        assert!(exact <= ((x.len() as f64).sqrt() - 1.0) * xx);
        let se = (var4 / draws as f64).sqrt();
        assert!(
            (err / draws as f64 - exact).abs() <= 6.0 * se,
            "{err} {exact}"
        );
    }
}

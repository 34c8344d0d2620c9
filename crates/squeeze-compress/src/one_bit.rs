//! 1-bit quantisation with per-block reconstruction values (Seide et al. 2014).

use squeeze_core::{Class, CompressCtx, CompressError, Compressor, Message, ParamError, Scalar};

use crate::entry::{ParamDoc, Registered, compressor};
use crate::params::Params;

/// 1-bit quantisation (Seide, Fu, Droppo, Li, Yu 2014, "1-bit stochastic gradient descent and
/// its application to data-parallel distributed training of speech DNNs"): cut $x$ into blocks
/// $B_1, B_2, \dots$ of $b$ consecutive coordinates (the last may be shorter; default $b = d$,
/// Seide's per-column blocks with `block`), and in each block $B$ send one bit per coordinate
/// and the two reconstruction values
/// $$\mathcal{C}(x)_j = \begin{cases} \mu_B^{+} = \operatorname{mean}\lbrace x_i : i \in P_B\rbrace
/// & x_j \ge 0 \cr \mu_B^{-} = \operatorname{mean}\lbrace x_i : i \in N_B\rbrace & x_j < 0
/// \end{cases}\qquad P_B = \lbrace i \in B : x_i \ge 0\rbrace,\quad N_B = B \setminus P_B$$
/// ($-0.0$ counts as nonnegative; the value of an empty side is sent as $0$).
///
/// **Class** — contractive with $\alpha = 1/\min(b, d)$. On each block, $\mathcal{C}(x)\_B$ is
/// the orthogonal projection of $x_B$ onto $\operatorname{span}\lbrace 1\_{P_B}, 1\_{N_B}\rbrace$
/// (the mean is the least-squares constant on each side), so
/// $\lVert\mathcal{C}(x)\_B - x_B\rVert^2 = \lVert x_B\rVert^2 - \lVert\mathcal{C}(x)\_B\rVert^2$.
/// The span contains $\sigma_B = 1\_{P_B} - 1\_{N_B}$ with $\lVert\sigma_B\rVert^2 = \lvert B\rvert$,
/// hence $\lVert\mathcal{C}(x)\_B\rVert^2 \ge \langle x_B, \sigma_B\rangle^2/\lvert B\rvert =
/// \lVert x_B\rVert_1^2/\lvert B\rvert \ge \lVert x_B\rVert^2/\lvert B\rvert$, and summing over
/// blocks with $\lvert B\rvert \le \min(b, d)$:
/// $$\lVert\mathcal{C}(x) - x\rVert^2 \le \Big(1 - \frac{1}{\min(b, d)}\Big)\lVert x\rVert^2.$$
/// Tight at $x = e_1$ (one block mean $1/b$). With $b = d$ it is never worse than
/// `scaled_sign` (whose output lies in the same span); $b = 1$ is exact. Deterministic.
///
/// **Bits** — a `Message::Binary` (wire tag 10): $4 + \lceil\log_2(d+1)\rceil + 2\lceil d/b\rceil
/// \cdot 32 + d$ for `f32` ($64$ per level for `f64`); with $b = d$ that is $d + 68 + w(d+1)$.
///
/// The means are accumulated in `f64` (rescaled by the side's largest magnitude if even that
/// overflows, for `f64` entries near `f64::MAX`); NaN/±∞ input is refused with
/// [`CompressError::NonFinite`].
///
/// ```
/// use squeeze_compress::{OneBit, conformance::compress_once};
/// use squeeze_core::Compressor;
/// let m = compress_once(&OneBit::whole(), &[3.0f32, -1.0, 1.0, -3.0], 0).unwrap();
/// // μ⁺ = (3 + 1)/2 = 2, μ⁻ = (−1 − 3)/2 = −2
/// assert_eq!(m.to_dense().unwrap(), vec![2.0, -2.0, 2.0, -2.0]);
/// assert_eq!(m.bits(), 4 + 3 + 2 * 32 + 4);
/// let blocks = OneBit::new(2).unwrap();
/// let m = compress_once(&blocks, &[3.0f32, 1.0, -1.0, 5.0], 0).unwrap();
/// assert_eq!(m.to_dense().unwrap(), vec![2.0, 2.0, -1.0, 5.0]);
/// assert_eq!(Compressor::<f32>::class(&blocks, 4).alpha(), Some(0.5));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OneBit {
    /// Coordinates per block; `None`: the whole vector.
    block: Option<usize>,
}

impl OneBit {
    /// One block: the whole vector (`one_bit`).
    pub fn whole() -> Self {
        Self { block: None }
    }

    /// Blocks of `block ≥ 1` consecutive coordinates (`one_bit:block=b`).
    pub fn new(block: usize) -> Result<Self, ParamError> {
        ParamError::require(
            block >= 1,
            Self::NAME,
            "block",
            block,
            "the block length must be ≥ 1 (omit it for one block over the whole vector)",
        )?;
        Ok(Self { block: Some(block) })
    }

    /// The block length at dimension `d`: $\min(b, d)$ ($d$ without `block`; 0 at $d = 0$).
    pub fn block_at(&self, d: usize) -> usize {
        self.block.map_or(d, |b| b.min(d))
    }
}

impl Registered for OneBit {
    const NAME: &'static str = "one_bit";
    const SUMMARY: &'static str = "1-bit SGD quantiser: per block of b coordinates one bit each + the means of its nonnegative and negative entries; α = 1/min(b, d); d + 2⌈d/b⌉·32 + 4 + ⌈log₂(d+1)⌉ bits (f32) [Seide et al. 2014]";
    const PARAMS: &'static [ParamDoc] = &[ParamDoc {
        name: "block",
        doc: "coordinates per block (≥ 1; default: the whole vector)",
    }];
    const EXAMPLES: &'static [&'static str] = &["one_bit", "one_bit:block=4", "one_bit:block=1"];
    const BENCH: &'static [&'static str] = &["one_bit", "one_bit:block=256"];
    fn from_params(p: &mut Params) -> Result<Self, ParamError> {
        match p.u64("block")? {
            None => Ok(Self::whole()),
            Some(b) => Self::new(usize::try_from(b).unwrap_or(usize::MAX)),
        }
    }
}

/// Sum and count of one side of a block, accumulated in `f64`.
#[derive(Clone, Copy, Default)]
struct Side {
    sum: f64,
    count: usize,
}

impl Side {
    /// The side's mean as `S`; 0 for an empty side. A sum that overflowed `f64` (all entries
    /// finite) is recomputed rescaled by the side's largest magnitude.
    fn mean<S: Scalar>(self, block: &[S], negative: bool) -> S {
        if self.count == 0 {
            return S::ZERO;
        }
        let n = self.count as f64;
        if self.sum.is_finite() {
            return S::from_f64(self.sum / n);
        }
        let side = || block.iter().filter(move |v| (**v < S::ZERO) == negative);
        let m = side().fold(0.0f64, |m, v| m.max(v.to_f64().abs()));
        let s: f64 = side().map(|v| v.to_f64() / m).sum();
        S::from_f64(m * (s / n))
    }
}

compressor! {
    OneBit, |self, dim| {
        spec: match self.block {
            None => Self::NAME.to_string(),
            Some(b) => format!("{}:block={b}", Self::NAME),
        },
        class: Class::Contractive {
            alpha: 1.0 / self.block_at(dim).max(1) as f64,
        },
        deterministic: true,
    }
    compress_into |x, _ctx, out| {
        let d = x.len();
        squeeze_core::check_dim_basic(d)?;
        let b = self.block_at(d);
        let (levels, words) = out.binary_parts(d, b);
        levels.reserve(2 * d.div_ceil(b));
        words.reserve(d.div_ceil(64));
        let mut word = 0u64;
        for (k, block) in x.chunks(b).enumerate() {
            let (mut pos, mut neg) = (Side::default(), Side::default());
            for (i, &v) in block.iter().enumerate() {
                let j = k * b + i;
                let side = if v < S::ZERO {
                    word |= 1 << (j % 64);
                    &mut neg
                } else {
                    &mut pos
                };
                side.sum += v.to_f64();
                side.count += 1;
                if j % 64 == 63 {
                    words.push(word);
                    word = 0;
                }
            }
            if !(pos.sum.is_finite() && neg.sum.is_finite())
                && let Some((index, v)) = squeeze_core::ops::first_non_finite(block)
            {
                return Err(CompressError::NonFinite {
                    index: k * b + index,
                    value: v.to_f64(),
                });
            }
            levels.push(pos.mean(block, false));
            levels.push(neg.mean(block, true));
        }
        if !d.is_multiple_of(64) {
            words.push(word);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::{check_reuse, check_wire, compress_once};
    use crate::registry::{assert_refused, parse};

    fn dense<S: Scalar>(c: &OneBit, x: &[S]) -> Vec<S> {
        let m = compress_once(c, x, 0).unwrap();
        check_wire(&m, x.len()).unwrap();
        m.to_dense().unwrap()
    }

    #[test]
    fn zeros_one_sided_blocks_and_signed_zero() {
        // All zero: both levels 0, the output is exact.
        assert_eq!(dense(&OneBit::whole(), &[0.0f32; 5]), vec![0.0; 5]);
        // All nonnegative: one mean; the empty negative side is sent as 0.
        let m = compress_once(&OneBit::whole(), &[1.0f64, 2.0, 0.0, -0.0], 0).unwrap();
        assert_eq!(
            m,
            Message::Binary {
                dim: 4,
                block: 4,
                levels: vec![0.75, 0.0],
                negative: vec![0],
            }
        );
        // All negative in blocks of 2 (the last block has one coordinate).
        assert_eq!(
            dense(&OneBit::new(2).unwrap(), &[-1.0f32, -3.0, -5.0]),
            vec![-2.0, -2.0, -5.0]
        );
        // block = 1 is exact; block > d is one block.
        let x = [0.5f64, -7.0, 3.25];
        assert_eq!(dense(&OneBit::new(1).unwrap(), &x), x.to_vec());
        assert_eq!(
            dense(&OneBit::new(9).unwrap(), &x),
            dense(&OneBit::whole(), &x)
        );
        assert_eq!(
            Compressor::<f64>::class(&OneBit::new(9).unwrap(), 3).alpha(),
            Some(1.0 / 3.0)
        );
    }

    #[test]
    fn projection_identity_and_word_layout() {
        // d = 150 in blocks of 40: bits across word boundaries, error = ‖x‖² − ‖C(x)‖².
        let x: Vec<f64> = (0..150)
            .map(|j| ((j * 37 % 23) as f64 - 11.0) * 0.5)
            .collect();
        let c = OneBit::new(40).unwrap();
        let m = compress_once(&c, &x, 0).unwrap();
        let Message::Binary {
            negative, levels, ..
        } = &m
        else {
            panic!("not a binary message")
        };
        assert_eq!((negative.len(), levels.len()), (3, 8));
        for (j, &v) in x.iter().enumerate() {
            assert_eq!(negative[j / 64] >> (j % 64) & 1 == 1, v < 0.0, "bit {j}");
        }
        let y = m.to_dense().unwrap();
        let xx: f64 = x.iter().map(|v| v * v).sum();
        let yy: f64 = y.iter().map(|v| v * v).sum();
        let e: f64 = y.iter().zip(&x).map(|(a, b)| (a - b) * (a - b)).sum();
        assert!((e - (xx - yy)).abs() <= 1e-9 * xx, "{e} vs {}", xx - yy);
        assert!(e <= (1.0 - 1.0 / 40.0) * xx);
        // Never worse than scaled sign with one block.
        let s = compress_once(&crate::ScaledSign, &x, 0)
            .unwrap()
            .to_dense()
            .unwrap();
        let es: f64 = s.iter().zip(&x).map(|(a, b)| (a - b) * (a - b)).sum();
        let y1 = dense(&OneBit::whole(), &x);
        let e1: f64 = y1.iter().zip(&x).map(|(a, b)| (a - b) * (a - b)).sum();
        assert!(e1 <= es * (1.0 + 1e-12), "{e1} > {es}");
    }

    #[test]
    fn non_finite_refused_and_huge_values_rescaled() {
        for (bad, at) in [
            (f32::NAN, 0usize),
            (f32::INFINITY, 70),
            (f32::NEG_INFINITY, 99),
        ] {
            let mut x = vec![1.0f32; 100];
            x[at] = bad;
            for c in [OneBit::whole(), OneBit::new(8).unwrap()] {
                let e = compress_once(&c, &x, 0).unwrap_err();
                assert!(
                    matches!(e, CompressError::NonFinite { index, .. } if index == at),
                    "{e:?}"
                );
            }
        }
        assert_eq!(
            compress_once::<f32>(&OneBit::whole(), &[], 0).unwrap_err(),
            CompressError::EmptyInput
        );
        // The f64 sum overflows: the mean is recomputed rescaled.
        let y = dense(&OneBit::whole(), &[f64::MAX, f64::MAX, -1.0]);
        assert_eq!(y, vec![f64::MAX, f64::MAX, -1.0]);
    }

    #[test]
    fn registry_spec_and_reuse() {
        let c = parse::<f32>("one_bit").unwrap();
        assert_eq!(
            (c.spec(), c.class(10).alpha()),
            ("one_bit".to_string(), Some(0.1))
        );
        let c = parse::<f32>("one_bit:block=4").unwrap();
        assert_eq!(
            (c.spec(), c.class(10).alpha()),
            ("one_bit:block=4".to_string(), Some(0.25))
        );
        assert_refused("one_bit:block=0", "block length must be ≥ 1");
        assert_refused("one_bit:block=-1", "non-negative integer");
        let x: Vec<f32> = (0..300).map(|j| (j as f32 * 0.7).sin()).collect();
        check_reuse(c.as_ref(), &x, |m| match m {
            Message::Binary { levels, .. } => Some(levels.as_ptr()),
            _ => None,
        })
        .unwrap();
    }
}

//! Unbiased Rand-K on a symmetric matrix.

use squeeze_core::{Class, CompressCtx, CompressError, Compressor, Message, ParamError, Scalar};

use super::side_and_count;
use crate::RandK;
use crate::entry::{K_PARAMS, ParamDoc, Registered, compressor};
use crate::params::{KSpec, Params};

/// Symmetric Rand-K: of the packed upper triangle $p$ of a symmetric $d\times d$ matrix $H$
/// ($D = d(d+1)/2$ entries), keep $K$ uniformly random entries scaled by $D/K$:
/// $\mathcal C(H) = \frac DK \sum_{j\in S} p_j e_j$, $S$ a uniform $K$-subset of the triangle
/// (Newton-3PC's unbiased Rand-K on the triangle, algorithms.md §8.1). The sampling is
/// [`RandK`]'s (Floyd's algorithm on `ctx.rng`).
///
/// **Class**: unbiased with $\omega = D/K - 1$ in the Frobenius norm. Each entry is kept with
/// probability $K/D$, so $\mathbb E\thinspace\mathcal C(H)_j = p_j$ and
/// $\mathbb E(\mathcal C(H)_j - p_j)^2 = (D/K - 1)p_j^2$ entry by entry; summing with the
/// Frobenius weights $w_j \in \lbrace 1, 2\rbrace$ gives
/// $\mathbb E\lVert\mathcal C(H) - H\rVert_F^2 = (D/K - 1)\lVert H\rVert_F^2$ (tight for every $H$,
/// the same ω as in the Euclidean norm of the packed vector).
///
/// **Bits**: a `Sparse` message over $D$: $4 + \lceil\log_2(D+1)\rceil + K(\lceil\log_2
/// D\rceil + 32)$ for `f32`; the Newton-3PC code charges $32K$ (`bits_values32`).
///
/// ```
/// use squeeze_compress::matrix::SymRandK;
/// use squeeze_compress::conformance::compress_once;
/// use squeeze_core::{Compressor, Message};
/// let c = SymRandK::with_k(2).unwrap();
/// let m = compress_once(&c, &[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], 7).unwrap(); // d = 3
/// let Message::Sparse { indices, values, .. } = &m else { panic!() };
/// for (&i, &v) in indices.iter().zip(values) {
///     assert_eq!(v, 3.0 * (i as f32 + 1.0)); // × D/K = 6/2
/// }
/// assert_eq!(Compressor::<f32>::class(&c, 6).omega(), Some(2.0));
/// assert!(compress_once(&c, &[1.0f32; 4], 0).is_err()); // 4 is not d(d+1)/2
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SymRandK {
    k: KSpec,
    inner: RandK,
}

impl SymRandK {
    /// Keep `k` entries (or `ratio·D`), validated (`k ≥ 1`, `ratio ∈ (0, 1]`).
    pub fn new(k: KSpec) -> Result<Self, ParamError> {
        let k = k.validated(Self::NAME)?;
        Ok(Self {
            k,
            inner: RandK::new(k, true)?,
        })
    }

    /// Keep exactly `k ≥ 1` entries of the triangle.
    pub fn with_k(k: usize) -> Result<Self, ParamError> {
        Self::new(KSpec::Count(k))
    }
}

impl Registered for SymRandK {
    const NAME: &'static str = "sym_rand_k";
    const SUMMARY: &'static str = "matrix (packed symmetric): K uniformly random triangle entries × D/K; unbiased ω = D/K − 1 in Frobenius, D = d(d+1)/2 [Newton-3PC]; sparse, K(⌈log₂D⌉+32) bits + header (f32)";
    const PARAMS: &'static [ParamDoc] = &K_PARAMS;
    const EXAMPLES: &'static [&'static str] = &[
        "sym_rand_k:k=1",
        "sym_rand_k:k=3",
        "sym_rand_k:ratio=0.5",
        "sym_rand_k:ratio=1",
    ];
    const MATRIX: bool = true;
    fn from_params(p: &mut Params) -> Result<Self, ParamError> {
        Self::new(KSpec::from_params(p)?)
    }
}

compressor! {
    SymRandK, |self, dim| {
        spec: format!("{}:{}", Self::NAME, self.k.spec()),
        class: Class::Unbiased {
            omega: 1.0 / self.k.fraction(dim) - 1.0,
        },
        deterministic: false,
        fn check_dim(&self, dim: usize) -> Result<(), CompressError> {
            side_and_count(Self::NAME, &self.k, dim).map(|_| ())
        }
    }
    compress_into |x, ctx, out| {
        side_and_count(Self::NAME, &self.k, x.len())?;
        Compressor::<S>::compress_into(&self.inner, x, ctx, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::compress_once;
    use squeeze_core::sym::frobenius_sq;

    /// E‖C(H) − H‖²_F = (D/K − 1)‖H‖²_F, measured.
    #[test]
    fn frobenius_variance_is_omega() {
        let x = [3.0f64, -1.0, 2.0, 0.5, 1.0, -2.0]; // d = 3
        let c = SymRandK::with_k(2).unwrap();
        let n = 20_000;
        let mut mean = [0.0; 6];
        let mut var = 0.0;
        for seed in 0..n {
            let y = compress_once(&c, &x, seed).unwrap().to_dense().unwrap();
            let diff: Vec<f64> = y.iter().zip(&x).map(|(a, b)| a - b).collect();
            var += frobenius_sq(3, &diff);
            for (m, v) in mean.iter_mut().zip(&y) {
                *m += v;
            }
        }
        let want = 2.0 * frobenius_sq(3, &x);
        assert!(
            (var / n as f64 - want).abs() < 0.03 * want,
            "{} vs {want}",
            var / n as f64
        );
        for (m, v) in mean.iter().zip(&x) {
            assert!((m / n as f64 - v).abs() < 0.1, "{m} {v}");
        }
    }

    #[test]
    fn errors() {
        let c = SymRandK::with_k(7).unwrap();
        let e = Compressor::<f32>::check_dim(&c, 6).unwrap_err().to_string();
        assert!(
            e.contains("sym_rand_k") && e.contains("k must be ≤ d = 6"),
            "{e}"
        );
        let e = compress_once(&c, &[1.0f32; 8], 0).unwrap_err().to_string();
        assert!(e.contains("6 and 10"), "{e}");
        assert!(matches!(
            compress_once(&SymRandK::with_k(1).unwrap(), &[1.0f32, f32::NAN, 1.0], 0),
            Err(CompressError::NonFinite { index: 1, .. })
        ));
    }
}

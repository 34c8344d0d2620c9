//! Relative hard thresholding on a symmetric matrix.

use squeeze_core::{Class, CompressCtx, CompressError, Compressor, Message, ParamError, Scalar};

use super::side_of;
use crate::ThresholdRel;
use crate::entry::{ParamDoc, Registered, compressor};
use crate::params::Params;
use crate::threshold_abs::lambda_spec;
use crate::threshold_rel::{check_lambda, lambda_from_params};

/// Symmetric relative threshold: keep the entries of a symmetric $d\times d$ matrix $H$ with
/// $\lvert h_{ab}\rvert \ge \lambda\max_{ab}\lvert h_{ab}\rvert$, zero the rest, $\lambda \in (0, 1]$
/// (Newton-3PC's adaptive thresholding, algorithms.md §8.1). On the packed upper triangle
/// this is [`ThresholdRel`] entry by entry (an entry and its mirror are kept together).
///
/// **Class** (Frobenius, derived): contractive with
/// $$\alpha = \frac{1}{1 + (d^2 - 1)\lambda^2} \ \ge\ \max\lbrace 1 - (d^2-1)\lambda^2,\ 1/d^2\rbrace.$$
/// With $m = \max\lvert h_{ab}\rvert$ and $t = m^2/\lVert H\rVert_F^2 \in [1/d^2, 1]$: a largest
/// entry is kept (weight $w^\ast \ge 1$), and each of the other at most $d^2 - 1$ entries of $H$
/// that is dropped is below $\lambda m$, so
/// $\lVert\mathcal C(H) - H\rVert_F^2 \le \min\lbrace (d^2-1)\lambda^2 t,\ 1 - t\rbrace
/// \lVert H\rVert_F^2 \le \frac{a}{1+a}\lVert H\rVert_F^2$ with $a = (d^2-1)\lambda^2$ (the two
/// bounds cross at $t = 1/(1+a)$). The spec's vector form $\max\lbrace 1 - (D-1)\lambda^2,
/// 1/D\rbrace$ carries over with $D - 1$ replaced by the $d^2 - 1$ matrix entries besides the
/// largest (off-diagonal entries count twice), and the crossing argument sharpens it. The
/// bound is approached by a diagonal maximum with every other entry just below $\lambda m$.
///
/// **Bits**: a `Sparse` message over $D = d(d+1)/2$, #kept·$(\lceil\log_2 D\rceil + 32)$ +
/// header for `f32`.
///
/// ```
/// use squeeze_compress::matrix::SymThreshold;
/// use squeeze_compress::conformance::compress_once;
/// use squeeze_core::{Compressor, Message};
/// let c = SymThreshold::new(0.5).unwrap();
/// let m = compress_once(&c, &[4.0f32, -2.0, 1.0], 0).unwrap(); // [[4, −2], [−2, 1]]
/// assert_eq!(m, Message::Sparse { dim: 3, indices: vec![0, 1], values: vec![4.0, -2.0] });
/// // α = 1/(1 + 3·0.25) for d = 2.
/// assert_eq!(Compressor::<f32>::class(&c, 3).alpha(), Some(1.0 / 1.75));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SymThreshold {
    inner: ThresholdRel,
}

impl SymThreshold {
    /// Keep $\lvert h\rvert \ge \lambda\max\lvert h\rvert$; `lambda ∈ (0, 1]`.
    pub fn new(lambda: f64) -> Result<Self, ParamError> {
        Ok(Self {
            inner: ThresholdRel::new(check_lambda(Self::NAME, lambda)?)?,
        })
    }

    /// The contraction parameter for a $d\times d$ matrix: $1/(1 + (d^2 - 1)\lambda^2)$.
    pub fn alpha_side(&self, d: usize) -> f64 {
        let l = self.inner.lambda();
        let d = d.max(1) as f64;
        1.0 / (1.0 + (d * d - 1.0) * l * l)
    }
}

impl Registered for SymThreshold {
    const NAME: &'static str = "sym_threshold";
    const SUMMARY: &'static str = "matrix (packed symmetric): keep |h| ≥ λ·max|h|; contractive α = 1/(1 + (d²−1)λ²) in Frobenius (derived) [Newton-3PC adaptive thresholding]; sparse, #kept·(⌈log₂D⌉+32) bits + header (f32)";
    const PARAMS: &'static [ParamDoc] = &[ParamDoc {
        name: "lambda",
        doc: "relative threshold λ ∈ (0, 1] (required)",
    }];
    const EXAMPLES: &'static [&'static str] = &[
        "sym_threshold:lambda=0.5",
        "sym_threshold:lambda=0.1",
        "sym_threshold:lambda=1",
    ];
    const MATRIX: bool = true;
    fn from_params(p: &mut Params) -> Result<Self, ParamError> {
        Self::new(lambda_from_params(p)?)
    }
}

compressor! {
    SymThreshold, |self, dim| {
        spec: lambda_spec(Self::NAME, self.inner.lambda()),
        class: match squeeze_core::sym::tri_side(dim) {
            Some(d) if d > 0 => Class::Contractive { alpha: self.alpha_side(d) },
            _ => Class::Neither,
        },
        deterministic: true,
        fn check_dim(&self, dim: usize) -> Result<(), CompressError> {
            side_of(Self::NAME, dim).map(|_| ())
        }
    }
    compress_into |x, ctx, out| {
        side_of(Self::NAME, x.len())?;
        Compressor::<S>::compress_into(&self.inner, x, ctx, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::compress_once;
    use squeeze_core::sym::frobenius_sq;

    fn rel_err(lambda: f64, d: usize, x: &[f64]) -> f64 {
        let y = compress_once(&SymThreshold::new(lambda).unwrap(), x, 0)
            .unwrap()
            .to_dense()
            .unwrap();
        let diff: Vec<f64> = y.iter().zip(x).map(|(a, b)| a - b).collect();
        frobenius_sq(d, &diff) / frobenius_sq(d, x)
    }

    /// The worst case nearly attains 1 − α = a/(1 + a), and the vector-case constant
    /// max(1 − (D−1)λ², 1/D) on the packed vector would be violated there.
    #[test]
    fn bound_is_nearly_attained() {
        for (d, lambda) in [(2, 0.3), (3, 0.2), (4, 0.1), (3, 0.05)] {
            let c = SymThreshold::new(lambda).unwrap();
            let below = lambda * (1.0 - 1e-9);
            // Diagonal maximum 1 at (0, 0), every other entry just below λ.
            let dd = d * (d + 1) / 2;
            let mut x = vec![below; dd];
            x[0] = 1.0;
            let e = rel_err(lambda, d, &x);
            let one_minus_alpha = 1.0 - c.alpha_side(d);
            assert!(
                e <= one_minus_alpha + 1e-12,
                "d {d}: {e} > {one_minus_alpha}"
            );
            assert!(
                e > 0.999 * one_minus_alpha,
                "d {d}: {e} ≪ {one_minus_alpha}"
            );
            let vector_alpha = (1.0 - (dd as f64 - 1.0) * lambda * lambda).max(1.0 / dd as f64);
            assert!(e > 1.0 - vector_alpha, "d {d}: vector constant would hold");
            // The sharper form dominates the spec's max{1 − (d²−1)λ², 1/d²}.
            let a = (d * d - 1) as f64 * lambda * lambda;
            assert!(c.alpha_side(d) >= (1.0 - a).max(1.0 / (d * d) as f64));
        }
    }

    #[test]
    fn errors() {
        assert!(SymThreshold::new(0.0).is_err());
        assert!(SymThreshold::new(1.5).is_err());
        let c = SymThreshold::new(0.5).unwrap();
        let e = compress_once(&c, &[1.0f32; 2], 0).unwrap_err().to_string();
        assert!(e.contains("1 and 3"), "{e}");
        assert!(Compressor::<f32>::check_dim(&c, 4).is_err());
        assert_eq!(Compressor::<f32>::class(&c, 4), Class::Neither);
    }
}

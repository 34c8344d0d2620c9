//! Relative (adaptive) hard threshold: keep the entries with $|x_j| \ge \lambda\lVert x\rVert_\infty$.

use squeeze_core::{
    Class, CompressCtx, CompressError, Compressor, Message, ParamError, Scalar, Sparsifier,
};

use crate::entry::{ParamDoc, Registered, compressor};
use crate::params::Params;
use crate::sparse_scan::round_up;
use crate::threshold_abs::{keep_at_least, lambda_spec};

/// Relative hard threshold (the adaptive thresholding of Newton-3PC, Islamov et al. 2022):
/// $\mathcal{C}(x)\_j = x_j$ if $|x_j| \ge \lambda\lVert x\rVert_\infty$, else $0$, with
/// $\lambda \in (0, 1]$.
///
/// **Class**: contractive with $\alpha = \max\lbrace1 - (d-1)\lambda^2,\ 1/d\rbrace$ (derived,
/// `algorithms.md` §8.1; the paper's constant is UNCONFIRMED). The largest entry is always kept (as
/// $\lambda \le 1$), and every dropped entry has $|x_j| < \lambda\lVert x\rVert_\infty$, so
/// $\lVert\mathcal{C}(x) - x\rVert^2 \le \min\lbrace(d-1)\lambda^2\lVert x\rVert_\infty^2,\ \lVert x\rVert^2 -
/// \lVert x\rVert_\infty^2\rbrace \le \min\lbrace(d-1)\lambda^2,\ 1 - 1/d\rbrace\thinspace\lVert x\rVert^2$
/// using $\lVert x\rVert_\infty^2 \le \lVert x\rVert^2 \le d\lVert x\rVert_\infty^2$. The number of
/// kept entries depends on the input ([`Sparsifier::kept`] is `None`).
///
/// **Conventions** (chosen here, tested below):
/// * $x = 0$ sends nothing (an empty sparse message). Read literally, $|x_j| \ge 0$ would keep
///   every zero; sending none gives the same $\mathcal{C}(x) = 0 = x$.
/// * Zeros are never kept when $x \ne 0$.
/// * $\lambda\lVert x\rVert_\infty$ is computed in `f64` and lowered by one unit in the last place,
///   so rounding can only keep *more* entries: every entry with $|x_j| \ge \lambda\lVert x\rVert_\infty$
///   (in exact arithmetic) is kept, ties included, and the class bound holds exactly.
///
/// **Bits**: $4 + \lceil\log_2(d+1)\rceil + |S|(\lceil\log_2 d\rceil + 32)$ for `f32`, with $|S|$
/// the number of kept entries (64-bit values for `f64`). Two passes over $x$: the maximum, then
/// the chunked threshold scan.
///
/// ```
/// use squeeze_compress::ThresholdRel;
/// use squeeze_core::{Compressor, CompressCtx, Message, Scratch, SqueezeRng};
/// let c = ThresholdRel::new(0.5).unwrap();
/// let (mut rng, mut scratch) = (SqueezeRng::from_seed_u64(0), Scratch::default());
/// let mut ctx = CompressCtx::new(&mut rng, &mut scratch);
/// // ‖x‖∞ = 4: keep |x_j| ≥ 2 (the tie at 2 is kept).
/// let m = c.compress(&[1.0f32, -4.0, 2.0, 1.9], &mut ctx).unwrap();
/// assert_eq!(m, Message::Sparse { dim: 4, indices: vec![1, 2], values: vec![-4.0, 2.0] });
/// // α = max(1 − 3·0.25, 1/4) = 0.25.
/// assert_eq!(Compressor::<f32>::class(&c, 4).alpha(), Some(0.25));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThresholdRel {
    lambda: f64,
}

impl ThresholdRel {
    /// Keep `|x_j| ≥ lambda·‖x‖∞`; `lambda ∈ (0, 1]`.
    pub fn new(lambda: f64) -> Result<Self, ParamError> {
        Ok(Self {
            lambda: check_lambda(Self::NAME, lambda)?,
        })
    }

    /// The relative threshold λ.
    pub fn lambda(&self) -> f64 {
        self.lambda
    }

    /// The contraction parameter at dimension `d`: `max(1 − (d−1)λ², 1/d)`.
    pub fn alpha(&self, d: usize) -> f64 {
        let d = d.max(1) as f64;
        (1.0 - (d - 1.0) * self.lambda * self.lambda).max(1.0 / d)
    }
}

/// A relative threshold λ ∈ (0, 1] for `component`.
pub(crate) fn check_lambda(component: &'static str, lambda: f64) -> Result<f64, ParamError> {
    ParamError::require(
        lambda > 0.0 && lambda <= 1.0,
        component,
        "lambda",
        lambda,
        "lambda must be in (0, 1] (a fraction of the largest magnitude; 1 keeps only the maxima)",
    )?;
    Ok(lambda)
}

/// The required relative threshold `lambda` (not yet checked, see [`check_lambda`]).
pub(crate) fn lambda_from_params(p: &mut Params) -> Result<f64, ParamError> {
    p.require("lambda", Params::f64, "<fraction in (0, 1]>", "0.1")
}

impl Registered for ThresholdRel {
    const NAME: &'static str = "threshold_rel";
    const SUMMARY: &'static str = "keep |x_j| ≥ λ‖x‖∞ (Newton-3PC adaptive thresholding); contractive α = max(1 − (d−1)λ², 1/d) (derived); #kept·(⌈log₂d⌉+32) bits + header (f32)";
    const PARAMS: &'static [ParamDoc] = &[ParamDoc {
        name: "lambda",
        doc: "relative threshold λ ∈ (0, 1] (required)",
    }];
    const EXAMPLES: &'static [&'static str] = &[
        "threshold_rel:lambda=0.5",
        "threshold_rel:lambda=0.1",
        "threshold_rel:lambda=1",
        "threshold_rel:lambda=1e-30",
    ];
    const BENCH: &'static [&'static str] = &["threshold_rel:lambda=0.01"];
    fn from_params(p: &mut Params) -> Result<Self, ParamError> {
        Self::new(lambda_from_params(p)?)
    }
}

compressor! {
    ThresholdRel, |self, dim| {
        spec: lambda_spec(Self::NAME, self.lambda),
        class: Class::Contractive {
            alpha: self.alpha(dim),
        },
        deterministic: true,
    }
    sparsify_into |x, _ctx, indices, values| {
        keep_at_least(x, indices, values, |x| {
            // NaN-ignoring maximum; a NaN or ±∞ is reported by the scan (or, for x = 0 with
            // NaNs, by the check of `x`).
            let m = squeeze_core::ops::max_abs(x).to_f64();
            if m == 0.0 {
                return None;
            }
            // fl(λ·m) ≤ m since λ ≤ 1, so the maximum is kept. One ulp down makes the
            // threshold ≤ the exact product (relative rounding error ≤ 2⁻⁵³ for normal
            // results, ≤ half a subnormal ulp otherwise); then the least S not below it, and
            // never below the smallest positive S so that zeros are dropped.
            let p = self.lambda * m;
            let t64 = if p > 0.0 && p.is_finite() {
                f64::from_bits(p.to_bits() - 1)
            } else {
                p
            };
            let smallest = S::from_bits_u64(1);
            Some(round_up::<S>(t64).max(smallest))
        })
    },
    kept |_d| None,
    projection: true,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::compress_once;

    fn compress<S: Scalar>(lambda: f64, x: &[S]) -> Result<Message<S>, CompressError> {
        compress_once(&ThresholdRel::new(lambda).unwrap(), x, 0)
    }

    fn kept<S: Scalar>(lambda: f64, x: &[S]) -> Vec<u32> {
        match compress(lambda, x).unwrap() {
            Message::Sparse { indices, .. } => indices,
            other => panic!("not sparse: {other:?}"),
        }
    }

    #[test]
    fn hand_computed() {
        let x = [0.0f64, 3.0, -6.0, 2.9, 6.0, -1.0];
        assert_eq!(kept(0.5, &x), vec![1, 2, 4]);
        assert_eq!(kept(1.0, &x), vec![2, 4]);
        assert_eq!(kept(1e-9, &x), vec![1, 2, 3, 4, 5]);
        // 0.1 · 10 = 1: the tie is kept, the f32 just below 1 is not.
        assert_eq!(kept(0.1, &[10.0f32, 1.0, 0.99999994]), vec![0, 1]);
        // The maximum is kept even when λ·max is not representable.
        assert_eq!(kept(1.0, &[f32::MAX, -f32::MAX, 1.0]), vec![0, 1]);
        // Subnormal maxima are kept too.
        let sub = [f64::from_bits(1), f64::from_bits(3), 0.0];
        assert!(kept(1.0, &sub).contains(&1));
        // Underflowing λ·max: every non-zero entry, no zero.
        assert_eq!(kept(1e-30, &[f32::from_bits(1), 0.0, -1e-40]), vec![0, 2]);
    }

    #[test]
    fn zero_input_sends_nothing() {
        let m = compress(0.5, &[0.0f32, -0.0, 0.0]).unwrap();
        assert_eq!(
            m,
            Message::Sparse {
                dim: 3,
                indices: vec![],
                values: vec![]
            }
        );
        assert_eq!(m.bits(), 4 + 2);
    }

    #[test]
    fn class_and_bound() {
        let c = ThresholdRel::new(0.5).unwrap();
        assert_eq!(c.alpha(1), 1.0);
        assert_eq!(c.alpha(2), 0.75);
        assert_eq!(c.alpha(100), 0.01);
        // The worst case for small d: d−1 entries just below λ‖x‖∞.
        let lam = 0.01;
        let below = lam * (1.0 - 1e-9);
        let x = [1.0, below, -below, below];
        let m = compress(lam, &x).unwrap();
        let dense = m.to_dense().unwrap();
        let err: f64 = dense.iter().zip(&x).map(|(a, b)| (a - b) * (a - b)).sum();
        let xx: f64 = x.iter().map(|v| v * v).sum();
        let a = ThresholdRel::new(lam).unwrap().alpha(4);
        assert!(err <= (1.0 - a) * xx, "{err} > {}", (1.0 - a) * xx);
        assert!(err > 0.99 * (1.0 - a) * xx, "the bound is nearly attained");
    }

    #[test]
    fn errors() {
        for bad in [0.0, -0.5, 1.5, f64::INFINITY] {
            let e = ThresholdRel::new(bad).unwrap_err().to_string();
            assert!(e.contains("lambda must be in (0, 1]"), "{e}");
        }
        let e = crate::registry::parse::<f32>("threshold_rel:lambda=2")
            .unwrap_err()
            .to_string();
        assert!(e.contains("(0, 1]"), "{e}");
        assert_eq!(
            compress::<f32>(0.5, &[]).unwrap_err(),
            CompressError::EmptyInput
        );
        for x in [
            vec![0.0f32, f32::NAN, 0.0],
            vec![1.0, f32::NAN, 5.0],
            vec![1.0, f32::INFINITY, f32::NAN],
            vec![0.0, f32::NEG_INFINITY],
        ] {
            let e = compress(0.5, &x).unwrap_err();
            assert!(
                matches!(e, CompressError::NonFinite { index: 1, .. }),
                "{x:?}: {e}"
            );
        }
    }

    #[test]
    fn long_input_matches_definition() {
        let x: Vec<f32> = (0..5000)
            .map(|i| (((i * 7919) % 2003) as f32 - 1001.0) * 1e-3)
            .collect();
        let m = x.iter().fold(0.0f32, |a, v| a.max(v.abs())) as f64;
        let want: Vec<u32> = (0..5000u32)
            .filter(|&i| (x[i as usize].abs() as f64) >= 0.25 * m)
            .collect();
        assert_eq!(kept(0.25, &x), want);
    }
}

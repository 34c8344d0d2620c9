//! Separable regularisers r(x) added to every worker's loss.
//!
//! | variant | r(x) | ∇r(x)_k | ∇²r(x)_kk | smoothness of r | min r'' |
//! |---|---|---|---|---|---|
//! | `None` | 0 | 0 | 0 | 0 | 0 |
//! | `L2 { lambda }` | (λ/2)‖x‖² | λ x_k | λ | λ | λ |
//! | `Nonconvex { lambda }` | λ Σ_k x_k²/(1 + x_k²) | λ·2x_k/(1 + x_k²)² | 2λ(1 − 3x_k²)/(1 + x_k²)³ | 2λ (the second derivative peaks at 0) | −λ/2 (at x_k² = 1) |
//!
//! r is separable, so ∇²r(x) is diagonal.
//!
//! The nonconvex regulariser with λ = 0.1 is the EF21 default (algorithms.md §10.1).
//!
//! ```
//! use squeeze_problems::Regularizer;
//! let r = Regularizer::Nonconvex { lambda: 0.1 };
//! assert!((r.value(&[1.0f64]) - 0.05).abs() < 1e-15);
//! let mut g = [0.0f64];
//! r.add_grad(&[1.0], &mut g);
//! assert!((g[0] - 0.05).abs() < 1e-15); // 0.1·2·1/(1+1)²
//! assert_eq!(r.smoothness(), 0.2);
//! ```

use squeeze_core::{ParamError, Scalar};

/// A separable regulariser (see the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Regularizer {
    /// r = 0.
    #[default]
    None,
    /// r(x) = (λ/2)‖x‖².
    L2 {
        /// λ ≥ 0.
        lambda: f64,
    },
    /// r(x) = λ Σ x_k²/(1 + x_k²).
    Nonconvex {
        /// λ ≥ 0.
        lambda: f64,
    },
}

impl Regularizer {
    /// The EF21 default: nonconvex with λ = 0.1.
    pub const EF21: Self = Self::Nonconvex { lambda: 0.1 };

    /// Check λ is finite and ≥ 0.
    pub fn validate(&self) -> Result<(), ParamError> {
        match *self {
            Self::None => Ok(()),
            Self::L2 { lambda } | Self::Nonconvex { lambda } => {
                if lambda.is_finite() && lambda >= 0.0 {
                    Ok(())
                } else {
                    Err(ParamError::new(
                        "regularizer",
                        "lambda",
                        lambda,
                        "the regularisation strength must be finite and ≥ 0",
                    ))
                }
            }
        }
    }

    /// r(x), accumulated in `f64`.
    pub fn value<S: Scalar>(&self, x: &[S]) -> f64 {
        match *self {
            Self::None => 0.0,
            Self::L2 { lambda } => {
                0.5 * lambda * x.iter().map(|v| v.to_f64() * v.to_f64()).sum::<f64>()
            }
            Self::Nonconvex { lambda } => {
                lambda
                    * x.iter()
                        .map(|v| {
                            let s = v.to_f64() * v.to_f64();
                            // For |x| ≳ 1e154 the square overflows; the term's limit is 1.
                            if s.is_infinite() { 1.0 } else { s / (1.0 + s) }
                        })
                        .sum::<f64>()
            }
        }
    }

    /// grad += ∇r(x) (lengths must match; extra entries of the longer slice are ignored).
    #[inline]
    pub fn add_grad<S: Scalar>(&self, x: &[S], grad: &mut [S]) {
        match *self {
            Self::None => {}
            Self::L2 { lambda } => {
                let l = S::from_f64(lambda);
                for (g, &v) in grad.iter_mut().zip(x) {
                    *g += l * v;
                }
            }
            Self::Nonconvex { lambda } => {
                let l2 = S::from_f64(2.0 * lambda);
                for (g, &v) in grad.iter_mut().zip(x) {
                    let q = S::ONE + v * v;
                    *g += l2 * v / (q * q);
                }
            }
        }
    }

    /// r''(x_k) for each k, added to the diagonal of the d × d row-major `h` (`d` = `x.len()`;
    /// `h` must hold d² entries — the callers check it).
    ///
    /// ```
    /// use squeeze_problems::Regularizer;
    /// let mut h = [0.0f64; 4];
    /// Regularizer::Nonconvex { lambda: 0.1 }.add_hessian(&[0.0, 1.0], &mut h);
    /// assert_eq!(h, [0.2, 0.0, 0.0, -0.05]); // 2λ at 0, −λ/2 at x² = 1
    /// ```
    #[inline]
    pub fn add_hessian<S: Scalar>(&self, x: &[S], h: &mut [S]) {
        let d = x.len();
        for (k, &v) in x.iter().enumerate() {
            if let Some(r2) = self.second_derivative(v) {
                h[k * d + k] += r2;
            }
        }
    }

    /// out += ∇²r(x)·v (lengths must match; extra entries of the longer slice are ignored).
    #[inline]
    pub fn add_hess_vec<S: Scalar>(&self, x: &[S], v: &[S], out: &mut [S]) {
        if matches!(self, Self::None) {
            return;
        }
        for ((o, &xk), &vk) in out.iter_mut().zip(x).zip(v) {
            if let Some(r2) = self.second_derivative(xk) {
                *o += r2 * vk;
            }
        }
    }

    /// r''(x) of one coordinate; `None` for no regulariser.
    #[inline(always)]
    fn second_derivative<S: Scalar>(&self, x: S) -> Option<S> {
        match *self {
            Self::None => None,
            Self::L2 { lambda } => Some(S::from_f64(lambda)),
            Self::Nonconvex { lambda } => {
                let s = x.to_f64() * x.to_f64();
                if s.is_infinite() {
                    // |x| ≳ 1e154: the limit of the term is 0 (∞/∞ would give NaN).
                    return Some(S::ZERO);
                }
                let q = 1.0 + s;
                Some(S::from_f64(2.0 * lambda * (1.0 - 3.0 * s) / (q * q * q)))
            }
        }
    }

    /// A lower bound on every r''(x_k), valid for all x: 0, λ or −λ/2 (see the table above).
    pub fn min_curvature(&self) -> f64 {
        match *self {
            Self::None => 0.0,
            Self::L2 { lambda } => lambda,
            Self::Nonconvex { lambda } => -0.5 * lambda,
        }
    }

    /// Smoothness constant of r: 0, λ or 2λ.
    ///
    /// ```
    /// use squeeze_problems::Regularizer;
    /// // The nonconvex term stays finite for huge x (its limit is λ per coordinate).
    /// let r = Regularizer::Nonconvex { lambda: 0.1 };
    /// assert_eq!(r.value(&[1e200f64, -1e300]), 0.2);
    /// let mut g = [0.0f64; 2];
    /// r.add_grad(&[1e200f64, 1e-200], &mut g);
    /// assert!(g.iter().all(|v| v.is_finite()));
    /// ```
    pub fn smoothness(&self) -> f64 {
        match *self {
            Self::None => 0.0,
            Self::L2 { lambda } => lambda,
            Self::Nonconvex { lambda } => 2.0 * lambda,
        }
    }
}

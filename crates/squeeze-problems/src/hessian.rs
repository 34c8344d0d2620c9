//! Second-order oracles: local Hessians ∇²f_i(x), Hessian–vector products and what is known
//! of the curvature everywhere.
//!
//! Newton-type methods with compressed Hessians (Newton-3PC, FedNL, BL1; algorithms.md §8)
//! learn each worker's Hessian H_i ≈ ∇²f_i(x) and step with the server's average. The
//! [`Oracle`](crate::Oracle) trait provides, next to the gradient:
//!
//! * [`Oracle::hessian`](crate::Oracle::hessian) — ∇²f_i(x) as a dense, row-major d × d
//!   matrix, exactly symmetric (the lower triangle is a copy of the upper one);
//! * [`Oracle::hess_vec`](crate::Oracle::hess_vec) — ∇²f_i(x)·v in O(nnz) without forming the
//!   matrix;
//! * [`Oracle::curvature`](crate::Oracle::curvature) — `None` if the oracle has no Hessian,
//!   else a [`Curvature`]: a lower bound μ on λ_min(∇²f_i(x)) valid at every x. μ > 0 means
//!   strongly convex (Newton-3PC's option 1 projects onto {H ⪰ μI}); μ < 0 means nonconvex,
//!   which the methods that need positive-definite Hessians refuse at construction.
//!
//! | problem | ∇²f_i(x) | μ |
//! |---|---|---|
//! | logistic regression | (1/m_i) Σ_j σ(t_j)σ(−t_j) a_j a_jᵀ + ∇²r(x), t_j = b_j a_jᵀx | μ_r |
//! | least squares | (1/m_i) A_iᵀA_i + ∇²r(x) | μ_r |
//! | 3PC tridiagonal quadratic | A_i = tridiag(o, a, o) | a − 2\|o\| cos(π/(d+1)) |
//! | MoTEF quadratic | a_i² I | a_i² |
//!
//! with the regulariser's ∇²r(x) = diag(r''(x_k)) and its bound μ_r = min r'': 0 for none, λ for
//! L2, and −λ/2 for the nonconvex λ Σ x²/(1+x²) (r'' = 2λ(1 − 3x²)/(1 + x²)³, smallest at
//! x² = 1). A Hessian of a finite sum costs m_i samples in [`Counted`](crate::Counted), like a
//! gradient; so does a Hessian–vector product.
//!
//! Like the gradient methods, the hot methods return no errors: a wrong length (x of length
//! ≠ d, or h of length ≠ d²) writes NaN into the output. Check shapes once at setup with
//! [`check_hessian_len`].
//!
//! ```
//! use squeeze_problems::{data::{Csr, Dataset}, logreg::LogReg, oracle::Oracle, Regularizer};
//! let a = Csr::from_dense(2, &[1.0f64, 0.0, 1.0, 2.0]).unwrap();
//! let f = LogReg::new(
//!     Dataset::new("toy", a, vec![1.0, -1.0]).unwrap(),
//!     Regularizer::L2 { lambda: 0.1 },
//! )
//! .unwrap();
//! let mut h = vec![0.0; 4];
//! f.hessian(&[0.0, 0.0], &mut h);
//! // At x = 0 every weight is σ(0)σ(0) = 1/4: H = (1/2)(1/4)(a₁a₁ᵀ + a₂a₂ᵀ) + 0.1 I.
//! assert_eq!(h, [0.25 + 0.1, 0.25, 0.25, 0.5 + 0.1]);
//! assert_eq!(f.curvature().unwrap().min_eigenvalue, 0.1);
//! ```

use squeeze_core::{LengthMismatch, Scalar};

use crate::data::Row;
use crate::regularizer::Regularizer;

/// What is known of ∇²f_i(x) at every x (see the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Curvature {
    /// A lower bound μ on λ_min(∇²f_i(x)), valid for every x (not necessarily tight).
    pub min_eigenvalue: f64,
}

impl Curvature {
    /// A convex data term plus `reg`: μ is the regulariser's smallest curvature (λ for L2, 0
    /// for none, −λ/2 for the nonconvex one).
    pub(crate) fn convex_plus(reg: Regularizer) -> Self {
        Self {
            min_eigenvalue: reg.min_curvature(),
        }
    }

    /// μ ≥ 0: every Hessian is positive semidefinite.
    pub fn is_convex(&self) -> bool {
        self.min_eigenvalue >= 0.0
    }

    /// `Some(μ)` if μ > 0 (strongly convex), else `None`.
    ///
    /// ```
    /// use squeeze_problems::hessian::Curvature;
    /// assert_eq!(Curvature { min_eigenvalue: 1e-3 }.strong_convexity(), Some(1e-3));
    /// assert_eq!(Curvature { min_eigenvalue: 0.0 }.strong_convexity(), None);
    /// assert!(!Curvature { min_eigenvalue: -0.05 }.is_convex());
    /// ```
    pub fn strong_convexity(&self) -> Option<f64> {
        (self.min_eigenvalue > 0.0).then_some(self.min_eigenvalue)
    }

    /// The bound for the average (1/n) Σ_i f_i of functions with bounds μ_i: the mean of the
    /// μ_i (λ_min is concave, so λ_min(avg H_i) ≥ avg λ_min(H_i)). `None` for an empty list.
    pub fn mean(parts: impl IntoIterator<Item = Curvature>) -> Option<Curvature> {
        let (mut sum, mut n) = (0.0, 0usize);
        for c in parts {
            sum += c.min_eigenvalue;
            n += 1;
        }
        (n > 0).then(|| Curvature {
            min_eigenvalue: sum / n as f64,
        })
    }
}

/// Setup-time check that `len` is the length of a d × d Hessian buffer.
///
/// ```
/// use squeeze_problems::hessian::check_hessian_len;
/// assert!(check_hessian_len(3, 9).is_ok());
/// assert_eq!(check_hessian_len(3, 6).unwrap_err().expected, 9);
/// ```
pub fn check_hessian_len(d: usize, len: usize) -> Result<(), LengthMismatch> {
    let expected = d.saturating_mul(d);
    if len == expected {
        Ok(())
    } else {
        Err(LengthMismatch { expected, got: len })
    }
}

/// `true` if `x` has length d and `h` length d²; otherwise fills `h` with NaN.
#[inline]
pub(crate) fn hessian_dims_ok<S: Scalar>(d: usize, x: &[S], h: &mut [S]) -> bool {
    if x.len() == d && check_hessian_len(d, h.len()).is_ok() {
        true
    } else {
        h.fill(S::from_f64(f64::NAN));
        false
    }
}

/// `true` if `x`, `v` and `out` all have length d; otherwise fills `out` with NaN.
#[inline]
pub(crate) fn hess_vec_dims_ok<S: Scalar>(d: usize, x: &[S], v: &[S], out: &mut [S]) -> bool {
    if x.len() == d && v.len() == d && out.len() == d {
        true
    } else {
        out.fill(S::from_f64(f64::NAN));
        false
    }
}

/// Upper triangle (row ≤ column) of the d × d row-major `h` += w·a aᵀ for a sparse row `a`
/// (sorted indices, so every pair lands on or above the diagonal). Accumulated in `f64` per
/// product, stored in `S`. Call [`mirror_upper`] once after the last row.
#[inline]
pub(crate) fn add_outer_upper<S: Scalar>(row: Row<'_, S>, w: f64, d: usize, h: &mut [S]) {
    for (p, (&ip, &ap)) in row.indices.iter().zip(row.values).enumerate() {
        let wp = w * ap.to_f64();
        let base = ip as usize * d;
        for (&iq, &aq) in row.indices[p..].iter().zip(&row.values[p..]) {
            h[base + iq as usize] += S::from_f64(wp * aq.to_f64());
        }
    }
}

/// `out` += w·(aᵀv)·a for a sparse row `a` (a Hessian–vector product term).
#[inline]
pub(crate) fn add_outer_times<S: Scalar>(row: Row<'_, S>, w: f64, v: &[S], out: &mut [S]) {
    let c = w * row.dot(v).to_f64();
    row.axpy(S::from_f64(c), out);
}

pub(crate) use squeeze_core::sym::mirror_upper;
/// The packed upper triangle ([`squeeze_core::sym`]): one definition of the layout, shared
/// with the matrix compressors of `squeeze-compress`.
pub use squeeze_core::sym::{pack_upper, unpack_upper};

/// The Hessian of a weighted Gram sum plus a regulariser, the shape every problem here has:
/// `h` = Σ_j w_j a_j a_jᵀ + ∇²r(x) over `rows` = (a_j, w_j), exactly symmetric; NaN in `h` if
/// `x` is not of length d or `h` not of length d².
pub(crate) fn gram_hessian<'a, S: Scalar>(
    d: usize,
    x: &[S],
    reg: Regularizer,
    rows: impl Iterator<Item = (Row<'a, S>, f64)>,
    h: &mut [S],
) {
    if !hessian_dims_ok(d, x, h) {
        return;
    }
    h.fill(S::ZERO);
    for (row, w) in rows {
        add_outer_upper(row, w, d, h);
    }
    mirror_upper(d, h);
    reg.add_hessian(x, h);
}

/// [`gram_hessian`] times `v` without forming the matrix: `out` = Σ_j w_j (a_jᵀv) a_j + ∇²r(x)·v.
pub(crate) fn gram_hess_vec<'a, S: Scalar>(
    d: usize,
    x: &[S],
    v: &[S],
    reg: Regularizer,
    rows: impl Iterator<Item = (Row<'a, S>, f64)>,
    out: &mut [S],
) {
    if !hess_vec_dims_ok(d, x, v, out) {
        return;
    }
    out.fill(S::ZERO);
    for (row, w) in rows {
        add_outer_times(row, w, v, out);
    }
    reg.add_hess_vec(x, v, out);
}

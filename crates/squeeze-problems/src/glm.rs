//! Generalised linear models: the data basis of a local Hessian and its coefficients.
//!
//! A worker's objective is a GLM when it is $f_i(x) = \tfrac1{m_i}\sum_j \varphi_{ij}(a_{ij}^\top x) + r(x)$
//! for data rows $a_{ij}$ and scalar losses $\varphi_{ij}$; its Hessian is then a combination of
//! the rows' outer products,
//!
//! $$\nabla^2 f_i(x) = \sum_{j=1}^{m_i} c_{ij}(x)\thinspace a_{ij}a_{ij}^\top + \nabla^2 r(x),
//! \qquad c_{ij}(x) = \frac{\varphi_{ij}^{\prime\prime}(a_{ij}^\top x)}{m_i},$$
//!
//! so that $m_i$ numbers (the coefficients) and the fixed rows (the basis) describe the whole
//! $d \times d$ matrix. Basis Learn (BL1, Qian et al. 2022) learns and sends the coefficients
//! instead of the matrix. The [`Glm`] trait gives that access:
//!
//! | problem | $\varphi_{ij}(t)$ | $c_{ij}(x)$ |
//! |---|---|---|
//! | logistic regression | $\log(1 + e^{-b_{ij}t})$ | $\sigma(t_j)\sigma(-t_j)/m_i$, $t_j = b_{ij}a_{ij}^\top x$ |
//! | least squares | $\tfrac12(t - b_{ij})^2$ | $1/m_i$ (constant) |
//!
//! An oracle exposes its view with [`Oracle::glm`](crate::Oracle::glm) (`None` by default: the
//! quadratics are not GLMs); [`glm_views`] collects a problem's views or says which worker is
//! not one ([`NotGlm`]).
//!
//! ```
//! use squeeze_problems::{data::{Csr, Dataset}, glm::add_gram_upper, logreg::LogReg, oracle::Oracle, Regularizer};
//! let a = Csr::from_dense(2, &[1.0f64, 0.0, 1.0, 2.0]).unwrap();
//! let f = LogReg::new(Dataset::new("toy", a, vec![1.0, -1.0]).unwrap(), Regularizer::L2 { lambda: 0.1 }).unwrap();
//! let glm = f.glm().unwrap();
//! let mut c = [0.0; 2];
//! glm.coefficients(&[0.0, 0.0], &mut c);
//! assert_eq!(c, [0.125, 0.125]); // σ(0)σ(0)/m = 1/8
//! // Σ_j c_j a_j a_jᵀ (upper triangle, then mirrored) plus λI is the Hessian.
//! let mut h = [0.0; 4];
//! add_gram_upper(glm.rows(), &c, 1.0, &mut h).unwrap();
//! h[2] = h[1];
//! h[0] += 0.1;
//! h[3] += 0.1;
//! let mut want = [0.0; 4];
//! f.hessian(&[0.0, 0.0], &mut want);
//! assert_eq!(h, want);
//! ```

use squeeze_core::{LengthMismatch, Scalar};
use thiserror::Error;

use crate::data::Csr;
use crate::hessian::{add_outer_upper, check_hessian_len};
use crate::problem::Problem;
use crate::regularizer::Regularizer;

/// A worker's objective as a generalised linear model (see the [module docs](self)).
pub trait Glm<S: Scalar>: Send + Sync {
    /// The data rows $a_{ij}$ ($m_i \times d$): the basis of the Hessian's data part.
    fn rows(&self) -> &Csr<S>;

    /// The regulariser r, whose Hessian is added to the data part.
    fn regularizer(&self) -> Regularizer;

    /// Writes $c_{ij}(x)$, $j = 1..m_i$, into `out` (length $m_i$), accumulated in `f64`.
    /// Wrong lengths (x ≠ d or out ≠ $m_i$) write NaN, like the other hot oracle methods.
    fn coefficients(&self, x: &[S], out: &mut [S]);
}

/// A method that needs generalised linear models was given a worker that is not one.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "{method} needs a generalised linear model (logistic regression or least squares: a Hessian \
     Σ_j c_j a_j a_jᵀ over data rows), and worker {worker} of problem {problem} is not one; use \
     kind = \"logreg\" or \"least_squares\", or a method on full Hessians (fednl, newton_3pc)"
)]
pub struct NotGlm {
    /// The method asking.
    pub method: String,
    /// The problem's name.
    pub problem: String,
    /// The first worker without a GLM view.
    pub worker: usize,
}

/// Every worker's GLM view, in worker order.
///
/// ```
/// use squeeze_problems::{glm::glm_views, prelude::*};
/// let p = Problem::logreg(&embedded::default_dataset::<f64>(), 4, Split::Contiguous, Remainder::ToLast, Regularizer::None)?;
/// let views = glm_views(&p, "bl1").unwrap();
/// assert_eq!(views.iter().map(|v| v.rows().n_rows()).sum::<usize>(), 569);
/// # Ok::<(), squeeze_problems::ProblemError>(())
/// ```
///
/// # Errors
/// [`NotGlm`] naming the first worker whose oracle has no view.
pub fn glm_views<'a, S: Scalar>(
    problem: &'a Problem<S>,
    method: &str,
) -> Result<Vec<&'a dyn Glm<S>>, NotGlm> {
    problem
        .oracles()
        .iter()
        .enumerate()
        .map(|(worker, o)| {
            o.glm().ok_or_else(|| NotGlm {
                method: method.to_string(),
                problem: problem.name().to_string(),
                worker,
            })
        })
        .collect()
}

/// The upper triangle (row ≤ column) of the d × d row-major `h` +=
/// $\text{scale}\cdot\sum_j w_j\thinspace a_j a_j^\top$ over the rows $a_j$ of `rows` with weights
/// `w` (one per row), accumulated in `f64` per product; the lower triangle is not written.
/// With `w` the [`Glm::coefficients`] and scale 1 this is the data part of the Hessian,
/// bit for bit as [`Oracle::hessian`](crate::Oracle::hessian) computes it.
///
/// # Errors
/// `h` is not of length d² (d = the number of columns) or `w` not of length $m_i$.
pub fn add_gram_upper<S: Scalar>(
    rows: &Csr<S>,
    w: &[S],
    scale: f64,
    h: &mut [S],
) -> Result<(), LengthMismatch> {
    let d = rows.n_cols();
    check_hessian_len(d, h.len())?;
    if w.len() != rows.n_rows() {
        return Err(LengthMismatch {
            expected: rows.n_rows(),
            got: w.len(),
        });
    }
    for (row, &wj) in rows.rows().zip(w) {
        if wj != S::ZERO {
            add_outer_upper(row, scale * wj.to_f64(), d, h);
        }
    }
    Ok(())
}

/// `true` if `x` has length d and `out` length m; otherwise fills `out` with NaN.
#[inline]
pub(crate) fn coefficient_dims_ok<S: Scalar>(d: usize, m: usize, x: &[S], out: &mut [S]) -> bool {
    if x.len() == d && out.len() == m {
        true
    } else {
        out.fill(S::from_f64(f64::NAN));
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hessian::mirror_upper;
    use crate::prelude::*;

    /// For logistic regression and least squares, Σ_j c_j(x) a_j a_jᵀ + ∇²r(x) is the oracle's
    /// Hessian bit for bit, and wrong lengths write NaN.
    #[test]
    fn coefficients_rebuild_the_hessian() {
        let data = embedded::default_dataset::<f64>();
        let reg = Regularizer::L2 { lambda: 0.01 };
        let lr = Problem::logreg(&data, 3, Split::Contiguous, Remainder::ToLast, reg).unwrap();
        let a = data.features.clone();
        let ls = LeastSquares::new(a, data.labels.clone(), reg).unwrap();
        let d = 30;
        let x: Vec<f64> = (0..d).map(|k| (k as f64 * 0.7).sin() * 0.3).collect();
        let oracles: Vec<&dyn Oracle<f64>> = vec![lr.oracle(0), lr.oracle(2), &ls];
        for o in oracles {
            let g = o.glm().expect("a GLM");
            let m = g.rows().n_rows();
            let mut c = vec![0.0; m];
            g.coefficients(&x, &mut c);
            let mut h = vec![0.0; d * d];
            add_gram_upper(g.rows(), &c, 1.0, &mut h).unwrap();
            mirror_upper(d, &mut h);
            g.regularizer().add_hessian(&x, &mut h);
            let mut want = vec![0.0; d * d];
            o.hessian(&x, &mut want);
            assert_eq!(h, want);
            let mut short = vec![0.0; m - 1];
            g.coefficients(&x, &mut short);
            assert!(short.iter().all(|v| v.is_nan()));
            assert!(add_gram_upper(g.rows(), &short, 1.0, &mut h).is_err());
        }
    }

    #[test]
    fn quadratics_are_not_glms() {
        let p = crate::quadratic::three_pc::<f64>(4, 3, 0.1, 1).unwrap();
        let e = glm_views(&p, "bl1").err().expect("not a GLM");
        assert_eq!(e.worker, 0);
        assert!(e.to_string().contains("least_squares"), "{e}");
    }
}

//! Least squares on a worker's rows.
//!
//! f_i(x) = (1/(2 m_i)) ‖A_i x − b_i‖² + r(x) = (1/m_i) Σ_j ½(a_jᵀx − b_j)² + r(x),
//!
//! ∇f_i(x) = (1/m_i) A_iᵀ(A_i x − b_i) + ∇r(x),   L_i = λ_max(A_iᵀA_i)/m_i + L_r,
//!
//! ∇²f_i(x) = (1/m_i) A_iᵀA_i + ∇²r(x)   (constant for no or an L2 regulariser).
//!
//! A is stored as [`Csr`]; a dense matrix is converted with [`Csr::from_dense`] (zeros are not
//! stored). One pass over the rows per gradient.
//!
//! ```
//! use squeeze_problems::{data::Csr, least_squares::LeastSquares, oracle::Oracle, Regularizer};
//! let a = Csr::from_dense(2, &[1.0f64, 0.0, 0.0, 2.0]).unwrap();
//! let f = LeastSquares::new(a, vec![1.0, 2.0], Regularizer::None).unwrap();
//! assert_eq!(f.loss(&[1.0, 1.0]), 0.0);                 // exact solution
//! assert_eq!(f.loss(&[0.0, 0.0]), 1.25);                // (1 + 4)/(2·2)
//! assert!((f.smoothness() - 2.0).abs() < 1e-12);       // λ_max = 4, m = 2
//! ```

use squeeze_core::{LengthMismatch, Scalar};

use crate::data::Csr;
use crate::error::ProblemError;
use crate::glm::{Glm, coefficient_dims_ok};
use crate::hessian::{Curvature, gram_hess_vec, gram_hessian};
use crate::oracle::{Oracle, dims_ok, minibatch_glm};
use crate::regularizer::Regularizer;
use crate::smoothness::lambda_max_ata;

/// Least-squares oracle (see the [module docs](self)).
#[derive(Debug, Clone)]
pub struct LeastSquares<S> {
    a: Csr<S>,
    b: Vec<S>,
    reg: Regularizer,
    l: f64,
}

impl<S: Scalar> LeastSquares<S> {
    /// Build from A (m × d, m ≥ 1), targets b (length m, finite) and a regulariser.
    pub fn new(a: Csr<S>, b: Vec<S>, reg: Regularizer) -> Result<Self, ProblemError> {
        reg.validate()?;
        if b.len() != a.n_rows() {
            return Err(LengthMismatch {
                expected: a.n_rows(),
                got: b.len(),
            }
            .into());
        }
        if a.n_rows() == 0 {
            return Err(ProblemError::Split {
                n_workers: 1,
                n_rows: 0,
            });
        }
        if let Some(v) = b.iter().find(|v| !v.is_finite()) {
            return Err(crate::error::DataError::InvalidMatrix(format!(
                "target {v} is not finite"
            ))
            .into());
        }
        let l = lambda_max_ata(&a) / a.n_rows() as f64 + reg.smoothness();
        Ok(Self { a, b, reg, l })
    }

    /// The matrix A.
    pub fn matrix(&self) -> &Csr<S> {
        &self.a
    }

    /// The targets b.
    pub fn targets(&self) -> &[S] {
        &self.b
    }
}

impl<S: Scalar> Oracle<S> for LeastSquares<S> {
    fn dim(&self) -> usize {
        self.a.n_cols()
    }

    fn n_samples(&self) -> usize {
        self.a.n_rows()
    }

    fn loss(&self, x: &[S]) -> f64 {
        if x.len() != self.dim() {
            return f64::NAN;
        }
        let s: f64 = self
            .a
            .rows()
            .zip(&self.b)
            .map(|(row, &b)| {
                let r = row.dot(x).to_f64() - b.to_f64();
                r * r
            })
            .sum();
        0.5 * s / self.a.n_rows() as f64 + self.reg.value(x)
    }

    fn loss_grad(&self, x: &[S], grad: &mut [S]) -> f64 {
        if !dims_ok(self.dim(), x, grad) {
            return f64::NAN;
        }
        grad.fill(S::ZERO);
        let inv_m = 1.0 / self.a.n_rows() as f64;
        let mut s = 0.0f64;
        for (row, &b) in self.a.rows().zip(&self.b) {
            let r = row.dot(x).to_f64() - b.to_f64();
            s += r * r;
            row.axpy(S::from_f64(r * inv_m), grad);
        }
        self.reg.add_grad(x, grad);
        0.5 * s * inv_m + self.reg.value(x)
    }

    fn minibatch_grad(&self, x: &[S], batch: &[u32], grad: &mut [S]) {
        let (d, m) = (self.dim(), self.a.n_rows());
        minibatch_glm(d, m, self.reg, x, batch, grad, |j, c, grad| {
            let row = self.a.row(j);
            let r = row.dot(x).to_f64() - self.b[j].to_f64();
            row.axpy(S::from_f64(r * c), grad);
        });
    }

    fn smoothness(&self) -> f64 {
        self.l
    }

    /// AᵀA ⪰ 0, so μ is the regulariser's: λ (L2), 0, or −λ/2 (nonconvex).
    fn curvature(&self) -> Option<Curvature> {
        Some(Curvature::convex_plus(self.reg))
    }

    fn hessian(&self, x: &[S], h: &mut [S]) {
        let inv_m = 1.0 / self.a.n_rows() as f64;
        let rows = self.a.rows().map(|row| (row, inv_m));
        gram_hessian(self.dim(), x, self.reg, rows, h);
    }

    fn hess_vec(&self, x: &[S], v: &[S], out: &mut [S]) {
        let inv_m = 1.0 / self.a.n_rows() as f64;
        let rows = self.a.rows().map(|row| (row, inv_m));
        gram_hess_vec(self.dim(), x, v, self.reg, rows, out);
    }

    fn glm(&self) -> Option<&dyn Glm<S>> {
        Some(self)
    }
}

/// $\varphi_j(t) = \tfrac12(t - b_j)^2$: $c_j = 1/m_i$ at every x.
impl<S: Scalar> Glm<S> for LeastSquares<S> {
    fn rows(&self) -> &Csr<S> {
        &self.a
    }

    fn regularizer(&self) -> Regularizer {
        self.reg
    }

    fn coefficients(&self, x: &[S], out: &mut [S]) {
        if coefficient_dims_ok(self.dim(), self.a.n_rows(), x, out) {
            out.fill(S::from_f64(1.0 / self.a.n_rows() as f64));
        }
    }
}

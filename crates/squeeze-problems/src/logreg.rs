//! Binary logistic regression on a worker's rows.
//!
//! f_i(x) = (1/m_i) Σ_j log(1 + exp(−b_ij a_ijᵀx)) + r(x),   b_ij ∈ {−1, +1},
//!
//! ∇f_i(x) = (1/m_i) Σ_j −b_ij σ(−b_ij a_ijᵀx) a_ij + ∇r(x),   σ(t) = 1/(1 + e^{−t}),
//!
//! with r a [`Regularizer`]. The gradient is one pass over the rows: z_j = a_jᵀx, then
//! grad += c_j a_j. log(1 + e^t) = max(t, 0) + log1p(e^{−|t|}) and σ are evaluated from one
//! exponential without overflow; the loss is accumulated in `f64`.
//!
//! Smoothness (algorithms.md §10.1, as the EF21/CLAG codes compute it):
//! L_i = λ_max(A_iᵀA_i)/(4 m_i) + L_r, with L_r = 2λ (nonconvex), λ (L2) or 0.
//!
//! ```
//! use squeeze_problems::{data::{Csr, Dataset}, logreg::LogReg, oracle::Oracle, Regularizer};
//! let a = Csr::from_dense(1, &[1.0f64, -2.0]).unwrap();
//! let f = LogReg::new(Dataset::new("toy", a, vec![1.0, 1.0]).unwrap(), Regularizer::None).unwrap();
//! assert!((f.loss(&[0.0]) - 2f64.ln()).abs() < 1e-15);   // log 2 at x = 0
//! let mut g = [0.0];
//! f.loss_grad(&[0.0], &mut g);
//! assert!((g[0] - 0.25).abs() < 1e-15);                  // ½(−½·1 − ½·(−2))
//! assert!((f.smoothness() - 5.0 / 8.0).abs() < 1e-12);   // λ_max = 5, m = 2
//! ```

use squeeze_core::Scalar;

use crate::data::{Dataset, Row};
use crate::error::ProblemError;
use crate::oracle::{Oracle, dims_ok};
use crate::regularizer::Regularizer;
use crate::smoothness::lambda_max_ata;

/// Logistic-regression oracle over one worker's data (see the [module docs](self)).
#[derive(Debug, Clone)]
pub struct LogReg<S> {
    data: Dataset<S>,
    reg: Regularizer,
    l: f64,
}

/// log(1 + e^t) and σ(t) from one exponential, stable for all t.
#[inline(always)]
fn softplus_sigmoid(t: f64) -> (f64, f64) {
    let e = (-t.abs()).exp();
    let sp = t.max(0.0) + e.ln_1p();
    let s = if t >= 0.0 {
        1.0 / (1.0 + e)
    } else {
        e / (1.0 + e)
    };
    (sp, s)
}

/// σ(t), stable for all t.
#[inline(always)]
fn sigmoid(t: f64) -> f64 {
    let e = (-t.abs()).exp();
    if t >= 0.0 {
        1.0 / (1.0 + e)
    } else {
        e / (1.0 + e)
    }
}

impl<S: Scalar> LogReg<S> {
    /// Build from a worker's data set (at least one row) and a regulariser; computes L_i.
    pub fn new(data: Dataset<S>, reg: Regularizer) -> Result<Self, ProblemError> {
        reg.validate()?;
        if data.n_rows() == 0 {
            return Err(ProblemError::Split {
                n_workers: 1,
                n_rows: 0,
            });
        }
        let l = lambda_max_ata(&data.features) / (4.0 * data.n_rows() as f64) + reg.smoothness();
        Ok(Self { data, reg, l })
    }

    /// The worker's data.
    pub fn data(&self) -> &Dataset<S> {
        &self.data
    }

    /// The regulariser.
    pub fn regularizer(&self) -> Regularizer {
        self.reg
    }

    /// One sample's contribution: grad += c·(−b σ(−b z)) a; returns log(1 + e^{−bz}) if
    /// `LOSS`, else 0.
    ///
    /// # Safety
    /// `x.len()` and `grad.len()` must be ≥ the row's largest column index + 1; true for every
    /// row of `self.data` when both equal `self.dim()` (the [`Csr`](crate::Csr) invariant).
    #[inline(always)]
    unsafe fn term<const LOSS: bool>(
        row: Row<'_, S>,
        b: S,
        x: &[S],
        grad: &mut [S],
        c: f64,
    ) -> f64 {
        let b = b.to_f64();
        // SAFETY: forwarded from the caller.
        let t = -b * unsafe { row.dot_unchecked(x) }.to_f64();
        let (sp, s) = if LOSS {
            softplus_sigmoid(t)
        } else {
            (0.0, sigmoid(t))
        };
        // SAFETY: forwarded from the caller.
        unsafe { row.axpy_unchecked(S::from_f64(-b * s * c), grad) };
        sp
    }

    fn full_pass<const LOSS: bool>(&self, x: &[S], grad: &mut [S]) -> f64 {
        if !dims_ok(self.dim(), x, grad) {
            return f64::NAN;
        }
        grad.fill(S::ZERO);
        let inv_m = 1.0 / self.data.n_rows() as f64;
        let mut loss = 0.0f64;
        for (row, &b) in self.data.features.rows().zip(&self.data.labels) {
            // SAFETY: `dims_ok` checked x.len() = grad.len() = n_cols, and every column index
            // of a Csr row is < n_cols.
            loss += unsafe { Self::term::<LOSS>(row, b, x, grad, inv_m) };
        }
        self.reg.add_grad(x, grad);
        if LOSS {
            loss * inv_m + self.reg.value(x)
        } else {
            0.0
        }
    }
}

impl<S: Scalar> Oracle<S> for LogReg<S> {
    fn dim(&self) -> usize {
        self.data.n_features()
    }

    fn n_samples(&self) -> usize {
        self.data.n_rows()
    }

    fn loss(&self, x: &[S]) -> f64 {
        if x.len() != self.dim() {
            return f64::NAN;
        }
        let mut loss = 0.0f64;
        for (row, &b) in self.data.features.rows().zip(&self.data.labels) {
            loss += softplus_sigmoid(-b.to_f64() * row.dot(x).to_f64()).0;
        }
        loss / self.data.n_rows() as f64 + self.reg.value(x)
    }

    fn loss_grad(&self, x: &[S], grad: &mut [S]) -> f64 {
        self.full_pass::<true>(x, grad)
    }

    fn grad(&self, x: &[S], grad: &mut [S]) {
        self.full_pass::<false>(x, grad);
    }

    fn minibatch_grad(&self, x: &[S], batch: &[u32], grad: &mut [S]) {
        if !dims_ok(self.dim(), x, grad) {
            return;
        }
        let m = self.data.n_rows();
        if batch.iter().any(|&j| j as usize >= m) {
            grad.fill(S::from_f64(f64::NAN));
            return;
        }
        grad.fill(S::ZERO);
        if !batch.is_empty() {
            let c = 1.0 / batch.len() as f64;
            for &j in batch {
                let j = j as usize;
                let (row, b) = (self.data.features.row(j), self.data.labels[j]);
                // SAFETY: as in `full_pass` (dims checked above; Csr invariant).
                unsafe { Self::term::<false>(row, b, x, grad, c) };
            }
        }
        self.reg.add_grad(x, grad);
    }

    fn smoothness(&self) -> f64 {
        self.l
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extreme_margins_are_finite() {
        for t in [-1e6, -800.0, -30.0, 0.0, 30.0, 800.0, 1e6] {
            let (sp, s) = softplus_sigmoid(t);
            assert!(
                sp.is_finite() && s.is_finite() && (0.0..=1.0).contains(&s),
                "{t}"
            );
            assert!((s - sigmoid(t)).abs() < 1e-16);
        }
        assert_eq!(softplus_sigmoid(1e6).0, 1e6);
        assert!((softplus_sigmoid(-40.0).0 - (-40f64).exp()).abs() < 1e-30);
        assert!((softplus_sigmoid(0.0).0 - 2f64.ln()).abs() < 1e-16);
    }
}

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

use crate::data::{Csr, Dataset, Row};
use crate::error::ProblemError;
use crate::glm::{Glm, coefficient_dims_ok};
use crate::hessian::{Curvature, gram_hess_vec, gram_hessian};
use crate::oracle::{Oracle, dims_ok, minibatch_glm};
use crate::regularizer::Regularizer;
use crate::smoothness::lambda_max_ata;

/// Logistic-regression oracle over one worker's data (see the [module docs](self)).
#[derive(Debug, Clone)]
pub struct LogReg<S> {
    data: Dataset<S>,
    reg: Regularizer,
    l: f64,
    /// Every stored feature value is exactly 1 (a9a, w8a, …): the kernels skip the values.
    binary: bool,
}

/// Rows per block of the full pass: margins of a block first, then its sigmoids, then its
/// scatter-adds, so that the independent dot products and exponentials of a block overlap
/// instead of forming one long dependency chain per row. Small enough for the stack.
const BLOCK: usize = 32;

/// log(1 + e^t) and σ(t) from one exponential, stable for all t.
#[inline(always)]
fn softplus_sigmoid(t: f64) -> (f64, f64) {
    let e = (-t.abs()).exp();
    let sp = t.max(0.0) + e.ln_1p();
    let num = if t >= 0.0 { 1.0 } else { e };
    (sp, num / (1.0 + e))
}

/// σ(t), stable for all t.
#[inline(always)]
fn sigmoid(t: f64) -> f64 {
    let e = (-t.abs()).exp();
    // A select rather than a branch (the sign of a margin is unpredictable); the same value
    // as `if t >= 0 { 1/(1+e) } else { e/(1+e) }`.
    let num = if t >= 0.0 { 1.0 } else { e };
    num / (1.0 + e)
}

/// σ(t)·σ(−t) = e^{−|t|}/(1 + e^{−|t|})², the logistic loss's second derivative, stable for
/// all t.
#[inline(always)]
fn sigmoid_slope(t: f64) -> f64 {
    let e = (-t.abs()).exp();
    e / ((1.0 + e) * (1.0 + e))
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
        let binary = data.features.values().iter().all(|&v| v == S::ONE);
        Ok(Self {
            data,
            reg,
            l,
            binary,
        })
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
        let loss = if self.binary {
            // SAFETY: `dims_ok` checked x.len() = grad.len() = n_cols, and `binary` says every
            // stored value is exactly 1.
            unsafe { self.blocked_pass::<LOSS, true>(x, grad) }
        } else {
            // SAFETY: `dims_ok` checked x.len() = grad.len() = n_cols.
            unsafe { self.blocked_pass::<LOSS, false>(x, grad) }
        };
        self.reg.add_grad(x, grad);
        if LOSS {
            loss * self.inv_m() + self.reg.value(x)
        } else {
            0.0
        }
    }

    fn inv_m(&self) -> f64 {
        1.0 / self.data.n_rows() as f64
    }

    /// grad += Σ_j (1/m)(−b_j σ(−b_j a_jᵀx)) a_j over all rows in order; returns
    /// Σ_j log(1 + e^{−b_j a_jᵀx}) if `LOSS`, else 0.
    ///
    /// Rows go in blocks of [`BLOCK`]: margins, then sigmoids (and the loss terms), then the
    /// scatter-adds. Each row's arithmetic and the order of the additions into `grad` and the
    /// loss are exactly those of the row-by-row loop (`Self::term`), so the results are the
    /// same bits; the margins of a block are all read before any of its scatter-adds, which
    /// is the same because x is not written.
    ///
    /// # Safety
    /// `x.len()` and `grad.len()` must equal `self.dim()`; if `ONES`, every stored value of
    /// the matrix must be exactly 1 (`self.binary`).
    #[inline(always)]
    unsafe fn blocked_pass<const LOSS: bool, const ONES: bool>(
        &self,
        x: &[S],
        grad: &mut [S],
    ) -> f64 {
        let a = &self.data.features;
        let labels = &self.data.labels;
        let inv_m = self.inv_m();
        let mut loss = 0.0f64;
        let mut buf = [0.0f64; BLOCK];
        for (blk, bs) in labels.chunks(BLOCK).enumerate() {
            let first = blk * BLOCK;
            let coef = &mut buf[..bs.len()];
            for (k, (t, &b)) in coef.iter_mut().zip(bs).enumerate() {
                let row = a.row(first + k);
                // SAFETY: the caller guarantees x.len() = n_cols > every column index.
                let z = unsafe {
                    if ONES {
                        row.dot_ones_unchecked(x)
                    } else {
                        row.dot_unchecked(x)
                    }
                };
                *t = -b.to_f64() * z.to_f64();
            }
            for (t, &b) in coef.iter_mut().zip(bs) {
                let b = b.to_f64();
                let (sp, s) = if LOSS {
                    softplus_sigmoid(*t)
                } else {
                    (0.0, sigmoid(*t))
                };
                loss += sp;
                *t = -b * s * inv_m;
            }
            for (k, &c) in coef.iter().enumerate() {
                let row = a.row(first + k);
                let c = S::from_f64(c);
                // SAFETY: the caller guarantees grad.len() = n_cols > every column index.
                unsafe {
                    if ONES {
                        row.axpy_ones_unchecked(c, grad)
                    } else {
                        row.axpy_unchecked(c, grad)
                    }
                }
            }
        }
        loss
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
        let (d, m) = (self.dim(), self.data.n_rows());
        minibatch_glm(d, m, self.reg, x, batch, grad, |j, c, grad| {
            let (row, b) = (self.data.features.row(j), self.data.labels[j]);
            // SAFETY: `minibatch_glm` checked x.len() = grad.len() = n_cols (and j < m);
            // the Csr invariant bounds every column index of the row by n_cols.
            unsafe { Self::term::<false>(row, b, x, grad, c) };
        });
    }

    fn smoothness(&self) -> f64 {
        self.l
    }

    /// The data term is convex, so μ is the regulariser's: λ (L2), 0, or −λ/2 (nonconvex).
    fn curvature(&self) -> Option<Curvature> {
        Some(Curvature::convex_plus(self.reg))
    }

    /// ∇²f_i(x) = (1/m_i) Σ_j σ(t_j)σ(−t_j) a_j a_jᵀ + ∇²r(x), t_j = −b_j a_jᵀx: the upper
    /// triangle row by row (O(Σ_j nnz_j²)), then mirrored.
    fn hessian(&self, x: &[S], h: &mut [S]) {
        gram_hessian(self.dim(), x, self.reg, self.weighted_rows(x), h);
    }

    fn hess_vec(&self, x: &[S], v: &[S], out: &mut [S]) {
        gram_hess_vec(self.dim(), x, v, self.reg, self.weighted_rows(x), out);
    }

    fn glm(&self) -> Option<&dyn Glm<S>> {
        Some(self)
    }
}

/// $\varphi_j(t) = \log(1 + e^{-b_j t})$: $c_j(x) = \sigma(t_j)\sigma(-t_j)/m_i$ (the weights of
/// [`Oracle::hessian`]).
impl<S: Scalar> Glm<S> for LogReg<S> {
    fn rows(&self) -> &Csr<S> {
        &self.data.features
    }

    fn regularizer(&self) -> Regularizer {
        self.reg
    }

    fn coefficients(&self, x: &[S], out: &mut [S]) {
        if coefficient_dims_ok(self.dim(), self.data.n_rows(), x, out) {
            for (c, (_, w)) in out.iter_mut().zip(self.weighted_rows(x)) {
                *c = S::from_f64(w);
            }
        }
    }
}

impl<S: Scalar> LogReg<S> {
    /// The rows with their Hessian weights (1/m_i) σ(t_j)σ(−t_j), t_j = −b_j a_jᵀx (`x` of
    /// length d: the callers check it before iterating).
    fn weighted_rows<'a>(&'a self, x: &'a [S]) -> impl Iterator<Item = (Row<'a, S>, f64)> + 'a {
        let inv_m = self.inv_m();
        self.data
            .features
            .rows()
            .zip(&self.data.labels)
            .map(move |(row, &b)| {
                let t = -b.to_f64() * row.dot(x).to_f64();
                (row, inv_m * sigmoid_slope(t))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A random m × d matrix with 0..=7 entries per row (odd and even counts), values 1 if
    /// `binary`, else uniform in [−2, 2]; labels ±1.
    fn random_data(m: usize, d: usize, binary: bool, seed: u64) -> Dataset<f64> {
        use squeeze_core::rng::{Purpose, SqueezeRng};
        let mut rng = SqueezeRng::stream(seed, Purpose::Data, 0);
        let mut a = crate::Csr::empty(d);
        let mut labels = Vec::new();
        for _ in 0..m {
            let nnz = rng.below(8) as usize;
            let mut idx: Vec<u32> = (0..nnz).map(|_| rng.below(d as u64) as u32).collect();
            idx.sort_unstable();
            idx.dedup();
            let val: Vec<f64> = idx
                .iter()
                .map(|_| {
                    if binary {
                        1.0
                    } else {
                        4.0 * rng.next_f64() - 2.0
                    }
                })
                .collect();
            a.push_row(&idx, &val).unwrap();
            labels.push(if rng.bernoulli(0.5) { 1.0 } else { -1.0 });
        }
        Dataset::new("random", a, labels).unwrap()
    }

    /// The blocked full pass gives the same bits as the row-by-row kernel (`term`, used by
    /// `minibatch_grad` over all rows in order) and as `loss`, for binary and real values and
    /// for row counts that do and do not fill the last block.
    #[test]
    fn blocked_pass_is_bit_identical_to_the_row_loop() {
        for (binary, m) in [
            (true, 100),
            (false, 100),
            (true, 64),
            (false, 31),
            (true, 1),
        ] {
            for reg in [Regularizer::None, Regularizer::EF21] {
                let f = LogReg::new(random_data(m, 17, binary, m as u64), reg).unwrap();
                assert_eq!(f.binary, binary);
                let x: Vec<f64> = (0..17).map(|k| (k as f64 * 0.37).sin() * 3.0).collect();
                let mut full = vec![0.0; 17];
                let loss = f.loss_grad(&x, &mut full);
                let mut g = vec![0.0; 17];
                f.grad(&x, &mut g);
                let all: Vec<u32> = (0..m as u32).collect();
                let mut rows = vec![0.0; 17];
                f.minibatch_grad(&x, &all, &mut rows);
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&full), bits(&rows), "binary {binary}, m {m}");
                assert_eq!(bits(&g), bits(&rows), "binary {binary}, m {m}");
                assert_eq!(
                    loss.to_bits(),
                    f.loss(&x).to_bits(),
                    "binary {binary}, m {m}"
                );
            }
        }
    }

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

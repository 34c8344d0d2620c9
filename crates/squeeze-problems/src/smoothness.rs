//! Largest eigenvalue of AᵀA for a sparse A, and the smoothness constants of a set of workers.
//!
//! λ_max(AᵀA) = λ_max(AAᵀ) = ‖A‖₂². [`lambda_max_ata`] computes it
//!
//! * exactly (to eigen-solver precision) from a dense Gram matrix when the smaller side
//!   k = min(d, m) is at most [`GRAM_MAX_DIM`]: G = AᵀA (d × d) if d ≤ m, else AAᵀ (m × m);
//!   accumulated in `f64` and handed to nalgebra's symmetric eigen-solver (eigenvalues only).
//!   This is what the EF21 code does with its dense solver; w8a (d = 300) and a9a (d = 123)
//!   take this path;
//! * otherwise by a deterministic power iteration on AᵀA ([`lambda_max_power`]) from a fixed
//!   positive start vector, stopping when the Rayleigh quotient changes by less than
//!   [`POWER_TOL`] (relative) between iterations, or after [`POWER_MAX_ITER`] iterations. The
//!   Rayleigh quotient approaches λ_max from below, so that result may underestimate it by
//!   roughly the tolerance (more if the top eigenvalues are nearly tied).
//!
//! ```
//! use squeeze_problems::{data::Csr, smoothness::lambda_max_ata};
//! // A = [[3, 0], [0, 1]] ⇒ AᵀA = diag(9, 1).
//! let a = Csr::from_dense(2, &[3.0f64, 0.0, 0.0, 1.0]).unwrap();
//! assert!((lambda_max_ata(&a) - 9.0).abs() < 1e-12);
//! ```

use nalgebra::DMatrix;
use serde::{Deserialize, Serialize};
use squeeze_core::Scalar;
use squeeze_core::rng::SqueezeRng;

use crate::data::Csr;

/// Largest Gram side solved densely (a 2000 × 2000 eigenvalue problem takes a few seconds).
pub const GRAM_MAX_DIM: usize = 2000;
/// Relative stopping tolerance of [`lambda_max_power`] as used by [`lambda_max_ata`].
pub const POWER_TOL: f64 = 1e-10;
/// Iteration cap of [`lambda_max_power`] as used by [`lambda_max_ata`].
pub const POWER_MAX_ITER: usize = 20_000;

/// λ_max(AᵀA) (see the [module docs](self) for the method). 0 for an empty matrix.
pub fn lambda_max_ata<S: Scalar>(a: &Csr<S>) -> f64 {
    let (m, d) = (a.n_rows(), a.n_cols());
    if m == 0 || d == 0 || a.nnz() == 0 {
        return 0.0;
    }
    if d.min(m) <= GRAM_MAX_DIM {
        let g = if d <= m { gram_ata(a) } else { gram_aat(a) };
        sym_lambda_max(g)
    } else {
        lambda_max_power(a, POWER_TOL, POWER_MAX_ITER)
    }
}

/// Largest eigenvalue of a symmetric matrix (nalgebra, eigenvalues only).
pub fn sym_lambda_max(g: DMatrix<f64>) -> f64 {
    if g.is_empty() {
        return 0.0;
    }
    g.symmetric_eigenvalues()
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max)
}

/// Dense AᵀA (d × d) in `f64`: Σ over rows of a aᵀ.
pub fn gram_ata<S: Scalar>(a: &Csr<S>) -> DMatrix<f64> {
    let d = a.n_cols();
    let mut g = DMatrix::<f64>::zeros(d, d);
    for row in a.rows() {
        for (&i, &vi) in row.indices.iter().zip(row.values) {
            let vi = vi.to_f64();
            for (&j, &vj) in row.indices.iter().zip(row.values) {
                g[(i as usize, j as usize)] += vi * vj.to_f64();
            }
        }
    }
    g
}

/// Dense AAᵀ (m × m) in `f64`: entry (r, s) = a_rᵀa_s.
pub fn gram_aat<S: Scalar>(a: &Csr<S>) -> DMatrix<f64> {
    let m = a.n_rows();
    let mut g = DMatrix::<f64>::zeros(m, m);
    let mut dense = vec![0.0f64; a.n_cols()];
    for r in 0..m {
        let row = a.row(r);
        for (&i, &v) in row.indices.iter().zip(row.values) {
            dense[i as usize] = v.to_f64();
        }
        for s in r..m {
            let other = a.row(s);
            let v = other.dot_f64(&dense);
            g[(r, s)] = v;
            g[(s, r)] = v;
        }
        for &i in row.indices {
            dense[i as usize] = 0.0;
        }
    }
    g
}

/// Power iteration for λ_max(AᵀA): v ← Aᵀ(Av)/‖Aᵀ(Av)‖ from a fixed positive pseudo-random
/// start (seed 0x5eed, entries in [0.5, 1.5)), returning the Rayleigh quotient ‖Av‖² once it
/// changes by less than `tol`·(its value) or after `max_iter` iterations. Deterministic.
///
/// ```
/// use squeeze_problems::{data::Csr, smoothness::lambda_max_power};
/// let a = Csr::from_dense(2, &[2.0f64, 1.0, 1.0, 2.0]).unwrap(); // AᵀA has eigenvalues 9, 1
/// assert!((lambda_max_power(&a, 1e-14, 1000) - 9.0).abs() < 1e-9);
/// ```
pub fn lambda_max_power<S: Scalar>(a: &Csr<S>, tol: f64, max_iter: usize) -> f64 {
    let d = a.n_cols();
    if d == 0 || a.n_rows() == 0 {
        return 0.0;
    }
    let mut rng = SqueezeRng::from_seed_u64(0x5eed);
    let mut v: Vec<f64> = (0..d).map(|_| 0.5 + rng.next_f64()).collect();
    let mut w = vec![0.0f64; d];
    normalise(&mut v);
    let mut lambda = 0.0f64;
    for _ in 0..max_iter {
        // w = Aᵀ(A v), rq = ‖A v‖².
        w.fill(0.0);
        let mut rq = 0.0f64;
        for row in a.rows() {
            let z = row.dot_f64(&v);
            rq += z * z;
            for (&i, &x) in row.indices.iter().zip(row.values) {
                w[i as usize] += z * x.to_f64();
            }
        }
        let done = (rq - lambda).abs() <= tol * rq;
        lambda = rq;
        if done || normalise(&mut w) == 0.0 {
            break;
        }
        core::mem::swap(&mut v, &mut w);
    }
    lambda
}

fn normalise(v: &mut [f64]) -> f64 {
    let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
    n
}

/// Which L the theory stepsizes use for $f = \tfrac1n\sum_i f_i$ (`method.smoothness` in a
/// configuration).
///
/// * `Pooled` (the default): $L$ of $f$ itself, computed on the pooled data — for logistic
///   regression $\lambda_{\max}(A^\top A)/(4N) + L_r$ over all rows. It is at most $L_{AM}$.
/// * `MeanOfWorkers`: $L_{AM} = \tfrac1n\sum_i L_i$, the bound the EF21 authors' reference
///   code uses in place of $L$ (a smaller, more conservative γ on heterogeneous splits).
///
/// ```
/// use squeeze_problems::smoothness::{Smoothness, SmoothnessRule};
/// let s = Smoothness::new(vec![1.0, 7.0], 3.0);
/// assert_eq!(s.l, 3.0);
/// let m = s.with_rule(SmoothnessRule::MeanOfWorkers);
/// assert_eq!((m.l, m.l_pooled, m.rule), (4.0, 3.0, SmoothnessRule::MeanOfWorkers));
/// assert_eq!(m.with_rule(SmoothnessRule::Pooled).l, 3.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmoothnessRule {
    /// L of the pooled objective (squeeze's default).
    #[default]
    Pooled,
    /// The mean of the workers' L_i (the EF21 reference code).
    MeanOfWorkers,
}

/// Smoothness constants of a distributed problem (notation of algorithms.md §0.1).
///
/// ```
/// use squeeze_problems::smoothness::Smoothness;
/// let s = Smoothness::new(vec![1.0, 7.0], 3.0);
/// assert_eq!(s.l_am, 4.0);
/// assert_eq!(s.l_tilde, 5.0); // sqrt((1 + 49)/2)
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Smoothness {
    /// L_i of each worker's f_i.
    pub l_i: Vec<f64>,
    /// The L of f = (1/n) Σ f_i that the theory stepsizes use, chosen by [`Self::rule`]:
    /// [`Self::l_pooled`] (the default) or [`Self::l_am`].
    pub l: f64,
    /// L of f computed on the pooled data (not bounded by the mean).
    pub l_pooled: f64,
    /// Which value [`Self::l`] holds ([`Self::with_rule`]).
    pub rule: SmoothnessRule,
    /// L̃ = sqrt((1/n) Σ L_i²) (EF21/3PC).
    pub l_tilde: f64,
    /// L_AM = (1/n) Σ L_i.
    pub l_am: f64,
    /// L_± = sqrt(λ_max(avg_i A_i² − (avg_i A_i)²)) where it is defined (3PC quadratics).
    pub l_pm: Option<f64>,
}

impl Smoothness {
    /// Derive L̃ and L_AM from the L_i (empty `l_i` gives zeros); `l` is the pooled L and the
    /// rule is [`SmoothnessRule::Pooled`].
    pub fn new(l_i: Vec<f64>, l: f64) -> Self {
        let n = l_i.len().max(1) as f64;
        let l_am = l_i.iter().sum::<f64>() / n;
        let l_tilde = (l_i.iter().map(|v| v * v).sum::<f64>() / n).sqrt();
        Self {
            l_i,
            l,
            l_pooled: l,
            rule: SmoothnessRule::Pooled,
            l_tilde,
            l_am,
            l_pm: None,
        }
    }

    /// The same constants with [`Self::l`] chosen by `rule`: $L$ of the pooled data, or
    /// $L_{AM}$ (see [`SmoothnessRule`]).
    pub fn with_rule(mut self, rule: SmoothnessRule) -> Self {
        self.rule = rule;
        self.l = match rule {
            SmoothnessRule::Pooled => self.l_pooled,
            SmoothnessRule::MeanOfWorkers => self.l_am,
        };
        self
    }

    /// max_i L_i.
    pub fn l_max(&self) -> f64 {
        self.l_i.iter().copied().fold(0.0, f64::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random_csr(m: usize, d: usize, density: f64, seed: u64) -> Csr<f64> {
        let mut rng = SqueezeRng::from_seed_u64(seed);
        let dense: Vec<f64> = (0..m * d)
            .map(|_| {
                if rng.next_f64() < density {
                    rng.normal()
                } else {
                    0.0
                }
            })
            .collect();
        Csr::from_dense(d, &dense).unwrap()
    }

    fn brute_force(a: &Csr<f64>) -> f64 {
        let dense = DMatrix::from_row_slice(a.n_rows(), a.n_cols(), &a.to_dense());
        // Largest singular value squared, from nalgebra's SVD (an independent route).
        let s = dense.singular_values();
        s.iter().copied().fold(0.0, f64::max).powi(2)
    }

    #[test]
    fn all_three_routes_agree_with_svd() {
        for (m, d, seed) in [(30, 8, 1), (8, 30, 2), (50, 50, 3), (1, 5, 4)] {
            let a = random_csr(m, d, 0.3, seed);
            let want = brute_force(&a);
            let ata = sym_lambda_max(gram_ata(&a));
            let aat = sym_lambda_max(gram_aat(&a));
            let pow = lambda_max_power(&a, 1e-13, 100_000);
            let auto = lambda_max_ata(&a);
            for got in [ata, aat, auto] {
                assert!(
                    (got - want).abs() <= 1e-9 * want,
                    "{m}x{d}: {got} vs {want}"
                );
            }
            assert!(
                (pow - want).abs() <= 1e-6 * want,
                "power {m}x{d}: {pow} vs {want}"
            );
            assert!(pow <= want * (1.0 + 1e-12));
        }
    }

    #[test]
    fn empty_matrix_has_zero_lambda() {
        assert_eq!(lambda_max_ata(&Csr::<f32>::empty(5)), 0.0);
        assert_eq!(lambda_max_power(&Csr::<f32>::empty(5), 1e-9, 10), 0.0);
    }
}

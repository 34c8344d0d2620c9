//! Dense symmetric linear algebra for the Newton-type server step, in place and without
//! allocation: the cyclic Jacobi eigen-decomposition (for the projection onto {H ⪰ μI}) and
//! the Cholesky factorisation (for the shifted system H + lI). Matrices are d × d, row-major,
//! in `f64`.
//!
//! ```
//! use squeeze_methods::star::newton::linalg::{NewtonSolver, Regularization};
//! let mut s = NewtonSolver::new(2);
//! // H = diag(4, −1) projected onto {H ⪰ 1·I} is diag(4, 1): the step solves diag(4, 1) Δ = g.
//! let mut delta = [0.0; 2];
//! s.solve(&[4.0, 0.0, 0.0, -1.0], &[8.0, 3.0], Regularization::Project { mu: 1.0 }, &mut delta)
//!     .unwrap();
//! assert!((delta[0] - 2.0).abs() < 1e-12 && (delta[1] - 3.0).abs() < 1e-12);
//! ```

use serde::{Deserialize, Serialize};
use squeeze_compress::matrix::eigen::jacobi_eigen;

/// How the server turns the learned Hessian H into a positive-definite system matrix.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Regularization {
    /// Option 1: $\lbrack H\rbrack_\mu$, the projection onto $\lbrace H \succeq \mu I\rbrace$ in the Frobenius norm:
    /// eigenvalues clipped from below at μ (eigenvectors kept).
    Project {
        /// μ > 0.
        mu: f64,
    },
    /// Option 2: $H + l I$ with the shift $l \ge 0$ (the average of the workers'
    /// $\lVert H_i - \nabla^2 f_i(x)\rVert_F$).
    Shift {
        /// l ≥ 0.
        l: f64,
    },
}

/// Why a step could not be taken.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SolveError {
    /// H + lI is not positive definite (a pivot ≤ 0 in the Cholesky factorisation).
    #[error(
        "the shifted Hessian H + l·I is not positive definite (pivot {pivot} at row {row}); \
         the problem must be strongly convex — use regularization = \"project\" or an L2 \
         regulariser"
    )]
    NotPositiveDefinite {
        /// Row of the failing pivot.
        row: usize,
        /// Its value.
        pivot: f64,
    },
    /// A non-finite entry in H or g.
    #[error("the Hessian estimate or the gradient is not finite")]
    NonFinite,
}

/// Reusable buffers for [`NewtonSolver::solve`] at one dimension (allocated once).
#[derive(Debug, Clone, Default)]
pub struct NewtonSolver {
    d: usize,
    a: Vec<f64>,
    v: Vec<f64>,
    t: Vec<f64>,
}

impl NewtonSolver {
    /// Buffers for d × d systems.
    pub fn new(d: usize) -> Self {
        Self {
            d,
            a: vec![0.0; d * d],
            v: vec![0.0; d * d],
            t: vec![0.0; d],
        }
    }

    /// The dimension.
    pub fn dim(&self) -> usize {
        self.d
    }

    /// Write Δ with $M\Delta = g$ into `delta`, where M is `h` (d × d, symmetric, row-major)
    /// regularised by `reg`. Lengths must be d² and d (the caller's invariant).
    ///
    /// # Errors
    /// Non-finite input, or (for [`Regularization::Shift`]) a matrix that is not positive
    /// definite.
    pub fn solve(
        &mut self,
        h: &[f64],
        g: &[f64],
        reg: Regularization,
        delta: &mut [f64],
    ) -> Result<(), SolveError> {
        if h.iter().chain(g).any(|v| !v.is_finite()) {
            return Err(SolveError::NonFinite);
        }
        self.a.copy_from_slice(h);
        match reg {
            Regularization::Project { mu } => {
                // `a` and `v` are d × d by construction (`new`), so this cannot fail.
                jacobi_eigen(self.d, &mut self.a, &mut self.v).ok();
                // Δ = V diag(1/max(λ_k, μ)) Vᵀ g.
                let d = self.d;
                for k in 0..d {
                    let vk_g: f64 = (0..d).map(|r| self.v[r * d + k] * g[r]).sum();
                    self.t[k] = vk_g / self.a[k * d + k].max(mu);
                }
                for (r, out) in delta.iter_mut().enumerate().take(d) {
                    *out = (0..d).map(|k| self.v[r * d + k] * self.t[k]).sum();
                }
                Ok(())
            }
            Regularization::Shift { l } => {
                let d = self.d;
                for k in 0..d {
                    self.a[k * d + k] += l;
                }
                cholesky(d, &mut self.a)?;
                cholesky_solve(d, &self.a, g, &mut self.t, delta);
                Ok(())
            }
        }
    }
}

/// In-place Cholesky: the lower triangle of `a` becomes L with A = L Lᵀ.
fn cholesky(d: usize, a: &mut [f64]) -> Result<(), SolveError> {
    for j in 0..d {
        let mut s = a[j * d + j];
        for k in 0..j {
            s -= a[j * d + k] * a[j * d + k];
        }
        if s <= 0.0 || !s.is_finite() {
            return Err(SolveError::NotPositiveDefinite { row: j, pivot: s });
        }
        let ljj = s.sqrt();
        a[j * d + j] = ljj;
        for i in j + 1..d {
            let mut s = a[i * d + j];
            for k in 0..j {
                s -= a[i * d + k] * a[j * d + k];
            }
            a[i * d + j] = s / ljj;
        }
    }
    Ok(())
}

/// Solve L Lᵀ x = b with the factor of [`cholesky`] (`y` is scratch of length d).
fn cholesky_solve(d: usize, l: &[f64], b: &[f64], y: &mut [f64], x: &mut [f64]) {
    for i in 0..d {
        let s: f64 = (0..i).map(|k| l[i * d + k] * y[k]).sum();
        y[i] = (b[i] - s) / l[i * d + i];
    }
    for i in (0..d).rev() {
        let s: f64 = (i + 1..d).map(|k| l[k * d + i] * x[k]).sum();
        x[i] = (y[i] - s) / l[i * d + i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use squeeze_core::rng::SqueezeRng;

    fn random_symmetric(d: usize, seed: u64) -> Vec<f64> {
        let mut r = SqueezeRng::from_seed_u64(seed);
        let mut a = vec![0.0; d * d];
        for i in 0..d {
            for j in i..d {
                let v = r.normal();
                a[i * d + j] = v;
                a[j * d + i] = v;
            }
        }
        a
    }

    fn mat_vec(d: usize, a: &[f64], x: &[f64]) -> Vec<f64> {
        (0..d)
            .map(|i| (0..d).map(|j| a[i * d + j] * x[j]).sum())
            .collect()
    }

    /// The eigen-decomposition reproduces A and its eigenvalues are nalgebra's.
    #[test]
    fn jacobi_matches_nalgebra() {
        for (d, seed) in [(1, 1), (2, 2), (7, 3), (30, 4)] {
            let a0 = random_symmetric(d, seed);
            let (mut a, mut v) = (a0.clone(), vec![0.0; d * d]);
            jacobi_eigen(d, &mut a, &mut v).unwrap();
            let mut ours: Vec<f64> = (0..d).map(|k| a[k * d + k]).collect();
            ours.sort_by(f64::total_cmp);
            let mut theirs: Vec<f64> = nalgebra::DMatrix::from_row_slice(d, d, &a0)
                .symmetric_eigen()
                .eigenvalues
                .iter()
                .copied()
                .collect();
            theirs.sort_by(f64::total_cmp);
            for (x, y) in ours.iter().zip(&theirs) {
                assert!((x - y).abs() < 1e-10, "d {d}: {x} vs {y}");
            }
            // V diag(λ) Vᵀ = A.
            for i in 0..d {
                for j in 0..d {
                    let r: f64 = (0..d)
                        .map(|k| v[i * d + k] * a[k * d + k] * v[j * d + k])
                        .sum();
                    assert!((r - a0[i * d + j]).abs() < 1e-10, "d {d}");
                }
            }
        }
    }

    #[test]
    fn projection_and_shift_solve_their_systems() {
        let d = 6;
        let h = random_symmetric(d, 9);
        let g: Vec<f64> = (0..d).map(|k| k as f64 - 2.5).collect();
        let mut s = NewtonSolver::new(d);
        let mut delta = vec![0.0; d];
        // A shift larger than the most negative eigenvalue: (H + lI) Δ = g.
        let l = 10.0;
        s.solve(&h, &g, Regularization::Shift { l }, &mut delta)
            .unwrap();
        let mut hl = h.clone();
        for k in 0..d {
            hl[k * d + k] += l;
        }
        for (x, y) in mat_vec(d, &hl, &delta).iter().zip(&g) {
            assert!((x - y).abs() < 1e-10);
        }
        // Too small a shift is refused with a typed error.
        let e = s.solve(&h, &g, Regularization::Shift { l: 0.0 }, &mut delta);
        assert!(
            matches!(e, Err(SolveError::NotPositiveDefinite { .. })),
            "{e:?}"
        );
        // A μ above every eigenvalue makes the projection μI: Δ = g/μ.
        s.solve(&h, &g, Regularization::Project { mu: 100.0 }, &mut delta)
            .unwrap();
        for (x, y) in delta.iter().zip(&g) {
            assert!((x - y / 100.0).abs() < 1e-12);
        }
        // On a positive-definite H with μ below its spectrum the projection is H itself.
        let mut p = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..d {
                p[i * d + j] = (0..d).map(|k| h[i * d + k] * h[j * d + k]).sum::<f64>();
            }
            p[i * d + i] += 1.0;
        }
        s.solve(&p, &g, Regularization::Project { mu: 1e-3 }, &mut delta)
            .unwrap();
        for (x, y) in mat_vec(d, &p, &delta).iter().zip(&g) {
            assert!((x - y).abs() < 1e-9);
        }
        let nan = [f64::NAN; 36];
        assert_eq!(
            s.solve(&nan, &g, Regularization::Project { mu: 1.0 }, &mut delta),
            Err(SolveError::NonFinite)
        );
    }
}

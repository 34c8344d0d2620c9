//! The symmetric eigen-decomposition behind the low-rank matrix compressors and the
//! Newton-type server step: cyclic Jacobi, in place, deterministic, allocation-free.
//!
//! For a symmetric $A$ ($d\times d$, row-major, `f64`) each sweep applies a rotation
//! $J_{pq}$ to every off-diagonal pair, $A \leftarrow J^\top A J$, $V \leftarrow VJ$, with the
//! angle that zeroes $a_{pq}$ (Golub & Van Loan, *Matrix Computations*, §8.5). The
//! off-diagonal mass falls quadratically; the loop stops when it is below $10^{-30}$ of
//! $\lVert A\rVert_F^2$ or after [`MAX_SWEEPS`] sweeps (about 10 at $d \approx 300$). Cost
//! $\approx 3d^3$ flops per sweep.
//!
//! ```
//! use squeeze_compress::matrix::eigen::jacobi_eigen;
//! // A = [[2, 1], [1, 2]]: eigenvalues 1 and 3, eigenvectors (1, ∓1)/√2.
//! let (mut a, mut v) = ([2.0, 1.0, 1.0, 2.0], [0.0; 4]);
//! jacobi_eigen(2, &mut a, &mut v).unwrap();
//! let mut l = [a[0], a[3]];
//! l.sort_by(f64::total_cmp);
//! assert!((l[0] - 1.0).abs() < 1e-14 && (l[1] - 3.0).abs() < 1e-14);
//! assert!((v[0].abs() - 0.5f64.sqrt()).abs() < 1e-14);
//! assert!(jacobi_eigen(3, &mut a, &mut v).is_err()); // not 3 × 3
//! ```

use squeeze_core::LengthMismatch;

/// Jacobi sweeps before giving up on convergence (the off-diagonal mass falls quadratically;
/// 10 sweeps are typical at d ≈ 300).
pub const MAX_SWEEPS: usize = 60;

/// Cyclic Jacobi: on return the diagonal of `a` holds the eigenvalues and the columns of `v`
/// the eigenvectors (`a` = V diag(λ) Vᵀ on entry; `a` symmetric, only then is the result an
/// eigen-decomposition). Deterministic; stops when the off-diagonal mass is below 10⁻³⁰ of
/// the total (or after [`MAX_SWEEPS`]). Non-finite entries give non-finite output, never a
/// panic.
///
/// # Errors
/// `a` or `v` is not of length d² (nothing is written).
pub fn jacobi_eigen(d: usize, a: &mut [f64], v: &mut [f64]) -> Result<(), LengthMismatch> {
    let expected = d.saturating_mul(d);
    for got in [a.len(), v.len()] {
        if got != expected {
            return Err(LengthMismatch { expected, got });
        }
    }
    v.fill(0.0);
    for k in 0..d {
        v[k * d + k] = 1.0;
    }
    let total: f64 = a.iter().map(|x| x * x).sum();
    for _ in 0..MAX_SWEEPS {
        let off: f64 = (0..d)
            .flat_map(|p| (p + 1..d).map(move |q| (p, q)))
            .map(|(p, q)| 2.0 * a[p * d + q] * a[p * d + q])
            .sum();
        if off <= 1e-30 * total || off == 0.0 {
            return Ok(());
        }
        for p in 0..d {
            for q in p + 1..d {
                let apq = a[p * d + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (a[q * d + q] - a[p * d + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                // A ← Jᵀ A J with the rotation J in the (p, q) plane.
                for k in 0..d {
                    let (akp, akq) = (a[k * d + p], a[k * d + q]);
                    a[k * d + p] = c * akp - s * akq;
                    a[k * d + q] = s * akp + c * akq;
                }
                for k in 0..d {
                    let (apk, aqk) = (a[p * d + k], a[q * d + k]);
                    a[p * d + k] = c * apk - s * aqk;
                    a[q * d + k] = s * apk + c * aqk;
                }
                for k in 0..d {
                    let (vkp, vkq) = (v[k * d + p], v[k * d + q]);
                    v[k * d + p] = c * vkp - s * vkq;
                    v[k * d + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    Ok(())
}

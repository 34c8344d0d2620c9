//! A few eigenpairs of a large symmetric matrix in $O(d^3)$ with a small constant: Householder
//! reduction to tridiagonal form $A = QTQ^\top$ ($\approx \tfrac83 d^3$ flops, the reflectors
//! kept in place of $A$), all eigenvalues of $T$ by the implicit QL method (Wilkinson shifts,
//! $O(d^2)$), then the wanted eigenvectors of $T$ by inverse iteration (three tridiagonal
//! solves with partial pivoting, each vector re-orthogonalised against the earlier ones, which
//! also separates repeated eigenvalues) and $u = Qy$ ($O(d^2)$ each). Golub & Van Loan,
//! *Matrix Computations*, §8.3 and §8.2.2. Deterministic (fixed start vectors).
//!
//! [`crate::matrix::RankR`] uses it above [`JACOBI_MAX_SIDE`]: at $d = 300$ it is tens of
//! times faster than the full Jacobi decomposition, which it matches to round-off (tests).

/// Sides up to this use the Jacobi method (exact to round-off, cheap at small d).
pub const JACOBI_MAX_SIDE: usize = 48;

/// `f64` working memory [`top_eigenpairs`] needs at side `d`, beside `a` and the vectors.
pub fn work_len(d: usize) -> usize {
    10 * d
}

/// The `r` eigenpairs of largest $\lvert\lambda\rvert$ of the symmetric row-major `a`
/// (side `d`, destroyed): eigenvalues into `lambda[..r]` in that order (ties to the lower
/// QL index), unit eigenvectors into `vectors[k·d..(k+1)·d]`. `work` has [`work_len`]
/// entries, `order` is index scratch. Lengths are the caller's invariant (`a`: d², `lambda`:
/// ≥ r, `vectors`: ≥ r·d, r ≤ d).
pub fn top_eigenpairs(
    d: usize,
    a: &mut [f64],
    r: usize,
    work: &mut [f64],
    order: &mut Vec<u32>,
    lambda: &mut [f64],
    vectors: &mut [f64],
) {
    let (diag, rest) = work.split_at_mut(d);
    let (off, rest) = rest.split_at_mut(d);
    let (beta, rest) = rest.split_at_mut(d);
    let (eig, rest) = rest.split_at_mut(d);
    let (e, tmp) = rest.split_at_mut(d);
    tridiagonalise(d, a, diag, off, beta);
    eig.copy_from_slice(diag);
    e.copy_from_slice(off);
    ql_eigenvalues(d, eig, e);
    order.clear();
    order.extend(0..d as u32);
    order.sort_unstable_by(|&p, &q| {
        eig[q as usize]
            .abs()
            .total_cmp(&eig[p as usize].abs())
            .then(p.cmp(&q))
    });
    let norm = eig.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if norm == 0.0 || !norm.is_finite() {
        // T = 0 (or not finite): the unit vectors are eigenvectors.
        for k in 0..r {
            lambda[k] = eig[order[k] as usize];
            let u = &mut vectors[k * d..(k + 1) * d];
            u.fill(0.0);
            u[order[k] as usize] = 1.0;
        }
        return;
    }
    for k in 0..r {
        let l = eig[order[k] as usize];
        lambda[k] = l;
        let (done, cur) = vectors.split_at_mut(k * d);
        inverse_iteration(d, diag, off, l, norm, k, done, &mut cur[..d], tmp);
    }
    for k in 0..r {
        back_transform(d, a, beta, &mut vectors[k * d..(k + 1) * d]);
    }
}

/// Householder reduction: on return `diag`/`off` hold $T$ (`off[i]` = $T_{i,i+1}$,
/// `off[d−1]` = 0), and column `k` of `a` below row `k` the reflector $v_k$ (with
/// `beta[k]`), $A = H_0 H_1 \cdots T \cdots H_1 H_0$.
fn tridiagonalise(d: usize, a: &mut [f64], diag: &mut [f64], off: &mut [f64], beta: &mut [f64]) {
    off.fill(0.0);
    beta.fill(0.0);
    for k in 0..d.saturating_sub(2) {
        // x = A[k+1.., k]; v = x + sign(x₀)‖x‖e₁ in place, β = 2/vᵀv.
        let norm: f64 = (k + 1..d)
            .map(|i| a[i * d + k] * a[i * d + k])
            .sum::<f64>()
            .sqrt();
        diag[k] = a[k * d + k];
        if norm == 0.0 {
            off[k] = 0.0;
            continue;
        }
        let x0 = a[(k + 1) * d + k];
        let alpha = if x0 >= 0.0 { -norm } else { norm };
        a[(k + 1) * d + k] = x0 - alpha;
        let vv: f64 = (k + 1..d).map(|i| a[i * d + k] * a[i * d + k]).sum();
        let b = 2.0 / vv;
        beta[k] = b;
        off[k] = alpha;
        // p = β A₂₂ v (A₂₂ = A[k+1.., k+1..], kept full and symmetric), w = p − (β pᵀv/2) v.
        for i in k + 1..d {
            let s: f64 = (k + 1..d).map(|j| a[i * d + j] * a[j * d + k]).sum();
            diag[i] = b * s; // diag[i > k] is free until its own step: use it for p.
        }
        let pv: f64 = (k + 1..d).map(|i| diag[i] * a[i * d + k]).sum();
        let c = 0.5 * b * pv;
        for i in k + 1..d {
            diag[i] -= c * a[i * d + k];
        }
        // A₂₂ −= v wᵀ + w vᵀ.
        for i in k + 1..d {
            let (vi, wi) = (a[i * d + k], diag[i]);
            for j in k + 1..d {
                let (vj, wj) = (a[j * d + k], diag[j]);
                a[i * d + j] -= vi * wj + wi * vj;
            }
        }
    }
    if d >= 2 {
        diag[d - 2] = a[(d - 2) * d + d - 2];
        off[d - 2] = a[(d - 1) * d + d - 2];
    }
    if d >= 1 {
        diag[d - 1] = a[(d - 1) * d + d - 1];
    }
}

/// All eigenvalues of the tridiagonal (`dg`, `e`) into `dg` by implicit QL with Wilkinson
/// shifts (`e` destroyed; at most 60 iterations per eigenvalue).
fn ql_eigenvalues(n: usize, dg: &mut [f64], e: &mut [f64]) {
    for l in 0..n {
        let mut iter = 0;
        loop {
            let mut m = l;
            while m + 1 < n {
                let dd = dg[m].abs() + dg[m + 1].abs();
                if e[m].abs() <= f64::EPSILON * dd {
                    break;
                }
                m += 1;
            }
            if m == l || iter == 60 {
                break;
            }
            iter += 1;
            let mut g = (dg[l + 1] - dg[l]) / (2.0 * e[l]);
            let mut r = g.hypot(1.0);
            g = dg[m] - dg[l] + e[l] / (g + r.copysign(g));
            let (mut s, mut c, mut p) = (1.0, 1.0, 0.0);
            let mut underflow = false;
            for i in (l..m).rev() {
                let f = s * e[i];
                let b = c * e[i];
                r = f.hypot(g);
                e[i + 1] = r;
                if r == 0.0 {
                    dg[i + 1] -= p;
                    e[m] = 0.0;
                    underflow = true;
                    break;
                }
                s = f / r;
                c = g / r;
                g = dg[i + 1] - p;
                r = (dg[i] - g) * s + 2.0 * c * b;
                p = s * r;
                dg[i + 1] = g + p;
                g = c * r - b;
            }
            if underflow {
                continue;
            }
            dg[l] -= p;
            e[l] = g;
            e[m] = 0.0;
        }
    }
}

/// The unit eigenvector `y` of the tridiagonal (`dg`, `off`) for the eigenvalue `l`: three
/// solves of $(T - \sigma I)y' = y$ with $\sigma$ = `l` nudged by $10^{-13}$ of `norm`, each
/// followed by Gram–Schmidt against the `done` vectors (k of them) and normalisation.
#[allow(clippy::too_many_arguments)]
fn inverse_iteration(
    n: usize,
    dg: &[f64],
    off: &[f64],
    l: f64,
    norm: f64,
    k: usize,
    done: &[f64],
    y: &mut [f64],
    tmp: &mut [f64],
) {
    // A fixed, non-degenerate start: a SplitMix sequence seeded by k.
    let mut z = 0x9E37_79B9_7F4A_7C15u64.wrapping_mul(k as u64 + 1);
    for v in y.iter_mut() {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut t = z;
        t = (t ^ (t >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        t = (t ^ (t >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        *v = ((t >> 11) as f64 / (1u64 << 53) as f64) - 0.5;
    }
    let sigma = l + 1e-13 * norm;
    let tiny = f64::EPSILON * norm;
    let (dl, rest) = tmp.split_at_mut(n);
    let (dd, rest) = rest.split_at_mut(n);
    let (du, rest) = rest.split_at_mut(n);
    let du2 = &mut rest[..n];
    for _ in 0..3 {
        orthogonalise(n, k, done, y);
        for i in 0..n {
            dd[i] = dg[i] - sigma;
            dl[i] = off[i];
            du[i] = off[i];
            du2[i] = 0.0;
        }
        // Gaussian elimination with partial pivoting (LAPACK dgtsv).
        for i in 0..n.saturating_sub(1) {
            if dd[i].abs() >= dl[i].abs() {
                if dd[i] == 0.0 {
                    dd[i] = tiny;
                }
                let f = dl[i] / dd[i];
                dd[i + 1] -= f * du[i];
                y[i + 1] -= f * y[i];
            } else {
                let f = dd[i] / dl[i];
                dd[i] = dl[i];
                let t = dd[i + 1];
                dd[i + 1] = du[i] - f * t;
                if i + 2 < n {
                    du2[i] = du[i + 1];
                    du[i + 1] = -f * du2[i];
                }
                du[i] = t;
                let t = y[i];
                y[i] = y[i + 1];
                y[i + 1] = t - f * y[i + 1];
            }
        }
        if dd[n - 1] == 0.0 {
            dd[n - 1] = tiny;
        }
        for i in (0..n).rev() {
            let mut s = y[i];
            if i + 1 < n {
                s -= du[i] * y[i + 1];
            }
            if i + 2 < n {
                s -= du2[i] * y[i + 2];
            }
            y[i] = s / dd[i];
        }
        let nrm: f64 = y.iter().map(|v| v * v).sum::<f64>().sqrt();
        if nrm > 0.0 && nrm.is_finite() {
            y.iter_mut().for_each(|v| *v /= nrm);
        }
    }
    orthogonalise(n, k, done, y);
}

/// Gram–Schmidt of `y` against the `k` unit vectors in `done`, then normalise.
fn orthogonalise(n: usize, k: usize, done: &[f64], y: &mut [f64]) {
    for j in 0..k {
        let q = &done[j * n..(j + 1) * n];
        let dot: f64 = q.iter().zip(y.iter()).map(|(a, b)| a * b).sum();
        y.iter_mut().zip(q).for_each(|(v, qv)| *v -= dot * qv);
    }
    let nrm: f64 = y.iter().map(|v| v * v).sum::<f64>().sqrt();
    if nrm > 0.0 && nrm.is_finite() {
        y.iter_mut().for_each(|v| *v /= nrm);
    }
}

/// $u = H_0 H_1 \cdots H_{d-3}\thinspace y$ in place, with the reflectors of [`tridiagonalise`].
fn back_transform(d: usize, a: &[f64], beta: &[f64], y: &mut [f64]) {
    for k in (0..d.saturating_sub(2)).rev() {
        if beta[k] == 0.0 {
            continue;
        }
        let s: f64 = (k + 1..d).map(|i| a[i * d + k] * y[i]).sum();
        let f = beta[k] * s;
        for i in k + 1..d {
            y[i] -= f * a[i * d + k];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::eigen::jacobi_eigen;
    use squeeze_core::SqueezeRng;

    fn check(d: usize, a0: &[f64], r: usize) {
        let (mut a, mut v) = (a0.to_vec(), vec![0.0; d * d]);
        jacobi_eigen(d, &mut a, &mut v).unwrap();
        let mut want: Vec<f64> = (0..d).map(|k| a[k * d + k]).collect();
        want.sort_by(|x, y| y.abs().total_cmp(&x.abs()));
        let mut b = a0.to_vec();
        let (mut work, mut order) = (vec![0.0; work_len(d)], Vec::new());
        let (mut lambda, mut vecs) = (vec![0.0; r], vec![0.0; r * d]);
        top_eigenpairs(d, &mut b, r, &mut work, &mut order, &mut lambda, &mut vecs);
        let scale = want[0].abs().max(1e-300);
        for k in 0..r {
            assert!(
                (lambda[k].abs() - want[k].abs()).abs() < 1e-11 * scale,
                "d {d} k {k}"
            );
            let u = &vecs[k * d..(k + 1) * d];
            // A u = λ u and ‖u‖ = 1, u ⟂ earlier vectors.
            for i in 0..d {
                let au: f64 = (0..d).map(|j| a0[i * d + j] * u[j]).sum();
                assert!(
                    (au - lambda[k] * u[i]).abs() < 1e-9 * scale,
                    "d {d} k {k} row {i}: {au} vs {} · {} (λ {lambda:?})",
                    lambda[k],
                    u[i]
                );
            }
            for j in 0..k {
                let dot: f64 = u.iter().zip(&vecs[j * d..]).map(|(x, y)| x * y).sum();
                assert!(dot.abs() < 1e-9, "d {d}: u{k}·u{j} = {dot}");
            }
        }
    }

    #[test]
    fn matches_jacobi() {
        let mut rng = SqueezeRng::from_seed_u64(5);
        for d in [1usize, 2, 3, 7, 50, 120] {
            let mut a = vec![0.0; d * d];
            for i in 0..d {
                for j in i..d {
                    let v = rng.normal();
                    a[i * d + j] = v;
                    a[j * d + i] = v;
                }
            }
            check(d, &a, d.min(4));
        }
        // Repeated eigenvalues: the identity, an all-ones matrix (d, 0, …, 0), and
        // diag(3, −3, 1, …) with |λ| ties.
        let d = 60;
        let mut eye = vec![0.0; d * d];
        for k in 0..d {
            eye[k * d + k] = 1.0;
        }
        check(d, &eye, 3);
        check(d, &vec![1.0; d * d], 3);
        let mut t = eye.clone();
        t[0] = 3.0;
        t[d + 1] = -3.0;
        check(d, &t, 3);
        check(d, &vec![0.0; d * d], 2);
    }
}

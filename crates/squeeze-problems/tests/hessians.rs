//! Local Hessians against central differences of the gradients, exact symmetry,
//! Hessian–vector products against H·v, the curvature bounds against the true smallest
//! eigenvalue, the packed upper triangle, and the NaN contract of the hot methods.

mod common;

use common::*;
use nalgebra::DMatrix;
use proptest::prelude::*;
use squeeze_core::rng::SqueezeRng;
use squeeze_problems::hessian::{Curvature, check_hessian_len, pack_upper, unpack_upper};
use squeeze_problems::prelude::*;
use squeeze_problems::quadratic;

/// An m × d matrix with about half its entries zero (so rows are really sparse).
fn random_csr(m: usize, d: usize, seed: u64) -> Csr<f64> {
    let mut r = SqueezeRng::from_seed_u64(seed);
    let dense: Vec<f64> = (0..m * d)
        .map(|_| if r.bernoulli(0.5) { r.normal() } else { 0.0 })
        .collect();
    Csr::from_dense(d, &dense).unwrap()
}

fn labels(m: usize, seed: u64) -> Vec<f64> {
    let mut r = SqueezeRng::from_seed_u64(seed);
    (0..m)
        .map(|_| if r.bernoulli(0.5) { 1.0 } else { -1.0 })
        .collect()
}

/// Every oracle with a Hessian, in dimension `d`.
fn oracles(d: usize, seed: u64) -> Vec<(String, Box<dyn Oracle<f64>>)> {
    let mut out: Vec<(String, Box<dyn Oracle<f64>>)> = Vec::new();
    for reg in REGS {
        let data = Dataset::new("rand", random_csr(23, d, seed), labels(23, seed + 1)).unwrap();
        out.push((
            format!("logreg {reg:?}"),
            Box::new(LogReg::new(data, reg).unwrap()),
        ));
        let b = random_vec(17, 1.0, seed + 2);
        out.push((
            format!("least squares {reg:?}"),
            Box::new(LeastSquares::new(random_csr(17, d, seed + 3), b, reg).unwrap()),
        ));
    }
    for i in 0..3 {
        out.push((
            format!("3pc quadratic worker {i}"),
            Box::new(tridiag_worker(d, seed, i)),
        ));
    }
    out.push((
        "motef quadratic worker 1".to_string(),
        Box::new(
            quadratic::ScaledIdentityLsq::new(1.7, random_vec(d, 1.0, seed + 4), 0.0).unwrap(),
        ),
    ));
    out
}

/// Worker i of the 3PC quadratics, rebuilt from its Hessian and its gradient at 0 (−b₁e₁).
fn tridiag_worker(d: usize, seed: u64, i: usize) -> quadratic::TridiagQuadratic<f64> {
    let q = quadratic::three_pc::<f64>(d, 3, 0.1, seed).unwrap();
    let h = hessian_of(q.oracle(i), &vec![0.0; d]);
    let mut g = vec![0.0; d];
    q.oracle(i).grad(&vec![0.0; d], &mut g);
    quadratic::TridiagQuadratic::new(d, h[0], h[1], -g[0]).unwrap()
}

fn hessian_of(o: &dyn Oracle<f64>, x: &[f64]) -> Vec<f64> {
    let d = x.len();
    let mut h = vec![0.0; d * d];
    o.hessian(x, &mut h);
    h
}

fn min_eigenvalue(h: &[f64], d: usize) -> f64 {
    DMatrix::from_row_slice(d, d, h)
        .symmetric_eigen()
        .eigenvalues
        .min()
}

#[test]
fn hessians_match_central_differences_of_the_gradient() {
    let d = 7;
    for (name, o) in oracles(d, 11) {
        let x = random_vec(d, 1.0, 5);
        let h = hessian_of(o.as_ref(), &x);
        let eps = 1e-6;
        let (mut gp, mut gm) = (vec![0.0; d], vec![0.0; d]);
        let mut xp = x.clone();
        let scale = h.iter().fold(1e-3f64, |m, v| m.max(v.abs()));
        for k in 0..d {
            xp[k] = x[k] + eps;
            o.grad(&xp, &mut gp);
            xp[k] = x[k] - eps;
            o.grad(&xp, &mut gm);
            xp[k] = x[k];
            for r in 0..d {
                let fd = (gp[r] - gm[r]) / (2.0 * eps);
                let err = (fd - h[r * d + k]).abs() / scale;
                assert!(err < 1e-6, "{name}: H[{r},{k}] = {} vs {fd}", h[r * d + k]);
            }
        }
    }
}

#[test]
fn hessians_are_exactly_symmetric_and_hess_vec_is_h_times_v() {
    let d = 9;
    for (name, o) in oracles(d, 3) {
        let x = random_vec(d, 2.0, 8);
        let v = random_vec(d, 1.0, 9);
        let h = hessian_of(o.as_ref(), &x);
        for r in 0..d {
            for c in 0..d {
                assert_eq!(h[r * d + c].to_bits(), h[c * d + r].to_bits(), "{name}");
            }
        }
        let mut hv = vec![0.0; d];
        o.hess_vec(&x, &v, &mut hv);
        let scale = h.iter().fold(1e-12f64, |m, e| m.max(e.abs()));
        for r in 0..d {
            let want: f64 = (0..d).map(|c| h[r * d + c] * v[c]).sum();
            assert!(
                (hv[r] - want).abs() <= 1e-12 * scale * d as f64,
                "{name}: row {r}"
            );
        }
    }
}

#[test]
fn wrong_lengths_write_nan_and_oracles_without_a_hessian_say_so() {
    let d = 4;
    for (name, o) in oracles(d, 1) {
        let mut h = vec![0.0; d * d - 1];
        o.hessian(&[0.0; 4], &mut h);
        assert!(h.iter().all(|v| v.is_nan()), "{name}");
        let mut h = vec![0.0; d * d];
        o.hessian(&[0.0; 3], &mut h);
        assert!(h.iter().all(|v| v.is_nan()), "{name}");
        let mut out = vec![0.0; d];
        o.hess_vec(&[0.0; 4], &[0.0; 5], &mut out);
        assert!(out.iter().all(|v| v.is_nan()), "{name}");
        assert!(o.curvature().is_some(), "{name}");
    }
    // An oracle that implements only the first-order methods.
    struct FirstOrder;
    impl Oracle<f64> for FirstOrder {
        fn dim(&self) -> usize {
            2
        }
        fn n_samples(&self) -> usize {
            1
        }
        fn loss(&self, _: &[f64]) -> f64 {
            0.0
        }
        fn loss_grad(&self, _: &[f64], g: &mut [f64]) -> f64 {
            g.fill(0.0);
            0.0
        }
        fn minibatch_grad(&self, _: &[f64], _: &[u32], g: &mut [f64]) {
            g.fill(0.0);
        }
        fn smoothness(&self) -> f64 {
            0.0
        }
    }
    assert_eq!(FirstOrder.curvature(), None);
    let mut h = [0.0; 4];
    FirstOrder.hessian(&[0.0; 2], &mut h);
    assert!(h.iter().all(|v| v.is_nan()));
    assert_eq!(check_hessian_len(2, 3).unwrap_err().expected, 4);
}

#[test]
fn counted_charges_hessian_work_in_samples() {
    let data = Dataset::new("rand", random_csr(23, 5, 2), labels(23, 3)).unwrap();
    let f = Counted::new(LogReg::new(data, Regularizer::L2 { lambda: 0.1 }).unwrap());
    let mut h = vec![0.0; 25];
    f.hessian(&[0.0; 5], &mut h);
    let mut out = [0.0; 5];
    f.hess_vec(&[0.0; 5], &[1.0; 5], &mut out);
    assert_eq!((f.hess_samples(), f.grad_samples()), (46, 0));
    assert_eq!(f.curvature().unwrap().strong_convexity(), Some(0.1));
    f.reset();
    assert_eq!(f.hess_samples(), 0);
}

#[test]
fn problem_curvature_is_the_mean_of_the_workers() {
    let q = quadratic::three_pc::<f64>(50, 4, 0.1, 7).unwrap();
    let parts: Vec<Curvature> = q.oracles().iter().map(|o| o.curvature().unwrap()).collect();
    let mean = q.curvature().unwrap();
    let want = parts.iter().map(|c| c.min_eigenvalue).sum::<f64>() / 4.0;
    assert!((mean.min_eigenvalue - want).abs() <= 1e-15 * want.abs().max(1e-300));
    // The 3PC construction makes λ_min of the average 1e-6: the mean bound is that value.
    assert!((mean.min_eigenvalue - 1e-6).abs() < 1e-12, "{mean:?}");
    // Exact λ_min of each worker's A_i (the bound is tight for tridiagonal Toeplitz).
    for (i, o) in q.oracles().iter().enumerate() {
        let h = hessian_of(o.as_ref(), &[0.0; 50]);
        let exact = min_eigenvalue(&h, 50);
        let bound = parts[i].min_eigenvalue;
        assert!(
            (exact - bound).abs() < 1e-10,
            "worker {i}: {exact} vs {bound}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// λ_min(∇²f_i(x)) ≥ μ at random points, far ones included (the nonconvex regulariser's
    /// bound −λ/2 is reached near |x_k| = 1).
    #[test]
    fn curvature_bounds_hold_everywhere(seed in 0u64..1000, scale in 0.01f64..30.0) {
        let d = 6;
        for (name, o) in oracles(d, seed) {
            let x = random_vec(d, scale, seed + 100);
            let h = hessian_of(o.as_ref(), &x);
            let mu = o.curvature().unwrap().min_eigenvalue;
            let lmin = min_eigenvalue(&h, d);
            prop_assert!(lmin >= mu - 1e-10, "{}: λ_min {} < μ {}", name, lmin, mu);
        }
    }

    #[test]
    fn packing_the_upper_triangle_round_trips(d in 1usize..12, seed in 0u64..1000) {
        let a = random_vec(d * d, 1.0, seed);
        let mut h = vec![0.0; d * d];
        for r in 0..d {
            for c in 0..d {
                h[r * d + c] = a[r.min(c) * d + r.max(c)];
            }
        }
        let mut p = Vec::new();
        pack_upper(d, &h, &mut p).unwrap();
        prop_assert_eq!(p.len(), d * (d + 1) / 2);
        let mut back = vec![0.0; d * d];
        unpack_upper(d, &p, &mut back).unwrap();
        prop_assert_eq!(&back, &h);
        prop_assert!(unpack_upper(d, &p[1..], &mut back).is_err());
        prop_assert!(pack_upper(d + 1, &h, &mut p).is_err());
    }
}

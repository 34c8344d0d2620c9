//! Gradients against central finite differences, smoothness constants against brute force,
//! the Lipschitz property on random pairs, and the Problem bundle.

mod common;

use common::*;
use nalgebra::DMatrix;
use squeeze_core::rng::{Purpose, SqueezeRng};
use squeeze_problems::prelude::*;
use squeeze_problems::quadratic;
use squeeze_problems::smoothness::lambda_max_ata;

/// Max relative error of `grad` against central differences of `loss` at `x`.
fn fd_check(o: &dyn Oracle<f64>, x: &[f64]) -> f64 {
    let mut g = vec![0.0; x.len()];
    let f = o.loss_grad(x, &mut g);
    assert!((f - o.loss(x)).abs() <= 1e-12 * f.abs().max(1.0));
    let h = 1e-6;
    let mut xp = x.to_vec();
    let scale = g.iter().fold(1e-3f64, |m, v| m.max(v.abs()));
    let mut worst = 0.0f64;
    for k in 0..x.len() {
        xp[k] = x[k] + h;
        let fp = o.loss(&xp);
        xp[k] = x[k] - h;
        let fm = o.loss(&xp);
        xp[k] = x[k];
        let fd = (fp - fm) / (2.0 * h);
        worst = worst.max((fd - g[k]).abs() / scale);
    }
    // The gradient-only path agrees with loss_grad.
    let mut g2 = vec![0.0; x.len()];
    o.grad(x, &mut g2);
    for (a, b) in g.iter().zip(&g2) {
        assert!((a - b).abs() <= 1e-14 * scale, "{a} vs {b}");
    }
    worst
}

/// Unregularised logistic regression on [`small_data`] over `n_workers` (contiguous split).
fn small_logreg(n_workers: usize) -> Result<Problem<f64>, squeeze_problems::ProblemError> {
    let (split, rest) = (Split::Contiguous, Remainder::ToLast);
    Problem::logreg(&small_data(), n_workers, split, rest, Regularizer::None)
}

fn small_data() -> Dataset<f64> {
    // A mix of real features (breast cancer) subset: 60 rows, all 30 features.
    let d = embedded::default_dataset::<f64>();
    d.select_rows(&(0..60).map(|k| k * 9).collect::<Vec<_>>())
        .unwrap()
}

#[test]
fn logreg_gradients_match_finite_differences() {
    for reg in REGS {
        let f = LogReg::new(small_data(), reg).unwrap();
        for seed in 0..3 {
            let x = random_vec(30, 0.5, seed);
            let err = fd_check(&f, &x);
            assert!(err < 1e-7, "{reg:?}: {err}");
        }
    }
    // Also on the binary a9a-like data.
    let f = LogReg::new(embedded::synthetic_binary(300, 3), Regularizer::EF21).unwrap();
    assert!(fd_check(&f, &random_vec(123, 1.0, 9)) < 1e-7);
}

#[test]
fn least_squares_gradients_match_finite_differences() {
    let data = small_data();
    let b: Vec<f64> = random_vec(data.n_rows(), 1.0, 4);
    for reg in REGS {
        let f = LeastSquares::new(data.features.clone(), b.clone(), reg).unwrap();
        let err = fd_check(&f, &random_vec(30, 0.3, 5));
        assert!(err < 1e-7, "{reg:?}: {err}");
    }
}

#[test]
fn quadratic_gradients_match_finite_differences() {
    let p = quadratic::three_pc::<f64>(40, 3, 0.1, 12345).unwrap();
    for o in p.oracles() {
        assert!(fd_check(o.as_ref(), &random_vec(40, 1.0, 6)) < 1e-7);
    }
    let m = quadratic::motef::<f64>(25, 3, 2.0, 0.5, 1).unwrap();
    for o in m.problem.oracles() {
        assert!(fd_check(o.as_ref(), &random_vec(25, 1.0, 7)) < 1e-7);
    }
}

#[test]
fn minibatch_of_all_rows_equals_full_gradient_and_averages() {
    for reg in REGS {
        let f = LogReg::new(small_data(), reg).unwrap();
        let x = random_vec(30, 0.5, 11);
        let mut full = vec![0.0; 30];
        f.loss_grad(&x, &mut full);
        let all: Vec<u32> = (0..60).rev().collect();
        let mut mb = vec![0.0; 30];
        f.minibatch_grad(&x, &all, &mut mb);
        for (a, b) in full.iter().zip(&mb) {
            assert!((a - b).abs() < 1e-12);
        }
        // Mean of the 60 single-sample gradients is the full gradient too.
        let mut acc = vec![0.0; 30];
        for j in 0..60u32 {
            f.minibatch_grad(&x, &[j], &mut mb);
            acc.iter_mut().zip(&mb).for_each(|(a, b)| *a += b / 60.0);
        }
        for (a, b) in full.iter().zip(&acc) {
            assert!((a - b).abs() < 1e-12);
        }
        let b: Vec<f64> = random_vec(60, 1.0, 4);
        let ls = LeastSquares::new(small_data().features, b, reg).unwrap();
        ls.loss_grad(&x, &mut full);
        ls.minibatch_grad(&x, &all, &mut mb);
        for (a, b) in full.iter().zip(&mb) {
            assert!((a - b).abs() < 1e-12);
        }
    }
}

#[test]
fn logreg_and_least_squares_l_match_dense_brute_force() {
    let data = small_data();
    let a = DMatrix::from_row_slice(60, 30, &data.features.to_dense());
    let ata = a.transpose() * &a;
    let lmax = ata.symmetric_eigenvalues().max();
    for (reg, lr) in REGS.iter().zip([0.0, 0.3, 0.2]) {
        let f = LogReg::new(data.clone(), *reg).unwrap();
        let want = lmax / (4.0 * 60.0) + lr;
        assert!((f.smoothness() - want).abs() < 1e-10 * want, "{reg:?}");
        let ls = LeastSquares::new(data.features.clone(), vec![0.0; 60], *reg).unwrap();
        let want = lmax / 60.0 + lr;
        assert!((ls.smoothness() - want).abs() < 1e-10 * want);
    }
}

/// The Euclidean distance ‖a − b‖.
fn dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(a, b)| (a - b).powi(2))
        .sum::<f64>()
        .sqrt()
}

#[test]
fn gradients_are_l_lipschitz_on_random_pairs() {
    let data = embedded::default_dataset::<f64>();
    let p = Problem::logreg_ef21(&data, 5).unwrap();
    let (mut gx, mut gy) = (vec![0.0; 30], vec![0.0; 30]);
    let mut ws = p.workspace();
    let mut ratio_max = 0.0f64;
    for s in 0..200 {
        let x = random_vec(30, 2.0, 100 + s);
        let y: Vec<f64> = random_vec(30, 0.3, 1000 + s)
            .iter()
            .zip(&x)
            .map(|(a, b)| a + b)
            .collect();
        let dxy = dist(&x, &y);
        for (i, o) in p.oracles().iter().enumerate() {
            o.loss_grad(&x, &mut gx);
            o.loss_grad(&y, &mut gy);
            let dg = dist(&gx, &gy);
            assert!(
                dg <= p.smoothness().l_i[i] * dxy * (1.0 + 1e-12),
                "worker {i}"
            );
        }
        p.loss_grad(&x, &mut gx, &mut ws).unwrap();
        p.loss_grad(&y, &mut gy, &mut ws).unwrap();
        let dg = dist(&gx, &gy);
        assert!(dg <= p.smoothness().l * dxy * (1.0 + 1e-12));
        ratio_max = ratio_max.max(dg / dxy / p.smoothness().l);
    }
    // The bound is not wildly loose either (logistic curvature ≤ 1/4 is attained near 0).
    assert!(ratio_max > 0.05, "{ratio_max}");
}

#[test]
fn problem_l_is_pooled_and_l_tilde_dominates() {
    let data = embedded::synthetic_binary::<f64>(2000, 5);
    let p = Problem::logreg(
        &data,
        20,
        Split::Contiguous,
        Remainder::Drop,
        Regularizer::EF21,
    )
    .unwrap();
    let s = p.smoothness();
    assert_eq!(s.l_i.len(), 20);
    let want = lambda_max_ata(&data.features) / (4.0 * 2000.0) + 0.2;
    assert!((s.l - want).abs() < 1e-10 * want);
    assert!(s.l <= s.l_am * (1.0 + 1e-12) && s.l_am <= s.l_tilde * (1.0 + 1e-12));
    assert!((p.loss(&vec![0.0; 123]).unwrap() - 2f64.ln()).abs() < 1e-12);
}

#[test]
fn three_pc_constants_match_dense_eigenvalues() {
    let (d, n) = (12, 4);
    let p = quadratic::three_pc::<f64>(d, n, 0.5, 7).unwrap();
    let mut hs = Vec::new();
    let mut e = vec![0.0; d];
    let mut g = vec![0.0; d];
    for o in p.oracles() {
        // Recover A_i column by column from gradients: A e_k = ∇f(e_k) − ∇f(0).
        let mut a = DMatrix::<f64>::zeros(d, d);
        let mut g0 = vec![0.0; d];
        o.loss_grad(&vec![0.0; d], &mut g0);
        for k in 0..d {
            e.fill(0.0);
            e[k] = 1.0;
            o.loss_grad(&e, &mut g);
            for r in 0..d {
                a[(r, k)] = g[r] - g0[r];
            }
        }
        assert!((a.clone() - a.transpose()).abs().max() < 1e-15);
        hs.push(a);
    }
    let s = p.smoothness();
    let avg = hs.iter().fold(DMatrix::zeros(d, d), |acc, h| acc + h) / n as f64;
    let ev = avg.clone().symmetric_eigenvalues();
    assert!(
        (ev.min() - 1e-6).abs() < 1e-12,
        "λ_min(avg A) = {}",
        ev.min()
    );
    assert!((ev.max() - s.l).abs() < 1e-12);
    for (h, &li) in hs.iter().zip(&s.l_i) {
        assert!((h.clone().symmetric_eigenvalues().max() - li).abs() < 1e-12);
    }
    let sq = hs.iter().fold(DMatrix::zeros(d, d), |acc, h| acc + h * h) / n as f64;
    let l_pm = (sq - &avg * &avg).symmetric_eigenvalues().max().sqrt();
    assert!(
        (l_pm - s.l_pm.unwrap()).abs() < 1e-9,
        "{l_pm} vs {:?}",
        s.l_pm
    );
    let x0 = p.initial_point(&InitPoint::ProblemDefault).unwrap();
    assert_eq!(x0[0], (d as f64).sqrt());
    assert!(x0[1..].iter().all(|&v| v == 0.0));
}

#[test]
fn motef_solution_and_noise() {
    let m = quadratic::motef::<f64>(40, 5, 1.0, 3.0, 2).unwrap();
    let p = &m.problem;
    let mut ws = p.workspace();
    assert!(p.grad_norm_sq(&m.x_star, &mut ws).unwrap() < 1e-28);
    let start = p.initial_point(&InitPoint::ProblemDefault).unwrap();
    for (s, x) in start.iter().zip(&m.x_star) {
        assert!((s - x - 1.0 / 40.0).abs() < 1e-15);
    }
    let s = p.smoothness();
    for (i, li) in s.l_i.iter().enumerate() {
        assert!((li - ((i + 1) as f64).powi(2) / 5.0).abs() < 1e-12);
    }
    assert!((s.l - s.l_am).abs() < 1e-12);
    // Noise: E‖g̃ − g‖² = σ² = 9.
    let mut rng = SqueezeRng::stream(0, Purpose::Noise, 0);
    let (mut g, mut gn) = (vec![0.0; 40], vec![0.0; 40]);
    let w = &m.workers[2];
    w.loss_grad(&start, &mut g);
    let mut mean_sq = 0.0;
    for _ in 0..2000 {
        w.noisy_grad(&start, &mut rng, &mut gn);
        mean_sq += gn.iter().zip(&g).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / 2000.0;
    }
    assert!((mean_sq - 9.0).abs() < 0.4, "{mean_sq}");
}

#[test]
fn f32_problems_agree_with_f64() {
    let d64 = embedded::default_dataset::<f64>();
    let d32 = embedded::default_dataset::<f32>();
    /// EF21's logistic regression over 4 workers, sorted by label, remainder dropped.
    fn sorted<S: squeeze_core::Scalar>(d: &Dataset<S>) -> Problem<S> {
        Problem::logreg(
            d,
            4,
            Split::SortedByLabel,
            Remainder::Drop,
            Regularizer::EF21,
        )
        .unwrap()
    }
    let (p64, p32) = (sorted(&d64), sorted(&d32));
    let x64 = p64.initial_point(&gaussian(3)).unwrap();
    let x32 = p32.initial_point(&gaussian(3)).unwrap();
    let (mut g64, mut g32) = (vec![0.0; 30], vec![0.0f32; 30]);
    let f64_ = p64.loss_grad(&x64, &mut g64, &mut p64.workspace()).unwrap();
    let f32_ = p32.loss_grad(&x32, &mut g32, &mut p32.workspace()).unwrap();
    assert!((f64_ - f32_).abs() < 1e-4 * f64_);
    for (a, b) in g64.iter().zip(&g32) {
        assert!((a - *b as f64).abs() < 1e-4, "{a} vs {b}");
    }
    assert!((p64.smoothness().l - p32.smoothness().l).abs() < 1e-5 * p64.smoothness().l);
    let q = quadratic::three_pc::<f32>(100, 5, 0.1, 1).unwrap();
    let mut g = vec![0.0f32; 100];
    let x = q.initial_point(&InitPoint::ProblemDefault).unwrap();
    assert!(q.oracle(0).loss_grad(&x, &mut g).is_finite());
}

#[test]
fn counted_counts_sample_units() {
    let f = Counted::new(LogReg::new(small_data(), Regularizer::None).unwrap());
    let x = vec![0.0; 30];
    let mut g = vec![0.0; 30];
    f.loss_grad(&x, &mut g);
    f.grad(&x, &mut g);
    f.minibatch_grad(&x, &[1, 2, 3], &mut g);
    f.loss(&x);
    assert_eq!(f.grad_samples(), 60 + 60 + 3);
    assert_eq!(f.loss_samples(), 60);
    f.reset();
    assert_eq!(f.grad_samples(), 0);
}

#[test]
fn dimension_mistakes_poison_with_nan_and_setup_checks_report_them() {
    let f = LogReg::new(small_data(), Regularizer::EF21).unwrap();
    assert!(f.check_dim(29).is_err() && f.check_dim(30).is_ok());
    let mut g = vec![0.0; 30];
    assert!(f.loss_grad(&[0.0; 29], &mut g).is_nan());
    assert!(g.iter().all(|v| v.is_nan()));
    let mut short = vec![0.0; 29];
    f.minibatch_grad(&[0.0; 30], &[0], &mut short);
    assert!(short.iter().all(|v| v.is_nan()));
    let mut g = vec![0.0; 30];
    f.minibatch_grad(&[0.0; 30], &[60], &mut g);
    assert!(g.iter().all(|v| v.is_nan()), "out-of-range sample index");
    assert!(f.loss(&[0.0; 31]).is_nan());
    let p = small_logreg(3).unwrap();
    let mut ws = p.workspace();
    assert!(p.loss_grad(&[0.0; 29], &mut g, &mut ws).is_err());
    assert!(p.loss(&[0.0; 31]).is_err());
    assert!(p.initial_point(&InitPoint::Given(vec![0.0; 3])).is_err());
    assert!(
        p.initial_point(&InitPoint::Given(vec![f64::NAN; 30]))
            .is_err()
    );
    assert!(
        p.initial_point(&InitPoint::Gaussian { seed: 0, std: -1.0 })
            .is_err()
    );
    assert!(small_logreg(61).is_err());
    assert!(LogReg::new(small_data(), Regularizer::L2 { lambda: -1.0 }).is_err());
    assert!(LeastSquares::new(small_data().features, vec![0.0; 59], Regularizer::None).is_err());
}

#[test]
fn empty_minibatch_gives_the_regulariser_gradient() {
    let f = LogReg::new(small_data(), Regularizer::L2 { lambda: 2.0 }).unwrap();
    let x = random_vec(30, 1.0, 1);
    let mut g = vec![0.0; 30];
    f.minibatch_grad(&x, &[], &mut g);
    for (a, b) in g.iter().zip(&x) {
        assert!((a - 2.0 * b).abs() < 1e-15);
    }
}

#[test]
fn gaussian_init_is_seeded() {
    let p = small_logreg(2).unwrap();
    let a = p.initial_point(&gaussian(5)).unwrap();
    assert_eq!(a, p.initial_point(&gaussian(5)).unwrap());
    assert_ne!(a, p.initial_point(&gaussian(6)).unwrap());
    assert_eq!(p.initial_point(&InitPoint::Zeros).unwrap(), vec![0.0; 30]);
}

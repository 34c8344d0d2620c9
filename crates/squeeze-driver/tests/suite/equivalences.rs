//! Equivalences (algorithms.md §11 X9): EF21 with the identity compressor is GD, and so is EF14.
//!
//! In exact arithmetic both hold round by round. In floating point EF21 forms
//! g_i + (∇f_i − g_i) and EF14 x − (1/n)Σγ∇f_i, which round differently from GD's ∇f_i and
//! x − γ·(1/n)Σ∇f_i, so:
//!
//! * on a problem whose arithmetic is **exact** in f64 (dyadic least squares,
//!   `common::dyadic_problem`) the three runs are equal **bit for bit** — and the test proves
//!   the arithmetic exact by comparing GD's iterates with an exact integer reference;
//! * on a real problem they agree to a relative 1e-10 over 200 rounds, not bitwise.
//!
//! Also here: what EF21's initialisation options charge at round 0.

use crate::common::*;
use squeeze_compress::parse;
use squeeze_driver::StarEngine;
use squeeze_methods::{Ef21, GradInit, Stepsize};

// ---------------------------------------------------------------------------------------------
// Exact arithmetic: dyadic least squares

/// Fixed-point scale of the exact reference: values are integers × 2^-E.
const E: u32 = 48;

/// GD on the dyadic problem in exact integer arithmetic: x^{t+1} = x^t − 2^-s Aᵀ(A x^t − b),
/// with 2^-s = γ/(n·m). Returns x^0 … x^T as integers at scale 2^-E.
fn exact_gd(s: u32, rounds: usize) -> Vec<[i128; 4]> {
    let mut x: [i128; 4] = X08.map(|v| (v as i128) << (E - 3));
    let b: [i128; 8] = B8.map(|v| (v as i128) << (E - 3));
    let mut out = vec![x];
    for t in 0..rounds {
        let mut g = [0i128; 4];
        for (row, &bj) in ROWS.iter().zip(&b) {
            let r: i128 = row
                .iter()
                .zip(&x)
                .map(|(&a, &xk)| a as i128 * xk)
                .sum::<i128>()
                - bj;
            for (gk, &a) in g.iter_mut().zip(row) {
                *gk += a as i128 * r;
            }
        }
        for (xk, gk) in x.iter_mut().zip(g) {
            assert_eq!(
                gk % (1i128 << s),
                0,
                "round {t}: 2^-E too coarse for the reference"
            );
            *xk -= gk >> s;
        }
        out.push(x);
    }
    out
}

/// EF21(identity) = EF14(identity) = GD bit for bit (records and iterates) on a problem whose
/// arithmetic is exact, and that arithmetic is verified exact: GD's iterates equal an integer
/// reference and are dyadic with denominators ≤ 2^(3 + s·t).
#[test]
fn identity_ef21_and_ef14_equal_gd_bit_for_bit_when_arithmetic_is_exact() {
    let (problem, x0) = dyadic_problem();
    // γ = the largest power of two ≤ 1/L (a descent stepsize), so γ/(n·m) = 2^-s.
    let l = problem.smoothness().l;
    let gamma = 2f64.powi((1.0 / l).log2().floor() as i32);
    assert!(gamma <= 1.0 / l && gamma >= 0.5 / l);
    let nm = (N_WORKERS * M_ROWS) as f64;
    let s = (nm / gamma).log2();
    assert!(s.fract() == 0.0 && s >= 1.0, "γ/(nm) = 2^-{s}");
    let s = s as u32;
    // Fractional bits grow by s per round; stay within the reference scale and f64's mantissa.
    let rounds = ((E - 3) / s) as usize;
    assert!(rounds >= 8, "only {rounds} exact rounds");
    let exact = exact_gd(s, rounds);

    let step = Stepsize::Constant { gamma };
    let mut gd = engine(&method("gd", None, step), &problem, &x0);
    let mut ef21 = engine(&method("ef21", Some("identity"), step), &problem, &x0);
    let mut ef14 = engine(&method("ef14", Some("identity"), step), &problem, &x0);
    let first = gd.evaluate().unwrap().grad_norm_sq;
    for (t, exact_t) in exact.iter().enumerate() {
        if t > 0 {
            for e in [&mut gd, &mut ef21, &mut ef14] {
                e.round().unwrap();
            }
        }
        let xg = gd.iterate_f64();
        // GD's iterate is the exact one: every operation on the way was exact.
        for (k, (&v, &xe)) in xg.iter().zip(exact_t).enumerate() {
            assert!(xe.unsigned_abs() < 1u128 << 53, "x[{k}] needs > 53 bits");
            let want = xe as f64 / 2f64.powi(E as i32);
            assert_eq!(
                v.to_bits(),
                want.to_bits(),
                "round {t}, x[{k}]: {v} vs exact {want}"
            );
            // Dyadic with a bounded denominator: x·2^(3+s·t) is an integer.
            let scaled = v * 2f64.powi((3 + s * t as u32) as i32);
            assert_eq!(scaled.fract(), 0.0, "round {t}, x[{k}] = {v}");
        }
        for (name, e) in [("ef21", &mut ef21), ("ef14", &mut ef14)] {
            assert_same_point(e.as_mut(), gd.as_mut(), &format!("{name} vs GD, round {t}"));
            let (a, b) = (e.totals(), gd.totals());
            assert_eq!(
                (&a.bits_up, a.bits_down_per_worker, a.entries_up),
                (&b.bits_up, b.bits_down_per_worker, b.entries_up),
                "{name} round {t}: bits"
            );
        }
    }
    // The run is a real descent, not a fixed point.
    let last = gd.evaluate().unwrap().grad_norm_sq;
    assert!(last < first / 4.0, "‖∇f‖² {first} → {last}");
    assert!(exact[0] != exact[rounds]);
}

// ---------------------------------------------------------------------------------------------
// A real problem: agreement to a stated tolerance

/// On the embedded data (nonconvex logistic regression, λ = 0.1, n = 10, contiguous split,
/// x⁰ ~ N(0, I), γ = 1/L from the theory rule with α = 1) EF21 and EF14 with the identity
/// compressor follow GD to a relative 1e-10 for 200 rounds: iterates (max-norm), loss, and
/// ‖∇f‖ (floor 1e-13·‖∇f(x⁰)‖, the rounding noise of a difference of O(1) local gradients).
/// Not bitwise: exp/log1p make the iterates non-dyadic, and g_i + (∇f_i − g_i) ≠ ∇f_i then;
/// the largest observed difference is ≈ 7e-15 relative (iterates, seed 3).
#[test]
fn identity_ef21_and_ef14_follow_gd_on_real_data() {
    let (problem, x0) = embedded_logreg::<f64>(10, 3);
    let step = Stepsize::Theory { multiplier: 1.0 };
    let mut gd = engine(&method("gd", None, step), &problem, &x0);
    let mut others = [
        (
            "ef21",
            engine(&method("ef21", Some("identity"), step), &problem, &x0),
        ),
        (
            "ef14",
            engine(&method("ef14", Some("identity"), step), &problem, &x0),
        ),
    ];
    let g0 = gd.evaluate().unwrap().grad_norm_sq.sqrt();
    let mut worst = 0.0f64;
    for t in 0..=200 {
        if t > 0 {
            gd.round().unwrap();
            for (_, e) in others.iter_mut() {
                e.round().unwrap();
            }
        }
        let xg = gd.iterate_f64();
        let xmax = xg.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let mg = gd.evaluate().unwrap();
        for (name, e) in others.iter_mut() {
            let xe = e.iterate_f64();
            let dx = xe
                .iter()
                .zip(&xg)
                .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
            assert!(dx <= 1e-10 * xmax, "{name} round {t}: ‖Δx‖∞ = {dx:e}");
            worst = worst.max(dx / xmax);
            let me = e.evaluate().unwrap();
            assert!(
                rel_diff(me.loss, mg.loss) <= 1e-10,
                "{name} round {t}: loss {} vs {}",
                me.loss,
                mg.loss
            );
            let (na, nb) = (me.grad_norm_sq.sqrt(), mg.grad_norm_sq.sqrt());
            assert!(
                (na - nb).abs() <= 1e-10 * nb + 1e-13 * g0,
                "{name} round {t}: ‖∇f‖ {na} vs {nb}"
            );
        }
    }
    // GD made progress over the compared window.
    assert!(gd.evaluate().unwrap().grad_norm_sq.sqrt() < 0.1 * g0);
    assert!(worst <= 1e-10);
}

// ---------------------------------------------------------------------------------------------
// EF21 initialisation and what round 0 charges

/// Records of EF21 with Top-1 on the embedded data (d = 30, n = 4) for `rounds` rounds.
fn ef21_records<S: squeeze_core::Scalar>(
    init: GradInit,
    count_init: bool,
    rounds: u64,
) -> Vec<squeeze_driver::RoundRecord> {
    let (problem, x0) = embedded_logreg::<S>(4, 1);
    let m = Ef21::<S>::new(
        parse::<S>("top_k:k=1").unwrap(),
        Stepsize::Theory { multiplier: 1.0 },
        init,
        count_init,
    )
    .unwrap();
    let mut e = StarEngine::new(m, problem, &x0, 1, 1).unwrap();
    run_rounds(&mut e, rounds)
}

#[test]
fn ef21_round_zero_charges_what_the_init_option_sends() {
    const D: u64 = 30;
    // Top-1 at d = 30: tag + count ⌈log₂ 31⌉ + index ⌈log₂ 30⌉ + one value.
    let top1_f64 = 4 + 5 + 5 + 64;
    // Full, not counted (the reference code's convention): nothing at round 0.
    let r = ef21_records::<f64>(GradInit::Full, false, 2);
    assert_eq!(r[0].bits_up_per_worker, 0.0);
    assert_eq!(
        (
            r[0].bits_up_max,
            r[0].entries_up,
            r[0].bits_up_values32_per_worker
        ),
        (0, 0, 0.0)
    );
    assert_eq!(r[2].bits_up_per_worker, 2.0 * top1_f64 as f64);
    // Full, counted (CLAG/LAG code): the dense gradient, d·64 + tag bits per worker in f64,
    // d·32 + 4 in f32; the paper conventions charge d values too.
    let r = ef21_records::<f64>(GradInit::Full, true, 2);
    assert_eq!(r[0].bits_up_per_worker, (D * 64 + 4) as f64);
    assert_eq!(r[0].bits_up_max, D * 64 + 4);
    assert_eq!(r[0].entries_up, 4 * D);
    assert_eq!(r[0].bits_up_values32_per_worker, (32 * D) as f64);
    assert_eq!(r[0].bits_up_values64_per_worker, (64 * D) as f64);
    assert_eq!(r[2].bits_up_per_worker, (D * 64 + 4 + 2 * top1_f64) as f64);
    assert_eq!(r[2].bits_up_values32_per_worker, (32 * D + 2 * 32) as f64);
    let r = ef21_records::<f32>(GradInit::Full, true, 1);
    assert_eq!(r[0].bits_up_per_worker, (D * 32 + 4) as f64);
    // Compressed (the paper's suggestion): the compressed message, always charged.
    for count_init in [false, true] {
        let r = ef21_records::<f64>(GradInit::Compressed, count_init, 2);
        assert_eq!(r[0].bits_up_per_worker, top1_f64 as f64);
        assert_eq!(r[0].entries_up, 4);
        assert_eq!(r[0].bits_up_values32_per_worker, 32.0);
        assert_eq!(r[2].bits_up_per_worker, 3.0 * top1_f64 as f64);
    }
    // Zero: nothing sent, and the first step does not move (g⁰ = 0).
    let r = ef21_records::<f64>(GradInit::Zero, true, 1);
    assert_eq!(r[0].bits_up_per_worker, 0.0);
    assert_eq!(r[1].loss.to_bits(), r[0].loss.to_bits());
    // Full init counts one gradient pass at init (569 samples); Zero none.
    assert_eq!(
        ef21_records::<f64>(GradInit::Full, false, 0)[0].grad_samples,
        569
    );
    assert_eq!(r[0].grad_samples, 0);
}

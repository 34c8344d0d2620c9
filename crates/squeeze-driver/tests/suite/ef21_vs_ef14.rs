//! The EF21 paper's headline (algorithms.md §11 X1), small enough for CI: nonconvex logistic
//! regression (λ = 0.1) on a9a-shaped data (`synthetic_a9a`, 2,000 rows × 123 one-hot
//! features) split contiguously over n = 20 workers, Top-1, g_i⁰ = ∇f_i(x⁰), x⁰ ~ N(0, I),
//! stepsize = multiplier × γ_EF21 for both methods (EF14 gets EF21's base stepsize, as in the
//! paper's code). Both send one Top-1 message per worker per round (82 exact bits at d = 123,
//! 32 under the paper's convention), so equal rounds are equal bits per worker.
//!
//! Expected: EF14 stalls at a plateau, EF21 keeps decreasing. Observed (seed 1):
//!
//! | multiplier | rounds | EF21 ‖∇f‖² | EF14 ‖∇f‖² | ratio |
//! |---|---|---|---|---|
//! | 4× | 4,000 | 7.4e-7 | 1.3e-5 | 17 |
//! | 4× | 6,000 | 2.8e-11 | 1.2e-5 | 4·10⁵ |
//! | 1× | 16,000 | 5.7e-7 | 1.3e-6 | 2 |
//! | 1× | 20,000 | 2.8e-9 | 7.0e-7 | 250 |
//!
//! Before the plateau the two are within a few per cent of each other (EF14 is even slightly
//! lower during the first 12,000 rounds at 1×): the claim is about where they end up, and
//! the assertions below are that (with margins of 40× to 400× on the observed factors).

use crate::common::*;
use squeeze_driver::RoundRecord;

fn x1_problem(method: &str, multiplier: f64, rounds: u64) -> Vec<RoundRecord> {
    let section = method_section(
        method,
        Some("top_k:k=1"),
        &format!("stepsize = {{ rule = \"theory\", multiplier = {multiplier} }}"),
    );
    run(
        &cfg(&a9a_config(GAUSSIAN_INIT, &section, rounds, 1000)),
        None,
    )
    .1
}

/// ‖∇f‖² at `round`, checking both runs had sent the same bits per worker by then.
fn at(ef21: &[RoundRecord], ef14: &[RoundRecord], round: u64) -> (f64, f64) {
    let a = ef21.iter().find(|r| r.round == round).unwrap();
    let b = ef14.iter().find(|r| r.round == round).unwrap();
    assert_eq!(a.bits_up_per_worker, b.bits_up_per_worker, "round {round}");
    assert_eq!(a.bits_up_per_worker, (round * 82) as f64);
    assert_eq!(a.bits_up_values32_per_worker, (round * 32) as f64);
    (a.grad_norm_sq, b.grad_norm_sq)
}

#[test]
fn ef21_beats_ef14_at_equal_bits_with_4x_the_theory_stepsize() {
    let ef21 = x1_problem("ef21", 4.0, 6000);
    let ef14 = x1_problem("ef14", 4.0, 6000);
    let (a4, b4) = at(&ef21, &ef14, 4000);
    let (a6, b6) = at(&ef21, &ef14, 6000);
    // Both made real progress from ‖∇f(x⁰)‖² ≈ 0.33 first.
    assert!(ef21[0].grad_norm_sq > 0.1 && b4 < 1e-3 && a4 < 1e-3);
    // EF21 far below EF14 at the same bits (observed 4·10⁵).
    assert!(a6 <= 1e-3 * b6, "EF21 {a6:e} vs EF14 {b6:e} at 6000 rounds");
    // EF14 has stalled (observed ×1.1 over the last 2000 rounds)…
    assert!(b6 >= 0.3 * b4, "EF14 still decreasing: {b4:e} → {b6:e}");
    // …while EF21 keeps decreasing linearly (observed ×4·10⁻⁵).
    assert!(a6 <= 1e-3 * a4, "EF21 stalled: {a4:e} → {a6:e}");
}

#[test]
fn ef21_beats_ef14_at_equal_bits_with_the_theory_stepsize() {
    let ef21 = x1_problem("ef21", 1.0, 20_000);
    let ef14 = x1_problem("ef14", 1.0, 20_000);
    let (a, b) = at(&ef21, &ef14, 20_000);
    // Observed 250×.
    assert!(a <= b / 20.0, "EF21 {a:e} vs EF14 {b:e} at 20,000 rounds");
    // EF14's plateau: it ends above 1e-7 while EF21 is below 1e-8 (observed 7e-7 and 2.8e-9).
    assert!(b > 1e-7 && a < 1e-8, "EF21 {a:e}, EF14 {b:e}");
}

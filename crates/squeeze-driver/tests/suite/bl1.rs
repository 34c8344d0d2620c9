//! BL1 (Basis Learn) for GLMs: with the identity compressor it is Newton's method (the same
//! steps as `newton_3pc` with the identity compressor), its exact bits per round, convergence
//! with Top-K and CLAG on the coefficients, least squares (constant coefficients: nothing to
//! learn after init), the charged initial upload of the basis, and the refusals.

use crate::common::*;
use squeeze_driver::RoundRecord;

/// L2 logistic regression on the embedded data (569 × 30), 4 workers (142, 142, 142, 143
/// rows: M = 143), x⁰ ~ N(0, I).
fn problem(kind: &str, method: &str, lambda: f64, rounds: u64, params: &str) -> String {
    embedded_config(
        3,
        kind,
        4,
        &l2(lambda),
        &named_method(method, params),
        rounds,
    )
}

/// The records of `method` with `params` on [`problem`] `kind` at λ = 0.1.
fn records(kind: &str, method: &str, rounds: u64, params: &str) -> Vec<RoundRecord> {
    run(&cfg(&problem(kind, method, 0.1, rounds, params)), None).1
}

/// With C = identity the learned coefficients are the exact ones, so BL1 takes Newton's
/// steps: the same ‖∇f‖² as Newton-3PC with the identity compressor (tested against an
/// nalgebra Newton iteration in `newton.rs`) to round-off, quadratic convergence, and the
/// uplink is d + M values instead of d + d(d+1)/2.
#[test]
fn identity_bl1_is_newtons_method() {
    let id = "compressor = \"identity\"";
    let bl1 = records("logreg", "bl1", 8, id);
    let newton = records("logreg", "newton_3pc", 8, id);
    for (r, w) in bl1.iter().zip(&newton) {
        let (a, b) = (r.grad_norm_sq, w.grad_norm_sq);
        // The same step through different arithmetic (H summed over the rows at once vs per
        // worker then averaged): agreement to round-off until the f64 floor.
        assert!(
            (a - b).abs() <= 1e-6 * b + 1e-28,
            "round {}: {a} vs Newton {b}",
            r.round
        );
    }
    // Quadratic convergence; the identity message is the M = 143 coefficients.
    assert_identity_newton_run(&bl1, 143.0);
    // Newton-3PC sends the 465-value triangle for the same step.
    let newton_round =
        newton[1].bits_up_values32_per_worker - newton[0].bits_up_values32_per_worker;
    assert_eq!(newton_round, 32.0 * (30.0 + 465.0));
}

/// Top-30 of the 143 coefficients (21 %), the shift, and CLAG: superlinear once the estimate
/// is good — ‖∇f‖² falls by more than 10²⁰ within 30 rounds at λ = 0.1.
#[test]
fn compressed_coefficients_converge_fast() {
    for params in [
        "compressor = \"top_k:k=30\"",
        "compressor = \"top_k:k=30\"\nregularization = \"shift\"",
        "compressor = \"rand_k:k=30,scaled=false\"",
        "compressor = \"top_k:k=30\"\nmechanism = \"clag\"\nzeta = 8.0",
    ] {
        let rec = records("logreg", "bl1", 30, params);
        let ratio = rec[30].grad_norm_sq / rec[0].grad_norm_sq;
        assert!(ratio < 1e-20, "{params}: ‖∇f‖² only fell by {ratio:.3e}");
    }
    // With Top-K the uplink per round is d + K values (authors' convention), far below
    // FedNL's d + K on the triangle for the same K only in how much of H each value carries.
    let rec = records("logreg", "bl1", 3, "compressor = \"top_k:k=30\"");
    assert_eq!(
        rec[2].bits_up_values32_per_worker - rec[1].bits_up_values32_per_worker,
        32.0 * (30.0 + 30.0)
    );
}

/// Least squares: the coefficients are 1/m_i at every x, so after the exact init nothing is
/// left to learn (EF21 sends zeros) and the first step solves the problem.
#[test]
fn least_squares_is_solved_in_one_step() {
    let rec = records("least_squares", "bl1", 3, "compressor = \"top_k:k=1\"");
    assert!(
        rec[1].grad_norm_sq < 1e-24 * rec[0].grad_norm_sq,
        "{} → {}",
        rec[0].grad_norm_sq,
        rec[1].grad_norm_sq
    );
}

/// `count_init` charges the initial gradient, the M coefficients and the rows (values at 32
/// bits each under the authors' convention; the embedded data is dense: 30 values per row).
#[test]
fn count_init_charges_the_basis_once() {
    let params = "compressor = \"top_k:k=30\"\ncount_init = true";
    let rec = records("logreg", "bl1", 2, params);
    let plain = records("logreg", "bl1", 2, "compressor = \"top_k:k=30\"");
    let init32 = rec[0].bits_up_values32_per_worker - plain[0].bits_up_values32_per_worker;
    // Per worker on average: 30 gradient values + 143 coefficients + its rows' 569·30/4
    // values.
    assert_eq!(init32, 32.0 * (30.0 + 143.0) + 32.0 * 569.0 * 30.0 / 4.0);
    // The rounds after it cost the same.
    assert_eq!(
        rec[2].bits_up_per_worker - rec[1].bits_up_per_worker,
        plain[2].bits_up_per_worker - plain[1].bits_up_per_worker
    );
}

#[test]
fn refusals_name_the_fix() {
    let build_err = refusal;
    // Not a GLM: the synthetic quadratics have Hessians but no data basis.
    let e = build_err(
        r#"
[problem]
kind = "quadratic3pc"
dim = 10
n_workers = 3
[method]
name = "bl1"
compressor = "top_k:k=1"
mu = 0.01
[stop]
max_rounds = 5
"#,
    );
    assert!(e.contains("generalised linear model"), "{e}");
    // Non-convex regulariser.
    let text = problem("logreg", "bl1", 0.1, 5, "compressor = \"top_k:k=30\"").replace(
        "kind = \"l2\", lambda = 0.1",
        "kind = \"nonconvex\", lambda = 0.1",
    );
    let e = build_err(&text);
    assert!(e.contains("not convex"), "{e}");
    // K larger than the coefficient vector.
    let e = build_err(&problem(
        "logreg",
        "bl1",
        0.1,
        5,
        "compressor = \"top_k:k=200\"",
    ));
    assert!(e.contains("M = 143"), "{e}");
}

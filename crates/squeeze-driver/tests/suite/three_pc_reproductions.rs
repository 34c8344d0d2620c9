//! Reduced reproductions of algorithms.md §11 X6 (3PC) and X7 (AdaCGD). Numbers observed are
//! in the test docs and in `docs/reproductions.md` ("3PC and AdaCGD").
//!
//! Budgeted search: for each cell the stepsize multipliers of the theory stepsize are tried from
//! the largest down, and a run stops as soon as it has sent more floats than the best run of the
//! cell so far (it cannot be the cell's best), which keeps the grids CI-fast.

use std::sync::Arc;

use squeeze_compress::CompressorSpec;
use squeeze_driver::Engine;
use squeeze_driver::config::{MethodConfig, build_engine};
use squeeze_methods::Stepsize;
use squeeze_problems::problem::{InitPoint, Problem};
use squeeze_problems::split::{Remainder, Split};
use squeeze_problems::{Regularizer, embedded, quadratic};

fn spec(s: &str) -> CompressorSpec {
    CompressorSpec::Text(s.to_string())
}

fn m(name: &str, comp: Option<&str>, multiplier: f64) -> MethodConfig {
    let m = MethodConfig::new(name)
        .with_value("stepsize", &Stepsize::Theory { multiplier })
        .unwrap();
    match comp {
        Some(c) => m.with("compressor", c),
        None => m,
    }
}

/// Run until ‖∇f‖² ≤ `tol` (→ Some(floats sent per worker)), or None after `rounds` rounds,
/// on divergence, or once more than `budget` floats per worker were sent.
fn floats_to_tol(
    cfg: &MethodConfig,
    p: &Arc<Problem<f64>>,
    x0: &[f64],
    rounds: usize,
    tol: f64,
    budget: f64,
) -> Option<f64> {
    let mut e: Box<dyn Engine> = build_engine::<f64>(cfg, p.clone(), x0, 3, 1).unwrap();
    let n = p.n_workers() as f64;
    for _ in 0..=rounds {
        let g = e.evaluate().ok()?.grad_norm_sq;
        let sent = e.totals().entries_up as f64 / n;
        if !g.is_finite() || sent > budget {
            return None;
        }
        if g <= tol {
            return Some(sent);
        }
        e.round().ok()?;
    }
    None
}

/// The fewest floats per worker to `tol` over the multipliers `2^hi … 2^lo` (descending).
fn best_over_multipliers(
    make: impl Fn(f64) -> MethodConfig,
    p: &Arc<Problem<f64>>,
    x0: &[f64],
    tol: f64,
    (lo, hi): (i32, i32),
) -> Option<(f64, f64)> {
    let mut best: Option<(f64, f64)> = None;
    for e in (lo..=hi).rev() {
        let mult = 2f64.powi(e);
        let budget = best.map_or(3000.0, |b| b.0);
        if let Some(f) = floats_to_tol(&make(mult), p, x0, 20_000, tol, budget)
            && best.is_none_or(|b| f < b.0)
        {
            best = Some((f, mult));
        }
    }
    best
}

/// ℓ2-regularised logistic regression (λ = 0.1) on the embedded breast-cancer data (569 × 30,
/// standardised; the CLAG code's LIBSVM sets are not in the repository), n = 20, x⁰ = 0, as in
/// the CLAG heatmap code.
fn clag_problem() -> (Arc<Problem<f64>>, Vec<f64>) {
    let data = embedded::default_dataset::<f64>();
    let p = Problem::logreg(
        &data,
        20,
        Split::Contiguous,
        Remainder::ToLast,
        Regularizer::L2 { lambda: 0.1 },
    )
    .unwrap();
    let x0 = vec![0.0; p.dim()];
    (Arc::new(p), x0)
}

/// The CLAG code's stopping rule ‖∇f‖ ≤ 10⁻⁴.
const TOL: f64 = 1e-8;

/// X6(a), reduced: on the 3PC quadratics (d = 100 and 200, n = 10, s = 0.05 and 0.1, x⁰ = √d e₁)
/// every 3PC variant at its theory stepsize (multiplier 1) converges: ‖∇f‖² drops by ≥ 10⁵ in
/// 3000 rounds. Top-K / Rand-K compressors with K/d = 5 %; 3PCv5 with p = K/d.
///
/// Observed at d = 100, s = 0.05: GD 3.7e-8, EF21 4.7e-6, 3PCv1 5.3e-8, 3PCv2 1.3e-6,
/// 3PCv4 1.3e-6, 3PCv5 4.4e-6, CLAG(ζ = 1) 4.7e-6, LAG(ζ = 1) 5.4e-8, BAG(p = ½) 9.2e-8,
/// AdaCGD(Top-1/5/25, ζ = 1) 2.6e-7.
/// (At d = 200 with K = 5, i.e. K/d = 2.5 %, EF21 reaches only 1.75e-5 in 3000 rounds.)
#[test]
fn x6a_every_3pc_variant_converges_at_its_theory_stepsize_on_the_3pc_quadratics() {
    for (d, s) in [(100, 0.05), (200, 0.1)] {
        let p = Arc::new(quadratic::three_pc::<f64>(d, 10, s, 12345).unwrap());
        let x0 = p.initial_point(&InitPoint::ProblemDefault).unwrap();
        let kk = d / 20;
        let k = &format!("top_k:k={kk}");
        let q = format!("rand_k:k={kk}");
        let cases: Vec<MethodConfig> = vec![
            m("gd", None, 1.0),
            m("3pc_ef21", Some(k), 1.0),
            m("3pc_v1", Some(k), 1.0),
            m("3pc_v2", Some(k), 1.0)
                .with_value("compressor2", &spec(&q))
                .unwrap(),
            m("3pc_v4", Some(k), 1.0),
            m("3pc_v5", Some(k), 1.0),
            m("clag", Some(k), 1.0).with("zeta", 1.0),
            m("lag", None, 1.0).with("zeta", 1.0),
            m("bag", None, 1.0).with("p", 0.5),
            m("adacgd", None, 1.0)
                .with("zeta", 1.0)
                .with_value(
                    "ladder",
                    &vec![
                        spec("top_k:k=1"),
                        spec(k),
                        spec(&format!("top_k:k={}", 5 * kk)),
                    ],
                )
                .unwrap(),
        ];
        for c in cases {
            let mut e = build_engine::<f64>(&c, p.clone(), &x0, 3, 1).unwrap();
            let g0 = e.evaluate().unwrap().grad_norm_sq;
            let mut prev_check = g0;
            for t in 1..=3000 {
                e.round().unwrap();
                if t % 1000 == 0 {
                    // Progress in every third of the run, not just at the end.
                    let g = e.evaluate().unwrap().grad_norm_sq;
                    assert!(g < prev_check, "{} d={d}: stalled at round {t}", c.name);
                    prev_check = g;
                }
            }
            let ratio = e.evaluate().unwrap().grad_norm_sq / g0;
            eprintln!(
                "X6(a) d = {d}, s = {s}, {}: ratio {ratio:.2e}, {:.0} floats/worker",
                c.name,
                e.totals().entries_up as f64 / 10.0
            );
            assert!(
                ratio <= 1e-5,
                "{} (d = {d}, s = {s}): ‖∇f‖² only dropped by {ratio:.2e}",
                c.name
            );
        }
    }
}

/// X6(b), reduced CLAG grid over K × ζ (floats per worker to ‖∇f‖ ≤ 10⁻⁴, best multiplier
/// 2²…2⁹ of the theory stepsize per cell) on the CLAG setting above.
///
/// What holds (and is asserted): the best cell has ζ > 0 (CLAG beats EF21, the ζ = 0 column)
/// and K < d (CLAG beats LAG-like full sends, the K = d row, by ~3×). What does **not**
/// reproduce: the best K is 1, not 1 < K < d (observed best K = 1, ζ = 4: 174 floats vs
/// EF21 K = 1: 181; K = 2 best 182; K = d best 570). This small, well-conditioned problem
/// favours the cheapest compressor; see docs/reproductions.md for the full grid (also on a
/// synthetic a9a-like set, d = 123, where the best cell is K = 1 as well).
#[test]
fn x6b_clag_grid_best_cell_is_lazy_and_compressed() {
    let (p, x0) = clag_problem();
    let d = p.dim();
    let ks = [1, 2, 4, 8, d];
    let zetas = [0.0, 1.0, 4.0, 16.0];
    let mut grid = Vec::new();
    for &k in &ks {
        for &zeta in &zetas {
            let comp = format!("top_k:k={k}");
            let best = best_over_multipliers(
                |mult| {
                    m("clag", Some(&comp), mult)
                        .with_value("zeta", &zeta)
                        .unwrap()
                },
                &p,
                &x0,
                TOL,
                (2, 9),
            );
            let (f, _) = best
                .unwrap_or_else(|| panic!("K={k} ζ={zeta}: no multiplier reached the tolerance"));
            grid.push((k, zeta, f));
        }
    }
    let &(bk, bz, bf) = grid.iter().min_by(|a, b| a.2.total_cmp(&b.2)).unwrap();
    let row = |k: usize| grid.iter().filter(move |c| c.0 == k).map(|c| c.2);
    let col0 = grid.iter().filter(|c| c.1 == 0.0).map(|c| c.2);
    let ef21_best = col0.fold(f64::INFINITY, f64::min);
    let lag_best = row(d).fold(f64::INFINITY, f64::min);
    eprintln!("X6(b) grid (K, ζ, floats/worker): {grid:?}");
    assert!(bz > 0.0, "best cell K={bk} ζ={bz} ({bf}) is EF21 (ζ = 0)");
    assert!(bf < ef21_best, "CLAG {bf} vs EF21 {ef21_best}");
    assert!(bk < d, "best cell is K = d");
    assert!(2.0 * bf < lag_best, "CLAG {bf} vs K = d {lag_best}");
    // The part of the headline that does not hold here (recorded, asserted as observed so a
    // change in behaviour is noticed).
    assert_eq!(
        bk, 1,
        "the best K moved to {bk}: update docs/reproductions.md"
    );
}

/// X7, reduced: AdaCGD over Top-K ladders vs EF21 with the best single K (floats per worker to
/// ‖∇f‖ ≤ 10⁻⁴, each with its best multiplier 2²…2⁹ of its theory stepsize; AdaCGD's theory
/// stepsize uses the finest rung's constants with B = max(β, ζ)).
///
/// Observed: EF21 best = K = 1 (181 floats); AdaCGD with the ladder {1, 2}: 182 (ζ = 1/16 … 1);
/// with the full ladder {1, 2, 4, 8, 16, 30}: 323 (ζ = 1/4), less than EF21 at its finest
/// K = 30 (570) or K = 16 (368). So the claim "no more bits than the best fixed K" holds only to
/// within 1 %: asserted with that stated tolerance, plus the strict saving against EF21 at the
/// ladder's finest level.
#[test]
fn x7_adacgd_with_a_top_k_ladder_needs_about_as_few_bits_as_the_best_fixed_k() {
    let (p, x0) = clag_problem();
    let d = p.dim();
    let mut ef21 = Vec::new();
    for k in [1, 2, 4, 8, 16, d] {
        let comp = format!("top_k:k={k}");
        let (f, _) =
            best_over_multipliers(|mult| m("ef21", Some(&comp), mult), &p, &x0, TOL, (2, 9))
                .unwrap();
        ef21.push((k, f));
    }
    let ef21_best = ef21.iter().map(|c| c.1).fold(f64::INFINITY, f64::min);
    let ladder_of = |ks: &[usize]| -> Vec<CompressorSpec> {
        ks.iter().map(|k| spec(&format!("top_k:k={k}"))).collect()
    };
    let ada = |ks: &[usize]| -> f64 {
        let mut best = f64::INFINITY;
        for zeta in [0.0625, 0.25, 1.0, 16.0] {
            if let Some((f, _)) = best_over_multipliers(
                |mult| {
                    m("adacgd", None, mult)
                        .with_value("zeta", &zeta)
                        .unwrap()
                        .with_value("ladder", &ladder_of(ks))
                        .unwrap()
                },
                &p,
                &x0,
                TOL,
                (2, 9),
            ) {
                best = best.min(f);
            }
        }
        best
    };
    let short = ada(&[1, 2]);
    let full = ada(&[1, 2, 4, 8, 16, d]);
    eprintln!("X7: EF21 {ef21:?}; AdaCGD {{1,2}} {short}, full ladder {full}");
    assert!(
        short.min(full) <= 1.01 * ef21_best,
        "AdaCGD {} vs best EF21 {ef21_best}",
        short.min(full)
    );
    let ef21_at = |k: usize| ef21.iter().find(|c| c.0 == k).unwrap().1;
    assert!(
        full < ef21_at(d),
        "full ladder {full} vs EF21 K = d {}",
        ef21_at(d)
    );
    assert!(
        full < ef21_at(16),
        "full ladder {full} vs EF21 K = 16 {}",
        ef21_at(16)
    );
}

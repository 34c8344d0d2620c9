//! PowerSGD (`powersgd`, two communication phases per round): full rank is GD, the worker
//! copies of x follow the server's bit for bit, the exact bits, bad shapes refused.

use std::sync::Arc;

use crate::common::*;
use squeeze_core::Scalar;
use squeeze_driver::{Engine, StarEngine};
use squeeze_methods::{Gd, PowerSgd, PowerSgdShape, Stepsize};
use squeeze_problems::problem::Problem;

const GAMMA: f64 = 0.05;

fn powersgd(d: usize, rank: usize, shape: PowerSgdShape, warm: bool) -> PowerSgd {
    PowerSgd::new(d, rank, shape, warm, Stepsize::Constant { gamma: GAMMA }).unwrap()
}

fn star<S: Scalar>(
    m: PowerSgd,
    p: &Arc<Problem<S>>,
    x0: &[S],
    threads: usize,
) -> StarEngine<S, PowerSgd> {
    StarEngine::new(m, p.clone(), x0, 3, threads).unwrap()
}

/// With $r = \min(m, n)$, $\hat P$ spans the columns of $\bar M$, so $\hat P\bar Q^\top =
/// \hat P\hat P^\top\bar M = \bar M$ up to rounding: PowerSGD is GD and the mean error memory
/// stays at rounding level. Not bit for bit —
/// $\hat P\hat P^\top = I$ only to a few ulps — so the claim is a relative distance of 10⁻¹²
/// (f64) over 60 rounds on the embedded logistic problem (d = 30 as 5 × 6, rank 5 = min).
#[test]
fn full_rank_powersgd_is_gd_to_rounding() {
    let (p, x0) = embedded_logreg::<f64>(4, 2);
    for shape in [
        PowerSgdShape::Rows(5),
        PowerSgdShape::Layers(vec![[5, 4], [2, 5]]),
    ] {
        let rank = 5;
        let mut ps = star(powersgd(30, rank, shape.clone(), true), &p, &x0, 1);
        let mut gd = StarEngine::new(
            Gd::new(Stepsize::Constant { gamma: GAMMA }).unwrap(),
            p.clone(),
            &x0,
            3,
            1,
        )
        .unwrap();
        let mut worst = 0.0f64;
        for _ in 0..60 {
            ps.round().unwrap();
            gd.round().unwrap();
            let (a, b) = (ps.iterate_f64(), gd.iterate_f64());
            let num: f64 = a.iter().zip(&b).map(|(u, v)| (u - v).powi(2)).sum();
            let den: f64 = b.iter().map(|v| v * v).sum();
            worst = worst.max((num / den).sqrt());
            // The mean memory is (I − P̂P̂ᵀ)M̄ = 0; each worker's is (I − P̂P̂ᵀ)M_i, which is 0
            // too when P̂ is square (r = m ≤ n, the 5 × 6 case) but not for a tall block
            // (5 × 4: P̂ spans M̄'s columns, not each M_i's).
            let ws = ps.workers();
            let mean_e = (0..30)
                .map(|j| (ws.iter().map(|w| w.e[j]).sum::<f64>() / 4.0).abs())
                .fold(0.0, f64::max);
            assert!(mean_e < 1e-12, "{shape:?}: mean error memory {mean_e:.3e}");
            if shape == PowerSgdShape::Rows(5) {
                for w in ws {
                    let e = w.e.iter().map(|v| v.abs()).fold(0.0, f64::max);
                    assert!(e < 1e-12, "{shape:?}: error memory {e:.3e} at full rank");
                }
            }
        }
        assert!(
            worst < 1e-12,
            "{shape:?}: relative distance to GD {worst:.3e}"
        );
        // A real difference for rank 1 (the claim above can fail).
        let mut r1 = star(powersgd(30, 1, shape.clone(), true), &p, &x0, 1);
        for _ in 0..5 {
            r1.round().unwrap();
        }
        let gap: f64 = r1
            .iterate_f64()
            .iter()
            .zip(&ps_at(&p, &x0, shape, 5))
            .map(|(u, v)| (u - v).abs())
            .fold(0.0, f64::max);
        assert!(gap > 1e-6, "rank 1 should differ from GD: {gap:.3e}");
    }
}

/// The full-rank iterate after `rounds` rounds.
fn ps_at(p: &Arc<Problem<f64>>, x0: &[f64], shape: PowerSgdShape, rounds: usize) -> Vec<f64> {
    let mut e = star(powersgd(30, 5, shape, true), p, x0, 1);
    for _ in 0..rounds {
        e.round().unwrap();
    }
    e.iterate_f64()
}

/// Every worker's copy of x takes the server's step one phase later, from the same values:
/// after round t + 1 it equals the server's x after round t, bit for bit (f32 and warm start
/// off too), for 1 and 3 threads.
#[test]
fn worker_copies_of_the_model_follow_the_server_exactly() {
    fn check<S: Scalar>(warm: bool, threads: usize) {
        let (p, x0) = embedded_logreg::<S>(4, 5);
        let mut e = star(
            powersgd(30, 2, PowerSgdShape::Rows(4), warm),
            &p,
            &x0,
            threads,
        );
        let mut last = e.iterate().to_vec();
        for t in 0..20 {
            e.round().unwrap();
            for (i, w) in e.workers().iter().enumerate() {
                assert!(
                    w.x == last,
                    "round {t}, worker {i}: copy differs from the server"
                );
            }
            last = e.iterate().to_vec();
        }
        assert!(last != x0, "the model moved");
    }
    for warm in [true, false] {
        for threads in [1, 3] {
            check::<f32>(warm, threads);
            check::<f64>(warm, threads);
        }
    }
}

/// Bits per worker per round: $P_i$ and $Q_i$ up, $\bar Q$ and $\hat P$ down, each a dense
/// message of 4 tag bits + BITS per value, with $\sum_l r_l(m_l + n_l)$ values per direction
/// (ranks capped at $\min(m_l, n_l)$).
#[test]
fn bits_are_r_times_m_plus_n_values_each_way() {
    fn check<S: Scalar>() {
        let (p, x0) = embedded_logreg::<S>(3, 1);
        // d = 30 = 5×4 + 2×5; rank 3 → r = 3 and 2: P has 3·5 + 2·2 = 19, Q 3·4 + 2·5 = 22.
        let layers = PowerSgdShape::Layers(vec![[5, 4], [2, 5]]);
        let mut e = star(powersgd(30, 3, layers, true), &p, &x0, 1);
        let rounds = 4;
        for _ in 0..rounds {
            e.round().unwrap();
        }
        let per_round = 2 * 4 + S::BITS as u64 * (19 + 22);
        let t = e.totals();
        assert_eq!(t.bits_up, vec![rounds * per_round; 3]);
        assert_eq!(t.bits_down_per_worker, rounds * per_round);
        assert_eq!(t.entries_up, 3 * rounds * (19 + 22));
        assert_eq!(t.bits_up_values32, 3 * rounds * 32 * (19 + 22));
        assert_eq!(t.rounds, rounds);
        // One local gradient per worker per round (569 samples over 3 workers).
        assert_eq!(t.grad_samples, rounds * 569);
    }
    check::<f32>();
    check::<f64>();
    // The padded single matrix: d = 30 as 4 × 8 (two zeros), rank 1 → 4 + 8 values.
    let (p, x0) = embedded_logreg::<f32>(2, 1);
    let mut e = star(powersgd(30, 1, PowerSgdShape::Rows(4), true), &p, &x0, 1);
    e.round().unwrap();
    assert_eq!(e.totals().bits_up, vec![2 * 4 + 32 * 12; 2]);
}

/// Rank 1, 2 and 4 on the suite's strongly convex problem (d = 30 as 5 × 6) at γ = 1/L:
/// all converge (‖∇f‖² down 10⁶ within 1500 rounds), warm start or not.
#[test]
fn low_ranks_converge_with_error_feedback() {
    let text = |rank: usize, warm: bool| {
        let params =
            format!("rank = {rank}\nrows = 5\nwarm_start = {warm}\n[run]\nlog_every = 1500");
        embedded_config(
            1,
            "logreg",
            4,
            &l2(1.0),
            &named_method("powersgd", &params),
            1500,
        )
    };
    for rank in [1, 2, 4] {
        for warm in [true, false] {
            let (s, rec) = run(&cfg(&text(rank, warm)), None);
            let ratio = s.last.grad_norm_sq / rec[0].grad_norm_sq;
            assert!(ratio < 1e-6, "rank {rank}, warm {warm}: {ratio:.3e}");
        }
    }
}

#[test]
fn bad_shapes_are_refused_with_a_hint() {
    let section = |extra: &str| {
        format!(
            "seed = 1\n[problem]\nkind = \"logreg\"\ndata = \"embedded\"\nn_workers = 2\n\
             [method]\nname = \"powersgd\"\n{extra}\n[stop]\nmax_rounds = 2\n"
        )
    };
    let err = |extra: &str| refusal(&section(extra));
    let e = err("rows = 31");
    assert!(
        e.contains("method.rows") && e.contains("1 ≤ rows ≤ d = 30"),
        "{e}"
    );
    let e = err("layers = [[5, 5]]");
    assert!(
        e.contains("method.layers") && e.contains("hold 25 coordinates") && e.contains("d = 30"),
        "{e}"
    );
    let e = err("rows = 5\nlayers = [[5, 6]]");
    assert!(e.contains("not both"), "{e}");
    let e = err("rank = 0");
    assert!(e.contains("method.rank"), "{e}");
    let e = err("compressor = \"top_k:k=1\"");
    assert!(e.contains("own low-rank step"), "{e}");
    // The default shape is ⌈√30⌉ = 6 rows.
    let c = squeeze_driver::ExperimentConfig::from_toml(&section("")).unwrap();
    let eng = c.build_engine(std::path::Path::new(".")).unwrap();
    assert!(eng.describe().contains("rows=6"), "{}", eng.describe());
}

//! 3PC-GD equivalences (algorithms.md §11 X9) and configuration errors.
//!
//! * CLAG with ζ = 0 is EF21 bit for bit (iterates, losses and bits on a real problem); the
//!   only difference is at the boundary ‖∇f_i − g_i‖² = 0, where the strict trigger skips
//!   (0 bits) and EF21 sends C(0) (same state) — tested at the mechanism level;
//! * the generic 3PC-GD with the EF21 mechanism is the dedicated EF21 method bit for bit;
//! * CLAG with the identity compressor is LAG bit for bit (and both do skip);
//! * 3PCv5 with p = 1 is GD bit for bit on a problem with exact arithmetic (it forms
//!   g_i + (∇f_i − g_i), like EF21 with the identity), and to 1e-10 on a real one;
//! * AdaCGD with a one-rung ladder is CLAG bit for bit, outcome histograms included.

mod common;

use std::sync::Arc;

use common::*;
use squeeze_compress::{CompressorSpec, parse};
use squeeze_core::{Message, Purpose, Scratch, SqueezeRng};
use squeeze_driver::config::{ConfigError, MethodConfig, build_engine};
use squeeze_driver::{Engine, StarEngine};
use squeeze_feedback::three_point::{AdaCgd, Clag, Ef21Mech, MechCtx, ThreePoint};
use squeeze_feedback::{Stepsize, ThreePc};
use squeeze_problems::data::Csr;
use squeeze_problems::problem::{InitPoint, Problem};
use squeeze_problems::split::{Remainder, Split};
use squeeze_problems::{Regularizer, embedded};

fn spec(s: &str) -> CompressorSpec {
    CompressorSpec::Text(s.to_string())
}

fn method(name: &str, compressor: Option<&str>, stepsize: Stepsize) -> MethodConfig {
    MethodConfig {
        name: name.to_string(),
        compressor: compressor.map(spec),
        stepsize,
        ..MethodConfig::default()
    }
}

fn engine<S: squeeze_core::Scalar>(
    m: &MethodConfig,
    problem: &Arc<Problem<S>>,
    x0: &[S],
) -> Box<dyn Engine> {
    build_engine::<S>(m, problem.clone(), x0, 3, 1).unwrap_or_else(|e| panic!("{}: {e}", m.name))
}

/// Nonconvex logistic regression (λ = 0.1) on the embedded data, n = 10, x⁰ ~ N(0, I).
fn logreg() -> (Arc<Problem<f64>>, Vec<f64>) {
    let data = embedded::default_dataset::<f64>();
    let p = Problem::logreg(
        &data,
        10,
        Split::Contiguous,
        Remainder::ToLast,
        Regularizer::Nonconvex { lambda: 0.1 },
    )
    .unwrap();
    let x0 = p
        .initial_point(&InitPoint::Gaussian { seed: 1, std: 1.0 })
        .unwrap();
    (Arc::new(p), x0)
}

/// Run both engines `rounds` rounds and assert identical iterates, metrics and bits each round.
fn assert_bitwise(a: &mut dyn Engine, b: &mut dyn Engine, rounds: usize, what: &str) {
    for t in 0..=rounds {
        if t > 0 {
            a.round().unwrap();
            b.round().unwrap();
        }
        let (xa, xb) = (a.iterate_f64(), b.iterate_f64());
        assert!(
            xa.iter().zip(&xb).all(|(p, q)| p.to_bits() == q.to_bits()),
            "{what}, round {t}: iterates differ"
        );
        let (ma, mb) = (a.evaluate().unwrap(), b.evaluate().unwrap());
        assert_eq!(ma.loss.to_bits(), mb.loss.to_bits(), "{what} round {t}");
        let (ta, tb) = (a.totals(), b.totals());
        assert_eq!(
            (&ta.bits_up, ta.entries_up, ta.bits_up_values64),
            (&tb.bits_up, tb.entries_up, tb.bits_up_values64),
            "{what}, round {t}: bits"
        );
    }
}

/// Outcome histograms of every worker, read from the engine's checkpoint snapshot.
fn outcomes(e: &dyn Engine) -> Vec<Vec<u64>> {
    let snap = e.snapshot().unwrap();
    let workers = find_key(&snap, "workers").expect("workers in snapshot");
    workers
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            w["outcomes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .collect()
        })
        .collect()
}

fn find_key<'a>(v: &'a serde_json::Value, key: &str) -> Option<&'a serde_json::Value> {
    match v {
        serde_json::Value::Object(m) => m
            .get(key)
            .or_else(|| m.values().find_map(|x| find_key(x, key))),
        _ => None,
    }
}

#[test]
fn clag_with_zeta_zero_is_ef21_bit_for_bit() {
    let (p, x0) = logreg();
    let th = Stepsize::Theory { multiplier: 1.0 };
    let mut ef21 = engine(&method("ef21", Some("top_k:k=2"), th), &p, &x0);
    let mut clag = engine(
        &MethodConfig {
            zeta: Some(0.0),
            ..method("clag", Some("top_k:k=2"), th)
        },
        &p,
        &x0,
    );
    assert_bitwise(ef21.as_mut(), clag.as_mut(), 300, "clag ζ=0 vs ef21");
    // ζ = 0 never skipped here (∇f_i ≠ g_i in every round).
    for h in outcomes(clag.as_ref()) {
        assert_eq!(h, vec![0, 300]);
    }
}

#[test]
fn generic_three_pc_with_the_ef21_mechanism_is_ef21_bit_for_bit() {
    let (p, x0) = logreg();
    for comp in ["top_k:k=1", "rand_k:k=3,scaled=false"] {
        let th = Stepsize::Theory { multiplier: 1.0 };
        let mut ef21 = engine(&method("ef21", Some(comp), th), &p, &x0);
        let mut generic = engine(&method("3pc_ef21", Some(comp), th), &p, &x0);
        assert_bitwise(ef21.as_mut(), generic.as_mut(), 200, comp);
    }
}

/// One application of `m` at (h, y, x): (outcome, bits sent, new h).
fn apply_once(m: &dyn ThreePoint<f64>, h: &[f64], y: &[f64], x: &[f64]) -> (usize, u64, Vec<f64>) {
    let d = x.len();
    let mut h = h.to_vec();
    let (mut work, mut aux) = (vec![0.0; d], vec![0.0; d]);
    let (mut spare, mut stash, mut up) =
        (Message::default(), Message::default(), Message::default());
    let mut rng = SqueezeRng::stream(1, Purpose::Compression, 0);
    let mut scratch = Scratch::default();
    let mut ctx = MechCtx {
        worker: 0,
        n_workers: 1,
        round: 0,
        round_seed: 0,
        rng: &mut rng,
        scratch: &mut scratch,
        work: &mut work,
        aux: &mut aux,
        spare: &mut spare,
        stash: &mut stash,
    };
    let o = m.apply(&mut h, y, x, &mut ctx, &mut up).unwrap();
    (o, up.bits(), h)
}

/// The boundary of the strict trigger: at x = h, CLAG(ζ = 0) sends nothing and EF21 sends a
/// zero correction; the new estimates are identical.
#[test]
fn at_the_boundary_clag_skips_where_ef21_sends_a_zero_correction() {
    let clag = Clag::<f64>::new(parse("top_k:k=2").unwrap(), 0.0).unwrap();
    let ef21 = Ef21Mech::<f64>::new(parse("top_k:k=2").unwrap());
    let (y, x) = (vec![1.0, 2.0, 3.0, 4.0], vec![0.5, -1.0, 2.0, 0.0]);
    let c = apply_once(&clag, &x, &y, &x);
    let e = apply_once(&ef21, &x, &y, &x);
    assert_eq!((c.0, c.1), (0, 0), "CLAG skips at x = h");
    assert!(e.1 > 0, "EF21 sends C(0)");
    assert_eq!(c.2, x);
    assert_eq!(e.2, x);
}

/// When ‖x − h‖² overflows (a diverging run), the lazy mechanisms send instead of comparing
/// inf with inf and skipping forever (which froze diverging LAG runs at a finite x); ζ = 0 still
/// means "send" when ‖x − y‖² overflows.
#[test]
fn lazy_mechanisms_send_when_the_distances_overflow() {
    let big = 1e200;
    let (h, y, x) = (vec![0.0, 0.0], vec![-big, 0.0], vec![big, big]);
    let lag = squeeze_feedback::three_point::Lag::new(1.0).unwrap();
    let clag = Clag::<f64>::new(parse("top_k:k=1").unwrap(), 1.0).unwrap();
    let clag0 = Clag::<f64>::new(parse("top_k:k=1").unwrap(), 0.0).unwrap();
    let ada = AdaCgd::<f64>::new(vec![parse("top_k:k=1").unwrap()], 1.0).unwrap();
    for m in [&lag as &dyn ThreePoint<f64>, &clag, &clag0, &ada] {
        let (o, bits, _) = apply_once(m, &h, &y, &x);
        assert!(o > 0 && bits > 0, "{} skipped on overflow", m.describe());
    }
    // Finite left side, overflowing right side, ζ > 0: skipping is right (lhs ≤ ∞).
    let (h, y, x) = (vec![big, big], vec![-big, -big], vec![big, big]);
    assert_eq!(apply_once(&lag, &h, &y, &x).0, 0);
    assert_eq!(apply_once(&clag0, &h, &y, &[big, 0.0]).0, 1);
}

#[test]
fn clag_with_the_identity_is_lag_bit_for_bit() {
    let (p, x0) = logreg();
    let th = Stepsize::Theory { multiplier: 1.0 };
    for zeta in [0.0, 1.5, 20.0] {
        let mut lag = engine(
            &MethodConfig {
                zeta: Some(zeta),
                ..method("lag", None, th)
            },
            &p,
            &x0,
        );
        let mut clag = engine(
            &MethodConfig {
                zeta: Some(zeta),
                ..method("clag", Some("identity"), th)
            },
            &p,
            &x0,
        );
        assert_bitwise(lag.as_mut(), clag.as_mut(), 300, &format!("ζ = {zeta}"));
        let (hl, hc) = (outcomes(lag.as_ref()), outcomes(clag.as_ref()));
        assert_eq!(hl, hc);
        let skipped: u64 = hl.iter().map(|h| h[0]).sum();
        if zeta > 0.0 {
            assert!(skipped > 0, "ζ = {zeta}: LAG never skipped: {hl:?}");
        }
    }
}

/// The dyadic least-squares problem of `equivalences.rs`: every operation of GD is exact.
fn dyadic_problem() -> (Arc<Problem<f64>>, Vec<f64>) {
    const ROWS: [[i64; 4]; 8] = [
        [1, 1, 0, 0],
        [0, 1, -1, 0],
        [1, 0, 0, 1],
        [0, 0, 1, 1],
        [1, -1, 0, 0],
        [0, 1, 0, -1],
        [1, 0, 1, 0],
        [0, -1, 1, 1],
    ];
    const B8: [i64; 8] = [5, -3, 7, 1, -6, 2, 3, -4];
    const X08: [i64; 4] = [3, -5, 1, 6];
    let dense: Vec<f64> = ROWS.iter().flatten().map(|&v| v as f64).collect();
    let a = Csr::from_dense(4, &dense).unwrap();
    let b: Vec<f64> = B8.iter().map(|&v| v as f64 / 8.0).collect();
    let p = Problem::least_squares(
        &a,
        &b,
        4,
        Split::Contiguous,
        Remainder::ToLast,
        Regularizer::None,
    )
    .unwrap();
    (Arc::new(p), X08.iter().map(|&v| v as f64 / 8.0).collect())
}

#[test]
fn three_pc_v5_with_p_one_is_gd() {
    // Exact arithmetic: bit for bit (γ a power of two ≤ 1/L, as in equivalences.rs; the
    // number of exact rounds is bounded by the mantissa, 8 is within it there).
    let (p, x0) = dyadic_problem();
    let gamma = 2f64.powi((1.0 / p.smoothness().l).log2().floor() as i32);
    let step = Stepsize::Constant { gamma };
    let v5 = MethodConfig {
        p: Some(1.0),
        ..method("3pc_v5", Some("top_k:k=1"), step)
    };
    let mut gd = engine(&method("gd", None, step), &p, &x0);
    let mut e = engine(&v5, &p, &x0);
    assert_bitwise(gd.as_mut(), e.as_mut(), 8, "3pc_v5 p=1 vs gd (dyadic)");
    // Every round was a full round.
    for h in outcomes(e.as_ref()) {
        assert_eq!(h, vec![0, 8]);
    }

    // A real problem at the theory stepsize (A = 1, B = 0 ⇒ γ = 1/L, GD's): to rounding.
    let (p, x0) = logreg();
    let th = Stepsize::Theory { multiplier: 1.0 };
    let mut gd = engine(&method("gd", None, th), &p, &x0);
    let mut e = engine(
        &MethodConfig {
            p: Some(1.0),
            ..method("3pc_v5", Some("top_k:k=1"), th)
        },
        &p,
        &x0,
    );
    for _ in 0..200 {
        gd.round().unwrap();
        e.round().unwrap();
    }
    let (a, b) = (gd.iterate_f64(), e.iterate_f64());
    let worst = a
        .iter()
        .zip(&b)
        .map(|(p, q)| rel_diff(*p, *q))
        .fold(0.0, f64::max);
    assert!(worst < 1e-10, "relative difference {worst:e}");
    assert_eq!(gd.totals().bits_up, e.totals().bits_up);
}

#[test]
fn adacgd_with_one_rung_is_clag_bit_for_bit() {
    let (p, x0) = logreg();
    let th = Stepsize::Theory { multiplier: 1.0 };
    for (comp, zeta) in [
        ("top_k:k=2", 1.0),
        ("top_k:k=5", 0.0),
        ("rand_k:k=3,scaled=false", 4.0),
    ] {
        let mut clag = engine(
            &MethodConfig {
                zeta: Some(zeta),
                ..method("clag", Some(comp), th)
            },
            &p,
            &x0,
        );
        let mut ada = engine(
            &MethodConfig {
                zeta: Some(zeta),
                ladder: Some(vec![spec(comp)]),
                ..method("adacgd", None, th)
            },
            &p,
            &x0,
        );
        assert_bitwise(clag.as_mut(), ada.as_mut(), 300, comp);
        assert_eq!(outcomes(clag.as_ref()), outcomes(ada.as_ref()), "{comp}");
    }
}

/// The AdaCGD histogram counts every round of every worker, and a real ladder uses more than
/// one level (and skips) on this problem.
#[test]
fn adacgd_records_the_levels_it_chose() {
    let (p, x0) = logreg();
    let ladder = ["top_k:k=1", "top_k:k=4", "top_k:k=16", "identity"];
    let mech = AdaCgd::<f64>::new(ladder.iter().map(|s| parse(s).unwrap()).collect(), 1.0).unwrap();
    let m = ThreePc::new(Box::new(mech), Stepsize::Theory { multiplier: 1.0 }, false).unwrap();
    let mut e = StarEngine::new(m, p, &x0, 3, 1).unwrap();
    for _ in 0..200 {
        e.round().unwrap();
    }
    let mut total = vec![0u64; 5];
    for w in e.workers() {
        assert_eq!(w.outcomes.len(), 5);
        assert_eq!(w.outcomes.iter().sum::<u64>(), 200);
        for (t, c) in total.iter_mut().zip(&w.outcomes) {
            *t += c;
        }
    }
    let used = total.iter().filter(|&&c| c > 0).count();
    assert!(used >= 3, "levels used: {total:?}");
}

fn config_error(extra: &str) -> (String, String) {
    let text =
        format!("seed = 1\n[problem]\nn_workers = 2\n[method]\n{extra}\n[stop]\nmax_rounds = 1\n");
    match cfg(&text).build_engine(std::path::Path::new(".")) {
        Ok(_) => panic!("accepted: {extra}"),
        Err(ConfigError::Invalid { key, detail }) => (key, detail),
        Err(e) => panic!("{extra}: unexpected error {e}"),
    }
}

#[test]
fn invalid_three_pc_settings_are_typed_errors_with_hints() {
    let cases = [
        (
            "name = \"clag\"\ncompressor = \"top_k:k=1\"\nzeta = -1.0",
            "method.zeta",
            "≥ 0",
        ),
        ("name = \"lag\"\nzeta = nan", "method.zeta", "≥ 0"),
        (
            "name = \"3pc_v5\"\ncompressor = \"top_k:k=1\"\np = 0.0",
            "method.p",
            "(0, 1]",
        ),
        ("name = \"bag\"\np = 1.5", "method.p", "(0, 1]"),
        (
            "name = \"adacgd\"\nladder = []",
            "method.ladder",
            "at least one",
        ),
        (
            "name = \"adacgd\"\nladder = [\"top_k:k=4\", \"top_k:k=1\"]",
            "method.ladder",
            "sorted by α ascending",
        ),
        ("name = \"adacgd\"", "method.ladder", "needs a ladder"),
        (
            "name = \"adacgd\"\nladder = [\"rand_k:k=2\"]",
            "method.ladder",
            "contractive",
        ),
        (
            "name = \"3pc_v2\"\ncompressor = \"top_k:k=1\"",
            "method.compressor2",
            "rand_k",
        ),
        (
            "name = \"lag\"\ncompressor = \"top_k:k=1\"",
            "method.compressor",
            "remove",
        ),
        ("name = \"clag\"", "method.compressor", "needs a compressor"),
        (
            "name = \"3pc_v1\"\ncompressor = \"top_k:k=1\"\nzeta = 1.0",
            "method.zeta",
            "does not take",
        ),
        (
            "name = \"clag\"\ncompressor = \"top_k:k=1\"\nladder = [\"top_k:k=1\"]",
            "method.ladder",
            "does not take",
        ),
    ];
    for (extra, key, hint) in cases {
        let (k, msg) = config_error(extra);
        assert_eq!(k, key, "{extra}: {msg}");
        assert!(
            msg.contains(hint),
            "{extra}: message {msg:?} lacks {hint:?}"
        );
    }
}

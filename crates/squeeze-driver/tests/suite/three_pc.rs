//! 3PC-GD equivalences (algorithms.md §11 X9) and configuration errors.
//!
//! * CLAG with ζ = 0 is EF21 bit for bit (iterates, losses and bits on a real problem); the
//!   only difference is at the boundary ‖∇f_i − g_i‖² = 0, where the strict trigger skips
//!   (0 bits) and EF21 sends C(0) (same state) — tested at the mechanism level;
//! * the generic 3PC-GD with the EF21 mechanism is the dedicated EF21 method bit for bit;
//! * CLAG with the identity compressor is LAG bit for bit (and both do skip);
//! * 3PCv5 with p = 1 is GD bit for bit on a problem with exact arithmetic (it forms
//!   g_i + (∇f_i − g_i), like EF21 with the identity), and to 1e-10 on a real one;
//! * AdaCGD with a one-rung ladder is CLAG bit for bit, outcome histograms included;
//! * AdaCGD sends its rung index (`Message::Indexed`, ⌈log₂ m⌉ bits) and the engine's level
//!   histogram (records `levels`) counts what was sent, across checkpoint/resume.

use std::sync::Arc;

use crate::common::*;
use squeeze_compress::{CompressorSpec, parse};
use squeeze_core::{Message, Purpose, Scratch, SqueezeRng};
use squeeze_driver::config::{ConfigError, MethodConfig};
use squeeze_driver::{Engine, StarEngine};
use squeeze_methods::three_point::{AdaCgd, Clag, Ef21Mech, MechBuffers, ThreePoint};
use squeeze_methods::{Stepsize, ThreePc};
use squeeze_problems::problem::Problem;

fn spec(s: &str) -> CompressorSpec {
    CompressorSpec::Text(s.to_string())
}

/// Nonconvex logistic regression (λ = 0.1) on the embedded data, n = 10, x⁰ ~ N(0, I).
fn logreg() -> (Arc<Problem<f64>>, Vec<f64>) {
    embedded_logreg(10, 1)
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
        &method("clag", Some("top_k:k=2"), th).with("zeta", 0.0),
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
    let mut h = h.to_vec();
    let mut buffers = MechBuffers::new(x.len());
    let mut up = Message::default();
    let mut rng = SqueezeRng::stream(1, Purpose::Compression, 0);
    let mut scratch = Scratch::default();
    let mut ctx = buffers.ctx((0, 1, 0, 0), &mut rng, &mut scratch);
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
    let lag = squeeze_methods::three_point::Lag::new(1.0).unwrap();
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
            &method("lag", None, th).with_value("zeta", &zeta).unwrap(),
            &p,
            &x0,
        );
        let mut clag = engine(
            &method("clag", Some("identity"), th)
                .with_value("zeta", &zeta)
                .unwrap(),
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

#[test]
fn three_pc_v5_with_p_one_is_gd() {
    // Exact arithmetic: bit for bit (γ a power of two ≤ 1/L, as in equivalences.rs; the
    // number of exact rounds is bounded by the mantissa, 8 is within it there).
    let (p, x0) = dyadic_problem();
    let gamma = 2f64.powi((1.0 / p.smoothness().l).log2().floor() as i32);
    let step = Stepsize::Constant { gamma };
    let v5 = method("3pc_v5", Some("top_k:k=1"), step).with("p", 1.0);
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
        &method("3pc_v5", Some("top_k:k=1"), th).with("p", 1.0),
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
            &method("clag", Some(comp), th)
                .with_value("zeta", &zeta)
                .unwrap(),
            &p,
            &x0,
        );
        let mut ada = engine(&adacgd(&[comp], zeta, th), &p, &x0);
        assert_bitwise(clag.as_mut(), ada.as_mut(), 300, comp);
        assert_eq!(outcomes(clag.as_ref()), outcomes(ada.as_ref()), "{comp}");
    }
}

/// A four-rung ladder (Top-1, Top-4, Top-16, identity).
const LADDER: [&str; 4] = ["top_k:k=1", "top_k:k=4", "top_k:k=16", "identity"];

/// AdaCGD over [`LADDER`] with ζ = 1 at the theory stepsize, on `p` from `x0`.
fn ladder_engine(p: &Arc<Problem<f64>>, x0: &[f64]) -> StarEngine<f64, ThreePc<f64>> {
    let rungs = LADDER.iter().map(|s| parse(s).unwrap()).collect();
    let mech = AdaCgd::<f64>::new(rungs, 1.0).unwrap();
    let m = ThreePc::new(Box::new(mech), Stepsize::Theory { multiplier: 1.0 }, false).unwrap();
    StarEngine::new(m, p.clone(), x0, 3, 1).unwrap()
}

/// The AdaCGD histogram counts every round of every worker, and a real ladder uses more than
/// one level (and skips) on this problem.
#[test]
fn adacgd_records_the_levels_it_chose() {
    let (p, x0) = logreg();
    let mut e = ladder_engine(&p, &x0);
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
    // The engine's histogram, read off the wire, is the workers' own count.
    assert_eq!(e.totals().levels, total);
    assert_eq!(e.totals().levels.iter().sum::<u64>(), 200 * 10);
}

/// The rung index is on the wire: every non-skip uplink message is `Indexed` with width
/// ⌈log₂ 4⌉ = 2, its index is the worker's outcome − 1, and it costs exactly the rung's message
/// plus 4 + 4 + 2 bits; the engine's bit count is the encoded length.
#[test]
fn adacgd_sends_the_rung_index() {
    let (p, x0) = logreg();
    let mut e = ladder_engine(&p, &x0);
    let d = p.dim();
    let mut prev: Vec<Vec<u64>> = e.workers().iter().map(|w| w.outcomes.clone()).collect();
    let mut prev_bits = e.totals().bits_up.clone();
    let mut indexed = 0;
    for _ in 0..100 {
        e.round().unwrap();
        for (i, (up, w)) in e.last_uplink().iter().zip(e.workers()).enumerate() {
            let level = (0..5).find(|&l| w.outcomes[l] != prev[i][l]).unwrap();
            let bits = e.totals().bits_up[i] - prev_bits[i];
            assert_eq!(bits, up.bits());
            assert_eq!(up.to_bytes().len() as u64, bits.div_ceil(8));
            match up {
                Message::Skip { .. } => assert_eq!((level, bits), (0, 0)),
                Message::Indexed {
                    width,
                    index,
                    inner,
                } => {
                    indexed += 1;
                    assert_eq!((*width, *index as usize + 1), (2, level));
                    assert_eq!(bits, inner.bits() + 4 + 4 + 2);
                    assert_eq!(&Message::<f64>::decode(&up.to_bytes(), d).unwrap(), up);
                }
                other => panic!("unexpected uplink {other:?}"),
            }
        }
        prev = e.workers().iter().map(|w| w.outcomes.clone()).collect();
        prev_bits = e.totals().bits_up.clone();
    }
    assert!(indexed > 0);
}

/// The level histogram: ζ huge skips everything (all counts in level 0, 0 bits); ζ = 0 with an
/// identity top rung and a Top-1 first rung sends (almost) everything through the top rung;
/// the histogram survives checkpoint/resume and reaches the CSV/JSONL records.
#[test]
fn adacgd_level_histogram_in_the_records() {
    let (p, x0) = logreg();
    let n = p.n_workers() as u64;
    let build = |ladder: &[&str], zeta: f64| {
        engine(
            &adacgd(ladder, zeta, Stepsize::Theory { multiplier: 1.0 }),
            &p,
            &x0,
        )
    };
    let mut lazy = build(&["top_k:k=1", "top_k:k=4"], 1e30);
    for _ in 0..50 {
        lazy.round().unwrap();
    }
    // Every worker skips except when its gradient did not change at all (‖x − y‖ = 0 makes
    // the threshold 0 for any ζ; the fall-back is the finest rung): observed 3 of 500.
    let l = &lazy.totals().levels;
    assert_eq!((l.iter().sum::<u64>(), l[1]), (50 * n, 0), "{l:?}");
    assert!(l[0] >= 49 * n, "{l:?}");
    let mut lazy = build(&["top_k:k=1", "top_k:k=4"], 1e30);
    lazy.round().unwrap();
    assert_eq!(lazy.totals().levels, vec![n, 0, 0]);
    assert_eq!(lazy.totals().bits_up_per_worker(), 0.0);

    let mut eager = build(&["top_k:k=1", "identity"], 0.0);
    for _ in 0..50 {
        eager.round().unwrap();
    }
    let l = &eager.totals().levels;
    assert_eq!(l.len(), 3);
    assert_eq!(l.iter().sum::<u64>(), 50 * n);
    assert!(l[2] >= 45 * n, "{l:?}");
    // Not an AdaCGD run: no histogram.
    let mut clag = engine(
        &method("clag", Some("top_k:k=1"), Stepsize::default()),
        &p,
        &x0,
    );
    clag.round().unwrap();
    assert!(clag.totals().levels.is_empty());

    // Checkpoint/resume: the histogram continues exactly.
    let mut a = build(&LADDER, 1.0);
    for _ in 0..40 {
        a.round().unwrap();
    }
    let snap = a.snapshot().unwrap();
    for _ in 0..40 {
        a.round().unwrap();
    }
    let mut b = build(&LADDER, 1.0);
    b.restore(&snap).unwrap();
    for _ in 0..40 {
        b.round().unwrap();
    }
    assert_eq!(a.totals(), b.totals());
    assert_eq!(a.totals().levels.iter().sum::<u64>(), 80 * n);

    // Records: JSON round-trips the vector; the CSV column holds `;`-separated counts.
    let m = a.evaluate().unwrap();
    let rec = squeeze_driver::RoundRecord::new(a.totals(), m, 1.0);
    let back: squeeze_driver::RoundRecord =
        serde_json::from_str(&serde_json::to_string(&rec).unwrap()).unwrap();
    assert!(back.same_trajectory(&rec));
    let header: Vec<&str> = squeeze_driver::RoundRecord::CSV_HEADER.split(',').collect();
    let row = rec.csv_row();
    let cells: Vec<&str> = row.split(',').collect();
    assert_eq!(header.len(), cells.len());
    let col = header.iter().position(|h| *h == "levels").unwrap();
    let want: Vec<String> = rec.levels.iter().map(|c| c.to_string()).collect();
    assert_eq!(cells[col], want.join(";"));
    assert_eq!(cells[col + 1], "", "no downlink ladder");
    let plain = squeeze_driver::RoundRecord::new(clag.totals(), m, 1.0).csv_row();
    assert_eq!(plain.split(',').nth(col), Some(""));
}

/// AdaCGD with trigger ζ = `zeta` over the uplink `ladder`.
fn adacgd(ladder: &[&str], zeta: f64, step: Stepsize) -> MethodConfig {
    method("adacgd", None, step)
        .with_value("zeta", &zeta)
        .unwrap()
        .with_value(
            "ladder",
            &ladder.iter().map(|s| spec(s)).collect::<Vec<_>>(),
        )
        .unwrap()
}

fn ada_bc(
    ladder: &[&str],
    zeta: f64,
    down: &[&str],
    down_zeta: f64,
    step: Stepsize,
) -> MethodConfig {
    adacgd(ladder, zeta, step)
        .with_value(
            "downlink_ladder",
            &down.iter().map(|s| spec(s)).collect::<Vec<_>>(),
        )
        .unwrap()
        .with_value("downlink_zeta", &down_zeta)
        .unwrap()
}

/// Bidirectional AdaCGD with an identity-only downlink (ζ_down = 0: send g̃ − g whenever it is
/// non-zero) is unidirectional AdaCGD: bit for bit on the exact dyadic problem (iterates, loss,
/// uplink bits), to rounding on a real one. Its downlink carries Dense(g̃ − g) (one-rung
/// ladder: no index) and the downlink histogram counts rounds.
#[test]
fn bidirectional_adacgd_with_identity_downlink_is_unidirectional() {
    let (p, x0) = dyadic_problem();
    let gamma = 2f64.powi((1.0 / p.smoothness().l).log2().floor() as i32);
    let step = Stepsize::Constant { gamma };
    let ladder = ["top_k:k=1", "top_k:k=2", "identity"];
    let uni = adacgd(&ladder, 1.0, step);
    let mut a = engine(&uni, &p, &x0);
    let mut b = engine(&ada_bc(&ladder, 1.0, &["identity"], 0.0, step), &p, &x0);
    assert_bitwise(
        a.as_mut(),
        b.as_mut(),
        8,
        "bidirectional adacgd, identity downlink (dyadic)",
    );
    assert_eq!(a.totals().levels, b.totals().levels);
    let ld = &b.totals().levels_down;
    assert_eq!((ld.len(), ld.iter().sum::<u64>()), (2, 8));
    assert!(a.totals().bits_down_per_worker > 0 && b.totals().bits_down_per_worker > 0);

    // A real problem: to rounding, same uplink decisions.
    let (p, x0) = logreg();
    let th = Stepsize::Theory { multiplier: 1.0 };
    let uni = adacgd(&ladder, 1.0, th);
    let mut a = engine(&uni, &p, &x0);
    let mut b = engine(&ada_bc(&ladder, 1.0, &["identity"], 0.0, th), &p, &x0);
    for _ in 0..200 {
        a.round().unwrap();
        b.round().unwrap();
    }
    let worst = a
        .iterate_f64()
        .iter()
        .zip(&b.iterate_f64())
        .map(|(p, q)| rel_diff(*p, *q))
        .fold(0.0, f64::max);
    assert!(worst < 1e-10, "relative difference {worst:e}");
    assert_eq!(a.totals().levels, b.totals().levels);
    assert_eq!(a.totals().bits_up, b.totals().bits_up);
}

/// A compressed adaptive downlink: the broadcast costs far fewer bits than the dense model,
/// uses several downlink levels (skips included), its histogram sums to the rounds, the run
/// converges, and it survives checkpoint/resume.
#[test]
fn bidirectional_adacgd_compresses_the_downlink() {
    let (p, x0) = logreg();
    let d = p.dim() as u64;
    let th = Stepsize::Theory { multiplier: 1.0 };
    let cfg = ada_bc(
        &["top_k:k=1", "top_k:k=4", "top_k:k=16"],
        1.0,
        &["top_k:k=2", "top_k:k=8", "identity"],
        1.0,
        th,
    );
    let mut e = engine(&cfg, &p, &x0);
    let g0 = e.evaluate().unwrap().grad_norm_sq;
    let rounds = 2000u64;
    for _ in 0..rounds {
        e.round().unwrap();
    }
    let g = e.evaluate().unwrap().grad_norm_sq;
    assert!(g < 1e-3 * g0, "{g} vs {g0}");
    let t = e.totals();
    let ld = &t.levels_down;
    assert_eq!(ld.len(), 4);
    assert_eq!(ld.iter().sum::<u64>(), rounds);
    assert!(ld.iter().filter(|&&c| c > 0).count() >= 3, "{ld:?}");
    // Dense f64 model every round would be rounds × (4 + 64 d) bits.
    assert!(
        t.bits_down_per_worker < rounds * (4 + 64 * d) / 2,
        "{} bits down",
        t.bits_down_per_worker
    );
    // Checkpoint/resume continues bit for bit, histograms included.
    let mut a = engine(&cfg, &p, &x0);
    for _ in 0..30 {
        a.round().unwrap();
    }
    let snap = a.snapshot().unwrap();
    let mut b = engine(&cfg, &p, &x0);
    b.restore(&snap).unwrap();
    for _ in 0..30 {
        a.round().unwrap();
        b.round().unwrap();
    }
    assert_eq!(a.totals(), b.totals());
    assert_eq!(a.iterate_f64(), b.iterate_f64());
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
            "name = \"adacgd\"\nladder = [\"top_k:k=1\"]\ndownlink_ladder = [\"top_k:k=4\", \"top_k:k=1\"]",
            "method.downlink_ladder",
            "sorted by α ascending",
        ),
        (
            "name = \"adacgd\"\nladder = [\"top_k:k=1\"]\ndownlink_ladder = [\"top_k:k=1\"]\ndownlink_zeta = -1.0",
            "method.downlink_zeta",
            "≥ 0",
        ),
        (
            "name = \"adacgd\"\nladder = [\"top_k:k=1\"]\ndownlink_zeta = 1.0",
            "method.downlink_zeta",
            "no downlink ladder",
        ),
        (
            "name = \"clag\"\ncompressor = \"top_k:k=1\"\ndownlink_ladder = [\"identity\"]",
            "method.downlink_ladder",
            "does not take",
        ),
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

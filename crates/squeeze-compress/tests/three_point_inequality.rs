//! The 3PC inequality (algorithms.md §6.1) for every mechanism:
//!
//! E‖C_{h,y}(x) − x‖² ≤ (1 − A)‖h − y‖² + B‖x − y‖²
//!
//! on generated h, y, x. Deterministic mechanisms are checked exactly (relative slack 1e-9 for
//! rounding). Random ones (randomised compressors, coins) by seeded Monte Carlo: the mean of
//! N = 400 draws may exceed the bound by at most 6 standard errors of that mean plus the same
//! rounding slack — a false alarm has probability < 1e-9 per check in the normal approximation.
//! (Unscaled Rand-K attains the bound with equality on some inputs, so the mean sits on it: at 4
//! standard errors the thousands of checks of a run with a random proptest seed raised a false
//! alarm now and then.) A wrong constant (e.g. B halved) still shows up as a violation (checked
//! below by `halved_constants_are_caught`).

use proptest::prelude::*;
use squeeze_compress::parse;
use squeeze_compress::three_point::{
    AdaCgd, Bag, Clag, Ef21Mech, Lag, MechBuffers, ThreePoint, V1, V2, V4, V5,
};
use squeeze_core::{Message, Purpose, Scratch, SqueezeRng};

const DRAWS: usize = 400;

fn c(spec: &str) -> Box<dyn squeeze_core::Compressor<f64>> {
    parse(spec).unwrap()
}

type Mechs = Vec<(Box<dyn ThreePoint<f64>>, bool)>;

/// Every mechanism in a few parameterisations, as (mechanism, random?), for dimension d.
fn mechanisms(d: usize) -> Mechs {
    let mut v: Mechs = vec![
        (Box::new(Ef21Mech::new(c("top_k:k=1"))), false),
        (Box::new(Ef21Mech::new(c("rand_k:k=2,scaled=false"))), true),
        (Box::new(Lag::new(0.0).unwrap()), false),
        (Box::new(Lag::new(0.7).unwrap()), false),
        (Box::new(Lag::new(4.0).unwrap()), false),
        (Box::new(Clag::new(c("top_k:k=1"), 0.0).unwrap()), false),
        (Box::new(Clag::new(c("top_k:k=2"), 0.5).unwrap()), false),
        (Box::new(Clag::new(c("top_k:k=1"), 30.0).unwrap()), false),
        (
            Box::new(Clag::new(c("rand_k:k=1,scaled=false"), 2.0).unwrap()),
            true,
        ),
        (Box::new(V1::new(c("top_k:k=1"))), false),
        (Box::new(V1::new(c("rand_k:k=2,scaled=false"))), true),
        (
            Box::new(V2::new(c("top_k:k=2"), c("rand_k:k=2")).unwrap()),
            true,
        ),
        (
            Box::new(V2::new(c("top_k:k=1"), c("rand_k:k=1")).unwrap()),
            true,
        ),
        (Box::new(V4::new(c("top_k:k=1"), c("top_k:k=1"))), false),
        (
            Box::new(V4::new(c("top_k:k=1"), c("rand_k:k=1,scaled=false"))),
            true,
        ),
        (Box::new(V5::new(c("top_k:k=1"), 0.3).unwrap()), true),
        (Box::new(V5::new(c("top_k:k=2"), 1.0).unwrap()), false),
        (Box::new(Bag::new(0.2).unwrap()), true),
        (Box::new(Bag::new(0.9).unwrap()), true),
        (Box::new(Bag::new(1.0).unwrap()), false),
        (
            Box::new(AdaCgd::new(vec![c("top_k:k=1"), c("top_k:k=2")], 1.0).unwrap()),
            false,
        ),
        (
            Box::new(
                AdaCgd::new(vec![c("top_k:k=1"), c("top_k:k=2"), c("identity")], 0.0).unwrap(),
            ),
            false,
        ),
        (
            Box::new(AdaCgd::new(vec![c("rand_k:k=1,scaled=false"), c("top_k:k=2")], 0.3).unwrap()),
            true,
        ),
    ];
    v.retain(|(m, _)| m.check_dim(d).is_ok());
    v
}

/// (mean of ‖C(x) − x‖², its standard error, bound with B scaled by `scale_b`) over `draws`
/// applications (fresh h each time, one continuing stream, a new round seed per draw).
fn measure(
    m: &dyn ThreePoint<f64>,
    h: &[f64],
    y: &[f64],
    x: &[f64],
    draws: usize,
    seed: u64,
    scale_b: f64,
) -> (f64, f64, f64) {
    let d = x.len();
    let (a, b) = m.constants(d).unwrap();
    assert!(
        a > 0.0 && a <= 1.0 && b >= 0.0,
        "{}: A = {a}, B = {b}",
        m.describe()
    );
    let bound = (1.0 - a) * dist2(h, y) + scale_b * b * dist2(x, y);
    let mut rng = SqueezeRng::stream(seed, Purpose::Compression, 0);
    let mut scratch = Scratch::default();
    let (mut buffers, mut up) = (MechBuffers::new(d), Message::default());
    let (mut sum, mut sum2) = (0.0, 0.0);
    for t in 0..draws {
        let mut hh = h.to_vec();
        let ids = (0, 1, t as u64, squeeze_core::round_seed(seed, t as u64));
        let mut ctx = buffers.ctx(ids, &mut rng, &mut scratch);
        m.apply(&mut hh, y, x, &mut ctx, &mut up).unwrap();
        let e = dist2(&hh, x);
        sum += e;
        sum2 += e * e;
    }
    let n = draws as f64;
    let mean = sum / n;
    let var = (sum2 / n - mean * mean).max(0.0);
    (mean, (var / n).sqrt(), bound)
}

fn dist2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(p, q)| (p - q) * (p - q)).sum()
}

fn check_all(h: &[f64], y: &[f64], x: &[f64], seed: u64) -> Result<(), TestCaseError> {
    for (m, random) in mechanisms(x.len()) {
        let draws = if random { DRAWS } else { 1 };
        let (mean, se, bound) = measure(m.as_ref(), h, y, x, draws, seed, 1.0);
        let slack = 1e-9 * (bound + dist2(h, x)) + 6.0 * se;
        prop_assert!(
            mean <= bound + slack,
            "{}: E‖C − x‖² = {mean:.6e} (se {se:.2e}) > bound {bound:.6e}\nh = {h:?}\ny = {y:?}\nx = {x:?}",
            m.describe()
        );
    }
    Ok(())
}

fn vecs() -> impl Strategy<Value = (Vec<f64>, Vec<f64>, Vec<f64>)> {
    (3usize..10).prop_flat_map(|d| {
        let v = || prop::collection::vec(-5.0f64..5.0, d);
        (v(), v(), v())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Independent random h, y, x.
    #[test]
    fn three_point_inequality_holds((h, y, x) in vecs(), seed in any::<u64>()) {
        check_all(&h, &y, &x, seed)?;
    }

    /// Nearby points (x ≈ y, h ≈ y: the regime of a converging run, where triggers matter).
    #[test]
    fn three_point_inequality_holds_near_convergence(
        (h, y, x) in vecs(), eps in 1e-4f64..1.0, seed in any::<u64>()
    ) {
        let x: Vec<f64> = y.iter().zip(&x).map(|(a, b)| a + eps * b).collect();
        let h: Vec<f64> = y.iter().zip(&h).map(|(a, b)| a + eps * eps * b).collect();
        check_all(&h, &y, &x, seed)?;
    }
}

/// Boundary cases: x = h (nothing to correct), x = y (no gradient change), h = y.
#[test]
fn three_point_inequality_at_the_boundaries() {
    let y = vec![1.0, -2.0, 0.5, 3.0, -1.0];
    let other = vec![0.25, 4.0, -3.0, 1.0, 2.0];
    check_all(&other, &y, &other, 1).unwrap(); // x = h
    check_all(&other, &y, &y, 2).unwrap(); // x = y
    check_all(&y, &y, &other, 3).unwrap(); // h = y
    check_all(&y, &y, &y, 4).unwrap(); // all equal
}

/// The test has teeth: where B is attained, halving it makes the bound fail.
#[test]
fn halved_constants_are_caught() {
    // LAG(ζ = 4): ‖x − h‖² = 4‖x − y‖² exactly → skip, error = ζ‖x − y‖² = B‖x − y‖², h = y
    // not needed (h − y contributes with 1 − A = 0).
    let y = vec![0.0, 0.0, 0.0];
    let x = vec![1.0, 0.0, 0.0];
    let h = vec![1.0, 2.0, 0.0];
    let lag = Lag::new(4.0).unwrap();
    let (mean, _, bound_half) = measure(&lag, &h, &y, &x, 1, 0, 0.5);
    assert!(mean > bound_half, "LAG: {mean} ≤ {bound_half}");
    let (mean, _, bound) = measure(&lag, &h, &y, &x, 1, 0, 1.0);
    assert!(mean <= bound, "LAG: {mean} > {bound}");
    // Bernoulli aggregation: E = (1 − p)‖h − x‖², and the optimal-s bound is attained when
    // h − y and y − x are aligned with ‖h − y‖/‖x − y‖ = 1/s* = B/(1 − A).
    let bag = Bag::new(0.5).unwrap();
    let (a, b) = <Bag as ThreePoint<f64>>::constants(&bag, 3).unwrap();
    let r = b / (1.0 - a);
    let h = vec![-r, 0.0, 0.0];
    let (mean, se, bound) = measure(&bag, &h, &y, &x, 20_000, 9, 1.0);
    assert!(
        (mean - bound).abs() < 5.0 * se + 1e-12,
        "BAG tight case: {mean} vs {bound} (se {se})"
    );
    let (_, _, bound_half) = measure(&bag, &h, &y, &x, 1, 9, 0.5);
    assert!(mean > bound_half + 5.0 * se, "BAG: halving B not caught");
}

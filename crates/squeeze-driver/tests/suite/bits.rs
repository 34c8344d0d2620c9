//! Bits accounting of the star engine.
//!
//! Per round and per worker, the uplink counter grows by exactly the `bits()` of the message
//! the worker sent (recomputed from `StarEngine::last_uplink()`); Top-K on d features costs
//! 4 + ⌈log₂(d+1)⌉ + K·⌈log₂ d⌉ + K·(scalar width) bits; the downlink is the dense model
//! (4 + d·width per worker per round); the EF21-paper convention charges 32·K per worker per
//! round and the 3PC convention 64·K.

use crate::common::{embedded_logreg, run_rounds};
use std::sync::Arc;

use squeeze_compress::parse;
use squeeze_core::{BitConvention, Scalar};
use squeeze_driver::{Engine, StarEngine};
use squeeze_methods::{Ef14, Ef21, Gd, GradInit, ServerMethod, Stepsize};
use squeeze_problems::problem::Problem;

const N: usize = 5;
const D: u64 = 30;

/// ⌈log₂ n⌉.
fn clog2(n: u64) -> u64 {
    (64 - (n - 1).leading_zeros()) as u64
}

fn problem<S: Scalar>() -> (Arc<Problem<S>>, Vec<S>) {
    embedded_logreg(N, 5)
}

fn ef21<S: Scalar>(spec: &str) -> Ef21<S> {
    let step = Stepsize::Theory { multiplier: 4.0 };
    Ef21::new(parse::<S>(spec).unwrap(), step, GradInit::Full, false).unwrap()
}

fn ef14<S: Scalar>(spec: &str) -> Ef14<S> {
    Ef14::new(
        parse::<S>(spec).unwrap(),
        Stepsize::Theory { multiplier: 4.0 },
    )
    .unwrap()
}

/// Run `rounds` rounds, checking after each that every counter grew by exactly what the
/// messages in `last_uplink()` cost. `per_message`, if given, is the exact size every message
/// must have. Returns the sizes seen.
fn check_rounds<S: Scalar, M: ServerMethod<S> + 'static>(
    mut e: StarEngine<S, M>,
    rounds: u64,
    per_message: Option<u64>,
    what: &str,
) -> Vec<u64> {
    let down = 4 + D * S::BITS as u64;
    let mut sizes = Vec::new();
    for t in 1..=rounds {
        let before = e.totals().clone();
        e.round().unwrap();
        let after = e.totals().clone();
        let ups = e.last_uplink();
        assert_eq!(ups.len(), N);
        for (i, m) in ups.iter().enumerate() {
            assert_eq!(
                after.bits_up[i] - before.bits_up[i],
                m.bits(),
                "{what} round {t} worker {i}"
            );
            // The counted size is the real encoding's length.
            let mut w = squeeze_core::BitWriter::new();
            m.encode(&mut w);
            assert_eq!(w.bit_len(), m.bits(), "{what}: bits() ≠ encoded length");
            if let Some(b) = per_message {
                assert_eq!(m.bits(), b, "{what} round {t} worker {i}: {m:?}");
            }
            sizes.push(m.bits());
        }
        let sum = |f: &dyn Fn(&squeeze_core::Message<S>) -> u64| ups.iter().map(f).sum::<u64>();
        assert_eq!(after.entries_up - before.entries_up, sum(&|m| m.entries()));
        assert_eq!(
            after.bits_up_values32 - before.bits_up_values32,
            sum(&|m| m.bits_under(BitConvention::Values32))
        );
        assert_eq!(
            after.bits_up_values64 - before.bits_up_values64,
            sum(&|m| m.bits_under(BitConvention::Values64))
        );
        assert_eq!(
            after.bits_down_per_worker - before.bits_down_per_worker,
            down,
            "{what} round {t}: downlink is the dense model"
        );
        assert_eq!(after.rounds, t);
    }
    sizes
}

#[test]
fn uplink_counters_equal_the_messages_sent() {
    fn top_k_bits<S: Scalar>(k: u64) -> u64 {
        4 + clog2(D + 1) + k * clog2(D) + k * S::BITS as u64
    }
    // Top-1 on d = 30 in f64: 4 + 5 + 5 + 64 = 78 bits; in f32: 46.
    assert_eq!(top_k_bits::<f64>(1), 78);
    assert_eq!(top_k_bits::<f32>(1), 46);

    fn run_all<S: Scalar>() {
        let (p, x0) = problem::<S>();
        for k in [1u64, 3] {
            let spec = format!("top_k:k={k}");
            let e = StarEngine::new(ef21::<S>(&spec), p.clone(), &x0, 1, 2).unwrap();
            check_rounds(e, 20, Some(top_k_bits::<S>(k)), &format!("ef21 {spec}"));
            let e = StarEngine::new(ef14::<S>(&spec), p.clone(), &x0, 1, 2).unwrap();
            check_rounds(e, 20, Some(top_k_bits::<S>(k)), &format!("ef14 {spec}"));
        }
        // GD: the dense gradient.
        let gd = Gd::new(Stepsize::Theory { multiplier: 1.0 }).unwrap();
        let e = StarEngine::<S, Gd>::new(gd, p.clone(), &x0, 1, 2).unwrap();
        check_rounds(e, 5, Some(4 + D * S::BITS as u64), "gd");
        // Randomised messages of varying size (quantiser levels, sign bits only for non-zero
        // levels): the counter still follows every message exactly.
        let e = StarEngine::new(ef21::<S>("scaled(qsgd:s=2)"), p.clone(), &x0, 9, 2).unwrap();
        let sizes = check_rounds(e, 20, None, "ef21 scaled(qsgd:s=2)");
        let (lo, hi) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
        assert!(lo < hi, "qsgd sizes should vary, all {lo}");
    }
    run_all::<f64>();
    run_all::<f32>();
}

/// The records carry the per-worker means: Top-K after t rounds costs t·(exact Top-K bits)
/// per worker exactly, t·32·K under the EF21-paper convention, t·64·K under the 3PC one, and
/// t·(4 + 64·d) downlink.
#[test]
fn records_report_top_k_costs_per_worker() {
    fn check<S: Scalar>(k: u64) {
        let (p, x0) = problem::<S>();
        let spec = format!("top_k:k={k}");
        let width = S::BITS as u64;
        let exact = 4 + clog2(D + 1) + k * clog2(D) + k * width;
        let e21 = StarEngine::new(ef21::<S>(&spec), p.clone(), &x0, 1, 1).unwrap();
        let e14 = StarEngine::new(ef14::<S>(&spec), p.clone(), &x0, 1, 1).unwrap();
        let engines: [(&str, Box<dyn Engine>); 2] =
            [("ef21", Box::new(e21)), ("ef14", Box::new(e14))];
        for (name, mut e) in engines {
            let records = run_rounds(e.as_mut(), 25);
            assert_eq!(records.len(), 26);
            for r in &records {
                let t = r.round;
                let what = format!("{name} {spec} {} round {t}", S::NAME);
                assert_eq!(r.bits_up_per_worker, (t * exact) as f64, "{what}");
                assert_eq!(r.bits_up_max, t * exact, "{what}");
                assert_eq!(r.bits_up_values32_per_worker, (t * 32 * k) as f64, "{what}");
                assert_eq!(r.bits_up_values64_per_worker, (t * 64 * k) as f64, "{what}");
                assert_eq!(r.entries_up, t * k * N as u64, "{what}");
                assert_eq!(r.bits_down_per_worker, t * (4 + D * width), "{what}");
            }
        }
    }
    for k in [1, 2, 7] {
        check::<f64>(k);
        check::<f32>(k);
    }
}

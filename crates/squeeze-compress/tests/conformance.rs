//! The shared conformance suite: every example spec of every registry entry, on generated
//! inputs, in f32 and f64, and in the 16-bit f16 and bf16 (fewer cases, the slack of
//! `conformance::slack`). Adding a compressor to the registry enrols it here.
//!
//! Inputs mix zeros, ties, tiny (1e-30) and huge (1e30) magnitudes, with d from 1 to 96; for
//! f16 the scales stay inside its normal range (1e-3 … 1e2, sums beyond 65504 possible). `PROPTEST_CASES` bounds the number of cases (CI sets it).

mod common;

use common::assert_refused;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use squeeze_compress::conformance::{CtxSpec, check};
use squeeze_compress::registry::{entries, parse};
use squeeze_core::Scalar;

/// Monte-Carlo draws per statistical check.
const SAMPLES: usize = 2000;

fn input() -> impl Strategy<Value = Vec<f64>> {
    input_scaled(prop_oneof![
        Just(1.0),
        Just(1e-30),
        Just(1e30),
        Just(1e-3),
        Just(1e3)
    ])
}

/// Inputs inside the `f16` normal range: entries below its smallest normal 2⁻¹⁴ are flushed
/// to 0 (natural compression's variance bound holds for subnormal entries only up to an
/// additive term, see its docs; the unit tests cover subnormals).
fn input_f16() -> impl Strategy<Value = Vec<f64>> {
    input_scaled(prop_oneof![Just(1.0), Just(1e-3), Just(1e-2), Just(1e2)]).prop_map(|x| {
        x.into_iter()
            .map(|v| if v.abs() < 2f64.powi(-14) { 0.0 } else { v })
            .collect()
    })
}

fn input_scaled(scale: impl Strategy<Value = f64> + Clone) -> impl Strategy<Value = Vec<f64>> {
    let entry = prop_oneof![
        3 => -1.0f64..1.0,
        1 => Just(0.0),
        1 => prop_oneof![Just(0.5), Just(-0.5), Just(1.0)],
        1 => (-4i32..=4).prop_map(|k| k as f64),
    ];
    let len = prop_oneof![Just(1usize), 1usize..=8, 9usize..=96];
    (scale, len).prop_flat_map(move |(s, n)| {
        prop::collection::vec(entry.clone(), n)
            .prop_map(move |v| v.into_iter().map(|e| e * s).collect())
    })
}

fn all_specs() -> Vec<&'static str> {
    entries()
        .iter()
        .flat_map(|e| e.examples.iter().copied())
        .collect()
}

fn run_all<S: Scalar>(x: &[f64], seed: u64, workers: usize) -> Result<(), String> {
    let x: Vec<S> = x.iter().map(|&v| S::from_f64(v)).collect();
    for spec in all_specs() {
        let c = parse::<S>(spec).map_err(|e| format!("{spec}: {e}"))?;
        let ctx = CtxSpec {
            worker: (seed as usize) % workers,
            n_workers: workers,
            round_seed: seed.rotate_left(17),
        };
        check(c.as_ref(), &x, seed, ctx, SAMPLES).map_err(|e| format!("[{}] {e}", S::NAME))?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: squeeze_core::proptest_cases(256),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_registered_compressor_f32(x in input(), seed in any::<u64>(), workers in 1usize..4) {
        if let Err(e) = run_all::<f32>(&x, seed, workers) {
            prop_assert!(false, "{}", e);
        }
    }

    #[test]
    fn every_registered_compressor_f64(x in input(), seed in any::<u64>(), workers in 1usize..4) {
        if let Err(e) = run_all::<f64>(&x, seed, workers) {
            prop_assert!(false, "{}", e);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        // A quarter of the f32/f64 cases (32 under CI's 128): the 16-bit runs add coverage of
        // the narrow arithmetic, not of new code paths.
        cases: (squeeze_core::proptest_cases(256) / 4).max(1),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_registered_compressor_f16(x in input_f16(), seed in any::<u64>(), workers in 1usize..4) {
        if let Err(e) = run_all::<squeeze_core::f16>(&x, seed, workers) {
            prop_assert!(false, "{}", e);
        }
    }

    #[test]
    fn every_registered_compressor_bf16(x in input(), seed in any::<u64>(), workers in 1usize..4) {
        if let Err(e) = run_all::<squeeze_core::bf16>(&x, seed, workers) {
            prop_assert!(false, "{}", e);
        }
    }
}

#[test]
fn every_entry_has_examples_that_parse_and_round_trip_their_spec() {
    for e in entries() {
        assert!(!e.examples.is_empty(), "{} has no examples", e.name);
        for spec in e.examples {
            let c = parse::<f32>(spec).unwrap_or_else(|err| panic!("{spec}: {err}"));
            let again = parse::<f32>(&c.spec()).unwrap();
            assert_eq!(
                again.spec(),
                c.spec(),
                "spec() of {spec} does not re-parse to itself"
            );
        }
    }
}

#[test]
fn registry_errors_are_actionable() {
    assert_refused("identity:k=3", "unknown parameter");
    assert_refused("nope", "known compressors: identity");
    assert_refused("identity | identity", "must be a sparsifier");
    assert!(parse::<f32>("scaled(identity").is_err());
    assert!(parse::<f32>("").is_err());
}

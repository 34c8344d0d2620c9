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
use squeeze_compress::conformance::{CtxSpec, check, check_matrix};
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

/// Every example spec with its entry's `matrix` flag.
fn all_specs() -> Vec<(&'static str, bool)> {
    entries()
        .iter()
        .flat_map(|e| e.examples.iter().map(|s| (*s, e.matrix)))
        .collect()
}

/// Packed symmetric matrices (side 1 to 12): entries as [`input`]'s, or low rank
/// (Σ ±u uᵀ of 1–2 terms), diagonal, or all equal — the cases where the matrix compressors'
/// bounds are tight or their selection ties.
fn matrix_input() -> impl Strategy<Value = Vec<f64>> {
    let side = prop_oneof![Just(1usize), 2usize..=5, 6usize..=12];
    let scale = prop_oneof![Just(1.0), Just(1e-30), Just(1e30), Just(1e-3), Just(1e3)];
    (side, scale, 0u8..4, any::<u64>()).prop_map(|(d, s, kind, seed)| {
        let mut rng = squeeze_core::SqueezeRng::from_seed_u64(seed);
        let len = d * (d + 1) / 2;
        let mut h: Vec<f64> = match kind {
            0 => (0..len)
                .map(|_| (rng.below(9) as f64 - 4.0) * 0.5)
                .collect(),
            1 => {
                let mut h = vec![0.0; len];
                for t in 0..1 + rng.below(2) {
                    let u: Vec<f64> = (0..d).map(|_| rng.normal()).collect();
                    let sign = if t == 0 { 1.0 } else { -1.0 };
                    let mut k = 0;
                    for a in 0..d {
                        for b in a..d {
                            h[k] += sign * u[a] * u[b];
                            k += 1;
                        }
                    }
                }
                h
            }
            2 => {
                let mut h = vec![0.0; len];
                for r in 0..d {
                    h[squeeze_core::sym::row_start(d, r)] = rng.normal();
                }
                h
            }
            _ => vec![1.0; len],
        };
        h.iter_mut().for_each(|v| *v *= s);
        h
    })
}

/// `cases` cases; failures are kept next to this file (`regressions`).
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    }
}

fn run_all<S: Scalar>(x: &[f64], seed: u64, workers: usize) -> Result<(), String> {
    run_specs::<S>(x, seed, workers, |_| true)
}

/// The matrix entries only (on matrix inputs).
fn run_matrix<S: Scalar>(x: &[f64], seed: u64, workers: usize) -> Result<(), String> {
    run_specs::<S>(x, seed, workers, |matrix| matrix)
}

fn run_specs<S: Scalar>(
    x: &[f64],
    seed: u64,
    workers: usize,
    pick: impl Fn(bool) -> bool,
) -> Result<(), String> {
    let x: Vec<S> = x.iter().map(|&v| S::from_f64(v)).collect();
    for (spec, matrix) in all_specs() {
        if !pick(matrix) {
            continue;
        }
        let c = parse::<S>(spec).map_err(|e| format!("{spec}: {e}"))?;
        let ctx = CtxSpec {
            worker: (seed as usize) % workers,
            n_workers: workers,
            round_seed: seed.rotate_left(17),
        };
        let checked = if matrix {
            check_matrix(c.as_ref(), &x, seed, ctx, SAMPLES)
        } else {
            check(c.as_ref(), &x, seed, ctx, SAMPLES)
        };
        checked.map_err(|e| format!("[{}] {e}", S::NAME))?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(squeeze_core::proptest_cases(256)))]

    #[test]
    fn every_registered_compressor_f32(x in input(), seed in any::<u64>(), workers in 1usize..4) {
        run_all::<f32>(&x, seed, workers).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn every_registered_compressor_f64(x in input(), seed in any::<u64>(), workers in 1usize..4) {
        run_all::<f64>(&x, seed, workers).map_err(TestCaseError::fail)?;
    }
}

proptest! {
    // The matrix compressors on packed symmetric matrices (the generic inputs above reach
    // them too: non-triangular lengths must be refused, triangular ones are checked).
    #![proptest_config(config((squeeze_core::proptest_cases(256) / 2).max(1)))]

    #[test]
    fn matrix_compressors_f32(x in matrix_input(), seed in any::<u64>(), workers in 1usize..3) {
        run_matrix::<f32>(&x, seed, workers).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn matrix_compressors_f64(x in matrix_input(), seed in any::<u64>(), workers in 1usize..3) {
        run_matrix::<f64>(&x, seed, workers).map_err(TestCaseError::fail)?;
    }
}

proptest! {
    // A quarter of the f32/f64 cases (32 under CI's 128): the 16-bit runs add coverage of
    // the narrow arithmetic, not of new code paths.
    #![proptest_config(config((squeeze_core::proptest_cases(256) / 4).max(1)))]

    #[test]
    fn every_registered_compressor_f16(x in input_f16(), seed in any::<u64>(), workers in 1usize..4) {
        run_all::<squeeze_core::f16>(&x, seed, workers).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn every_registered_compressor_bf16(x in input(), seed in any::<u64>(), workers in 1usize..4) {
        run_all::<squeeze_core::bf16>(&x, seed, workers).map_err(TestCaseError::fail)?;
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

/// Every matrix entry refuses a non-triangular length with a hint, in `check_dim` and in
/// `compress_into`; ranks above d and counts above D are refused too.
#[test]
fn matrix_entries_refuse_bad_shapes() {
    use squeeze_compress::conformance::compress_once;
    use squeeze_core::CompressError;
    let matrix: Vec<_> = entries().iter().filter(|e| e.matrix).collect();
    assert_eq!(matrix.len(), 5);
    for e in matrix {
        for spec in e.examples {
            let c = parse::<f32>(spec).unwrap();
            for len in [2usize, 5, 7, 44] {
                let err = c.check_dim(len).unwrap_err();
                assert!(
                    matches!(err, CompressError::Incompatible { .. })
                        && err.to_string().contains("d(d+1)/2"),
                    "{spec} at {len}: {err}"
                );
                let err = compress_once(c.as_ref(), &vec![1.0f32; len], 0).unwrap_err();
                assert!(err.to_string().contains("d(d+1)/2"), "{spec}: {err}");
            }
            assert!(c.check_dim(45).is_ok() || spec.contains("r=5") || spec.contains("k=3"));
        }
    }
    for (spec, len, needle) in [
        ("rank_r:r=3", 3, "at most 2"),
        ("power_sym:r=4", 6, "at most 3"),
        ("sym_top_k:k=4", 3, "k must be ≤ d = 3"),
        ("sym_rand_k:k=7", 6, "k must be ≤ d = 6"),
    ] {
        let err = parse::<f32>(spec).unwrap().check_dim(len).unwrap_err();
        assert!(err.to_string().contains(needle), "{spec}: {err}");
    }
    assert_refused("rank_r:r=0", "r must be ≥ 1");
    assert_refused("sym_threshold:lambda=0", "(0, 1]");
}

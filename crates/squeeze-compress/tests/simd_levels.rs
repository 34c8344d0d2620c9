//! Messages do not depend on the instruction set (`squeeze_core::simd`).
//!
//! Every example spec of every registry entry compresses the same inputs with the dispatched
//! kernels capped at each level this CPU has (baseline, AVX2, AVX-512): the messages, their
//! wire bytes, the decoded messages and the errors must be the same at every level. On a CPU
//! with AVX-512 (this project's machines) this is the test that keeps the AVX2 copies honest,
//! since the kernels' own tests compare the best copy with the baseline one.

use squeeze_compress::registry::{entries, parse};
use squeeze_core::simd::{self, Level};
use squeeze_core::{CompressCtx, CompressError, Message, Scalar, Scratch, SqueezeRng};

/// Inputs of length `d`: magnitudes over many binades with zeros, ties, signed zeros,
/// subnormals and huge values; with `bad`, a NaN and an infinity late in the vector.
fn input<S: Scalar>(d: usize, seed: u64, bad: bool) -> Vec<S> {
    let mut r = SqueezeRng::from_seed_u64(seed);
    let mut x: Vec<S> = (0..d)
        .map(|j| match j % 13 {
            0 => S::ZERO,
            1 => S::from_f64(-0.0),
            2 => S::from_f64(0.75),
            3 => S::from_f64(-0.75),
            4 => S::from_f64(1e-40),
            5 => S::from_f64(3e37),
            _ => {
                let m = (r.next_f64() * 40.0 - 20.0).exp2();
                S::from_f64(if r.next_u64() & 1 == 0 { m } else { -m })
            }
        })
        .collect();
    if bad && d > 4 {
        x[d - 3] = S::from_f64(f64::NAN);
        x[d - 2] = S::from_f64(f64::INFINITY);
    }
    x
}

/// What one level produced: the message with its bytes and decoded copy, or the error text.
type Outcome<S> = Result<(Message<S>, Vec<u8>, Message<S>), String>;

fn run<S: Scalar>(spec: &str, x: &[S], level: Level) -> Outcome<S> {
    let c = parse::<S>(spec).expect("registered spec");
    simd::at_most(level, || {
        let (mut rng, mut scratch) = (SqueezeRng::from_seed_u64(11), Scratch::default());
        let mut ctx = CompressCtx::new(&mut rng, &mut scratch)
            .with_worker(2, 5)
            .with_round_seed(3);
        let m = c
            .compress(x, &mut ctx)
            .map_err(|e: CompressError| format!("{e:?}"))?;
        let bytes = m.to_bytes();
        let back = Message::<S>::decode(&bytes, x.len()).map_err(|e| format!("decode: {e:?}"))?;
        Ok((m, bytes, back))
    })
}

fn same_at_every_level<S: Scalar>() {
    let levels: Vec<Level> = Level::ALL
        .into_iter()
        .filter(|&l| l <= simd::cpu_level())
        .collect();
    let specs: Vec<&str> = entries()
        .iter()
        .filter(|e| !e.matrix)
        .flat_map(|e| e.examples.iter().copied())
        .collect();
    assert!(specs.len() > 30, "{} specs", specs.len());
    let mut compared = 0;
    for d in [1, 7, 64, 1000, 4099, 70_001] {
        for bad in [false, true] {
            let x = input::<S>(d, d as u64, bad);
            for &spec in &specs {
                let base = run(spec, &x, Level::Baseline);
                for &level in &levels[1..] {
                    let got = run(spec, &x, level);
                    assert!(
                        got == base,
                        "{spec}, d = {d}, bad = {bad}: {level:?} differs"
                    );
                    compared += 1;
                }
            }
        }
    }
    // On a CPU without AVX2 there is nothing to compare; say so rather than pass silently.
    if levels.len() > 1 {
        assert!(compared >= specs.len() * 12);
    } else {
        eprintln!("simd_levels: this CPU has only the baseline level; nothing compared");
    }
}

#[test]
fn f32_messages_do_not_depend_on_the_instruction_set() {
    same_at_every_level::<f32>();
}

#[test]
fn f64_messages_do_not_depend_on_the_instruction_set() {
    same_at_every_level::<f64>();
}

#[test]
fn half_precision_messages_do_not_depend_on_the_instruction_set() {
    same_at_every_level::<squeeze_core::f16>();
}

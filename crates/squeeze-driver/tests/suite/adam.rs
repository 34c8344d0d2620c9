//! Adam and 1-bit Adam (`squeeze_methods::star::adam`): `adam` is Adam step for step;
//! 1-bit Adam with the identity compressor is Adam with v frozen after the warm-up; a warm-up
//! as long as the run is `adam`; all copies of (x, m, v) agree; resume inside the compression
//! stage is exact (the error buffers e_i, e_s are state, not reset); bad parameters and NaN
//! gradients are typed errors.

use std::sync::Arc;

use crate::common::*;
use squeeze_compress::parse;
use squeeze_driver::{Engine, EngineError, StarEngine};
use squeeze_methods::{Adam, AdamBetas, GradSource, MethodError, Stepsize};
use squeeze_problems::problem::Problem;

const LR: f64 = 0.01;

fn lr() -> Stepsize {
    Stepsize::Constant { gamma: LR }
}

fn adam() -> Adam<f64> {
    Adam::new(lr(), AdamBetas::default(), GradSource::Full).unwrap()
}

fn onebit(spec: &str, warmup: u64) -> Adam<f64> {
    Adam::onebit(
        parse(spec).unwrap(),
        warmup,
        lr(),
        AdamBetas::default(),
        GradSource::Full,
    )
    .unwrap()
}

/// The models $x^0, …, x^{rounds}$ of Adam on the mean gradient (accumulated in worker order
/// as the server does), with v frozen after `freeze` steps: a plain loop over the oracles.
fn reference(problem: &Problem<f64>, x0: &[f64], rounds: usize, freeze: usize) -> Vec<Vec<f64>> {
    let b = AdamBetas::default();
    let (d, n) = (x0.len(), problem.n_workers());
    let (mut x, mut m, mut v) = (x0.to_vec(), vec![0.0; d], vec![0.0; d]);
    let (mut g, mut gi) = (vec![0.0; d], vec![0.0; d]);
    let mut xs = vec![x.clone()];
    for step in 0..rounds {
        g.fill(0.0);
        for o in problem.oracles() {
            o.grad(&x, &mut gi);
            for (gj, &gij) in g.iter_mut().zip(&gi) {
                *gj += (1.0 / n as f64) * gij;
            }
        }
        for j in 0..d {
            m[j] = b.beta1 * m[j] + (1.0 - b.beta1) * g[j];
            if step < freeze {
                v[j] = b.beta2 * v[j] + (1.0 - b.beta2) * (g[j] * g[j]);
            }
            x[j] -= LR * m[j] / (v[j].sqrt() + b.eps);
        }
        xs.push(x.clone());
    }
    xs
}

/// The engine's model after rounds 0, 1, …, `rounds` − 1 (x^t after round t).
fn models(mut e: StarEngine<f64, Adam<f64>>, rounds: usize) -> Vec<Vec<f64>> {
    (0..rounds)
        .map(|_| {
            e.round().unwrap();
            e.iterate().to_vec()
        })
        .collect()
}

fn engine(m: Adam<f64>, n: usize) -> StarEngine<f64, Adam<f64>> {
    let (p, x0) = embedded_logreg::<f64>(n, 5);
    StarEngine::new(m, p, &x0, 3, 1).unwrap()
}

#[test]
fn adam_is_adam_step_for_step() {
    let (p, x0) = embedded_logreg::<f64>(4, 5);
    let want = reference(&p, &x0, 30, usize::MAX);
    let got = models(engine(adam(), 4), 31);
    assert_eq!(got, want, "adam differs from the reference loop");
    assert_ne!(got[30], got[0], "the model moved");
}

/// With C = identity the errors stay 0 and the broadcast momentum is the mean of
/// β1 m + (1 − β1)∇f_i: with one worker that is Adam with v frozen bit for bit; with four the
/// mean of the momenta rounds differently from the momentum of the mean (relative 1e-12).
#[test]
fn identity_onebit_adam_is_adam_with_v_frozen() {
    let (k, rounds) = (5, 40);
    for n in [1, 4] {
        let (p, x0) = embedded_logreg::<f64>(n, 5);
        let want = reference(&p, &x0, rounds, k);
        let e = engine(onebit("identity", k as u64), n);
        let got = models(e, rounds + 1);
        // Still moving after the warm-up, and not plain Adam any more.
        assert_ne!(got[rounds], got[k + 2]);
        assert_ne!(want[rounds], reference(&p, &x0, rounds, usize::MAX)[rounds]);
        for (t, (a, b)) in got.iter().zip(&want).enumerate() {
            if n == 1 {
                assert_eq!(a, b, "n = 1, round {t}");
            } else {
                for (aj, bj) in a.iter().zip(b) {
                    assert!((aj - bj).abs() <= 1e-12 * bj.abs().max(1.0), "round {t}");
                }
            }
        }
    }
}

#[test]
fn a_warmup_as_long_as_the_run_is_adam() {
    let a = models(engine(adam(), 4), 25);
    let b = models(engine(onebit("scaled_sign", 25), 4), 25);
    assert_eq!(a, b);
    // Same records too (bits included), through the configuration path.
    let text = |m: &str| {
        format!(
            "seed = 1\n[problem]\nn_workers = 4\n[method]\nname = \"{m}\"\n\
             stepsize = {{ rule = \"constant\", gamma = 0.01 }}\n{}[stop]\nmax_rounds = 20\n",
            if m == "adam" {
                ""
            } else {
                "warmup_rounds = 20\n"
            }
        )
    };
    let (_, ra) = run(&cfg(&text("adam")), None);
    let (_, rb) = run(&cfg(&text("onebit_adam")), None);
    assert_same_records(&ra, &rb, "adam vs onebit_adam(warmup 20)");
}

/// Bits: the dense warm-up both ways (round 0 broadcasts nothing), then scaled_sign's
/// d sign bits + one scale + 4 tag bits both ways; every worker's copy of (x, m, v) equals the
/// server's after every round.
#[test]
fn copies_agree_and_bits_are_exact() {
    let (n, k) = (4, 6);
    let mut e = engine(onebit("scaled_sign", k), n);
    let d = e.dim() as u64;
    let (mut up, mut down) = (0, 0);
    for t in 0..20u64 {
        e.round().unwrap();
        for w in e.workers() {
            assert_eq!(w.state, e.server().state, "round {t}");
        }
        // f64: 64-bit values and a 64-bit scale.
        let (dense, sign) = (64 * d + 4, d + 64 + 4);
        up += if t < k { dense } else { sign };
        down += match t {
            0 => 0,
            t if t <= k => dense,
            _ => sign,
        };
        let tot = e.totals();
        assert_eq!(tot.bits_up.iter().sum::<u64>(), n as u64 * up, "round {t}");
        assert_eq!(tot.bits_down_per_worker, down, "round {t}");
    }
    assert_eq!(e.server().state.adam_steps, k);
    assert!(e.server().e.iter().any(|&x| x != 0.0), "server error used");
}

/// A run interrupted in the compression stage and resumed equals the uninterrupted run bit
/// for bit: worker and server errors, the frozen v and the compression streams are state
/// (DeepSpeed drops the error buffers on reload). A random compressor exercises the streams.
#[test]
fn resume_in_the_compression_stage_is_exact() {
    for (comp, precision) in [("rand_k:k=3,scaled=false", "f64"), ("scaled_sign", "f32")] {
        let text = format!(
            "seed = 7\nprecision = \"{precision}\"\n[problem]\nn_workers = 5\n[method]\n\
             name = \"onebit_adam\"\ncompressor = \"{comp}\"\nwarmup_rounds = 4\n\
             stepsize = {{ rule = \"constant\", gamma = 0.002 }}\n\
             gradient = {{ kind = \"minibatch\", batch = 16 }}\n\
             [stop]\nmax_rounds = 24\n[run]\ncheckpoint_every = 6\nlog_every = 1\n"
        );
        let dir = format!("adam-resume-{precision}");
        assert_resume_reproduces(&format!("onebit_adam {comp}"), &text, 24, 6, &dir);
    }
}

#[test]
fn bad_parameters_are_refused_with_hints() {
    let base = |m: &str, extra: &str| {
        format!(
            "seed = 1\n[problem]\nn_workers = 2\n[method]\nname = \"{m}\"\n{extra}\n[stop]\nmax_rounds = 2\n"
        )
    };
    let lr = "stepsize = { rule = \"constant\", gamma = 0.01 }\n";
    let cases = [
        ("adam", format!("{lr}beta1 = 1.0"), "method.beta1", "[0, 1)"),
        (
            "adam",
            format!("{lr}beta2 = -0.1"),
            "method.beta2",
            "[0, 1)",
        ),
        ("adam", format!("{lr}eps = 0.0"), "method.eps", "> 0"),
        (
            "onebit_adam",
            format!("{lr}warmup_rounds = 5\neps = -1e-8"),
            "method.eps",
            "> 0",
        ),
        (
            "onebit_adam",
            lr.to_string(),
            "method.warmup_rounds",
            "warmup_rounds = 100",
        ),
        ("adam", String::new(), "method.stepsize", "gamma = 0.001"),
        (
            "adam",
            format!("{lr}compressor = \"scaled_sign\""),
            "method.compressor",
            "onebit_adam",
        ),
    ];
    for (m, extra, key, hint) in cases {
        let msg = refusal(&base(m, &extra));
        assert!(
            msg.contains(key) && msg.contains(hint),
            "{m} {extra}: {msg}"
        );
    }
}

#[test]
fn nan_gradients_are_a_typed_error() {
    for m in [adam(), onebit("scaled_sign", 1)] {
        let (p, mut x0): (Arc<Problem<f64>>, Vec<f64>) = embedded_logreg(3, 5);
        x0[2] = f64::NAN;
        let mut e = StarEngine::new(m, p, &x0, 3, 1).unwrap();
        match e.round() {
            Err(EngineError::Method(MethodError::Diverged { what, round: 0 })) => {
                assert_eq!(what, "a local gradient");
            }
            other => panic!("expected Diverged at round 0, got {other:?}"),
        }
    }
}

use squeeze_problems::{InitPoint, Problem, embedded};

use super::*;
use crate::WorkerBuffers;

fn problem() -> (Problem<f64>, Vec<f64>) {
    let p = Problem::logreg_ef21(&embedded::default_dataset::<f64>(), 2).unwrap();
    let x0 = p
        .initial_point(&InitPoint::Gaussian { seed: 4, std: 1.0 })
        .unwrap();
    (p, x0)
}

fn opts(sparsity: f64, momentum: f64) -> DgcOptions {
    DgcOptions {
        sparsity,
        momentum,
        sampling: Sampling {
            fraction: 0.1,
            min_samples: 8,
            cap: 1.3,
        },
        ..DgcOptions::default()
    }
}

/// Worker 0's rounds at fixed x⁰: the message is v = v_prev + (m·u_prev + g) on the sent
/// coordinates, and exactly those coordinates of u and v become 0; the others keep the
/// updated values.
#[test]
fn momentum_masking_zeroes_exactly_the_sent_coordinates() {
    let (p, x0) = problem();
    let d = p.dim();
    let m = 0.9;
    let dgc = Dgc::new(opts(0.8, m), Stepsize::default(), GradSource::Full).unwrap();
    let mut init = <Dgc as ServerMethod<f64>>::init(&dgc, &p, &x0, 7).unwrap();
    let oracle = p.oracles()[0].as_ref();
    let mut g = vec![0.0; d];
    oracle.grad(&x0, &mut g);
    let down = Message::Dense { values: x0.clone() };
    let mut buffers = WorkerBuffers::new(d);
    let mut up = Message::default();
    let w = &mut init.workers[0];
    let mut unsent_seen = 0;
    for round in 0..12 {
        let u_want: Vec<f64> = w.u.iter().zip(&g).map(|(u, g)| m * u + g).collect();
        let v_want: Vec<f64> = w.v.iter().zip(&u_want).map(|(v, u)| v + u).collect();
        let mut ctx = WorkerCtx {
            worker: 0,
            n_workers: 2,
            round,
            round_seed: 0,
            phase: 0,
            oracle,
            buffers: &mut buffers,
            grad_samples: 0,
            down: &down,
            up: &mut up,
        };
        dgc.worker_round(w, &mut ctx).unwrap();
        let Message::Sparse {
            indices, values, ..
        } = &up
        else {
            panic!("round {round}: not sparse: {up:?}");
        };
        let k = target(0.8, d);
        assert!(indices.len() >= k && indices.len() as f64 <= 1.3 * k as f64);
        for j in 0..d {
            match indices.binary_search(&(j as u32)) {
                Ok(pos) => {
                    assert_eq!(values[pos], v_want[j], "round {round}, sent {j}");
                    assert_eq!((w.u[j], w.v[j]), (0.0, 0.0), "round {round}, sent {j}");
                }
                Err(_) => {
                    assert_eq!(w.u[j], u_want[j], "round {round}, kept u {j}");
                    assert_eq!(w.v[j], v_want[j], "round {round}, kept v {j}");
                    unsent_seen += usize::from(v_want[j] != 0.0);
                }
            }
        }
    }
    assert!(unsent_seen > 0);
}

#[test]
fn warm_up_stages_then_the_final_sparsity() {
    let o = DgcOptions {
        warmup_stage_rounds: 10,
        ..DgcOptions::default()
    };
    let at: Vec<f64> = [0, 9, 10, 25, 39, 40, 1000]
        .iter()
        .map(|&t| o.sparsity_at(t))
        .collect();
    assert_eq!(at, [0.75, 0.75, 0.9375, 0.984375, 0.996, 0.999, 0.999]);
    assert_eq!(DgcOptions::default().sparsity_at(0), 0.999);
    // The theory α is the sparsest stage's.
    assert_eq!(o.alpha(1000), 1.0 / 1000.0);
    let dense = DgcOptions {
        sparsity: 0.0,
        ..DgcOptions::default()
    };
    assert_eq!(dense.alpha(30), 1.0);
}

#[test]
fn theory_stepsize_is_scaled_by_one_minus_the_momentum() {
    let (p, x0) = problem();
    let gamma = |m: f64| {
        let dgc = Dgc::new(opts(0.0, m), Stepsize::default(), GradSource::Full).unwrap();
        let init = <Dgc as ServerMethod<f64>>::init(&dgc, &p, &x0, 0).unwrap();
        assert_eq!(init.server.model.gamma, init.stepsize.unwrap().gamma);
        init.server.model.gamma
    };
    let l = p.smoothness().l;
    assert_eq!(gamma(0.0), 1.0 / l);
    assert!((gamma(0.75) - 0.25 / l).abs() < 1e-15 / l);
}

#[test]
fn bad_parameters_are_refused_with_a_hint() {
    let new = |o: DgcOptions| Dgc::new(o, Stepsize::default(), GradSource::Full).unwrap_err();
    let cases = [
        (opts(1.0, 0.9), "sparsity", "[0, 1)"),
        (opts(-0.1, 0.9), "sparsity", "[0, 1)"),
        (opts(f64::NAN, 0.9), "sparsity", "[0, 1)"),
        (opts(0.9, -0.5), "momentum", "[0, 1)"),
        (opts(0.9, 1.0), "momentum", "[0, 1)"),
        (
            DgcOptions {
                warmup_sparsities: vec![0.5, 1.5],
                ..opts(0.9, 0.9)
            },
            "warmup_sparsities",
            "[0, 1)",
        ),
        (
            DgcOptions {
                clip_norm: Some(0.0),
                ..opts(0.9, 0.9)
            },
            "clip_norm",
            "remove clip_norm",
        ),
        (
            DgcOptions {
                sampling: Sampling {
                    fraction: 0.0,
                    min_samples: 8,
                    cap: 1.3,
                },
                ..opts(0.9, 0.9)
            },
            "sample_fraction",
            "(0, 1]",
        ),
        (
            DgcOptions {
                sampling: Sampling {
                    fraction: 0.01,
                    min_samples: 0,
                    cap: 1.3,
                },
                ..opts(0.9, 0.9)
            },
            "min_samples",
            "at least one",
        ),
        (
            DgcOptions {
                sampling: Sampling {
                    fraction: 0.01,
                    min_samples: 8,
                    cap: 0.9,
                },
                ..opts(0.9, 0.9)
            },
            "hierarchical_cap",
            "≥ 1",
        ),
    ];
    for (o, param, hint) in cases {
        match new(o) {
            MethodError::Param(e) => {
                assert_eq!(e.param, param);
                assert!(e.hint.contains(hint), "{param}: {}", e.hint);
            }
            other => panic!("{param}: {other}"),
        }
    }
}

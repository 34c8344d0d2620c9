//! Gossip engine and methods: MoTEF = BEER at λ = 1 (bit for bit), CHOCO with the identity =
//! adapt-then-combine D-SGD, the tracking invariant, determinism across thread counts,
//! checkpoint–resume, and the X5(d) linear speed-up of MoTEF.

use std::sync::Arc;

use crate::common::run_rounds;
use squeeze_compress::parse;
use squeeze_driver::GossipEngine;
use squeeze_driver::engine::Engine;
use squeeze_driver::executor::{CheckpointPolicy, Collect, Executor, StopRules};
use squeeze_methods::{
    Beer, Choco, Dsgd, GossipMethod, GradSource, Motef, MotefParams, Neighbourhood,
};
use squeeze_problems::{InitPoint, Problem, quadratic};

/// Ring mixing with 1/3 weights (n ≥ 3) or the n = 2 edge with 1/2.
fn ring(n: usize) -> Vec<Neighbourhood> {
    (0..n)
        .map(|i| {
            if n == 2 {
                Neighbourhood {
                    self_weight: 0.5,
                    neighbours: vec![(1 - i, 0.5)],
                }
            } else {
                let mut nb = vec![((i + n - 1) % n, 1.0 / 3.0), ((i + 1) % n, 1.0 / 3.0)];
                nb.sort_by_key(|p| p.0);
                Neighbourhood {
                    self_weight: 1.0 / 3.0,
                    neighbours: nb,
                }
            }
        })
        .collect()
}

fn complete(n: usize) -> Vec<Neighbourhood> {
    (0..n)
        .map(|i| Neighbourhood {
            self_weight: 1.0 / n as f64,
            neighbours: (0..n)
                .filter(|&j| j != i)
                .map(|j| (j, 1.0 / n as f64))
                .collect(),
        })
        .collect()
}

fn motef_problem(n: usize, sigma: f64) -> (Arc<Problem<f64>>, Vec<f64>, Vec<f64>) {
    let m = quadratic::motef::<f64>(20, n, 10.0, sigma, 7).unwrap();
    let x0 = m.problem.initial_point(&InitPoint::ProblemDefault).unwrap();
    (Arc::new(m.problem), x0, m.x_star)
}

fn engine<M: GossipMethod<f64> + 'static>(
    method: M,
    problem: &Arc<Problem<f64>>,
    mixing: Vec<Neighbourhood>,
    x0: &[f64],
    threads: usize,
) -> GossipEngine<f64, M> {
    GossipEngine::new(
        method,
        Arc::clone(problem),
        mixing,
        "test graph",
        x0,
        3,
        threads,
    )
    .unwrap()
}

/// MoTEF's stepsizes γ (consensus), η (gradient) and momentum λ.
fn motef_params(gamma: f64, eta: f64, lambda: f64) -> MotefParams {
    MotefParams { gamma, eta, lambda }
}

#[test]
fn motef_with_lambda_one_is_beer_bit_for_bit() {
    let (p, x0, _) = motef_problem(8, 1.0);
    let params = motef_params(0.3, 0.01, 1.0);
    let noisy = GradSource::Noisy { sigma: 1.0 };
    let motef = Motef::new(parse("top_k:k=2").unwrap(), params, noisy).unwrap();
    let beer = Beer::new(parse("top_k:k=2").unwrap(), 0.3, 0.01, noisy).unwrap();
    let mut a = engine(motef, &p, ring(8), &x0, 1);
    let mut b = engine(beer, &p, ring(8), &x0, 1);
    for _ in 0..300 {
        a.round().unwrap();
        b.round().unwrap();
    }
    for i in 0..8 {
        let (x, y) = (&a.nodes()[i], &b.nodes()[i]);
        assert_eq!(
            x.x.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            y.x.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            "node {i} x"
        );
        assert_eq!(x.v, y.v, "node {i} v");
        assert_eq!(x.h, y.h);
        assert_eq!(x.g, y.g);
    }
    assert_eq!(a.totals(), b.totals());
    assert_eq!(a.evaluate().unwrap(), b.evaluate().unwrap());
}

#[test]
fn motef_tracker_average_equals_momentum_average() {
    // (W − I) has zero column sums, so avg(v) − avg(m) is invariant (= 0 at init).
    let (p, x0, _) = motef_problem(8, 1.0);
    let params = motef_params(0.2, 0.01, 0.1);
    let mut e = engine(
        Motef::new(
            parse("top_k:k=3").unwrap(),
            params,
            GradSource::Noisy { sigma: 1.0 },
        )
        .unwrap(),
        &p,
        ring(8),
        &x0,
        2,
    );
    for _ in 0..200 {
        e.round().unwrap();
        for j in 0..20 {
            let v: f64 = e.nodes().iter().map(|n| n.v[j]).sum::<f64>() / 8.0;
            let m: f64 = e.nodes().iter().map(|n| n.m[j]).sum::<f64>() / 8.0;
            assert!(
                (v - m).abs() <= 1e-11 * (1.0 + m.abs()),
                "coordinate {j}: {v} vs {m}"
            );
        }
    }
}

#[test]
fn choco_with_identity_and_unit_gamma_is_adapt_then_combine_dsgd() {
    let (p, x0, _) = motef_problem(6, 0.0);
    for mixing in [ring(6), complete(6)] {
        let mut c = engine(
            Choco::new(parse("identity").unwrap(), 1.0, 0.05, GradSource::Full).unwrap(),
            &p,
            mixing.clone(),
            &x0,
            1,
        );
        let mut d = engine(
            Dsgd::new(0.05, GradSource::Full, true).unwrap(),
            &p,
            mixing,
            &x0,
            1,
        );
        for _ in 0..100 {
            c.round().unwrap();
            d.round().unwrap();
        }
        for i in 0..6 {
            for (a, b) in c.nodes()[i].x.iter().zip(&d.nodes()[i].x) {
                assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()), "{a} vs {b}");
            }
        }
    }
}

#[test]
fn every_gossip_method_is_deterministic_across_thread_counts() {
    let (p, x0, _) = motef_problem(8, 1.0);
    let noisy = GradSource::Noisy { sigma: 1.0 };
    let run = |threads: usize, which: usize| -> Vec<squeeze_driver::RoundRecord> {
        // The engine of method `$m` on a ring of 8 with `threads` threads.
        macro_rules! on_ring {
            ($m:expr) => {
                Box::new(engine($m.unwrap(), &p, ring(8), &x0, threads))
            };
        }
        let motef = motef_params(0.1, 5e-3, 0.05);
        let mut e: Box<dyn Engine> = match which {
            0 => on_ring!(Motef::new(parse("top_k:k=2").unwrap(), motef, noisy)),
            1 => on_ring!(Beer::new(
                parse("rand_k:k=4,scaled=false").unwrap(),
                0.1,
                5e-3,
                noisy
            )),
            2 => on_ring!(Choco::new(parse("qsgd:s=4").unwrap(), 0.1, 5e-3, noisy)),
            _ => on_ring!(Dsgd::new(5e-3, noisy, false)),
        };
        run_rounds(e.as_mut(), 60)
    };
    for which in 0..4 {
        let base = run(1, which);
        assert!(base.last().unwrap().consensus_error.is_finite());
        for threads in [2, 4] {
            let other = run(threads, which);
            assert_eq!(base.len(), other.len());
            for (a, b) in base.iter().zip(&other) {
                assert!(
                    a.same_trajectory(b),
                    "method {which}, {threads} threads: {a:?} vs {b:?}"
                );
            }
        }
    }
}

#[test]
fn gossip_checkpoint_resume_reproduces_the_run() {
    let (p, x0, _) = motef_problem(4, 1.0);
    let build = || {
        engine(
            Motef::new(
                parse("top_k:k=2").unwrap(),
                motef_params(0.2, 0.01, 0.1),
                GradSource::Noisy { sigma: 1.0 },
            )
            .unwrap(),
            &p,
            ring(4),
            &x0,
            1,
        )
    };
    let stop = StopRules {
        max_rounds: Some(30),
        ..Default::default()
    };
    let mut full = Collect::default();
    let mut e = build();
    Executor::new(stop.clone())
        .run(&mut e, &mut [&mut full])
        .unwrap();

    let dir = std::env::temp_dir().join(format!("squeeze-gossip-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("checkpoint.json");
    let ex = Executor {
        stop: StopRules {
            max_rounds: Some(12),
            ..Default::default()
        },
        log_every: 1,
        checkpoint: Some(CheckpointPolicy {
            every: 12,
            path: path.clone(),
        }),
    };
    let mut first = Collect::default();
    ex.run(&mut build(), &mut [&mut first]).unwrap();
    let mut rest = Collect::default();
    let mut resumed = build();
    Executor::new(stop)
        .resume(&mut resumed, &path, &mut [&mut rest])
        .unwrap();
    let joined: Vec<_> = first.records.iter().chain(&rest.records).collect();
    assert_eq!(joined.len(), full.records.len());
    for (a, b) in joined.iter().zip(&full.records) {
        assert!(a.same_trajectory(b), "{a:?} vs {b:?}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// X5(d): d = 20, ring, Top-2, ζ = 10, σ = 10, γ = 0.1, η = 5·10⁻⁴, λ = 5·10⁻³, 10⁴ rounds;
/// the final (1/n)Σ‖x_i − x*‖² shrinks at least ∝ 1/n (linear speed-up).
///
/// The paper's script expects successive ratios ≈ 2. Here they are ≈ 3.3 (3.39, 3.23, 3.45;
/// ≈ 1/n^1.7): in this generator the curvature of f grows with n (Hessian
/// (n+1)(2n+1)/(6n)·I), and an SGD noise floor ∝ ησ²/(μn) then falls faster than 1/n. We assert
/// the speed-up that holds (each doubling at least 1.5×, 2 → 16 nodes at least 8×) and record the
/// numbers in docs/reproductions.md. The error is averaged over the last 1000 rounds.
#[test]
fn x5d_motef_final_error_shrinks_like_one_over_n() {
    let mut errs = Vec::new();
    for n in [2usize, 4, 8, 16] {
        let (p, x0, x_star) = motef_problem(n, 10.0);
        let mut e = engine(
            Motef::new(
                parse("top_k:k=2").unwrap(),
                motef_params(0.1, 5e-4, 5e-3),
                GradSource::Noisy { sigma: 10.0 },
            )
            .unwrap(),
            &p,
            ring(n),
            &x0,
            2,
        );
        let mut tail = Vec::new();
        for r in 0..10_000 {
            e.round().unwrap();
            if r >= 9_000 {
                let err: f64 = (0..n)
                    .map(|i| {
                        e.node_iterate(i)
                            .unwrap()
                            .iter()
                            .zip(&x_star)
                            .map(|(a, b)| (a - b) * (a - b))
                            .sum::<f64>()
                    })
                    .sum::<f64>()
                    / n as f64;
                tail.push(err);
            }
        }
        errs.push(tail.iter().sum::<f64>() / tail.len() as f64);
    }
    let ratios: Vec<f64> = errs.windows(2).map(|w| w[0] / w[1]).collect();
    eprintln!("X5(d) final errors {errs:?}, successive ratios {ratios:?}");
    for r in &ratios {
        assert!(
            *r >= 1.5,
            "doubling n improved the error only {r}× (errors {errs:?})"
        );
    }
    assert!(errs[0] / errs[3] >= 8.0, "2 → 16 nodes: {errs:?}");
}

/// On the complete graph (W = 11ᵀ/n) with full gradients, adapt-then-combine D-SGD keeps every
/// node at the average, x ← x − η·(1/n)Σ∇f_j(x): centralized GD (the star engine's `gd` with
/// γ = η). CHOCO-SGD with the identity and γ = 1 reduces to it (previous test), so both match
/// GD — to floating-point rounding (the averages are summed in different orders).
#[test]
fn on_the_complete_graph_dsgd_and_lossless_choco_are_gd() {
    use squeeze_driver::StarEngine;
    use squeeze_methods::{Gd, Stepsize};
    let (p, x0, _) = motef_problem(5, 0.0);
    let eta = 0.05;
    let mut gd = StarEngine::new(
        Gd::new(Stepsize::Constant { gamma: eta }).unwrap(),
        Arc::clone(&p),
        &x0,
        3,
        1,
    )
    .unwrap();
    let dsgd = Dsgd::new(eta, GradSource::Full, true).unwrap();
    let choco = Choco::new(parse("identity").unwrap(), 1.0, eta, GradSource::Full).unwrap();
    let mut dsgd = engine(dsgd, &p, complete(5), &x0, 1);
    let mut choco = engine(choco, &p, complete(5), &x0, 1);
    for round in 0..200 {
        gd.round().unwrap();
        dsgd.round().unwrap();
        choco.round().unwrap();
        let g = gd.iterate();
        for i in 0..5 {
            for (name, x) in [
                ("dsgd", dsgd.node_iterate(i).unwrap()),
                ("choco", choco.node_iterate(i).unwrap()),
            ] {
                for (a, b) in x.iter().zip(g) {
                    assert!(
                        (a - b).abs() <= 1e-12 * (1.0 + b.abs()),
                        "{name} node {i} round {round}: {a} vs {b}"
                    );
                }
            }
        }
        assert!(dsgd.evaluate().unwrap().consensus_error <= 1e-24);
    }
}

#[test]
fn gossip_configuration_errors_name_the_key_and_the_fix() {
    use squeeze_driver::ExperimentConfig;
    let build = |extra: &str, method: &str| {
        let text = format!(
            "seed = 1\n[problem]\nn_workers = 6\n{extra}\n[method]\n{method}\n[stop]\nmax_rounds = 3\n"
        );
        match ExperimentConfig::from_toml(&text) {
            Ok(cfg) => cfg
                .build_engine(std::path::Path::new("."))
                .err()
                .map(|e| e.to_string()),
            Err(e) => Some(e.to_string()),
        }
    };
    let motef =
        "name = \"motef\"\ncompressor = \"top_k:k=2\"\ngamma = 0.5\neta = 0.01\nlambda = 0.1";
    let ok = build("[topology]\nkind = \"ring\"", motef);
    assert_eq!(ok, None, "a complete gossip config builds");
    let e = build("", motef).unwrap();
    assert!(
        e.contains("topology") && e.contains("kind = \"ring\""),
        "{e}"
    );
    let e = build(
        "[topology]\nkind = \"ring\"",
        "name = \"ef21\"\ncompressor = \"top_k:k=1\"",
    )
    .unwrap();
    assert!(
        e.contains("topology") && e.contains("gossip methods"),
        "{e}"
    );
    // λ has a default (0.01, `motef::LAMBDA_DEFAULT`); γ and η stay required.
    let no_lambda = "name = \"motef\"\ncompressor = \"top_k:k=2\"\ngamma = 0.5\neta = 0.01";
    assert_eq!(build("[topology]\nkind = \"ring\"", no_lambda), None);
    let e = build(
        "[topology]\nkind = \"ring\"",
        "name = \"motef\"\ncompressor = \"top_k:k=2\"\ngamma = 0.5\nlambda = 0.01",
    )
    .unwrap();
    assert!(e.contains("method.eta"), "{e}");
    let e = build(
        "[topology]\nkind = \"ring\"",
        "name = \"beer\"\ncompressor = \"top_k:k=2\"\ngamma = 1.5\neta = 0.01",
    )
    .unwrap();
    assert!(e.contains("gamma") && e.contains("(0, 1]"), "{e}");
    let e = build("[topology]\nkind = \"torus\"\nrows = 4\ncols = 4", motef).unwrap();
    assert!(e.contains("topology"), "{e}");
    let e = build(
        "[topology]\nkind = \"ring\"",
        "name = \"dsgd\"\ncompressor = \"top_k:k=2\"\neta = 0.01",
    )
    .unwrap();
    assert!(e.contains("dsgd sends dense models"), "{e}");
}

/// With the identity compressor and γ = 1 the public copies equal the private states, and BEER
/// and MoTEF are uncompressed gradient tracking with momentum:
/// x⁺ = W x − η v (every round, since x⁰ is a consensus) and v⁺ = W v + m⁺ − m (from the second
/// round on; in the first, the copies g start at 0). Checked on the complete graph and a ring.
#[test]
fn lossless_beer_and_motef_are_uncompressed_gradient_tracking() {
    let (p, x0, _) = motef_problem(5, 0.0);
    let eta = 0.02;
    let mix = |rows: &[Neighbourhood], i: usize, f: &dyn Fn(usize) -> f64| -> f64 {
        rows[i].self_weight * f(i)
            + rows[i]
                .neighbours
                .iter()
                .map(|&(j, w)| w * f(j))
                .sum::<f64>()
    };
    for rows in [complete(5), ring(5)] {
        for lambda in [1.0, 0.3] {
            let mut e = engine(
                Motef::new(
                    parse("identity").unwrap(),
                    MotefParams {
                        gamma: 1.0,
                        eta,
                        lambda,
                    },
                    GradSource::Full,
                )
                .unwrap(),
                &p,
                rows.clone(),
                &x0,
                1,
            );
            for round in 0..60 {
                let before = e.nodes().to_vec();
                e.round().unwrap();
                let after = e.nodes();
                for i in 0..5 {
                    for j in 0..20 {
                        let x_gt = mix(&rows, i, &|k| before[k].x[j]) - eta * before[i].v[j];
                        let x = after[i].x[j];
                        assert!(
                            (x - x_gt).abs() <= 1e-12 * (1.0 + x_gt.abs()),
                            "λ={lambda} round {round} node {i}: x {x} vs {x_gt}"
                        );
                        assert!(
                            (after[i].h[j] - x).abs() <= 1e-12 * (1.0 + x.abs()),
                            "public copy h = x"
                        );
                        if round > 0 {
                            let v_gt =
                                mix(&rows, i, &|k| before[k].v[j]) + after[i].m[j] - before[i].m[j];
                            let v = after[i].v[j];
                            assert!(
                                (v - v_gt).abs() <= 1e-11 * (1.0 + v_gt.abs()),
                                "λ={lambda} round {round} node {i}: v {v} vs {v_gt}"
                            );
                        }
                    }
                }
            }
        }
    }
}

//! Round throughput of the star engine (issue #3 targets, `docs/benchmarks.md` § Rounds).
//!
//! ```text
//! cargo bench --bench rounds                      # everything (about a minute)
//! cargo bench --bench rounds -- a9a               # a filter
//! ```
//!
//! * `ef21_a9a_top1`: one EF21 round (broadcast, all 20 worker rounds, absorb; no metrics)
//!   with Top-1 on the a9a-shaped synthetic logistic regression (32,560 × 123, 14 non-zeros
//!   per row, nonconvex λ = 0.1, contiguous split, n = 20, f64), at 1 and 2 threads;
//! * `ef21_dense_top1pct`: one EF21 round with Top-1% (k = 10⁴) on the MoTEF quadratic
//!   f_i(x) = ½‖a_i x − b_i‖² with d = 10⁶, n = 16, f64 — its gradient a_i(a_i x − b_i) is one
//!   O(d) pass, so the round measures the engine, the EF21 vector work and Top-K at scale;
//! * `evaluate_a9a`: [`Engine::evaluate`] (f and ‖∇f‖² over all workers) on the first problem;
//! * `ef21_3pc_n100_d1e5` (and its phases): rounds at scale, CI-sized twin — EF21 + Top-1% on
//!   the 3PC quadratic (`kind = "quadratic3pc"`, f32) with n = 100, d = 10⁵;
//! * `ef21_3pc_n1000_d1e6` (and its phases, issue #15 item 4): the same at n = 1000,
//!   d = 10⁶ — 4 GB of EF21 state, so `#[ignore]`d: run it alone with
//!   `cargo bench --bench rounds -- --ignored n1000 --sample-count 3`.
//!
//! Each engine is warmed up for a few rounds before timing, so the numbers are steady-state
//! rounds (which allocate nothing; `tests/rounds_allocation_free.rs`).

use std::sync::Arc;

use divan::Bencher;
use squeeze::compress::parse;
use squeeze::core::Scalar;
use squeeze::driver::{Engine, StarEngine};
use squeeze::methods::{Ef21, GradInit, Stepsize};
use squeeze::problems::problem::{InitPoint, Problem};
use squeeze::problems::{embedded, quadratic};

fn main() {
    divan::main();
}

const THREADS: [usize; 2] = [1, 2];
const WARMUP: usize = 5;
const GAUSSIAN: InitPoint = InitPoint::Gaussian { seed: 0, std: 1.0 };

/// The a9a-shaped logistic-regression problem of bench (a).
fn a9a_problem() -> Arc<Problem<f64>> {
    let data = embedded::synthetic_binary::<f64>(32_560, 7);
    let p = Problem::logreg_ef21(&data, 20).expect("a9a-shaped problem");
    Arc::new(p)
}

fn ef21_engine<S: Scalar>(
    spec: &str,
    problem: Arc<Problem<S>>,
    init: &InitPoint,
    threads: usize,
) -> Box<dyn Engine> {
    let method = Ef21::new(
        parse::<S>(spec).expect("compressor"),
        Stepsize::Theory { multiplier: 1.0 },
        GradInit::Full,
        false,
    )
    .expect("ef21");
    let x0 = problem.initial_point(init).expect("x0");
    let mut e = StarEngine::new(method, problem, &x0, 1, threads).expect("engine");
    for _ in 0..WARMUP {
        e.round().expect("warm-up round");
    }
    Box::new(e)
}

#[divan::bench(args = THREADS, sample_count = 200)]
fn ef21_a9a_top1(bencher: Bencher<'_, '_>, threads: usize) {
    let mut e = ef21_engine("top_k:k=1", a9a_problem(), &GAUSSIAN, threads);
    bencher.bench_local(|| e.round().expect("round"));
}

#[divan::bench(args = THREADS, sample_count = 30, sample_size = 1)]
fn ef21_dense_top1pct(bencher: Bencher<'_, '_>, threads: usize) {
    let m = quadratic::motef::<f64>(1_000_000, 16, 1.0, 0.0, 3).expect("motef");
    let problem = Arc::new(m.problem);
    let mut e = ef21_engine("top_k:ratio=0.01", problem, &GAUSSIAN, threads);
    bencher.bench_local(|| e.round().expect("round"));
}

#[divan::bench(args = THREADS, sample_count = 200)]
fn evaluate_a9a(bencher: Bencher<'_, '_>, threads: usize) {
    let mut e = ef21_engine("top_k:k=1", a9a_problem(), &GAUSSIAN, threads);
    bencher.bench_local(|| e.evaluate().expect("evaluate"));
}

/// The floor of bench (a): the 20 local gradients alone, one after another on one thread.
#[divan::bench(sample_count = 200)]
fn grads_a9a(bencher: Bencher<'_, '_>) {
    let p = a9a_problem();
    let x = p
        .initial_point(&InitPoint::Gaussian { seed: 0, std: 1.0 })
        .expect("x0");
    let mut g = vec![0.0; p.dim()];
    bencher.bench_local(|| {
        for o in p.oracles() {
            o.grad(&x, &mut g);
        }
    });
}

/// EF21 + Top-1% on the 3PC quadratic (`kind = "quadratic3pc"`, heterogeneity 0.1, seed 5 as
/// in `examples/mpi/ef21_d1e6.toml`) in f32 from its default start √d·e₁.
fn scale_engine(n: usize, d: usize, threads: usize) -> Box<dyn Engine> {
    let p = quadratic::three_pc::<f32>(d, n, 0.1, 5).expect("3pc quadratic");
    ef21_engine(
        "top_k:ratio=0.01",
        Arc::new(p),
        &InitPoint::ProblemDefault,
        threads,
    )
}

/// Rounds at scale, CI-sized twin: n = 100 workers, d = 10⁵ (f32; ≈ 40 MB of state).
#[divan::bench(args = THREADS, sample_count = 20, sample_size = 1)]
fn ef21_3pc_n100_d1e5(bencher: Bencher<'_, '_>, threads: usize) {
    let mut e = scale_engine(100, 100_000, threads);
    bencher.bench_local(|| e.round().expect("round"));
}

/// Rounds at scale (issue #15 item 4): n = 1000 workers, d = 10⁶, f32 — 4 GB of worker state,
/// so it is ignored by default: `cargo bench --bench rounds -- --ignored n1000
/// --sample-count 3`.
#[ignore]
#[divan::bench(args = THREADS, sample_count = 3, sample_size = 1)]
fn ef21_3pc_n1000_d1e6(bencher: Bencher<'_, '_>, threads: usize) {
    let mut e = scale_engine(1000, 1_000_000, threads);
    bencher.bench_local(|| e.round().expect("round"));
}

/// The worker-side phases of one round of [`scale_engine`]'s state after warm-up (one thread):
/// `grad` = every worker's fused ∇f_i(x) − g_i pass ([`Oracle::grad_minus`]), `grad_top_k` =
/// that plus Top-1% of the difference. The round minus `grad_top_k` is the rest: the
/// EF21 sparse update g_i += c_i, counters, absorb in worker order and the server step.
fn scale_phases(bencher: Bencher<'_, '_>, n: usize, d: usize, phase: &str) {
    use squeeze::core::{CompressCtx, Message, Scratch, SqueezeRng};
    use squeeze::problems::oracle::Oracle;
    let p = Arc::new(quadratic::three_pc::<f32>(d, n, 0.1, 5).expect("3pc quadratic"));
    let c = parse::<f32>("top_k:ratio=0.01").expect("compressor");
    let method = Ef21::new(
        parse::<f32>("top_k:ratio=0.01").expect("compressor"),
        Stepsize::Theory { multiplier: 1.0 },
        GradInit::Full,
        false,
    )
    .expect("ef21");
    let x0 = p.initial_point(&InitPoint::ProblemDefault).expect("x0");
    let mut e = StarEngine::new(method, p.clone(), &x0, 1, 1).expect("engine");
    for _ in 0..WARMUP {
        Engine::round(&mut e).expect("warm-up round");
    }
    let (mut buf, mut msg) = (vec![0.0f32; d], Message::default());
    let (mut rng, mut scratch) = (SqueezeRng::from_seed_u64(0), Scratch::default());
    let top_k = phase == "grad_top_k";
    if phase == "grad_top_k_fused" {
        return fused_phase(bencher, &p, &e, c.as_ref());
    }
    bencher.bench_local(|| {
        for (o, w) in p.oracles().iter().zip(e.workers()) {
            assert!(o.grad_minus(e.iterate(), &w.g, &mut buf));
            if top_k {
                let mut ctx = CompressCtx::new(&mut rng, &mut scratch);
                c.compress_into(&buf, &mut ctx, &mut msg).expect("top-k");
            }
        }
    });
}

/// Phase `grad_top_k_fused` of [`scale_phases`]: what EF21's worker round does with Top-K —
/// the gradient pass fused with the threshold scan ([`Oracle::grad_minus_scan`]), the hint
/// being each worker's previous k-th magnitude (its last message), then the selection from
/// the candidates (the compressor on the written difference if fewer than k passed).
fn fused_phase(
    bencher: Bencher<'_, '_>,
    p: &Problem<f32>,
    e: &StarEngine<f32, Ef21<f32>>,
    c: &dyn squeeze::core::Compressor<f32>,
) {
    use squeeze::compress::TopK;
    use squeeze::core::{CompressCtx, Message, Scratch, SqueezeRng};
    use squeeze::problems::oracle::{Candidates, Oracle};
    let d = p.dim();
    let k = c.top_k(d).expect("top-k");
    let hints: Vec<f32> = e
        .last_uplink()
        .iter()
        .map(|m| match m {
            Message::Sparse { values, .. } => values.iter().fold(f32::MAX, |t, v| t.min(v.abs())),
            _ => 0.0,
        })
        .collect();
    let (mut buf, mut msg) = (vec![0.0f32; d], Message::default());
    let (mut rng, mut scratch) = (SqueezeRng::from_seed_u64(0), Scratch::default());
    bencher.bench_local(|| {
        for ((o, w), &t) in p.oracles().iter().zip(e.workers()).zip(&hints) {
            let (idx, val) = msg.sparse_parts(d);
            let words = &mut scratch.words;
            let mut reduce =
                |i: &mut Vec<u32>, v: &mut Vec<f32>| TopK::compact_candidates(k, &mut *words, i, v);
            let mut hits = Candidates {
                t,
                cap: k + k / 2 + 64,
                idx: &mut *idx,
                val: &mut *val,
                reduce: &mut reduce,
            };
            let fused = o.grad_minus_scan(e.iterate(), &w.g, &mut buf, &mut hits);
            assert_eq!(fused, Some(true));
            if !TopK::finish_candidates(k, &mut scratch.words, idx, val) {
                let mut ctx = CompressCtx::new(&mut rng, &mut scratch);
                c.compress_into(&buf, &mut ctx, &mut msg).expect("top-k");
            }
        }
    });
}

const PHASES: [&str; 3] = ["grad", "grad_top_k", "grad_top_k_fused"];

/// [`scale_phases`] of the CI-sized twin (n = 100, d = 10⁵).
#[divan::bench(args = PHASES, sample_count = 20, sample_size = 1)]
fn ef21_3pc_n100_d1e5_phases(bencher: Bencher<'_, '_>, phase: &str) {
    scale_phases(bencher, 100, 100_000, phase);
}

/// [`scale_phases`] at scale (n = 1000, d = 10⁶; ignored by default, 4 GB).
#[ignore]
#[divan::bench(args = PHASES, sample_count = 3, sample_size = 1)]
fn ef21_3pc_n1000_d1e6_phases(bencher: Bencher<'_, '_>, phase: &str) {
    scale_phases(bencher, 1000, 1_000_000, phase);
}

/// Ring mixing rows (1/3 weights) for n ≥ 3 nodes.
fn ring_rows(n: usize) -> Vec<squeeze::methods::Neighbourhood> {
    (0..n)
        .map(|i| {
            let mut nb = vec![((i + n - 1) % n, 1.0 / 3.0), ((i + 1) % n, 1.0 / 3.0)];
            nb.sort_by_key(|p| p.0);
            squeeze::methods::Neighbourhood {
                self_weight: 1.0 / 3.0,
                neighbours: nb,
            }
        })
        .collect()
}

/// One MoTEF round (two Top-1% messages per node, gossip to both ring neighbours through the
/// sparse `add_to` path) on a ring of 64 nodes at d = 10⁵ (MoTEF quadratics, noisy gradients).
#[divan::bench(args = THREADS, sample_count = 30, sample_size = 1)]
fn motef_ring64_top1pct(bencher: Bencher<'_, '_>, threads: usize) {
    use squeeze::driver::GossipEngine;
    use squeeze::methods::{GradSource, Motef, MotefParams};
    let m = quadratic::motef::<f64>(100_000, 64, 10.0, 1.0, 1).expect("problem");
    let x0 = m
        .problem
        .initial_point(&InitPoint::ProblemDefault)
        .expect("x0");
    let method = Motef::new(
        parse("top_k:ratio=0.01").expect("spec"),
        MotefParams {
            gamma: 0.1,
            eta: 1e-3,
            lambda: 0.05,
        },
        GradSource::Noisy { sigma: 1.0 },
    )
    .expect("method");
    let mut e = GossipEngine::new(
        method,
        Arc::new(m.problem),
        ring_rows(64),
        "ring(64)",
        &x0,
        1,
        threads,
    )
    .expect("engine");
    for _ in 0..3 {
        e.round().expect("round");
    }
    bencher.bench_local(|| e.round().expect("round"));
}

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
//! * `evaluate_a9a`: [`Engine::evaluate`] (f and ‖∇f‖² over all workers) on the first problem.
//!
//! Each engine is warmed up for a few rounds before timing, so the numbers are steady-state
//! rounds (which allocate nothing; `tests/rounds_allocation_free.rs`).

use std::sync::Arc;

use divan::Bencher;
use squeeze::compress::parse;
use squeeze::driver::{Engine, StarEngine};
use squeeze::methods::{Ef21, GradInit, Stepsize};
use squeeze::problems::problem::{InitPoint, Problem};
use squeeze::problems::{embedded, quadratic};

fn main() {
    divan::main();
}

const THREADS: [usize; 2] = [1, 2];
const WARMUP: usize = 5;

/// The a9a-shaped logistic-regression problem of bench (a).
fn a9a_problem() -> Arc<Problem<f64>> {
    let data = embedded::synthetic_binary::<f64>(32_560, 7);
    let p = Problem::logreg_ef21(&data, 20).expect("a9a-shaped problem");
    Arc::new(p)
}

fn ef21_engine(spec: &str, problem: Arc<Problem<f64>>, threads: usize) -> Box<dyn Engine> {
    let method = Ef21::new(
        parse::<f64>(spec).expect("compressor"),
        Stepsize::Theory { multiplier: 1.0 },
        GradInit::Full,
        false,
    )
    .expect("ef21");
    let x0 = problem
        .initial_point(&InitPoint::Gaussian { seed: 0, std: 1.0 })
        .expect("x0");
    let mut e = StarEngine::new(method, problem, &x0, 1, threads).expect("engine");
    for _ in 0..WARMUP {
        e.round().expect("warm-up round");
    }
    Box::new(e)
}

#[divan::bench(args = THREADS, sample_count = 200)]
fn ef21_a9a_top1(bencher: Bencher<'_, '_>, threads: usize) {
    let mut e = ef21_engine("top_k:k=1", a9a_problem(), threads);
    bencher.bench_local(|| e.round().expect("round"));
}

#[divan::bench(args = THREADS, sample_count = 30, sample_size = 1)]
fn ef21_dense_top1pct(bencher: Bencher<'_, '_>, threads: usize) {
    let m = quadratic::motef::<f64>(1_000_000, 16, 1.0, 0.0, 3).expect("motef");
    let problem = Arc::new(m.problem);
    let mut e = ef21_engine("top_k:ratio=0.01", problem, threads);
    bencher.bench_local(|| e.round().expect("round"));
}

#[divan::bench(args = THREADS, sample_count = 200)]
fn evaluate_a9a(bencher: Bencher<'_, '_>, threads: usize) {
    let mut e = ef21_engine("top_k:k=1", a9a_problem(), threads);
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

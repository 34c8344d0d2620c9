//! `Engine::evaluate` at scale: when n·d is large the engine keeps gradient buffers for a
//! batch of workers rather than one per worker; the metrics must be the same bits as the
//! per-coordinate worker-order f64 sum over all workers, for any thread count.

use std::sync::Arc;

use squeeze_driver::config::build_engine;
use squeeze_methods::Stepsize;
use squeeze_problems::oracle::Oracle;
use squeeze_problems::problem::{InitPoint, Problem};
use squeeze_problems::quadratic;

use crate::common::method;

/// f and ‖∇f‖² the way the engine defines them: per-worker losses summed in worker order,
/// each coordinate's gradient summed in worker order in f64 from 0.0.
fn naive(p: &Problem<f32>, x: &[f32]) -> (f64, f64) {
    let d = x.len();
    let mut sum = vec![0.0f64; d];
    let mut losses = Vec::new();
    let mut g = vec![0.0f32; d];
    for o in p.oracles() {
        losses.push(o.loss_grad(x, &mut g));
        for (s, &v) in sum.iter_mut().zip(&g) {
            *s += f64::from(v);
        }
    }
    let n = p.n_workers() as f64;
    let loss = losses.iter().sum::<f64>() / n;
    let norm = sum.iter().map(|s| (s / n) * (s / n)).sum();
    (loss, norm)
}

#[test]
fn batched_metrics_match_the_worker_order_sum_for_any_thread_count() {
    // n·d = 4.5·10⁶ > 2²²: four gradient buffers, so two batches (4 + 1 workers).
    let (n, d) = (5, 900_000);
    let p = Arc::new(quadratic::three_pc::<f32>(d, n, 0.1, 5).expect("problem"));
    let x0 = p.initial_point(&InitPoint::ProblemDefault).expect("x0");
    let mut metrics = Vec::new();
    for threads in [1, 2] {
        let m = method(
            "ef21",
            Some("top_k:ratio=0.001"),
            Stepsize::Theory { multiplier: 1.0 },
        );
        let mut e = build_engine::<f32>(&m, p.clone(), &x0, 1, threads).expect("engine");
        for _ in 0..3 {
            e.round().expect("round");
        }
        let got = e.evaluate().expect("evaluate");
        // The f32 model, widened to f64 and narrowed back exactly.
        let x: Vec<f32> = e.iterate_f64().iter().map(|&v| v as f32).collect();
        let (loss, norm) = naive(&p, &x);
        assert_eq!(got.loss.to_bits(), loss.to_bits(), "threads = {threads}");
        assert_eq!(
            got.grad_norm_sq.to_bits(),
            norm.to_bits(),
            "threads = {threads}"
        );
        assert!(norm > 0.0);
        metrics.push((got.loss.to_bits(), got.grad_norm_sq.to_bits()));
    }
    assert_eq!(metrics[0], metrics[1]);
}

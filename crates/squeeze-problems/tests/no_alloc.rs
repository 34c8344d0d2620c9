//! The hot paths (gradients, minibatch sampling, global evaluation with a workspace) allocate
//! nothing: counted with a global allocator.

use squeeze_core::alloc_count::{CountingAllocator, total_allocations};
use squeeze_core::rng::{Purpose, SqueezeRng};
use squeeze_problems::prelude::*;
use squeeze_problems::quadratic;

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

#[test]
fn hot_paths_do_not_allocate() {
    let data = embedded::synthetic_binary::<f64>(2_000, 1);
    let p = Problem::logreg_ef21(&data, 4).unwrap();
    let q = quadratic::three_pc::<f32>(100, 3, 0.1, 1).unwrap();
    let x = p
        .initial_point(&InitPoint::Gaussian { seed: 0, std: 1.0 })
        .unwrap();
    let xq = q.initial_point(&InitPoint::ProblemDefault).unwrap();
    let mut g = vec![0.0; p.dim()];
    let mut gq = vec![0.0f32; q.dim()];
    let mut ws = p.workspace();
    let mut sampler = MinibatchSampler::new(p.oracle(0).n_samples(), 16).unwrap();
    let mut rng = SqueezeRng::stream(0, Purpose::Sampling, 0);
    let counted = Counted::new(p.oracle(1));
    let before = total_allocations();
    let mut acc = 0.0;
    for _ in 0..3 {
        for o in p.oracles() {
            acc += o.loss_grad(&x, &mut g);
            o.grad(&x, &mut g);
            acc += o.loss(&x);
        }
        let batch = sampler.sample(&mut rng);
        p.oracle(0).minibatch_grad(&x, batch, &mut g);
        counted.minibatch_grad(&x, batch, &mut g);
        acc += p.loss_grad(&x, &mut g, &mut ws).unwrap();
        acc += p.grad_norm_sq(&x, &mut ws).unwrap();
        acc += q.oracle(0).loss_grad(&xq, &mut gq);
    }
    let after = total_allocations();
    assert!(acc.is_finite());
    assert_eq!(
        after - before,
        0,
        "hot paths allocated {} times",
        after - before
    );
}

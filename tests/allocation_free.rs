//! Compressing into a reused message with a warmed-up scratch allocates nothing, for every
//! registered compressor spec (examples and bench specs), in f32 and f64, and in the 16-bit
//! f16 and bf16 at the smaller dimension.
//!
//! A counting global allocator tallies allocations per thread, so parallel tests do not
//! interfere.

use squeeze::compress::registry::{entries, parse};
use squeeze::core::alloc_count::{CountingAllocator, thread_allocations as allocations};
use squeeze::core::{CompressCtx, Message, Scalar, Scratch, SqueezeRng, bf16, f16};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn steady_state_allocations<S: Scalar>(spec: &str, d: usize) -> u64 {
    let c = parse::<S>(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
    let mut rng = SqueezeRng::from_seed_u64(11);
    let x: Vec<S> = (0..d).map(|_| S::from_f64(rng.normal())).collect();
    let mut scratch = Scratch::default();
    let mut msg = Message::default();
    let run = |rng: &mut SqueezeRng, scratch: &mut Scratch, msg: &mut Message<S>| {
        let mut ctx = CompressCtx::new(rng, scratch)
            .with_worker(0, 4)
            .with_round_seed(5);
        c.compress_into(&x, &mut ctx, msg)
            .unwrap_or_else(|e| panic!("{spec}: {e}"));
    };
    // Warm up: buffers grow to their steady-state size (random sizes settle quickly).
    for _ in 0..20 {
        run(&mut rng, &mut scratch, &mut msg);
    }
    let before = allocations();
    for _ in 0..10 {
        run(&mut rng, &mut scratch, &mut msg);
    }
    allocations() - before
}

#[test]
fn counting_allocator_counts() {
    let before = allocations();
    let v = std::hint::black_box(vec![1u8; 10]);
    assert!(allocations() > before);
    drop(v);
}

#[test]
fn steady_state_compression_allocates_nothing() {
    let mut failures = Vec::new();
    for e in entries() {
        // Matrix compressors take packed symmetric matrices: triangles of sides 40 and 90.
        let dims: [usize; 2] = if e.matrix {
            [820, 4095]
        } else {
            [4096, 100_003]
        };
        for spec in e.examples.iter().chain(e.bench) {
            for d in dims {
                let a32 = steady_state_allocations::<f32>(spec, d);
                let a64 = steady_state_allocations::<f64>(spec, d);
                if a32 + a64 > 0 {
                    failures.push(format!(
                        "{spec} at d={d}: {a32} (f32) / {a64} (f64) allocations"
                    ));
                }
                if d == dims[0] {
                    let a16 = steady_state_allocations::<f16>(spec, d);
                    let ab16 = steady_state_allocations::<bf16>(spec, d);
                    if a16 + ab16 > 0 {
                        failures.push(format!(
                            "{spec} at d={d}: {a16} (f16) / {ab16} (bf16) allocations"
                        ));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "allocations in steady state:\n{}",
        failures.join("\n")
    );
}

//! Compressor throughput (bytes of f32 input per second), single thread.
//!
//! ```text
//! cargo bench --bench compressors                 # everything (several minutes)
//! cargo bench --bench compressors -- top_k        # a filter
//! ```
//!
//! Every registry entry is enrolled through its `BENCH` specs (or its first example) at
//! d ∈ {10⁵, 10⁶, 10⁷}; Top-K also runs at k/d ∈ {10⁻³, 10⁻², 10⁻¹}. The baselines that the
//! targets in `docs/benchmarks.md` are stated against run in the same binary: a plain read pass
//! (16-accumulator sum), a `select_nth_unstable_by` Top-K pipeline that outputs indices and
//! values, and a naive QSGD loop drawing one random float per element.
//!
//! `wire::*` times encode and decode of the dense quantised messages alone; `full_path::*` times
//! compress → encode → decode → `add_to` for every registered compressor at d ∈ {10⁶, 10⁷}.

use std::fmt;

use divan::Bencher;
use divan::counter::BytesCount;
use squeeze::compress::registry::{entries, parse};
use squeeze::core::{BitWriter, CompressCtx, Message, Scratch, SqueezeRng};

fn main() {
    divan::main();
}

const DIMS: [usize; 3] = [100_000, 1_000_000, 10_000_000];
/// The packed triangle of a 300 × 300 symmetric matrix, for the matrix compressors.
const MATRIX_DIM: usize = 45_150;

/// A deterministic gradient-like input: Gaussian entries with a few heavy outliers.
fn input(d: usize) -> Vec<f32> {
    let mut rng = SqueezeRng::from_seed_u64(2024);
    (0..d)
        .map(|i| {
            let g = rng.normal() as f32;
            if i % 997 == 0 { 50.0 * g } else { g }
        })
        .collect()
}

/// One benchmark case: a spec string at a dimension.
#[derive(Clone)]
struct Case {
    spec: String,
    d: usize,
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} d={:.0e}", self.spec, self.d as f64)
    }
}

fn registry_cases() -> Vec<Case> {
    // Matrix compressors (packed symmetric input) run at D = 45,150: the triangle of a
    // 300 × 300 Hessian (Newton-3PC on w8a).
    let mut specs: Vec<(String, bool)> = entries()
        .iter()
        .flat_map(|e| e.bench_specs().iter().map(|s| (s.to_string(), e.matrix)))
        .collect();
    for r in ["0.001", "0.01", "0.1"] {
        let s = format!("top_k:ratio={r}");
        if !specs.iter().any(|(t, _)| *t == s) {
            specs.push((s, false));
        }
    }
    let mut cases = Vec::new();
    for (spec, matrix) in specs {
        let dims: &[usize] = if matrix { &[MATRIX_DIM] } else { &DIMS };
        for &d in dims {
            cases.push(Case {
                spec: spec.clone(),
                d,
            });
        }
    }
    cases
}

#[divan::bench(args = registry_cases(), sample_count = 20, sample_size = 1)]
fn compress(bencher: Bencher<'_, '_>, case: &Case) {
    let x = input(case.d);
    let c = parse::<f32>(&case.spec).expect("registered spec");
    let mut rng = SqueezeRng::from_seed_u64(1);
    let mut scratch = Scratch::default();
    let mut msg = Message::default();
    // Warm up buffers so that the timed calls run in steady state.
    {
        let mut ctx = CompressCtx::new(&mut rng, &mut scratch).with_worker(0, 4);
        c.compress_into(&x, &mut ctx, &mut msg)
            .expect("valid input");
    }
    bencher
        .counter(BytesCount::new(case.d * 4))
        .bench_local(|| {
            let mut ctx = CompressCtx::new(&mut rng, &mut scratch).with_worker(0, 4);
            c.compress_into(divan::black_box(&x), &mut ctx, &mut msg)
                .expect("valid input");
        });
}

mod baseline {
    use super::*;

    /// A plain read pass: 16-accumulator sum (the memory-bandwidth reference).
    #[divan::bench(args = DIMS, sample_count = 30, sample_size = 1)]
    fn read_pass(bencher: Bencher<'_, '_>, d: usize) {
        let x = input(d);
        bencher
            .counter(BytesCount::new(d * 4))
            .bench_local(|| squeeze::core::ops::sum(divan::black_box(&x)));
    }

    /// `select_nth_unstable_by` Top-K (k = 1%) that outputs indices and values.
    #[divan::bench(args = DIMS, sample_count = 20, sample_size = 1)]
    fn select_nth_top_k(bencher: Bencher<'_, '_>, d: usize) {
        let x = input(d);
        let k = d / 100;
        let mut idx: Vec<u32> = Vec::with_capacity(d);
        let mut out_i: Vec<u32> = Vec::with_capacity(k);
        let mut out_v: Vec<f32> = Vec::with_capacity(k);
        bencher.counter(BytesCount::new(d * 4)).bench_local(|| {
            let x = divan::black_box(&x);
            idx.clear();
            idx.extend(0..d as u32);
            idx.select_nth_unstable_by(k - 1, |&a, &b| {
                x[b as usize].abs().total_cmp(&x[a as usize].abs())
            });
            out_i.clear();
            out_v.clear();
            for &i in &idx[..k] {
                out_i.push(i);
                out_v.push(x[i as usize]);
            }
            (out_i.len(), out_v.len())
        });
    }

    /// Naive QSGD (s = 16, ℓ₂): one scalar random float and a `floor` per element.
    #[divan::bench(args = DIMS, sample_count = 20, sample_size = 1)]
    fn naive_qsgd(bencher: Bencher<'_, '_>, d: usize) {
        let x = input(d);
        let mut rng = SqueezeRng::from_seed_u64(3);
        let mut out: Vec<f32> = vec![0.0; d];
        bencher.counter(BytesCount::new(d * 4)).bench_local(|| {
            let x = divan::black_box(&x);
            let norm = x.iter().map(|v| v * v).sum::<f32>().sqrt();
            let s = 16.0f32;
            for (o, &v) in out.iter_mut().zip(x) {
                let r = s * v.abs() / norm;
                let u = (rng.next_u32() >> 8) as f32 * (1.0 / (1u32 << 24) as f32);
                let level = (r + u).floor();
                *o = norm / s * level * v.signum();
            }
            out[0]
        });
    }
}

mod wire {
    use super::*;

    /// Specs whose message the wire rows encode and decode: the dense quantised kinds, sign,
    /// and the Top-1 % sparse message.
    const WIRE_SPECS: [&str; 8] = [
        "top_k:ratio=0.01",
        "qsgd:s=16",
        "terngrad",
        "natural",
        "natural_dithering:s=8",
        "power_rounding",
        "scaled_sign",
        "one_bit",
    ];

    fn wire_cases() -> Vec<Case> {
        let mut cases = Vec::new();
        // Only specs the registry knows (a renamed compressor drops out instead of failing).
        for spec in WIRE_SPECS.into_iter().filter(|s| parse::<f32>(s).is_ok()) {
            for d in DIMS {
                cases.push(Case {
                    spec: spec.to_string(),
                    d,
                });
            }
        }
        cases
    }

    fn message(case: &Case) -> Message<f32> {
        let x = input(case.d);
        let c = parse::<f32>(&case.spec).expect("registered spec");
        let mut rng = SqueezeRng::from_seed_u64(1);
        let mut scratch = Scratch::default();
        let mut ctx = CompressCtx::new(&mut rng, &mut scratch).with_worker(0, 4);
        c.compress(&x, &mut ctx).expect("valid input")
    }

    /// Times `body(msg, w)` on the spec's message with a writer `w` cleared before each call
    /// (reused: its buffer keeps its capacity), throughput in input bytes.
    fn bench_writer<R>(
        bencher: Bencher<'_, '_>,
        case: &Case,
        mut body: impl FnMut(&Message<f32>, &mut BitWriter) -> R,
    ) {
        let msg = message(case);
        let mut w = BitWriter::with_capacity_bits(msg.bits());
        bencher
            .counter(BytesCount::new(case.d * 4))
            .bench_local(|| {
                w.clear();
                body(&msg, &mut w)
            });
    }

    /// Encode (into a reused writer) + decode of the spec's message (throughput in input
    /// bytes).
    #[divan::bench(args = wire_cases(), sample_count = 10, sample_size = 1)]
    fn encode_decode(bencher: Bencher<'_, '_>, case: &Case) {
        bench_writer(bencher, case, |msg, w| {
            msg.encode(w);
            let back = Message::<f32>::decode(w.finish(), case.d).expect("round trip");
            back.entries()
        });
    }

    /// Encode alone, into a reused writer.
    #[divan::bench(args = wire_cases(), sample_count = 10, sample_size = 1)]
    fn encode(bencher: Bencher<'_, '_>, case: &Case) {
        bench_writer(bencher, case, |msg, w| {
            divan::black_box(msg).encode(w);
            w.bit_len()
        });
    }

    /// Decode alone, into a reused message (`decode_into`: a receiver's steady state).
    #[divan::bench(args = wire_cases(), sample_count = 10, sample_size = 1)]
    fn decode_into(bencher: Bencher<'_, '_>, case: &Case) {
        let bytes = message(case).to_bytes();
        let mut back = Message::<f32>::default();
        bencher
            .counter(BytesCount::new(case.d * 4))
            .bench_local(|| {
                back.decode_into(divan::black_box(&bytes), case.d)
                    .expect("round trip");
                back.entries()
            });
    }
}

// ---------------------------------------------------------------------------------------------
// Full path (issue #15): what a user of a real system pays per message.
// ---------------------------------------------------------------------------------------------

mod full_path {
    use super::*;

    /// Every registry case of the compress group at d ∈ {10⁶, 10⁷}.
    fn full_path_cases() -> Vec<Case> {
        registry_cases()
            .into_iter()
            .filter(|c| c.d >= 1_000_000)
            .collect()
    }

    /// compress → encode (`to_bytes` into a reused writer) → `decode_into` (a reused message)
    /// → `add_to` (a reused aggregate), throughput in input bytes. The steady state allocates
    /// nothing for flat messages (nested ones allocate their decoded boxes).
    #[divan::bench(args = full_path_cases(), sample_count = 10, sample_size = 1)]
    fn full_path(bencher: Bencher<'_, '_>, case: &Case) {
        let d = case.d;
        let x = input(d);
        let c = parse::<f32>(&case.spec).expect("registered spec");
        let mut rng = SqueezeRng::from_seed_u64(1);
        let mut scratch = Scratch::default();
        let mut msg = Message::default();
        let mut w = BitWriter::new();
        let mut back = Message::<f32>::default();
        let mut agg = vec![0.0f32; d];
        let mut step = move || {
            let mut ctx = CompressCtx::new(&mut rng, &mut scratch).with_worker(0, 4);
            c.compress_into(divan::black_box(&x), &mut ctx, &mut msg)
                .expect("valid input");
            w.clear();
            msg.encode(&mut w);
            back.decode_into(w.finish(), d).expect("round trip");
            back.add_to(&mut agg, 1.0).expect("same dimension");
            agg[0]
        };
        // Warm up buffers so that the timed calls run in steady state.
        step();
        bencher
            .counter(BytesCount::new(d * 4))
            .bench_local(&mut step);
    }
}

// ---------------------------------------------------------------------------------------------
// Multi-core section (helper "parallel", issue #15 item 3). Self-contained: edit above freely.
// ---------------------------------------------------------------------------------------------

/// One vector compressed on a 1- and a 2-thread rayon pool: the compute-bound quantisers at
/// d = 10⁷ (above `squeeze_compress::parallel::PARALLEL_MIN_DIM`, so the 2-thread pool takes the
/// chunked path) plus Top-1 % and scaled sign (sequential by design: must not slow down). The
/// messages are identical for both pools; the ratio of the `threads=1` and `threads=2` medians is
/// the multi-core speed-up in `docs/benchmarks.md`.
///
/// ```text
/// cargo bench --bench compressors -- multicore
/// ```
mod multicore {
    use super::*;

    /// The wire kinds' compressors (the denser QSGD messages too, whose encode and decode the
    /// wire rows compare with their compress), Top-1 % and scaled sign.
    const SPECS: [&str; 9] = [
        "qsgd:s=16",
        "terngrad",
        "natural",
        "natural_dithering:s=8",
        "power_rounding",
        "top_k:ratio=0.01",
        "scaled_sign",
        "qsgd:s=4095",
        "qsgd:s=32767",
    ];

    /// A spec on a pool of `threads` threads.
    #[derive(Clone)]
    struct PoolCase {
        spec: &'static str,
        threads: usize,
    }

    impl fmt::Display for PoolCase {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{} threads={}", self.spec, self.threads)
        }
    }

    fn cases() -> Vec<PoolCase> {
        SPECS
            .iter()
            .flat_map(|&spec| [1, 2].map(|threads| PoolCase { spec, threads }))
            .collect()
    }

    #[divan::bench(args = cases(), sample_count = 10, sample_size = 1)]
    fn compress_d1e7(bencher: Bencher<'_, '_>, case: &PoolCase) {
        const D: usize = 10_000_000;
        let x = input(D);
        let c = parse::<f32>(case.spec).expect("registered spec");
        let pool = pool_of(case.threads);
        let mut rng = SqueezeRng::from_seed_u64(1);
        let mut scratch = Scratch::default();
        let mut msg = Message::default();
        pool.install(|| {
            let mut ctx = CompressCtx::new(&mut rng, &mut scratch).with_worker(0, 4);
            c.compress_into(&x, &mut ctx, &mut msg)
                .expect("valid input");
        });
        bencher.counter(BytesCount::new(D * 4)).bench_local(|| {
            pool.install(|| {
                let mut ctx = CompressCtx::new(&mut rng, &mut scratch).with_worker(0, 4);
                c.compress_into(divan::black_box(&x), &mut ctx, &mut msg)
                    .expect("valid input");
            })
        });
    }

    /// `Compressor::compress_encode` into a reused writer: compress and encode in one call.
    /// QSGD and TernGrad go from `x` straight to the bits (codes made and packed piece by
    /// piece, in cache); the other kinds run the default, `compress_into` then `encode`.
    #[divan::bench(args = wire_cases(), sample_count = 10, sample_size = 1)]
    fn compress_encode_d1e7(bencher: Bencher<'_, '_>, case: &PoolCase) {
        let (msg, pool) = wire_setup(case);
        let x = input(10_000_000);
        let c = parse::<f32>(case.spec).expect("registered spec");
        let mut rng = SqueezeRng::from_seed_u64(1);
        let mut scratch = Scratch::default();
        let mut buf = Message::default();
        let mut w = BitWriter::with_capacity_bits(msg.bits() + msg.entries() + 64);
        let mut run = |x: &[f32]| {
            pool.install(|| {
                w.clear();
                let mut ctx = CompressCtx::new(&mut rng, &mut scratch).with_worker(0, 4);
                c.compress_encode(x, &mut ctx, &mut buf, &mut w)
                    .expect("valid input");
            })
        };
        run(&x);
        bencher
            .counter(BytesCount::new(40_000_000usize))
            .bench_local(|| run(divan::black_box(&x)));
    }

    /// The memory ceiling on each pool: a read pass (the 16-accumulator sum) and a write pass
    /// (a fill) over 10⁷ `f32`, each in 2¹⁶-entry chunks spread over the pool. An encode reads
    /// the values and a decode writes them, so on a pool of two threads neither can gain more
    /// over one thread than these passes do.
    #[divan::bench(args = [1, 2], sample_count = 20, sample_size = 1)]
    fn read_pass_d1e7(bencher: Bencher<'_, '_>, threads: usize) {
        use rayon::prelude::*;
        let x = input(10_000_000);
        let pool = pool_of(threads);
        bencher
            .counter(BytesCount::new(40_000_000usize))
            .bench_local(|| {
                pool.install(|| {
                    divan::black_box(&x)
                        .par_chunks(1 << 16)
                        .map(squeeze::core::ops::sum)
                        .sum::<f32>()
                })
            });
    }

    /// See [`read_pass_d1e7`].
    #[divan::bench(args = [1, 2], sample_count = 20, sample_size = 1)]
    fn write_pass_d1e7(bencher: Bencher<'_, '_>, threads: usize) {
        use rayon::prelude::*;
        let mut x = input(10_000_000);
        let pool = pool_of(threads);
        bencher
            .counter(BytesCount::new(40_000_000usize))
            .bench_local(|| {
                pool.install(|| {
                    divan::black_box(&mut x)
                        .par_chunks_mut(1 << 16)
                        .for_each(|c| c.fill(0.5));
                })
            });
    }

    fn pool_of(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("thread pool")
    }

    /// Dense quantised messages whose wire path has a chunked form: encode of every kind;
    /// decode of `natural` (fixed width), of codes with no zero (`power_rounding`: each chunk
    /// read from its guessed offset) and of codes with zeros (QSGD, TernGrad, natural
    /// dithering: each thread parses the codes before its range, `BitReader::read_prefixed`).
    /// QSGD s = 16 gives sparse codes at d = 10⁷ (1 in 440 non-zero), s = 4095 mixed ones
    /// (about half non-zero) and s = 32767 nearly dense ones (about 1 in 14 zero), whose
    /// parse runs on several chains (`skip_chains.rs`).
    const WIRE_SPECS: [&str; 7] = [
        "qsgd:s=16",
        "terngrad",
        "natural",
        "natural_dithering:s=8",
        "power_rounding",
        "qsgd:s=4095",
        "qsgd:s=32767",
    ];

    fn wire_cases() -> Vec<PoolCase> {
        WIRE_SPECS
            .iter()
            .flat_map(|&spec| [1, 2].map(|threads| PoolCase { spec, threads }))
            .collect()
    }

    /// The spec's message for `input(10⁷)` and a pool of `threads` threads.
    fn wire_setup(case: &PoolCase) -> (Message<f32>, rayon::ThreadPool) {
        let x = input(10_000_000);
        let c = parse::<f32>(case.spec).expect("registered spec");
        let mut rng = SqueezeRng::from_seed_u64(1);
        let mut scratch = Scratch::default();
        let mut ctx = CompressCtx::new(&mut rng, &mut scratch).with_worker(0, 4);
        let msg = c.compress(&x, &mut ctx).expect("valid input");
        let pool = pool_of(case.threads);
        (msg, pool)
    }

    /// `Message::encode` into a reused writer on the pool (bytes identical for both pools).
    #[divan::bench(args = wire_cases(), sample_count = 10, sample_size = 1)]
    fn wire_encode_d1e7(bencher: Bencher<'_, '_>, case: &PoolCase) {
        let (msg, pool) = wire_setup(case);
        let mut w = BitWriter::with_capacity_bits(msg.bits() + msg.entries() + 64);
        bencher
            .counter(BytesCount::new(40_000_000usize))
            .bench_local(|| {
                pool.install(|| {
                    w.clear();
                    divan::black_box(&msg).encode(&mut w);
                    w.bit_len()
                })
            });
    }

    /// `Message::decode_into` a reused message on the pool.
    #[divan::bench(args = wire_cases(), sample_count = 10, sample_size = 1)]
    fn wire_decode_into_d1e7(bencher: Bencher<'_, '_>, case: &PoolCase) {
        let (msg, pool) = wire_setup(case);
        let bytes = msg.to_bytes();
        let mut back = Message::<f32>::default();
        bencher
            .counter(BytesCount::new(40_000_000usize))
            .bench_local(|| {
                pool.install(|| {
                    back.decode_into(divan::black_box(&bytes), 10_000_000)
                        .expect("round trip");
                    back.entries()
                })
            });
    }
}

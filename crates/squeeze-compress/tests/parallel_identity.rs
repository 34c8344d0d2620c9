//! Multi-core compression is bit-identical for any thread count (`squeeze_compress::parallel`).
//!
//! Every example spec of every registry entry compresses one input of dimension just above
//! `PARALLEL_MIN_DIM` (a partial last chunk, an odd length) inside 1-, 2- and 4-thread rayon
//! pools; the messages must be equal. The 1-thread pool takes the sequential path, which is
//! main's code; `MAIN_DIGESTS` pins its encoded bytes (FNV-1a, recorded from main before the
//! parallel path existed) so that the sequential path itself cannot drift either. Regenerate
//! with `PRINT_DIGESTS=1 cargo test --release -p squeeze-compress --test parallel_identity --
//! --nocapture` only for a deliberate wire change.

use proptest::prelude::*;
use squeeze_compress::parallel::{CHUNK, PARALLEL_MIN_DIM};
use squeeze_compress::registry::{entries, parse};
use squeeze_core::{
    BitWriter, CompressCtx, CompressError, Compressor, Message, Scalar, Scratch, SqueezeRng,
};

const D: usize = PARALLEL_MIN_DIM + CHUNK + CHUNK / 2 + 37;

/// Input of dimension `D`: magnitudes spread over `scale·[2⁻⁸, 2⁸]` with zeros and repeats.
fn input<S: Scalar>(seed: u64, scale: f64) -> Vec<S> {
    let mut r = SqueezeRng::from_seed_u64(seed);
    (0..D)
        .map(|j| match j % 97 {
            0 => S::ZERO,
            1 => S::from_f64(scale),
            _ => {
                let m = (r.next_f64() * 16.0 - 8.0).exp2();
                let v = if r.next_u64() & 1 == 0 { m } else { -m };
                S::from_f64(v * scale)
            }
        })
        .collect()
}

/// `f(compressor, ctx)` in a pool of `threads` threads, with the generator's next word after
/// it.
fn in_pool<S: Scalar, R: Send>(
    spec: &str,
    seed: u64,
    threads: usize,
    f: impl FnOnce(&dyn Compressor<S>, &mut CompressCtx<'_>) -> R + Send,
) -> (R, u64) {
    let c = parse::<S>(spec).unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let (mut rng, mut scratch) = (SqueezeRng::from_seed_u64(seed), Scratch::default());
        let mut ctx = CompressCtx::new(&mut rng, &mut scratch)
            .with_worker(1, 4)
            .with_round_seed(99);
        let r = f(c.as_ref(), &mut ctx);
        (r, rng.next_u64())
    })
}

fn compress<S: Scalar>(
    spec: &str,
    x: &[S],
    seed: u64,
    threads: usize,
) -> Result<Message<S>, CompressError> {
    in_pool(spec, seed, threads, |c, ctx| c.compress(x, ctx)).0
}

/// `compress_encode`'s bytes in a pool of `threads`, and the generator's next word after it.
fn compress_encode<S: Scalar>(
    spec: &str,
    x: &[S],
    seed: u64,
    threads: usize,
) -> (Result<Vec<u8>, CompressError>, u64) {
    in_pool(spec, seed, threads, |c, ctx| {
        let mut w = BitWriter::new();
        c.compress_encode(x, ctx, &mut Message::default(), &mut w)
            .map(|()| w.into_bytes())
    })
}

/// The fused wire path (`Compressor::compress_encode`, QSGD and TernGrad straight from `x` to
/// the bits) on 1, 2 and 4 threads gives the bytes of `compress` then `to_bytes` and leaves
/// the generator where `compress` does; errors are `compress`'s.
fn fused_encode_is_compress_then_encode<S: Scalar>(spec: &str, x: &[S], seed: u64) {
    let (one, next) = in_pool(spec, seed, 1, |c, ctx| c.compress(x, ctx));
    for k in [1, 2, 4] {
        let (bytes, fused_next) = compress_encode(spec, x, seed, k);
        match (&one, &bytes) {
            (Ok(m), Ok(b)) => assert!(*b == m.to_bytes(), "{spec}: {k} threads"),
            (Err(a), Err(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}"), "{spec}"),
            _ => panic!(
                "{spec}: {k} threads: {:?} vs {:?}",
                one.is_ok(),
                bytes.is_ok()
            ),
        }
        if one.is_ok() {
            assert_eq!(
                next, fused_next,
                "{spec}: {k} threads left the generator elsewhere"
            );
        }
    }
}

/// Equal messages, or errors with the same text (a NaN in an error is not `==` itself).
fn same<S: Scalar>(
    a: &Result<Message<S>, CompressError>,
    b: &Result<Message<S>, CompressError>,
) -> bool {
    match (a, b) {
        (Ok(a), Ok(b)) => a == b,
        (Err(a), Err(b)) => format!("{a:?}") == format!("{b:?}"),
        _ => false,
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

fn specs() -> Vec<&'static str> {
    entries()
        .iter()
        .flat_map(|e| e.examples.iter().copied())
        .collect()
}

fn same_for_all_thread_counts<S: Scalar>(seed: u64, scale: f64) {
    let x = input::<S>(seed, scale);
    for spec in specs() {
        let one = compress(spec, &x, seed, 1);
        for k in [2, 4] {
            assert!(
                compress(spec, &x, seed, k) == one,
                "{spec}: {k} threads differ from 1 (seed {seed}, scale {scale})"
            );
        }
        if FUSED.contains(&spec.split(':').next().unwrap()) {
            fused_encode_is_compress_then_encode(spec, &x, seed);
        }
    }
}

/// The compressors with their own `compress_encode` (the others run the default, which is
/// `compress_into` then `encode` by definition).
const FUSED: [&str; 2] = ["qsgd", "terngrad"];

proptest! {
    #![proptest_config(ProptestConfig { cases: 3, ..ProptestConfig::default() })]
    #[test]
    fn messages_do_not_depend_on_the_thread_count(
        seed in any::<u64>(),
        scale in prop_oneof![Just(1.0), Just(1e-20), Just(1e20)],
    ) {
        same_for_all_thread_counts::<f32>(seed, scale);
        same_for_all_thread_counts::<f64>(seed, scale);
    }
}

#[test]
fn half_precision_kernels_do_not_depend_on_the_thread_count() {
    for spec in [
        "natural",
        "qsgd:s=4",
        "natural_dithering:s=4",
        "power_rounding",
    ] {
        let x = input::<squeeze_core::f16>(5, 1.0);
        let one = compress(spec, &x, 5, 1);
        assert!(one.is_ok(), "{spec}");
        assert!(compress(spec, &x, 5, 2) == one, "{spec}");
        fused_encode_is_compress_then_encode(spec, &x, 5);
    }
}

#[test]
fn errors_on_large_inputs_do_not_depend_on_the_thread_count() {
    let mut x = input::<f32>(9, 1.0);
    x[D - 3] = f32::MAX; // top binade: natural refuses it, ℓ₂ norms overflow
    let big = x.clone();
    x[PARALLEL_MIN_DIM + 5] = f32::NAN;
    x[D - 10] = f32::INFINITY;
    for spec in specs() {
        for input in [&x, &big] {
            let one = compress(spec, input, 9, 1);
            assert!(same(&compress(spec, input, 9, 2), &one), "{spec}");
        }
        if FUSED.contains(&spec.split(':').next().unwrap()) {
            fused_encode_is_compress_then_encode(spec, &x, 9);
            fused_encode_is_compress_then_encode(spec, &big, 9);
        }
        if ["qsgd", "natural", "terngrad", "power_rounding"]
            .contains(&spec.split(':').next().unwrap())
        {
            let e = compress(spec, &x, 9, 2).unwrap_err();
            assert!(
                matches!(e, CompressError::NonFinite { index, .. } if index == PARALLEL_MIN_DIM + 5),
                "{spec}: {e}"
            );
        }
    }
}

/// FNV-1a of `to_bytes` of each example spec's message on `input::<f32>(7, 1.0)`, seed 7, as
/// main produced it (single thread); `None` where the spec refuses the input.
const MAIN_DIGESTS: &[(&str, Option<u64>)] = &[
    ("identity", Some(0xb8fe9ee53f51c16f)),
    ("top_k:k=1", Some(0xf96a10b584b8e0c2)),
    ("top_k:k=3", Some(0xb3af302f1e15e3db)),
    ("top_k:k=40", Some(0x2d65eb21b2901881)),
    ("top_k:ratio=0.1", Some(0x6bda3e923f371f03)),
    ("top_k:ratio=0.5", Some(0xf9729e97bf8dce61)),
    ("top_k:ratio=1", Some(0x0869370a91db6659)),
    ("threshold_abs:lambda=0.5", Some(0xda24cf236eac9138)),
    ("threshold_abs:lambda=1e-30", Some(0x141e9fc7c312d2c6)),
    ("threshold_abs:lambda=1e-300", Some(0x141e9fc7c312d2c6)),
    ("threshold_abs:lambda=1e30", Some(0xeaa0081875df2d0d)),
    ("threshold_abs:lambda=1e300", Some(0xeaa0081875df2d0d)),
    ("threshold_rel:lambda=0.5", Some(0x5d135bdf5ffb4ca5)),
    ("threshold_rel:lambda=0.1", Some(0xee5d538630c74f21)),
    ("threshold_rel:lambda=1", Some(0xf96a10b584b8e0c2)),
    ("threshold_rel:lambda=1e-30", Some(0x141e9fc7c312d2c6)),
    ("rand_k:k=1", Some(0x3856fc80617f65da)),
    ("rand_k:k=3", Some(0x2b5fff4c75d1a979)),
    ("rand_k:ratio=0.5", Some(0x365aa821240d3934)),
    ("rand_k:ratio=1", Some(0x0869370a91db6659)),
    ("rand_k:k=2,scaled=false", Some(0xfcf2fde899c66b4a)),
    ("perm_k:n=1", None),
    ("perm_k:n=4", Some(0x62714f4e52e6beb3)),
    ("scaled_sign", Some(0xa629b227a381eeec)),
    ("clip:tau=1", Some(0x7e6512ec6fa54f72)),
    ("clip:tau=inf", Some(0xb8fe9ee53f51c16f)),
    ("clip:tau=1e-3", Some(0xd5c3153ba7ced432)),
    ("qsgd:s=1", Some(0xffe78cff3d9a9870)),
    ("qsgd:s=4", Some(0x28a9c123a5131954)),
    ("qsgd:s=16", Some(0x6cf4dfea2438061e)),
    ("qsgd:s=2,norm=linf", Some(0x98893e713b666aae)),
    ("natural", Some(0xae2aad7e446830cc)),
    ("natural_dithering:s=1", Some(0x1230035138828718)),
    ("natural_dithering:s=3", Some(0x7138c15eb1cd0df6)),
    ("natural_dithering:s=8,norm=linf", Some(0x39d936d2f4f86910)),
    ("terngrad", Some(0x62495fe2cc799ff2)),
    ("power_rounding", Some(0x5d2f392957b11787)),
    ("power_rounding:base=4", Some(0xade680374db257de)),
    ("power_rounding:base=1.5", Some(0xc9cd726e4a69e560)),
    ("one_bit", Some(0xf9b4fd4c162c1717)),
    ("one_bit:block=4", Some(0xf8ceecac80919416)),
    ("one_bit:block=1", Some(0x3633a8b2002cb9f0)),
    ("fp16", Some(0x0fd9c9e6a4290ccc)),
    ("bf16", Some(0x0d5d790c171347b5)),
    ("uint8", Some(0x267b52ce44d86088)),
    ("top_k:ratio=0.25 | qsgd:s=4", Some(0x22d620a9d77eda1b)),
    ("top_k:k=2 | scaled_sign", Some(0x6baac0e3e4a51233)),
    ("rand_k:k=3 | natural", Some(0xd36f450e0007de3d)),
    (
        "top_k:ratio=0.5 | scaled(qsgd:s=2)",
        Some(0x703e8c7a4867358e),
    ),
    ("scaled(rand_k:k=3)", Some(0x0831f6899264e854)),
    ("scaled(qsgd:s=2)", Some(0x838ac73acdd944ab)),
    ("scaled(natural)", Some(0xead489e2ccebcbea)),
];

#[test]
fn sequential_messages_match_main() {
    let x = input::<f32>(7, 1.0);
    let mut digests = Vec::new();
    for spec in specs() {
        let d = compress(spec, &x, 7, 1).ok().map(|m| fnv1a(&m.to_bytes()));
        digests.push((spec, d));
        let two = compress(spec, &x, 7, 2).ok().map(|m| fnv1a(&m.to_bytes()));
        assert_eq!(two, d, "{spec}");
    }
    if std::env::var_os("PRINT_DIGESTS").is_some() {
        for (spec, d) in &digests {
            match d {
                Some(h) => println!("    ({spec:?}, Some(0x{h:016x})),"),
                None => println!("    ({spec:?}, None),"),
            }
        }
    }
    for (spec, want) in MAIN_DIGESTS {
        let got = digests.iter().find(|(s, _)| s == spec).map(|(_, d)| *d);
        assert_eq!(got, Some(*want), "{spec}: message differs from main's");
    }
    assert!(MAIN_DIGESTS.len() >= 20, "digest table missing");
}

/// The wire path on 1-, 2- and 4-thread pools (`squeeze_core::bits::wire_parallel`): every
/// example spec's message encodes to main's bytes (`MAIN_DIGESTS`) and decodes back to itself
/// whatever the pool; a corrupted payload gives the same error on every pool.
#[test]
fn wire_bytes_and_decode_do_not_depend_on_the_thread_count() {
    // The wire path cuts at the same chunks and threshold as the compressors.
    assert_eq!(
        (
            squeeze_core::bits::WIRE_CHUNK,
            squeeze_core::bits::WIRE_PARALLEL_MIN
        ),
        (CHUNK, PARALLEL_MIN_DIM)
    );
    let x = input::<f32>(7, 1.0);
    let pools: Vec<_> = [1, 2, 4]
        .map(|k| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(k)
                .build()
                .unwrap()
        })
        .into();
    for (spec, want) in MAIN_DIGESTS {
        let Ok(m) = compress(spec, &x, 7, 1) else {
            assert_eq!(*want, None, "{spec}");
            continue;
        };
        let seq = m.to_bytes();
        assert_eq!(Some(fnv1a(&seq)), *want, "{spec}");
        let mut bad = seq.clone();
        let at = bad.len() / 3;
        bad[at] ^= 0xff;
        let bad_want = Message::<f32>::decode(&bad, D);
        for (k, pool) in [1, 2, 4].iter().zip(&pools) {
            pool.install(|| {
                assert!(m.to_bytes() == seq, "{spec}: {k} threads");
                let mut back = Message::<f32>::default();
                back.decode_into(&seq, D).unwrap();
                assert!(back == m, "{spec}: {k} threads");
                let got = Message::<f32>::decode(&bad, D);
                assert_eq!(
                    format!("{got:?}"),
                    format!("{bad_want:?}"),
                    "{spec}: {k} threads"
                );
            });
        }
    }
}

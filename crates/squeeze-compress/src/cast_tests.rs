//! Edge cases of the cast compressors: rounding, saturation, subnormals, signed zeros, NaN,
//! the identity on their own type, the u8 grid's extremes, unbiasedness and refusals.

use super::*;
use crate::conformance::compress_once;
use squeeze_core::ops::dist2_sq;

fn words<S: Scalar>(c: &dyn Compressor<S>, x: &[S]) -> Vec<u16> {
    match compress_once(c, x, 3).unwrap() {
        Message::Cast { words, .. } => words,
        other => panic!("{other:?}"),
    }
}

fn dense<S: Scalar>(c: &dyn Compressor<S>, x: &[S], seed: u64) -> Vec<f64> {
    let m = compress_once(c, x, seed).unwrap();
    m.validate().unwrap();
    m.to_dense().unwrap().iter().map(|v| v.to_f64()).collect()
}

#[test]
fn fp16_rounds_to_nearest_and_saturates() {
    let x = [
        65504.0f32,
        65519.0, // below the rounding midpoint 65520: 65504
        65520.0, // rounds to ∞ in f16: saturated
        -1e9,
        1.0 + 2f32.powi(-11), // a tie: to even (1.0)
        1.0 + 3.0 * 2f32.powi(-11),
        2f32.powi(-24), // the smallest f16 subnormal
        2f32.powi(-25), // a tie with 0: to even (0)
        3.0 * 2f32.powi(-26),
        -0.0,
    ];
    let w = words(&CastF16, &x);
    assert_eq!(
        w,
        vec![
            0x7bff, 0x7bff, 0x7bff, 0xfbff, 0x3c00, 0x3c02, 0x0001, 0x0000, 0x0001, 0x8000
        ]
    );
    let v = dense(&CastF16, &x, 0);
    assert_eq!(v[..4], [65504.0, 65504.0, 65504.0, -65504.0]);
}

#[test]
fn bf16_rounds_to_nearest_and_saturates() {
    let x = [
        f32::MAX, // rounds up to ∞ in bfloat16: saturated to 0x7f7f
        -1.0e38,
        1.0 + 2f32.powi(-8), // a tie: to even (1.0)
        1.0 + 3.0 * 2f32.powi(-8),
        f32::from_bits(1), // 2^-149 is below half the smallest bf16 subnormal 2^-133
        -0.0,
    ];
    let w = words(&CastBf16, &x);
    assert_eq!(w[0], 0x7f7f);
    assert_eq!(w[1] & 0x8000, 0x8000);
    assert_eq!(w[2..], [0x3f80, 0x3f82, 0x0000, 0x8000]);
    assert_eq!(words(&CastBf16, &[1e300f64, -1e300])[..], [0x7f7f, 0xff7f]);
}

#[test]
fn relative_error_on_the_normal_range() {
    let mut rng = squeeze_core::SqueezeRng::from_seed_u64(9);
    let x: Vec<f32> = (0..500)
        .map(|_| ((rng.next_f64() - 0.5) * 2f64.powi((rng.below(27) as i32) - 12)) as f32)
        .collect();
    for (c, u) in [
        (&CastF16 as &dyn Compressor<f32>, 2f64.powi(-11)),
        (&CastBf16, 2f64.powi(-8)),
    ] {
        let v = dense(c, &x, 0);
        for (a, &b) in v.iter().zip(&x) {
            let b = b as f64;
            if b.abs() >= 2f64.powi(-14) && b.abs() <= 65504.0 {
                assert!((a - b).abs() <= u * b.abs(), "{} {a} vs {b}", c.spec());
            }
        }
        let xx: f64 = x.iter().map(|&b| (b as f64).powi(2)).sum();
        let e = dist2_sq(&v, &x.iter().map(|&b| b as f64).collect::<Vec<_>>()).unwrap();
        assert!(e <= u * u * xx, "{}: {e} > {}", c.spec(), u * u * xx);
    }
}

/// Every finite pattern of `S` is sent as itself.
fn identity_on_every_pattern<S: Scalar>(c: &dyn Compressor<S>) {
    let all: Vec<S> = (0..=u16::MAX as u64)
        .map(S::from_bits_u64)
        .filter(|v| v.is_finite())
        .collect();
    let w = words(c, &all);
    assert!(
        w.iter()
            .zip(&all)
            .all(|(&w, v)| w as u64 == v.to_bits_u64())
    );
}

#[test]
fn casts_are_the_identity_on_their_own_type() {
    identity_on_every_pattern::<f16>(&CastF16);
    identity_on_every_pattern::<bf16>(&CastBf16);
    let both = Class::Both {
        alpha: 1.0,
        omega: 0.0,
    };
    assert_eq!(Compressor::<f16>::class(&CastF16, 9), both);
    assert_eq!(Compressor::<bf16>::class(&CastBf16, 9), both);
    assert_eq!(Compressor::<bf16>::class(&CastF16, 9), Class::Neither);
    assert_eq!(Compressor::<f32>::class(&CastBf16, 9), Class::Neither);
}

#[test]
fn non_finite_input_is_refused_at_its_index() {
    for c in [&CastF16 as &dyn Compressor<f32>, &CastBf16, &CastU8] {
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let e = compress_once(c, &[1.0, 2.0, bad, 3.0], 0).unwrap_err();
            assert!(
                matches!(e, CompressError::NonFinite { index: 2, .. }),
                "{}: {e:?}",
                c.spec()
            );
        }
        assert!(compress_once(c, &[], 0).is_err());
    }
}

#[test]
fn uint8_extremes_are_exact_and_constants_cost_nothing() {
    let x = [0.25f64, -3.0, 7.5, 1.0 / 3.0, 7.5];
    for seed in 0..20 {
        let v = dense(&CastU8, &x, seed);
        assert_eq!((v[1], v[2], v[4]), (-3.0, 7.5, 7.5));
        let step = 10.5 / 255.0;
        for (a, b) in v.iter().zip(&x) {
            assert!((a - b).abs() <= step * (1.0 + 1e-12), "{a} vs {b}");
        }
    }
    let m = compress_once(&CastU8, &[2.5f32; 7], 0).unwrap();
    assert_eq!(m.to_dense().unwrap(), vec![2.5; 7]);
    assert_eq!(m.bits(), 4 + 2 + 64 + 8 * 7);
    assert_eq!(Compressor::<f32>::class(&CastU8, 2).omega(), Some(0.0));
}

#[test]
fn uint8_is_unbiased_within_its_variance() {
    let x = [0.1f32, -0.7, 0.33, 0.9, 0.0, -0.2, 0.5, 0.61];
    let n = 4000;
    let mut mean = [0.0f64; 8];
    let mut err = 0.0;
    for seed in 0..n {
        let v = dense(&CastU8, &x, seed);
        for (m, a) in mean.iter_mut().zip(&v) {
            *m += a / n as f64;
        }
        err += v
            .iter()
            .zip(&x)
            .map(|(a, &b)| (a - b as f64).powi(2))
            .sum::<f64>()
            / n as f64;
    }
    let xx: f64 = x.iter().map(|&b| (b as f64).powi(2)).sum();
    let omega = u8_omega(8);
    assert!(err <= omega * xx, "{err} > ω‖x‖² = {}", omega * xx);
    let step = 1.6 / 255.0;
    for (m, &b) in mean.iter().zip(&x) {
        // Standard error of a mean of n values with spread ≤ Δ/2: Δ/(2√n); 6 of them.
        assert!((m - b as f64).abs() <= 6.0 * step / (2.0 * (n as f64).sqrt()) + 1e-7);
    }
}

#[test]
fn uint8_in_half_precision_and_overflowing_f64_ranges() {
    let x: Vec<f16> = [-60000.0, 60000.0, 1.0, -0.5]
        .iter()
        .map(|&v| f16::from_f64(v))
        .collect();
    let v = dense(&CastU8, &x, 1);
    assert_eq!((v[0], v[1]), (-60000.0, 60000.0)); // range 120000 > f16::MAX is fine
    let e = compress_once(&CastU8, &[-f64::MAX, f64::MAX], 0).unwrap_err();
    assert!(e.to_string().contains("rescale"), "{e}");
}

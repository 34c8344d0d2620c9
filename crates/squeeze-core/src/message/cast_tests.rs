//! Unit tests of the `Cast` wire form: round trips and exact bits in every scalar type,
//! decoded values, and malformed bytes refused.

use super::*;
use crate::BitConvention;
use crate::bits::BitWriter;
use crate::scalar::Scalar;
use crate::{bf16, f16};

fn samples<S: Scalar>() -> Vec<Message<S>> {
    vec![
        // 1.0, −2.0, the smallest subnormal, 65504, −0.
        Message::Cast {
            format: CastFormat::F16,
            words: vec![0x3c00, 0xc000, 0x0001, 0x7bff, 0x8000],
        },
        // 1.0, −2.0, 2^-133 (subnormal), 1.5, 0.
        Message::Cast {
            format: CastFormat::Bf16,
            words: vec![0x3f80, 0xc000, 0x0001, 0x3fc0, 0x0000],
        },
        Message::Cast {
            format: CastFormat::U8 {
                min: S::from_f64(-1.0),
                max: S::from_f64(4.0),
            },
            words: vec![0, 255, 51, 7, 128],
        },
    ]
}

fn round_trip<S: Scalar>() {
    for m in samples::<S>() {
        m.validate().unwrap();
        let mut w = BitWriter::new();
        m.encode(&mut w);
        assert_eq!(w.bit_len(), m.bits(), "{m:?}");
        let bytes = m.to_bytes();
        assert_eq!(bytes.len() as u64, m.bits().div_ceil(8));
        assert_eq!(Message::<S>::decode(&bytes, 5).unwrap(), m);
        assert_eq!(m.dim(), 5);
        assert_eq!(m.entries(), 5);
        // Nested inside a wrapper too.
        let s = Message::Scaled {
            scale: S::from_f64(0.5),
            inner: Box::new(m.clone()),
        };
        assert_eq!(Message::<S>::decode(&s.to_bytes(), 5).unwrap(), s);
        // The presets charge the exact payload.
        assert_eq!(m.bits_under(BitConvention::Values64), m.bits() - 4);
    }
    let [f, b, u] = samples::<S>().try_into().unwrap();
    assert_eq!(f.bits(), 4 + 2 + 16 * 5);
    assert_eq!(b.bits(), 4 + 2 + 16 * 5);
    assert_eq!(u.bits(), 4 + 2 + 2 * S::BITS as u64 + 8 * 5);
}

#[test]
fn round_trip_and_exact_bits_in_every_scalar_type() {
    round_trip::<f32>();
    round_trip::<f64>();
    round_trip::<f16>();
    round_trip::<bf16>();
}

#[test]
fn decoded_values() {
    let [f, b, u] = samples::<f64>().try_into().unwrap();
    let tiny16 = 2f64.powi(-24);
    assert_eq!(f.to_dense().unwrap(), vec![1.0, -2.0, tiny16, 65504.0, 0.0]);
    assert_eq!(
        b.to_dense().unwrap(),
        vec![1.0, -2.0, 2f64.powi(-133), 1.5, 0.0]
    );
    let step = 5.0 / 255.0;
    assert_eq!(
        u.to_dense().unwrap(),
        vec![
            -1.0,
            -1.0 + 255.0 * step,
            0.0,
            -1.0 + 7.0 * step,
            -1.0 + 128.0 * step
        ]
    );
    // add_to scales, and an f16 message read as f16 is exact.
    let mut out = vec![1.0f64; 5];
    f.add_to(&mut out, 2.0).unwrap();
    assert_eq!(out[..2], [3.0, -3.0]);
    let f16m = samples::<f16>().swap_remove(0);
    assert_eq!(f16m.to_dense().unwrap()[3], f16::from_f64(65504.0));
}

#[test]
fn bf16_words_that_overflow_f16_are_refused_in_f16() {
    // 1e5 is a finite bfloat16 but not a finite f16.
    let m = Message::<f16>::Cast {
        format: CastFormat::Bf16,
        words: vec![bf16::from_f64(1e5).to_bits()],
    };
    assert!(m.validate().is_err());
    assert!(m.validate_shape().is_ok());
    let ok = Message::<f32>::Cast {
        format: CastFormat::Bf16,
        words: vec![bf16::from_f64(1e5).to_bits()],
    };
    assert!(Message::<f16>::decode(&ok.to_bytes(), 1).is_err());
    assert!(Message::<f32>::decode(&ok.to_bytes(), 1).is_ok());
}

/// Bits of a raw `Cast` stream: tag, format, optional u8 range, words.
fn raw(format: u64, range: Option<(f32, f32)>, words: &[u16], word_bits: u32) -> Vec<u8> {
    let mut w = BitWriter::new();
    w.write(super::super::TAG_CAST, super::super::TAG_BITS);
    w.write(format, FORMAT_BITS);
    if let Some((lo, hi)) = range {
        w.write(lo.to_bits() as u64, 32);
        w.write(hi.to_bits() as u64, 32);
    }
    for &x in words {
        w.write(x as u64, word_bits);
    }
    w.finish().to_vec()
}

#[test]
fn malformed_bytes_are_refused() {
    let bad = |bytes: &[u8], dim: usize, needle: &str| {
        let e = Message::<f32>::decode(bytes, dim).unwrap_err().to_string();
        assert!(e.contains(needle), "{needle}: {e}");
    };
    // The well-formed reference decodes.
    assert!(Message::<f32>::decode(&raw(0, None, &[0x3c00, 0x4000], 16), 2).is_ok());
    bad(&raw(3, None, &[0x3c00, 0x4000], 16), 2, "cast format");
    bad(&raw(0, None, &[0x3c00, 0x7c00], 16), 2, "cast value"); // +∞
    bad(&raw(0, None, &[0x7e00, 0x3c00], 16), 2, "cast value"); // NaN
    bad(&raw(1, None, &[0x3f80, 0xff80], 16), 2, "cast value"); // bf16 −∞
    bad(&raw(0, None, &[0x3c00], 16), 2, "truncated");
    bad(&raw(0, None, &[0x3c00, 0x3c00, 0x3c00], 16), 2, "trailing");
    assert!(Message::<f32>::decode(&raw(2, Some((-1.0, 1.0)), &[0, 255], 8), 2).is_ok());
    bad(&raw(2, Some((1.0, -1.0)), &[0, 255], 8), 2, "u8 range");
    bad(&raw(2, Some((f32::NAN, 1.0)), &[0, 255], 8), 2, "u8 range");
    bad(
        &raw(2, Some((-1.0, f32::INFINITY)), &[0, 255], 8),
        2,
        "u8 range",
    );
    bad(&raw(2, Some((-1.0, 1.0)), &[0], 8), 2, "truncated");
    // A full-range f32 grid: max − min overflows f32 but not the f64 the grid is evaluated in.
    let wide = raw(2, Some((-f32::MAX, f32::MAX)), &[0, 255], 8);
    assert!(Message::<f32>::decode(&wide, 2).is_ok());
}

#[test]
fn hand_built_invariant_violations_are_refused() {
    let code = Message::<f32>::Cast {
        format: CastFormat::U8 { min: 0.0, max: 1.0 },
        words: vec![256],
    };
    assert!(code.validate_shape().is_err());
    assert_eq!(code.to_bytes(), vec![0x0f]);
    assert!(code.add_to(&mut [0.0], 1.0).is_err());
    let inf = Message::<f32>::Cast {
        format: CastFormat::F16,
        words: vec![0xfc00],
    };
    assert!(inf.validate().is_err() && inf.validate_shape().is_ok());
    let mut out = [0.0f32];
    inf.add_to(&mut out, 1.0).unwrap(); // applied faithfully, as a non-finite Dense value
    assert_eq!(out[0], f32::NEG_INFINITY);
    let range = Message::<f64>::Cast {
        format: CastFormat::U8 {
            min: -f64::MAX,
            max: f64::MAX,
        },
        words: vec![0],
    };
    assert!(range.validate().is_err()); // max − min overflows f64
}

#[test]
fn cast_parts_reuse_the_buffer() {
    let mut m = Message::<f32>::default();
    m.cast_parts(CastFormat::F16).1.extend([1, 2, 3]);
    let cap = match &m {
        Message::Cast { words, .. } => words.capacity(),
        _ => unreachable!(),
    };
    let (f, words) = m.cast_parts(CastFormat::U8 { min: 0.0, max: 0.0 });
    assert!(words.is_empty() && words.capacity() == cap);
    *f = CastFormat::U8 {
        min: -1.0,
        max: 1.0,
    };
    words.push(255);
    assert_eq!(m.to_dense().unwrap(), vec![1.0]);
}

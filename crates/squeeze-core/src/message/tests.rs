//! Unit tests of the wire format.

use super::*;
use crate::bits::BitWriter;
use crate::error::{DecodeError, MessageError};

fn samples() -> Vec<Message<f32>> {
    let q = Message::Quantized {
        norm: 2.0,
        levels: Levels::Uniform { s: 4 },
        codes: vec![0, 4, -2, 1, 0],
    };
    vec![
        Message::Dense {
            values: vec![1.0, -2.0, 0.0, 3.5, 1e-30],
        },
        Message::Sparse {
            dim: 5,
            indices: vec![0, 4],
            values: vec![1.0, -1.0],
        },
        Message::Sign {
            dim: 5,
            scale: 0.5,
            negative: vec![0b10110],
        },
        q.clone(),
        Message::Quantized {
            norm: 1.0,
            levels: Levels::Geometric { base: 2.0, s: 3 },
            codes: vec![0, 3, -1, 2, 0],
        },
        Message::Natural {
            values: vec![0.0, -0.5, 4.0, 1.0, -0.0],
        },
        Message::Scaled {
            scale: 0.25,
            inner: Box::new(q.clone()),
        },
        Message::Composed {
            dim: 5,
            indices: vec![1, 3],
            inner: Box::new(Message::Dense {
                values: vec![7.0, 8.0],
            }),
        },
        Message::Pair(Box::new([Message::Skip { dim: 5 }, q.clone()])),
        Message::Indexed {
            width: 3,
            index: 5,
            inner: Box::new(q),
        },
        Message::Indexed {
            width: 1,
            index: 0,
            inner: Box::new(Message::Skip { dim: 5 }),
        },
    ]
}

#[test]
fn round_trip_and_exact_bits() {
    for m in samples() {
        m.validate().unwrap();
        let mut w = BitWriter::new();
        m.encode(&mut w);
        assert_eq!(w.bit_len(), m.bits(), "{m:?}");
        let bytes = w.finish().to_vec();
        let back = Message::<f32>::decode(&bytes, 5).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.to_dense().unwrap(), m.to_dense().unwrap());
    }
}

#[test]
fn decoded_values() {
    let s = samples();
    assert_eq!(s[2].to_dense().unwrap(), vec![0.5, -0.5, -0.5, 0.5, -0.5]);
    assert_eq!(s[3].to_dense().unwrap(), vec![0.0, 2.0, -1.0, 0.5, 0.0]);
    assert_eq!(s[4].to_dense().unwrap(), vec![0.0, 1.0, -0.25, 0.5, 0.0]);
    assert_eq!(s[6].to_dense().unwrap(), vec![0.0, 0.5, -0.25, 0.125, 0.0]);
    assert_eq!(s[7].to_dense().unwrap(), vec![0.0, 7.0, 0.0, 8.0, 0.0]);
    assert_eq!(s[8].to_dense().unwrap(), s[3].to_dense().unwrap());
    assert_eq!(s[9].to_dense().unwrap(), s[3].to_dense().unwrap());
    assert_eq!(s[9].index(), Some(5));
    assert_eq!(s[9].bits(), s[3].bits() + 4 + 4 + 3);
    assert_eq!(s[9].entries(), s[3].entries());
    assert_eq!(s[10].to_dense().unwrap(), vec![0.0; 5]);
}

#[test]
fn malformed_indexed_is_rejected() {
    let inner = Box::new(Message::<f32>::Dense {
        values: vec![1.0; 5],
    });
    // Width 0, width 16 (does not fit the 4-bit field) and an index wider than its width.
    for (width, index) in [(0u8, 0u16), (16, 0), (2, 4)] {
        let m = Message::Indexed {
            width,
            index,
            inner: inner.clone(),
        };
        assert!(m.validate().is_err(), "{width} {index}");
    }
    // Width 0 on the wire: tag 9, then a zero width field.
    let good = Message::Indexed {
        width: 1,
        index: 1,
        inner: inner.clone(),
    }
    .to_bytes();
    let mut zero = good.clone();
    zero[0] &= 0x0f;
    assert!(matches!(
        Message::<f32>::decode(&zero, 5),
        Err(DecodeError::BadField {
            what: "index width",
            ..
        })
    ));
    // Truncation anywhere is an error; so is a trailing byte.
    for cut in 1..good.len() {
        assert!(
            Message::<f32>::decode(&good[..cut], 5).is_err(),
            "cut {cut}"
        );
    }
    let mut long = good.clone();
    long.push(0);
    assert!(Message::<f32>::decode(&long, 5).is_err());
    // Nesting: five Indexed layers exceed MAX_DEPTH.
    let mut deep = Message::<f32>::Dense { values: vec![0.0] };
    for _ in 0..=MAX_DEPTH {
        deep = Message::Indexed {
            width: 1,
            index: 0,
            inner: Box::new(deep),
        };
    }
    assert!(deep.validate().is_err());
    assert!(Message::<f32>::decode(&deep.to_bytes(), 1).is_err());
}

#[test]
fn malformed_input_is_rejected() {
    let good = samples()[1].to_bytes();
    // Truncation anywhere is an error.
    for cut in 0..good.len() {
        let r = Message::<f32>::decode(&good[..cut], 5);
        assert!(cut == 0 || r.is_err(), "cut {cut}");
    }
    // Trailing byte.
    let mut long = good.clone();
    long.push(0);
    assert!(matches!(
        Message::<f32>::decode(&long, 5),
        Err(DecodeError::TrailingData { .. })
    ));
    // Unsorted indices.
    let bad = Message::<f32>::Sparse {
        dim: 5,
        indices: vec![3, 1],
        values: vec![1.0, 1.0],
    };
    assert!(bad.validate().is_err());
    assert!(matches!(
        Message::<f32>::decode(&bad.to_bytes(), 5),
        Err(DecodeError::IndicesNotIncreasing { .. })
    ));
    // Non-finite scale.
    let nan = Message::<f32>::Sign {
        dim: 5,
        scale: f32::NAN,
        negative: vec![0],
    };
    assert!(matches!(
        Message::<f32>::decode(&nan.to_bytes(), 5),
        Err(DecodeError::BadField { .. })
    ));
    // Index out of range: encode for d = 8, decode as d = 5.
    let wide = Message::<f32>::Sparse {
        dim: 8,
        indices: vec![7],
        values: vec![1.0],
    };
    assert!(Message::<f32>::decode(&wide.to_bytes(), 5).is_err());
}

#[test]
fn add_to_checks_dimension() {
    let m = &samples()[0];
    let mut out = vec![0.0f32; 4];
    assert!(matches!(
        m.add_to(&mut out, 1.0),
        Err(MessageError::DimensionMismatch {
            message: 5,
            buffer: 4
        })
    ));
}

#[test]
fn log2_binomial() {
    assert_eq!(log2_binomial_ceil(1024, 2), 19);
    assert_eq!(log2_binomial_ceil(10, 0), 0);
    assert_eq!(log2_binomial_ceil(4, 2), 3); // C(4,2) = 6
    // Stirling branch agrees with the exact sum near the switch.
    let exact: f64 = (0..5000u64)
        .map(|i| ((100_000 - i) as f64 / (i + 1) as f64).log2())
        .sum();
    assert_eq!(log2_binomial_ceil(100_000, 5000), exact.ceil() as u64);
}

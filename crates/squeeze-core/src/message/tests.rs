//! Unit tests of the wire format.

use super::*;
use crate::bits::BitWriter;
use crate::error::{DecodeError, MessageError};

/// The bytes `encode` would write without validating first (to feed the decoder malformed
/// input).
fn raw_bytes(m: &Message<f32>) -> Vec<u8> {
    let mut w = BitWriter::new();
    let _clean = m.encode_tagged(&mut w);
    w.finish().to_vec()
}

/// `Concat` of Dense [1, −2] and Sparse (d = 3) with 4 at index 2: [1, −2, 0, 0, 4].
fn dense_then_sparse() -> Message<f32> {
    Message::Concat(Box::new([
        Message::Dense {
            values: vec![1.0, -2.0],
        },
        Message::Sparse {
            dim: 3,
            indices: vec![2],
            values: vec![4.0],
        },
    ]))
}

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
            inner: Box::new(q.clone()),
        },
        Message::Indexed {
            width: 1,
            index: 0,
            inner: Box::new(Message::Skip { dim: 5 }),
        },
        dense_then_sparse(),
        Message::Concat(Box::new([
            Message::Skip { dim: 0 },
            Message::Scaled {
                scale: 0.25,
                inner: Box::new(q.clone()),
            },
        ])),
        Message::Binary {
            dim: 5,
            block: 2,
            levels: vec![1.5, -0.5, 2.0, -4.0, 0.25, 0.0],
            negative: vec![0b01010],
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
    assert_eq!(deep.to_bytes(), vec![0x0f]);
    assert!(Message::<f32>::decode(&raw_bytes(&deep), 1).is_err());
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
        Message::<f32>::decode(&raw_bytes(&bad), 5),
        Err(DecodeError::IndicesNotIncreasing { .. })
    ));
    // Non-finite scale.
    let nan = Message::<f32>::Sign {
        dim: 5,
        scale: f32::NAN,
        negative: vec![0],
    };
    assert!(matches!(
        Message::<f32>::decode(&raw_bytes(&nan), 5),
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

/// Every broken invariant is refused by `validate`, `try_to_bytes` and (when structural) by
/// `add_to`, which then leaves the buffer untouched; `to_bytes` sends the reserved tag.
#[test]
fn hand_built_invariant_violations_are_refused() {
    let dense = |n: usize| {
        Box::new(Message::<f32>::Dense {
            values: vec![1.0; n],
        })
    };
    // (message, whether add_to must refuse it too)
    let cases: Vec<(Message<f32>, bool)> = vec![
        (
            Message::Sparse {
                dim: 5,
                indices: vec![0, 1, 2],
                values: vec![1.0],
            },
            true,
        ),
        (
            Message::Sparse {
                dim: 5,
                indices: vec![5],
                values: vec![1.0],
            },
            true,
        ),
        (
            Message::Sparse {
                dim: 5,
                indices: vec![2, 2],
                values: vec![1.0, 1.0],
            },
            true,
        ),
        (
            Message::Sign {
                dim: 130,
                scale: 1.0,
                negative: vec![0, 0],
            },
            true,
        ),
        (
            Message::Sign {
                dim: 5,
                scale: 1.0,
                negative: vec![1 << 7],
            },
            false,
        ),
        (
            Message::Quantized {
                norm: 1.0,
                levels: Levels::Uniform { s: 0 },
                codes: vec![0; 5],
            },
            true,
        ),
        (
            Message::Quantized {
                norm: 1.0,
                levels: Levels::Uniform { s: 3 },
                codes: vec![0, 4, 0, 0, 0],
            },
            true,
        ),
        (
            Message::Quantized {
                norm: 1.0,
                levels: Levels::Geometric { base: 1.0, s: 3 },
                codes: vec![0; 5],
            },
            false,
        ),
        (
            Message::Natural {
                values: vec![3.0; 5],
            },
            false,
        ),
        (
            Message::Composed {
                dim: 5,
                indices: vec![1, 3],
                inner: dense(3),
            },
            true,
        ),
        (
            Message::Composed {
                dim: 5,
                indices: vec![1, 7],
                inner: dense(2),
            },
            true,
        ),
        (Message::Pair(Box::new([*dense(5), *dense(4)])), true),
        (
            Message::Indexed {
                width: 40,
                index: 0,
                inner: dense(5),
            },
            true,
        ),
        (
            Message::Indexed {
                width: 2,
                index: 4,
                inner: dense(5),
            },
            true,
        ),
        (
            Message::Scaled {
                scale: f32::NAN,
                inner: dense(5),
            },
            false,
        ),
    ];
    for (m, structural) in cases {
        assert!(m.validate().is_err(), "{m:?}");
        assert_eq!(m.validate_shape().is_err(), structural, "{m:?}");
        assert!(matches!(m.try_to_bytes(), Err(MessageError::Invalid(_))));
        assert_eq!(m.to_bytes(), vec![0x0f], "{m:?}");
        let _ = m.bits();
        let mut out = vec![7.0f32; m.dim()];
        let r = m.add_to(&mut out, 1.0);
        assert_eq!(r.is_err(), structural, "{m:?}");
        if structural {
            assert_eq!(out, vec![7.0; m.dim()], "partial write for {m:?}");
            let hint = r.unwrap_err().to_string();
            assert!(hint.contains("Message::validate"), "{hint}");
        }
    }
}

/// Nesting far beyond the wire format's limit: no recursion without bound anywhere.
#[test]
fn deep_nesting_is_refused_without_deep_recursion() {
    let mut m = Message::<f32>::Dense {
        values: vec![1.0, 2.0],
    };
    for i in 0..5_000 {
        m = match i % 3 {
            0 => Message::Scaled {
                scale: 1.0,
                inner: Box::new(m),
            },
            1 => Message::Indexed {
                width: 1,
                index: 0,
                inner: Box::new(m),
            },
            _ => Message::Pair(Box::new([Message::Skip { dim: 2 }, m])),
        };
    }
    assert_eq!(m.dim(), 2);
    assert_eq!(m.bits(), u64::MAX);
    assert_eq!(m.entries(), u64::MAX);
    assert_eq!(m.bits_under(BitConvention::Values32), u64::MAX);
    let err = m.validate().unwrap_err().to_string();
    assert!(err.contains("deeper than 4 levels"), "{err}");
    let mut out = vec![0.0f32; 2];
    assert!(m.add_to(&mut out, 1.0).is_err());
    assert_eq!(out, vec![0.0, 0.0]);
    assert_eq!(m.to_bytes(), vec![0x0f]);
    assert!(m.to_dense().is_err());
}

/// Exactly `MAX_DEPTH` wrappers encode and decode; one more is refused on both sides.
#[test]
fn nesting_limit_is_the_same_for_encoder_and_decoder() {
    let wrap = |levels: u32| {
        let mut m = Message::<f32>::Dense { values: vec![1.5] };
        for _ in 0..levels {
            m = Message::Scaled {
                scale: 2.0,
                inner: Box::new(m),
            };
        }
        m
    };
    let ok = wrap(MAX_DEPTH);
    let bytes = ok.try_to_bytes().unwrap();
    assert_eq!(Message::<f32>::decode(&bytes, 1).unwrap(), ok);
    assert_eq!(ok.to_dense().unwrap(), vec![1.5 * 16.0]);
    let deep = wrap(MAX_DEPTH + 1);
    assert!(deep.try_to_bytes().is_err());
    assert!(Message::<f32>::decode(&raw_bytes(&deep), 1).is_err());
}

/// Sizes that overflow `u64` saturate instead of panicking.
#[test]
fn huge_claimed_dimensions_do_not_overflow() {
    let m = Message::<f32>::Sign {
        dim: usize::MAX,
        scale: 1.0,
        negative: vec![],
    };
    assert_eq!(m.bits(), u64::MAX);
    assert_eq!(m.to_bytes(), vec![0x0f]);
    let s = Message::<f32>::Sparse {
        dim: usize::MAX,
        indices: vec![1],
        values: vec![1.0],
    };
    assert_eq!(s.bits(), 4 + 64 + 64 + 32);
    assert!(s.validate().is_err());
    let mut out = vec![0.0f32; 3];
    assert!(matches!(
        s.add_to(&mut out, 1.0),
        Err(MessageError::DimensionMismatch { .. })
    ));
}

#[test]
fn binary_values_bits_and_malformed_input() {
    let m = samples().pop().unwrap();
    // blocks {0,1} {2,3} {4}: bits 0 1 0 1 0
    assert_eq!(m.to_dense().unwrap(), vec![1.5, -0.5, 2.0, -4.0, 0.25]);
    // tag + block field w(6) = 3 + 6 levels × 32 + 5 bits
    assert_eq!(m.bits(), 4 + 3 + 6 * 32 + 5);
    assert_eq!(m.entries(), 5);
    assert_eq!(m.bits_under(BitConvention::Values32), 3 + 6 * 32 + 5);
    let mut out = vec![1.0f32; 5];
    m.add_to(&mut out, -2.0).unwrap();
    assert_eq!(out, vec![-2.0, 2.0, -3.0, 9.0, 0.5]);
    // Inside a composition (visit path).
    let c = Message::Composed {
        dim: 7,
        indices: vec![0, 2, 3, 5, 6],
        inner: Box::new(m.clone()),
    };
    assert_eq!(
        c.to_dense().unwrap(),
        vec![1.5, 0.0, -0.5, 2.0, 0.0, -4.0, 0.25]
    );
    // The empty message.
    let empty = Message::<f32>::Binary {
        dim: 0,
        block: 0,
        levels: vec![],
        negative: vec![],
    };
    assert_eq!(Message::<f32>::decode(&empty.to_bytes(), 0).unwrap(), empty);
    // Hand-built violations.
    let with = |block: usize, levels: Vec<f32>, negative: Vec<u64>| Message::Binary {
        dim: 5,
        block,
        levels,
        negative,
    };
    for (bad, needle, on_wire) in [
        (with(0, vec![], vec![0]), "binary block", true),
        (with(6, vec![1.0, 2.0], vec![0]), "binary block", true),
        (with(2, vec![1.0, 2.0], vec![0]), "binary levels", true),
        (with(5, vec![1.0, f32::NAN], vec![0]), "binary level", true),
        (with(5, vec![1.0, 2.0], vec![]), "binary words", false),
        (
            with(5, vec![1.0, 2.0], vec![1 << 5]),
            "unused sign bits",
            false,
        ),
    ] {
        let e = bad.validate().unwrap_err().to_string();
        assert!(e.contains(needle), "{bad:?}: {e}");
        assert_eq!(bad.to_bytes(), vec![0x0f]);
        // The decoder refuses the same fields written without the check.
        if on_wire {
            assert!(
                Message::<f32>::decode(&raw_bytes(&bad), 5).is_err(),
                "{bad:?}"
            );
        }
    }
    // Shape checks only the structure: a NaN level is applied as it is.
    assert!(
        with(5, vec![1.0, f32::NAN], vec![0])
            .validate_shape()
            .is_ok()
    );
    assert!(with(2, vec![1.0, 2.0], vec![0]).validate_shape().is_err());
    // Truncated input.
    let bytes = m.to_bytes();
    assert!(matches!(
        Message::<f32>::decode(&bytes[..bytes.len() - 2], 5),
        Err(DecodeError::Truncated { .. })
    ));
}

/// `Concat` decodes to the first part followed by the second, writes the first part's
/// dimension in w(d+1) bits, and the decoder refuses a first part longer than the message.
#[test]
fn concat_places_its_parts_one_after_the_other() {
    let m = dense_then_sparse();
    assert_eq!(m.dim(), 5);
    assert_eq!(m.entries(), 3);
    assert_eq!(m.to_dense().unwrap(), vec![1.0, -2.0, 0.0, 0.0, 4.0]);
    let mut out = vec![1.0f32; 5];
    m.add_to(&mut out, 2.0).unwrap();
    assert_eq!(out, vec![3.0, -3.0, 1.0, 1.0, 9.0]);
    // tag + k in w(6) = 3 bits + dense (tag + 2 values) + sparse (tag + count w(4) + index w(3) + value)
    assert_eq!(m.bits(), 4 + 3 + (4 + 64) + (4 + 2 + 2 + 32));
    assert_eq!(m.bits_under(crate::BitConvention::Values32), 3 * 32);
    // Inside a composition the positions are offset by the first part's dimension.
    let c = Message::<f32>::Composed {
        dim: 6,
        indices: vec![0, 2, 5],
        inner: Box::new(Message::Concat(Box::new([
            Message::Dense { values: vec![7.0] },
            Message::Dense {
                values: vec![8.0, 9.0],
            },
        ]))),
    };
    assert_eq!(c.to_dense().unwrap(), vec![7.0, 0.0, 8.0, 0.0, 0.0, 9.0]);
    let bytes = c.to_bytes();
    assert_eq!(Message::<f32>::decode(&bytes, 6).unwrap(), c);
    // A first part claiming 6 of 5 coordinates: tag 12, then k = 6 in 3 bits.
    let mut w = BitWriter::new();
    w.write(12, 4);
    w.write(6, 3);
    w.write(0, 4);
    w.write(0, 4);
    let bytes = w.finish().to_vec();
    assert!(matches!(
        Message::<f32>::decode(&bytes, 5),
        Err(DecodeError::CountTooLarge { count: 6, dim: 5 })
    ));
    // Buffers are reused.
    let mut r = Message::<f32>::default();
    let (a, b) = r.concat_parts();
    a.dense_parts().push(1.0);
    b.set_skip(2);
    assert_eq!(r.to_dense().unwrap(), vec![1.0, 0.0, 0.0]);
}

/// The dispatched flat loops of `add_to` (dense, sign, uniform levels) give, bit for bit, the
/// entrywise sums, at lengths around the vector widths and the 64-entry sign words.
#[test]
fn flat_add_to_matches_the_entrywise_sum() {
    let a = -0.37f32;
    for d in [0usize, 1, 7, 15, 16, 17, 63, 64, 65, 200, 1000] {
        let x: Vec<f32> = (0..d)
            .map(|j| ((j * 37 % 101) as f32 - 50.0) / 7.0)
            .collect();
        let out0: Vec<f32> = (0..d).map(|j| [0.0, -0.0, 1.5, -3.25][j % 4]).collect();
        // Pseudo-random sign words, the unused bits of the last one cleared.
        let negative: Vec<u64> = (0..d.div_ceil(64))
            .map(|i| {
                let w = 0x9e37_79b9_7f4a_7c15u64.rotate_left(i as u32 * 5);
                let used = (d - 64 * i).min(64);
                if used == 64 { w } else { w & ((1 << used) - 1) }
            })
            .collect();
        let codes: Vec<i16> = (0..d).map(|j| (j as i16 * 5) % 9 - 4).collect();
        let bit = |j: usize| (negative[j / 64] >> (j % 64)) & 1 == 1;
        let cases: Vec<(Message<f32>, Vec<f32>)> = vec![
            (
                Message::Dense { values: x.clone() },
                (0..d).map(|j| out0[j] + 2.0 * x[j]).collect(),
            ),
            (
                Message::Sign {
                    dim: d,
                    scale: a,
                    negative: negative.clone(),
                },
                (0..d)
                    .map(|j| out0[j] + if bit(j) { -(2.0 * a) } else { 2.0 * a })
                    .collect(),
            ),
            (
                Message::Quantized {
                    norm: 1.0,
                    levels: Levels::Uniform { s: 8 },
                    codes: codes.clone(),
                },
                (0..d)
                    .map(|j| out0[j] + (2.0 * 1.0 / 8.0) * codes[j] as f32)
                    .collect(),
            ),
        ];
        for (m, want) in cases {
            let mut got = out0.clone();
            m.add_to(&mut got, 2.0).unwrap();
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "d = {d}, {m:?}");
        }
    }
}

/// The one-pass natural check passes exactly the finite signed powers of two and zeros; any
/// other value gets the error of the detailed passes, which name it (the first non-finite
/// entry, else the first value with a mantissa).
#[test]
fn natural_check_names_the_bad_value() {
    fn case<S: Scalar>() {
        let good: Vec<S> = (0..300)
            .map(|j| S::from_f64([0.0, -0.0, 0.5, -8.0, 1.0, 2.0f64.powi(-10)][j % 6]))
            .collect();
        assert!(
            Message::Natural {
                values: good.clone()
            }
            .validate()
            .is_ok()
        );
        for (bad, want) in [
            (
                3.0,
                "natural value: 3 is not zero or a power of two".to_string(),
            ),
            (f64::INFINITY, "natural value: entry 201 is inf".to_string()),
            (
                f64::NEG_INFINITY,
                "natural value: entry 201 is -inf".to_string(),
            ),
            (f64::NAN, "natural value: entry 201 is NaN".to_string()),
        ] {
            let mut values = good.clone();
            values[201] = S::from_f64(bad);
            let m = Message::Natural { values };
            let err = m.validate().unwrap_err();
            assert!(err.to_string().contains(&want), "{}: {err}", S::NAME);
            // The encoder checks the values as it packs them: the same error, and the writer
            // back where it was, alone or after a good part of a pair.
            let pair = Message::Pair(Box::new([
                Message::Natural {
                    values: good.clone(),
                },
                m.clone(),
            ]));
            for msg in [&m, &pair] {
                let mut w = BitWriter::new();
                w.write(0x1abc, 13);
                let e = msg.try_encode(&mut w).unwrap_err();
                assert!(e.to_string().contains(&want), "{}: {e}", S::NAME);
                assert_eq!((w.bit_len(), w.into_bytes()), (13, vec![0xbc, 0x1a]));
                assert!(msg.try_to_bytes().is_err());
                assert_eq!(msg.to_bytes(), vec![TAG_INVALID as u8]);
            }
        }
    }
    case::<f32>();
    case::<f64>();
    case::<half::f16>();
    case::<half::bf16>();
}

/// The encoder checks the code levels as it packs them: a level above `s`, in a message alone
/// or as the second half of a pair (in `f32` and `f64`), fails `try_encode` with the error of
/// `validate` and leaves the writer where it was; `to_bytes` gives the invalid tag. The codes
/// take each path of the packer: mixed (the field loop), mostly zero (the sparse pieces), no
/// zero at all (the dense blocks, where `pext` is fast).
#[test]
fn code_level_check_happens_while_packing() {
    fn case<S: Scalar>() {
        let quantized = |codes: Vec<i16>| Message::<S>::Quantized {
            norm: S::from_f64(2.0),
            levels: Levels::Uniform { s: 5 },
            codes,
        };
        let mixed: Vec<i16> = (0..300).map(|j| (j % 11) as i16 - 5).collect();
        let sparse: Vec<i16> = (0..9000).map(|j| i16::from(j % 100 == 0) * 3).collect();
        let dense: Vec<i16> = (0..300).map(|j| (j % 5) as i16 + 1).collect();
        for (good, at) in [(mixed, 201), (sparse, 8191), (dense, 290)] {
            let mut bad = good.clone();
            bad[at] = 6;
            let m = quantized(bad);
            let err = m.validate().unwrap_err().to_string();
            assert!(err.contains("6 exceeds s = 5"), "{err}");
            assert!(
                quantized(good.clone())
                    .try_encode(&mut BitWriter::new())
                    .is_ok()
            );
            let pair = Message::Pair(Box::new([quantized(good), m.clone()]));
            for msg in [&m, &pair] {
                let mut w = BitWriter::new();
                w.write(0x1abc, 13);
                let e = msg.try_encode(&mut w).unwrap_err().to_string();
                assert!(e.contains(&err), "{}: {e}", S::NAME);
                assert_eq!((w.bit_len(), w.into_bytes()), (13, vec![0xbc, 0x1a]));
                assert_eq!(msg.to_bytes(), vec![TAG_INVALID as u8]);
            }
        }
    }
    case::<f32>();
    case::<f64>();
}

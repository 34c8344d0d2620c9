//! Hand-built messages (the variants' fields are public) never panic `bits`, `add_to`,
//! `to_bytes` or `encode`; whatever `try_to_bytes` accepts decodes back to an equal message;
//! everything else is refused with a typed error (or sent as the reserved tag that every
//! decoder rejects), and `add_to` never writes a partial result.

mod common;

use proptest::prelude::*;
use squeeze_core::message::MAX_DEPTH;
use squeeze_core::{BitConvention, BitWriter, CastFormat, Levels, Message, MessageError};

/// Values that hit every scalar check: ordinary, zero, signed zero, powers of two, non-finite.
fn value() -> impl Strategy<Value = f32> {
    prop_oneof![
        6 => -4.0f32..4.0,
        2 => (-3i32..4, any::<bool>()).prop_map(|(e, neg)| {
            let v = 2f32.powi(e);
            if neg { -v } else { v }
        }),
        1 => Just(0.0f32),
        1 => Just(-0.0f32),
        1 => Just(f32::NAN),
        1 => Just(f32::INFINITY),
    ]
}

fn values(max: usize) -> impl Strategy<Value = Vec<f32>> {
    prop::collection::vec(value(), 0..max)
}

/// Strictly increasing indices below `dim` (a valid support).
fn support(dim: usize) -> impl Strategy<Value = Vec<u32>> {
    prop::collection::btree_set(0..dim.max(1) as u32, 0..=dim.min(6))
        .prop_map(move |s| s.into_iter().filter(|&i| (i as usize) < dim).collect())
}

fn leaf() -> impl Strategy<Value = Message<f32>> {
    prop_oneof![
        (0usize..12).prop_map(|dim| Message::Skip { dim }),
        values(12).prop_map(|values| Message::Dense { values }),
        // Consistent sparse messages …
        (0usize..12)
            .prop_flat_map(|d| (Just(d), support(d)))
            .prop_flat_map(|(dim, indices)| {
                let k = indices.len();
                (Just(dim), Just(indices), prop::collection::vec(value(), k))
            })
            .prop_map(|(dim, indices, values)| Message::Sparse {
                dim,
                indices,
                values
            }),
        // … and arbitrary ones (out of range, unsorted, lengths that differ).
        (0usize..12, prop::collection::vec(0u32..14, 0..6), values(6)).prop_map(
            |(dim, indices, values)| Message::Sparse {
                dim,
                indices,
                values
            }
        ),
        (
            0usize..140,
            value(),
            any::<bool>(),
            prop::collection::vec(any::<u64>(), 0..4)
        )
            .prop_map(|(dim, scale, consistent, mut negative)| {
                if consistent {
                    negative.resize(dim.div_ceil(64), u64::MAX);
                    if dim % 64 != 0 {
                        negative[dim / 64] &= (1u64 << (dim % 64)) - 1;
                    }
                }
                Message::Sign {
                    dim,
                    scale,
                    negative,
                }
            }),
        (
            value(),
            0u16..6,
            prop_oneof![Just(2.0f32), value()],
            any::<bool>(),
            prop::collection::vec(-7i16..=7, 0..12)
        )
            .prop_map(|(norm, s, base, geometric, codes)| Message::Quantized {
                norm: norm.abs(),
                levels: if geometric {
                    Levels::Geometric { base, s }
                } else {
                    Levels::Uniform { s }
                },
                codes,
            }),
        values(12).prop_map(|values| Message::Natural { values }),
        (
            0usize..140,
            0usize..142,
            any::<bool>(),
            values(8),
            prop::collection::vec(any::<u64>(), 0..4)
        )
            .prop_map(|(dim, block, consistent, mut levels, mut negative)| {
                if consistent {
                    let block = block.min(dim).max(usize::from(dim > 0));
                    let blocks = if block == 0 { 0 } else { dim.div_ceil(block) };
                    levels.resize(2 * blocks, 1.0);
                    negative.resize(dim.div_ceil(64), u64::MAX);
                    if dim % 64 != 0 {
                        negative[dim / 64] &= (1u64 << (dim % 64)) - 1;
                    }
                    return Message::Binary {
                        dim,
                        block,
                        levels,
                        negative,
                    };
                }
                Message::Binary {
                    dim,
                    block,
                    levels,
                    negative,
                }
            }),
        // Cast words: any 16-bit pattern (∞/NaN included), u8 codes partly above 255.
        (
            0u8..3,
            value(),
            value(),
            prop::collection::vec(prop_oneof![0u16..256, any::<u16>()], 0..12)
        )
            .prop_map(|(f, min, max, words)| Message::Cast {
                format: match f {
                    0 => CastFormat::F16,
                    1 => CastFormat::Bf16,
                    _ => CastFormat::U8 { min, max },
                },
                words,
            }),
        // Low-rank symmetric matrices: consistent shapes and broken ones (r > side, short
        // vectors), values from `value()` (non-finite included).
        (0usize..5, 0usize..4, any::<bool>())
            .prop_flat_map(|(side, r, fit)| {
                let n = if fit { r * side } else { r * side + 1 };
                (
                    Just(side),
                    prop::collection::vec(value(), r),
                    prop::collection::vec(value(), n),
                )
            })
            .prop_map(|(side, weights, vectors)| Message::LowRank {
                side,
                weights,
                vectors,
            }),
    ]
}

/// Messages nested up to 7 levels deep (the wire format allows `MAX_DEPTH` = 4).
fn message() -> impl Strategy<Value = Message<f32>> {
    leaf().prop_recursive(7, 48, 2, |inner| {
        prop_oneof![
            (value(), inner.clone()).prop_map(|(scale, inner)| Message::Scaled {
                scale,
                inner: Box::new(inner)
            }),
            // A consistent composition: k = inner.dim() indices out of a larger dimension …
            (inner.clone(), 0usize..4)
                .prop_flat_map(|(inner, extra)| {
                    let k = inner.dim();
                    let dim = k + extra;
                    let all: Vec<u32> = (0..dim as u32).collect();
                    (
                        Just(inner),
                        Just(dim),
                        prop::sample::subsequence(all, k.min(dim)),
                    )
                })
                .prop_map(|(inner, dim, indices)| Message::Composed {
                    dim,
                    indices,
                    inner: Box::new(inner)
                }),
            // … and an arbitrary one.
            (
                inner.clone(),
                0usize..12,
                prop::collection::vec(0u32..14, 0..6)
            )
                .prop_map(|(inner, dim, indices)| Message::Composed {
                    dim,
                    indices,
                    inner: Box::new(inner)
                }),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Message::Pair(Box::new([a, b]))),
            inner.clone().prop_map(|a| {
                let b = Message::Skip { dim: a.dim() };
                Message::Pair(Box::new([b, a]))
            }),
            // Concatenations of any two parts (dimensions need not match).
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Message::Concat(Box::new([a, b]))),
            (0u8..18, any::<u16>(), any::<bool>(), inner).prop_map(|(width, index, fit, inner)| {
                Message::Indexed {
                    width,
                    index: if fit && (1..=15).contains(&width) {
                        index & ((1u16 << width) - 1)
                    } else {
                        index
                    },
                    inner: Box::new(inner),
                }
            }),
        ]
    })
}

/// Nesting depth counted as the decoder does (wrappers along the deepest path).
fn depth(m: &Message<f32>) -> u32 {
    match m {
        Message::Scaled { inner, .. }
        | Message::Composed { inner, .. }
        | Message::Indexed { inner, .. } => 1 + depth(inner),
        Message::Pair(p) | Message::Concat(p) => 1 + depth(&p[0]).max(depth(&p[1])),
        _ => 0,
    }
}

fn check(m: &Message<f32>) -> Result<(), TestCaseError> {
    // Counting never panics.
    let bits = m.bits();
    let _ = m.entries();
    for conv in [
        BitConvention::Exact,
        BitConvention::Values32,
        BitConvention::Values64,
        BitConvention::ValuePlusIndex,
        BitConvention::InfoTheoretic,
    ] {
        let _ = m.bits_under(conv);
    }
    let dim = m.dim();
    let valid = m.validate();
    let shape = m.validate_shape();
    if valid.is_ok() {
        prop_assert!(shape.is_ok(), "valid but not shape-valid: {m:?}");
    }
    if depth(m) > MAX_DEPTH {
        prop_assert!(shape.is_err() && valid.is_err(), "too deep: {m:?}");
    }

    // Encoding: accepted exactly when valid, and then a faithful round trip.
    let bytes = m.to_bytes();
    let mut w = BitWriter::new();
    m.encode(&mut w);
    prop_assert_eq!(w.finish(), &bytes[..]);
    match m.try_to_bytes() {
        Ok(b) => {
            prop_assert!(valid.is_ok());
            prop_assert_eq!(&b, &bytes);
            prop_assert_eq!(b.len() as u64, bits.div_ceil(8));
            let back = Message::<f32>::decode(&b, dim);
            prop_assert_eq!(back.as_ref(), Ok(m), "round trip of {:?}", m);
        }
        Err(e) => {
            prop_assert!(valid.is_err());
            let typed = matches!(e, MessageError::Invalid(_));
            prop_assert!(typed);
            prop_assert_eq!(&bytes, &vec![0x0f]);
            prop_assert!(Message::<f32>::decode(&bytes, dim).is_err());
            let mut w = BitWriter::new();
            prop_assert!(m.try_encode(&mut w).is_err());
            prop_assert_eq!(w.bit_len(), 0);
        }
    }

    // Applying: refused exactly when the shape is broken, and then `out` is untouched.
    let before: Vec<f32> = (0..dim).map(|j| j as f32 - 3.0).collect();
    let mut out = before.clone();
    match m.add_to(&mut out, 0.5) {
        Ok(()) => prop_assert!(shape.is_ok()),
        Err(e) => {
            prop_assert!(shape.is_err(), "refused a shape-valid message: {}", e);
            let typed = matches!(e, MessageError::Invalid(_));
            prop_assert!(typed);
            prop_assert_eq!(out, before);
        }
    }
    // A buffer of the wrong length is a dimension mismatch, never a partial write.
    let mut short = vec![0.0f32; dim + 1];
    let mismatch = matches!(
        m.add_to(&mut short, 1.0),
        Err(MessageError::DimensionMismatch { .. })
    );
    prop_assert!(mismatch);
    prop_assert_eq!(m.to_dense().is_ok(), shape.is_ok());
    Ok(())
}

proptest! {
    #![proptest_config(common::config())]

    #[test]
    fn hand_built_messages_are_checked_never_panic(m in message()) {
        check(&m)?;
    }
}

/// The generator reaches both sides of every check (else the property above proves little).
#[test]
fn generator_covers_valid_and_invalid_messages() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = message();
    let (mut valid, mut shape_only, mut invalid, mut deep_valid, mut too_deep) = (0, 0, 0, 0, 0);
    for _ in 0..2000 {
        let m = strategy.new_tree(&mut runner).unwrap().current();
        match (m.validate().is_ok(), m.validate_shape().is_ok()) {
            (true, _) => valid += 1,
            (false, true) => shape_only += 1,
            (false, false) => invalid += 1,
        }
        if depth(&m) >= 2 && m.validate().is_ok() {
            deep_valid += 1;
        }
        if depth(&m) > MAX_DEPTH {
            too_deep += 1;
        }
    }
    assert!(
        valid > 100 && shape_only > 50 && invalid > 100 && deep_valid > 10 && too_deep > 10,
        "valid {valid}, shape-only {shape_only}, invalid {invalid}, nested valid {deep_valid}, too deep {too_deep}"
    );
}

//! Untrusted bytes never panic the decoder; whatever decodes is valid and canonical.
//! (The cargo-fuzz target `fuzz/fuzz_targets/decode.rs` runs the same property coverage-guided.)

mod common;

use proptest::prelude::*;
use squeeze_core::{CastFormat, Levels, Message, Scalar, bf16, f16};

fn check<S: Scalar>(bytes: &[u8], dim: usize) -> Result<(), TestCaseError> {
    if let Ok(m) = Message::<S>::decode(bytes, dim) {
        prop_assert!(m.validate().is_ok());
        prop_assert_eq!(m.dim(), dim);
        prop_assert_eq!(m.to_bytes(), bytes.to_vec());
        let mut out = vec![S::ZERO; dim];
        prop_assert!(m.add_to(&mut out, S::ONE).is_ok());
    }
    Ok(())
}

/// Valid encodings with random corruption: flips, truncation, extension.
fn corrupted() -> impl Strategy<Value = (Vec<u8>, usize)> {
    let msg = prop_oneof![
        prop::collection::vec(-10.0f32..10.0, 1..20).prop_map(|v| Message::Dense { values: v }),
        (
            1u8..=15,
            any::<u16>(),
            prop::collection::vec(-10.0f32..10.0, 1..20)
        )
            .prop_map(|(width, index, v)| Message::Indexed {
                width,
                index: index & ((1u16 << width) - 1),
                inner: Box::new(Message::Dense { values: v }),
            }),
        (1usize..40).prop_flat_map(|d| {
            prop::collection::btree_set(0..d as u32, 0..d.min(6)).prop_map(move |s| {
                let indices: Vec<u32> = s.into_iter().collect();
                let values = indices.iter().map(|&i| i as f32 - 2.5).collect();
                Message::Sparse {
                    dim: d,
                    indices,
                    values,
                }
            })
        }),
        (1u16..40, prop::collection::vec(-3i16..=3, 1..30)).prop_map(|(s, c)| {
            Message::Quantized {
                norm: 1.5,
                levels: Levels::Uniform { s: s.max(3) },
                codes: c,
            }
        }),
        (
            1usize..90,
            1usize..90,
            prop::collection::vec(-10.0f32..10.0, 180)
        )
            .prop_map(|(d, b, v)| {
                let block = b.min(d);
                let mut levels = v;
                levels.truncate(2 * d.div_ceil(block));
                let negative = (0..d.div_ceil(64))
                    .map(|w| {
                        let bits = 0x5a5a_5a5a_5a5a_5a5au64.rotate_left(w as u32);
                        if (w + 1) * 64 > d {
                            bits & ((1u64 << (d % 64)) - 1)
                        } else {
                            bits
                        }
                    })
                    .collect();
                Message::Binary {
                    dim: d,
                    block,
                    levels,
                    negative,
                }
            }),
        (0u8..3, prop::collection::vec(0u16..0x7c00, 1..20)).prop_map(|(f, w)| {
            Message::Cast {
                format: match f {
                    0 => CastFormat::F16,
                    1 => CastFormat::Bf16,
                    _ => CastFormat::U8 {
                        min: -1.5,
                        max: 2.0,
                    },
                },
                words: w
                    .into_iter()
                    .map(|x| if f == 2 { x & 0xff } else { x })
                    .collect(),
            }
        }),
    ];
    (
        msg,
        prop::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        0usize..3,
    )
        .prop_map(|(m, flips, mode)| {
            let dim = m.dim();
            let mut b = m.to_bytes();
            for (pos, bit) in flips {
                if !b.is_empty() {
                    let i = pos % b.len();
                    b[i] ^= 1 << (bit % 8);
                }
            }
            match mode {
                0 => {}
                1 => {
                    b.pop();
                }
                _ => b.push(0xA5),
            }
            (b, dim)
        })
}

proptest! {
    #![proptest_config(common::config())]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200), dim in 0usize..300) {
        check::<f32>(&bytes, dim)?;
        check::<f64>(&bytes, dim)?;
        check::<f16>(&bytes, dim)?;
        check::<bf16>(&bytes, dim)?;
    }

    #[test]
    fn corrupted_encodings_never_panic((bytes, dim) in corrupted()) {
        check::<f32>(&bytes, dim)?;
        check::<f64>(&bytes, dim)?;
        check::<f16>(&bytes, dim)?;
        check::<bf16>(&bytes, dim)?;
    }
}

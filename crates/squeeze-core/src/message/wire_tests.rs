//! The word-at-a-time encoder and decoder against the straightforward field-by-field
//! implementation they replaced (kept here as the reference): the same bytes for every flat
//! message kind, any length and any bit offset, and the same result — value or error — for
//! truncated and corrupted input.

use proptest::prelude::*;

use super::*;
use crate::bits::{BitReader, BitWriter, bits_for_range};
use crate::error::DecodeError;
use crate::scalar::Scalar;

/// The reference encoder: one `BitWriter::write` per field, as before the fast paths.
fn ref_encode<S: Scalar>(m: &Message<S>, w: &mut BitWriter) {
    let words = |w: &mut BitWriter, dim: usize, words: &[u64]| {
        for j in 0..dim {
            w.write(words[j / 64] >> (j % 64), 1);
        }
    };
    match m {
        Message::Dense { values } => {
            w.write(TAG_DENSE, TAG_BITS);
            values
                .iter()
                .for_each(|v| w.write(v.to_bits_u64(), S::BITS));
        }
        Message::Sparse {
            dim,
            indices,
            values,
        } => {
            w.write(TAG_SPARSE, TAG_BITS);
            w.write(indices.len() as u64, bits_for_range(*dim as u64 + 1));
            indices
                .iter()
                .for_each(|&i| w.write(i as u64, bits_for_range(*dim as u64)));
            values
                .iter()
                .for_each(|v| w.write(v.to_bits_u64(), S::BITS));
        }
        Message::Sign {
            dim,
            scale,
            negative,
        } => {
            w.write(TAG_SIGN, TAG_BITS);
            w.write(scale.to_bits_u64(), S::BITS);
            words(w, *dim, negative);
        }
        Message::Quantized {
            norm,
            levels,
            codes,
        } => {
            w.write(TAG_QUANTIZED, TAG_BITS);
            w.write(matches!(levels, Levels::Geometric { .. }) as u64, 1);
            w.write(levels.s() as u64, 16);
            if let Levels::Geometric { base, .. } = levels {
                w.write(base.to_bits_u64(), S::BITS);
            }
            w.write(norm.to_bits_u64(), S::BITS);
            let width = bits_for_range(levels.s() as u64 + 1);
            for &c in codes {
                w.write(c.unsigned_abs() as u64, width);
                if c != 0 {
                    w.write_bit(c < 0);
                }
            }
        }
        Message::Natural { values } => {
            w.write(TAG_NATURAL, TAG_BITS);
            for v in values {
                w.write(v.to_bits_u64() >> S::MANT_BITS, 1 + S::EXP_BITS);
            }
        }
        Message::Binary {
            dim,
            block,
            levels,
            negative,
        } => {
            w.write(TAG_BINARY, TAG_BITS);
            w.write(*block as u64, bits_for_range(*dim as u64 + 1));
            levels
                .iter()
                .for_each(|v| w.write(v.to_bits_u64(), S::BITS));
            words(w, *dim, negative);
        }
        _ => unreachable!("flat kinds only"),
    }
}

/// The reference decoder of the fixed-width payloads: one `BitReader::read` per field, with
/// the same checks in the same order as the decoder before the fast paths. `None` for tags
/// it does not cover (and for the empty input, a top-level skip).
fn ref_decode<S: Scalar>(bytes: &[u8], dim: usize) -> Option<Result<Message<S>, DecodeError>> {
    if bytes.is_empty() {
        return None;
    }
    let mut r = BitReader::new(bytes);
    let tag = match r.read(TAG_BITS) {
        Ok(t) => t,
        Err(e) => return Some(Err(e)),
    };
    if ![TAG_QUANTIZED, TAG_NATURAL].contains(&tag) {
        return None;
    }
    let go = |mut r: BitReader<'_>| -> Result<Message<S>, DecodeError> {
        let r = &mut r;
        let m = if tag == TAG_NATURAL {
            let n = 1 + S::EXP_BITS;
            super::decode::need(r, dim as u64, n as u64)?;
            let max_exp = (1u64 << S::EXP_BITS) - 1;
            let mut values = Vec::new();
            for j in 0..dim {
                let field = r.read(n)?;
                if field & max_exp == max_exp {
                    return Err(DecodeError::BadField {
                        what: "natural exponent",
                        detail: format!("entry {j} encodes ±∞/NaN"),
                    });
                }
                values.push(S::from_bits_u64(field << S::MANT_BITS));
            }
            Message::Natural { values }
        } else {
            let geometric = r.read_bit()?;
            let s = r.read(16)? as u16;
            let levels = if geometric {
                Levels::Geometric {
                    base: S::from_bits_u64(r.read(S::BITS)?),
                    s,
                }
            } else {
                Levels::Uniform { s }
            };
            levels.validate()?;
            let norm = S::from_bits_u64(r.read(S::BITS)?);
            if !norm.is_finite() {
                return Err(DecodeError::BadField {
                    what: "quantisation norm",
                    detail: format!("{norm} is not finite"),
                });
            }
            if norm.is_sign_negative() {
                return Err(DecodeError::BadField {
                    what: "quantisation norm",
                    detail: format!("{norm} must be ≥ 0 (with a clear sign bit)"),
                });
            }
            let width = bits_for_range(s as u64 + 1);
            super::decode::need(r, dim as u64, width as u64)?;
            let mut codes = Vec::new();
            for _ in 0..dim {
                let mag = r.read(width)?;
                if mag > s as u64 {
                    return Err(DecodeError::BadField {
                        what: "quantisation level",
                        detail: format!("{mag} exceeds s = {s}"),
                    });
                }
                let neg = mag != 0 && r.read_bit()?;
                codes.push(if neg { -(mag as i16) } else { mag as i16 });
            }
            Message::Quantized {
                norm,
                levels,
                codes,
            }
        };
        r.clone().finish()?;
        Ok(m)
    };
    Some(go(r))
}

/// A valid flat message of kind `kind % 7` and dimension `dim` from the random words `bits`.
fn message<S: Scalar>(kind: u8, dim: usize, s_pick: usize, bits: &[u64]) -> Message<S> {
    let b = |j: usize| bits[j % bits.len()].rotate_left((j / bits.len()) as u32 * 7);
    let level_counts = [1u16, 2, 3, 7, 8, 16, 127, 255, 1000, MAX_LEVELS];
    let s = level_counts[s_pick % level_counts.len()];
    // One `s_pick` in four makes the codes sparse (1 in 16 or, one time in two, 1 in 100
    // non-zero), as QSGD's are at large d: whole groups of zero codes, which the packers skip,
    // between non-zero ones; the sparser ones are packed by the places of their non-zero codes.
    let sparse = s_pick % 4 == 3;
    let one_in = if s_pick % 8 == 7 { 100 } else { 16 };
    // One in four makes them dense (power rounding's have no zero): runs of 64 non-zero codes,
    // which the decoder reads as blocks, and now and then a zero that ends such a run.
    let dense = s_pick % 4 == 2;
    let code = |j: usize| {
        let x = b(j);
        // Many zeros (their sign bit is absent), the extremes ±s, and the rest.
        let mag = match x % 4 {
            _ if sparse && (x >> 20) % one_in != 0 => 0,
            _ if dense => ((x >> 20) % 300 != 0) as u16 * (1 + ((x >> 8) % s as u64) as u16),
            0 => 0,
            1 => s,
            _ => ((x >> 8) % (s as u64 + 1)) as u16,
        } as i16;
        if (x >> 40) & 1 == 1 { -mag } else { mag }
    };
    let value = |j: usize| S::from_f64(((b(j) % 2001) as f64 - 1000.0) / 7.0);
    let words = (0..dim.div_ceil(64))
        .map(|i| {
            let used = (dim - 64 * i).min(64);
            b(i) & if used == 64 {
                u64::MAX
            } else {
                (1 << used) - 1
            }
        })
        .collect::<Vec<u64>>();
    match kind % 7 {
        k @ (0 | 1) => Message::Quantized {
            norm: S::from_f64(3.25),
            levels: if k == 0 {
                Levels::Uniform { s }
            } else {
                Levels::Geometric {
                    base: S::from_f64(2.0),
                    s,
                }
            },
            codes: (0..dim).map(code).collect(),
        },
        2 => Message::Natural {
            values: (0..dim)
                .map(|j| {
                    let max_exp = (1u64 << S::EXP_BITS) - 1;
                    let e = b(j) % max_exp;
                    let sign = if e == 0 { 0 } else { (b(j) >> 50) & 1 };
                    S::from_bits_u64(((sign << S::EXP_BITS) | e) << S::MANT_BITS)
                })
                .collect(),
        },
        3 => Message::Sign {
            dim,
            scale: S::from_f64(0.75),
            negative: words,
        },
        4 => {
            let block = if dim == 0 { 0 } else { 1 + s_pick % dim };
            Message::Binary {
                dim,
                block,
                levels: (0..2 * dim.div_ceil(block.max(1))).map(value).collect(),
                negative: words,
            }
        }
        5 => Message::Dense {
            values: (0..dim).map(value).collect(),
        },
        _ => {
            let indices: Vec<u32> = (0..dim as u32)
                .filter(|&i| b(i as usize) % 3 == 0)
                .collect();
            Message::Sparse {
                dim,
                values: (0..indices.len()).map(value).collect(),
                indices,
            }
        }
    }
}

/// Fast and reference encodings agree after a `prefix_len`-bit prefix; the fast decoder reads
/// the message back from there; and every truncation and a corruption of the top-level bytes
/// decode to the same result (value or error) as the reference decoder.
fn check<S: Scalar>(m: &Message<S>, prefix: u64, prefix_len: u32, flip: usize) {
    m.validate().expect("generated messages are valid");
    let dim = m.dim();
    let (mut fast, mut slow) = (BitWriter::new(), BitWriter::new());
    for w in [&mut fast, &mut slow] {
        w.write(prefix, prefix_len);
    }
    m.encode(&mut fast);
    ref_encode(m, &mut slow);
    assert_eq!(fast.bit_len(), slow.bit_len());
    assert_eq!(fast.bit_len(), prefix_len as u64 + m.bits());
    let bytes = fast.finish().to_vec();
    assert_eq!(bytes, slow.finish());
    let mut r = BitReader::new(&bytes);
    r.read(prefix_len).unwrap();
    assert_eq!(&Message::<S>::decode_from(&mut r, dim).unwrap(), m);
    assert_eq!(r.position(), prefix_len as u64 + m.bits());

    let top = m.to_bytes();
    let mut into = Message::<S>::default();
    into.decode_into(&top, dim).unwrap();
    assert_eq!(&into, m);
    let mut corrupted = top.clone();
    if !corrupted.is_empty() {
        let bit = flip % (corrupted.len() * 8);
        corrupted[bit / 8] ^= 1 << (bit % 8);
    }
    let cuts = [0, 1, top.len() / 2, top.len().saturating_sub(1)];
    let inputs = cuts.iter().map(|&c| &top[..c.min(top.len())]);
    for input in inputs.chain([&corrupted[..]]) {
        let got = Message::<S>::decode(input, dim);
        if let Some(want) = ref_decode::<S>(input, dim) {
            assert_eq!(got, want, "{} bytes", input.len());
        } else if input.is_empty() {
            assert!(got.as_ref().is_ok_and(|g| g.is_skip()));
        }
        // Reusing buffers gives the same result.
        let mut reused = m.clone();
        match (reused.decode_into(input, dim), got) {
            (Ok(()), Ok(g)) => assert_eq!(reused, g),
            (Err(a), Err(b)) => assert_eq!(a, b),
            (a, b) => panic!("decode_into {a:?} but decode {b:?}"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(160))]

    #[test]
    fn fast_wire_paths_match_the_reference(
        kind in 0u8..7,
        dim in prop_oneof![4 => 0usize..70, 4 => 100usize..700, 1 => 4000usize..9000],
        s_pick in 0usize..64,
        bits in prop::collection::vec(any::<u64>(), 1..9),
        prefix in any::<u64>(),
        prefix_len in 0u32..=64,
        flip in any::<usize>(),
    ) {
        check(&message::<f32>(kind, dim, s_pick, &bits), prefix, prefix_len, flip);
        check(&message::<f64>(kind, dim, s_pick, &bits), prefix, prefix_len, flip);
        check(&message::<half::f16>(kind, dim, s_pick, &bits), prefix, prefix_len, flip);
        // The baseline copies (no BMI2: codes with zeros packed field by field, no `pext`).
        crate::simd::portable(|| {
            check(&message::<f32>(kind, dim, s_pick, &bits), prefix, prefix_len, flip);
        });
        // The AVX2 copies: `pext`/`pdep` blocks, where AVX-512 would take other kernels
        // (`f32` natural values by `vpermb`).
        crate::simd::at_most(crate::simd::Level::Avx2, || {
            check(&message::<f32>(kind, dim, s_pick, &bits), prefix, prefix_len, flip);
        });
    }
}

#[test]
fn corrupted_codes_report_the_first_bad_entry() {
    // s = 5 (3-bit levels): entry 40 holds level 7 > s; the fast path must fall back and
    // report it exactly as the entry-by-entry decoder.
    let mut codes = vec![1i16; 100];
    codes[40] = 5;
    let m = Message::<f32>::Quantized {
        norm: 1.0,
        levels: Levels::Uniform { s: 5 },
        codes,
    };
    let mut bytes = m.to_bytes();
    // Header: tag 4 + kind 1 + s 16 + norm 32 = 53 bits; each code of level 1 takes 4 bits.
    let at = 53 + 40 * 4 + 1; // bit 1 of entry 40's level: 5 (101) → 7 (111)
    bytes[at / 8] ^= 1 << (at % 8);
    let err = Message::<f32>::decode(&bytes, 100).unwrap_err();
    assert_eq!(
        err,
        DecodeError::BadField {
            what: "quantisation level",
            detail: "7 exceeds s = 5".into()
        }
    );
    assert_eq!(Some(Err(err)), ref_decode::<f32>(&bytes, 100));
}

/// The chunked wire path (`bits::write_fields_chunked`, `BitReader::read_fixed`) on 1-, 2- and
/// 4-thread pools against the sequential call made outside any pool.
#[cfg(feature = "parallel")]
mod chunked {
    use super::*;
    use crate::bits::{WIRE_CHUNK, WIRE_PARALLEL_MIN, test_pool, wire_parallel};

    /// Lengths at and around chunk boundaries above the threshold, with a partial tail.
    const DIMS: [usize; 4] = [
        WIRE_PARALLEL_MIN,
        WIRE_PARALLEL_MIN + WIRE_CHUNK - 1,
        WIRE_PARALLEL_MIN + WIRE_CHUNK + 1,
        WIRE_PARALLEL_MIN + 3 * WIRE_CHUNK + 12_345,
    ];

    fn encoded<S: Scalar>(m: &Message<S>, prefix_len: u32) -> (Vec<u8>, u64) {
        let mut w = BitWriter::new();
        w.write(0x5a5a_5a5a_5a5a_5a5a, prefix_len);
        m.encode(&mut w);
        let bits = w.bit_len();
        (w.finish().to_vec(), bits)
    }

    /// Same bytes (after prefixes of every bit offset), same `to_bytes`, and the same decode —
    /// value or error — of the bytes, their truncations and a corruption, for 1, 2, 3, 4 and 16
    /// threads (16: more threads than chunks, so no chunk is packed in place).
    fn check_threads<S: Scalar>(m: &Message<S>, flip: usize) {
        let dim = m.dim();
        let top = m.to_bytes();
        let mut corrupted = top.clone();
        let bit = 4 + flip % (corrupted.len() * 8 - 4);
        corrupted[bit / 8] ^= 1 << (bit % 8);
        let inputs = [
            &top[..],
            &top[..top.len() / 2],
            &top[..top.len() - 1],
            &corrupted,
        ];
        let want: Vec<_> = inputs
            .iter()
            .map(|b| Message::<S>::decode(b, dim))
            .collect();
        assert_eq!(want[0].as_ref(), Ok(m));
        let prefixes = [0u32, 3, 8, 13, 56, 61];
        let seq: Vec<_> = prefixes.iter().map(|&p| encoded(m, p)).collect();
        for threads in [1, 2, 3, 4, 16] {
            test_pool(threads).install(|| {
                assert_eq!(wire_parallel(WIRE_PARALLEL_MIN), threads > 1);
                for (&p, s) in prefixes.iter().zip(&seq) {
                    assert_eq!(&encoded(m, p), s, "prefix {p}, {threads} threads");
                }
                assert_eq!(m.to_bytes(), top, "{threads} threads");
                for (input, w) in inputs.iter().zip(&want) {
                    assert_eq!(&Message::<S>::decode(input, dim), w, "{threads} threads");
                    let mut into = m.clone();
                    match (into.decode_into(input, dim), w) {
                        (Ok(()), Ok(w)) => assert_eq!(&into, w),
                        (Err(a), Err(b)) => assert_eq!(&a, b),
                        (a, b) => panic!("decode_into {a:?} but decode {b:?}"),
                    }
                }
            });
        }
    }

    #[test]
    fn chunked_wire_is_identical_for_any_thread_count() {
        let bits = [
            0x9e37_79b9_7f4a_7c15u64,
            0xbf58_476d_1ce4_e5b9,
            0x94d0_49bb_1331_11eb,
        ];
        for (i, &dim) in DIMS.iter().enumerate() {
            for kind in 0..7u8 {
                check_threads(
                    &message::<f32>(kind, dim, i * 3 + kind as usize, &bits),
                    i * 7919,
                );
            }
        }
        for kind in [0u8, 2, 5] {
            let dim = DIMS[2];
            check_threads(&message::<f64>(kind, dim, 5, &bits), 12_345);
            check_threads(&message::<half::f16>(kind, dim, 6, &bits), 777);
            let scaled = Message::Scaled {
                scale: 0.5f32,
                inner: Box::new(message::<f32>(kind, dim, 4, &bits)),
            };
            check_threads(&scaled, 99);
        }
    }

    /// Codes with no zero (as power rounding's), which two or more threads read chunk by
    /// chunk from guessed offsets; then a zero in a middle chunk and one in the last chunk,
    /// which make the guess fail or not matter: the same decode (and, for the corrupted
    /// copy, the same first error) as on one thread.
    #[test]
    fn chunked_dense_codes_decode_as_on_one_thread() {
        let dim = WIRE_PARALLEL_MIN + 2 * WIRE_CHUNK + 77;
        let s = 12u16;
        let mut codes: Vec<i16> = (0..dim)
            .map(|j| {
                let level = 1 + (j * 7919 % s as usize) as i16;
                if j % 3 == 0 { -level } else { level }
            })
            .collect();
        let quantized = |codes: &[i16]| Message::<f32>::Quantized {
            norm: 2.0,
            levels: Levels::Uniform { s },
            codes: codes.to_vec(),
        };
        check_threads(&quantized(&codes), 4242);
        check_threads(&quantized(&codes), 31 * WIRE_CHUNK * 5);
        codes[5 * WIRE_CHUNK + 17] = 0;
        check_threads(&quantized(&codes), 999);
        codes[5 * WIRE_CHUNK + 17] = -3;
        codes[dim - 3] = 0;
        check_threads(&quantized(&codes), 77_777);
    }

    /// Codes with no zero, on two and three threads where the CPU has AVX-512 VBMI, go
    /// straight to their places (`encode::write_dense_regions`, which says it wrote them):
    /// the bytes and the writer's state of the one-thread writer after prefixes of several bit
    /// offsets, for levels of 1 to 7 bits and tails of none, fewer than 64 and some thousand
    /// codes. A zero code after the first block, in a middle chunk or in the last whole chunk
    /// hands back with the writer as it was; a level above `s` in a middle chunk or at the
    /// end is reported, with a zero elsewhere too by one of the two paths. Without VBMI it
    /// never applies.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn dense_codes_are_packed_in_place() {
        use super::super::encode::{write_codes, write_dense_regions};
        let vbmi = crate::bits::dense_vbmi();
        let (one, pool2, pool3) = (test_pool(1), test_pool(2), test_pool(3));
        let after = |w: &mut BitWriter| w.write(0x1f5, 9);
        for (s, tail) in [
            (1u16, 4_099),
            (2, 0),
            (4, 63),
            (12, 4_099),
            (20, 1),
            (40, 0),
            (100, 4_099),
        ] {
            let dim = WIRE_PARALLEL_MIN + 2 * WIRE_CHUNK + tail;
            let width = bits_for_range(u64::from(s) + 1);
            let mut codes: Vec<i16> = (0..dim)
                .map(|j| {
                    let level = 1 + (j * 7919 % s as usize) as i16;
                    if j % 5 < 2 { -level } else { level }
                })
                .collect();
            for prefix in [0u32, 1, 3, 5, 7, 8, 13, 61] {
                let mut want = BitWriter::new();
                want.write(0x2d5a_5a5a_5a5a_5a5b, prefix);
                assert!(one.install(|| write_codes(&mut want, width, s, &codes)));
                after(&mut want);
                for pool in [&pool2, &pool3] {
                    let mut w = BitWriter::new();
                    w.write(0x2d5a_5a5a_5a5a_5a5b, prefix);
                    let wrote = pool.install(|| write_dense_regions(&mut w, width, s, &codes));
                    assert_eq!(wrote, vbmi.then_some(false), "s {s}, prefix {prefix}");
                    if vbmi {
                        after(&mut w);
                        assert_eq!(w.bit_len(), want.bit_len());
                        let (got, want) = (w.into_bytes(), want.clone().into_bytes());
                        assert!(got == want, "s {s}, prefix {prefix}");
                    }
                }
            }
            let run = |codes: &[i16]| {
                let mut w = BitWriter::new();
                w.write(0x5, 3);
                let wrote = pool2.install(|| write_dense_regions(&mut w, width, s, codes));
                (wrote, w)
            };
            let whole = dim / WIRE_CHUNK;
            for at in [69, 4 * WIRE_CHUNK + 999, (whole - 1) * WIRE_CHUNK + 17] {
                let keep = std::mem::replace(&mut codes[at], 0);
                let (wrote, mut w) = run(&codes);
                assert_eq!(wrote, None, "s {s}, zero at {at}");
                after(&mut w);
                let mut want = BitWriter::new();
                want.write(0x5, 3);
                after(&mut want);
                assert_eq!((w.bit_len(), w.into_bytes()), (12, want.into_bytes()));
                codes[at] = keep;
            }
            for at in [6 * WIRE_CHUNK + 3, dim - 1] {
                let keep = std::mem::replace(&mut codes[at], -(s as i16) - 1);
                assert_eq!(run(&codes).0, vbmi.then_some(true), "s {s}, entry {at}");
                codes[2 * WIRE_CHUNK + 7] = 0;
                assert!(matches!(run(&codes).0, None | Some(true)));
                let mut w = BitWriter::new();
                assert!(!pool2.install(|| write_codes(&mut w, width, s, &codes)));
                codes[2 * WIRE_CHUNK + 7] = 1;
                codes[at] = keep;
            }
        }
    }

    /// Codes that are mostly zero (QSGD's, natural dithering's), a third non-zero (TernGrad's),
    /// all zero, all non-zero after a zero first code (no guessed parse meets the true one:
    /// every piece is parsed again), and all non-zero for the first 2/5 then sparse (the
    /// parse before a later range hands over to the code-by-code one), for 1-, 5-, 4- and
    /// 10-bit levels, which two or more threads read by pieces found by parsing: the same
    /// decode (and, for the truncations and the corrupted copy, the same error) as on one
    /// thread.
    #[test]
    fn chunked_sparse_codes_decode_as_on_one_thread() {
        let dim = WIRE_PARALLEL_MIN + WIRE_CHUNK + 321;
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for (s, every) in [
            (16u16, 200u64),
            (1, 3),
            (8, 40),
            (1000, 7),
            (16, 0),
            (5, 1),
            (16, 2),
        ] {
            let codes: Vec<i16> = (0..dim)
                .map(|j| {
                    let r = next();
                    let nonzero = match every {
                        0 => false,
                        1 => j > 0,
                        2 => (j > 0 && j < dim * 2 / 5) || r.is_multiple_of(200),
                        k => r.is_multiple_of(k),
                    };
                    let level = if nonzero {
                        1 + ((r >> 32) % u64::from(s)) as i16
                    } else {
                        0
                    };
                    if r >> 63 == 1 { -level } else { level }
                })
                .collect();
            let m = Message::<f32>::Quantized {
                norm: 1.5,
                levels: Levels::Uniform { s },
                codes,
            };
            check_threads(&m, (next() % 1_000_000) as usize);
            if every == 200 {
                // More corruptions of the sparse codes: a flipped bit anywhere shifts every
                // later code start, or makes a level exceed s.
                for _ in 0..4 {
                    check_threads(&m, (next() % 3_000_000) as usize);
                }
            }
        }
    }

    /// A natural value that is not a power of two, a code level above `s`, and two non-finite
    /// dense values, in late chunks, and the first two again in chunk 1 (packed by the calling
    /// thread in place, in the head of two, three and four threads): on every pool `validate`
    /// names the first bad entry, and `try_encode` fails with that error and takes the writer
    /// back to its prefix (for the first two, the other chunks were packed and spliced by
    /// then).
    #[test]
    fn chunked_encode_takes_a_bad_value_back() {
        let dim = WIRE_PARALLEL_MIN + WIRE_CHUNK + 7;
        let natural = |at: usize| {
            let mut values = vec![-0.5f32; dim];
            values[at] = 3.0;
            Message::Natural { values }
        };
        let quantized = |at: usize| {
            let mut codes: Vec<i16> = (0..dim).map(|j| (j % 7) as i16 - 3).collect();
            codes[at] = -4;
            Message::Quantized {
                norm: 1.0,
                levels: Levels::Uniform { s: 3 },
                codes,
            }
        };
        let mut dense = vec![1.5f32; dim];
        dense[5 * WIRE_CHUNK + 9] = f32::NAN;
        dense[6 * WIRE_CHUNK + 1] = f32::INFINITY;
        let dense = Message::Dense { values: dense };
        // Codes with no zero (packed in place where the CPU has AVX-512 VBMI).
        let mut no_zero: Vec<i16> = (0..dim).map(|j| (j % 3) as i16 + 1).collect();
        no_zero[6 * WIRE_CHUNK + 2] = 4;
        let no_zero = Message::Quantized {
            norm: 1.0,
            levels: Levels::Uniform { s: 3 },
            codes: no_zero,
        };
        let (late, head) = (
            (6 * WIRE_CHUNK + 5, 7 * WIRE_CHUNK + 1),
            (WIRE_CHUNK + 3, WIRE_CHUNK + 1),
        );
        for m in [
            natural(late.0),
            quantized(late.1),
            dense,
            no_zero,
            natural(head.0),
            quantized(head.1),
        ] {
            let want = m.validate().unwrap_err().to_string();
            for threads in [1, 2, 3, 4] {
                test_pool(threads).install(|| {
                    assert_eq!(m.validate().unwrap_err().to_string(), want);
                    let mut w = BitWriter::new();
                    w.write(0x1abc, 13);
                    let e = m.try_encode(&mut w).unwrap_err().to_string();
                    assert!(e.contains(&want), "{threads} threads: {e}");
                    assert_eq!((w.bit_len(), w.into_bytes()), (13, vec![0xbc, 0x1a]));
                    assert_eq!(m.to_bytes(), vec![TAG_INVALID as u8]);
                });
            }
        }
    }

    /// Natural values through the chunked writer itself, which a CPU with fast `pext` never
    /// takes for them (it packs them in place): the bytes of the one-thread writer on 2, 3 and
    /// 4 threads after prefixes of 0–63 bits, and a bad value flagged in the head (chunk 1)
    /// and in the last chunk.
    #[test]
    fn natural_values_through_the_chunked_writer() {
        use super::natural::write_natural_run;
        let dim = WIRE_PARALLEL_MIN + 2 * WIRE_CHUNK + 77;
        let mut seed = 17u64;
        let values: Vec<f32> = (0..dim)
            .map(|_| {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                let r = seed >> 33;
                match r % 9 {
                    0 => 0.0,
                    1 => -0.0,
                    k => {
                        (if r & 1 == 0 { 1.0 } else { -1.0 })
                            * 2f32.powi((r >> 8) as i32 % 60 - 30 + k as i32)
                    }
                }
            })
            .collect();
        let one = |values: &[f32], prefix: u32| {
            let mut w = BitWriter::new();
            w.write(0x1234_5678_9abc_def0, prefix);
            let bad = write_natural_run(&mut w, values);
            (bad, w.bit_len(), w.into_bytes())
        };
        let mut late = values.clone();
        late[dim - 3] = 3.0;
        let mut head = values.clone();
        head[WIRE_CHUNK + 9] = f32::NAN;
        let prefixes = [0u32, 1, 7, 8, 33, 63];
        let wants: Vec<_> = prefixes.iter().map(|&p| one(&values, p)).collect();
        assert!(wants.iter().all(|want| !want.0));
        for threads in [2, 3, 4] {
            let pool = test_pool(threads);
            for (&prefix, want) in prefixes.iter().zip(&wants) {
                let got = pool.install(|| {
                    let mut w = BitWriter::new();
                    w.write(0x1234_5678_9abc_def0, prefix);
                    let bad = w.write_chunked(&values, write_natural_run);
                    (bad, w.bit_len(), w.into_bytes())
                });
                assert_eq!(&got, want, "{threads} threads, prefix {prefix}");
            }
            for bad_values in [&late, &head] {
                let flagged =
                    pool.install(|| BitWriter::new().write_chunked(bad_values, write_natural_run));
                assert!(flagged, "{threads} threads");
            }
        }
    }

    /// A bad entry in a late chunk and one in an early chunk: every thread count reports the
    /// early one, as the sequential decoder does.
    #[test]
    fn chunked_decode_reports_the_first_bad_entry() {
        let dim = WIRE_PARALLEL_MIN + 2 * WIRE_CHUNK + 5;
        let (late, early) = (7 * WIRE_CHUNK + 11, WIRE_CHUNK + 3);
        let natural = Message::<f32>::Natural {
            values: vec![1.0; dim],
        };
        let mut nat_bytes = natural.to_bytes();
        for j in [late, early] {
            // Entry j: 8 exponent bits then the sign bit, after the 4-bit tag.
            for b in 4 + 9 * j..4 + 9 * j + 8 {
                nat_bytes[b / 8] |= 1 << (b % 8);
            }
        }
        let dense = Message::<f32>::Dense {
            values: vec![2.0; dim],
        };
        let mut dense_bytes = dense.to_bytes();
        for j in [late, early] {
            let at = 4 + 32 * j;
            let nan = f32::NAN.to_bits() as u64;
            for b in 0..32 {
                let (byte, bit) = ((at + b) / 8, (at + b) % 8);
                dense_bytes[byte] &= !(1 << bit);
                dense_bytes[byte] |= (((nan >> b) & 1) as u8) << bit;
            }
        }
        for (bytes, what) in [
            (&nat_bytes, "natural exponent"),
            (&dense_bytes, "dense value"),
        ] {
            let want = Message::<f32>::decode(bytes, dim).unwrap_err();
            match &want {
                DecodeError::BadField { what: w, detail } => {
                    assert_eq!(*w, what);
                    assert!(detail.contains(&format!("entry {early} ")), "{detail}");
                }
                e => panic!("{e:?}"),
            }
            for threads in [1, 2, 4] {
                let got = test_pool(threads).install(|| Message::<f32>::decode(bytes, dim));
                assert_eq!(got, Err(want.clone()), "{threads} threads");
            }
        }
    }
}

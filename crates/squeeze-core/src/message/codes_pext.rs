//! Quantisation codes of any mix of zero and non-zero levels, where `pext` is a fast
//! instruction: each code's field (`|c|` in `W` bits, then its sign bit) sits at the bottom
//! of a lane of 8 or 16 bits, and one `pext` per 64-bit word of lanes keeps every level bit
//! and the sign bits of the non-zero codes: the bits of [`write_code_run`] for up to eight
//! codes at once, with no branch on the codes.
//!
//! The field loop's groups ([`BitWriter::write_fields`]) build their word code by code and
//! took 21–23 ms for 10⁷ codes of 12-bit levels, half of them zero (QSGD `s = 4095` at
//! d = 10⁷); these lanes are built for 64 codes in one vectorised pass, which leaves the
//! `pext` and the store of each word.
//!
//! [`write_code_run`]: super::encode

use crate::bits::{BitWriter, append, append_wide};

/// Codes whose lanes are built in one pass.
const BLOCK: usize = 64;

/// The bits of `codes` (`nonzero` of them non-zero, levels below `2^width`), as the field
/// loop writes them; `false` (nothing written) for a width outside `1..=15`.
///
/// # Safety
/// The CPU has AVX2, BMI2 and POPCNT.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,bmi2,popcnt")]
pub(super) unsafe fn write_codes_pext(
    w: &mut BitWriter,
    width: u32,
    codes: &[i16],
    nonzero: usize,
) -> bool {
    macro_rules! by_width {
        ($($w:literal)*) => {
            match width {
                $($w => pack::<$w>(w, codes, nonzero),)*
                _ => return false,
            }
        };
    }
    by_width!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15);
    true
}

/// [`write_codes_pext`] for `W`-bit levels: a word holds eight fields in 8-bit lanes up to
/// `W = 7`, four in 16-bit lanes above; where a word's fields may exceed 56 bits (`W = 7`,
/// `W ≥ 14`), [`append_wide`] takes them.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn pack<const W: u32>(w: &mut BitWriter, codes: &[i16], nonzero: usize) {
    let total = codes.len() as u64 * u64::from(W) + nonzero as u64;
    let per_word = if W <= 7 { 8 } else { 4 };
    w.pack_with(total, |buf, mut at| {
        // Whole blocks with a constant trip count (unrolled), then the last one's words with
        // codes: a wide append takes words of 7 bits or more.
        let mut blocks = codes.chunks_exact(BLOCK);
        for block in blocks.by_ref() {
            at = pack_block::<W>(buf, at, block, BLOCK / per_word);
        }
        let last = blocks.remainder();
        if !last.is_empty() {
            at = pack_block::<W>(buf, at, last, last.len().div_ceil(per_word));
        }
        at
    });
}

/// The first `words` words of one block's lanes, packed by `pext` and appended at `at`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn pack_block<const W: u32>(
    buf: &mut [u8],
    mut at: (usize, u64, u32),
    block: &[i16],
    words: usize,
) -> (usize, u64, u32) {
    let (fields, keeps) = if W <= 7 {
        lanes8::<W>(block)
    } else {
        lanes16::<W>(block)
    };
    if wide::<W>() && block.len() == BLOCK {
        // Four words a step: the loop's own count and test a quarter as often (narrower
        // words, whose append is shorter, measured no faster so).
        let (fields, keeps) = (&fields[..words], &keeps[..words]);
        for (f4, k4) in fields.chunks_exact(4).zip(keeps.chunks_exact(4)) {
            for (&f, &k) in f4.iter().zip(k4) {
                at = pack_word::<W>(buf, at, f, k);
            }
        }
    } else {
        for (&f, &k) in fields.iter().zip(&keeps).take(words) {
            at = pack_word::<W>(buf, at, f, k);
        }
    }
    at
}

/// Whether a word's fields may exceed 56 bits (`W = 7` in 8-bit lanes, `W ≥ 14` in 16-bit
/// ones): then [`append_wide`] takes them.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
const fn wide<const W: u32>() -> bool {
    W == 7 || W >= 14
}

/// One word of lanes: its kept bits by `pext`, appended at `at`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn pack_word<const W: u32>(
    buf: &mut [u8],
    at: (usize, u64, u32),
    fields: u64,
    keep: u64,
) -> (usize, u64, u32) {
    // SAFETY: the caller's CPU has BMI2.
    let v = unsafe { core::arch::x86_64::_pext_u64(fields, keep) };
    if wide::<W>() {
        append_wide(buf, at, v, keep.count_ones())
    } else {
        append(buf, at, v, keep.count_ones())
    }
}

/// Words per block: 64 lanes of 16 bits, or the first 8 words of 8-bit lanes.
type Words = [u64; BLOCK / 4];

/// A block's fields (`|c|`, sign bit at `W`) and keep masks (the `W` level bits, and the sign
/// bit if `c ≠ 0`) in 8-bit lanes, eight per word; lanes past the block keep nothing, and so
/// do the words past the eighth.
#[inline(always)]
fn lanes8<const W: u32>(block: &[i16]) -> (Words, Words) {
    let level = ((1u16 << W) - 1) as u8;
    let (mut fields, mut keeps) = ([0u8; BLOCK], [0u8; BLOCK]);
    for ((f, k), &c) in fields.iter_mut().zip(&mut keeps).zip(block) {
        *f = c.unsigned_abs() as u8 | u8::from(c < 0) << W;
        *k = level | u8::from(c != 0) << W;
    }
    let words = |lanes: [u8; BLOCK]| {
        let mut w = [0u64; BLOCK / 4];
        // SAFETY: the same size, any bits valid; little-endian, so lane 8i + j is byte j
        // of word i.
        w[..BLOCK / 8].copy_from_slice(&unsafe {
            core::mem::transmute::<[u8; BLOCK], [u64; BLOCK / 8]>(lanes)
        });
        w
    };
    (words(fields), words(keeps))
}

/// [`lanes8`] in 16-bit lanes, four per word.
#[inline(always)]
fn lanes16<const W: u32>(block: &[i16]) -> (Words, Words) {
    let level = (1u16 << W) - 1;
    let (mut fields, mut keeps) = ([0u16; BLOCK], [0u16; BLOCK]);
    for ((f, k), &c) in fields.iter_mut().zip(&mut keeps).zip(block) {
        *f = c.unsigned_abs() | u16::from(c < 0) << W;
        *k = level | u16::from(c != 0) << W;
    }
    // SAFETY: the same size, any bits valid; little-endian, so lane 4i + j is bits 16j.. of
    // word i.
    let words = |lanes: [u16; BLOCK]| unsafe { core::mem::transmute::<[u16; BLOCK], Words>(lanes) };
    (words(fields), words(keeps))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The codes one `write` per field, as the format defines them.
    fn field_by_field(w: &mut BitWriter, width: u32, codes: &[i16]) {
        for &c in codes {
            w.write(u64::from(c.unsigned_abs()), width);
            if c != 0 {
                w.write(u64::from(c < 0), 1);
            }
        }
    }

    proptest! {
        /// Every width, any mix of zero and non-zero codes (from none to all non-zero, levels
        /// up to `2^W − 1`), lengths across blocks, after a prefix of any bit length.
        #[test]
        fn lanes_and_pext_write_the_fields(
            width in 1u32..=15,
            zero_in in 1u64..6,
            seed in prop::collection::vec(any::<u64>(), 1..400),
            prefix in any::<u64>(),
            prefix_len in 0u32..=64,
        ) {
            if !crate::bits::fast_pext() {
                return Ok(());
            }
            let top = (1u64 << width) - 1;
            let codes: Vec<i16> = seed
                .iter()
                .map(|&x| {
                    let mag = if (x >> 32) % zero_in == 0 { 0 } else { 1 + (x >> 8) % top };
                    let mag = if x % 7 == 0 { top } else { mag } as i16;
                    if x >> 63 == 1 { -mag } else { mag }
                })
                .collect();
            let nonzero = codes.iter().filter(|&&c| c != 0).count();
            let (mut fast, mut slow) = (BitWriter::new(), BitWriter::new());
            fast.write(prefix, prefix_len);
            slow.write(prefix, prefix_len);
            // SAFETY: `fast_pext()` holds: the CPU has AVX2, BMI2 and POPCNT.
            let written = unsafe { write_codes_pext(&mut fast, width, &codes, nonzero) };
            prop_assert!(written);
            field_by_field(&mut slow, width, &codes);
            prop_assert_eq!(fast.bit_len(), slow.bit_len());
            prop_assert_eq!(fast.finish(), slow.finish());
        }
    }

    #[test]
    fn widths_outside_the_format_write_nothing() {
        if !crate::bits::fast_pext() {
            return;
        }
        let mut w = BitWriter::new();
        for width in [0, 16] {
            // SAFETY: as above.
            assert!(!unsafe { write_codes_pext(&mut w, width, &[1, 0, -1], 2) });
        }
        assert_eq!(w.bit_len(), 0);
    }
}

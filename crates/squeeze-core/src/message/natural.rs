//! Natural-compression values on the wire: per entry the sign bit and the `EXP_BITS`-bit
//! exponent field, `1 + EXP_BITS` bits (the mantissa of a valid value is zero).
//!
//! Eight fields fill exactly `1 + EXP_BITS` bytes, so where `pext`/`pdep` are fast (see
//! [`fast_pext`]) values are packed the way they sit in memory, a block of 64 at a time: each
//! 64-bit load holds `64/BITS` values, one `pext` with the sign-and-exponent mask of all of
//! them gives their fields side by side, eight fields make a byte-sized group, and the writer
//! stores each group with one shift by its pending bits ([`BitWriter::write_blocks`]).
//! Decoding is the mirror image with `pdep`, each group loaded at its constant byte offset.
//! Where the CPU has AVX-512 VBMI, `f32` values encode 32 at a time by two-source byte
//! permutes (`pack_region_vbmi`) and decode sixteen at a time by `vpermb`
//! (`read_blocks_vbmi`).
//! The encoder checks the values of a block (or step) while they are in L1 (`mantissa = 0`,
//! exponent not all ones), so the message is read from memory once. Elsewhere (no fast
//! `pext`) the check is a pass of its own before the field packer. The bits are the same on every path.

#![cfg_attr(not(target_arch = "x86_64"), allow(dead_code, unused_imports))]

use super::decode::sized_for;
use super::encode::fixed_group;
use super::validate::naturals_clean;
use crate::bits::{BLOCK_GROUPS, BitReader, BitWriter, fast_pext, group_at};
use crate::error::DecodeError;
use crate::scalar::Scalar;

/// Values per group: eight fields of `w` bits are `w` whole bytes.
const GROUP: usize = 8;

/// Values per block of the writer and reader ([`BitWriter::write_blocks`]).
const BLOCK: usize = GROUP * BLOCK_GROUPS;

/// The masks of one 64-bit load of `64/BITS` values of `S`, each at its value's place.
#[derive(Clone, Copy)]
struct LaneMasks {
    /// Sign and exponent: the field.
    fields: u64,
    mant: u64,
    exp: u64,
    /// The exponent's lowest bit.
    unit: u64,
    sign: u64,
}

impl LaneMasks {
    #[inline(always)]
    fn of<S: Scalar>() -> Self {
        let per = 64 / S::BITS;
        let each = |m: u64| (0..per).fold(0u64, |a, k| a | m << (k * S::BITS));
        let exp = ((1u64 << S::EXP_BITS) - 1) << S::MANT_BITS;
        let sign = 1u64 << (S::BITS - 1);
        Self {
            fields: each(sign | exp),
            mant: each((1u64 << S::MANT_BITS) - 1),
            exp: each(exp),
            unit: each(1 << S::MANT_BITS),
            sign: each(sign),
        }
    }

    /// Non-zero iff a value of `lane` is not a finite zero or power of two: a mantissa bit,
    /// or an exponent of all ones (adding one unit to it carries into the sign place, and
    /// only then).
    #[inline(always)]
    fn bad(self, lane: u64) -> u64 {
        lane & self.mant | ((lane & self.exp) + self.unit) & self.sign
    }
}

/// The groups of a block of [`BLOCK`] values and whether one of them is bad (non-zero).
#[inline(always)]
fn pack_block<S: Scalar>(
    values: &[S],
    pext: impl Fn(u64, u64) -> u64,
) -> ([u128; BLOCK_GROUPS], u64) {
    let masks = LaneMasks::of::<S>();
    let per = (64 / S::BITS) as usize;
    let chunk = per as u32 * (1 + S::EXP_BITS);
    // A plain loop: `array::from_fn` would not inline `pext` (a `target_feature` closure).
    let mut groups = [0u128; BLOCK_GROUPS];
    for (bits, vs) in groups.iter_mut().zip(values.chunks_exact(GROUP)) {
        for (j, lane) in vs.chunks_exact(per).enumerate() {
            let lane = lane.iter().enumerate().fold(0u64, |l, (k, v)| {
                l | v.to_bits_u64() << (k as u32 * S::BITS)
            });
            *bits |= u128::from(pext(lane, masks.fields)) << (j as u32 * chunk);
        }
    }
    (groups, block_bad(values))
}

/// The values of a block (the mirror of [`pack_block`]) from its input bytes, which start `s`
/// bits before its first field and hold 16 bytes past it; non-zero iff a field encodes
/// ±∞/NaN.
#[inline(always)]
fn unpack_block<S: Scalar>(
    bytes: &[u8],
    s: u32,
    out: &mut [S],
    pdep: impl Fn(u64, u64) -> u64,
) -> u64 {
    let masks = LaneMasks::of::<S>();
    let per = (64 / S::BITS) as usize;
    let chunk = per as u32 * (1 + S::EXP_BITS);
    let group_bytes = (1 + S::EXP_BITS) as usize;
    let item = u64::MAX >> (64 - S::BITS);
    for (g, os) in out.chunks_exact_mut(GROUP).enumerate() {
        let bits = group_at(bytes, g, group_bytes, s);
        for (j, os) in os.chunks_exact_mut(per).enumerate() {
            // `pdep` takes the low bits it needs; the higher ones are the next lane's.
            let lane = pdep((bits >> (j as u32 * chunk)) as u64, masks.fields);
            for (k, v) in os.iter_mut().enumerate() {
                *v = S::from_bits_u64(lane >> (k as u32 * S::BITS) & item);
            }
        }
    }
    block_bad(out)
}

/// Non-zero iff a value of the block is not a finite zero or power of two
/// ([`LaneMasks::bad`] per value): a pass of its own over the block, in L1 by now, which
/// vectorises (in 32-bit lanes for the types of at most 32 bits).
#[inline(always)]
fn block_bad<S: Scalar>(values: &[S]) -> u64 {
    let m = LaneMasks::of::<S>();
    if S::BITS <= 32 {
        // The masks of the lane's first value.
        let [mant, exp, unit, sign] =
            [m.mant, m.exp, m.unit, m.sign].map(|x| (x & (u64::MAX >> (64 - S::BITS))) as u32);
        let bad = values.iter().fold(0u32, |b, v| {
            let x = v.to_bits_u64() as u32;
            b | x & mant | ((x & exp) + unit) & sign
        });
        u64::from(bad)
    } else {
        // One value per lane.
        values.iter().fold(0u64, |b, v| b | m.bad(v.to_bits_u64()))
    }
}

/// The whole blocks of `values`, packed with `pext`; non-zero iff a value is bad.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,bmi2,popcnt")]
fn write_blocks_bmi2<S: Scalar>(w: &mut BitWriter, values: &[S]) -> u64 {
    let mut bad = 0u64;
    let blocks = values.len() / BLOCK;
    w.write_blocks(blocks, (1 + S::EXP_BITS) as usize, |b| {
        let (groups, flag) = pack_block(&values[b * BLOCK..][..BLOCK], |v, m| {
            core::arch::x86_64::_pext_u64(v, m)
        });
        bad |= flag;
        groups
    });
    bad
}

/// The whole blocks of `out` that the input holds, unpacked with `pdep`: how many values, and
/// whether a field encodes ±∞/NaN.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,bmi2,popcnt")]
fn read_blocks_bmi2<S: Scalar>(r: &mut BitReader<'_>, out: &mut [S]) -> (usize, bool) {
    let mut bad = 0u64;
    let blocks = out.len() / BLOCK;
    let done = r.read_blocks(blocks, (1 + S::EXP_BITS) as usize, |b, bytes, s| {
        bad |= unpack_block(bytes, s, &mut out[b * BLOCK..][..BLOCK], |v, m| {
            core::arch::x86_64::_pdep_u64(v, m)
        });
    });
    (done * BLOCK, bad != 0)
}

/// Whether the `f32` block reader by `vpermb` ([`read_blocks_vbmi`]) runs: the thread takes
/// AVX-512 copies ([`crate::simd::avx512`]) and the CPU has AVX-512 VBMI.
#[cfg(target_arch = "x86_64")]
fn vbmi() -> bool {
    crate::simd::avx512() && std::is_x86_feature_detected!("avx512vbmi")
}

/// `out` viewed as the bit patterns of `f32` values, if `S` is `f32`.
fn f32_bits<S: Scalar>(out: &mut [S]) -> Option<&mut [u32]> {
    (core::any::TypeId::of::<S>() == core::any::TypeId::of::<f32>()).then(|| {
        // SAFETY: S is f32 (same TypeId), whose bit patterns are u32s of the same layout.
        unsafe { core::slice::from_raw_parts_mut(out.as_mut_ptr().cast::<u32>(), out.len()) }
    })
}

/// The whole blocks of `f32` values of `out` that the input holds, sixteen fields of 9 bits
/// (18 bytes) per step: one `vpermb` puts the two bytes that hold field $j$ at the top of
/// lane $j$, one variable shift puts the field at bits 23–31 (sign and exponent), a mask
/// clears the rest. A block's 72 bytes (and 16 past them) are two 64-byte loads, at bytes 0
/// and 24, each serving two steps. How many values, and whether a field encodes ±∞/NaN.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
fn read_blocks_vbmi(r: &mut BitReader<'_>, out: &mut [u32]) -> (usize, bool) {
    use core::arch::x86_64::*;
    const STEP: usize = 16;
    // Where each step's 18 bytes start in the block, and in the load that serves it.
    const LOAD_OF_STEP: [usize; 4] = [0, 0, 1, 1];
    const IN_LOAD: [u32; 4] = [0, 18, 12, 30];
    let blocks = out.len() / BLOCK;
    let exp = _mm512_set1_epi32(0x7f80_0000);
    let field = _mm512_set1_epi32(0xff80_0000_u32 as i32);
    // Per bit offset s of the block: in step k, lane j takes the bytes b_j and b_j + 1 of its
    // load (field j starts at bit s + 9j = 8 (b_j - IN_LOAD[k]) + t_j of the step) as its
    // bytes 2 and 3, then shifts left by 7 − t_j.
    let mut tables: Option<(u32, [__m512i; 4], __m512i)> = None;
    let mut bad = 0u16;
    let done = r.read_blocks(blocks, 9, |b, bytes, s| {
        let (index, shift) = match tables {
            Some((at, index, shift)) if at == s => (index, shift),
            _ => {
                let mut shift = [0u32; STEP];
                let mut index = [[0u32; STEP]; 4];
                for j in 0..STEP {
                    let q = s + 9 * j as u32;
                    shift[j] = 7 - q % 8;
                    for (k, at) in IN_LOAD.iter().enumerate() {
                        let b = at + q / 8;
                        index[k][j] = b << 16 | (b + 1) << 24;
                    }
                }
                // SAFETY: every array is 64 bytes (unaligned loads).
                let made = unsafe {
                    (
                        index.map(|i| _mm512_loadu_si512(i.as_ptr().cast())),
                        _mm512_loadu_si512(shift.as_ptr().cast()),
                    )
                };
                tables = Some((s, made.0, made.1));
                made
            }
        };
        let (first, second) = (&bytes[..64], &bytes[24..][..64]);
        // SAFETY: both slices are 64 bytes (unaligned loads).
        let loads = unsafe {
            [
                _mm512_loadu_si512(first.as_ptr().cast()),
                _mm512_loadu_si512(second.as_ptr().cast()),
            ]
        };
        let values = &mut out[b * BLOCK..][..BLOCK];
        for (k, chunk) in values.chunks_exact_mut(STEP).enumerate() {
            let lanes = _mm512_permutexvar_epi8(index[k], loads[LOAD_OF_STEP[k]]);
            let v = _mm512_and_si512(_mm512_sllv_epi32(lanes, shift), field);
            bad |= _mm512_cmpeq_epi32_mask(_mm512_and_si512(v, exp), exp);
            // SAFETY: `chunk` is 16 u32s, 64 bytes (unaligned store).
            unsafe { _mm512_storeu_si512(chunk.as_mut_ptr().cast(), v) };
        }
    });
    (done * BLOCK, bad != 0)
}

/// `f32` values per step of [`pack_region_vbmi`]: 32 fields of 9 bits are 36 whole bytes.
const VBMI_STEP: usize = 32;

/// Bytes per step of [`pack_region_vbmi`].
const VBMI_STEP_BYTES: usize = VBMI_STEP * 9 / 8;

/// `values` (a multiple of [`VBMI_STEP`] `f32` bit patterns) as natural fields into every
/// byte of `dst` (36 per step), shifted up by `s < 8` with the low `s` bits of `dst[0]` zero:
/// a region of [`BitWriter::write_region`] or [`BitWriter::write_regions`]. Returns the last
/// `s` bits (the carry out) and whether a value is not a finite zero or power of two.
///
/// Field $j$ of a step starts at bit $p_j = s + 9j$: byte $b_j = \lfloor p_j/8 \rfloor$, bit
/// $t_j = p_j \bmod 8$. One variable shift per sixteen values moves each field from bits
/// 23–31 (sign and exponent; the mantissa of a valid value is zero) to bits $t_j$ to
/// $t_j + 8$ of its 32-bit lane, that is its lane's bytes 0 and 1 become the step's bytes
/// $b_j$ and $b_j + 1$; sixteen fields are 18 whole bytes, so both halves of a step take the
/// same shifts. Fields $j$ and $j + 2$ never share a byte, so two two-source byte permutes,
/// of the even and of the odd fields, gather the step's bytes, and an or joins them. The
/// byte past a step ($s > 0$) goes into the next step's first byte.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
fn pack_region_vbmi(dst: &mut [core::mem::MaybeUninit<u8>], s: u32, values: &[u32]) -> (u64, bool) {
    use core::arch::x86_64::*;
    debug_assert!(s < 8 && values.len().is_multiple_of(VBMI_STEP));
    debug_assert_eq!(dst.len(), values.len() / VBMI_STEP * VBMI_STEP_BYTES);
    let mut shift = [0u32; 16];
    // Per parity: the source byte of each output byte, and which output bytes have one.
    let mut index = [[0u8; 64]; 2];
    let mut has = [0u64; 2];
    for j in 0..VBMI_STEP {
        let p = s + 9 * j as u32;
        shift[j % 16] = 23 - p % 8;
        let b = (p / 8) as usize;
        // Lane j of the first register, or lane j − 16 of the second (index bit 6).
        let lane = 4 * (j % 16) + 64 * (j / 16);
        for k in 0..2 {
            index[j % 2][b + k] = (lane + k) as u8;
            has[j % 2] |= 1 << (b + k);
        }
    }
    // SAFETY: every array is 64 bytes (unaligned loads).
    let (shift, even, odd) = unsafe {
        (
            _mm512_loadu_si512(shift.as_ptr().cast()),
            _mm512_loadu_si512(index[0].as_ptr().cast()),
            _mm512_loadu_si512(index[1].as_ptr().cast()),
        )
    };
    let past = _mm512_set1_epi8(VBMI_STEP_BYTES as i8);
    let mant = _mm512_set1_epi32(0x007f_ffff);
    let exp = _mm512_set1_epi32(0x7f80_0000);
    let mut junk = _mm512_setzero_si512();
    let mut infinite = 0u16;
    let mut carry = _mm512_setzero_si512();
    let dst_len = dst.len();
    let out = dst.as_mut_ptr().cast::<u8>();
    for (k, step) in values.chunks_exact(VBMI_STEP).enumerate() {
        let (lo, hi) = step.split_at(16);
        // SAFETY: both halves are 16 u32s, 64 bytes (unaligned loads).
        let (a, c) = unsafe {
            (
                _mm512_loadu_si512(lo.as_ptr().cast()),
                _mm512_loadu_si512(hi.as_ptr().cast()),
            )
        };
        for v in [a, c] {
            // junk | v & mant: a mantissa bit; an exponent of all ones: ±∞ or NaN.
            junk = _mm512_ternarylogic_epi32::<0xf8>(junk, v, mant);
            infinite |= _mm512_cmpeq_epi32_mask(_mm512_and_si512(v, exp), exp);
        }
        let (a, c) = (_mm512_srlv_epi32(a, shift), _mm512_srlv_epi32(c, shift));
        let packed = _mm512_or_si512(
            _mm512_maskz_permutex2var_epi8(has[0], a, even, c),
            _mm512_maskz_permutex2var_epi8(has[1], a, odd, c),
        );
        let bytes = _mm512_or_si512(packed, carry);
        let at = k * VBMI_STEP_BYTES;
        // SAFETY: step k's 36 bytes lie inside `dst` (writing them initialises them); all 64
        // bytes of a full store too, and the next step overwrites the 28 past its own.
        unsafe {
            if at + 64 <= dst_len {
                _mm512_storeu_si512(out.add(at).cast(), bytes);
            } else {
                _mm512_mask_storeu_epi8(out.add(at).cast(), (1 << VBMI_STEP_BYTES) - 1, bytes);
            }
        };
        // The byte past the step, at byte 0 (zero if s = 0).
        carry = _mm512_maskz_permutexvar_epi8(1, past, packed);
    }
    let bad = infinite != 0 || _mm512_test_epi32_mask(junk, junk) != 0;
    let carry = _mm_cvtsi128_si32(_mm512_castsi512_si128(carry)) as u8;
    (u64::from(carry), bad)
}

/// `values` as `f32` bit patterns, if `S` is `f32`.
fn f32_values<S: Scalar>(values: &[S]) -> Option<&[u32]> {
    (core::any::TypeId::of::<S>() == core::any::TypeId::of::<f32>()).then(|| {
        // SAFETY: S is f32 (same TypeId), whose bit patterns are u32s of the same layout.
        unsafe { core::slice::from_raw_parts(values.as_ptr().cast::<u32>(), values.len()) }
    })
}

/// Write natural-compression values; `false` (bytes written or not) if one is not a finite zero
/// or power of two, which the caller turns into the validation error. A large payload is
/// written chunk by chunk on the calling rayon pool ([`BitWriter::write_chunked`]).
pub(super) fn write_naturals<S: Scalar>(w: &mut BitWriter, values: &[S]) -> bool {
    #[cfg(all(target_arch = "x86_64", feature = "parallel"))]
    if fast_pext() && crate::bits::wire_parallel(values.len()) {
        // Fixed width: each whole chunk goes straight to its place, then the rest.
        use crate::bits::WIRE_CHUNK;
        let whole = values.len() / WIRE_CHUNK;
        let region_bytes = WIRE_CHUNK / 8 * (1 + S::EXP_BITS) as usize;
        let f32s = f32_values(values).filter(|_| vbmi());
        let bad = w.write_regions(whole, region_bytes, |c, dst, s| match f32s {
            // SAFETY: `vbmi()` holds only where the CPU has AVX-512 F, BW and VBMI.
            Some(bits) => unsafe {
                pack_region_vbmi(dst, s, &bits[c * WIRE_CHUNK..][..WIRE_CHUNK])
            },
            // SAFETY: `fast_pext()` holds only where the CPU has AVX2, BMI2 and POPCNT.
            None => unsafe { pack_region_bmi2(dst, s, &values[c * WIRE_CHUNK..][..WIRE_CHUNK]) },
        });
        return !bad && !write_natural_run(w, &values[whole * WIRE_CHUNK..]);
    }
    !w.write_chunked(values, write_natural_run)
}

/// A whole chunk of values (a multiple of [`BLOCK`]) packed by blocks into its region of
/// [`BitWriter::write_regions`], shifted up by `s`: the carry out, and whether a value is bad.
#[cfg(all(target_arch = "x86_64", feature = "parallel"))]
#[target_feature(enable = "avx2,bmi2,popcnt")]
fn pack_region_bmi2<S: Scalar>(
    dst: &mut [core::mem::MaybeUninit<u8>],
    s: u32,
    values: &[S],
) -> (u64, bool) {
    let mut bad = 0u64;
    let blocks = values.len() / BLOCK;
    let group_bytes = (1 + S::EXP_BITS) as usize;
    let carry = crate::bits::pack_blocks_into(dst, s, blocks, group_bytes, |b| {
        let (groups, flag) = pack_block(&values[b * BLOCK..][..BLOCK], |v, m| {
            core::arch::x86_64::_pext_u64(v, m)
        });
        bad |= flag;
        groups
    });
    (carry, bad != 0)
}

/// [`write_naturals`] on the calling thread: `true` if a value is bad. By blocks where `pext`
/// is fast (each block checked as it is packed), else a check pass and the field loop.
pub(super) fn write_natural_run<S: Scalar>(w: &mut BitWriter, values: &[S]) -> bool {
    let mut rest = values;
    #[cfg(target_arch = "x86_64")]
    if vbmi()
        && let Some(bits) = f32_values(values)
        && bits.len() >= VBMI_STEP
    {
        let steps = bits.len() / VBMI_STEP;
        let bad = w.write_region(steps * VBMI_STEP_BYTES, |dst, s| {
            // SAFETY: `vbmi()` holds only where the CPU has AVX-512 F, BW and VBMI.
            unsafe { pack_region_vbmi(dst, s, &bits[..steps * VBMI_STEP]) }
        });
        if bad {
            return true;
        }
        rest = &values[steps * VBMI_STEP..];
    } else if fast_pext() {
        // SAFETY: `fast_pext()` holds only where the CPU has AVX2, BMI2 and POPCNT.
        if unsafe { write_blocks_bmi2(w, values) } != 0 {
            return true;
        }
        rest = &values[values.len() / BLOCK * BLOCK..];
    }
    if !naturals_clean(rest) {
        return true;
    }
    let n = 1 + S::EXP_BITS;
    w.write_fields(
        rest,
        n,
        |v| (v.to_bits_u64() >> S::MANT_BITS, n),
        |g, n| Some(fixed_group(g, n, |v| v.to_bits_u64() >> S::MANT_BITS)),
    );
    false
}

/// `dim` natural-compression values (sign and exponent field, mantissa zero) into `values`;
/// by blocks where `pdep` is fast, else word-at-a-time; chunked over the calling rayon pool
/// for large payloads ([`BitReader::read_chunked`]); re-reading entry by entry from the start
/// if a field encodes ±∞/NaN.
pub(super) fn read_naturals<S: Scalar>(
    r: &mut BitReader<'_>,
    dim: usize,
    values: Vec<S>,
) -> Result<Vec<S>, DecodeError> {
    let n = 1 + S::EXP_BITS;
    let mut values = sized_for(r, values, dim, n, S::ZERO)?;
    let max_exp = (1u64 << S::EXP_BITS) - 1;
    let start = r.clone();
    let field = |field: u64| {
        (
            S::from_bits_u64(field << S::MANT_BITS),
            field & max_exp == max_exp,
        )
    };
    let bad = r.read_chunked(&mut values, n, |r, out| {
        let mut done = 0;
        let mut bad = false;
        #[cfg(target_arch = "x86_64")]
        if vbmi()
            && let Some(bits) = f32_bits(out)
        {
            // SAFETY: `vbmi()` holds only where the CPU has AVX-512 F, BW and VBMI.
            (done, bad) = unsafe { read_blocks_vbmi(r, bits) };
        } else if fast_pext() {
            // SAFETY: `fast_pext()` holds only where the CPU has AVX2, BMI2 and POPCNT.
            (done, bad) = unsafe { read_blocks_bmi2(r, out) };
        }
        bad | r.read_fixed(&mut out[done..], n, field)
    });
    if !bad {
        return Ok(values);
    }
    *r = start;
    for (j, o) in values.iter_mut().enumerate() {
        let field = r.read(n)?;
        DecodeError::require(field & max_exp != max_exp, "natural exponent", || {
            format!("entry {j} encodes ±∞/NaN")
        })?;
        *o = S::from_bits_u64(field << S::MANT_BITS);
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bits::extract_bits;
    use crate::{bf16, f16};
    use proptest::prelude::*;

    /// `pdep`, portably: the low bits of `v` to the set bits of `keep`, lowest first.
    fn deposit_bits(v: u64, mut keep: u64) -> u64 {
        let (mut out, mut at) = (0u64, 0u32);
        while keep != 0 {
            let low = keep & keep.wrapping_neg();
            if v >> at & 1 == 1 {
                out |= low;
            }
            at += 1;
            keep &= keep - 1;
        }
        out
    }

    /// A block packs to the bits of one field per value and unpacks to the values, and its
    /// flag is the natural-value check, for every scalar type.
    fn block_is_fields<S: Scalar>(picks: &[(i32, bool, u16)]) {
        let values: Vec<S> = picks
            .iter()
            .cycle()
            .take(BLOCK)
            .map(|&(e, neg, junk)| {
                let v = S::from_f64(if neg { -1.0 } else { 1.0 } * 2f64.powi(e));
                // Now and then a mantissa bit or a ±∞ to catch.
                match junk % 97 {
                    0 => S::from_bits_u64(v.to_bits_u64() | 1),
                    1 => S::from_f64(f64::INFINITY),
                    _ => v,
                }
            })
            .collect();
        let (groups, bad) = pack_block(&values, extract_bits);
        // Eight fields are whole bytes: those of the group.
        let mut fields = BitWriter::new();
        for v in &values {
            fields.write(v.to_bits_u64() >> S::MANT_BITS, 1 + S::EXP_BITS);
        }
        let bytes = fields.into_bytes();
        let group_bytes = (1 + S::EXP_BITS) as usize;
        for (g, bits) in groups.iter().enumerate() {
            let mut want = [0u8; 16];
            want[..group_bytes].copy_from_slice(&bytes[g * group_bytes..][..group_bytes]);
            assert_eq!(*bits, u128::from_le_bytes(want));
        }
        let clean = naturals_clean(&values);
        assert_eq!(bad == 0, clean);
        // Decoded at a bit offset from those bytes, 16 to spare.
        let mut bytes = bytes;
        bytes.extend([0; 17]);
        let s = (picks.len() % 8) as u32;
        let shifted: Vec<u8> = (0..bytes.len())
            .map(|i| {
                let lo = (bytes[i] as u16) << s;
                let carry = if i > 0 {
                    (bytes[i - 1] as u16) << s >> 8
                } else {
                    0
                };
                (lo | carry) as u8
            })
            .collect();
        let mut back = vec![S::ZERO; BLOCK];
        let inf = unpack_block(&shifted, s, &mut back, deposit_bits);
        let infinite = values.iter().any(|v| !v.is_finite());
        assert_eq!(inf != 0, infinite);
        for (b, v) in back.iter().zip(&values) {
            let field = v.to_bits_u64() >> S::MANT_BITS;
            assert_eq!(b.to_bits_u64(), field << S::MANT_BITS);
        }
    }

    proptest! {
        #[test]
        fn blocks_match_fields(
            picks in prop::collection::vec((-20i32..20, any::<bool>(), any::<u16>()), 1..80),
        ) {
            block_is_fields::<f32>(&picks);
            block_is_fields::<f64>(&picks);
            block_is_fields::<f16>(&picks);
            block_is_fields::<bf16>(&picks);
        }

        /// `deposit_bits` is `pdep` (where the CPU has it).
        #[test]
        fn deposit_bits_is_pdep(v in any::<u64>(), keep in any::<u64>()) {
            #[cfg(target_arch = "x86_64")]
            if std::is_x86_feature_detected!("bmi2") {
                // SAFETY: the CPU has BMI2.
                let pdep = unsafe { core::arch::x86_64::_pdep_u64(v, keep) };
                prop_assert_eq!(deposit_bits(v, keep), pdep);
            }
            let c = keep.count_ones();
            let low = if c == 64 { u64::MAX } else { (1u64 << c) - 1 };
            prop_assert_eq!(extract_bits(deposit_bits(v, keep), keep), v & low);
        }
    }
}

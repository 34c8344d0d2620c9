//! Runs of non-zero sign-magnitude codes packed and read 64 at a time with AVX-512 (VBMI
//! and VBMI2), where the CPU has them: the codes of power rounding, and dense stretches of
//! QSGD's. The reader is the mirror image ([`BitReader::read_dense_codes_vbmi`]).
//!
//! A non-zero code $c$ of a `W`-bit level is the field $f = |c| + 2^W \sigma$ of
//! $L = W + 1$ bits ($\sigma = 1$ if $c$ is negative, else 0), so 64 of them are $8L$ whole
//! bytes. For $L \le 8$ the fields are joined in
//! registers by doubling: pairs of 16-bit lanes by one multiply-add ($f_0 + 2^L f_1$),
//! pairs of 32-bit lanes by a shift and an or, pairs of 64-bit lanes by a byte shift, a
//! shift and an or, which leaves eight fields ($L$ bytes) at the bottom of each 128-bit
//! lane; one two-source byte permute gathers the eight groups of two registers into the
//! block's $8L$ bytes. The writer's pending bits $s < 8$ shift the block up by one funnel
//! shift per 64-bit lane (`vpshldvq`), fed by the last byte of the previous block. The bits
//! are those of [`BitWriter::write_fields`] with one field per code.

use super::{BitReader, BitWriter, DENSE_BLOCK};

/// Whether [`BitWriter::write_dense_code_blocks`] runs: the thread takes AVX-512 copies
/// ([`crate::simd::avx512`]) and the CPU has AVX-512 VBMI and VBMI2.
#[cfg(target_arch = "x86_64")]
pub(crate) fn dense_vbmi() -> bool {
    crate::simd::avx512()
        && std::is_x86_feature_detected!("avx512vbmi")
        && std::is_x86_feature_detected!("avx512vbmi2")
}

#[cfg(target_arch = "x86_64")]
impl BitWriter {
    /// Append the leading blocks of [`DENSE_BLOCK`] codes of `codes` in which no code is
    /// zero, as sign-magnitude fields of `width + 1 ≤ 8` bits (levels below `2^width`, not
    /// checked here), and return how many codes that is (a multiple of [`DENSE_BLOCK`]):
    /// it stops at the first block with a zero code or at the last whole block.
    ///
    /// # Safety
    /// The CPU must have AVX-512 F, BW, VBMI and VBMI2 ([`dense_vbmi`]).
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vbmi2")]
    pub(crate) unsafe fn write_dense_code_blocks(&mut self, width: u32, codes: &[i16]) -> usize {
        debug_assert!((1..=7).contains(&width));
        let block_bytes = 8 * (width + 1) as usize;
        // Nothing to set up when the first block has a zero code (the caller's field loop
        // takes it).
        if !codes.get(..DENSE_BLOCK).is_some_and(dense_block) {
            return 0;
        }
        // The pending whole bytes go out first; `s < 8` bits stay pending, shifted into the
        // blocks.
        let whole = (self.pending / 8) as usize;
        self.buf.extend_from_slice(&self.acc.to_le_bytes()[..whole]);
        let s = self.pending % 8;
        let carry = if whole < 8 {
            self.acc >> (8 * whole as u32)
        } else {
            0
        };
        // Room for every whole block's 64-byte store (the last reaches 64 − 8L bytes past).
        self.buf
            .reserve(codes.len() / DENSE_BLOCK * block_bytes + 64);
        let start = self.buf.len();
        // SAFETY: `reserve` left room for 64 bytes at every whole block's start.
        let (blocks, carry) = unsafe {
            pack_dense_blocks::<false>(
                self.buf.as_mut_ptr().add(start),
                usize::MAX,
                width,
                codes,
                s,
                carry,
            )
        };
        // SAFETY: the bytes up to the last block's end were all written.
        unsafe { self.buf.set_len(start + blocks * block_bytes) };
        self.acc = carry;
        self.pending = s;
        self.bits += (blocks * block_bytes) as u64 * 8;
        blocks * DENSE_BLOCK
    }
}

/// Whether no code of a [`DENSE_BLOCK`] is zero (plain code; the packer tests its loads).
#[cfg(target_arch = "x86_64")]
pub(crate) fn dense_block(block: &[i16]) -> bool {
    block.iter().all(|&c| c != 0)
}

/// `codes` (a multiple of [`DENSE_BLOCK`], no code zero) as sign-magnitude fields of
/// `width + 1 ≤ 8` bits into `dst`, whose every byte it writes, shifted up by `s < 8` bits
/// (the low `s` bits of `dst[0]` zero): the last `s` bits (the carry into the next region's
/// first byte, as [`BitWriter::write_regions`] takes it), or `None` at a block with a zero
/// code (`dst` then zero from that block on). Levels are not checked here.
///
/// # Safety
/// The CPU must have AVX-512 F, BW, VBMI and VBMI2 ([`dense_vbmi`]).
#[cfg(all(target_arch = "x86_64", feature = "parallel"))]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vbmi2")]
pub(crate) unsafe fn pack_dense_region(
    dst: &mut [core::mem::MaybeUninit<u8>],
    s: u32,
    width: u32,
    codes: &[i16],
) -> Option<u64> {
    let block_bytes = 8 * (width + 1) as usize;
    let blocks = codes.len() / DENSE_BLOCK;
    debug_assert!((1..=7).contains(&width) && s < 8 && codes.len().is_multiple_of(DENSE_BLOCK));
    assert_eq!(dst.len(), blocks * block_bytes, "a region's bytes");
    // SAFETY: every store stays inside `dst` (its room).
    let (done, carry) = unsafe {
        pack_dense_blocks::<true>(dst.as_mut_ptr().cast(), dst.len(), width, codes, s, 0)
    };
    if done < blocks {
        let rest = &mut dst[done * block_bytes..];
        // SAFETY: `rest` is valid for writes of its length; zero bytes initialise it.
        unsafe { core::ptr::write_bytes(rest.as_mut_ptr(), 0, rest.len()) };
        return None;
    }
    Some(carry)
}

/// The packer of [`BitWriter::write_dense_code_blocks`] and [`pack_dense_region`]: the
/// leading blocks of `codes` with no zero code, block `b` stored at `out + b·8L` with its
/// bits shifted up by `s < 8`, the first block's low `s` bits being `carry`'s (`carry <
/// 2^s`). A block's 64-byte store runs past its `8L` bytes; `BOUNDED`, where that would
/// reach past `room` bytes from `out`, the store is masked to the block (else `room` is not
/// read: the caller has room for every full store). Returns how many blocks, and
/// the last `s` bits (the carry after them).
///
/// # Safety
/// The CPU must have AVX-512 F, BW, VBMI and VBMI2, and with `blocks` the number of whole
/// blocks of `codes`: `BOUNDED`, `room ≥ blocks·8L` and `out` valid for writes of `room`
/// bytes; else `out` valid for writes of `(blocks − 1)·8L + 64` bytes (each block's full
/// store).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vbmi2")]
unsafe fn pack_dense_blocks<const BOUNDED: bool>(
    out: *mut u8,
    room: usize,
    width: u32,
    codes: &[i16],
    s: u32,
    carry: u64,
) -> (usize, u64) {
    use core::arch::x86_64::*;
    let len = width + 1;
    let block_bytes = 8 * len as usize;
    // Whether a block has no zero code (its two halves loaded).
    let dense = |a: __m512i, c: __m512i| {
        _mm512_test_epi16_mask(a, a) & _mm512_test_epi16_mask(c, c) == u32::MAX
    };
    let halves = |block: &[i16]| {
        let (lo, hi) = block.split_at(32);
        // SAFETY: both halves are 32 i16s, 64 bytes (unaligned loads).
        unsafe {
            (
                _mm512_loadu_si512(lo.as_ptr().cast()),
                _mm512_loadu_si512(hi.as_ptr().cast()),
            )
        }
    };
    let sign_at = _mm512_set1_epi16(1 << width);
    let pair = _mm512_set1_epi32(1 | (1 << len) << 16);
    let low32 = _mm512_set1_epi64(0xffff_ffff);
    let quad_shift = _mm_cvtsi32_si128(2 * len as i32);
    let oct_shift = _mm_cvtsi32_si128(4 * len as i32);
    // Byte i of the block: group g = i / L (four per register, one per 128-bit lane),
    // byte i % L of it; index bit 6 picks the second register.
    let mut gather = [0u8; 64];
    for (i, x) in gather.iter_mut().enumerate().take(block_bytes) {
        let (g, r) = (i / len as usize, i % len as usize);
        *x = (16 * (g % 4) + r + 64 * (g / 4)) as u8;
    }
    // SAFETY: `gather` is 64 bytes (unaligned load).
    let gather = unsafe { _mm512_loadu_si512(gather.as_ptr().cast()) };
    let last = _mm512_set1_epi64(i64::from(len) - 1);
    let shift = _mm512_set1_epi64(i64::from(s));
    let block_mask = u64::MAX >> (64 - block_bytes);
    // Lane 7 of `prev`: the 64 bits before the block, whose top `s` are the carry.
    let mut prev = _mm512_set1_epi64(if s == 0 {
        0
    } else {
        (carry << (64 - s)) as i64
    });
    let fields = |c: __m512i| {
        let f = _mm512_or_si512(
            _mm512_abs_epi16(c),
            _mm512_and_si512(_mm512_srai_epi16::<15>(c), sign_at),
        );
        // Pairs, then quads, then eights: L, 2L, 4L, 8L bits at the bottom of each lane.
        let g = _mm512_madd_epi16(f, pair);
        let h = _mm512_or_si512(
            _mm512_and_si512(g, low32),
            _mm512_srl_epi64(g, _mm_sub_epi64(_mm_cvtsi32_si128(32), quad_shift)),
        );
        _mm512_or_si512(h, _mm512_sll_epi64(_mm512_bsrli_epi128::<8>(h), oct_shift))
    };
    // The leading blocks with no zero code, each tested and packed from one pair of loads.
    let mut blocks = 0;
    for block in codes.chunks_exact(DENSE_BLOCK) {
        let (a, c) = halves(block);
        if !dense(a, c) {
            break;
        }
        let q = _mm512_permutex2var_epi8(fields(a), gather, fields(c));
        let shifted = _mm512_shldv_epi64(q, _mm512_alignr_epi64::<7>(q, prev), shift);
        let at = blocks * block_bytes;
        // SAFETY: the caller's room: a full store where it fits, else the block's bytes.
        unsafe {
            if !BOUNDED || at + 64 <= room {
                _mm512_storeu_si512(out.add(at).cast(), shifted);
            } else {
                _mm512_mask_storeu_epi8(out.add(at).cast(), block_mask, shifted);
            }
        }
        // The block's last byte is the top byte of its 64-bit lane L − 1.
        prev = _mm512_permutexvar_epi64(last, q);
        blocks += 1;
    }
    let top = _mm_cvtsi128_si64(_mm512_castsi512_si128(prev)) as u64;
    (blocks, if s == 0 { 0 } else { top >> (64 - s) })
}

#[cfg(target_arch = "x86_64")]
impl BitReader<'_> {
    /// [`BitReader::read_dense_codes`] with AVX-512 VBMI/VBMI2, for fields
    /// of `W + 1 ≤ 7` bits: the same contract (the next [`DENSE_BLOCK`] codes into `out` if no
    /// level is zero, with whether a level is above `s`; else `None`, the position unchanged
    /// and `out` overwritten), and `None` too if the 72 bytes from the block's first byte are
    /// not inside the input. The mirror of [`BitWriter::write_dense_code_blocks`]: two loads
    /// and one funnel shift per lane undo the bit offset, a byte permute per half puts each
    /// group of eight fields at the bottom of a 128-bit lane, and shifts split eights into
    /// quads, pairs and fields.
    ///
    /// # Safety
    /// The CPU must have AVX-512 F, BW, VBMI and VBMI2 ([`dense_vbmi`]).
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vbmi2")]
    pub(crate) unsafe fn read_dense_codes_vbmi<const W: u32>(
        &mut self,
        out: &mut [i16],
        s: u16,
    ) -> Option<bool> {
        use core::arch::x86_64::*;
        if W > 6 || out.len() != DENSE_BLOCK {
            return None;
        }
        let len = W + 1;
        let size = 8 * len as usize;
        if self.remaining() < size as u64 * 8 {
            return None;
        }
        let first = (self.pos / 8) as usize;
        let src = self.bytes.get(first..first + 72)?;
        // SAFETY: `src` is 72 bytes: loads of 64 at offsets 0 and 8.
        let (q, next) = unsafe {
            (
                _mm512_loadu_si512(src.as_ptr().cast()),
                _mm512_loadu_si512(src.as_ptr().add(8).cast()),
            )
        };
        let block = _mm512_shrdv_epi64(q, next, _mm512_set1_epi64((self.pos % 8) as i64));
        // Byte r < L of 128-bit lane g: byte g·L + r of the block (groups 4–7 in the second
        // half); the other bytes zero.
        let mut spread = [[0u8; 64]; 2];
        let mut keep = 0u64;
        for g in 0..4 {
            for r in 0..len as usize {
                spread[0][16 * g + r] = (g * len as usize + r) as u8;
                spread[1][16 * g + r] = ((g + 4) * len as usize + r) as u8;
                keep |= 1 << (16 * g + r);
            }
        }
        let len_v = _mm_cvtsi32_si128(len as i32);
        let mask = |bits: u32| _mm512_set1_epi64(((1u64 << bits) - 1) as i64);
        let (quad, pair) = (mask(4 * len), mask(2 * len));
        let one = _mm512_set1_epi32((1 << len) - 1);
        let (mut zero, mut above) = (0u32, 0u32);
        let level = _mm512_set1_epi16(((1u32 << W) - 1) as i16);
        let s_v = _mm512_set1_epi16(s as i16);
        for (half, o) in out.chunks_exact_mut(32).enumerate() {
            // SAFETY: `spread[half]` is 64 bytes (unaligned load).
            let idx = unsafe { _mm512_loadu_si512(spread[half].as_ptr().cast()) };
            let e = _mm512_maskz_permutexvar_epi8(keep, idx, block);
            // Eights to quads (two 64-bit lanes), quads to pairs (32-bit), pairs to fields.
            let h = _mm512_or_si512(
                _mm512_and_si512(e, quad),
                _mm512_bslli_epi128::<8>(_mm512_srl_epi64(e, _mm_slli_epi64::<2>(len_v))),
            );
            let g = _mm512_or_si512(
                _mm512_and_si512(h, pair),
                _mm512_slli_epi64::<32>(_mm512_srl_epi64(h, _mm_slli_epi64::<1>(len_v))),
            );
            let f = _mm512_or_si512(
                _mm512_and_si512(g, one),
                _mm512_slli_epi32::<16>(_mm512_srl_epi32(g, len_v)),
            );
            let m = _mm512_and_si512(f, level);
            let neg = _mm512_test_epi16_mask(f, _mm512_andnot_si512(level, _mm512_set1_epi16(-1)));
            zero |= _mm512_cmpeq_epi16_mask(m, _mm512_setzero_si512());
            above |= _mm512_cmpgt_epu16_mask(m, s_v);
            let c = _mm512_mask_sub_epi16(m, neg, _mm512_setzero_si512(), m);
            // SAFETY: `o` is 32 i16s, 64 bytes (unaligned store).
            unsafe { _mm512_storeu_si512(o.as_mut_ptr().cast(), c) };
        }
        if zero != 0 {
            return None;
        }
        self.pos += size as u64 * 8;
        Some(above != 0)
    }
}

//! The `f32` chunk scan with AVX-512 compress-stores.
//!
//! The generic chunk loop appends a chunk's hits one at a time (four branch-free steps, then a
//! loop). With AVX-512 each group of 16 entries is done whole: one compare gives the 16-bit
//! hit mask, `vcompressps` / `vpcompressd` pack the hit values and their indices to the front
//! of a register, and two full-width stores put them at the output cursor, which then advances
//! by the mask's population count. Nothing depends on how many hits there are, and there is
//! no branch per hit. The stores write 16 slots each, hits first; the slots past the new
//! cursor are overwritten by the next group or cut off by the caller's truncation, as in the
//! generic loop. The hits, their order and the stop positions are those of the generic loop
//! (`both_copies_match_the_reference` and `tests/simd_levels.rs` compare them).

use core::arch::x86_64::*;

use super::{CHUNK, Hits, How, Stop};

/// Entries per AVX-512 group (one `f32` register, one 16-bit mask).
const GROUP: usize = 16;

/// [`super::scan_chunks`] for `f32` on a CPU with AVX-512 F: the same hits in the same slots,
/// the same stop position and reason. `!(|x_j| < t)` is the ordered-or-unordered compare
/// `_CMP_NLT_UQ`, so NaN and ±∞ are hits, as in the generic loop; the chunk's largest `|x_j|`
/// bit pattern (an unsigned maximum, which orders NaN above +∞ above every finite value)
/// flags them, leaving the compare port to the hit masks and compress instructions.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,popcnt")]
pub(super) fn scan_chunks_f32(
    x: &[f32],
    base: usize,
    how: How<f32>,
    out: &mut Hits<'_, f32>,
) -> (usize, Stop) {
    let (chunks, _) = x.as_chunks::<CHUNK>();
    let t = _mm512_set1_ps(how.t);
    let inf_bits = _mm512_set1_epi32(f32::INFINITY.to_bits() as i32);
    let sixteen = _mm512_set1_epi32(GROUP as i32);
    // Indices fit in u32 (callers checked d ≤ MAX_DIM); i32 addition wraps as u32's.
    let mut at = _mm512_add_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32(base as i32),
    );
    let room = out.idx.len().min(out.val.len());
    let (idx, val) = (out.idx.as_mut_ptr(), out.val.as_mut_ptr());
    let mut o = out.w;
    for (ci, c) in chunks.iter().enumerate() {
        let pos = ci * CHUNK;
        if o + CHUNK > room {
            out.w = o;
            return (pos, Stop::Grow);
        }
        // The largest |x_j| bit pattern of the chunk: ≥ the bits of +∞ iff one is NaN or ±∞.
        let mut top = _mm512_setzero_si512();
        for group in c.as_chunks::<GROUP>().0 {
            // SAFETY: `group` is 16 readable f32.
            let v = unsafe { _mm512_loadu_ps(group.as_ptr()) };
            let a = _mm512_abs_ps(v);
            let hit = _mm512_cmp_ps_mask::<_CMP_NLT_UQ>(a, t);
            top = _mm512_max_epu32(top, _mm512_castps_si512(a));
            // SAFETY: o + CHUNK ≤ room held at the start of the chunk and each of its four
            // groups advances o by at most 16, so slots o..o + 16 are inside both slices.
            unsafe {
                _mm512_storeu_ps(val.add(o), _mm512_maskz_compress_ps(hit, v));
                _mm512_storeu_si512(idx.add(o).cast(), _mm512_maskz_compress_epi32(hit, at));
            }
            o += hit.count_ones() as usize;
            at = _mm512_add_epi32(at, sixteen);
        }
        if _mm512_cmpge_epu32_mask(top, inf_bits) != 0 {
            out.w = o;
            return (pos, Stop::NonFinite);
        }
        if o >= how.cap {
            out.w = o;
            return (pos + CHUNK, Stop::Full);
        }
    }
    out.w = o;
    (chunks.len() * CHUNK, Stop::Done)
}

//! The block-assignment pass of Perm-K, batched (see [`PermK`](super::PermK), *Sampling*).
//!
//! For $j = 0, 1, \dots$ draw $r_j$ uniform in $\lbrace0, \dots, d-j-1\rbrace$ (Lemire's
//! multiply-and-reject on one 64-bit word $w$: $r = \lfloor w\thinspace n/2^{64}\rfloor$ for $n = d-j$,
//! redrawn while $w\thinspace n \bmod 2^{64} < 2^{64} \bmod n$), and with $\beta_j$ places left before
//! block $i$ and $\mu_j$ in it, coordinate $j$ goes to block $i$ iff
//! $\beta_j \le r_j < \beta_j + \mu_j$; $\beta$ drops by one when $r_j < \beta_j$, $\mu$ when
//! $j$ is kept. Stop when $\mu = 0$, or when only block $i$'s places are left
//! ($\beta = 0$, $\mu = d - j$: every remaining coordinate is kept).
//!
//! The sequential pass is a chain of $d$ dependent steps. Here it runs `LANES` (32) coordinates
//! at a time: $\beta$ and $\beta + \mu$ fall by at most one per step, so within a batch that
//! starts at $(\beta, \mu)$ every step's outcome is that of comparing $r$ with the batch's
//! *starting* $\beta$ and $\beta + \mu$, unless some $r$ lies in one of the two windows
//! $[\beta - L, \beta)$, $[\beta + \mu - L, \beta + \mu)$ (probability about $2L^2/(d-j)$ per
//! batch), or a word might be rejected ($w\thinspace n \bmod 2^{64} < n$, probability $< L\thinspace n/2^{64}$).
//! Such a batch, and the last few coordinates, take the exact one-at-a-time step instead.
//! Either way the same words are drawn in the same order (the batch path reads $L$ words
//! ahead from a buffer and commits them only if none can be rejected), so the kept indices are
//! those of the one-at-a-time pass, bit for bit.

use squeeze_core::SqueezeRng;

/// Coordinates per batch.
pub(super) const LANES: usize = 32;

/// A source of 64-bit random words (the shared stream: [`SqueezeRng`] or
/// [`Lanes`](super::lanes::Lanes); a stub in tests).
pub(super) trait WordSource {
    /// The next `out.len()` words of the stream.
    fn fill(&mut self, out: &mut [u64]);
}

impl WordSource for SqueezeRng {
    #[inline]
    fn fill(&mut self, out: &mut [u64]) {
        self.fill_u64(out);
    }
}

/// Told how far the pass has got, so that work on the decided coordinates (Perm-K's input
/// scan and value gather) runs interleaved with it while their memory is being fetched.
/// `()` does nothing.
pub(super) trait Progress {
    /// A batch is about to decide coordinates `j..j + LANES` (a prefetch hint).
    #[inline(always)]
    fn ahead(&mut self, _j: usize) {}
    /// Coordinates `..j` are decided, and `kept` are the kept ones among them (sorted).
    fn decided(&mut self, j: usize, kept: &[u32]);
}

impl Progress for () {
    #[inline(always)]
    fn decided(&mut self, _: usize, _: &[u32]) {}
}

/// Coordinates between two [`Progress::decided`] calls (at least).
pub(super) const PROGRESS_EVERY: usize = 1 << 13;

/// The stream of `src`, read through `buf` (refilled whole): words handed out are exactly the
/// stream's, in order.
struct Words<'a, R: WordSource> {
    src: &'a mut R,
    buf: &'a mut [u64],
    pos: usize,
}

impl<'a, R: WordSource> Words<'a, R> {
    fn new(src: &'a mut R, buf: &'a mut [u64]) -> Self {
        let pos = buf.len();
        Self { src, buf, pos }
    }

    #[inline(always)]
    fn refill_if_empty(&mut self) {
        if self.pos == self.buf.len() {
            self.src.fill(self.buf);
            self.pos = 0;
        }
    }

    #[inline(always)]
    fn next(&mut self) -> u64 {
        self.refill_if_empty();
        let w = self.buf[self.pos];
        self.pos += 1;
        w
    }

    /// The next [`LANES`] words without consuming them, if they are in the buffer.
    #[inline(always)]
    fn peek(&mut self) -> Option<&[u64; LANES]> {
        self.refill_if_empty();
        self.buf.get(self.pos..self.pos + LANES)?.try_into().ok()
    }

    /// Uniform in `0..n`: the same code as [`SqueezeRng::below`], on this stream.
    #[inline(always)]
    fn below(&mut self, n: u64) -> u64 {
        if n <= 1 {
            return 0;
        }
        let mut m = (self.next() as u128) * (n as u128);
        if (m as u64) < n {
            let t = n.wrapping_neg() % n;
            while (m as u64) < t {
                m = (self.next() as u128) * (n as u128);
            }
        }
        (m >> 64) as u64
    }
}

/// The pass's state: places left before block $i$ and in it, kept so far, next coordinate.
struct State {
    before: u64,
    mine: u64,
    cnt: usize,
    j: usize,
}

impl State {
    /// Whether the sequential pass draws for coordinate `j` at dimension `d`.
    #[inline(always)]
    fn running(&self, d: usize) -> bool {
        self.mine > 0 && !(self.before == 0 && self.mine == (d - self.j) as u64)
    }

    /// One exact step (the sequential pass's loop body). Needs `running(d)`.
    #[inline(always)]
    fn step<R: WordSource>(&mut self, words: &mut Words<'_, R>, d: usize, indices: &mut [u32]) {
        let r = words.below((d - self.j) as u64);
        let lt = r < self.before;
        // r − before wraps to ≥ 2⁶⁴ − 2³² > mine when r < before.
        let hit = r.wrapping_sub(self.before) < self.mine;
        self.before -= u64::from(lt);
        self.mine -= u64::from(hit);
        indices[self.cnt] = self.j as u32;
        self.cnt += usize::from(hit);
        self.j += 1;
    }
}

/// Outcome of one batch of [`LANES`] steps from `(β, β + μ) = (before, upper)` with
/// $n = n_0 - k$ for lane $k$: `None` if the starting thresholds might not decide it; else
/// the kept lanes as bits, and how many draws fell below `before` and how many were kept.
///
/// With $n < 2^{32}$ and $w = 2^{32}h + l$: $s = h\thinspace n + \lfloor l\thinspace n/2^{32}\rfloor < 2^{64}$,
/// the draw is $r = \lfloor s/2^{32}\rfloor$, and the low word of $w\thinspace n$ is
/// $2^{32}(s \bmod 2^{32}) + (l\thinspace n \bmod 2^{32})$, so a rejection needs $s \bmod 2^{32} = 0$
/// (then the batch is refused: probability $2^{-32}$ per lane).
#[inline(always)]
fn batch(w: &[u64; LANES], n0: u64, before: u64, upper: u64) -> Option<(u32, u32, u32)> {
    let lo_b = before.saturating_sub(LANES as u64);
    let lo_u = upper - LANES as u64;
    let mut suspect = false;
    let (mut lt_bits, mut hit_bits) = (0u32, 0u32);
    for (k, &wk) in w.iter().enumerate() {
        let n = n0 - k as u64;
        let s = (wk >> 32) * n + (((wk & 0xffff_ffff) * n) >> 32);
        let r = s >> 32;
        let lt = r < before;
        let le = r < upper;
        suspect |= (s & 0xffff_ffff == 0) | (lt & (r >= lo_b)) | (le & (r >= lo_u));
        lt_bits |= u32::from(lt) << k;
        hit_bits |= u32::from(le & !lt) << k;
    }
    (!suspect).then_some((hit_bits, lt_bits.count_ones(), hit_bits.count_ones()))
}

/// [`batch`] on AVX2 (4 × 64-bit lanes per vector; every compared value is below 2³², so the
/// signed compares are the unsigned ones).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
#[inline]
fn batch_avx2(w: &[u64; LANES], n0: u64, before: u64, upper: u64) -> Option<(u32, u32, u32)> {
    use core::arch::x86_64::*;
    let lo_b = before.saturating_sub(LANES as u64);
    let lo_u = upper - LANES as u64;
    let [bef, up, lo_b, lo_u] = [before, upper, lo_b, lo_u].map(|v| _mm256_set1_epi64x(v as i64));
    let mask = _mm256_set1_epi64x(0xffff_ffff);
    let zero = _mm256_setzero_si256();
    let four = _mm256_set1_epi64x(4);
    let mut n = _mm256_sub_epi64(
        _mm256_set1_epi64x(n0 as i64),
        _mm256_setr_epi64x(0, 1, 2, 3),
    );
    let mut bad = zero;
    let (mut lt_bits, mut hit_bits) = (0u32, 0u32);
    for (v, w4) in w.chunks_exact(4).enumerate() {
        let w4 = _mm256_setr_epi64x(w4[0] as i64, w4[1] as i64, w4[2] as i64, w4[3] as i64);
        let p_lo = _mm256_mul_epu32(w4, n);
        let p_hi = _mm256_mul_epu32(_mm256_srli_epi64::<32>(w4), n);
        let s = _mm256_add_epi64(p_hi, _mm256_srli_epi64::<32>(p_lo));
        let r = _mm256_srli_epi64::<32>(s);
        let lt = _mm256_cmpgt_epi64(bef, r);
        let le = _mm256_cmpgt_epi64(up, r);
        let win = _mm256_or_si256(
            _mm256_andnot_si256(_mm256_cmpgt_epi64(lo_b, r), lt),
            _mm256_andnot_si256(_mm256_cmpgt_epi64(lo_u, r), le),
        );
        let rej = _mm256_cmpeq_epi64(_mm256_and_si256(s, mask), zero);
        bad = _mm256_or_si256(bad, _mm256_or_si256(win, rej));
        let bits = |m: __m256i| (_mm256_movemask_pd(_mm256_castsi256_pd(m)) as u32) << (4 * v);
        lt_bits |= bits(lt);
        hit_bits |= bits(_mm256_andnot_si256(lt, le));
        n = _mm256_sub_epi64(n, four);
    }
    if _mm256_testz_si256(bad, bad) == 0 {
        return None;
    }
    Some((hit_bits, lt_bits.count_ones(), hit_bits.count_ones()))
}

/// [`batch`] on AVX-512 (8 × 64-bit lanes per vector, the compares straight into masks).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,popcnt")]
#[inline]
fn batch_avx512(w: &[u64; LANES], n0: u64, before: u64, upper: u64) -> Option<(u32, u32, u32)> {
    use core::arch::x86_64::*;
    let lo_b = before.saturating_sub(LANES as u64);
    let lo_u = upper - LANES as u64;
    let [bef, up, lo_b, lo_u] = [before, upper, lo_b, lo_u].map(|v| _mm512_set1_epi64(v as i64));
    let low = _mm512_set1_epi64(0xffff_ffff);
    let eight = _mm512_set1_epi64(8);
    let mut n = _mm512_sub_epi64(
        _mm512_set1_epi64(n0 as i64),
        _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7),
    );
    let (mut bad, mut lt_bits, mut hit_bits) = (0u8, 0u32, 0u32);
    for (v, w8) in w.chunks_exact(8).enumerate() {
        // SAFETY: `w8` is 8 u64 = 64 bytes; unaligned loads are allowed.
        let w8 = unsafe { _mm512_loadu_si512(w8.as_ptr().cast()) };
        let p_lo = _mm512_mul_epu32(w8, n);
        let p_hi = _mm512_mul_epu32(_mm512_srli_epi64::<32>(w8), n);
        let s = _mm512_add_epi64(p_hi, _mm512_srli_epi64::<32>(p_lo));
        let r = _mm512_srli_epi64::<32>(s);
        let lt = _mm512_cmplt_epu64_mask(r, bef);
        let le = _mm512_cmplt_epu64_mask(r, up);
        // r in [lo_b, before) or in [lo_u, upper), or s mod 2³² = 0.
        bad |= _mm512_mask_cmpge_epu64_mask(lt, r, lo_b)
            | _mm512_mask_cmpge_epu64_mask(le, r, lo_u)
            | _mm512_testn_epi64_mask(s, low);
        lt_bits |= u32::from(lt) << (8 * v);
        hit_bits |= u32::from(le & !lt) << (8 * v);
        n = _mm512_sub_epi64(n, eight);
    }
    (bad == 0).then_some((hit_bits, lt_bits.count_ones(), hit_bits.count_ones()))
}

/// `out[..popcount(hit)]` = `j + k` for the set bits `k` of `hit`, in increasing order (the
/// rest of `out` is overwritten with unspecified values).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,popcnt")]
#[inline]
fn write_hits_avx512(out: &mut [u32; LANES], j: u32, hit: u32) {
    use core::arch::x86_64::*;
    let iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let lo = _mm512_add_epi32(_mm512_set1_epi32(j as i32), iota);
    let hi = _mm512_add_epi32(lo, _mm512_set1_epi32(16));
    let lo = _mm512_maskz_compress_epi32(hit as u16, lo);
    let hi = _mm512_maskz_compress_epi32((hit >> 16) as u16, hi);
    let c = (hit as u16).count_ones() as usize;
    // SAFETY: 16 u32 at 0 and at c ≤ 16 lie within the 32 of `out`.
    unsafe {
        _mm512_storeu_si512(out.as_mut_ptr().cast(), lo);
        _mm512_storeu_si512(out.as_mut_ptr().add(c).cast(), hi);
    }
}

/// Row `m`: the positions of the set bits of the byte `m` in increasing order (then zeros).
static SET_BITS: [[u8; 8]; 256] = {
    let mut t = [[0u8; 8]; 256];
    let mut m = 0;
    while m < 256 {
        let (mut k, mut c) = (0, 0);
        while k < 8 {
            if m >> k & 1 == 1 {
                t[m][c] = k as u8;
                c += 1;
            }
            k += 1;
        }
        m += 1;
    }
    t
};

/// Instruction sets of the batches: [`batch`], [`batch_avx2`], [`batch_avx512`] (the same
/// outcomes).
pub(super) const PORTABLE: u8 = 0;
pub(super) const AVX2: u8 = 1;
pub(super) const AVX512: u8 = 2;

/// The best of [`PORTABLE`], [`AVX2`], [`AVX512`] for this CPU; [`PORTABLE`] inside
/// [`squeeze_core::simd::portable`].
pub(super) fn best_level() -> u8 {
    #[cfg(target_arch = "x86_64")]
    if squeeze_core::simd::avx2() && std::is_x86_feature_detected!("popcnt") {
        return if std::is_x86_feature_detected!("avx512f") {
            AVX512
        } else {
            AVX2
        };
    }
    PORTABLE
}

/// The pass with batches decided at instruction set `LEVEL`.
#[inline(always)]
fn drive<R: WordSource, P: Progress, const LEVEL: u8>(
    src: &mut R,
    buf: &mut [u64],
    d: usize,
    start: usize,
    b: usize,
    indices: &mut [u32],
    progress: &mut P,
) {
    let mut words = Words::new(src, buf);
    let mut st = State {
        before: start as u64,
        mine: b as u64,
        cnt: 0,
        j: 0,
    };
    let lanes = LANES as u64;
    let mut mark = PROGRESS_EVERY;
    while st.running(d) {
        if st.j >= mark {
            progress.decided(st.j, &indices[..st.cnt]);
            mark = st.j + PROGRESS_EVERY;
        }
        let left = (d - st.j) as u64;
        let after = left - st.before - st.mine;
        if st.mine > lanes && (after > lanes || st.before > lanes) {
            // Neither stop condition can trigger inside the batch: one needs μ = 0, the other
            // β = 0 and "places after block i" = 0, and each falls by at most one per step.
            // And n = left − k > μ − k ≥ 1 for every lane.
            let Some(&w) = words.peek() else {
                // The buffer ends inside this batch (after a refused batch): one exact step.
                st.step(&mut words, d, indices);
                continue;
            };
            progress.ahead(st.j);
            let upper = st.before + st.mine;
            #[cfg(target_arch = "x86_64")]
            let decided = match LEVEL {
                // SAFETY: `LEVEL` is AVX512 only in `assign_avx512` and AVX2 only in
                // `assign_avx2`, called only once `level_ok` checked the CPU.
                AVX512 => unsafe { batch_avx512(&w, left, st.before, upper) },
                // SAFETY: as above.
                AVX2 => unsafe { batch_avx2(&w, left, st.before, upper) },
                _ => batch(&w, left, st.before, upper),
            };
            #[cfg(not(target_arch = "x86_64"))]
            let decided = batch(&w, left, st.before, upper);
            if let Some((hit, n_lt, n_hit)) = decided {
                // mine > LANES: these LANES slots lie below b.
                let out = &mut indices[st.cnt..st.cnt + LANES];
                #[cfg(target_arch = "x86_64")]
                if LEVEL == AVX512 {
                    if let Ok(out) = <&mut [u32; LANES]>::try_from(out) {
                        // SAFETY: as for `batch_avx512`.
                        unsafe { write_hits_avx512(out, st.j as u32, hit) };
                    }
                } else {
                    write_hits(out, st.j, hit);
                }
                #[cfg(not(target_arch = "x86_64"))]
                write_hits(out, st.j, hit);
                words.pos += LANES;
                st.before -= u64::from(n_lt);
                st.mine -= u64::from(n_hit);
                st.cnt += n_hit as usize;
                st.j += LANES;
                continue;
            }
            for _ in 0..LANES {
                if !st.running(d) {
                    break;
                }
                st.step(&mut words, d, indices);
            }
        } else {
            st.step(&mut words, d, indices);
        }
    }
    // Every remaining coordinate (if any) belongs to this block.
    for (slot, jj) in indices[st.cnt..b].iter_mut().zip(st.j..d) {
        *slot = jj as u32;
    }
    debug_assert_eq!(b - st.cnt, if st.mine > 0 { d - st.j } else { 0 });
}

/// The kept coordinates of each byte of `hit`, 8 slots of `out` written per byte.
#[inline(always)]
fn write_hits(out: &mut [u32], j: usize, hit: u32) {
    let mut c = 0usize;
    for (q, byte) in hit.to_le_bytes().into_iter().enumerate() {
        let j = (j + 8 * q) as u32;
        for (o, &k) in out[c..c + 8].iter_mut().zip(&SET_BITS[usize::from(byte)]) {
            *o = j + u32::from(k);
        }
        c += byte.count_ones() as usize;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,popcnt")]
fn assign_avx512<R: WordSource, P: Progress>(
    src: &mut R,
    buf: &mut [u64],
    d: usize,
    start: usize,
    b: usize,
    indices: &mut [u32],
    progress: &mut P,
) {
    drive::<R, P, AVX512>(src, buf, d, start, b, indices, progress);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
fn assign_avx2<R: WordSource, P: Progress>(
    src: &mut R,
    buf: &mut [u64],
    d: usize,
    start: usize,
    b: usize,
    indices: &mut [u32],
    progress: &mut P,
) {
    drive::<R, P, AVX2>(src, buf, d, start, b, indices, progress);
}

/// Kept coordinates of the block with `start` places before it and `b ≥ 1` places at
/// dimension `d ≤ 2³² − 1`, drawn from `src` through `buf` (refilled whole, any length ≥ 1):
/// `indices[..b]`, sorted (`indices.len() ≥ b`). Takes the AVX-512 or AVX2 batches when
/// [`squeeze_core::simd::avx2`] says so and the CPU has them (and popcnt, as every AVX2 CPU
/// does; see [`best_level`]); the same indices either way. `progress` hears, at least every [`PROGRESS_EVERY`] coordinates,
/// how far the pass has got (not after the last step: the caller handles the rest).
pub(super) fn assign<R: WordSource, P: Progress>(
    src: &mut R,
    buf: &mut [u64],
    d: usize,
    start: usize,
    b: usize,
    indices: &mut [u32],
    progress: &mut P,
) {
    assign_at(best_level(), src, buf, d, start, b, indices, progress);
}

/// Whether this CPU has what `level` needs.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
fn level_ok(level: u8) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        let avx2 = std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("popcnt");
        match level {
            AVX512 => avx2 && std::is_x86_feature_detected!("avx512f"),
            AVX2 => avx2,
            _ => true,
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        level == PORTABLE
    }
}

/// [`assign`] with the batches at `level` (the portable ones if this CPU lacks it).
#[allow(clippy::too_many_arguments)]
pub(super) fn assign_at<R: WordSource, P: Progress>(
    level: u8,
    src: &mut R,
    buf: &mut [u64],
    d: usize,
    start: usize,
    b: usize,
    indices: &mut [u32],
    progress: &mut P,
) {
    #[cfg(target_arch = "x86_64")]
    if level_ok(level) {
        match level {
            // SAFETY: `level_ok` checked that the CPU has AVX-512F, AVX2 and popcnt.
            AVX512 => return unsafe { assign_avx512(src, buf, d, start, b, indices, progress) },
            // SAFETY: `level_ok` checked that the CPU has AVX2 and popcnt.
            AVX2 => return unsafe { assign_avx2(src, buf, d, start, b, indices, progress) },
            _ => {}
        }
    }
    drive::<R, P, PORTABLE>(src, buf, d, start, b, indices, progress);
}

#[cfg(test)]
mod tests {
    use super::super::{PERM_TAG, PermK};
    use super::*;
    use squeeze_core::{CompressCtx, CompressError, Compressor, Message, Scalar, Scratch};

    /// The sequential pass as it was before batching (perm_k.rs at 9e06813), verbatim:
    /// `rng.below` per coordinate, index and scaled value written every iteration.
    fn old_sparsify(c: &PermK, x: &[f32], worker: usize, round_seed: u64) -> (Vec<u32>, Vec<f32>) {
        let d = x.len();
        let block = c.block(worker, d);
        let b = block.len();
        let scale = f32::from_f64(d as f64 / b as f64);
        let (mut indices, mut values) = (vec![0u32; b], vec![0f32; b]);
        let mut rng = SqueezeRng::from_seed_u64(squeeze_core::rng::mix(round_seed, PERM_TAG, 0));
        let mut before = block.start as u64;
        let mut mine = b as u64;
        let mut cnt = 0usize;
        let mut j = 0usize;
        while mine > 0 && !(before == 0 && mine == (d - j) as u64) {
            let r = rng.below((d - j) as u64);
            let lt = r < before;
            let hit = r.wrapping_sub(before) < mine;
            before -= u64::from(lt);
            mine -= u64::from(hit);
            indices[cnt] = j as u32;
            values[cnt] = x[j] * scale;
            cnt += usize::from(hit);
            j += 1;
        }
        for (k, jj) in (cnt..b).zip(j..d) {
            indices[k] = jj as u32;
            values[k] = x[jj] * scale;
        }
        (indices, values)
    }

    /// The same pass on any word source (Lemire's step written out), and how many words
    /// were rejected.
    fn reference<R: WordSource>(
        src: &mut R,
        d: usize,
        start: usize,
        b: usize,
    ) -> (Vec<u32>, usize) {
        let mut next = || {
            let mut w = [0u64];
            src.fill(&mut w);
            w[0]
        };
        let mut rejected = 0;
        let mut below = |n: u64| {
            if n <= 1 {
                return 0;
            }
            let mut m = (next() as u128) * (n as u128);
            if (m as u64) < n {
                let t = n.wrapping_neg() % n;
                while (m as u64) < t {
                    rejected += 1;
                    m = (next() as u128) * (n as u128);
                }
            }
            (m >> 64) as u64
        };
        let mut indices = vec![0u32; b];
        let (mut before, mut mine, mut cnt, mut j) = (start as u64, b as u64, 0usize, 0usize);
        while mine > 0 && !(before == 0 && mine == (d - j) as u64) {
            let r = below((d - j) as u64);
            let lt = r < before;
            let hit = r.wrapping_sub(before) < mine;
            before -= u64::from(lt);
            mine -= u64::from(hit);
            indices[cnt] = j as u32;
            cnt += usize::from(hit);
            j += 1;
        }
        for (k, jj) in (cnt..b).zip(j..d) {
            indices[k] = jj as u32;
        }
        (indices, rejected)
    }

    fn new_sparsify(c: &PermK, x: &[f32], worker: usize, round_seed: u64) -> (Vec<u32>, Vec<f32>) {
        let (mut rng, mut scratch) = (SqueezeRng::from_seed_u64(1), Scratch::default());
        let mut ctx = CompressCtx::new(&mut rng, &mut scratch)
            .with_worker(worker, c.n())
            .with_round_seed(round_seed);
        match c.compress(x, &mut ctx).unwrap() {
            Message::Sparse {
                dim,
                indices,
                values,
            } => {
                assert_eq!(dim, x.len());
                (indices, values)
            }
            m => panic!("not sparse: {m:?}"),
        }
    }

    fn check_all_workers(d: usize, n: usize, seeds: &[u64]) {
        let c = PermK::new(n).unwrap();
        let x: Vec<f32> = (0..d)
            .map(|j| (j as f32 * 0.37).sin() * 3.0 + 0.1)
            .collect();
        for &seed in seeds {
            for worker in 0..n {
                let (oi, ov) = old_sparsify(&c, &x, worker, seed);
                let (ni, nv) = new_sparsify(&c, &x, worker, seed);
                assert_eq!(ni, oi, "d={d} n={n} worker={worker} seed={seed}");
                let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                assert_eq!(
                    bits(&nv),
                    bits(&ov),
                    "d={d} n={n} worker={worker} seed={seed}"
                );
            }
        }
    }

    #[test]
    fn messages_equal_the_sequential_pass_small_d() {
        for d in 1..=40 {
            for n in [1, 2, 3, 4, 5, 7, 8, 9, d] {
                if n <= d {
                    check_all_workers(d, n, &[0, 1, 2, 0xdead_beef]);
                }
            }
        }
    }

    #[test]
    fn messages_equal_the_sequential_pass_around_batch_and_buffer_sizes() {
        for d in [
            63, 64, 65, 255, 256, 257, 511, 512, 513, 1000, 1023, 1024, 1025, 4099,
        ] {
            for n in [1, 2, 3, 4, 7, 10, 64].into_iter().filter(|&n| n <= d) {
                check_all_workers(d, n, &[3, 17]);
            }
            check_all_workers(d, d, &[5]);
        }
    }

    #[test]
    fn messages_equal_the_sequential_pass_large_d() {
        // d mod n ≠ 0, first, middle and last workers all checked (all workers).
        check_all_workers(100_003, 4, &[11, 12]);
        check_all_workers(65_536, 3, &[13]);
        check_all_workers(30_001, 16, &[14]);
        check_all_workers(20_000, 1, &[15]);
    }

    /// One message and scratch reused across calls of different sizes and workers (stale
    /// indices and values left over), and the input's errors wherever the bad entry lies
    /// (scanned during the pass, or after it): the same as the sequential pass.
    #[test]
    fn reused_buffers_and_errors_match_the_sequential_pass() {
        let (mut rng, mut scratch) = (SqueezeRng::from_seed_u64(2), Scratch::default());
        let mut m = Message::default();
        for (d, n, worker) in [
            (200_001usize, 4usize, 3usize),
            (70_000, 2, 0),
            (200_001, 4, 0),
            (5000, 3, 1),
            (100_000, 7, 6),
        ] {
            let c = PermK::new(n).unwrap();
            let x: Vec<f32> = (0..d).map(|j| (j as f32 * 0.11).cos() - 0.3).collect();
            let mut ctx = CompressCtx::new(&mut rng, &mut scratch)
                .with_worker(worker, n)
                .with_round_seed(d as u64);
            c.compress_into(&x, &mut ctx, &mut m).unwrap();
            let (oi, ov) = old_sparsify(&c, &x, worker, d as u64);
            let Message::Sparse {
                indices, values, ..
            } = &m
            else {
                panic!("not sparse")
            };
            assert_eq!(indices, &oi, "d={d} worker={worker}");
            let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(values), bits(&ov), "d={d} worker={worker}");
            // A NaN early, in the middle and at the very end; then an overflow (x · n = ∞).
            for at in [0, d / 2, d - 1] {
                let mut y = x.clone();
                y[at] = f32::NAN;
                let e = c.compress_into(&y, &mut ctx, &mut m).unwrap_err();
                assert!(matches!(e, CompressError::NonFinite { index, .. } if index == at));
            }
            let y = vec![f32::MAX; d];
            let e = c.compress_into(&y, &mut ctx, &mut m).unwrap_err();
            assert!(e.to_string().contains("perm_k"), "{e}");
            assert!(!matches!(e, CompressError::NonFinite { .. }), "{e:?}");
        }
    }

    /// A stream whose every `every`-th word (from word `offset`) is 0: `w = 0` gives
    /// $w\thinspace n \bmod 2^{64} = 0 < 2^{64} \bmod n$ for every $n$ that is not a power of two, so
    /// Lemire rejects it and draws again; for powers of two it is a near-miss (checked, kept).
    #[derive(Clone)]
    struct Planted {
        rng: SqueezeRng,
        every: usize,
        pos: usize,
    }

    impl WordSource for Planted {
        fn fill(&mut self, out: &mut [u64]) {
            for v in out {
                let w = self.rng.next_u64();
                *v = if self.pos.is_multiple_of(self.every) {
                    0
                } else {
                    w
                };
                self.pos += 1;
            }
        }
    }

    #[test]
    fn rejections_resynchronise_the_stream() {
        let mut total = 0;
        for (d, n, every) in [
            (1000usize, 4usize, 37usize),
            (5000, 3, 101),
            (300, 1, 7),
            (4096, 4, 64),
            (257, 2, 2),
        ] {
            let c = PermK::new(n).unwrap();
            for worker in 0..n {
                let block = c.block(worker, d);
                for offset in [0, 1, 5, 255, 256] {
                    let src = Planted {
                        rng: SqueezeRng::from_seed_u64(offset as u64),
                        every,
                        pos: every - offset % every,
                    };
                    let (want, rejected) = reference(&mut src.clone(), d, block.start, block.len());
                    total += rejected;
                    // Buffers of 256 words, and of 1000 (not a multiple of LANES: batches
                    // that would cross a refill take exact steps).
                    for len in [256, 1000] {
                        let mut buf = vec![0u64; len];
                        let mut got = vec![0u32; block.len()];
                        assign(
                            &mut src.clone(),
                            &mut buf,
                            d,
                            block.start,
                            block.len(),
                            &mut got,
                            &mut (),
                        );
                        assert_eq!(got, want, "d={d} n={n} worker={worker} offset={offset}");
                        let mut portable = vec![0u32; block.len()];
                        squeeze_core::simd::portable(|| {
                            let (start, b) = (block.start, block.len());
                            assign(
                                &mut src.clone(),
                                &mut buf,
                                d,
                                start,
                                b,
                                &mut portable,
                                &mut (),
                            )
                        });
                        assert_eq!(portable, want);
                        for level in [PORTABLE, AVX2, AVX512]
                            .into_iter()
                            .filter(|&l| level_ok(l))
                        {
                            let (start, b) = (block.start, block.len());
                            let mut got = vec![0u32; b];
                            let src = &mut src.clone();
                            assign_at(level, src, &mut buf, d, start, b, &mut got, &mut ());
                            assert_eq!(got, want, "level {level}");
                        }
                    }
                }
            }
        }
        assert!(total > 100, "the stub must force rejections: {total}");
    }

    #[test]
    fn buffered_below_is_squeeze_rng_below() {
        for n in [
            0u64,
            1,
            2,
            3,
            7,
            8,
            1 << 20,
            3 << 30,
            u32::MAX as u64,
            (1 << 33) + 1,
            u64::MAX,
        ] {
            let mut a = SqueezeRng::from_seed_u64(n);
            let mut b = a.clone();
            let mut buf = [0u64; 256];
            let mut words = Words::new(&mut b, &mut buf);
            for _ in 0..600 {
                assert_eq!(words.below(n), a.below(n), "n = {n}");
            }
        }
    }

    #[test]
    fn batch_outcome_is_the_sequential_one_or_refused() {
        // Every batch `batch` accepts must equal LANES exact steps from its start, and the
        // AVX2 copy must decide every batch the same way.
        let mut rng = SqueezeRng::from_seed_u64(99);
        let (mut accepted, mut refused) = (0, 0);
        for round in 0..200_000u64 {
            // Small n (the windows matter), and n near 2³² (the split product must be exact).
            let n0 = if round % 2 == 0 {
                70 + rng.below(400)
            } else {
                u32::MAX as u64 - rng.below(1 << 20)
            };
            // mine > LANES and after = n0 − before − mine > LANES, as `drive` guarantees.
            let before = rng.below(n0 - 66);
            let mine = 33 + rng.below(n0 - before - 66);
            let mut w = [0u64; LANES];
            rng.fill_u64(&mut w);
            let got = batch(&w, n0, before, before + mine);
            #[cfg(target_arch = "x86_64")]
            if squeeze_core::simd::avx2() && std::is_x86_feature_detected!("popcnt") {
                // SAFETY: checked just above.
                assert_eq!(unsafe { batch_avx2(&w, n0, before, before + mine) }, got);
            }
            #[cfg(target_arch = "x86_64")]
            if level_ok(AVX512) {
                // SAFETY: checked just above.
                assert_eq!(unsafe { batch_avx512(&w, n0, before, before + mine) }, got);
            }
            let Some((hit, n_lt, n_hit)) = got else {
                refused += 1;
                continue;
            };
            accepted += 1;
            let (mut b, mut m) = (before, mine);
            for (k, &wk) in w.iter().enumerate() {
                let nk = n0 - k as u64;
                let mm = (wk as u128) * (nk as u128);
                assert!((mm as u64) >= nk, "a possible rejection was accepted");
                let r = (mm >> 64) as u64;
                let lt = r < b;
                let h = r.wrapping_sub(b) < m;
                assert_eq!(hit >> k & 1 == 1, h);
                b -= u64::from(lt);
                m -= u64::from(h);
            }
            assert_eq!((before - b, mine - m), (u64::from(n_lt), u64::from(n_hit)));
        }
        assert!(
            accepted > 10_000 && refused > 10_000,
            "{accepted} {refused}"
        );
    }

    #[test]
    fn hit_writers_agree() {
        let mut rng = SqueezeRng::from_seed_u64(7);
        for round in 0..20_000 {
            let hit = match round {
                0 => 0,
                1 => u32::MAX,
                _ => rng.next_u64() as u32 & rng.next_u64() as u32,
            };
            let j = rng.below(1 << 31) as usize;
            let mut want = [0u32; LANES];
            write_hits(&mut want, j, hit);
            let ones = hit.count_ones() as usize;
            let expect: Vec<u32> = (0..32)
                .filter(|k| hit >> k & 1 == 1)
                .map(|k| j as u32 + k)
                .collect();
            assert_eq!(&want[..ones], &expect[..]);
            #[cfg(target_arch = "x86_64")]
            if level_ok(AVX512) {
                let mut got = [0u32; LANES];
                // SAFETY: checked just above.
                unsafe { write_hits_avx512(&mut got, j as u32, hit) };
                assert_eq!(&got[..ones], &expect[..], "hit {hit:#x}");
            }
        }
    }

    #[test]
    fn set_bits_rows_list_the_bits() {
        for (m, row) in SET_BITS.iter().enumerate() {
            let ones = (m as u32).count_ones() as usize;
            for &k in &row[..ones] {
                assert_eq!(m >> k & 1, 1);
            }
            assert!(row[..ones].windows(2).all(|p| p[0] < p[1]));
        }
    }
}

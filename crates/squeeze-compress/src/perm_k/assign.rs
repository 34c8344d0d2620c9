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
use squeeze_core::rng::below_with;

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

    /// Uniform in `0..n`: the code of [`SqueezeRng::below`] ([`below_with`]), on this stream.
    #[inline(always)]
    fn below(&mut self, n: u64) -> u64 {
        below_with(n, || self.next())
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

/// A batch's thresholds from `(β, β + μ) = (before, upper)`: `[β, β + μ, max(β − L, 0),
/// β + μ − L]`, the last two the lower ends of the windows $[\beta - L, \beta)$ and
/// $[\beta + \mu - L, \beta + \mu)$ in which a draw might not be decided by the starting ones.
#[inline(always)]
fn thresholds(before: u64, upper: u64) -> [u64; 4] {
    let lanes = LANES as u64;
    [before, upper, before.saturating_sub(lanes), upper - lanes]
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
    let [before, upper, lo_b, lo_u] = thresholds(before, upper);
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
    let [bef, up, lo_b, lo_u] = thresholds(before, upper).map(|v| _mm256_set1_epi64x(v as i64));
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
    let [bef, up, lo_b, lo_u] = thresholds(before, upper).map(|v| _mm512_set1_epi64(v as i64));
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

/// The best of [`PORTABLE`], [`AVX2`], [`AVX512`] for this CPU, within the cap of
/// [`squeeze_core::simd::at_most`] ([`PORTABLE`] inside [`squeeze_core::simd::portable`]).
pub(super) fn best_level() -> u8 {
    #[cfg(target_arch = "x86_64")]
    if squeeze_core::simd::avx2() && std::is_x86_feature_detected!("popcnt") {
        return if squeeze_core::simd::avx512() {
            AVX512
        } else {
            AVX2
        };
    }
    PORTABLE
}

/// One block's pass: the block with `start` places before it and `b ≥ 1` places at dimension
/// `d ≤ 2³² − 1`, its kept coordinates written to `indices[..b]`, sorted (`indices.len() ≥ b`);
/// `progress` hears, at least every [`PROGRESS_EVERY`] coordinates, how far the pass has got
/// (not after the last step: the caller handles the rest).
pub(super) struct Pass<'a, P: Progress> {
    pub d: usize,
    pub start: usize,
    pub b: usize,
    pub indices: &'a mut [u32],
    pub progress: &'a mut P,
}

impl<P: Progress> Pass<'_, P> {
    /// The pass, its words drawn from `src` through `buf` (refilled whole, any length ≥ 1).
    /// Takes the AVX-512 or AVX2 batches when [`squeeze_core::simd::avx2`] says so and the
    /// CPU has them (and popcnt, as every AVX2 CPU does; see [`best_level`]); the same
    /// indices either way.
    pub(super) fn run<R: WordSource>(self, src: &mut R, buf: &mut [u64]) {
        self.run_at(best_level(), src, buf);
    }

    /// [`Pass::run`] with the batches at `level` (the portable ones if this CPU lacks it).
    pub(super) fn run_at<R: WordSource>(self, level: u8, src: &mut R, buf: &mut [u64]) {
        #[cfg(target_arch = "x86_64")]
        if level_ok(level) {
            match level {
                // SAFETY: `level_ok` checked that the CPU has AVX-512F, AVX2 and popcnt.
                AVX512 => return unsafe { assign_avx512(self, src, buf) },
                // SAFETY: `level_ok` checked that the CPU has AVX2 and popcnt.
                AVX2 => return unsafe { assign_avx2(self, src, buf) },
                _ => {}
            }
        }
        drive::<R, P, PORTABLE>(self, src, buf);
    }
}

/// The pass with batches decided at instruction set `LEVEL`.
#[inline(always)]
fn drive<R: WordSource, P: Progress, const LEVEL: u8>(
    pass: Pass<'_, P>,
    src: &mut R,
    buf: &mut [u64],
) {
    let Pass {
        d,
        start,
        b,
        indices,
        progress,
    } = pass;
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

/// `$name`: [`drive`] at batch level `$level`, compiled with `$features` enabled.
macro_rules! level_copy {
    ($name:ident, $features:literal, $level:ident) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        fn $name<R: WordSource, P: Progress>(pass: Pass<'_, P>, src: &mut R, buf: &mut [u64]) {
            drive::<R, P, $level>(pass, src, buf);
        }
    };
}
level_copy!(assign_avx512, "avx512f,avx2,popcnt", AVX512);
level_copy!(assign_avx2, "avx2,popcnt", AVX2);

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

#[cfg(test)]
#[path = "assign_tests.rs"]
mod tests;

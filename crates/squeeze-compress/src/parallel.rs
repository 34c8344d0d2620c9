//! Multi-core compression of one large vector, with output bit-identical for any thread count.
//!
//! # Policy (the one place it is decided)
//!
//! * Inputs with $d \ge$ [`PARALLEL_MIN_DIM`] $= 2^{19} = 524{,}288$ are cut into fixed chunks of
//!   [`CHUNK`] $= 2^{16}$ coordinates (the last one shorter), and the per-element pass of the
//!   compressor (quantise / round) runs over the chunks on the rayon pool **the call is made
//!   from** (e.g. inside `pool.install(…)`, or the driver's `--threads T` pool). Called from a
//!   thread outside any rayon pool (the driver with one thread, a plain `main`), or on a
//!   1-thread pool, or below the threshold, everything runs on the calling thread as before:
//!   a compressor never starts rayon's global pool by itself. Chunk boundaries depend on $d$
//!   alone, never on the thread count.
//! * **Randomness.** The kernels draw a fixed number of [`WideRng`] words per element in blocks
//!   that divide [`CHUNK`] (one 32-bit half per element for QSGD, TernGrad and `natural` on
//!   `f32`, one word per element for natural dithering and `natural` on `f64`), so chunk $c$
//!   starts at word $w_c = c\cdot\mathrm{CHUNK}\cdot(\text{words per element})$, a multiple of
//!   the 8 lanes, and its generator is the call's generator advanced by $w_c/8$ lane steps
//!   ([`WideRng::advance`], an exact GF(2) jump). A thread that goes on to the next chunk keeps
//!   its generator instead of jumping. Every chunk therefore sees exactly the words the
//!   sequential fill gives it: the message is the sequential one, bit for bit.
//! * **Reductions.** Only order-free combinations are formed across chunks (logical or of
//!   error flags, maximum of used levels, $\lVert x\rVert_\infty$ with its finiteness check,
//!   smallest non-zero magnitude): the same value whatever the grouping. Floating sums stay in
//!   their one sequential summation order (rayon's parallel float sums are not reproducible),
//!   with one certified exception: the $\lVert x\rVert_2$ of QSGD and natural dithering on
//!   types narrower than `f64` (`norm2_rounded`). Its sum of squares is split over the
//!   threads, and the result is used only when the rounding error bounds of both summation
//!   orders prove that it rounds to the same value of the input type as the sequential sum;
//!   otherwise (rarely, about 1 call in 200 at $d = 10^7$) the sequential pass runs. The
//!   returned norm is the sequential one in every case.
//! * **Top-K** splits its streaming pass into one contiguous part per thread (at most 4, part
//!   boundaries on multiples of 64), each part writing its candidates to its own region; the
//!   regions are joined in part order and the exact selection runs once, so the message does
//!   not depend on the split (`sparse_scan::scan_parts`).
//! * **Sequential here:** the thresholds and scaled sign (memory-bound streaming passes whose
//!   output size is not bounded in advance), Rand-K and Perm-K (data-independent but
//!   gather-bound). The wire path has its own chunked forms in `squeeze_core::bits`
//!   (`WIRE_PARALLEL_MIN`): encodes, fixed-width decodes, and the variable-length
//!   QSGD-family decode, where each thread first parses the codes before its range (an entry's
//!   start depends on the entries before it). QSGD and TernGrad's `compress_encode` runs this
//!   module's chunking of the random words inside the chunked encode.
//!
//! **Allocation.** The chunked path allocates nothing itself (per-chunk random blocks live on
//! the stack; generators are copied by value); rayon's scheduling of the jobs may allocate
//! inside its deques. The allocation-free round tests run far below the threshold.
//!
//! ```
//! use squeeze_compress::parallel::{CHUNK, PARALLEL_MIN_DIM};
//! assert!(PARALLEL_MIN_DIM <= 1_000_000 && PARALLEL_MIN_DIM % CHUNK == 0);
//! ```

use rayon::prelude::*;
use squeeze_core::rng::WIDE_LANES;
use squeeze_core::{Scalar, WideRng, ops};

/// Smallest dimension compressed on several threads: $2^{19}$ (see the module docs).
pub const PARALLEL_MIN_DIM: usize = 1 << 19;

/// Coordinates per parallel chunk: $2^{16}$, a multiple of every kernel's random block (512 or
/// 1024 elements) and of the 8 generator lanes.
pub const CHUNK: usize = 1 << 16;

/// Whether an input of dimension `d` takes the chunked path: large enough, and called from a
/// worker of a rayon pool with more than one thread.
#[inline]
pub(crate) fn is_parallel(d: usize) -> bool {
    d >= PARALLEL_MIN_DIM
        && rayon::current_thread_index().is_some()
        && rayon::current_num_threads() > 1
}

/// `f` over aligned chunks of `x` and `out` (same length), results folded with `combine`
/// (associative and commutative, `init` its identity); one call on the whole slices on the
/// sequential path.
pub(crate) fn map_chunks<X, O, R>(
    x: &[X],
    out: &mut [O],
    init: R,
    combine: impl Fn(R, R) -> R + Sync + Send,
    f: impl Fn(&[X], &mut [O]) -> R + Sync + Send,
) -> R
where
    X: Sync,
    O: Send,
    R: Copy + Send + Sync,
{
    debug_assert_eq!(x.len(), out.len());
    if !is_parallel(x.len()) {
        return combine(init, f(x, out));
    }
    x.par_chunks(CHUNK)
        .zip(out.par_chunks_mut(CHUNK))
        .map(|(xc, oc)| f(xc, oc))
        .reduce(|| init, &combine)
}

/// `f` over aligned chunks of `x`, results folded with `combine` (associative and
/// commutative, `init` its identity): a read-only reduction such as a maximum.
pub(crate) fn reduce_chunks<X, R>(
    x: &[X],
    init: R,
    combine: impl Fn(R, R) -> R + Sync + Send,
    f: impl Fn(&[X]) -> R + Sync + Send,
) -> R
where
    X: Sync,
    R: Copy + Send + Sync,
{
    if !is_parallel(x.len()) {
        return combine(init, f(x));
    }
    x.par_chunks(CHUNK).map(f).reduce(|| init, combine)
}

/// $\lVert x\rVert_2$ rounded to `S`, that is `S::from_f64(ops::norm2(x))` of the sequential
/// summation, computed from a sum of squares split over the calling pool's threads; `None` when
/// that value is not certain (the caller then runs the sequential pass).
///
/// Both sums add the same exactly computed squares $t_j \ge 0$ in different orders. A term
/// that passes through $m$ roundings is perturbed by at most $\gamma_m = mu/(1-mu)$, $u =
/// 2^{-53}$ (Higham, *Accuracy and Stability of Numerical Algorithms*, §4.2), so the sequential
/// sum $s$ ([`squeeze_core::ops::sum_sq_wide`], depth $\lceil d/8\rceil + 5$) and the chunked
/// sum $\hat s$ (depth $\lceil \mathrm{CHUNK}/8\rceil + 5$ inside a chunk, plus one per chunk
/// in any combining tree) satisfy $|s - \hat s| \le (\gamma_{\mathrm{seq}} + \gamma_{\mathrm{par}})
/// \hat s / (1 - \gamma_{\mathrm{par}})$. Square root and rounding to `S` are monotone, so if
/// both ends of that interval (widened twice over, for the rounding of the ends themselves)
/// round to the same `S`, so does $s$. At $d = 10^7$ the interval is about $3\cdot10^{-10}$
/// of the norm wide, against an `f32` spacing of $6\cdot10^{-8}$ to $1.2\cdot10^{-7}$.
///
/// `None` for `f64` (every `f64` is a possible result, nothing is certain), on the sequential
/// path, and for a sum that is non-finite or below the `norm2` fast path's range.
pub(crate) fn norm2_rounded<S: Scalar>(x: &[S]) -> Option<S> {
    if S::BITS >= 64 || !is_parallel(x.len()) {
        return None;
    }
    chunked_norm2_rounded(x, CHUNK)
}

/// [`norm2_rounded`] with chunks of `chunk` entries, on whatever pool the call is made from.
fn chunked_norm2_rounded<S: Scalar>(x: &[S], chunk: usize) -> Option<S> {
    let chunks = x.len().div_ceil(chunk);
    let sum: f64 = x.par_chunks(chunk).map(ops::sum_sq_wide).sum();
    let g_seq = gamma(x.len().div_ceil(8) + 5);
    let g_par = gamma(chunk.div_ceil(8) + 5 + chunks);
    round_sqrt_if_certain(sum, 2.0 * (g_seq + g_par) / (1.0 - g_par) + f64::EPSILON)
}

/// $\gamma_m = mu/(1-mu)$ with $u = 2^{-53}$: the relative error bound of $m$ roundings.
fn gamma(m: usize) -> f64 {
    let mu = m as f64 * (f64::EPSILON / 2.0);
    mu / (1.0 - mu)
}

/// `S::from_f64(√t)`, the same for every `t` within relative distance `rel` of `sum`, if it is
/// the same at both ends; `None` otherwise, or if the ends leave the range where `norm2` takes
/// the plain root (`1e-280 < t < ∞`) or the root overflows `S`.
fn round_sqrt_if_certain<S: Scalar>(sum: f64, rel: f64) -> Option<S> {
    let (lo, hi) = (sum * (1.0 - rel), sum * (1.0 + rel));
    if !(lo > 1e-270 && hi.is_finite()) {
        return None;
    }
    let (a, b) = (S::from_f64(lo.sqrt()), S::from_f64(hi.sqrt()));
    (a == b && a.is_finite()).then_some(a)
}

/// [`map_chunks`] for a kernel that draws `words_per_chunk` words of `rng` per full chunk (a
/// multiple of 8): chunk `c` gets `rng` advanced by `c · words_per_chunk` words.
pub(crate) fn map_chunks_rng<X, O, R>(
    x: &[X],
    out: &mut [O],
    mut rng: WideRng,
    words_per_chunk: usize,
    init: R,
    combine: impl Fn(R, R) -> R + Sync + Send,
    f: impl Fn(&[X], &mut [O], &mut WideRng) -> R + Sync + Send,
) -> R
where
    X: Sync,
    O: Send,
    R: Copy + Send + Sync,
{
    debug_assert_eq!(x.len(), out.len());
    debug_assert_eq!(words_per_chunk % WIDE_LANES, 0);
    if !is_parallel(x.len()) {
        return combine(init, f(x, out, &mut rng));
    }
    let steps = (words_per_chunk / WIDE_LANES) as u64;
    let base = &rng;
    x.par_chunks(CHUNK)
        .zip(out.par_chunks_mut(CHUNK))
        .enumerate()
        .fold(
            || (init, None::<(usize, WideRng)>),
            |(acc, cur), (c, (xc, oc))| {
                let mut r = match cur {
                    Some((next, r)) if next == c => r,
                    _ => {
                        let mut r = base.clone();
                        r.advance(c as u64 * steps);
                        r
                    }
                };
                let v = f(xc, oc, &mut r);
                (combine(acc, v), Some((c + 1, r)))
            },
        )
        .map(|(acc, _)| acc)
        .reduce(|| init, &combine)
}

/// A rayon pool of `threads` threads, for tests of the chunked paths (`pool(k).install(..)`).
#[cfg(test)]
pub(crate) fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;
    use squeeze_core::{SqueezeRng, f16};

    #[test]
    fn chunked_draws_equal_the_sequential_fill() {
        let d = PARALLEL_MIN_DIM + 3 * CHUNK / 2 + 5;
        let x = vec![0u8; d];
        let rng = WideRng::from_rng(&mut SqueezeRng::from_seed_u64(3));
        let mut whole = vec![0u64; d];
        rng.clone().fill(&mut whole);
        for k in [1, 2, 3] {
            let mut out = vec![0u64; d];
            let calls = pool(k).install(|| {
                map_chunks_rng(&x, &mut out, rng.clone(), CHUNK, 0usize, |a, b| a + b, {
                    |_, o, r| {
                        r.fill(o);
                        1
                    }
                })
            });
            assert_eq!(out, whole, "{k} threads");
            assert_eq!(calls, if k == 1 { 1 } else { d.div_ceil(CHUNK) });
        }
    }

    #[test]
    fn below_the_threshold_is_one_sequential_call() {
        let x = vec![1u32; PARALLEL_MIN_DIM - 1];
        let mut out = vec![0u32; x.len()];
        let calls = pool(4).install(|| {
            map_chunks(
                &x,
                &mut out,
                0usize,
                |a, b| a + b,
                |xc, oc| {
                    oc.copy_from_slice(xc);
                    1
                },
            )
        });
        assert_eq!((calls, out == x), (1, true));
        let x = vec![1u32; PARALLEL_MIN_DIM];
        let mut out = vec![0u32; x.len()];
        let calls = pool(2).install(|| map_chunks(&x, &mut out, 0usize, |a, b| a + b, |_, _| 1));
        assert_eq!(calls, PARALLEL_MIN_DIM / CHUNK);
        // Outside any pool: the calling thread, one call, whatever the machine.
        let calls = map_chunks(&x, &mut out, 0usize, |a, b| a + b, |_, _| 1);
        assert_eq!(calls, 1);
    }

    /// A norm whose root falls exactly between two `f32` values is not certain at any
    /// interval width; one well inside a spacing is, and equals the plain rounding.
    #[test]
    fn a_rounding_boundary_is_never_certified() {
        let one = 1.0f64;
        let mid = one + f64::from(f32::EPSILON) / 2.0; // halfway between 1 and the next f32
        assert_eq!(round_sqrt_if_certain::<f32>(mid * mid, 1e-12), None);
        assert_eq!(round_sqrt_if_certain::<f32>(one, 1e-12), Some(1.0f32));
        assert_eq!(round_sqrt_if_certain::<f32>(0.0, 1e-12), None);
        assert_eq!(round_sqrt_if_certain::<f32>(f64::NAN, 1e-12), None);
        assert_eq!(round_sqrt_if_certain::<f32>(1e80, 1e-12), None); // √ overflows f32
    }

    /// Near `f32` rounding boundaries (sums within 10⁻⁹ of a midpoint's square, margins from
    /// 10⁻¹² to 10⁻⁸): a certified value is the rounding of every sum within the margin.
    #[test]
    fn certified_roots_hold_across_the_whole_margin() {
        let mut rng = SqueezeRng::from_seed_u64(5);
        let (mut certified, mut refused) = (0, 0);
        for _ in 0..20_000 {
            let v = f32::from_bits(0x0080_0000 + (rng.next_u64() % 0x7e00_0000) as u32);
            let mid = (f64::from(v) + f64::from(f32::from_bits(v.to_bits() + 1))) / 2.0;
            let sum = mid * mid * (1.0 + (rng.next_f64() - 0.5) * 2e-9);
            let rel = (-40.0 + 13.0 * rng.next_f64()).exp2();
            match round_sqrt_if_certain::<f32>(sum, rel) {
                Some(r) => {
                    certified += 1;
                    for t in [sum * (1.0 - 0.999 * rel), sum, sum * (1.0 + 0.999 * rel)] {
                        assert_eq!(f32::from_f64(t.sqrt()), r, "sum {sum:e}, rel {rel:e}");
                    }
                }
                None => refused += 1,
            }
        }
        assert!(
            certified > 1000 && refused > 1000,
            "{certified} / {refused}"
        );
    }

    /// Whenever the chunked ℓ₂ norm is certified it is the sequential one, bit for bit, over
    /// inputs of very different scales and spreads; and it is certified nearly always.
    #[test]
    fn certified_norms_equal_the_sequential_norm() {
        let d = PARALLEL_MIN_DIM + CHUNK / 2 + 13;
        let mut rng = SqueezeRng::from_seed_u64(11);
        let (mut certified, mut cases) = (0, 0);
        for scale in [1e-30f64, 1e-3, 1.0, 7.5e2, 1e15] {
            for spread in [0.0f64, 1.0, 8.0] {
                let x: Vec<f32> = (0..d)
                    .map(|_| {
                        let u = rng.next_f64() - 0.5;
                        (scale * u * (spread * (rng.next_f64() - 0.5)).exp2()) as f32
                    })
                    .collect();
                let seq = f32::from_f64(ops::norm2(&x));
                for k in [2, 3] {
                    cases += 1;
                    if let Some(n) = pool(k).install(|| norm2_rounded(&x)) {
                        assert_eq!(n.to_bits(), seq.to_bits(), "scale {scale}, spread {spread}");
                        certified += 1;
                    }
                }
                assert_eq!(norm2_rounded(&x), None, "outside a pool: sequential");
            }
        }
        assert!(certified >= cases - 2, "{certified} of {cases} certified");
        let x64 = vec![1.0f64; d];
        assert_eq!(
            pool(2).install(|| norm2_rounded(&x64)),
            None,
            "f64 is never certain"
        );
        // Small chunks give many more summation orders per input: thousands of inputs, in
        // f32 and both half types, chunk sums combined on 2 threads.
        let mut certified = 0;
        for case in 0..3000u32 {
            let n = 8 + (rng.next_u64() % 3000) as usize;
            let scale = (rng.next_f64() * 60.0 - 30.0).exp2();
            let x: Vec<f64> = (0..n).map(|_| scale * (rng.next_f64() - 0.5)).collect();
            let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            let chunk = 1 + (case as usize % 97);
            if let Some(v) = pool(2).install(|| chunked_norm2_rounded(&x32, chunk)) {
                assert_eq!(
                    v.to_bits(),
                    f32::from_f64(ops::norm2(&x32)).to_bits(),
                    "case {case}"
                );
                certified += 1;
            }
            let h: Vec<f16> = x.iter().map(|&v| f16::from_f64(v / scale)).collect();
            if let Some(v) = pool(2).install(|| chunked_norm2_rounded(&h, chunk)) {
                assert_eq!(v, f16::from_f64(ops::norm2(&h)), "case {case} (f16)");
            }
        }
        assert!(
            certified >= 2990,
            "{certified} of 3000 small cases certified"
        );
        let mut bad = vec![1.0f32; d];
        bad[d - 1] = f32::INFINITY;
        assert_eq!(pool(2).install(|| norm2_rounded(&bad)), None);
    }
}

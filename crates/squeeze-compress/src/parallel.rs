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
//!   smallest non-zero magnitude): the same value whatever the grouping. Floating sums — $\lVert x\rVert_2$,
//!   $\lVert x\rVert_1$ — stay sequential in their one summation order (they are memory-bound;
//!   rayon's parallel float sums are not reproducible).
//! * **Top-K** splits its streaming pass into one contiguous part per thread (at most 4, part
//!   boundaries on multiples of 64), each part writing its candidates to its own region; the
//!   regions are joined in part order and the exact selection runs once, so the message does
//!   not depend on the split (`sparse_scan::scan_parts`).
//! * **Sequential here:** the thresholds and scaled sign (memory-bound streaming passes whose
//!   output size is not bounded in advance), Rand-K and Perm-K (data-independent but
//!   gather-bound). Encodes and fixed-width decodes have their own chunked path in
//!   `squeeze_core::bits` (`WIRE_PARALLEL_MIN`); the variable-length QSGD-family decode is
//!   sequential (where an entry starts depends on the entries before it).
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
use squeeze_core::WideRng;
use squeeze_core::rng::WIDE_LANES;

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

#[cfg(test)]
mod tests {
    use super::*;
    use squeeze_core::SqueezeRng;

    fn pool(k: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(k)
            .build()
            .unwrap()
    }

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
}

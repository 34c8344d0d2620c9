//! The chunked streaming scan shared by the magnitude sparsifiers (`top_k`, `threshold_abs`,
//! `threshold_rel`).
//!
//! [`scan_at_least`] reads the input once, 64 entries at a time. Each chunk is tested with one
//! vectorisable compare per entry, `!(|x_j| < t)`, packed into a 64-bit hit mask; the hits are
//! then written out **without data-dependent branches** for up to four hits per chunk (each of
//! four fixed steps writes `(base + tz(m), x[base + tz(m)])` at the output position `w` and
//! advances `w` by `[m ≠ 0]`; a chunk with more hits finishes in a loop). At the Top-1 % rate a
//! chunk holds 0.8 hits on average, so the branch per hit that made the earlier 16-entry scan
//! three times slower than a read pass is gone. The output goes to slots of `idx`/`val` grown
//! ahead of the cursor (at most [`CHUNK`] past it) and truncated at the end.
//!
//! The same compare is true for NaN and ±∞ (every comparison with NaN is false, and `∞ < t` is
//! false for any `t`), so non-finite detection costs nothing extra: a non-finite entry is always
//! a hit, the chunk that holds the first one is flagged, and the error names the first
//! non-finite entry of that chunk, which is the first one in `x`.
//!
//! The chunk loop is dispatched ([`squeeze_core::dispatch_avx2!`]): an AVX2 copy when the CPU
//! has it (8 `f32` compares per instruction), the baseline copy otherwise; for `f32` on a CPU
//! with AVX-512 a hand-written copy appends 16 entries' hits at a time with compress-stores
//! (`compress_store`). The copies do the same compares and write the same entries in the same
//! order.

use rayon::prelude::*;
use squeeze_core::{CompressError, Scalar};

#[cfg(target_arch = "x86_64")]
use crate::quant::{Width, WidthMut, width, width_mut};

#[cfg(target_arch = "x86_64")]
mod compress_store;

/// Entries per chunk of the streaming test (one bit each in a `u64` mask).
pub(crate) const CHUNK: usize = 64;

/// Output slots added in one growth step of [`scan_at_least`] beyond the chunk's worst case.
const GROW: usize = 1024;

/// Bit `i` set iff `!(|c_i| < t)` (a hit or a non-finite value); compiles to vector compares.
/// Two formulations of the same mask: `wide` ORs the 64 bits in 64-bit lanes (the faster code
/// with AVX2), otherwise four 16-bit masks in 32-bit lanes (the faster code with SSE2 only).
// `!(a < t)` (not `a >= t`) on purpose: it is also true for NaN.
#[allow(clippy::neg_cmp_op_on_partial_ord)]
#[inline(always)]
fn chunk_mask<S: Scalar>(c: &[S; CHUNK], t: S, wide: bool) -> u64 {
    if wide {
        let mut mask = 0u64;
        for (i, &v) in c.iter().enumerate() {
            mask |= u64::from(!(v.abs() < t)) << i;
        }
        mask
    } else {
        let mut mask = 0u64;
        for (q, c16) in c.as_chunks::<16>().0.iter().enumerate() {
            let mut m = 0u32;
            for (i, &v) in c16.iter().enumerate() {
                m |= u32::from(!(v.abs() < t)) << i;
            }
            mask |= u64::from(m) << (16 * q);
        }
        mask
    }
}

/// Why [`scan_chunks`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// Every chunk was scanned.
    Done,
    /// The output cursor reached the cap after the chunk ending at the returned position.
    Full,
    /// Fewer than [`CHUNK`] free output slots remain before the chunk at the returned position.
    Grow,
    /// The chunk at the returned position holds a non-finite entry (its hits are written).
    NonFinite,
}

/// Where hits go: slots `idx[w..]`/`val[w..]`, the cursor `w` advancing as they are written.
struct Hits<'a, S> {
    idx: &'a mut [u32],
    val: &'a mut [S],
    w: usize,
}

/// The hits of the whole chunks of `x` (entry `i` of `x` has index `base + i`) written to
/// `out` in index order; returns the position (in `x`) where it stopped and why. `how.wide`
/// picks the mask formulation (the same mask either way; the caller passes
/// [`simd::avx2`](squeeze_core::simd::avx2)`()`, the copy it runs faster in). For `f32` on a
/// CPU with AVX-512 (not capped below it, [`squeeze_core::simd::at_most`]) it hands over to
/// [`compress_store::scan_chunks_f32`], which writes the same hits and stops at the same place.
#[inline(always)]
fn scan_chunks_body<S: Scalar>(
    x: &[S],
    base: usize,
    how: How<S>,
    out: &mut Hits<'_, S>,
) -> (usize, Stop) {
    #[cfg(target_arch = "x86_64")]
    if squeeze_core::simd::avx512()
        && let (Width::F32(xf), WidthMut::F32(vf)) = (width(x), width_mut(&mut *out.val))
    {
        let mut hits = Hits {
            idx: &mut *out.idx,
            val: vf,
            w: out.w,
        };
        let how = How {
            t: how.t.to_f64() as f32, // exact: S is f32
            cap: how.cap,
            wide: how.wide,
        };
        // SAFETY: `simd::avx512()` checked that this CPU has AVX-512 F, BW, DQ and VL (and
        // POPCNT comes with them).
        let r = unsafe { compress_store::scan_chunks_f32(xf, base, how, &mut hits) };
        out.w = hits.w;
        return r;
    }
    // One loop per mask formulation, the choice hoisted out of the loop.
    if how.wide {
        scan_chunks_loop::<S, true>(x, base, how, out)
    } else {
        scan_chunks_loop::<S, false>(x, base, how, out)
    }
}

/// The threshold, the cap of the output cursor, and the mask formulation of a chunk scan.
#[derive(Debug, Clone, Copy)]
struct How<S> {
    t: S,
    cap: usize,
    wide: bool,
}

/// [`scan_chunks_body`] with the mask formulation fixed.
#[inline(always)]
fn scan_chunks_loop<S: Scalar, const WIDE: bool>(
    x: &[S],
    base: usize,
    how: How<S>,
    out: &mut Hits<'_, S>,
) -> (usize, Stop) {
    let (chunks, _) = x.as_chunks::<CHUNK>();
    let (t, cap) = (how.t, how.cap);
    let (idx, val) = (&mut *out.idx, &mut *out.val);
    let mut o = out.w;
    let room = idx.len().min(val.len());
    for (ci, c) in chunks.iter().enumerate() {
        let pos = ci * CHUNK;
        if o + CHUNK > room {
            out.w = o;
            return (pos, Stop::Grow);
        }
        let m = chunk_mask(c, t, WIDE);
        // Indices fit in u32: callers checked d ≤ MAX_DIM.
        let bad = !squeeze_core::ops::append_hits(c, m, base + pos, idx, val, &mut o);
        if bad {
            out.w = o;
            return (pos, Stop::NonFinite);
        }
        if o >= cap {
            out.w = o;
            return (pos + CHUNK, Stop::Full);
        }
    }
    out.w = o;
    (chunks.len() * CHUNK, Stop::Done)
}

squeeze_core::dispatch_avx2! {
    /// [`scan_chunks_body`], dispatched.
    fn scan_chunks<S: Scalar>(
        x: &[S], base: usize, how: How<S>, out: &mut Hits<'_, S>
    ) -> (usize, Stop) => scan_chunks_body
}

/// The error for the first non-finite entry of `c` (entry `i` has index `base + i`).
fn first_non_finite<S: Scalar>(c: &[S], base: usize) -> CompressError {
    let (i, v) = c
        .iter()
        .enumerate()
        .find(|(_, v)| !v.is_finite())
        .map_or((0, S::ZERO), |(i, &v)| (i, v));
    CompressError::NonFinite {
        index: base + i,
        value: v.to_f64(),
    }
}

/// Write `(j, x_j)` for the hits of a short tail starting at `base` to `out` (room for every
/// entry of `c` past its cursor); the error names the tail's first non-finite entry.
#[allow(clippy::neg_cmp_op_on_partial_ord)]
fn tail_hits<S: Scalar>(
    c: &[S],
    base: usize,
    t: S,
    out: &mut Hits<'_, S>,
) -> Result<(), CompressError> {
    for (i, &v) in c.iter().enumerate() {
        if !(v.abs() < t) {
            if !v.is_finite() {
                return Err(CompressError::NonFinite {
                    index: base + i,
                    value: v.to_f64(),
                });
            }
            // Indices fit in u32: callers checked d ≤ MAX_DIM.
            out.idx[out.w] = (base + i) as u32;
            out.val[out.w] = v;
            out.w += 1;
        }
    }
    Ok(())
}

/// Append `(j, x_j)` for every `j ≥ start` with `|x_j| ≥ t`, in increasing `j`.
///
/// Stops after the first chunk of [`CHUNK`] entries that leaves `idx.len() ≥ cap` and returns
/// `Ok(Some(next))`, the first position not yet scanned (so the caller can compact its
/// candidates and resume), or `Ok(None)` once `x` is exhausted. A NaN or ±∞ entry gives
/// [`CompressError::NonFinite`] at its index; since every non-finite entry is a hit, it is the
/// first non-finite entry at or after `start`. `t` must be ≥ 0 (possibly `+∞`, which keeps
/// nothing finite) and `x.len()` must fit in `u32`. Allocation: the vectors grow to at most
/// `min(cap, hits) + CHUNK + GROW` entries (`cap + CHUNK` when the caller reserved that much,
/// as Top-K does, needs no allocation).
pub(crate) fn scan_at_least<S: Scalar>(
    x: &[S],
    start: usize,
    t: S,
    cap: usize,
    idx: &mut Vec<u32>,
    val: &mut Vec<S>,
) -> Result<Option<usize>, CompressError> {
    let rest = x.get(start..).unwrap_or(&[]);
    let whole = rest.len() - rest.len() % CHUNK;
    let mut w = idx.len();
    debug_assert_eq!(w, val.len());
    let mut pos = 0;
    let how = How {
        t,
        cap,
        wide: squeeze_core::simd::avx2(),
    };
    let result = loop {
        let mut out = Hits { idx, val, w };
        let (n, stop) = scan_chunks(&rest[pos..whole], start + pos, how, &mut out);
        w = out.w;
        pos += n;
        match stop {
            Stop::Grow => {
                // At least CHUNK free slots, and no more than CHUNK past the cap.
                let len = (w + CHUNK + GROW)
                    .min(cap.saturating_add(CHUNK))
                    .max(w + CHUNK);
                idx.resize(len, 0);
                val.resize(len, S::ZERO);
            }
            Stop::Full => break Ok(Some(start + pos)),
            Stop::NonFinite => break Err(first_non_finite(&rest[pos..pos + CHUNK], start + pos)),
            Stop::Done => break Ok(None),
        }
    };
    if let Ok(None) = result {
        let tail = &rest[whole..];
        idx.resize(w + tail.len(), 0);
        val.resize(w + tail.len(), S::ZERO);
        let mut out = Hits { idx, val, w };
        let found = tail_hits(tail, start + whole, t, &mut out);
        w = out.w;
        idx.truncate(w);
        val.truncate(w);
        return found.map(|()| None);
    }
    idx.truncate(w);
    val.truncate(w);
    result
}

/// Most parts [`scan_parts`] cuts a vector into (one per thread of the calling pool).
pub(crate) const MAX_PARTS: usize = 4;

/// How one part of [`scan_parts`] ended: the hits it wrote, and why it stopped.
#[derive(Debug, Clone, PartialEq)]
enum PartEnd {
    /// The whole part was scanned; its hits are written.
    Done(usize),
    /// The part's region reached the cap before its end.
    Full,
    /// The part holds a non-finite entry; the error names its first one.
    NonFinite(CompressError),
}

/// Every `(j, x_j)` with `|x_j| ≥ t`, in increasing `j`, found by up to [`MAX_PARTS`] threads of
/// the calling rayon pool at once: `x` is cut into as many contiguous parts as the pool has
/// threads (part boundaries on multiples of [`CHUNK`]), part $p$ is scanned into its own
/// region of `cap + CHUNK` slots of `idx`/`val`, and the regions are then moved together in
/// part order. The hits are the same as one [`scan_at_least`] from 0 with no cap, whatever
/// the number of parts.
///
/// Returns `Ok(true)` with the hits in `idx`/`val`; `Ok(false)` (and `idx`/`val` cleared) when
/// some part found `cap` or more hits before its end and every part before it was clean — the
/// caller then runs its sequential, compacting scan; and the error of the first non-finite
/// entry of `x` when the parts before it were scanned to their end (an earlier full part
/// gives `Ok(false)`, and the sequential scan finds the error). Allocates only to grow
/// `idx`/`val` to `parts · (cap + CHUNK)` (and inside rayon's scheduling).
pub(crate) fn scan_parts<S: Scalar>(
    x: &[S],
    t: S,
    cap: usize,
    idx: &mut Vec<u32>,
    val: &mut Vec<S>,
) -> Result<bool, CompressError> {
    let parts = rayon::current_num_threads().clamp(1, MAX_PARTS);
    let len = x.len().div_ceil(parts).next_multiple_of(CHUNK).max(CHUNK);
    let region = cap.saturating_add(CHUNK);
    idx.clear();
    val.clear();
    idx.resize(parts * region, 0);
    val.resize(parts * region, S::ZERO);
    let mut ends: [PartEnd; MAX_PARTS] = std::array::from_fn(|_| PartEnd::Done(0));
    x.par_chunks(len)
        .zip(idx.par_chunks_mut(region))
        .zip(val.par_chunks_mut(region))
        .zip(ends.par_iter_mut())
        .enumerate()
        .for_each(|(p, (((xp, ip), vp), end))| {
            *end = scan_part(xp, p * len, t, cap, ip, vp);
        });
    let mut w = 0;
    for (p, end) in ends.into_iter().enumerate().take(x.len().div_ceil(len)) {
        match end {
            PartEnd::Done(n) => {
                idx.copy_within(p * region..p * region + n, w);
                val.copy_within(p * region..p * region + n, w);
                w += n;
            }
            PartEnd::Full => {
                idx.clear();
                val.clear();
                return Ok(false);
            }
            PartEnd::NonFinite(e) => {
                idx.clear();
                val.clear();
                return Err(e);
            }
        }
    }
    idx.truncate(w);
    val.truncate(w);
    Ok(true)
}

/// One part of [`scan_parts`]: the hits of `x` (entry `i` has index `base + i`) written from
/// the start of `idx`/`val` (`cap + CHUNK` slots, so a chunk never runs out of room).
fn scan_part<S: Scalar>(
    x: &[S],
    base: usize,
    t: S,
    cap: usize,
    idx: &mut [u32],
    val: &mut [S],
) -> PartEnd {
    let whole = x.len() - x.len() % CHUNK;
    let how = How {
        t,
        cap,
        wide: squeeze_core::simd::avx2(),
    };
    let mut out = Hits { idx, val, w: 0 };
    let (pos, stop) = scan_chunks(&x[..whole], base, how, &mut out);
    match stop {
        Stop::Done => match tail_hits(&x[whole..], base + whole, t, &mut out) {
            Ok(()) => PartEnd::Done(out.w),
            Err(e) => PartEnd::NonFinite(e),
        },
        // `Grow` cannot happen (the cursor stays below `cap`, the region has `CHUNK` more).
        Stop::Full | Stop::Grow => PartEnd::Full,
        Stop::NonFinite => PartEnd::NonFinite(first_non_finite(&x[pos..pos + CHUNK], base + pos)),
    }
}

/// The smallest value of type `S` that is `≥ t` (for `t ≥ 0`; `+∞` if `t` exceeds `S::MAX`), so
/// that `|v| ≥ round_up(t)` ⇔ `|v| ≥ t` exactly for every `v: S`.
pub(crate) fn round_up<S: Scalar>(t: f64) -> S {
    let s = S::from_f64(t.max(0.0));
    if s.to_f64() < t {
        // s is +0 or positive finite: the next representable value up.
        S::from_bits_u64(s.to_bits_u64() + 1)
    } else {
        s
    }
}

/// The shorter of `{}` and `{:e}` for a parameter in a spec string (both re-parse exactly).
pub(crate) fn fmt_real(v: f64) -> String {
    let (plain, sci) = (format!("{v}"), format!("{v:e}"));
    if sci.len() < plain.len() { sci } else { plain }
}

/// The magnitude key of `v`: the IEEE bits of `|v|`, which order non-negative values like the
/// values themselves (NaN above +∞).
#[inline(always)]
pub(crate) fn key<S: Scalar>(v: S) -> u64 {
    v.abs().to_bits_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_finds_hits_in_order_and_the_first_non_finite() {
        let mut x = vec![0.0f32; 170];
        for (j, v) in [(3, 2.0), (17, -1.0), (33, 0.5), (100, -3.0), (169, 4.0)] {
            x[j] = v;
        }
        let (mut idx, mut val) = (Vec::new(), Vec::new());
        assert_eq!(
            scan_at_least(&x, 0, 1.0, usize::MAX, &mut idx, &mut val),
            Ok(None)
        );
        assert_eq!(idx, vec![3, 17, 100, 169]);
        assert_eq!(val, vec![2.0, -1.0, -3.0, 4.0]);
        // Stop at the chunk that fills the buffer, resume after it.
        idx.clear();
        val.clear();
        assert_eq!(
            scan_at_least(&x, 0, 0.5, 1, &mut idx, &mut val),
            Ok(Some(CHUNK))
        );
        assert_eq!(idx, vec![3, 17, 33]);
        assert_eq!(
            scan_at_least(&x, CHUNK, 0.5, usize::MAX, &mut idx, &mut val),
            Ok(None)
        );
        assert_eq!(idx, vec![3, 17, 33, 100, 169]);
        // Non-finite entries are found even with an infinite threshold, in a chunk and in the
        // tail.
        x[20] = f32::NAN;
        x[150] = f32::INFINITY;
        let r = scan_at_least(&x, 0, f32::INFINITY, usize::MAX, &mut idx, &mut val);
        assert!(matches!(r, Err(CompressError::NonFinite { index: 20, .. })));
        let r = scan_at_least(&x, 21, f32::INFINITY, usize::MAX, &mut idx, &mut val);
        assert!(matches!(
            r,
            Err(CompressError::NonFinite { index: 150, .. })
        ));
        let r = scan_at_least(&x, 151, 0.0, usize::MAX, &mut idx, &mut val);
        assert_eq!(r, Ok(None));
    }

    use squeeze_core::simd::{self, Level};

    /// A chunk-by-chunk reference: hits in order, or the first non-finite entry.
    fn reference(x: &[f32], t: f32) -> Result<(Vec<u32>, Vec<f32>), usize> {
        let mut out = (Vec::new(), Vec::new());
        for (j, &v) in x.iter().enumerate() {
            if !v.is_finite() {
                return Err(j);
            }
            if v.abs() >= t {
                out.0.push(j as u32);
                out.1.push(v);
            }
        }
        Ok(out)
    }

    fn scan_all(x: &[f32], t: f32) -> Result<(Vec<u32>, Vec<f32>), usize> {
        let (mut idx, mut val) = (Vec::new(), Vec::new());
        match scan_at_least(x, 0, t, usize::MAX, &mut idx, &mut val) {
            Ok(None) => Ok((idx, val)),
            Err(CompressError::NonFinite { index, .. }) => Err(index),
            other => panic!("{other:?}"),
        }
    }

    /// The AVX2 copy (when the CPU has it) and the baseline copy write the same entries, on
    /// every length 0..70 and longer odd lengths, with ties at the threshold, dense hits
    /// (more than four per chunk), ±0 and NaN/±∞ at various places.
    #[test]
    fn both_copies_match_the_reference() {
        let mut rng = squeeze_core::SqueezeRng::from_seed_u64(3);
        let lens = (0..70).chain([127, 128, 129, 191, 1000, 4099]);
        for len in lens {
            for case in 0..6 {
                let mut x: Vec<f32> = (0..len)
                    .map(|_| match case {
                        0 => (rng.next_f64() * 4.0 - 2.0) as f32,
                        1 => [1.0, -1.0, 0.5, 0.0, -0.0][(rng.next_f64() * 5.0) as usize % 5],
                        _ => (rng.next_f64() * 2.0 - 1.0) as f32,
                    })
                    .collect();
                if len > 0 && case >= 3 {
                    let at = (rng.next_f64() * len as f64) as usize % len;
                    x[at] = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY][case - 3];
                    if case == 5 && at + 1 < len {
                        x[len - 1] = f32::NAN;
                    }
                }
                for t in [0.0f32, 0.5, 1.0, 1.9, f32::INFINITY] {
                    let want = reference(&x, t);
                    // Every copy this CPU can run: baseline, AVX2, AVX-512 (compress-stores).
                    for level in Level::ALL.into_iter().filter(|&l| l <= simd::cpu_level()) {
                        let got = simd::at_most(level, || scan_all(&x, t));
                        assert_eq!(got, want, "len {len} case {case} t {t} {level:?}");
                        // Bits too (−0 vs +0).
                        if let (Ok(g), Ok(w)) = (&got, &want) {
                            assert!(
                                g.1.iter()
                                    .zip(&w.1)
                                    .all(|(p, q)| p.to_bits() == q.to_bits())
                            );
                        }
                    }
                }
            }
        }
    }

    /// Resuming after a full buffer gives the same hits as one uncapped scan, for both copies.
    #[test]
    fn capped_scans_resume_to_the_same_hits() {
        let x: Vec<f32> = (0..5000u32)
            .map(|j| ((j.wrapping_mul(2_654_435_761) >> 20) as f32) / 4096.0)
            .collect();
        let want = reference(&x, 0.9).unwrap();
        for level in Level::ALL.into_iter().filter(|&l| l <= simd::cpu_level()) {
            let run = || {
                let (mut idx, mut val) = (Vec::new(), Vec::new());
                let mut pos = 0;
                let mut stops = 0;
                while let Some(next) =
                    scan_at_least(&x, pos, 0.9, idx.len() + 7, &mut idx, &mut val).unwrap()
                {
                    assert!(next > pos && next % CHUNK == 0);
                    pos = next;
                    stops += 1;
                }
                assert!(stops > 10);
                (idx, val)
            };
            assert_eq!(simd::at_most(level, run), want, "{level:?}");
        }
    }

    /// `scan_parts` in a pool of `threads`: `Ok(Some(hits))`, `Ok(None)` for "a part filled
    /// up" (with the buffers left empty), or the index of the reported non-finite entry.
    #[allow(clippy::type_complexity)]
    fn split(
        x: &[f32],
        t: f32,
        cap: usize,
        threads: usize,
    ) -> Result<Option<(Vec<u32>, Vec<f32>)>, usize> {
        crate::parallel::pool(threads).install(|| {
            let (mut idx, mut val) = (vec![9u32; 3], vec![9.0f32; 3]);
            match scan_parts(x, t, cap, &mut idx, &mut val) {
                Ok(true) => Ok(Some((idx, val))),
                Ok(false) => {
                    assert!(idx.is_empty() && val.is_empty());
                    Ok(None)
                }
                Err(CompressError::NonFinite { index, .. }) => Err(index),
                Err(e) => panic!("{e:?}"),
            }
        })
    }

    /// Split scans find the hits of one sequential scan for 1–5 threads, on lengths that are
    /// and are not multiples of the chunk (a tail in the last part), with hits at part edges.
    #[test]
    fn split_scans_match_the_sequential_scan() {
        let mut rng = squeeze_core::SqueezeRng::from_seed_u64(8);
        for len in [0, 1, 63, 64, 65, 4 * CHUNK, 1000, 12_345, 70_001] {
            let mut x: Vec<f32> = (0..len)
                .map(|_| (rng.next_f64() * 2.0 - 1.0) as f32)
                .collect();
            for j in [len / 2, len / 3, len / 4, len.saturating_sub(1)] {
                if j < len {
                    x[j] = 0.95;
                }
            }
            for t in [0.0f32, 0.5, 0.9, 2.0] {
                let want = reference(&x, t).unwrap();
                for threads in 1..=5 {
                    let got = split(&x, t, len + 1, threads);
                    assert_eq!(got, Ok(Some(want.clone())), "len {len} t {t} {threads}");
                }
            }
        }
    }

    /// A part that reaches the cap sends the caller to the sequential scan; the first
    /// non-finite entry is reported only when every part before it was scanned to its end.
    #[test]
    fn split_scans_hand_back_full_parts_and_the_first_non_finite() {
        let len = 4 * CHUNK * 16;
        let mut x = vec![0.0f32; len];
        // Part 0 of two holds 40 hits, part 1 holds 4.
        for j in 0..40 {
            x[j * 97] = 1.0;
        }
        for j in 0..4 {
            x[len / 2 + j * 131] = -1.0;
        }
        let all = reference(&x, 0.5).unwrap();
        assert_eq!(split(&x, 0.5, 100, 2), Ok(Some(all)));
        assert_eq!(split(&x, 0.5, 20, 2), Ok(None));
        assert_eq!(split(&x, 0.5, 20, 1), Ok(None));
        // A NaN in part 1 behind a full part 0: handed back, not reported.
        let mut y = x.clone();
        y[len - 5] = f32::NAN;
        assert_eq!(split(&y, 0.5, 20, 2), Ok(None));
        assert_eq!(split(&y, 0.5, 100, 2), Err(len - 5));
        // Non-finite entries in both parts: the first one wins, for any thread count.
        y[len / 2 - 7] = f32::NEG_INFINITY;
        for threads in 1..=4 {
            assert_eq!(split(&y, 0.5, 100, threads), Err(len / 2 - 7), "{threads}");
            assert_eq!(split(&y, f32::INFINITY, 100, threads), Err(len / 2 - 7));
        }
        // In the tail of the last part.
        let mut z = vec![0.0f32; 3 * CHUNK * 8 + 11];
        let at = z.len() - 2;
        z[at] = f32::NAN;
        assert_eq!(split(&z, 0.5, 10, 3), Err(at));
    }

    #[test]
    fn round_up_is_the_least_value_not_below() {
        assert_eq!(round_up::<f32>(0.1), 0.1f32);
        assert!((0.1f32 as f64) >= 0.1);
        // 0.3 rounds down to nearest f32... check the invariant instead of the value
        for t in [0.3, 1e-40, 1e-50, 3.4e38, 3.5e38, 1.0, 0.0] {
            let r = round_up::<f32>(t);
            assert!(r.to_f64() >= t, "{t}");
            if r > 0.0 {
                let below = f32::from_bits(r.to_bits() - 1);
                assert!((below as f64) < t, "{t}");
            }
        }
        assert_eq!(round_up::<f32>(1e-50), f32::from_bits(1));
        assert_eq!(round_up::<f32>(3.5e38), f32::INFINITY);
        assert_eq!(round_up::<f64>(0.3), 0.3);
    }
}

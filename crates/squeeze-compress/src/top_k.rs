//! Top-K: keep the $k$ entries of largest magnitude.

use squeeze_core::{
    Class, CompressCtx, CompressError, Compressor, Message, ParamError, Scalar, Sparsifier,
    check_input,
};

use crate::entry::{K_PARAMS, ParamDoc, Registered, compressor};
use crate::parallel::is_parallel;
use crate::params::{KSpec, Params};
use crate::sparse_scan::{CHUNK, key, scan_at_least, scan_parts};

/// Top-K: $\mathcal{C}(x)_j = x_j$ for the $k$ coordinates of largest $|x_j|$, $0$ elsewhere.
///
/// **Ties** are broken deterministically toward the **lower index**: the kept set is the first
/// $k$ coordinates in the order ($|x_j|$ descending, $j$ ascending). The output is a `Sparse`
/// message with strictly increasing indices and the original values.
///
/// **Class**: contractive with $\alpha = k/d$. The dropped $d-k$ entries are the smallest in
/// magnitude, so their mean square is at most the mean square of all entries:
/// $\lVert\mathcal{C}(x) - x\rVert^2 = \sum_{j \notin S} x_j^2 \le \frac{d-k}{d}\lVert x\rVert^2$
/// (Stich, Cordonnier, Jaggi 2018, *Sparsified SGD with memory*, Lemma A.1; Alistarh et al.
/// 2018; the EF21 code). The bound is attained by $x$ with all $|x_j|$ equal.
///
/// **Bits**: $4 + \lceil\log_2(d+1)\rceil + k(\lceil\log_2 d\rceil + 32)$ for `f32` (tag, count,
/// indices, values; 64-bit values for `f64`).
///
/// **Parameters**: `k=<count>` ($1 \le k \le d$, checked against $d$ by `check_dim`) or
/// `ratio=<r>` with $k = \max(1, \lceil r d\rceil)$.
///
/// **Speed**: exact selection in one streaming pass for large $d$. A threshold is estimated
/// from a deterministic, stratified sample of $m = 4096$ magnitudes
/// (with $\mu = mk/d$ sampled entries expected above the $k$-th magnitude, the threshold is the
/// sample's $\lceil\mu + 3\sqrt{\mu} + 2\rceil$-th largest, so slightly more than $k$ entries
/// pass it); the pass tests 64 entries at a time with a vectorised compare into a bit mask and
/// writes the candidates without data-dependent branches (also catching NaN/±∞; dispatched to
/// an AVX2 copy when the CPU has it, see `sparse_scan`); when the candidate buffer fills up (the
/// sample was misleading, e.g. many ties) it is compacted to its exact top $k$ and the threshold
/// raised to that $k$-th magnitude (strictly, since later ties lose); if the sample overshot and
/// fewer than $k$ candidates remain, the pass is redone with a lower threshold (at worst $0$,
/// which is exact for any input). The last step is `select_nth_unstable` on the candidates'
/// magnitude bits (IEEE bits of non-negative floats are order-preserving). No allocation once
/// the message and `ctx.scratch.words` have grown. Called from a rayon pool with several
/// threads and $d \ge$ [`PARALLEL_MIN_DIM`](crate::parallel::PARALLEL_MIN_DIM), the streaming
/// pass is split into one contiguous part per thread (at most 4), each writing its candidates
/// to its own region of the message; the selection is exact, so the message is the same for
/// any thread count.
///
/// ```
/// use squeeze_compress::TopK;
/// use squeeze_core::{Compressor, CompressCtx, Message, Scratch, SqueezeRng};
/// let c = TopK::with_k(2).unwrap();
/// let (mut rng, mut scratch) = (SqueezeRng::from_seed_u64(0), Scratch::default());
/// let mut ctx = CompressCtx::new(&mut rng, &mut scratch);
/// // |−3| is largest; 1 ties with −1 and the lower index wins.
/// let m = c.compress(&[0.5f32, 1.0, -3.0, -1.0], &mut ctx).unwrap();
/// assert_eq!(
///     m,
///     Message::Sparse { dim: 4, indices: vec![1, 2], values: vec![1.0, -3.0] }
/// );
/// assert_eq!(m.bits(), 4 + 3 + 2 * (2 + 32));
/// assert_eq!(Compressor::<f32>::class(&c, 4).alpha(), Some(0.5));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TopK {
    k: KSpec,
}

impl TopK {
    /// Top-K with the given count rule (validated: `k ≥ 1`, `ratio ∈ (0, 1]`).
    pub fn new(k: KSpec) -> Result<Self, ParamError> {
        let k = k.validated(Self::NAME)?;
        Ok(Self { k })
    }

    /// Keep exactly `k ≥ 1` coordinates.
    pub fn with_k(k: usize) -> Result<Self, ParamError> {
        Self::new(KSpec::Count(k))
    }

    /// Keep `max(1, ⌈ratio·d⌉)` coordinates, `ratio ∈ (0, 1]`.
    pub fn with_ratio(ratio: f64) -> Result<Self, ParamError> {
        Self::new(KSpec::Ratio(ratio))
    }

    /// The count rule.
    pub fn k_spec(&self) -> KSpec {
        self.k
    }

    /// The compaction step of a streaming Top-K over candidates found by someone else's pass
    /// (EF21's gradient pass fused with the selection): `idx`/`val` (in increasing index order)
    /// are reduced in place to their Top-K — the first $k$ in the order ($|v|$ descending, index
    /// ascending), kept in index order — and the returned threshold is the least value above
    /// the $k$-th magnitude (later entries must beat it strictly: an equal one has a higher
    /// index and loses the tie). With at most $k$ candidates (or mismatched lengths) nothing
    /// changes and the threshold is $0$ (keep scanning everything). `words` is working memory.
    pub fn compact_candidates<S: Scalar>(
        k: usize,
        words: &mut Vec<u64>,
        idx: &mut Vec<u32>,
        val: &mut Vec<S>,
    ) -> S {
        if idx.len() != val.len() || val.len() <= k || k == 0 {
            return S::ZERO;
        }
        S::from_bits_u64(compact(words, idx, val, k) + 1)
    }

    /// Finish a Top-K from pre-scanned candidates: if `idx`/`val` (increasing indices) hold
    /// every entry $j$ of some $x$ with $|x_j| \ge t$ for one threshold $t$ — or the result of
    /// [`TopK::compact_candidates`] steps over such a stream, each later entry tested against
    /// the returned threshold — and at least $k \ge 1$ of them, they are reduced to the exact
    /// Top-K of $x$ (the message `compress_into` sends: every entry of the Top-K has $|x_j|$
    /// at least the $k$-th magnitude $\ge t$, so it is a candidate) and `true` is returned.
    /// With fewer than $k$ candidates nothing changes and it returns `false`: the caller runs
    /// the ordinary selection on $x$.
    pub fn finish_candidates<S: Scalar>(
        k: usize,
        words: &mut Vec<u64>,
        idx: &mut Vec<u32>,
        val: &mut Vec<S>,
    ) -> bool {
        if k == 0 || idx.len() != val.len() || val.len() < k {
            return false;
        }
        if val.len() > k {
            compact(words, idx, val, k);
        }
        true
    }
}

impl Registered for TopK {
    const NAME: &'static str = "top_k";
    const SUMMARY: &'static str = "keep the k largest |x_j| (ties → lower index); contractive α = k/d [Stich et al. 2018; Alistarh et al. 2018]; k(⌈log₂d⌉+32) bits + header (f32)";
    const PARAMS: &'static [ParamDoc] = &K_PARAMS;
    const EXAMPLES: &'static [&'static str] = &[
        "top_k:k=1",
        "top_k:k=3",
        "top_k:k=40",
        "top_k:ratio=0.1",
        "top_k:ratio=0.5",
        "top_k:ratio=1",
    ];
    const BENCH: &'static [&'static str] = &["top_k:ratio=0.01"];
    fn from_params(p: &mut Params) -> Result<Self, ParamError> {
        Self::new(KSpec::from_params(p)?)
    }
}

compressor! {
    TopK, |self, dim| {
        spec: format!("{}:{}", Self::NAME, self.k.spec()),
        class: Class::Contractive {
            alpha: self.k.fraction(dim),
        },
        deterministic: true,
        fn check_dim(&self, dim: usize) -> Result<(), CompressError> {
            self.k.resolve(Self::NAME, dim).map(|_| ())
        }
        fn top_k(&self, dim: usize) -> Option<usize> {
            self.k.resolve(Self::NAME, dim).ok()
        }
    }
    sparsify_into |x, ctx, indices, values| {
        indices.clear();
        values.clear();
        let k = self.k.resolve(Self::NAME, x.len())?;
        top_k_select(
            x,
            k,
            &mut ctx.scratch.words,
            indices,
            values,
            Tuning::DEFAULT,
        )
        .map(|_| ())
    },
    kept |d| self.k.resolve(Self::NAME, d).ok(),
    projection: true,
}

/// Knobs of the selection (tests shrink them to exercise the sampled path at small `d`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tuning {
    /// Below this dimension, skip the sample and take every entry as a candidate.
    pub small_d: usize,
    /// Sample size for the threshold estimate (at most `d`).
    pub sample: usize,
}

impl Tuning {
    pub(crate) const DEFAULT: Tuning = Tuning {
        small_d: 4096,
        sample: 4096,
    };
}

impl Tuning {
    /// Sample size at dimension `d`: `sample`, at most `d`, whatever the dimension. The
    /// sample's loads are scattered (each one a cache and TLB miss on a large input), so a
    /// larger sample costs more than the candidates it saves: at d = 10⁷ and k = 10⁵, a
    /// sample of 32,768 (d/256, the rule before) took about a quarter of the selection for
    /// 117,000 candidates; 4,096 leaves 151,000 candidates and is about 0.2 ms faster in all
    /// (1.73–1.84 → 1.55–1.62 ms for Top-1 %, standalone, the rest of the code alike).
    fn sample_len(&self, d: usize) -> usize {
        self.sample.min(d)
    }
}

/// The `j`-th sample position: stratum `j` of width `stride` with a fixed pseudo-random offset
/// $\lfloor h_j \cdot \mathrm{stride} / 2^{64}\rfloor$, $h_j$ = [`mix`]$(j)$ (robust to periodic
/// inputs, unlike a plain stride; a multiply-high instead of a 64-bit division, which cost more
/// than the load). The sample only steers the speed of the selection, never its result.
#[inline]
fn sample_position(j: usize, stride: usize) -> usize {
    j * stride + ((u128::from(mix(j as u64)) * stride as u128) >> 64) as usize
}

/// SplitMix64 finaliser: the fixed jitter of the stratified sample.
#[inline]
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What the selection did (for tests of the fallback paths).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Stats {
    /// Full passes over `x` (more than one when the sampled threshold overshot).
    pub passes: usize,
    /// Compactions of a full candidate buffer (the threshold undershot, or ties).
    pub compactions: usize,
    /// Passes that ran split across the threads of the calling pool.
    pub split_passes: usize,
}

/// The exact Top-K of `x` (`1 ≤ k ≤ d = x.len() ≤ MAX_DIM`) into `idx`/`val` (cleared first),
/// in increasing index order, ties toward lower indices. `words` is working memory.
pub(crate) fn top_k_select<S: Scalar>(
    x: &[S],
    k: usize,
    words: &mut Vec<u64>,
    idx: &mut Vec<u32>,
    val: &mut Vec<S>,
    tuning: Tuning,
) -> Result<Stats, CompressError> {
    let mut stats = Stats::default();
    idx.clear();
    val.clear();
    let d = x.len();
    if k >= d {
        check_input(x)?;
        idx.extend(0..d as u32);
        val.extend_from_slice(x);
        return Ok(stats);
    }
    let max_key = key(S::MAX);
    // Threshold keys to try, most selective first; the last one (0) admits every entry.
    let mut plan = [0u64; 3];
    let mut expected = d;
    let m = tuning.sample_len(d);
    if d >= tuning.small_d && m >= 2 {
        let stride = d / m;
        words.clear();
        words.extend((0..m).map(|j| key(x[sample_position(j, stride)]).min(max_key)));
        // Rank (from the top) of the threshold in the sample: the expected count of sampled
        // entries at or above the k-th magnitude, plus three standard deviations.
        let mu = m as f64 * k as f64 / d as f64;
        let r = (mu + 3.0 * mu.sqrt() + 2.0).ceil() as usize;
        let r2 = 4 * r + 16;
        if r2 < m {
            // Select the r2-th largest, then the r-th largest among the r2 above it (the same
            // order statistic as a full selection, on a slice 1/μ-ish the size).
            let (_, t, top) = words.select_nth_unstable(m - r2);
            plan[1] = *t;
            let (_, t, _) = top.select_nth_unstable(r2 - 1 - r);
            plan[0] = *t;
        } else if r < m {
            let (_, t, _) = words.select_nth_unstable(m - r);
            plan[0] = *t;
        }
        if r < m {
            expected = (d as f64 * r as f64 / m as f64) as usize;
        }
    }
    // Candidate buffer: room for the expected count with slack, and at least 1.5k so that a
    // compaction (which keeps k) frees a good share of it.
    let cap = (expected + expected / 4).max(k + k / 2) + 64;
    idx.reserve(cap + CHUNK);
    val.reserve(cap + CHUNK);
    for (attempt, &t0) in plan.iter().enumerate() {
        if attempt > 0 && plan[attempt - 1] == 0 {
            break;
        }
        idx.clear();
        val.clear();
        stats.passes += 1;
        let mut t = S::from_bits_u64(t0);
        // On a multi-thread pool, large inputs are scanned in parts at once (the same hits);
        // a part that fills up sends the attempt to the sequential, compacting scan.
        if is_parallel(d) && scan_parts(x, t, cap, idx, val)? {
            stats.split_passes += 1;
        } else {
            let mut pos = 0;
            while let Some(next) = scan_at_least(x, pos, t, cap, idx, val)? {
                // Buffer full (cap > k): keep the top k so far; later entries must beat the
                // k-th magnitude strictly (an equal one has a higher index and loses the tie).
                let kth = compact(words, idx, val, k);
                stats.compactions += 1;
                t = S::from_bits_u64(kth + 1);
                pos = next;
            }
        }
        if idx.len() >= k {
            break;
        }
    }
    if idx.len() > k {
        compact(words, idx, val, k);
    }
    Ok(stats)
}

squeeze_core::dispatch_avx2! {
    /// Reduce the candidates (in increasing index order, more than `k`) to their Top-K in
    /// place, keeping the order; returns the magnitude key of the k-th largest.
    fn compact<S: Scalar>(words: &mut Vec<u64>, idx: &mut Vec<u32>, val: &mut Vec<S>, k: usize) -> u64 => compact_body
}

#[inline(always)]
fn compact_body<S: Scalar>(
    words: &mut Vec<u64>,
    idx: &mut Vec<u32>,
    val: &mut Vec<S>,
    k: usize,
) -> u64 {
    let n = val.len();
    debug_assert!(n > k && idx.len() == n);
    words.clear();
    words.extend(val.iter().map(|&v| key(v)));
    let (_, kth, above) = words.select_nth_unstable(n - k);
    let kth = *kth;
    let greater = above.iter().filter(|&&w| w > kth).count();
    // Entries tied with the k-th magnitude that are kept: the first `k − greater` in index
    // order, those before `cut`. (A test per entry, no count carried from one to the next.)
    let cut = tie_cut(val, kth, k - greater);
    let (ids, vals) = (&mut idx[..n], &mut val[..n]);
    let mut w = 0;
    for r in 0..n {
        let (i, v) = (ids[r], vals[r]);
        let kv = key(v);
        let keep = (kv > kth) | ((kv == kth) & (r < cut));
        // `w ≤ r` always; `min` lets the compiler see it and drop the bounds checks.
        let at = w.min(r);
        ids[at] = i;
        vals[at] = v;
        w += usize::from(keep);
    }
    idx.truncate(w);
    val.truncate(w);
    kth
}

/// The place of the first candidate tied with the k-th magnitude `kth` that is not kept: the
/// `(ties + 1)`-th key equal to `kth` in index order (`val.len()` if there is none). Equal keys
/// are counted 64 at a time (a vectorised count); only the block that holds the place is
/// walked.
#[inline(always)]
fn tie_cut<S: Scalar>(val: &[S], kth: u64, ties: usize) -> usize {
    let mut seen = 0;
    for (c, block) in val.chunks(CHUNK).enumerate() {
        let equal = block.iter().filter(|&&v| key(v) == kth).count();
        if seen + equal > ties {
            let mut place = block.iter().enumerate().filter(|&(_, &v)| key(v) == kth);
            return c * CHUNK + place.nth(ties - seen).map_or(block.len(), |(j, _)| j);
        }
        seen += equal;
    }
    val.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::compress_once;
    use proptest::prelude::*;
    use squeeze_core::{Scratch, SqueezeRng};

    /// Sort by (|x| desc, index asc), take k, sort by index.
    fn naive<S: Scalar>(x: &[S], k: usize) -> (Vec<u32>, Vec<S>) {
        let mut order: Vec<usize> = (0..x.len()).collect();
        order.sort_by(|&a, &b| {
            x[b].abs()
                .partial_cmp(&x[a].abs())
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(a.cmp(&b))
        });
        let mut kept: Vec<usize> = order[..k].to_vec();
        kept.sort_unstable();
        (
            kept.iter().map(|&i| i as u32).collect(),
            kept.iter().map(|&i| x[i]).collect(),
        )
    }

    type Out<S> = (Vec<u32>, Vec<S>);

    fn run_stats<S: Scalar>(
        x: &[S],
        k: usize,
        tuning: Tuning,
    ) -> Result<(Out<S>, Stats), CompressError> {
        let (mut words, mut idx, mut val) = (Vec::new(), Vec::new(), Vec::new());
        let stats = top_k_select(x, k, &mut words, &mut idx, &mut val, tuning)?;
        Ok(((idx, val), stats))
    }

    fn run<S: Scalar>(x: &[S], k: usize, tuning: Tuning) -> Result<Out<S>, CompressError> {
        run_stats(x, k, tuning).map(|r| r.0)
    }

    fn compress(spec_k: usize, x: &[f32]) -> Result<Message<f32>, CompressError> {
        compress_once(&TopK::with_k(spec_k).unwrap(), x, 0)
    }

    const TINY: Tuning = Tuning {
        small_d: 0,
        sample: 8,
    };

    #[test]
    fn hand_computed_outputs() {
        let x = [0.0f32, -5.0, 2.0, 5.0, -2.0, 1.0];
        let m = compress(3, &x).unwrap();
        assert_eq!(
            m,
            Message::Sparse {
                dim: 6,
                indices: vec![1, 2, 3],
                values: vec![-5.0, 2.0, 5.0]
            }
        );
        let m = compress(1, &x).unwrap();
        assert_eq!(m.to_dense().unwrap(), vec![0.0, -5.0, 0.0, 0.0, 0.0, 0.0]);
        let m = compress(6, &x).unwrap();
        assert_eq!(m.to_dense().unwrap(), x.to_vec());
        // All zero: the first k coordinates (ties toward the lower index), values kept as is.
        let m = compress(2, &[0.0, -0.0, 0.0]).unwrap();
        match m {
            Message::Sparse {
                indices, values, ..
            } => {
                assert_eq!(indices, vec![0, 1]);
                assert!(values[1].is_sign_negative());
            }
            other => panic!("{other:?}"),
        }
        // Bits: tag 4 + count ⌈log₂ 7⌉ = 3 + 3 × (index 3 + value 32).
        assert_eq!(compress(3, &x).unwrap().bits(), 4 + 3 + 3 * 35);
    }

    #[test]
    fn errors_are_typed_and_actionable() {
        let e = compress(4, &[1.0, 2.0]).unwrap_err();
        assert!(matches!(e, CompressError::Incompatible { .. }), "{e}");
        assert!(e.to_string().contains("k must be ≤ d = 2"), "{e}");
        assert_eq!(compress(1, &[]).unwrap_err(), CompressError::EmptyInput);
        let e = compress(1, &[1.0, f32::NAN, f32::INFINITY]).unwrap_err();
        assert!(
            matches!(e, CompressError::NonFinite { index: 1, .. }),
            "{e}"
        );
        let e = TopK::with_k(0).unwrap_err().to_string();
        assert!(e.contains("k must be ≥ 1"), "{e}");
        assert!(TopK::with_ratio(0.0).is_err());
        assert!(TopK::with_ratio(1.5).is_err());
        assert!(TopK::with_ratio(f64::NAN).is_err());
        let c = TopK::with_ratio(0.1).unwrap();
        assert_eq!(
            Compressor::<f32>::check_dim(&c, 0),
            Err(CompressError::EmptyInput)
        );
        assert_eq!(Sparsifier::<f32>::kept(&c, 95), Some(10));
        assert_eq!(Compressor::<f32>::class(&c, 95).alpha(), Some(10.0 / 95.0));
        assert_eq!(Compressor::<f32>::spec(&c), "top_k:ratio=0.1");
    }

    #[test]
    fn non_finite_found_at_first_index_on_the_sampled_path() {
        let d = 50_000;
        let mut x: Vec<f32> = (0..d).map(|i| ((i * 7919) % 1000) as f32).collect();
        x[31_337] = f32::NEG_INFINITY;
        x[40_000] = f32::NAN;
        let e = run(&x, 500, Tuning::DEFAULT).unwrap_err();
        assert!(
            matches!(e, CompressError::NonFinite { index: 31_337, .. }),
            "{e}"
        );
        // Also when the non-finite entry is smaller-indexed than all candidates.
        x[3] = f32::NAN;
        let e = run(&x, 500, Tuning::DEFAULT).unwrap_err();
        assert!(
            matches!(e, CompressError::NonFinite { index: 3, .. }),
            "{e}"
        );
    }

    #[test]
    fn adversarial_inputs_match_the_reference() {
        let d = 30_000usize;
        let inputs: Vec<Vec<f32>> = vec![
            vec![1.0; d],
            vec![0.0; d],
            (0..d).map(|i| i as f32).collect(),
            (0..d).map(|i| (d - i) as f32).collect(),
            (0..d)
                .map(|i| if i % 4096 == 0 { 9.0 } else { 1.0 })
                .collect(),
            (0..d).map(|i| ((i % 64) as f32) - 32.0).collect(),
            (0..d)
                .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
                .collect(),
            // Huge ties just below a few large entries.
            (0..d)
                .map(|i| {
                    if i % 1000 == 7 {
                        5.0
                    } else if i % 3 == 0 {
                        2.0
                    } else {
                        0.0
                    }
                })
                .collect(),
            // Sparse: fewer non-zeros than k for the larger k.
            (0..d)
                .map(|i| if i % 997 == 0 { -1.5 } else { 0.0 })
                .collect(),
            (0..d)
                .map(|i| if i > d - 10 { 1e30 } else { 1e-30 })
                .collect(),
        ];
        let mut seen = (0, 0, 0);
        for tuning in [Tuning::DEFAULT, TINY] {
            // Spikes exactly where the sample looks: the sampled threshold overshoots and the
            // selection must re-pass with a lower one.
            let m = tuning.sample_len(d);
            let mut spikes = vec![1.0f32; d];
            for j in 0..m {
                spikes[sample_position(j, d / m)] = -10.0;
            }
            for x in inputs.iter().chain([&spikes]) {
                for k in [1, 2, 17, 30, 31, 300, 3000, 15_000, d - 1, d] {
                    let want = naive(x, k);
                    let (got, stats) = run_stats(x, k, tuning).unwrap();
                    assert_eq!(got, want, "k = {k}, {tuning:?}");
                    seen.0 += usize::from(stats.passes == 1 && stats.compactions == 0);
                    seen.1 += usize::from(stats.compactions > 0);
                    seen.2 += usize::from(stats.passes > 1);
                }
            }
        }
        // Every path was taken: clean single pass, compaction, and a re-pass.
        assert!(seen.0 > 0 && seen.1 > 0 && seen.2 > 0, "{seen:?}");
    }

    #[test]
    fn typical_input_takes_one_clean_pass() {
        // A smooth pseudo-random input: the sampled threshold is right the first time.
        let x: Vec<f32> = (0..200_000u64)
            .map(|i| (mix(i) >> 40) as f32 / (1u64 << 24) as f32 - 0.5)
            .collect();
        for k in [200, 2000, 20_000] {
            let (got, stats) = run_stats(&x, k, Tuning::DEFAULT).unwrap();
            assert_eq!(
                stats,
                Stats {
                    passes: 1,
                    compactions: 0,
                    split_passes: 0,
                },
                "k = {k}"
            );
            assert_eq!(got, naive(&x, k));
        }
    }

    /// On a 2-thread pool a large input is scanned in parts: one split pass, the exact Top-K.
    /// Outside a pool, the same input takes the sequential pass.
    #[test]
    fn large_input_on_a_pool_takes_one_split_pass() {
        let d = crate::parallel::PARALLEL_MIN_DIM + 1001;
        let x: Vec<f32> = (0..d as u64)
            .map(|i| (mix(i) >> 40) as f32 / (1u64 << 24) as f32 - 0.5)
            .collect();
        let k = d / 100;
        let (split, stats) = crate::parallel::pool(2)
            .install(|| run_stats(&x, k, Tuning::DEFAULT))
            .unwrap();
        assert_eq!(
            stats,
            Stats {
                passes: 1,
                compactions: 0,
                split_passes: 1,
            }
        );
        let (one, stats) = run_stats(&x, k, Tuning::DEFAULT).unwrap();
        assert_eq!((stats.passes, stats.split_passes), (1, 0));
        assert_eq!(split, one);
        assert_eq!(split, naive(&x, k));
    }

    fn tied_input() -> impl Strategy<Value = Vec<f64>> {
        let entry = prop_oneof![
            4 => (-8i32..=8).prop_map(|v| v as f64),
            1 => -1.0f64..1.0,
            1 => Just(0.0),
        ];
        let len = prop_oneof![1usize..=64, 4000usize..=20_000];
        len.prop_flat_map(move |n| prop::collection::vec(entry.clone(), n))
    }

    /// A fused pass's side of Top-K, one entry at a time: candidates `!(|x_j| < t)` appended in
    /// index order, compacted whenever `cap` are held, then finished; `None` if fewer than k
    /// passed.
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    fn from_stream<S: Scalar>(x: &[S], k: usize, mut t: S, cap: usize) -> Option<Out<S>> {
        let (mut words, mut idx, mut val) = (vec![7], Vec::new(), Vec::new());
        for (j, &v) in x.iter().enumerate() {
            if !(v.abs() < t) {
                idx.push(j as u32);
                val.push(v);
                if idx.len() >= cap {
                    t = TopK::compact_candidates(k, &mut words, &mut idx, &mut val);
                    assert_eq!(idx.len(), k);
                }
            }
        }
        TopK::finish_candidates(k, &mut words, &mut idx, &mut val).then_some((idx, val))
    }

    #[test]
    fn candidate_entry_points_leave_short_lists_alone() {
        let (mut w, mut i, mut v) = (Vec::new(), vec![1u32, 4], vec![2.0f32, -3.0]);
        assert_eq!(TopK::compact_candidates(2, &mut w, &mut i, &mut v), 0.0);
        assert!(!TopK::finish_candidates(3, &mut w, &mut i, &mut v));
        assert!(!TopK::finish_candidates(0, &mut w, &mut i, &mut v));
        assert_eq!((&i, &v), (&vec![1, 4], &vec![2.0, -3.0]));
        assert!(TopK::finish_candidates(1, &mut w, &mut i, &mut v));
        assert_eq!((i, v), (vec![4], vec![-3.0]));
        // The threshold after a compaction: the next value above the k-th magnitude.
        let (mut i, mut v) = (vec![0u32, 1, 2], vec![1.0f32, -2.0, 2.0]);
        let t = TopK::compact_candidates(1, &mut w, &mut i, &mut v);
        assert_eq!(
            (t, i, v),
            (f32::from_bits(2.0f32.to_bits() + 1), vec![1], vec![-2.0])
        );
        assert_eq!(
            Compressor::<f32>::top_k(&TopK::with_ratio(0.1).unwrap(), 95),
            Some(10)
        );
        assert_eq!(Compressor::<f32>::top_k(&TopK::with_k(9).unwrap(), 5), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// From candidates at any threshold (an entry's own magnitude, so ties sit at t; 0; or
        /// above everything) and any cap above k: the message `compress_into` sends, or `None`
        /// exactly when fewer than k entries reach the threshold.
        #[test]
        fn candidates_give_the_compress_into_message(
            x in tied_input(),
            kf in 0.0f64..1.0,
            at in 0.0f64..1.0,
            slack in 1usize..40,
            mode in 0usize..4,
        ) {
            let d = x.len();
            let k = (1 + (kf * d as f64) as usize).min(d);
            let t = match mode {
                0 => 0.0,
                1 => 1e9,
                _ => x[(at * d as f64) as usize % d].abs() * if mode == 3 { 0.5 } else { 1.0 },
            };
            let got = from_stream(&x, k, t, k + slack);
            let passing = x.iter().filter(|v| v.abs() >= t).count();
            prop_assert_eq!(got.is_some(), passing >= k);
            if let Some((idx, val)) = got {
                let m = compress_once(&TopK::with_k(k).unwrap(), &x, 0).unwrap();
                let want = Message::Sparse { dim: d, indices: idx, values: val.clone() };
                prop_assert_eq!(&m, &want);
                let bits = |v: &[f64]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                if let Message::Sparse { values, .. } = &m {
                    prop_assert_eq!(bits(values), bits(&val));
                }
            }
        }

        #[test]
        fn matches_naive_reference(x in tied_input(), kf in 0.0f64..1.0, small in any::<bool>()) {
            let d = x.len();
            let k = if small { 1 + (kf * 20.0) as usize } else { 1 + (kf * d as f64) as usize }.min(d);
            let want = naive(&x, k);
            prop_assert_eq!(&run(&x, k, Tuning::DEFAULT).unwrap(), &want);
            prop_assert_eq!(&run(&x, k, TINY).unwrap(), &want);
            let xf: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            prop_assert_eq!(run(&xf, k, Tuning::DEFAULT).unwrap(), naive(&xf, k));
        }
    }

    #[test]
    fn reuses_buffers_without_changing_results() {
        let c = TopK::with_ratio(0.01).unwrap();
        let (mut rng, mut scratch) = (SqueezeRng::from_seed_u64(0), Scratch::default());
        let mut m = Message::default();
        let x: Vec<f64> = (0..100_000)
            .map(|i| ((i * 31) % 977) as f64 - 488.0)
            .collect();
        let mut ctx = CompressCtx::new(&mut rng, &mut scratch);
        c.compress_into(&x, &mut ctx, &mut m).unwrap();
        let first = m.clone();
        c.compress_into(&x, &mut ctx, &mut m).unwrap();
        assert_eq!(m, first);
        let (idx, val) = naive(&x, 1000);
        assert_eq!(
            m,
            Message::Sparse {
                dim: x.len(),
                indices: idx,
                values: val
            }
        );
    }
}
